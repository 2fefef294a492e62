"""``hub console``: serve the console on its own, over HTTPS when given TLS files.

The console builds the same context a worker does (keys, policy, ledger, broker)
and serves until SIGINT or SIGTERM. Its metrics are its own process's: the
pipeline's counters show here once the console is served from ``hub run``.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
from contextlib import AsyncExitStack
from typing import TYPE_CHECKING

from aiohttp import web

from hub.console.app import console_app
from hub.console.deps import ConsoleDeps
from hub.crypto.tls import server_ssl_context
from hub.logs import get_logger
from hub.worker import build_context

if TYPE_CHECKING:
    import ssl
    from pathlib import Path

    from hub.console.auth import TokenSource
    from hub.settings import HubSettings

log = get_logger("hub.console.serve")


def tls_context(folder: Path | None) -> ssl.SSLContext | None:
    """The server context of ``hub tls init``'s ``server.pem``/``server.key``, or None."""
    if folder is None:
        return None
    return server_ssl_context(folder / "server.pem", folder / "server.key")


async def serve(  # noqa: PLR0913 - the console's settings, each one
    settings: HubSettings,
    tokens: TokenSource,
    host: str,
    port: int,
    tls: ssl.SSLContext | None,
    *,
    stop: asyncio.Event | None = None,
) -> int:
    """Serve the console until ``stop`` is set or a signal arrives; return the exit status."""
    stop = stop or asyncio.Event()
    loop = asyncio.get_running_loop()
    for number in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(number, stop.set)
    async with AsyncExitStack() as stack:
        ctx = await build_context(settings, stack)
        runner = web.AppRunner(console_app(ConsoleDeps(ctx, tokens)), access_log=None)
        await runner.setup()
        stack.push_async_callback(runner.cleanup)
        await web.TCPSite(runner, host, port, ssl_context=tls).start()
        log.info("console.serving", port=port, status="https" if tls else "http")
        await stop.wait()
    return 0
