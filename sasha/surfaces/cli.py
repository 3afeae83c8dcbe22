"""The `sasha` command line."""

from __future__ import annotations

import argparse
import asyncio
import logging
import re
import signal
import sys
from collections.abc import Coroutine, Sequence
from pathlib import Path
from typing import Any, NoReturn

from rich.console import Console
from rich.table import Table

from sasha import __version__, config
from sasha.errors import ConfigError, InventoryError, SashaError
from sasha.home import inventory
from sasha.home.inventory import Device, Inventory, Room
from sasha.planning.llm.settings import MAX_TOKENS
from sasha.surfaces.render import describe

_LOGGER = logging.getLogger(__name__)


def _credentials(parser: argparse.ArgumentParser) -> None:
    """Add the broker's credential flags; the password itself only ever comes from a file or the environment."""
    parser.add_argument("--mqtt-ca-file", metavar="FILE", help="CA file for mqtts:// (env SASHA_MQTT_CA_FILE)")
    parser.add_argument("--mqtt-username", metavar="NAME", help="broker user (env SASHA_MQTT_USERNAME)")
    parser.add_argument(
        "--mqtt-password-file",
        metavar="FILE",
        help="file holding the broker password (env SASHA_MQTT_PASSWORD_FILE, or the password in SASHA_MQTT_PASSWORD)",
    )
    parser.add_argument("--mqtt-cert", metavar="FILE", help="client certificate for mqtts:// (env SASHA_MQTT_CERT)")
    parser.add_argument("--mqtt-key", metavar="FILE", help="its private key (env SASHA_MQTT_KEY)")


# A password typed as a flag anyway (there is none) must not come back in the usage error.
_PASSWORD_VALUE = re.compile(r"(--mqtt-password)([= ])\S+")


class _Parser(argparse.ArgumentParser):
    """An argument parser whose errors never repeat a password given on the command line."""

    def error(self, message: str) -> NoReturn:
        """Exit with the usage error, the value after `--mqtt-password` replaced by ***."""
        super().error(_PASSWORD_VALUE.sub(r"\1\2***", message))


def _common() -> _Parser:
    """Return the settings flags shared by the commands that talk to the home."""
    common = _Parser(add_help=False, allow_abbrev=False)
    common.add_argument("--devices", metavar="FILE", help="inventory file (env SASHA_DEVICES)")
    common.add_argument("--mqtt-url", metavar="URL", help="broker (env SASHA_MQTT_URL)")
    common.add_argument("--state-dir", metavar="DIR", help="routines and audit log (env SASHA_STATE_DIR)")
    common.add_argument("--api-topic", metavar="T", help="MQTT API topic root (env SASHA_API_TOPIC)")
    common.add_argument(
        "--confirm", choices=["never", "sensitive", "both", "always"], help="review policy (env SASHA_CONFIRM)"
    )
    common.add_argument(
        "--confirm-wait",
        type=float,
        metavar="S",
        dest="confirm_wait",
        help="seconds to wait for devices to report a change (default 2)",
    )
    common.add_argument(
        "--offline-commands",
        choices=["send", "skip"],
        dest="offline_commands",
        help="commands for a device that says it is offline: send anyway (default) or skip",
    )
    common.add_argument(
        "--history-days",
        type=float,
        metavar="D",
        dest="history_days",
        help="days of state changes kept for routine previews (default 7, 0: none)",
    )
    common.add_argument("--model", metavar="NAME", help="model name (env SASHA_MODEL)")
    _credentials(common)
    common.add_argument(
        "--model-timeout", type=float, metavar="S", dest="planner.timeout", help="seconds per model call"
    )
    common.add_argument(
        "--temperature", type=float, metavar="T", dest="planner.temperature", help="model temperature (default 0.2)"
    )
    common.add_argument(
        "--max-devices-in-prompt", type=int, metavar="N", dest="planner.max_devices_in_prompt", help="default 40"
    )
    common.add_argument("--prompts-dir", metavar="DIR", dest="planner.prompts_dir", help="your own prompt templates")
    common.add_argument("--model-retries", type=int, metavar="N", dest="planner.max_retries", help="default 2")
    common.add_argument(
        "--max-model-calls", type=int, metavar="N", dest="planner.max_calls", help="per request, default 4"
    )
    common.add_argument(
        "--model-calls-per-minute", type=int, metavar="N", dest="budget.per_minute", help="all requests, default 60"
    )
    common.add_argument(
        "--model-calls-per-day", type=int, metavar="N", dest="budget.per_day", help="all requests, default 2000"
    )
    common.add_argument(
        "--model-calls-per-user-minute",
        type=int,
        metavar="N",
        dest="budget.per_user_minute",
        help="each user, default 30",
    )
    common.add_argument(
        "--model-calls-per-user-day", type=int, metavar="N", dest="budget.per_user_day", help="each user, default 1000"
    )
    common.add_argument(
        "--model-deadline",
        type=float,
        metavar="S",
        dest="planner.deadline",
        help="seconds per request for all its model calls (default 90)",
    )
    for kind, default in MAX_TOKENS.items():
        common.add_argument(
            f"--max-tokens-{kind}",
            type=int,
            metavar="N",
            dest=f"planner.max_tokens_{kind}",
            help=f"completion tokens of a {kind} call (default {default})",
        )
    return common


