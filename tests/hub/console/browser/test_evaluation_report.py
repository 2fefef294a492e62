"""The evaluation report as a programme board opens it: a file in chromium, no server."""

from __future__ import annotations

import asyncio
import io
from typing import TYPE_CHECKING

from rich.console import Console

from hub import evaluation_demo

from .test_browser import shot

if TYPE_CHECKING:
    from pathlib import Path

    from playwright.async_api import BrowserContext

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
