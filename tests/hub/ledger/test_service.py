"""The ledger service on SQLite and PostgreSQL: chain, idempotency, atomicity, group commit."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
from datetime import timedelta
from typing import TYPE_CHECKING, Any

import pytest
from structlog.testing import capture_logs

from hub.ledger import chain
from hub.ledger import service as service_module
from hub.ledger.base import ErrorCode, LedgerError
from hub.ledger.checkpoints import CheckpointPolicy
from hub.ledger.entries import GENESIS_HASH
from hub.ledger.service import Ledger, LedgerConfig
from hub.ledger.verify import verify_store

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Callable

    from hub.crypto.keys import KeyDirectory
    from hub.ledger.base import Head, LedgerStore, NewEntry
    from hub.ledger.entries import EntryDraft

NO_TIMER = CheckpointPolicy(every_entries=10_000, every_seconds=3600)


async def test_entries_form_one_hash_chain(harness: Any, draft: Callable[..., EntryDraft]) -> None:
    """Entries get consecutive seq from 0, each prev_hash is the hash before, the first is zeros."""
    ledger = await harness.ledger()
    first = await ledger.append([draft(), draft()])
    second = await ledger.append([draft()])
    entries = await ledger.read()
    assert entries == first + second
    assert [e.seq for e in entries] == [0, 1, 2]
    assert entries[0].prev_hash == GENESIS_HASH
    for before, after in itertools.pairwise(entries):
        assert after.prev_hash == before.entry_hash
    for entry in entries:
        assert chain.hash_body(chain.body_of(entry)) == entry.entry_hash
    assert await ledger.read(1, 2) == [entries[1]]


async def test_returned_entries_carry_the_drafts(
    harness: Any, draft: Callable[..., EntryDraft]
) -> None:
    """Each returned entry holds exactly its draft, in the order the drafts were given."""
    ledger = await harness.ledger()
    drafts = [draft(recipient=party) for party in ("health", "advocacy", "probation")]
    entries = await ledger.append(drafts)
    assert [e.draft() for e in entries] == drafts


async def test_same_call_twice_records_once(harness: Any, draft: Callable[..., EntryDraft]) -> None:
    """Appending the same drafts again returns the committed entries and adds none."""
    ledger = await harness.ledger()
    drafts = [draft(), draft()]
    first = await ledger.append(drafts)
    again = await ledger.append(drafts)
    assert again == first
    assert len(await ledger.read()) == 2


async def test_redelivery_finds_its_decisions_recorded(
    harness: Any, draft: Callable[..., EntryDraft]
) -> None:
    """A redelivered message's decisions (same ids, later time) return the first entries."""
    ledger = await harness.ledger()
    original = [draft(), draft(recipient="advocacy")]
    first = await ledger.append(original)
    redelivered = [
        d.model_copy(update={"recorded_at": d.recorded_at + timedelta(minutes=5)}) for d in original
    ]
    again = await ledger.append([*redelivered, draft()])
    assert again[:2] == first
    entries = await ledger.read()
    assert len(entries) == 3
    assert len({e.decision_id for e in entries}) == 3


async def test_duplicate_with_other_content_keeps_the_record_and_logs_only_ids(
    harness: Any, draft: Callable[..., EntryDraft]
) -> None:
    """A decision recorded once stays as recorded; the difference is logged by decision id."""
    ledger = await harness.ledger()
    original = draft()
    [entry] = await ledger.append([original])
    with capture_logs() as logs:
        [again] = await ledger.append([original.model_copy(update={"recipient": "advocacy"})])
    assert again == entry
    warned = [log for log in logs if log["event"] == "ledger.duplicate_differs"]
    assert warned == [
        {"event": "ledger.duplicate_differs", "decision_id": str(original.decision_id),
         "logger_name": "hub.ledger", "log_level": "warning"}
    ]  # fmt: skip