def _add_discover(commands: Any) -> None:
    """Add `sasha discover` and its flags."""
    found = commands.add_parser(
        "discover", allow_abbrev=False, help="write devices.yaml from what the broker announces"
    )
    found.add_argument("--mqtt-url", metavar="URL", help="broker (env SASHA_MQTT_URL)")
    _credentials(found)
    found.add_argument("--out", type=Path, metavar="FILE", help="write the inventory here (default: print it)")
    found.add_argument("--merge", type=Path, metavar="FILE", help="merge into this inventory, keeping your edits")
    found.add_argument("--wait", type=float, default=3.0, metavar="S", help="seconds to listen (default 3)")


def _add_sim(commands: Any) -> None:
    """Add `sasha sim` and its options (devices that never report, report late, or start offline)."""
    sim = commands.add_parser("sim", allow_abbrev=False, help="run the simulated devices of the inventory on a broker")
    sim.add_argument("--devices", metavar="FILE", help="inventory file (env SASHA_DEVICES)")
    sim.add_argument("--mqtt-url", metavar="URL", help="broker, e.g. mqtt://user@host:1883 (env SASHA_MQTT_URL)")
    _credentials(sim)
    sim.add_argument("--seed", type=int, default=None, help="random seed of the sensor physics")
    sim.add_argument("--tick", type=float, default=5.0, metavar="SECONDS", help="physics step (default 5)")
    sim.add_argument(
        "--silent", action="append", default=[], metavar="ID", help="a device that takes commands, never reports"
    )
    sim.add_argument(
        "--late", action="append", default=[], type=_late, metavar="ID=S", help="a device that reports S seconds late"
    )
    sim.add_argument(
        "--offline",
        action="append",
        default=[],
        metavar="ID",
        help="a device that starts offline (sasha-sim/availability/ID: online|offline changes it)",
    )


