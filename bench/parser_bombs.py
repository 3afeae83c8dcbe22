"""Measure what hostile input costs the parsers: time and peak memory of a fresh process.

Each case runs in its own `python` process, so its peak RSS is its own; a process that only
imports Sasha is the baseline. Cases: the billion-laughs YAML as devices.yaml (`sasha check`)
and as routines.yaml, and 2,000-level JSON as an API request, a device state and a model answer.

    .venv/bin/python bench/parser_bombs.py
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BOMB = ROOT / "tests" / "home" / "data" / "billion_laughs.yaml"
DEEP = '{"a":' * 2000 + "1" + "}" * 2000

# name → (setup, the parse to time); the parse's exception, if any, is what it printed.
CASES = {
    "baseline (import only)": ("import sasha.surfaces.cli", "None"),
    "billion laughs as devices.yaml": (
        "from sasha.home import inventory",
        f"inventory.from_file({str(BOMB)!r})",
    ),
    "billion laughs as routines.yaml": (
        "from pathlib import Path; from sasha.home import inventory; from sasha.routines.store import parse\n"
        f"home = inventory.from_file({str(ROOT / 'devices.yaml')!r}); text = Path({str(BOMB)!r}).read_text()",
        "parse(text, 'routines.yaml', home)",
    ),
    "2,000-level JSON request": ("from sasha.surfaces import api", f"api.parse_request({DEEP!r}.encode()).reason"),
    "2,000-level JSON device state": (
        "from sasha.adapters import _convert",
        f"_convert.json_object({DEEP!r}.encode())",
    ),
    "2,000-level JSON model answer": ("from sasha.planning.decision import extract_json", f"extract_json({DEEP!r})"),
}
_TIMED = """
import time
{setup}
start = time.perf_counter()
try:
    outcome = {call}
except Exception as err:
    outcome = err
print(f"{{(time.perf_counter() - start) * 1000:.1f}}ms", str(outcome).splitlines()[0] if outcome else "")
"""


def _run(setup: str, call: str) -> tuple[float, float, str]:
    code = _TIMED.format(setup=setup, call=call)
    start = time.perf_counter()
    process = subprocess.Popen(  # noqa: S603  (our own interpreter and code)
        [sys.executable, "-c", code], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, cwd=ROOT
    )
    assert process.stdout is not None
    output = process.stdout.read().decode()
    _, _, usage = os.wait4(process.pid, 0)
    elapsed = time.perf_counter() - start
    return elapsed, usage.ru_maxrss / 1024, output.strip().splitlines()[-1] if output.strip() else ""


def main() -> None:
    """Run every case and print the process's wall time and peak RSS, the parse's time and outcome."""
    print(f"{'case':32} {'process':>8} {'peak RSS':>9}  parse time, outcome")
    for name, (setup, call) in CASES.items():
        elapsed, rss, last = _run(setup, call)
        print(f"{name:32} {elapsed * 1000:6.0f}ms {rss:7.1f}MB  {last[:100]}")


if __name__ == "__main__":
    main()