async def test_one_call_with_conflicting_drafts_records_nothing(
    harness: Any, draft: Callable[..., EntryDraft]
) -> None:
    """One call holding one decision twice with different content fails whole."""
    ledger = await harness.ledger()
    one = draft()
    with pytest.raises(LedgerError) as caught:
        await ledger.append([draft(), one, one.model_copy(update={"outcome": "refused"})])
    assert caught.value.code is ErrorCode.CONFLICT
    assert await ledger.read() == []


class _FailAfterInsert:
    """A store whose transactions insert and then fail before committing."""

    def __init__(self, store: LedgerStore) -> None:
        self._store = store
        self.failing = True

    def __getattr__(self, name: str) -> Any:
        return getattr(self._store, name)

    @contextlib.asynccontextmanager
    async def write(self) -> AsyncIterator[Any]:
        async with self._store.write() as tx:
            yield _Failing(tx, fail=self.failing)


class _Failing:
    def __init__(self, tx: Any, *, fail: bool) -> None:
        self._tx = tx
        self._fail = fail

    def __getattr__(self, name: str) -> Any:
        return getattr(self._tx, name)

    async def insert(self, entries: list[NewEntry], head: Head) -> None:
        await self._tx.insert(entries, head)
        if self._fail:
            raise LedgerError(ErrorCode.UNAVAILABLE, "simulated crash after insert")


async def test_a_failed_transaction_records_nothing_of_the_call(
    harness: Any, draft: Callable[..., EntryDraft]
) -> None:
    """When the transaction fails after inserting, none of the call's drafts are recorded."""
    store = _FailAfterInsert(await harness.store())
    ledger = Ledger(store, config=LedgerConfig(checkpoints=NO_TIMER))
    drafts = [draft(), draft(), draft()]
    with pytest.raises(LedgerError) as caught:
        await ledger.append(drafts)
    assert caught.value.code is ErrorCode.UNAVAILABLE
    assert await ledger.read() == []
    store.failing = False
    entries = await ledger.append(drafts)
    assert [e.seq for e in entries] == [0, 1, 2]
    await ledger.close()


async def test_group_commit_batches_concurrent_appends(
    harness: Any, draft: Callable[..., EntryDraft], directory: KeyDirectory
) -> None:
    """200 concurrent appends commit in far fewer than 200 transactions, as one intact chain."""
    ledger = await harness.ledger(LedgerConfig(checkpoints=NO_TIMER))
    before = ledger.store.transactions
    results = await asyncio.gather(*(ledger.append([draft()]) for _ in range(200)))
    assert ledger.store.transactions - before <= 20
    seqs = sorted(entry.seq for [entry] in results)
    assert seqs == list(range(200))
    report = await verify_store(ledger.store, directory)
    assert report.intact
    assert report.entries == 200


async def test_batches_are_bounded(harness: Any, draft: Callable[..., EntryDraft]) -> None:
    """No transaction takes more drafts than the batch bound (a larger call goes alone)."""
    ledger = await harness.ledger(LedgerConfig(checkpoints=NO_TIMER, max_batch_entries=10))
    before = ledger.store.transactions
    await asyncio.gather(*(ledger.append([draft(), draft()]) for _ in range(20)))
    assert ledger.store.transactions - before >= 4
    big = await ledger.append([draft() for _ in range(25)])
    assert [e.seq for e in big] == list(range(40, 65))


async def test_two_ledgers_on_one_database_keep_one_chain(
    harness: Any, draft: Callable[..., EntryDraft], directory: KeyDirectory
) -> None:
    """Two writers (as two hub workers) appending at once leave one gapless, linked chain."""
    config = LedgerConfig(checkpoints=CheckpointPolicy(every_entries=7, every_seconds=3600))
    one, two = await harness.ledger(config), await harness.ledger(config)
    shared = draft()
    calls = [(one if i % 2 else two).append([draft(), draft()]) for i in range(60)]
    calls += [one.append([shared]), two.append([shared])]
    results = await asyncio.gather(*calls)
    assert results[-1] == results[-2]
    entries = await one.read()
    assert [e.seq for e in entries] == list(range(121))
    assert len({e.decision_id for e in entries}) == 121
    report = await verify_store(one.store, directory)
    assert report.intact, report
    assert report.checkpoint_size > 121 - 7