def _parser() -> argparse.ArgumentParser:
    # No abbreviated flags: `--mqtt-password SECRET` must not be taken for `--mqtt-password-file` and
    # echoed back in "cannot read the MQTT password file SECRET".
    parser = _Parser(prog="sasha", description="A smart-home assistant over MQTT.", allow_abbrev=False)
    parser.add_argument("--version", action="version", version=f"sasha {__version__}")
    parser.add_argument("--config", metavar="FILE", help="YAML config file (env SASHA_CONFIG)")
    parser.add_argument("-v", "--verbose", action="count", default=0, help="more logging (-vv for debug)")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    check = commands.add_parser("check", allow_abbrev=False, help="check devices.yaml and print the home")
    check.add_argument("--devices", metavar="FILE", help="inventory file (env SASHA_DEVICES)")

    _add_sim(commands)

    plan = commands.add_parser(
        "plan", allow_abbrev=False, help="show what the model would do about a request, without doing it"
    )
    plan.add_argument("text", help='what you want, e.g. "make it cozy"')
    plan.add_argument("--devices", metavar="FILE", help="inventory file (env SASHA_DEVICES)")
    plan.add_argument("--mqtt-url", metavar="URL", help="broker to read the current state from")
    _credentials(plan)
    plan.add_argument("--model", metavar="NAME", help="model name (env SASHA_MODEL)")
    plan.add_argument("--json", action="store_true", help="print the result as JSON")

    _add_discover(commands)

    common = _common()

    run = commands.add_parser("run", allow_abbrev=False, parents=[common], help="serve the MQTT API (the daemon)")
    run.add_argument(
        "--share", metavar="GROUP", dest="api.share", help="take requests through the MQTT v5 shared subscription GROUP"
    )
    run.add_argument(
        "--no-routines",
        action="store_false",
        default=None,
        dest="api.routines",
        help="do not run the routines (another instance of the share group does)",
    )
    run.add_argument(
        "--reply-prefix",
        action="append",
        metavar="FILTER",
        dest="api.reply_prefixes",
        help="topic filter replies may go to (repeatable; default <api-topic>/reply/# and <api-topic>/response)",
    )
    run.add_argument("--api-queue", type=int, metavar="N", dest="api.queue", help="waiting requests per queue (100)")
    run.add_argument("--ha-status-topic", metavar="T", dest="api.ha_status_topic", help="Home Assistant's birth topic")
    run.add_argument(
        "--open",
        action="store_true",
        default=None,
        dest="api.open",
        help="also serve the anonymous <api-topic>/request and /confirm (single-user set-ups only)",
    )
    run.add_argument(
        "--owner",
        action="append",
        metavar="USER",
        dest="api.owners",
        help="an MQTT user who may approve unsafe moves of sensitive devices (repeatable)",
    )
    run.add_argument(
        "--device-owner",
        action="append",
        metavar="DEVICE=USER",
        dest="api.device_owners",
        help="who may approve that device instead of the owners (repeatable)",
    )
    run.add_argument("--ha-user", metavar="USER", dest="api.ha_user", help="Home Assistant's MQTT user")
    run.add_argument(
        "--hass",
        choices=("off", "merge", "only"),
        dest="api.hass",
        help="Home Assistant's entities from the Sasha integration: merged into the inventory, or the inventory",
    )

    ask = commands.add_parser("ask", allow_abbrev=False, parents=[common], help="one request, one reply")
    ask.add_argument("text", help='what you want, e.g. "turn on the kitchen light"')
    ask.add_argument("--json", action="store_true", help="print the reply object as JSON")
    ask.add_argument("--yes", action="store_true", help="confirm the plan if it asks (sensitive devices too)")

    routines = commands.add_parser(
        "routines", allow_abbrev=False, parents=[common], help="list, show, enable, disable or delete routines"
    )
    routines.add_argument("action", choices=["list", "show", "enable", "disable", "delete"])
    routines.add_argument("routine", nargs="?", help="routine id (see `sasha routines list`)")

    scenario = commands.add_parser(
        "scenario", allow_abbrev=False, parents=[common], help="replay scenario files (tests, model evaluation)"
    )
    scenario.add_argument("verb", choices=["run"])
    scenario.add_argument("paths", nargs="+", type=Path, metavar="PATH", help="scenario files or folders")
    scenario.add_argument(
        "--live", action="store_true", help="ignore the scripted answers and use the configured model"
    )
    scenario.add_argument("--json", type=Path, metavar="FILE", help="write a JSON report")
    scenario.add_argument("-k", metavar="NAME", help="only scenarios whose name or file contains NAME")

    commands.add_parser(
        "health",
        allow_abbrev=False,
        parents=[common],
        help="exit 0 if the daemon says online on <api-topic>/status; print its counters",
    )

    history = commands.add_parser("history", allow_abbrev=False, parents=[common], help="print the audit log")
    history.add_argument("--limit", type=int, default=20, help="how many requests (default 20)")

    commands.add_parser("chat", allow_abbrev=False, parents=[common], help="talk to the home in the terminal")
    commands.add_parser(
        "demo",
        allow_abbrev=False,
        parents=[common],
        help="an embedded broker, the simulated home and the chat (no set-up needed)",
    )
    return parser


