"""Browser fixtures: Debian's chromium driven by Playwright against a console on loopback.

The browser is never downloaded: ``HUB_TEST_CHROMIUM`` names the executable
(``deploy/dev/chromium.sh`` installs Debian's package and prints its path). Without
it the browser tests skip, and fail under ``HUB_REQUIRE_SERVICES=1`` as the other
service tests do. The console is served by a real aiohttp site on a free port of
127.0.0.1, on the embedded hub after a few events went through it, so the ledger
has entries and a signed checkpoint. Screenshots of every page visited go to
:data:`SCREENSHOTS`.
"""

from __future__ import annotations

import os
from contextlib import AsyncExitStack
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from aiohttp import web
from playwright.async_api import async_playwright
from services import REQUIRE_VARIABLE

from hub.broker.base import OutgoingMessage
from hub.broker.memory import MemoryBroker, MemoryNode
from hub.broker.testing import next_delivery
from hub.console.app import console_app
from hub.console.base import Role
from hub.console.deps import ConsoleDeps
from hub.console.tokens import TokenStore
from hub.crypto.envelope import issue_event
from hub.embedded import embedded_hub
from hub.pipeline import process
from schemas.base import new_event_id
from schemas.samples import sample_event

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

    from playwright.async_api import BrowserContext

    from hub.context import HubContext
    from hub.crypto.keys import KeyDirectory, PartyKeyring

CHROMIUM_VARIABLE = "HUB_TEST_CHROMIUM"
#: Where the browser tests leave a screenshot of every page they visit.
SCREENSHOTS = Path(__file__).resolve().parents[4] / "build" / "screenshots"
#: The flags Debian's chromium runs with here: no sandbox (containers), nothing online.
CHROMIUM_ARGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
)
EVENTS = (("police", "ReferralReceived"), ("police", "ScreeningCompleted"))
TIMEOUT_MS = 15_000


@dataclass(frozen=True)
class Console:
    """A console served on loopback, and a token of each role for it."""

    url: str
    tokens: dict[Role, str]


def chromium_path() -> str:
    """The chromium executable, or skip (fail under HUB_REQUIRE_SERVICES=1)."""
    path = os.environ.get(CHROMIUM_VARIABLE, "")
    if not path:
        reason = f"browser tests need {CHROMIUM_VARIABLE}; deploy/dev/chromium.sh prints one"
        if os.environ.get(REQUIRE_VARIABLE) == "1":
            pytest.fail(f"{REQUIRE_VARIABLE}=1 but {reason}")
        pytest.skip(reason)
    if not Path(path).is_file():
        pytest.fail(f"{CHROMIUM_VARIABLE}={path} is not a file")
    return path


async def drive_events(
    ctx: HubContext, node: MemoryNode, keyrings: dict[str, PartyKeyring]
) -> None:
    """Send :data:`EVENTS` through the hub and sign a checkpoint over their entries."""
    async with AsyncExitStack() as stack:
        for agency, event_type in EVENTS:
            broker = await stack.enter_async_context(MemoryBroker(node, user=agency))
            event = sample_event(event_type).model_copy(update={"event_id": new_event_id()})
            body = issue_event(event, keyrings[agency], ctx.directory).encode()
            message = OutgoingMessage(
                ctx.names.ingress, agency, body, str(event.event_id), user_id=agency
            )
            await broker.publish(message)
            async with ctx.broker.consume(ctx.names.ingress_queue, 1) as consumer:
                assert await process(ctx, await next_delivery(consumer)) == "disclosed"
    await ctx.ledger.checkpoint_now()


def role_tokens() -> tuple[TokenStore, dict[Role, str]]:
    """A token store holding one token of each role, and the tokens."""
    store, tokens = TokenStore(), {}
    for role in Role:
        store, tokens[role] = store.create(role.value.replace("_", "-"), role, datetime.now(UTC))
    return store, tokens


async def serve_on_loopback(stack: AsyncExitStack, deps: ConsoleDeps) -> str:
    """Serve the console of ``deps`` on a free port of 127.0.0.1; ``stack`` stops it."""
    runner = web.AppRunner(console_app(deps), access_log=None)
    await runner.setup()
    stack.push_async_callback(runner.cleanup)
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    host, port = runner.addresses[0][:2]
    assert host == "127.0.0.1"
    return f"http://127.0.0.1:{port}"


@pytest.fixture
async def console(
    tmp_path: Path, keyrings: dict[str, PartyKeyring], directory: KeyDirectory
) -> AsyncIterator[Console]:
    """The embedded hub after :data:`EVENTS`, its console served on 127.0.0.1."""
    store, tokens = role_tokens()
    node = MemoryNode()
    async with AsyncExitStack() as stack:
        ctx = await embedded_hub(stack, tmp_path, keyrings["hub"], directory, node)
        await drive_events(ctx, node, keyrings)
        yield Console(await serve_on_loopback(stack, ConsoleDeps(ctx, store)), tokens)


@pytest.fixture
async def browser(tmp_path: Path) -> AsyncIterator[BrowserContext]:
    """Debian's chromium with a fresh profile, headless and offline but for loopback."""
    executable = chromium_path()
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    async with async_playwright() as playwright:
        context = await playwright.chromium.launch_persistent_context(
            str(tmp_path / "chromium-profile"),
            executable_path=executable,
            headless=True,
            args=list(CHROMIUM_ARGS),
            locale="en-GB",
            viewport={"width": 1280, "height": 900},
        )
        context.set_default_timeout(TIMEOUT_MS)
        try:
            yield context
        finally:
            await context.close()
