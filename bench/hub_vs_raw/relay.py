"""The parent's handle on the relay process: start it, read its usage, stop it, always."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final, Self

from bench.hub_vs_raw.errors import BenchError

if TYPE_CHECKING:
    from types import TracebackType

ROOT: Final = Path(__file__).resolve().parents[2]
READY_SECONDS: Final = 60.0
ANSWER_SECONDS: Final = 15.0
STOP_SECONDS: Final = 45.0


class RelayProcess:
    """One relay (``hub``, ``raw`` or ``faststream``) in a child process.

    Used as an async context manager: leaving it stops the child, and kills it if
    it does not stop in time, whatever happened inside.
    """

    def __init__(self, config: dict[str, Any], folder: Path) -> None:
        """Prepare the child's config file (mode 0600) and log file in ``folder``."""
        self.kind: str = config["kind"]
        self.config_path = folder / f"{self.kind}.config.json"
        self.log_path = folder / f"{self.kind}.log"
        descriptor = os.open(self.config_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(descriptor, "w") as handle:
            json.dump(config, handle)
        self._process: asyncio.subprocess.Process | None = None
        self.final: dict[str, float] = {}

    async def __aenter__(self) -> Self:
        """Start the child and wait until it consumes."""
        with self.log_path.open("wb") as log:
            self._process = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "bench.hub_vs_raw.child", str(self.config_path),
                stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, stderr=log,
                cwd=ROOT,
            )  # fmt: skip
        await self._answer("ready", READY_SECONDS)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        """Stop the child (bounded), killing it when it does not stop."""
        await self.stop()

    @property
    def process(self) -> asyncio.subprocess.Process:
        """The running child."""
        if self._process is None:
            raise RuntimeError("relay not started")
        return self._process

    async def _answer(self, key: str | None, seconds: float) -> dict[str, float]:
        """Read JSON lines until one holds ``key`` (any, if None), within ``seconds``."""
        stdout = self.process.stdout
        if stdout is None:
            raise RuntimeError("relay has no stdout pipe")
        try:
            async with asyncio.timeout(seconds):
                while True:
                    line = await stdout.readline()
                    if not line:
                        raise BenchError(
                            "bench.worker_failed", f"{self.kind} relay exited; log {self.log_path}"
                        )
                    with contextlib.suppress(ValueError):
                        document: dict[str, float] = json.loads(line)
                        if key is None or key in document:
                            return document
        except TimeoutError:
            raise BenchError(
                "bench.worker_failed",
                f"{self.kind} relay silent for {seconds:.0f} s; log {self.log_path}",
            ) from None

    async def _send(self, command: str) -> None:
        stdin = self.process.stdin
        if stdin is None or stdin.is_closing():
            raise BenchError("bench.worker_failed", f"{self.kind} relay is gone")
        stdin.write(f"{command}\n".encode())
        try:
            await stdin.drain()
        except (BrokenPipeError, ConnectionResetError):
            raise BenchError("bench.worker_failed", f"{self.kind} relay is gone") from None

    async def usage(self) -> dict[str, float]:
        """The child's CPU seconds and peak RSS (MiB) now."""
        await self._send("usage")
        return await self._answer("cpu_s", ANSWER_SECONDS)

    async def stop(self) -> None:
        """Ask the child to stop; keep its last usage in :attr:`final`; kill it if it hangs."""
        if self._process is None or self._process.returncode is not None:
            return
        with contextlib.suppress(BenchError):
            await self._send("stop")
            self.final = await self._answer("stopped", STOP_SECONDS)
        if self._process.stdin is not None:
            self._process.stdin.close()
        try:
            await asyncio.wait_for(self._process.wait(), ANSWER_SECONDS)
        except TimeoutError:
            self._process.kill()
            await self._process.wait()
