"""Serving a witness until a signal: its state opened, its HTTP service listening."""

from __future__ import annotations

import asyncio
import contextlib
import signal
from contextlib import AsyncExitStack
from typing import TYPE_CHECKING

from aiohttp import web

from hub.logs import get_logger
from hub.witness.app import Witness, witness_app
from hub.witness.state import WitnessState, WitnessStateError

if TYPE_CHECKING:
    from collections.abc import Callable

    from hub.witness.config import WitnessConfig

_log = get_logger("hub.witness")


async def start_witness(stack: AsyncExitStack, config: WitnessConfig) -> str:
    """Open the state and listen until ``stack`` closes; return the witness's URL.

    Raises:
        WitnessStateError: ``witness.state_unavailable``, or
            ``witness.port_unavailable`` when the port is taken.
    """
    state = WitnessState(config.state)
    stack.callback(state.close)
    runner = web.AppRunner(witness_app(Witness(config, state)), access_log=None)
    await runner.setup()
    stack.push_async_callback(runner.cleanup)
    site = web.TCPSite(runner, config.host, config.port)
    try:
        await site.start()
    except OSError:
        raise WitnessStateError(
            "witness.port_unavailable", f"cannot listen on port {config.port}"
        ) from None
    port = runner.addresses[0][1]
    url = f"http://{config.host}:{port}/"
    _log.info("witness.serving", listen_url=url, count=len(config.logs))
    return url


async def serve_witness(
    config: WitnessConfig,
    *,
    stop: asyncio.Event | None = None,
    ready: Callable[[str], None] | None = None,
) -> int:
    """Serve until ``stop`` is set or SIGINT or SIGTERM arrives; tell ``ready`` the URL."""
    stop = stop or asyncio.Event()
    loop = asyncio.get_running_loop()
    for number in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(number, stop.set)
    async with AsyncExitStack() as stack:
        url = await start_witness(stack, config)
        if ready is not None:
            ready(url)
        await stop.wait()
    return 0
