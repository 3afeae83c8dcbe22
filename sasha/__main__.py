"""Run the command line with `python -m sasha`."""

from sasha.surfaces.cli import run

run()
