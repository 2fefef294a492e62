"""The console's pages in a real browser: sign-in, keyboard, sign-out, CSRF, daily work."""

from __future__ import annotations

import csv
import io
import re
from typing import TYPE_CHECKING

from hub.console.base import Role
from schemas.samples import CASE, VICTIM

from .conftest import EVENTS, SCREENSHOTS, Console

if TYPE_CHECKING:
    from pathlib import Path

    from playwright.async_api import BrowserContext, Page

#: Checks run in the page on the real DOM (the test's own script; the pages have none).
A11Y_SCRIPT = """() => {
  const problems = [];
  if (document.documentElement.lang !== 'en-GB') problems.push('lang');
  if (document.querySelectorAll('h1').length !== 1) problems.push('one h1');
  if (!document.querySelector('main#main')) problems.push('main landmark');
  for (const input of document.querySelectorAll('input:not([type=hidden]), select, textarea')) {
    if (!input.labels || input.labels.length === 0) problems.push('label for ' + input.name);
  }
  for (const svg of document.querySelectorAll('svg')) {
    if (svg.getAttribute('role') !== 'img' || !svg.querySelector('title')) {
      problems.push('svg title');
    }
  }
  for (const table of document.querySelectorAll('table')) {
    if (!table.querySelector('caption')) problems.push('table caption');
  }
  return problems;
}"""
MAX_TABS = 40


async def shot(page: Page, name: str) -> None:
    """Save a full-page screenshot of ``page`` as ``name``.png and run the DOM checks."""
    await page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)
    assert await page.evaluate(A11Y_SCRIPT) == [], name


async def sign_in(page: Page, console: Console, role: Role) -> None:
    """Sign in on the login page the browser is on, with ``role``'s token."""
    await page.get_by_label("Console token").fill(console.tokens[role])
    await page.get_by_role("button", name="Sign in").click()


async def tab_to(page: Page, name: str) -> bool:
    """Press Tab until the element named ``name`` has the focus (at most :data:`MAX_TABS`)."""
    for _ in range(MAX_TABS):
        await page.keyboard.press("Tab")
        if await page.evaluate("() => document.activeElement.textContent.trim()") == name:
            return True
    return False


async def test_sign_in_and_reach_the_matrix_by_keyboard(
    browser: BrowserContext, console: Console
) -> None:
    """A wrong token is refused unechoed; the right one signs in; Tab and Enter reach the matrix."""
    page = await browser.new_page()
    await page.goto(f"{console.url}/ledger")
    assert re.search(r"/login\?next=/ledger$", page.url)
    await shot(page, "01-login")
    wrong = "hubt_this-is-not-a-valid-token-at-all"
    await page.get_by_label("Console token").fill(wrong)
    await page.get_by_role("button", name="Sign in").click()
    await page.get_by_role("alert").wait_for()
    assert wrong not in await page.content()
    assert await page.get_by_label("Console token").input_value() == ""
    assert not [c for c in await browser.cookies() if c["name"] == "hub-session"]
    await shot(page, "02-login-refused")

    await sign_in(page, console, Role.ADMIN)
    await page.wait_for_url(f"{console.url}/ledger")
    assert "Intact" in await page.get_by_role("main").inner_text()
    await shot(page, "03-ledger")
    [cookie] = [c for c in await browser.cookies() if c["name"] == "hub-session"]
    assert cookie["httpOnly"] is True
    assert cookie["sameSite"] == "Strict"
    assert console.tokens[Role.ADMIN] not in cookie["value"]

    await page.goto(f"{console.url}/")
    await shot(page, "04-overview")
    await page.keyboard.press("Tab")
    focused = await page.evaluate("() => document.activeElement.textContent.trim()")
    assert focused == "Skip to main content"
    focus_colour = await page.evaluate(
        "() => getComputedStyle(document.activeElement).backgroundColor"
    )
    assert focus_colour == "rgb(255, 221, 0)"  # the visible focus of the stylesheet
    assert await tab_to(page, "Who sees what")
    await page.keyboard.press("Enter")
    await page.wait_for_url(f"{console.url}/agreements/matrix")
    assert await page.get_by_role("heading", level=1).inner_text() == "Who sees what"
    assert await page.get_by_role("table").count() == 1
    await shot(page, "05-matrix")
    for path, name in (
        ("/agreements", "06-agreements"),
        ("/agreements/masip-exampleshire", "07-agreement"),
    ):
        await page.goto(f"{console.url}{path}")
        await shot(page, name)
    assert console.tokens[Role.ADMIN] not in await page.content()


async def test_sign_out_ends_the_session(browser: BrowserContext, console: Console) -> None:
    """Sign out leads to the login page, and pages then redirect there again."""
    page = await browser.new_page()
    await page.goto(f"{console.url}/")
    await sign_in(page, console, Role.OPERATOR)
    await page.wait_for_url(f"{console.url}/")
    assert "Hub readiness" in await page.content()
    await page.get_by_role("button", name="Sign out").click()
    await page.wait_for_url(f"{console.url}/login")
    await shot(page, "08-signed-out")
    await page.goto(f"{console.url}/agreements")
    assert page.url == f"{console.url}/login?next=/agreements"


