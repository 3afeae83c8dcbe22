"""A private mosquitto on a free loopback port, for tests, the demo and benchmarks."""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import subprocess
import tempfile
from collections.abc import Sequence
from pathlib import Path
from types import TracebackType
from typing import Self

from sasha.errors import SashaError
from sasha.ports import free_port

_SEARCH = ("/usr/sbin", "/usr/local/sbin", "/opt/homebrew/sbin", "/usr/local/opt/mosquitto/sbin")


def find_mosquitto() -> str | None:
    """Return the path of the mosquitto binary, or None."""
    found = shutil.which("mosquitto")
    if found:
        return found
    for folder in _SEARCH:
        candidate = Path(folder) / "mosquitto"
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return str(candidate)
    return None


QUEUE_LIMITS = ("max_queued_messages 20000", "max_queued_bytes 67108864", "max_inflight_messages 100")
"""The queue sizes of deploy/mosquitto.conf: mosquitto's default of 1,000 queued messages per client
drops part of a burst (1,000 devices announcing their states at once) to a client busy elsewhere."""


class Mosquitto:
    """Run mosquitto with persistence in a temporary folder; stop and start it at will."""

    def __init__(
        self,
        port: int | None = None,
        *,
        tls: tuple[Path, Path] | None = None,
        client_ca: Path | None = None,
        password_file: Path | None = None,
        acl_file: Path | None = None,
        extra: Sequence[str] = (),
    ) -> None:
        """Prepare a broker; `tls` is (certificate, key) to serve mqtts:// instead.

        `client_ca` requires a client certificate signed by that CA; `password_file` turns
        anonymous logins off; `acl_file` applies an ACL; `extra` adds configuration lines.
        """
        binary = find_mosquitto()
        if binary is None:
            raise SashaError("mosquitto is not installed (Debian/Ubuntu: apt-get install mosquitto)")
        self.binary = binary
        self.port = port or free_port()
        self._folder = tempfile.TemporaryDirectory(prefix="sasha-mosquitto-")
        folder = Path(self._folder.name)
        # mosquitto drops root privileges, so everything it reads or writes must be open to it.
        folder.chmod(0o777)
        self.config = folder / "mosquitto.conf"
        self.tls = tls is not None
        tls_lines = ""
        if tls is not None:
            for source in tls:
                copy = folder / source.name
                copy.write_bytes(source.read_bytes())
                copy.chmod(0o644)  # readable after mosquitto drops root; test keys only
            tls_lines = f"certfile {folder / tls[0].name}\nkeyfile {folder / tls[1].name}\n"
        auth_lines = "allow_anonymous true\n"
        copies = {"cafile": client_ca, "password_file": password_file, "acl_file": acl_file}
        for option, given in copies.items():
            if given is None:
                continue
            target = folder / f"{option}-{given.name}"
            target.write_bytes(given.read_bytes())
            target.chmod(0o644)  # readable after mosquitto drops root; test files only
            auth_lines += f"{option} {target}\n"
        if client_ca is not None:
            auth_lines += "require_certificate true\n"
        if password_file is not None:
            auth_lines = auth_lines.replace("allow_anonymous true", "allow_anonymous false")
        named = {line.split(None, 1)[0] for line in extra if line.strip()}
        limits = [line for line in QUEUE_LIMITS if line.split(None, 1)[0] not in named]
        self.config.write_text(
            f"listener {self.port} 127.0.0.1\n"
            f"{tls_lines}"
            f"{auth_lines}" + "".join(f"{line}\n" for line in (*extra, *limits)) + "set_tcp_nodelay true\n"
            "persistence true\n"
            f"persistence_location {folder}/\n"
            "log_dest stderr\n"
            "log_type error\n"
            "log_type warning\n"
        )
        self.config.chmod(0o644)
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        """Return the broker's URL."""
        return f"{'mqtts' if self.tls else 'mqtt'}://127.0.0.1:{self.port}"

    async def start(self) -> None:
        """Start the broker and wait until it accepts connections."""
        self._process = subprocess.Popen(  # noqa: ASYNC220, S603  (returns at once; our own binary path)
            [self.binary, "-c", str(self.config)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for _ in range(200):
            if self._process.poll() is not None:
                raise SashaError(f"mosquitto exited with code {self._process.returncode} on port {self.port}")
            try:
                _, writer = await asyncio.open_connection("127.0.0.1", self.port)
            except OSError:
                await asyncio.sleep(0.025)
                continue
            writer.close()
            await writer.wait_closed()
            return
        raise SashaError(f"mosquitto did not listen on port {self.port} within 5 s")

    async def stop(self) -> None:
        """Stop the broker cleanly (it saves its persistence file)."""
        process, self._process = self._process, None
        if process is None or process.poll() is not None:
            return
        process.send_signal(signal.SIGTERM)
        try:
            await asyncio.to_thread(process.wait, 5)
        except subprocess.TimeoutExpired:
            process.kill()
            await asyncio.to_thread(process.wait)

    async def restart(self) -> None:
        """Stop and start again on the same port."""
        await self.stop()
        await self.start()

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()
        self._folder.cleanup()
