"""``hub audit export`` on SQLite and PostgreSQL: rows exactly as stored, whole files only."""

from __future__ import annotations

import asyncio
import contextlib
import io
import json
from typing import TYPE_CHECKING, Any

import pytest

from hub.cli import main
from hub.ledger.checkpoints import CheckpointPolicy
from hub.ledger.export import EXPORT_TYPE, EXPORT_VERSION, write_export
from hub.ledger.service import LedgerConfig

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path

    from hub.ledger.entries import EntryDraft

EVERY_FOUR = LedgerConfig(checkpoints=CheckpointPolicy(every_entries=4, every_seconds=3600))


@pytest.fixture
async def seven(harness: Any, draft: Callable[..., EntryDraft]) -> Any:
    """Seven entries with punctuated clauses; checkpoints at 4 and at 7 (on close)."""
    ledger = await harness.ledger(EVERY_FOUR)
    for number in range(7):
        await ledger.append([draft(clause=f"clause ({number}) #a/b")])
    await ledger.close()
    return harness


def cli_url(harness: Any) -> str:
    """The ``--ledger`` URL of a harness; PostgreSQL's names the test schema."""
    if harness.schema is None:
        return str(harness.url)
    joiner = "&" if "?" in harness.url else "?"
    return f"{harness.url}{joiner}search_path={harness.schema}"


def hub(*argv: str) -> tuple[int, str, str]:
    """Run the ``hub`` command in-process (from a thread: it runs its own event loop)."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        status = main(list(argv))
    return status, out.getvalue(), err.getvalue()


async def test_export_holds_rows_and_checkpoints_exactly(seven: Any, tmp_path: Path) -> None:
    """Every stored body, hash, checkpoint and note appears unchanged, in order, then an end."""
    target = tmp_path / "ledger.jsonl"
    status, out, err = await asyncio.to_thread(
        hub, "audit", "export", "--ledger", cli_url(seven), "--out", str(target)
    )
    assert (status, err) == (0, "")
    store = await seven.store(read_only=True)
    ledger_id = await store.ledger_id()
    counts = "7 entries, 2 checkpoints and 2 checkpoint notes"
    assert out == f"exported {counts} of ledger {ledger_id} to {target}\n"
    text = target.read_text(encoding="ascii")
    records = [json.loads(line) for line in text.splitlines()]
    header, *rest = records
    assert header["type"] == EXPORT_TYPE
    assert (header["version"], header["ledger_id"]) == (EXPORT_VERSION, ledger_id)
    checkpoints = [(r["tree_size"], r["token"]) for r in rest if r["type"] == "checkpoint"]
    assert checkpoints == [(c.tree_size, c.token) for c in await store.checkpoints()]
    notes = [(r["tree_size"], r["note"]) for r in rest if r["type"] == "note"]
    assert notes == [(c.tree_size, c.note) for c in await store.checkpoints()]
    entries = [(r["seq"], r["body"], r["entry_hash"]) for r in rest if r["type"] == "entry"]
    assert entries == [(r.seq, r.body, r.entry_hash) for r in await seven.rows()]
    assert rest[-1] == {"type": "end", "entries": 7, "checkpoints": 2, "notes": 2}
    kinds = ["checkpoint"] * 2 + ["note"] * 2 + ["entry"] * 7 + ["end"]
    assert [r["type"] for r in rest] == kinds


async def test_export_streams_page_by_page(seven: Any) -> None:
    """Small pages give the same file as one big page, and report progress per page."""
    store = await seven.store(read_only=True)
    whole, paged = io.StringIO(), io.StringIO()
    seen: list[int] = []
    await write_export(store, whole, page=1000)
    summary = await write_export(store, paged, page=3, on_entries=seen.append)
    strip = [line for line in whole.getvalue().splitlines() if '"exported_at"' not in line]
    assert strip == [line for line in paged.getvalue().splitlines() if '"exported_at"' not in line]
    assert seen == [3, 6, 7]
    assert (summary.entries, summary.checkpoints) == (7, 2)


async def test_export_never_overwrites(seven: Any, tmp_path: Path) -> None:
    """An existing file is left alone: one error line, exit 1."""
    target = tmp_path / "ledger.jsonl"
    target.write_text("keep me")
    status, out, err = await asyncio.to_thread(
        hub, "audit", "export", "--ledger", cli_url(seven), "--out", str(target)
    )
    assert (status, out) == (1, "")
    assert err.startswith("error export.exists: ")
    assert target.read_text() == "keep me"


def test_export_of_a_missing_ledger_leaves_no_file(tmp_path: Path) -> None:
    """A ledger that cannot be opened ends in one error line and no file, not even a partial."""
    target = tmp_path / "ledger.jsonl"
    status, _, err = hub(
        "audit", "export", "--ledger", f"sqlite:///{tmp_path}/missing.db", "--out", str(target)
    )
    assert status == 1
    assert err.startswith("error ledger.unavailable: ")
    assert "Traceback" not in err
    assert list(tmp_path.iterdir()) == []
