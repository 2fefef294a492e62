"""Serving the console: on its own (``hub console``) or inside a worker (``hub run``).

Served by ``hub run --console-tokens FILE``, the console reads the worker's own
context, so ``/metrics`` shows the pipeline's counters as they move. Served on its
own it builds the same context a worker would (keys, policy, ledger, broker); its
counters then stay at zero, and its gauges (queues, checkpoint age, expiries) are
read from the shared services at each scrape.

Plain HTTP is served on loopback only: bearer tokens and case data never cross a
network unencrypted. Any other address needs ``--tls-dir``.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import signal
from contextlib import AsyncExitStack
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Final

from aiohttp import web

from hub.console.app import console_app
from hub.console.base import ConsoleError
from hub.console.deps import ConsoleDeps
from hub.console.duties import keep_looking
from hub.console.operations import keep_sampling
from hub.context import build_context
from hub.crypto import server_ssl_context
from hub.logs import get_logger
from hub.witnessing import Witnessing, keep_witnessing

if TYPE_CHECKING:
    import ssl
    from pathlib import Path

    from hub.console.tokens import TokenSource
    from hub.context import HubContext
    from hub.settings import HubSettings

log = get_logger("hub.console.serve")
LOOPBACK: Final = "127.0.0.1"
DEFAULT_PORT: Final = 8443


@dataclass(frozen=True)
class ConsoleOptions:
    """Where and how to serve the console.

    Attributes:
        tokens: the bearer tokens (a :class:`~hub.console.tokens.TokenFile`).
        host: the address to listen on.
        port: the TCP port.
        tls: the server TLS context, or None for plain HTTP (loopback only).
        links: ``(label, URL)`` of the operators' other tools (:func:`console_links`).
        reports: the evaluation's published reports (setting ``evaluation_reports_dir``).
        witness_every: seconds between rounds of asking the witnesses to cosign
            (setting ``witness_every_seconds``; only with a witness policy).
    """

    tokens: TokenSource
    host: str = LOOPBACK
    port: int = DEFAULT_PORT
    tls: ssl.SSLContext | None = None
    links: tuple[tuple[str, str], ...] = ()
    reports: Path | None = None
    witness_every: float = 30.0


def console_links(settings: HubSettings) -> tuple[tuple[str, str], ...]:
    """The links the overview shows: Grafana and RabbitMQ's management UI, where set."""
    found = (
        ("Grafana dashboard", settings.grafana_url),
        ("RabbitMQ management", settings.broker_ui_url),
    )
    return tuple((label, url) for label, url in found if url is not None)


def tls_context(folder: Path | None) -> ssl.SSLContext | None:
    """The server context of ``hub tls init``'s ``server.pem``/``server.key``, or None."""
    if folder is None:
        return None
    return server_ssl_context(folder / "server.pem", folder / "server.key")


def is_loopback(host: str) -> bool:
    """Whether ``host`` names this machine only (``localhost`` or a loopback address)."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_transport(host: str, tls: ssl.SSLContext | None) -> None:
    """Refuse plain HTTP on any address but loopback.

    Raises:
        ConsoleError: ``console.tls_required``.
    """
    if tls is None and not is_loopback(host):
        raise ConsoleError(
            "console.tls_required", "plain HTTP is served on loopback only; give --tls-dir"
        )


async def start_console(stack: AsyncExitStack, ctx: HubContext, options: ConsoleOptions) -> str:
    """Serve the console on ``ctx`` until ``stack`` closes; return its URL.

    The URL names the port the console listens on (the one the system chose when
    ``options.port`` is 0).

    Raises:
        ConsoleError: ``console.tls_required``, ``console.port_unavailable``.
    """
    check_transport(options.host, options.tls)
    witnessing = None
    if ctx.witness_policy is not None and any(w.url for w in ctx.witness_policy.witnesses):
        witnessing = Witnessing(ctx.ledger, ctx.witness_policy, ctx.metrics)
    deps = ConsoleDeps(
        ctx, options.tokens, links=options.links, reports=options.reports, witnessing=witnessing
    )
    runner = web.AppRunner(console_app(deps), access_log=None)
    await runner.setup()
    stack.push_async_callback(runner.cleanup)
    site = web.TCPSite(runner, options.host, options.port, ssl_context=options.tls)
    try:
        await site.start()
    except OSError:
        raise ConsoleError(
            "console.port_unavailable", f"cannot listen on port {options.port}"
        ) from None
    sampler = asyncio.create_task(keep_sampling(deps), name="console.sampler")
    stack.push_async_callback(_cancel, sampler)
    looker = asyncio.create_task(keep_looking(deps), name="console.duties")
    stack.push_async_callback(_cancel, looker)
    if witnessing is not None:
        asking = keep_witnessing(witnessing, options.witness_every)
        stack.push_async_callback(_cancel, asyncio.create_task(asking, name="console.witnessing"))
    port = runner.addresses[0][1]
    url = f"{'https' if options.tls else 'http'}://{_url_host(options.host)}:{port}/"
    log.info("console.serving", listen_url=url)
    return url


async def _cancel(task: asyncio.Task[None]) -> None:
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task


def _url_host(host: str) -> str:
    """``host`` as a URL writes it: an IPv6 address in brackets."""
    with contextlib.suppress(ValueError):
        if ipaddress.ip_address(host).version == 6:  # noqa: PLR2004 - the IP version
            return f"[{host}]"
    return host


async def serve_console(
    settings: HubSettings, options: ConsoleOptions, *, stop: asyncio.Event | None = None
) -> int:
    """Serve the console on its own until ``stop`` is set or a signal arrives."""
    check_transport(options.host, options.tls)
    stop = stop or asyncio.Event()
    loop = asyncio.get_running_loop()
    for number in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(number, stop.set)
    async with AsyncExitStack() as stack:
        ctx = await build_context(settings, stack)
        served = replace(
            options,
            links=console_links(settings),
            reports=settings.evaluation_reports_dir,
            witness_every=settings.witness_every_seconds,
        )
        await start_console(stack, ctx, served)
        await stop.wait()
    return 0
