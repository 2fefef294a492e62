"""What the agencies owe, in a real browser: the overview's table and the ledger page's."""

from __future__ import annotations

from contextlib import AsyncExitStack
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from owing import hub_steps, keep_waiting, publish_plans, started_clients

from hub.broker.memory import MemoryNode
from hub.console.base import Role
from hub.console.deps import ConsoleDeps
from hub.embedded import embedded_hub

from .conftest import Console, role_tokens, serve_on_loopback
from .test_browser import shot, sign_in

if TYPE_CHECKING:
    from pathlib import Path

    from playwright.async_api import BrowserContext

    from hub.crypto.keys import KeyDirectory, PartyKeyring


async def test_the_operator_and_the_ig_officer_see_what_each_agency_owes(
    tmp_path: Path,
    keyrings: dict[str, PartyKeyring],
    directory: KeyDirectory,
    browser: BrowserContext,
) -> None:
    """Police signs for all, probation and health for nothing; later police must erase."""
    store, tokens = role_tokens()
    node = MemoryNode()
    async with AsyncExitStack() as stack:
        ctx = await embedded_hub(stack, tmp_path, keyrings["hub"], directory, node)
        parties = ("advocacy", "police")
        clients = await started_clients(stack, node, keyrings, directory, tmp_path, parties)

        for count in (1, 2):
            await publish_plans(ctx, clients["advocacy"], count)
            await keep_waiting(clients["police"])
            assert await hub_steps(ctx, 1) == ["receipted"]  # the first: the ledger's first
        now = [datetime.now(UTC) + timedelta(hours=2)]
        deps = ConsoleDeps(ctx, store, clock=lambda: now[0])
        console = Console(await serve_on_loopback(stack, deps), tokens)
        page = await browser.new_page()
        await page.goto(console.url)
        await sign_in(page, console, Role.OPERATOR)
        table = page.get_by_role("table", name="Deliveries not signed for")
        await table.wait_for()
        row = table.get_by_role("row", name="probation")
        assert "2 hours ago" in await row.inner_text()
        assert await table.get_by_role("row", name="police").count() == 0
        attention = page.get_by_role("table", name="Needs attention, most severe first")
        assert "receipts.overdue" in await attention.inner_text()
        await shot(page, "33-operator-owed")
        # The day after police's delete-by day: the IG officer's ledger page lists it.
        entries = await ctx.ledger.read(0, None)
        until = max(i.until for e in entries if e.receipt for i in e.receipt.items if i.until)
        now[0] = datetime(until.year, until.month, until.day, 9, tzinfo=UTC) + timedelta(days=1)
        officer = await browser.new_page()
        await officer.goto(f"{console.url}/ledger")
        await sign_in(officer, console, Role.IG_OFFICER)
        owed = officer.get_by_role("table", name="Deliveries not signed for")
        await owed.wait_for()
        police = owed.get_by_role("row", name="police")
        assert f"{until.day} {until:%B %Y} (1 day ago)" in await police.inner_text()
        await shot(officer, "34-ig-officer-owed")
