"""Run the command line with `python -m sasha`."""

from sasha.cli import run

run()