async def test_entries_for_event(harness: Any, draft: Callable[..., EntryDraft]) -> None:
    """All entries about one event come back in order, and no others."""
    ledger = await harness.ledger()
    mine = draft()
    others = [draft(), draft()]
    recorded = await ledger.append(
        [mine, others[0], draft(event_id=mine.event_id, recipient="advocacy")]
    )
    assert await ledger.entries_for_event(mine.event_id) == [recorded[0], recorded[2]]
    assert mine.event_id is not None


async def test_checkpoint_every_n_entries(harness: Any, draft: Callable[..., EntryDraft]) -> None:
    """With every_entries=5, twelve appends leave checkpoints at sizes 5 and 10."""
    ledger = await harness.ledger(
        LedgerConfig(checkpoints=CheckpointPolicy(every_entries=5, every_seconds=3600))
    )
    for _ in range(12):
        await ledger.append([draft()])
    assert [c.tree_size for c in await ledger.store.checkpoints()] == [5, 10]
    latest = await ledger.latest_checkpoint()
    assert latest is not None
    assert latest.tree_size == 10


async def test_checkpoint_every_t_seconds(harness: Any, draft: Callable[..., EntryDraft]) -> None:
    """With every_seconds=0.2, unsigned entries get a checkpoint soon without more appends."""
    ledger = await harness.ledger(
        LedgerConfig(checkpoints=CheckpointPolicy(every_entries=1000, every_seconds=0.2))
    )
    await ledger.append([draft(), draft(), draft()])
    for _ in range(100):
        latest = await ledger.latest_checkpoint()
        if latest is not None:
            break
        await asyncio.sleep(0.05)
    assert latest is not None
    assert latest.tree_size == 3


async def test_close_commits_queued_and_signs_the_tail(
    harness: Any, draft: Callable[..., EntryDraft]
) -> None:
    """Closing commits what was queued, checkpoints it, and refuses later appends."""
    ledger = await harness.ledger(LedgerConfig(checkpoints=NO_TIMER))
    pending = asyncio.gather(*(ledger.append([draft()]) for _ in range(5)))
    await asyncio.sleep(0)
    await ledger.close()
    assert len(await pending) == 5
    store = await harness.store(read_only=True)
    latest = await store.latest_checkpoint()
    assert latest is not None
    assert latest.tree_size == 5
    with pytest.raises(LedgerError) as caught:
        await ledger.append([draft()])
    assert caught.value.code is ErrorCode.CLOSED


async def test_schema_creation_is_idempotent(
    harness: Any, draft: Callable[..., EntryDraft]
) -> None:
    """Opening a ledger database again keeps its id and its rows."""
    ledger = await harness.ledger()
    entries = await ledger.append([draft()])
    again = await harness.store()
    assert await again.ledger_id() == await ledger.store.ledger_id()
    assert len(await again.read(0, None)) == len(entries)


async def test_entries_cannot_be_updated_through_the_store(
    harness: Any, draft: Callable[..., EntryDraft]
) -> None:
    """The database itself refuses to change a recorded entry (the triggers)."""
    ledger = await harness.ledger()
    await ledger.append([draft()])
    store: Any = ledger.store
    change = (
        asyncio.to_thread(store._writer.execute, "UPDATE ledger_entries SET body = 'x'")
        if harness.kind == "sqlite"
        else store._pool.execute("DELETE FROM ledger_entries")
    )
    with pytest.raises(Exception, match="append-only"):
        await change


