"""The ledger service: atomic, idempotent appends with group commit, reads, checkpoints.

``await ledger.append(drafts)`` returns once the drafts are committed, and they
commit together or not at all. Appends are queued (a bounded queue: a flood waits
rather than grows memory) and one writer task commits whatever has queued in one
transaction, up to a bounded batch: while one batch waits for its fsync the next
one gathers, so a hundred concurrent appends cost a handful of transactions, not a
hundred. Each call keeps its own all-or-nothing: a call is only rejected before
it is queued, and a transaction that fails fails every call in it (retried one
by one after a conflict, so one bad call cannot sink the others).

A draft whose ``decision_id`` is already recorded returns the recorded entry and
adds nothing: a redelivered ingress message finds its decisions recorded and
re-publishes the same deliveries (ARCHITECTURE section 6).

:meth:`Ledger.record_event` holds one event id to one content inside the write
transaction: it reads the event's recorded disclosures under the write lock, so of
two messages that carry one event id and different content, processed at the
same moment by one worker or by several, exactly one is recorded and the other
fails ``ledger.event_conflict`` (the pipeline refuses it ``event.replayed``).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Final, Self

from hub.crypto import EnvelopeError
from hub.ledger import chain
from hub.ledger.base import ErrorCode, Head, LedgerError, LedgerTransaction
from hub.ledger.checkpoints import (
    DEFAULT_ORIGIN,
    CheckpointPolicy,
    LogName,
    claimed_size,
    write_checkpoint,
)
from hub.ledger.entries import GENESIS_HASH
from hub.ledger.merkle import Frontier
from hub.ledger.search import search_store
from hub.ledger.stores import open_store
from hub.logs import get_logger

if TYPE_CHECKING:
    import uuid
    from collections.abc import Callable, Collection, Iterable, Sequence
    from types import TracebackType

    from hub.crypto import PartyKeyring
    from hub.ledger.base import Cosignature, LedgerStore, NewEntry, StoredCheckpoint
    from hub.ledger.entries import EntryDraft, LedgerEntry
    from hub.ledger.search import SearchPage, SearchQuery

_log = get_logger("hub.ledger")
_STOP: Final = None


@dataclass(frozen=True)
class LedgerConfig:
    """Tuning of the writer: checkpoint intervals, queue and batch bounds."""

    checkpoints: CheckpointPolicy = field(default_factory=CheckpointPolicy)
    #: The first part of the checkpoints' C2SP origin (``<origin>/<ledger id>``).
    origin: str = DEFAULT_ORIGIN
    queue_size: int = 1024
    max_batch_entries: int = 1000

    def __post_init__(self) -> None:
        """Refuse bounds that would stall the writer.

        Raises:
            ValueError: a queue or batch bound below 1.
        """
        if self.queue_size < 1 or self.max_batch_entries < 1:
            raise ValueError("queue and batch bounds must be at least 1")


@dataclass(frozen=True)
class EventClaim:
    """Drafts that record the decisions about one event, and how to know its content.

    Attributes:
        event_id: the event the drafts decide on.
        same: whether a recorded disclosure entry about ``event_id`` came from the
            content these drafts come from (a redelivery, or the same event sent
            again), rather than from other content under the same id (a replay).
    """

    event_id: uuid.UUID
    same: Callable[[LedgerEntry], bool]


@dataclass
class _Request:
    drafts: tuple[EntryDraft, ...]
    done: asyncio.Future[list[LedgerEntry]]
    claim: EventClaim | None = None
    #: Set by the writer: the claimed event was recorded before this request.
    seen: bool = False


#: Entries this writer committed most recently, kept to answer :meth:`Ledger.decisions`
#: without reading them back: a receipt comes within seconds of its deliveries.
RECENT_ENTRIES: Final = 2048


def _now() -> datetime:
    return datetime.now(UTC)


def _check_call(drafts: tuple[EntryDraft, ...]) -> None:
    """Refuse a call that records one decision twice, differently."""
    seen: dict[uuid.UUID, EntryDraft] = {}
    for draft in drafts:
        earlier = seen.setdefault(draft.decision_id, draft)
        if earlier is not draft and earlier != draft:
            raise LedgerError(ErrorCode.CONFLICT, f"decision {draft.decision_id} appears twice")


class Ledger:
    """The hub's tamper-evident record of disclosures, refusals and consultations."""

    def __init__(
        self,
        store: LedgerStore,
        *,
        keyring: PartyKeyring | None = None,
        config: LedgerConfig | None = None,
        clock: Callable[[], datetime] = _now,
    ) -> None:
        """Wrap an open store.

        Args:
            store: an open :class:`~hub.ledger.base.LedgerStore`.
            keyring: the hub's private keys, to sign checkpoints; without it none
                are written (a read-only or test ledger).
            config: writer tuning; defaults if None.
            clock: the time checkpoints carry.
        """
        self.store = store
        self._keyring = keyring
        self._config = config or LedgerConfig()
        self._clock = clock
        self._queue: asyncio.Queue[_Request | None] = asyncio.Queue(self._config.queue_size)
        self._writer: asyncio.Task[None] | None = None
        self._ledger_id = ""
        self._closed = False
        self._unsigned = True  # entries may predate this process: check once the timer fires
        self._last_checkpoint = time.monotonic()
        self._recent: OrderedDict[uuid.UUID, LedgerEntry] = OrderedDict()

    async def start(self) -> None:
        """Start the writer task (idempotent); :meth:`append` calls it when needed."""
        if self._writer is None:
            self._ledger_id = await self.store.ledger_id()
            if self._writer is None:
                self._writer = asyncio.create_task(self._run(), name="ledger-writer")

    async def __aenter__(self) -> Self:
        """Start the writer."""
        await self.start()
        return self

    async def __aexit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        """Close the ledger (see :meth:`close`)."""
        await self.close()

    async def append(self, drafts: Sequence[EntryDraft]) -> list[LedgerEntry]:
        """Record ``drafts`` atomically and return their entries, in the same order.

        A draft whose decision is already recorded returns the recorded entry
        instead of adding one.

        Raises:
            LedgerError: ``ledger.conflict`` when one call holds one decision twice
                with different content; ``ledger.closed`` after :meth:`close`;
                ``ledger.unavailable`` when the store fails (nothing was recorded).
        """
        batch = tuple(drafts)
        if not batch:
            return []
        entries, _ = await self._enqueue(batch, None)
        return entries

    async def record_event(
        self, drafts: Sequence[EntryDraft], claim: EventClaim
    ) -> tuple[list[LedgerEntry], bool]:
        """Record the decisions about one event, unless that event is recorded already.

        Under the write lock, the disclosure entries already recorded about
        ``claim.event_id`` (committed, or earlier in the same batch) are read.
        None: ``drafts`` are appended as by :meth:`append`. All ``claim.same``:
        nothing is appended and those entries are returned. Any other: the call
        fails and records nothing.

        Returns:
            The entries the event's deliveries rest on, and whether they were
            recorded before this call.

        Raises:
            LedgerError: ``ledger.event_conflict`` when the event id is recorded
                with other content; otherwise as :meth:`append`.
        """
        return await self._enqueue(tuple(drafts), claim)

    async def _enqueue(
        self, batch: tuple[EntryDraft, ...], claim: EventClaim | None
    ) -> tuple[list[LedgerEntry], bool]:
        """Queue one call for the writer; its entries, and whether its claim found them."""
        if self._closed:
            raise LedgerError(ErrorCode.CLOSED, "the ledger is closed")
        _check_call(batch)
        await self.start()
        done: asyncio.Future[list[LedgerEntry]] = asyncio.get_running_loop().create_future()
        request = _Request(batch, done, claim)
        await self._queue.put(request)
        entries = await asyncio.shield(done)
        return entries, request.seen

    async def probe_writable(self) -> None:
        """Take and release the write lock through the writer, as an append does.

        The probe queues behind pending appends and opens a write transaction that
        records nothing, so it proves what an append needs: the writer task alive,
        the store reachable, the write lock obtainable.

        Raises:
            LedgerError: ``ledger.closed`` after :meth:`close`; ``ledger.unavailable``.
        """
        if self._closed:
            raise LedgerError(ErrorCode.CLOSED, "the ledger is closed")
        await self.start()
        done: asyncio.Future[list[LedgerEntry]] = asyncio.get_running_loop().create_future()
        await self._queue.put(_Request((), done))
        await asyncio.shield(done)

    async def _run(self) -> None:
        try:
            await self._serve()
        finally:
            # However the writer ends, nobody may wait for it in vain.
            self._closed = True
            leftover = []
            while not self._queue.empty():
                request = self._queue.get_nowait()
                if request is not None:
                    leftover.append(request)
            _fail(leftover, LedgerError(ErrorCode.CLOSED, "the ledger closed"))

    async def _serve(self) -> None:
        while True:
            try:
                first = await asyncio.wait_for(self._queue.get(), self._until_checkpoint())
            except TimeoutError:
                await self._timed_checkpoint()
                continue
            if first is _STOP:
                return
            batch, stop = self._gather(first)
            await self._commit(batch)
            if stop:
                return

    def _gather(self, first: _Request) -> tuple[list[_Request], bool]:
        batch, size = [first], len(first.drafts)
        while size < self._config.max_batch_entries and not self._queue.empty():
            request = self._queue.get_nowait()
            if request is _STOP:
                return batch, True
            batch.append(request)
            size += len(request.drafts)
        return batch, False

    def _until_checkpoint(self) -> float | None:
        if self._keyring is None or not self._unsigned:
            return None
        due = self._last_checkpoint + self._config.checkpoints.every_seconds
        return max(0.0, due - time.monotonic())

    async def _commit(self, batch: list[_Request]) -> None:
        try:
            results = await self._write(batch)
        except LedgerError as error:
            self._recent.clear()  # whatever the store now holds is read from it
            if error.code is ErrorCode.CONFLICT and len(batch) > 1:
                for request in batch:
                    await self._commit([request])
                return
            _fail(batch, error)
        except Exception as error:  # noqa: BLE001 - any failure fails the batch, not the writer
            self._recent.clear()
            _fail(batch, LedgerError(ErrorCode.UNAVAILABLE, f"append: {type(error).__name__}"))
        else:
            for request, result in zip(batch, results, strict=True):
                if request.done.done():
                    continue
                if isinstance(result, LedgerError):
                    request.done.set_exception(result)
                else:
                    request.done.set_result(result)

    async def _write(self, batch: list[_Request]) -> list[list[LedgerEntry] | LedgerError]:
        async with self.store.write() as tx:
            head = await tx.head()
            ids = {draft.decision_id for request in batch for draft in request.drafts}
            known = {key: chain.parse(row) for key, row in (await tx.find(ids)).items()}
            events = await _claimed_events(tx, batch)
            rows, new_head, results = _extend(head, batch, known, events)
            if rows:
                await tx.insert(rows, new_head)
                self._unsigned = True
                await self._checkpoint(tx, self._config.checkpoints.every_entries)
        self._remember(known[row.decision_id] for row in rows)  # committed: the block is left
        if rows:
            _log.debug("ledger.appended", entries=len(rows), count=len(batch), seq=rows[0].seq)
        return results

    def _remember(self, entries: Iterable[LedgerEntry]) -> None:
        recent = self._recent
        for entry in entries:
            recent[entry.decision_id] = entry
        while len(recent) > RECENT_ENTRIES:
            recent.popitem(last=False)

    async def _checkpoint(self, tx: LedgerTransaction, min_new: int) -> StoredCheckpoint | None:
        if self._keyring is None:
            return None
        try:
            name = LogName(self._ledger_id, self._config.origin)
            made = await write_checkpoint(tx, self._keyring, name, self._clock(), min_new=min_new)
        except EnvelopeError as error:
            # No valid signing key: the entries still commit; the gap is loud.
            _log.error("ledger.checkpoint_failed", code=error.code.value)
            return None
        if made is not None:
            self._unsigned = False
            self._last_checkpoint = time.monotonic()
            _log.info("ledger.checkpoint", tree_size=made.tree_size)
        return made

    async def _timed_checkpoint(self) -> None:
        try:
            async with self.store.write() as tx:
                await self._checkpoint(tx, 1)
        except LedgerError as error:
            _log.error("ledger.checkpoint_failed", code=error.code.value)
        self._unsigned = False
        self._last_checkpoint = time.monotonic()

    async def read(self, start: int = 0, stop: int | None = None) -> list[LedgerEntry]:
        """Return the entries with ``start <= seq < stop`` (to the end if None), checked.

        Raises:
            LedgerError: ``ledger.hash_mismatch`` or ``ledger.entry_malformed`` for
                a stored row that does not check out; ``ledger.unavailable``.
        """
        return [chain.parse(row) for row in await self.store.read(start, stop)]

    async def entries_for_event(self, event_id: uuid.UUID) -> list[LedgerEntry]:
        """Return every entry about one event, in order (see :meth:`read` for errors)."""
        return [chain.parse(row) for row in await self.store.entries_for_event(event_id)]

    async def check_head(self) -> None:
        """Refuse a ledger whose head is not the one a hub last wrote (run at start).

        The head row (size, last hash) is what the hub extends. An entry stored
        beyond it, a last entry that is not the head's, or an unsigned tail that does
        not chain from the last checkpoint means someone else wrote to the ledger;
        appending would fail entry by entry (``ledger.conflict``), or chain onto it.

        Raises:
            LedgerError: ``ledger.head_mismatch`` naming the position; or
                ``ledger.unavailable``.
        """
        async with self.store.write() as tx:
            head = await tx.head()
            checkpoint = await tx.latest_checkpoint()
        beyond = await self.store.scan(head.size, 1)
        if beyond:
            raise LedgerError(
                ErrorCode.HEAD_MISMATCH,
                f"entry {beyond[0].seq} lies beyond the head the hub last wrote (size"
                f" {head.size}); run hub audit verify before starting the hub",
            )
        signed = claimed_size(checkpoint.token) if checkpoint is not None else 0
        start = max(0, min(signed, head.size) - 1)
        last = GENESIS_HASH if start == 0 and signed == 0 else None
        for row in await self.store.read(start, head.size):
            entry = chain.parse(row)
            if last is not None and entry.prev_hash != last:
                raise LedgerError(
                    ErrorCode.HEAD_MISMATCH,
                    f"entry {row.seq} does not chain to the one before; run hub audit verify",
                )
            last = row.entry_hash
        if head.size and last != head.last_entry_hash:
            raise LedgerError(
                ErrorCode.HEAD_MISMATCH,
                f"entry {head.size - 1} is not the one the hub last wrote; run hub audit verify",
            )

    async def decision(self, decision_id: uuid.UUID) -> LedgerEntry | None:
        """Return the entry recorded under ``decision_id``, checked, or None.

        The lookup goes by the stored column; the entry is returned only if its
        own (hash-checked) body names that decision.

        Raises:
            LedgerError: as :meth:`read`.
        """
        row = await self.store.find_decision(decision_id)
        if row is None:
            return None
        entry = chain.parse(row)
        return entry if entry.decision_id == decision_id else None

    async def decisions(self, decision_ids: Collection[uuid.UUID]) -> dict[uuid.UUID, LedgerEntry]:
        """Return the entries recorded under ``decision_ids`` (those found), each checked.

        As :meth:`decision`, in one read. An entry this writer committed among the
        last :data:`RECENT_ENTRIES` is the one it built from its validated draft
        and wrote, so it is not read back (a store that fails a write forgets
        them all).

        Raises:
            LedgerError: as :meth:`read`, and as :func:`chain.parse` for a row that
                does not hold.
        """
        found = {d: self._recent[d] for d in decision_ids if d in self._recent}
        missing = [d for d in decision_ids if d not in found]
        if not missing:
            return found
        for decision_id, row in (await self.store.find_decisions(missing)).items():
            entry = chain.parse(row)
            if entry.decision_id == decision_id:
                found[decision_id] = entry
        return found

    async def search(self, query: SearchQuery) -> SearchPage:
        """Return one page of the entries matching ``query``, found by the index, checked.

        Every hit is parsed and hash-checked and must itself match ``query``
        (:mod:`hub.ledger.search`): a tampered index can hide an entry, never
        misattribute one.

        Raises:
            LedgerError: ``ledger.unavailable`` or ``ledger.closed``.
        """
        return await search_store(self.store, query)

    async def add_cosignatures(self, tree_size: int, lines: Sequence[Cosignature]) -> None:
        """Store witnesses' cosignatures of the checkpoint note at ``tree_size``.

        They go in their own transaction beside the writer's (the store's write lock
        orders them); one line per witness key and size is kept.

        Raises:
            LedgerError: ``ledger.unavailable`` or ``ledger.closed``.
        """
        if self._closed:
            raise LedgerError(ErrorCode.CLOSED, "the ledger is closed")
        async with self.store.write() as tx:
            await tx.add_cosignatures(tree_size, lines)

    async def latest_checkpoint(self) -> StoredCheckpoint | None:
        """Return the newest signed checkpoint, if any."""
        return await self.store.latest_checkpoint()

    async def size(self) -> int:
        """Return how many entries are committed."""
        return await self.store.size()

    async def checkpoint_now(self) -> StoredCheckpoint | None:
        """Write a checkpoint now if any entry is not yet covered by one."""
        await self.start()
        async with self.store.write() as tx:
            return await self._checkpoint(tx, 1)

    async def close(self) -> None:
        """Commit what is queued, checkpoint what is unsigned, stop, and close the store."""
        if self._closed:
            return
        self._closed = True
        if self._writer is not None:
            if not self._writer.done():
                await self._queue.put(_STOP)
            with contextlib.suppress(asyncio.CancelledError):
                await self._writer
            if self._unsigned and self._keyring is not None:
                with contextlib.suppress(LedgerError):
                    await self.checkpoint_now()
        await self.store.close()


