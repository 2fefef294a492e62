"""A newcomer's walk, as the README tells it: the demo kept, the console on it, the audits.

``hub demo --keep DIR``, then ``hub demo console DIR`` in a process of its own: the
IG officer signs in with the token it printed, finds the demo's case in the ledger
and reads one disclosure in the browser. Then ``hub audit verify`` and the
independent verifier (``deploy/audit/verify_ledger.py``) on that same ledger.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import signal
import socket
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from hub.console import Role
from hub.demo import KEPT_TOKENS

from .conftest import Console
from .test_browser import shot, sign_in

if TYPE_CHECKING:
    from playwright.async_api import BrowserContext

ROOT = Path(__file__).resolve().parents[4]
HUB = (sys.executable, "-m", "hub.cli")
#: How long the console may take to print its sign-in lines.
START_SECONDS = 60.0
#: The demo's case in the ledger: 10 events disclosed to 3 recipients, 1 refusal.
CASE_ENTRIES = 31
#: The demo's ledger: the case, and a receipt from each agency (receipts name no case).
ENTRIES = CASE_ENTRIES + 4
#: The console records each consultation: the search, and the disclosure read.
CONSULTATIONS = 2


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@dataclass(frozen=True)
class Done:
    """A finished command: its exit status and what it printed."""

    returncode: int
    stdout: str
    stderr: str


async def _run(*argv: str) -> Done:
    """Run ``argv`` from the repository root, bounded, and collect its output."""
    process = await asyncio.create_subprocess_exec(
        *argv, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, cwd=ROOT
    )
    async with asyncio.timeout(180):
        out, err = await process.communicate()
    assert process.returncode is not None
    return Done(process.returncode, out.decode(), err.decode())


async def _hub(*args: str) -> Done:
    return await _run(*HUB, *args)


async def _console_lines(process: asyncio.subprocess.Process) -> list[str]:
    """What ``hub demo console`` printed, up to its last line of sign-in help."""
    assert process.stdout is not None
    lines: list[str] = []
    async with asyncio.timeout(START_SECONDS):
        while not lines or lines[-1] != "stop with Ctrl-C":
            line = await process.stdout.readline()
            assert line, f"the console stopped early: {lines}"
            lines.append(line.decode().rstrip("\n"))
    return lines


def _sign_in_of(lines: list[str]) -> Console:
    url = next(line.removeprefix("console: ") for line in lines if line.startswith("console: "))
    tokens = {}
    for line in lines:
        found = re.fullmatch(r"  ([a-z_]+) +(hubt_\S+)", line)
        if found:
            tokens[Role(found[1])] = found[2]
    return Console(url.rstrip("/"), tokens)


async def test_from_the_demo_to_the_console_and_the_audits(
    browser: BrowserContext, tmp_path: Path
) -> None:
    """The kept demo's case is in the console, and both verifiers call its ledger intact."""
    kept = tmp_path / "demo"
    played = await _hub("demo", "--keep", str(kept))
    assert played.returncode == 0, played.stderr
    assert played.stdout.splitlines()[-1] == f"  hub demo console {kept}"

    port = _free_port()
    process = await asyncio.create_subprocess_exec(
        *HUB, "demo", "console", str(kept), "--port", str(port),
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, cwd=ROOT,
    )  # fmt: skip
    try:
        console = _sign_in_of(await _console_lines(process))
        assert console.url == f"http://127.0.0.1:{port}"
        assert set(console.tokens) == set(Role)
        assert (kept / KEPT_TOKENS).stat().st_mode & 0o077 == 0
        page = await browser.new_page()
        await page.goto(f"{console.url}/search")
        await sign_in(page, console, Role.IG_OFFICER)
        await page.wait_for_url(f"{console.url}/search")
        await page.get_by_label("Purpose").select_option("complaint")
        await page.get_by_label("Case reference").fill("MASIP-2026-000123")
        await page.get_by_role("button", name="Search", exact=True).click()
        results = page.get_by_role("table")
        await results.wait_for()
        assert await results.get_by_role("link").count() >= CASE_ENTRIES - 1
        await shot(page, "20-demo-case-in-the-console")
        await results.get_by_role("link").first.click()
        await page.get_by_label("Purpose").select_option("complaint")
        await page.get_by_role("button", name="Show the entry").click()
        await page.get_by_role("heading", name="Why it was shared").wait_for()
        assert "masip-exampleshire" in await page.get_by_role("main").inner_text()
        await shot(page, "21-demo-disclosure")
    finally:
        with contextlib.suppress(ProcessLookupError):
            process.send_signal(signal.SIGTERM)
        async with asyncio.timeout(30):
            assert await process.wait() == 0

    ledger, total = f"sqlite:///{kept / 'ledger.db'}", ENTRIES + CONSULTATIONS
    verified = await _hub("audit", "verify", "--ledger", ledger, "--keys", str(kept / "keys"))
    assert verified.stdout.splitlines()[0] == f"intact: {total} entries, checkpoint at size {total}"
    export = tmp_path / "ledger-export.jsonl"
    exported = await _hub("audit", "export", "--ledger", ledger, "--out", str(export))
    assert exported.returncode == 0, exported.stderr
    independent = await _run(
        sys.executable, str(ROOT / "deploy" / "audit" / "verify_ledger.py"),
        "--keys", str(kept / "keys" / "hub.jwks.json"), str(export),
    )  # fmt: skip
    assert independent.returncode == 0, independent.stderr
    assert independent.stdout.splitlines()[0].startswith(f"intact: {total} entries")
