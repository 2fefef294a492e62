"""The SQLite ledger takes its write lock inline when free, and waits for it off the loop."""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
from typing import TYPE_CHECKING

import pytest

from hub.ledger import sqlite as sqlite_store
from hub.ledger.base import ErrorCode, LedgerError
from hub.ledger.service import Ledger
from hub.ledger.sqlite import SqliteStore

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Callable
    from pathlib import Path
    from typing import Any

    from hub.ledger.entries import EntryDraft


@pytest.fixture
async def ledger(tmp_path: Path) -> AsyncIterator[Ledger]:
    """A started ledger on a fresh SQLite file, without checkpoints."""
    store = SqliteStore(tmp_path / "ledger.db")
    await store.open()
    service = Ledger(store)
    await service.start()
    try:
        yield service
    finally:
        await service.close()


def _count_threads(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Record the names of the calls the SQLite store hands to a thread."""
    handed: list[str] = []
    to_thread = asyncio.to_thread

    async def counted(call: Callable[..., Any], /, *args: Any) -> Any:
        handed.append(getattr(call, "__name__", type(call).__name__))
        return await to_thread(call, *args)

    monkeypatch.setattr(asyncio, "to_thread", counted)
    return handed


async def test_a_free_write_lock_is_taken_without_a_thread(
    ledger: Ledger, draft: Callable[..., EntryDraft], monkeypatch: pytest.MonkeyPatch
) -> None:
    """With nobody else writing, only the commit goes to a thread."""
    await ledger.append([draft()])  # warm: the first append may checkpoint or index
    handed = _count_threads(monkeypatch)
    entries = await ledger.append([draft()])
    assert [e.seq for e in entries] == [1]
    assert handed == ["execute"]  # COMMIT only: BEGIN IMMEDIATE ran inline


async def test_a_held_write_lock_is_waited_for_in_a_thread_while_the_loop_runs(
    ledger: Ledger,
    draft: Callable[..., EntryDraft],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Another connection holds the write lock; the append waits without holding the loop."""
    handed = _count_threads(monkeypatch)
    other = sqlite3.connect(tmp_path / "ledger.db", isolation_level=None)
    ticks = 0
    try:
        other.execute("BEGIN IMMEDIATE")
        appending = asyncio.create_task(ledger.append([draft()]))
        for _ in range(20):  # the loop keeps turning while the append waits
            await asyncio.sleep(0.01)
            ticks += 1
        assert not appending.done()
        other.execute("ROLLBACK")
        entries = await asyncio.wait_for(appending, 10)
    finally:
        with contextlib.suppress(sqlite3.Error):
            other.execute("ROLLBACK")
        other.close()
    assert ticks == 20
    assert [e.seq for e in entries] == [0]
    assert "_begin_waiting" in handed
    # Back to inline once the lock is free again.
    handed.clear()
    await ledger.append([draft()])
    assert "_begin_waiting" not in handed


async def test_a_lock_held_past_the_busy_timeout_fails_the_append_cleanly(
    ledger: Ledger,
    draft: Callable[..., EntryDraft],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A lock never released in time fails the append as unavailable; the next succeeds."""
    monkeypatch.setattr(sqlite_store, "BUSY_TIMEOUT_MS", 200)
    other = sqlite3.connect(tmp_path / "ledger.db", isolation_level=None)
    try:
        other.execute("BEGIN IMMEDIATE")
        with pytest.raises(LedgerError) as caught:
            await asyncio.wait_for(ledger.append([draft()]), 10)
    finally:
        with contextlib.suppress(sqlite3.Error):
            other.execute("ROLLBACK")
        other.close()
    assert caught.value.code is ErrorCode.UNAVAILABLE
    entries = await ledger.append([draft()])  # the writer carries on once it is free
    assert [e.seq for e in entries] == [0]