async def _claimed_events(
    tx: LedgerTransaction, batch: list[_Request]
) -> dict[uuid.UUID, list[LedgerEntry]]:
    """The disclosure entries recorded about each event a request of ``batch`` claims."""
    claimed = {request.claim.event_id for request in batch if request.claim is not None}
    events: dict[uuid.UUID, list[LedgerEntry]] = {event_id: [] for event_id in claimed}
    if claimed:
        for row in await tx.entries_for_events(claimed):
            entry = chain.parse(row)
            # The body, not the indexed column, says which event an entry is about.
            if entry.kind == "disclosure" and entry.event_id in events:
                events[entry.event_id].append(entry)
    return events


def _held(
    request: _Request, events: dict[uuid.UUID, list[LedgerEntry]]
) -> list[LedgerEntry] | LedgerError | None:
    """What a request's claim finds: the recorded entries, a conflict, or None (go on)."""
    claim = request.claim
    if claim is None or not events[claim.event_id]:
        return None
    recorded = events[claim.event_id]
    if all(claim.same(entry) for entry in recorded):
        request.seen = True
        return list(recorded)
    return LedgerError(
        ErrorCode.EVENT_CONFLICT, f"event {claim.event_id} is recorded with other content"
    )


def _extend(
    head: Head,
    batch: list[_Request],
    known: dict[uuid.UUID, LedgerEntry],
    events: dict[uuid.UUID, list[LedgerEntry]],
) -> tuple[list[NewEntry], Head, list[list[LedgerEntry] | LedgerError]]:
    """Seal every draft not yet recorded onto the chain; ``known`` gains the new entries.

    A request whose claimed event is recorded already (``events``, which gains
    the entries each claiming request adds) gets those entries or a conflict, and
    adds nothing.
    """
    frontier = Frontier(head.size, (bytes.fromhex(h) for h in head.frontier))
    last = head.last_entry_hash
    rows: list[NewEntry] = []
    results: list[list[LedgerEntry] | LedgerError] = []
    for request in batch:
        held = _held(request, events)
        if held is not None:
            results.append(held)
            continue
        for draft in request.drafts:
            recorded = known.get(draft.decision_id)
            if recorded is not None:
                if not recorded.draft().same_decision(draft):
                    _log.warning("ledger.duplicate_differs", decision_id=str(draft.decision_id))
                continue
            row, known[draft.decision_id] = chain.seal_entry(draft, frontier.size, last)
            frontier.append(chain.leaf_of(row.body))
            last = row.entry_hash
            rows.append(row)
        entries = [known[d.decision_id] for d in request.drafts]
        if request.claim is not None:
            events[request.claim.event_id] = [e for e in entries if e.kind == "disclosure"]
        results.append(entries)
    return rows, Head(frontier.size, last, tuple(h.hex() for h in frontier.hashes)), results


def _fail(batch: list[_Request], error: LedgerError) -> None:
    for request in batch:
        if not request.done.done():
            request.done.set_exception(error)


async def open_ledger(
    url: str,
    *,
    keyring: PartyKeyring | None = None,
    config: LedgerConfig | None = None,
    schema: str | None = None,
) -> Ledger:
    """Open the ledger a URL names and start its writer.

    Args:
        url: ``sqlite:///FILE`` or ``postgresql://...``.
        keyring: the hub's private keys, for signing checkpoints.
        config: writer tuning.
        schema: PostgreSQL only: the schema holding the ledger.

    Raises:
        LedgerError: ``ledger.url_invalid``, ``ledger.unavailable``, or
            ``ledger.head_mismatch`` (:meth:`Ledger.check_head`).
    """
    store = await open_store(url, schema=schema)
    ledger = Ledger(store, keyring=keyring, config=config)
    try:
        await ledger.check_head()
        await ledger.start()
    except BaseException:
        await store.close()
        raise
    return ledger