def _setting_flags() -> list[str]:
    """Return the names of the flags that are settings (`config.load` reads them beside the file and env)."""
    names = ["devices", "mqtt_url", "mqtt_ca_file", "model", "state_dir", "api_topic", "confirm", "confirm_wait"]
    names += ["offline_commands", "history_days"]
    names += ["mqtt_username", "mqtt_password_file", "mqtt_cert", "mqtt_key"]
    names += ["planner.timeout", "planner.temperature", "planner.max_devices_in_prompt", "planner.prompts_dir"]
    names += ["planner.max_retries", "planner.max_calls", "planner.deadline", "budget.per_minute", "budget.per_day"]
    names += [f"planner.max_tokens_{kind}" for kind in MAX_TOKENS]
    names += ["api.share", "api.routines", "api.reply_prefixes", "api.queue", "api.ha_status_topic", "api.hass"]
    names += ["api.open", "api.owners", "api.device_owners", "api.ha_user"]
    names += ["budget.per_user_minute", "budget.per_user_day"]
    return names


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the exit code."""
    args = _parser().parse_args(argv)
    level = {0: logging.WARNING, 1: logging.INFO}.get(args.verbose, logging.DEBUG)
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    flags = {k: getattr(args, k, None) for k in _setting_flags()}
    try:
        settings = config.load(flags, config_file=args.config)
        # These commands read no inventory: every scenario names its own home, and the audit
        # log and the status topic need none.
        if args.command == "scenario":
            from sasha.scenarios.runner import run_files  # noqa: PLC0415

            job = run_files(args.paths, settings, _console(), live=args.live, keyword=args.k, report=args.json)
            return _run_until_signal(job)
        if args.command == "health":
            from sasha.surfaces.oneshot import health  # noqa: PLC0415

            return _run_until_signal(health(settings, console=_console()))
        if args.command == "history":
            from sasha.surfaces.oneshot import show_history  # noqa: PLC0415

            return show_history(settings, args.limit, _console())
        if args.command == "discover":
            from sasha.surfaces.discover import discover  # noqa: PLC0415

            job = discover(settings, out=args.out, merge_into=args.merge, wait=args.wait, console=_console())
            return _run_until_signal(job)
        if args.command == "run" and settings.api.hass == "only":
            from sasha.surfaces.daemon import run_daemon  # noqa: PLC0415

            # Home Assistant's entities are the whole home: no file to read.
            return _run_until_signal(run_daemon(Inventory(inventory.Home(), (), ()), settings))
        home = inventory.from_file(settings.devices)
        if args.command == "check":
            return _check(home, settings.devices)
        if args.command == "sim":
            late = dict(args.late)
            job = _sim(
                home,
                settings,
                seed=args.seed,
                tick=args.tick,
                silent=frozenset(args.silent),
                late=late,
                offline=frozenset(args.offline),
            )
            return _run_until_signal(job)
        if args.command == "run":
            from sasha.surfaces.daemon import run_daemon  # noqa: PLC0415

            return _run_until_signal(run_daemon(home, settings))
        if args.command == "ask":
            from sasha.surfaces.oneshot import ask_once  # noqa: PLC0415

            return _run_until_signal(
                ask_once(home, settings, args.text, as_json=args.json, yes=args.yes, console=_console())
            )
        if args.command == "routines":
            from sasha.surfaces.oneshot import manage_routines  # noqa: PLC0415

            return manage_routines(home, settings, args.action, args.routine, _console())
        if args.command == "plan":
            from sasha.surfaces.oneshot import plan_once  # noqa: PLC0415

            return _run_until_signal(plan_once(home, settings, args.text, as_json=args.json, console=_console()))
        if args.command == "chat":
            from sasha.surfaces.demo import chat  # noqa: PLC0415  (keeps `sasha check` light)

            return _run_until_signal(chat(home, settings, _console()))
        if args.command == "demo":
            from sasha.surfaces.demo import demo  # noqa: PLC0415

            return _run_until_signal(demo(home, settings, _console()))
    except InventoryError as err:
        # One unwrapped `file:line: problem` per line, so editors and grep can jump to it.
        sys.stderr.writelines(f"{problem}\n" for problem in err.problems)
        return 1
    except ConfigError as err:
        sys.stderr.write(f"configuration error: {err}\n")
        return 2
    except SashaError as err:
        sys.stderr.write(f"error: {err}\n")
        return 1
    return 2


def _run_until_signal(job: Coroutine[Any, Any, int]) -> int:
    async def runner() -> int:
        task = asyncio.ensure_future(job)
        loop = asyncio.get_running_loop()
        if sys.platform != "win32":  # Windows' event loop has no signal handlers; Ctrl-C still works
            for sig in (signal.SIGINT, signal.SIGTERM):
                loop.add_signal_handler(sig, task.cancel)
        try:
            result: int = await task
        except asyncio.CancelledError:
            return 0
        return result

    return asyncio.run(runner())


def _console() -> Console:
    console = Console()
    if not console.is_terminal:
        # Piped into a file or grep: do not squeeze tables into 80 columns.
        console = Console(width=200)
    return console


# Above this many devices `sasha check` prints plain aligned columns: rich measures every cell
# of a table, seconds for a home of thousands.
_TABLE_MAX = 300


def _check(home: Inventory, path: Path) -> int:
    title = f"{home.home.name} — {len(home)} devices in {len(home.rooms)} rooms ({path})"
    columns = ("room", "device", "name", "type", "protocol", "capabilities")
    devices = [(room, device) for room in home.rooms.values() for device in home.in_room(room.id)]

    def row(room: Room, device: Device, sensitive: str) -> tuple[str, ...]:
        caps = ", ".join(describe(c) for c in device.capabilities.values())
        name = device.name + (f" {sensitive}" if device.sensitive else "")
        return (room.name, device.id, name, device.type.value, device.protocol.value, caps)

    if len(devices) > _TABLE_MAX:
        rows = [columns, *(row(room, device, "(sensitive)") for room, device in devices)]
        widths = [max(len(r[i]) for r in rows) for i in range(len(columns) - 1)]
        lines = [
            "  ".join(cell.ljust(width) for cell, width in zip(r, widths, strict=False)) + "  " + r[-1] for r in rows
        ]
        sys.stdout.write("\n".join([title, *lines]) + "\n")
        return 0
    table = Table(title=title)
    for column in columns:
        table.add_column(column)
    for room, device in devices:
        table.add_row(*row(room, device, "[red](sensitive)[/red]"))
    _console().print(table)
    return 0


def _late(text: str) -> tuple[str, float]:
    """Read `--late ID=SECONDS`."""
    device, _, seconds = text.partition("=")
    try:
        delay = float(seconds)
    except ValueError:
        delay = -1.0
    if not device or delay < 0:
        raise argparse.ArgumentTypeError(f"expected ID=SECONDS, got {text!r}")
    return device, delay


async def _sim(
    home: Inventory,
    settings: config.Settings,
    *,
    seed: int | None,
    tick: float,
    silent: frozenset[str] = frozenset(),
    late: dict[str, float] | None = None,
    offline: frozenset[str] = frozenset(),
) -> int:
    from sasha.mqtt.connection import MqttConnection  # noqa: PLC0415
    from sasha.sim.simulator import Simulator, outbox_size  # noqa: PLC0415

    unknown = sorted((silent | offline | set(late or {})) - set(home.devices))
    if unknown:
        sys.stderr.write(f"error: no device {', '.join(map(repr, unknown))} in the inventory\n")
        return 1
    mqtt = settings.mqtt()
    client_id = f"sasha-sim-{home.home.base_topic}"
    async with MqttConnection(mqtt, client_id=client_id, max_outbox=outbox_size(home)) as connection:
        simulator = Simulator(home, connection, seed=seed, silent=silent, late=late, offline=offline)
        await simulator.attach()
        sys.stderr.write(f"simulating {len(home)} devices on {mqtt.url}; Ctrl-C stops\n")
        await simulator.run_physics(tick)
    return 0


def run() -> None:
    """Console-script entry point."""
    sys.exit(main())
