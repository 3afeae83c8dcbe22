"""The real things the tests run against: mosquitto, `sasha run`, `sasha sim`, and a wire tap.

Nothing here is a mock. Processes write their output to log files (a full pipe would stall
them), and every wait is bounded and says what it saw when it gives up.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import socket
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

from paho.mqtt import client as paho
from paho.mqtt import publish as paho_publish

REPO = Path(__file__).resolve().parents[3]
DEVICES = REPO / "devices.yaml"
HOST = "127.0.0.1"
# Sasha imports Home Assistant's sentence templates at start; on 2 busy cores that takes a while.
START_TIMEOUT = 90.0


def sasha_python() -> str:
    """Return the interpreter that has Sasha installed (SASHA_PYTHON, else the repository's .venv)."""
    return os.environ.get("SASHA_PYTHON") or str(REPO / ".venv" / "bin" / "python")


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((HOST, 0))
        port: int = probe.getsockname()[1]
        return port


def _mosquitto() -> str:
    found = shutil.which("mosquitto") or ("/usr/sbin/mosquitto" if Path("/usr/sbin/mosquitto").exists() else None)
    if found is None:
        raise RuntimeError("mosquitto is missing: apt-get install mosquitto (brew install mosquitto)")
    return found


@dataclass
class Process:
    """A started child process and the file its output goes to."""

    name: str
    popen: subprocess.Popen[bytes]
    log: Path

    def tail(self, lines: int = 30) -> str:
        """Return the end of the process's output."""
        text = self.log.read_text(errors="replace") if self.log.exists() else ""
        return "\n".join(text.splitlines()[-lines:])

    def stop(self) -> None:
        """Stop it as a service manager would: SIGTERM, then SIGKILL if it hangs."""
        if self.popen.poll() is None:
            self.popen.terminate()
            try:
                self.popen.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait()


class Rig:
    """One mosquitto, the simulated example home, and Sasha daemons, started on first use."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.port = 0
        self._processes: dict[str, Process] = {}

    @property
    def url(self) -> str:
        """Return the broker's URL."""
        return f"mqtt://{HOST}:{self.port}"

    def broker(self) -> int:
        """Start mosquitto on a free loopback port (once) and return the port."""
        if self.port:
            return self.port
        # Another program may take the port between our probe and mosquitto's bind; then
        # mosquitto exits and we try another. Readiness comes from mosquitto's own log, not from
        # a connection, which could reach whoever holds the port.
        for _attempt in range(3):
            port = _free_port()
            config = self.workdir / "mosquitto.conf"
            config.write_text(f"listener {port} {HOST}\nallow_anonymous true\npersistence false\n")
            process = self._start("mosquitto", [_mosquitto(), "-c", str(config)], cwd=self.workdir)
            deadline = time.monotonic() + 10
            while process.popen.poll() is None and time.monotonic() < deadline:
                if " running" in process.log.read_text(errors="replace"):
                    self.port = port
                    return port
                time.sleep(0.05)
            process.stop()
        raise RuntimeError(f"mosquitto did not start:\n{process.tail()}")

    def serve(self, root: str) -> None:
        """Run `sasha sim` on the example home and `sasha run` on `root`, and wait until both are up.

        Both start before either is waited for: each spends seconds importing, and there are two cores.
        """
        sim = self._processes.get("sim") or self._sasha(
            "sim", "sim", "--devices", str(DEVICES), "--mqtt-url", self.url, "--seed", "7"
        )
        daemon = self._start_daemon(root)
        self._wait(sim, "sasha-demo/garage_door", bool)
        self._wait(daemon, f"{root}/status", lambda payload: payload == "online")

    def daemon(self, root: str, *extra: str) -> None:
        """Run `sasha run` serving `root` (with `extra` flags) and wait for its retained `online`."""
        self._wait(self._start_daemon(root, *extra), f"{root}/status", lambda payload: payload == "online")

    def log(self, name: str) -> str:
        """Return the output of a process started so far (`run <root>`, `sim`, `mosquitto`)."""
        return self._processes[name].tail(200)

    def _start_daemon(self, root: str, *extra: str) -> Process:
        name = f"run {root}"
        running = self._processes.get(name)
        if running is not None and running.popen.poll() is None:
            return running
        state = self.workdir / f"state-{root.replace('/', '-')}"
        return self._sasha(
            name,
            "run",
            # Home Assistant logs in without a username here: Sasha's anonymous topics.
            "--open",
            "--devices",
            str(DEVICES),
            "--mqtt-url",
            self.url,
            "--api-topic",
            root,
            "--state-dir",
            str(state),
            *extra,
        )

    def stop_daemon(self, root: str) -> None:
        """Stop the daemon serving `root`, as `systemctl stop` would."""
        self._processes.pop(f"run {root}").stop()

    def close(self) -> None:
        """Stop everything, daemons before the broker so they can say `offline`."""
        for name in sorted(self._processes, key=lambda name: name == "mosquitto"):
            self._processes[name].stop()
        self._processes.clear()

    def _sasha(self, name: str, *args: str) -> Process:
        # No model: these tests cover what works without one, and must never call out.
        env = {k: v for k, v in os.environ.items() if not k.startswith(("OPENAI_", "SASHA_"))}
        return self._start(name, [sasha_python(), "-m", "sasha", *args], cwd=REPO, env=env)

    def _start(self, name: str, argv: list[str], *, cwd: Path, env: dict[str, str] | None = None) -> Process:
        log = self.workdir / f"{name.replace('/', '-').replace(' ', '-')}.log"
        with log.open("wb") as out:
            popen = subprocess.Popen(argv, cwd=cwd, env=env, stdout=out, stderr=subprocess.STDOUT)
        process = Process(name, popen, log)
        self._processes[name] = process
        return process

    def _wait(self, process: Process, topic: str, ready: Callable[[str], bool]) -> None:
        with Tap(self.port, [topic]) as tap:
            deadline = time.monotonic() + START_TIMEOUT
            while not any(ready(message.payload) for message in tap.messages(topic)):
                if process.popen.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"{process.name} did not get ready ({topic}):\n{process.tail()}")
                time.sleep(0.05)