async def test_a_store_opening_beside_a_writer_waits_and_neither_fails(
    harness: Any, draft: Callable[..., EntryDraft], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A worker starting while another is inside a write transaction waits for it.

    The writer holds the head (on PostgreSQL its row lock, on SQLite the write
    lock) and has not inserted yet; the new store creates its schema meanwhile.
    Schema creation must queue behind the head like every writer does: taking table
    locks first, then waiting on the head, deadlocks with a writer that then needs
    those tables (PostgreSQL aborts one of the two).
    """
    ledger = await harness.ledger()
    await ledger.append([draft()])
    store: Any = ledger.store
    locked, release = asyncio.Event(), asyncio.Event()
    write = store.write

    @contextlib.asynccontextmanager
    async def paused_write() -> AsyncIterator[Any]:
        async with write() as tx:
            insert = tx.insert

            async def paused_insert(entries: Any, head: Any) -> None:
                locked.set()
                await release.wait()
                await insert(entries, head)

            tx.insert = paused_insert
            yield tx

    monkeypatch.setattr(store, "write", paused_write)
    appending = asyncio.create_task(ledger.append([draft()]))
    await asyncio.wait_for(locked.wait(), 10)
    opening = asyncio.create_task(harness.store())
    await asyncio.sleep(0.5)  # the new store takes what it can, then waits
    release.set()
    assert [e.seq for e in await asyncio.wait_for(appending, 30)] == [1]
    second = await asyncio.wait_for(opening, 30)
    assert await second.size() == 2


async def test_decisions_this_writer_committed_are_not_read_back(
    harness: Any, draft: Callable[..., EntryDraft], monkeypatch: pytest.MonkeyPatch
) -> None:
    """What it wrote it answers itself; another writer's entries are read and checked."""
    ledger, other = await harness.ledger(), await harness.ledger()
    mine = await ledger.append([draft(), draft()])
    theirs = await other.append([draft()])
    reads: list[list[Any]] = []
    find = ledger.store.find_decisions

    async def counted(ids: Any) -> Any:
        reads.append(list(ids))
        return await find(ids)

    monkeypatch.setattr(ledger.store, "find_decisions", counted)
    asked = [e.decision_id for e in mine]
    assert await ledger.decisions(asked) == {e.decision_id: e for e in mine}
    assert reads == []
    both = await ledger.decisions([*asked, theirs[0].decision_id])
    assert both == {e.decision_id: e for e in [*mine, *theirs]}
    assert reads == [[theirs[0].decision_id]]  # only what this writer did not commit


async def test_a_failed_write_forgets_the_recent_entries(
    harness: Any, draft: Callable[..., EntryDraft], monkeypatch: pytest.MonkeyPatch
) -> None:
    """After a write fails, every decision is read from the store again, and still found."""
    ledger = await harness.ledger()
    [entry] = await ledger.append([draft()])

    @contextlib.asynccontextmanager
    async def broken() -> AsyncIterator[Any]:
        if ledger.store:  # always: the write fails on entering its transaction
            raise OSError("disk gone")
        yield

    real_write = ledger.store.write
    monkeypatch.setattr(ledger.store, "write", broken)
    with pytest.raises(LedgerError):
        await ledger.append([draft()])
    monkeypatch.setattr(ledger.store, "write", real_write)
    reads: list[Any] = []
    find = ledger.store.find_decisions

    async def counted(ids: Any) -> Any:
        reads.append(list(ids))
        return await find(ids)

    monkeypatch.setattr(ledger.store, "find_decisions", counted)
    assert await ledger.decisions([entry.decision_id]) == {entry.decision_id: entry}
    assert reads == [[entry.decision_id]]


async def test_the_recent_entries_are_bounded(
    harness: Any, draft: Callable[..., EntryDraft], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Past the bound the oldest is let go (and read from the store when asked)."""
    monkeypatch.setattr(service_module, "RECENT_ENTRIES", 3)
    ledger = await harness.ledger()
    entries = await ledger.append([draft() for _ in range(5)])
    assert list(ledger._recent) == [e.decision_id for e in entries[2:]]
    assert await ledger.decisions([entries[0].decision_id]) == {entries[0].decision_id: entries[0]}
