"""An operator's walk, in a real browser: what is wrong, the quarantine, a replay.

The embedded hub has carried two events whose recipients' adapters never came, and
refused one message: deliveries wait in three inboxes with no consumer, and one
refusal is in the quarantine. The operator signs in and the overview says what to
act on (critical: inboxes without an adapter); looks at the quarantine twice (it is
read, never taken from); replays the refusal with a reason and confirms; and the
overview no longer lists the quarantine. Screenshots: ``build/screenshots/3x-*``.
"""

from __future__ import annotations

import uuid
from contextlib import AsyncExitStack
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from aiohttp import web
from quarantined import read_quarantine

from hub.broker.base import OutgoingMessage
from hub.broker.memory import MemoryBroker, MemoryNode
from hub.broker.testing import next_delivery
from hub.console.app import console_app
from hub.console.base import Role
from hub.console.deps import ConsoleDeps
from hub.console.tokens import TokenStore
from hub.embedded import embedded_hub
from hub.pipeline import process

from .conftest import Console, drive_events
from .test_browser import shot, sign_in

if TYPE_CHECKING:
    from pathlib import Path

    from playwright.async_api import BrowserContext

    from hub.context import HubContext
    from hub.crypto.keys import KeyDirectory, PartyKeyring

GRAFANA = "https://grafana.example.internal/d/case-event-hub"


async def _refuse_one(ctx: HubContext, node: MemoryNode) -> None:
    """Police sends bytes that are no envelope: refused, recorded, quarantined."""
    async with MemoryBroker(node, user="police") as police:
        await police.publish(
            OutgoingMessage(
                ctx.names.ingress, "police", b"fictional: not an envelope", str(uuid.uuid4()),
                user_id="police",
            )
        )  # fmt: skip
    async with ctx.broker.consume(ctx.names.ingress_queue, 1) as consumer:
        assert await process(ctx, await next_delivery(consumer)) == "envelope.malformed"


async def test_an_operator_sees_what_is_wrong_and_replays_from_the_quarantine(
    browser: BrowserContext,
    tmp_path: Path,
    keyrings: dict[str, PartyKeyring],
    directory: KeyDirectory,
) -> None:
    """Overview (critical, drawn, linked), the quarantine looked at twice, a replay."""
    store, tokens = TokenStore(), {}
    store, tokens[Role.OPERATOR] = store.create("operator", Role.OPERATOR, datetime.now(UTC))
    node = MemoryNode()
    async with AsyncExitStack() as stack:
        ctx = await embedded_hub(stack, tmp_path, keyrings["hub"], directory, node)
        await drive_events(ctx, node, keyrings)
        await _refuse_one(ctx, node)
        deps = ConsoleDeps(ctx, store, links=(("Grafana dashboard", GRAFANA),))
        runner = web.AppRunner(console_app(deps), access_log=None)
        await runner.setup()
        stack.push_async_callback(runner.cleanup)
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        console = Console(f"http://127.0.0.1:{runner.addresses[0][1]}", tokens)

        page = await browser.new_page()
        await page.goto(f"{console.url}/")
        await sign_in(page, console, Role.OPERATOR)
        await page.wait_for_url(f"{console.url}/")
        main = page.get_by_role("main")
        text = await main.inner_text()
        assert "Critical" in text
        assert "inbox.no_consumer" in text
        assert "quarantine.waiting" in text
        assert (
            await page.get_by_role("link", name="Grafana dashboard").get_attribute("href")
            == GRAFANA
        )
        assert await page.locator("svg.sparkline").count() >= 3
        await shot(page, "30-operator-overview")

        for _ in range(2):  # looking twice changes nothing
            await page.get_by_role("navigation").get_by_role("link", name="Quarantine").click()
            await page.wait_for_url(f"{console.url}/quarantine")
            rows = page.get_by_role("table").get_by_role("row")
            assert await rows.count() == 2  # the header and one refusal
            assert "envelope.malformed" in await main.inner_text()
        await shot(page, "31-operator-quarantine")
        [parked] = await read_quarantine(ctx.broker, ctx.names)
        assert parked.delivery_count == 0

        await page.get_by_label("Why replay").select_option("cause_fixed")
        await page.get_by_label("Change or ticket (optional)").fill("CHG-7")
        await page.get_by_role("button", name="Replay…").click()
        assert await page.get_by_role("heading", level=1).inner_text() == "Replay this message?"
        await shot(page, "32-operator-replay-confirm")
        await page.get_by_role("button", name="Replay now").click()
        assert "Replayed" in await page.get_by_role("heading", level=1).inner_text()
        await shot(page, "33-operator-replayed")

        await page.goto(f"{console.url}/")
        text = await main.inner_text()
        assert "quarantine.waiting" not in text
        assert "inbox.no_consumer" in text
        assert await read_quarantine(ctx.broker, ctx.names) == []
        replays = [e for e in await ctx.ledger.read() if e.outcome == "quarantine.replayed"]
        assert [(e.actor, e.purpose) for e in replays] == [("operator", "cause_fixed #CHG-7")]