@dataclass(frozen=True)
class Message:
    """One message seen on the wire."""

    topic: str
    payload: str
    retained: bool


class Tap:
    """An MQTT client of our own that records what crosses the broker on some topics.

    It is independent of Home Assistant's MQTT client, so what it sees is what was really
    published. Entering it returns once the broker has acknowledged the subscription.
    """

    def __init__(self, port: int, topics: list[str]) -> None:
        self._port = port
        self._topics = topics
        self._seen: list[Message] = []
        self._lock = threading.Lock()
        self._subscribed = threading.Event()
        self._client = paho.Client()
        self._client.on_message = self._on_message
        self._client.on_subscribe = lambda *_args: self._subscribed.set()

    def __enter__(self) -> Tap:
        self._client.connect(HOST, self._port)
        self._client.subscribe([(topic, 1) for topic in self._topics])
        self._client.loop_start()
        if not self._subscribed.wait(10):
            self.__exit__(None, None, None)
            raise RuntimeError(f"the broker did not acknowledge a subscription to {self._topics}")
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self._client.disconnect()
        self._client.loop_stop()  # joins the network thread: Home Assistant's test harness checks for strays

    def _on_message(self, _client: paho.Client, _userdata: object, message: paho.MQTTMessage) -> None:
        seen = Message(message.topic, message.payload.decode(errors="replace"), bool(message.retain))
        with self._lock:
            self._seen.append(seen)

    def messages(self, topic_filter: str | None = None) -> list[Message]:
        """Return the messages seen so far, on topics matching `topic_filter` if given."""
        with self._lock:
            seen = list(self._seen)
        if topic_filter is None:
            return seen
        return [message for message in seen if paho.topic_matches_sub(topic_filter, message.topic)]

    async def wait_for(self, topic_filter: str, match: Callable[[Message], bool], timeout: float = 10.0) -> Message:
        """Return the first message on `topic_filter` that `match` accepts, waiting without blocking the loop."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for message in self.messages(topic_filter):
                if match(message):
                    return message
            await asyncio.sleep(0.02)
        raise AssertionError(f"nothing matched on {topic_filter} within {timeout} s; saw {self.messages(topic_filter)}")


def publish(port: int, topic: str, payload: str, *, retain: bool = False) -> None:
    """Publish one message from a client of our own, as some other program on the network would."""
    paho_publish.single(topic, payload, qos=1, retain=retain, hostname=HOST, port=port)


@contextlib.contextmanager
def retained(port: int, topic: str, payload: str) -> Iterator[None]:
    """Hold a retained message on `topic`, and clear it afterwards."""
    publish(port, topic, payload, retain=True)
    try:
        yield
    finally:
        publish(port, topic, "", retain=True)
