"""The hub as a process: a worker, and the console beside it when asked (``hub run``).

This is the top of the service: it builds the context (:func:`hub.context.build_context`),
starts the console on it if asked, and runs the worker (:mod:`hub.worker`) until a
signal stops it.
"""

from __future__ import annotations

import asyncio
import signal
from contextlib import AsyncExitStack
from dataclasses import replace
from typing import TYPE_CHECKING

from hub import heap
from hub.console import console_links, start_console
from hub.context import build_context
from hub.logs import get_logger
from hub.worker import Reloader, WorkerLimits, reload_from, serve

if TYPE_CHECKING:
    from hub.console import ConsoleOptions
    from hub.settings import HubSettings

log = get_logger("hub.app")


async def run(settings: HubSettings, console: ConsoleOptions | None = None) -> int:
    """Run a worker until SIGINT or SIGTERM, serving ``console`` too if given.

    SIGHUP reloads the agreements, parties, rules and public keys (:class:`Reloader`).
    """
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    reloader = Reloader(reload_from(settings))
    loop.add_signal_handler(signal.SIGHUP, reloader.requested.set)
    async with AsyncExitStack() as stack:
        ctx = await build_context(settings, stack)
        if console is not None:
            await start_console(stack, ctx, replace(console, links=console_links(settings)))
        heap.settle()
        log.info("worker.started", party=ctx.keyring.party, policy_hash=ctx.policy.hash[:16])
        limits = WorkerLimits(settings.prefetch, settings.delivery_limit)
        await serve(ctx, limits, stop, reloader)
    log.info("worker.stopped")
    return 0