async def test_a_form_without_its_csrf_token_is_refused(
    browser: BrowserContext, console: Console
) -> None:
    """Sign-out with the CSRF field removed is refused 403 and the session stays."""
    page = await browser.new_page()
    await page.goto(f"{console.url}/")
    await sign_in(page, console, Role.IG_OFFICER)
    await page.wait_for_url(f"{console.url}/")
    await page.evaluate("() => document.querySelector('input[name=csrf_token]').remove()")
    async with page.expect_response(f"{console.url}/logout") as answer:
        await page.get_by_role("button", name="Sign out").click()
    assert (await answer.value).status == 403
    assert "auth.csrf" in await page.content()
    await shot(page, "09-csrf-refused")
    await page.goto(f"{console.url}/ledger")
    assert page.url == f"{console.url}/ledger"


async def test_a_role_without_the_page_gets_403(browser: BrowserContext, console: Console) -> None:
    """An operator gets an HTML 403 on the ledger page, and no ledger link in the navigation."""
    page = await browser.new_page()
    await page.goto(f"{console.url}/")
    await sign_in(page, console, Role.OPERATOR)
    await page.wait_for_url(f"{console.url}/")
    assert await page.get_by_role("navigation").get_by_role("link", name="Ledger").count() == 0
    answer = await page.goto(f"{console.url}/ledger")
    assert answer is not None
    assert answer.status == 403
    await shot(page, "10-forbidden")


async def search_and_read(page: Page, console: Console) -> None:
    """As an IG officer: search the sample case, open the first result's entry."""
    await page.goto(f"{console.url}/search")
    await sign_in(page, console, Role.IG_OFFICER)
    await page.wait_for_url(f"{console.url}/search")
    await shot(page, "11-search-form")
    await page.get_by_label("Purpose").select_option("complaint")
    await page.get_by_label("Reference (optional)").fill("INC-42")
    await page.get_by_label("Case reference").fill(CASE)
    await page.get_by_role("button", name="Search", exact=True).click()
    results = page.get_by_role("table")
    await results.wait_for()
    assert CASE not in await page.content()
    assert await results.get_by_role("link").count() >= len(EVENTS)
    await shot(page, "12-search-results")

    await results.get_by_role("link").first.click()
    await page.get_by_label("Purpose").select_option("complaint")
    await page.get_by_role("button", name="Show the entry").click()
    await page.get_by_role("heading", name="Why it was shared").wait_for()
    main = await page.get_by_role("main").inner_text()
    assert "Entry hash" in main
    assert "police" in main
    await shot(page, "13-disclosure")


async def export_report(page: Page, console: Console, folder: Path) -> None:
    """The victim's report: drafted by the IG officer, released by an admin as CSV and a page."""
    await page.get_by_role("navigation").get_by_role("link", name="Subject access").click()
    await page.wait_for_url(f"{console.url}/subject-access")
    await page.get_by_label("Person reference").fill(VICTIM)
    await shot(page, "14-subject-access")
    await page.get_by_role("button", name="Draft the report").click()
    await page.get_by_role("heading", name="What the release will give").wait_for()
    main = await page.get_by_role("main").inner_text()
    assert "the person being stalked" in main
    assert VICTIM not in await page.content()
    await shot(page, "14b-subject-access-draft")
    release_at = await page.locator('main a[href^="/subject-access/"]').get_attribute("href")
    assert release_at is not None
    await page.get_by_role("button", name="Sign out").click()
    await page.goto(f"{console.url}{release_at}")
    await sign_in(page, console, Role.ADMIN)
    await page.wait_for_url(f"{console.url}{release_at}")
    await page.get_by_label("Give it as").select_option("csv")
    await page.get_by_label(re.compile("I have checked")).check()
    await shot(page, "14c-subject-access-release")
    async with page.expect_download() as downloading:
        await page.get_by_role("button", name="Release the report").click()
    download = await downloading.value
    assert download.suggested_filename.startswith("subject-access-")
    saved = folder / download.suggested_filename
    await download.save_as(saved)
    rows = list(csv.DictReader(io.StringIO(saved.read_text("utf-8"))))
    disclosures = [row for row in rows if row["number"].isdigit()]
    assert len(disclosures) >= len(EVENTS)
    assert all(row["from"].startswith("Exampleshire Police") for row in disclosures)
    assert VICTIM not in saved.read_text("utf-8")
    await page.get_by_label("Give it as").select_option("html")
    await page.get_by_label(re.compile("I have checked")).check()
    await page.get_by_role("button", name="Release the report").click()
    await page.get_by_role("heading", name="Your information: who it was shared with").wait_for()
    assert await page.get_by_role("table").count() == 1
    await page.screenshot(path=str(SCREENSHOTS / "14d-subject-access-report.png"), full_page=True)
    await page.goto(f"{console.url}/")


async def test_an_ig_officer_and_an_operator_go_about_their_work(
    browser: BrowserContext, console: Console, tmp_path: Path
) -> None:
    """Search a case, open a disclosure, export a report, sign out; then queues and quarantine."""
    page = await browser.new_page()
    await search_and_read(page, console)
    await export_report(page, console, tmp_path)
    await page.get_by_role("button", name="Sign out").click()
    await page.wait_for_url(f"{console.url}/login")

    await page.goto(f"{console.url}/queues")
    await sign_in(page, console, Role.OPERATOR)
    await page.wait_for_url(f"{console.url}/queues")
    assert await page.get_by_role("img", name="Messages waiting per agency inbox").count() == 1
    await shot(page, "15-queues")
    await page.get_by_role("navigation").get_by_role("link", name="Quarantine").click()
    await page.wait_for_url(f"{console.url}/quarantine")
    assert await page.get_by_role("heading", level=1).inner_text() == "Quarantine"
    await shot(page, "16-quarantine")
