"""The package as pip installs it from the wheel, not from the work tree: every command starts.

Editable installs hid a package missing from the wheel (`sasha discover` failed with
ModuleNotFoundError). This builds the wheel, installs it without its dependencies into a fresh
venv that borrows the dependencies from the test interpreter's site-packages (plain paths: the
editable install's hook there is not run), and runs the installed `sasha` from a directory with
no checkout in it.
"""

from __future__ import annotations

import asyncio
import site
import subprocess
import sys
import venv
from pathlib import Path

import pytest

from tests.conftest import EXAMPLE, ROOT, Rig, clean_env


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Build the wheel and install it into a fresh venv; return the venv's `sasha` script."""
    where = tmp_path_factory.mktemp("wheel")
    wheels = where / "dist"
    # With build isolation: pip fetches the setuptools pyproject.toml asks for (cached after once).
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", "--wheel-dir", str(wheels), str(ROOT)],
        check=True,
        capture_output=True,
        cwd=where,
    )
    env_dir = where / "venv"
    venv.EnvBuilder(with_pip=False).create(env_dir)
    target = next((env_dir / "lib").glob("python*/site-packages"))
    (target / "_borrowed.pth").write_text("\n".join(site.getsitepackages()) + "\n")
    wheel = next(wheels.glob("sasha-*.whl"))
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--no-deps", "--quiet", "--target", str(target), str(wheel)],
        check=True,
        capture_output=True,
        cwd=where,
    )
    (env_dir / "bin" / "sasha").write_text(
        f"#!{env_dir / 'bin' / 'python'}\nfrom sasha.surfaces.cli import run\nrun()\n"
    )
    (env_dir / "bin" / "sasha").chmod(0o755)
    return env_dir / "bin" / "sasha"


def _run(sasha: Path, *args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(sasha), *args], capture_output=True, text=True, check=False, cwd=cwd, env=clean_env(), timeout=60
    )


def test_the_wheel_is_imported_from_the_install(installed: Path, tmp_path: Path) -> None:
    """Import sasha from the venv, never from the checkout, and find its prompt templates."""
    python = installed.parent / "python"
    found = subprocess.run(
        [str(python), "-c", "import sasha, sasha.discovery.build, sasha.planning.prompts as p; print(sasha.__file__)"],
        capture_output=True,
        text=True,
        check=True,
        cwd=tmp_path,
    )
    assert found.stdout.strip().startswith(str(installed.parent.parent)), found.stdout
    assert not found.stdout.strip().startswith(str(ROOT / "sasha"))
    templates = Path(found.stdout.strip()).parent / "templates"
    assert {p.name for p in templates.glob("*.txt")} >= {"system.txt", "repair.txt", "rooms.txt", "select.txt"}


def _commands(python: Path, cwd: Path) -> list[str]:
    """Return every subcommand of the installed CLI, read from its own parser."""
    code = (
        "import argparse; from sasha.surfaces.cli import _parser\n"
        "sub = next(a for a in _parser()._actions if isinstance(a, argparse._SubParsersAction))\n"
        "print(' '.join(sub.choices))"
    )
    done = subprocess.run([str(python), "-c", code], capture_output=True, text=True, check=True, cwd=cwd)
    return done.stdout.split()


def test_every_subcommand_of_the_installed_package_starts(installed: Path, tmp_path: Path) -> None:
    """Run `--help` of every subcommand and `sasha check` from the installed package."""
    commands = _commands(installed.parent / "python", tmp_path)
    assert {"run", "sim", "discover", "check", "ask", "chat", "demo"} <= set(commands)
    for command in commands:
        done = _run(installed, command, "--help", cwd=tmp_path)
        assert done.returncode == 0, (command, done.stderr)
        assert "usage:" in done.stdout, command
    checked = _run(installed, "check", "--devices", str(EXAMPLE), cwd=tmp_path)
    assert checked.returncode == 0, checked.stderr
    assert "Demo home" in checked.stdout


async def test_the_installed_discover_reads_the_simulator(installed: Path, rig: Rig, tmp_path: Path) -> None:
    """Run the installed `sasha discover` against the simulated home: a file that `sasha check` loads."""
    out = tmp_path / "found.yaml"
    process = await asyncio.create_subprocess_exec(
        str(installed),
        "discover",
        "--mqtt-url",
        rig.broker.url,
        "--wait",
        "1",
        "--out",
        str(out),
        cwd=tmp_path,
        env=clean_env(),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    async with asyncio.timeout(60):
        _, err = await process.communicate()
    assert process.returncode == 0, err.decode()
    written = await asyncio.to_thread(out.read_text)
    assert written.count("  - id: ") >= 20
    assert "sensitive: true" in written  # the simulator's oven, lock and valves
    checked = await asyncio.to_thread(_run, installed, "check", "--devices", str(out), cwd=tmp_path)
    assert checked.returncode == 0, checked.stderr
