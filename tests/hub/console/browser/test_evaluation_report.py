"""The evaluation report as a programme board opens it: a file in chromium, no server."""

from __future__ import annotations

import asyncio
import io
import uuid
from contextlib import AsyncExitStack
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from rich.console import Console

from adapters.evaluator.announce import release_of
from hub import evaluation_demo
from hub.broker import MemoryNode
from hub.console import Role
from hub.console.deps import ConsoleDeps
from hub.embedded import embedded_hub
from hub.ledger import EntryDraft, ReleaseRecord

from .conftest import Console as ConsoleAt
from .conftest import role_tokens, serve_on_loopback
from .test_browser import shot, sign_in

if TYPE_CHECKING:
    from pathlib import Path

    from playwright.async_api import BrowserContext

    from hub.crypto import KeyDirectory, PartyKeyring

#: Every chart the page shows.
CHARTS = 7


async def test_the_report_opens_offline_with_every_chart_drawn(
    browser: BrowserContext, tmp_path: Path
) -> None:
    """A small three-area run; its page opens from disk with every chart loaded and labelled."""
    out = tmp_path / "report"
    console = Console(file=io.StringIO())
    ran = await asyncio.to_thread(evaluation_demo.run, console, out, scale=0.05, seed=3)
    assert ran == 0
    page = await browser.new_page()
    await page.goto((out / "index.html").as_uri())
    images = await page.evaluate(
        "() => [...document.images].map(i => [i.complete && i.naturalWidth > 0, i.alt.length])"
    )
    assert len(images) == CHARTS
    assert all(drawn and alt > 20 for drawn, alt in images), images
    assert await page.get_by_role("heading", name="Re-offending within 12 months").count() == 1
    await shot(page, "evaluation-report")


async def test_the_console_shows_a_published_report_that_matches_its_release(
    browser: BrowserContext,
    tmp_path: Path,
    keyrings: dict[str, PartyKeyring],
    directory: KeyDirectory,
) -> None:
    """An IG officer opens the evaluation page: the release, and the report's charts drawn."""
    reports = tmp_path / "reports"
    console = Console(file=io.StringIO())
    ran = await asyncio.to_thread(
        evaluation_demo.run, console, reports / "2026-12", scale=0.2, seed=8
    )
    assert ran == 0
    release = release_of(reports / "2026-12")
    store, tokens = role_tokens()
    async with AsyncExitStack() as stack:
        ctx = await embedded_hub(stack, tmp_path / "hub", keyrings["hub"], directory, MemoryNode())
        await ctx.ledger.append([
            EntryDraft(kind="release", decision_id=uuid.uuid4(), recorded_at=datetime.now(UTC),
                       provider="evaluator", outcome="released",
                       release=ReleaseRecord.model_validate(release))
        ])  # fmt: skip
        url = await serve_on_loopback(stack, ConsoleDeps(ctx, store, reports=reports))
        page = await browser.new_page()
        await page.goto(f"{url}/login?next=/evaluation")
        await sign_in(page, ConsoleAt(url, tokens), Role.IG_OFFICER)
        await page.wait_for_url(f"{url}/evaluation")
        assert await page.get_by_text("Matches release").count() == 1
        drawn = "i => i.decode().then(() => i.naturalWidth)"
        images = await page.evaluate(f"() => Promise.all([...document.images].map({drawn}))")
        assert len(images) >= CHARTS
        assert all(width > 0 for width in images), images
        await shot(page, "console-evaluation")
