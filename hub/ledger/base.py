"""Interfaces and errors of the ledger room: the store protocol, raw rows, stable codes.

The chain logic (sequence numbers, hashes, idempotency, checkpoints) lives once, in
:mod:`hub.ledger.service`; a store only keeps rows and serialises writers. A store
offers a write transaction (:class:`LedgerTransaction`) that holds the ledger's one
write lock from its first statement to its commit, so every writer, in this process
or another, sees the head it extends.

Errors carry a stable :class:`ErrorCode` and a detail that names ids and parts of
the format, never content: the ledger itself names nobody, and its errors must not
either.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from hub.errors import HubError

if TYPE_CHECKING:
    import uuid
    from collections.abc import Collection, Iterable, Mapping, Sequence
    from contextlib import AbstractAsyncContextManager
    from datetime import datetime


class ErrorCode(enum.StrEnum):
    """Stable, documented reasons a ledger operation fails or a verification breaks."""

    UNAVAILABLE = "ledger.unavailable"
    CONFLICT = "ledger.conflict"
    EVENT_CONFLICT = "ledger.event_conflict"
    HEAD_MISMATCH = "ledger.head_mismatch"
    CLOSED = "ledger.closed"
    URL_INVALID = "ledger.url_invalid"
    KEY_INVALID = "ledger.key_invalid"
    HASH_MISMATCH = "ledger.hash_mismatch"
    ENTRY_MALFORMED = "ledger.entry_malformed"
    CHAIN_BROKEN = "ledger.chain_broken"
    SEQUENCE_GAP = "ledger.sequence_gap"
    CHECKPOINT_INVALID = "ledger.checkpoint_invalid"
    CHECKPOINT_MISMATCH = "ledger.checkpoint_mismatch"
    #: No checkpoint verifies with the keys given: most likely another hub's keys.
    KEYS_MISMATCH = "ledger.keys_mismatch"
    COLUMN_MISMATCH = "ledger.column_mismatch"
    INDEX_MISMATCH = "ledger.index_mismatch"
    #: A receipt entry whose recipient's signature does not hold, or says other
    #: than the entry records (checked when the parties' public keys are given).
    RECEIPT_INVALID = "ledger.receipt_invalid"


class LedgerError(HubError):
    """A ledger operation failed.

    Attributes:
        code: the stable reason code.
        detail: which part failed, by id or position; never content.
    """

    def __init__(self, code: ErrorCode, detail: str) -> None:
        """Make an error with a stable ``code`` and a content-free ``detail``."""
        super().__init__(code, detail)
        self.code: ErrorCode = code


@dataclass(frozen=True)
class StoredEntry:
    """One entry row as stored: its position, its canonical JSON body and its hash.

    ``body`` is the RFC 8785 canonical JSON of the entry without ``entry_hash``,
    byte for byte as it was hashed; verification starts from these bytes, never
    from a re-serialisation.
    """

    seq: int
    body: str
    entry_hash: str


@dataclass(frozen=True)
class NewEntry(StoredEntry):
    """An entry about to be inserted, with the ids the store indexes.

    ``fields`` is the JSON object ``body`` is the canonical form of, when the
    writer still holds it: the search index is derived from it instead of parsing
    the body just made. It is no part of the entry (``hub audit verify`` checks the
    index against the body).
    """

    decision_id: uuid.UUID
    event_id: uuid.UUID | None
    fields: Mapping[str, Any] | None = field(default=None, compare=False, repr=False)


@dataclass(frozen=True)
class StoredColumns:
    """What a store keeps about an entry beside its body, and the hub reads.

    The hub finds entries by these (dedupe by ``decision_id``, an event's entries by
    ``event_id``, searches by the index's terms and times), so each must say what
    the hashed body says; the verifiers check that they do.

    Attributes:
        seq: the entry's position.
        decision_id: the ``decision_id`` column, as text (lowercase UUID).
        event_id: the ``event_id`` column, as text, or None.
        recorded_at: the search index's time for the entry (``...Z``), or None.
        terms: the search index's terms for the entry.
    """

    seq: int
    decision_id: str | None
    event_id: str | None
    recorded_at: str | None
    terms: frozenset[str]


@dataclass(frozen=True)
class StoredCheckpoint:
    """One signed checkpoint as stored: the tree size it covers and its compact JWS.

    Attributes:
        tree_size: the entries it covers.
        token: the checkpoint as a compact JWS (ADR 0004).
        note: the same tree head as a C2SP signed note (ADR 0026), None for a
            checkpoint written before notes were.
        cosignatures: witnesses' cosignature lines of the note, as they came back.
    """

    tree_size: int
    token: str
    note: str | None = None
    cosignatures: tuple[str, ...] = ()

    @property
    def cosigned_note(self) -> str | None:
        """The note with every cosignature line after the hub's own signature."""
        if self.note is None:
            return None
        return self.note + "".join(self.cosignatures)


@dataclass(frozen=True)
class Cosignature:
    """One witness's cosignature line of a checkpoint note, with its key's name and ID."""

    name: str
    key_id: int
    line: str


def with_notes(rows: Iterable[Any], cosigned: Iterable[Any]) -> list[StoredCheckpoint]:
    """Checkpoints from ``(tree_size, token, note)`` rows and ``(tree_size, line)`` rows."""
    lines: dict[int, list[str]] = {}
    for size, line in cosigned:
        lines.setdefault(int(size), []).append(str(line))
    return [
        StoredCheckpoint(
            int(size),
            str(token),
            None if note is None else str(note),
            tuple(lines.get(int(size), ())),
        )
        for size, token, note in rows
    ]


@dataclass(frozen=True)
class Head:
    """The end of the chain: its size, last entry hash and Merkle frontier.

    ``frontier`` holds the hex roots of the perfect subtrees that make up the tree
    of ``size`` leaves, largest first (see :class:`hub.ledger.merkle.Frontier`), so
    any writer can compute the current root without reading old entries.
    """

    size: int
    last_entry_hash: str
    frontier: tuple[str, ...]


@dataclass(frozen=True)
class IndexQuery:
    """What a store's search index is asked (see :mod:`hub.ledger.search`).

    Attributes:
        terms: index terms (``name:value``) an entry must all hold.
        after: only entries with a larger ``seq``.
        since: recorded at or after this time, if given.
        until: recorded before this time, if given.
        limit: most rows returned.
    """

    terms: tuple[str, ...] = ()
    after: int = -1
    since: datetime | None = None
    until: datetime | None = None
    limit: int = 100


class LedgerTransaction(Protocol):
    """One write transaction, holding the ledger's write lock until it ends."""

    async def head(self) -> Head:
        """Return the head as of this transaction (under the write lock)."""
        ...

    async def find(self, decision_ids: Collection[uuid.UUID]) -> dict[uuid.UUID, StoredEntry]:
        """Return the committed entries among ``decision_ids``."""
        ...

    async def insert(self, entries: Sequence[NewEntry], head: Head) -> None:
        """Insert new entries and move the head to ``head``."""
        ...

    async def entries_for_events(self, event_ids: Collection[uuid.UUID]) -> list[StoredEntry]:
        """Return the committed entries about any of ``event_ids``, in sequence order."""
        ...

    async def latest_checkpoint(self) -> StoredCheckpoint | None:
        """Return the checkpoint of the largest tree size, if any."""
        ...

    async def add_checkpoint(self, checkpoint: StoredCheckpoint) -> None:
        """Store a signed checkpoint, with its note if it has one."""
        ...

    async def add_cosignatures(self, tree_size: int, lines: Sequence[Cosignature]) -> None:
        """Store witnesses' cosignatures of the note at ``tree_size``; one per key is kept."""
        ...


class LedgerStore(Protocol):
    """Where the ledger's rows live: append-only entries and checkpoints, one head.

    Implementations: :class:`hub.ledger.sqlite.SqliteStore` (embedded, one writer)
    and :class:`hub.ledger.postgres.PostgresStore` (several hub workers). Neither has
    an update or delete path for entries or checkpoints.
    """

    @property
    def transactions(self) -> int:
        """How many write transactions this store object has committed."""
        ...

    async def open(self) -> None:
        """Connect and create the schema if it is missing (idempotent)."""
        ...

    async def close(self) -> None:
        """Release connections."""
        ...

    def write(self) -> AbstractAsyncContextManager[LedgerTransaction]:
        """Begin a write transaction; it commits on normal exit and rolls back on error."""
        ...

    async def ledger_id(self) -> str:
        """Return the ledger's id, fixed when the schema was created."""
        ...

    async def read(self, start: int, stop: int | None) -> list[StoredEntry]:
        """Return the entries with ``start <= seq < stop`` (to the end if ``stop`` is None)."""
        ...

    async def scan(self, start: int, limit: int) -> list[StoredEntry]:
        """Return up to ``limit`` entries with ``seq >= start`` in order, gaps and all."""
        ...

    async def entries_for_event(self, event_id: uuid.UUID) -> list[StoredEntry]:
        """Return every entry about one event, in sequence order."""
        ...

    async def find_decision(self, decision_id: uuid.UUID) -> StoredEntry | None:
        """Return the entry whose ``decision_id`` column is ``decision_id``, if any."""
        ...

    async def columns(self, start: int, stop: int) -> dict[int, StoredColumns]:
        """Return the stored columns and index rows of the entries ``start <= seq < stop``.

        A position with no entry row is absent; an entry row with no index rows
        has ``recorded_at`` None and no terms.
        """
        ...

    async def search(self, query: IndexQuery) -> list[StoredEntry]:
        """Return up to ``query.limit`` rows the index lists for ``query``, in ``seq`` order.

        The rows are candidates, as the derived index names them; the caller checks
        each against its own body (:func:`hub.ledger.search.search_store`).
        """
        ...

    async def find_decisions(
        self, decision_ids: Collection[uuid.UUID]
    ) -> dict[uuid.UUID, StoredEntry]:
        """Return the entries recorded under any of ``decision_ids``, by decision id column."""
        ...

    async def holding(self, terms: Collection[str]) -> set[str]:
        """Return which of ``terms`` the search index holds for some entry.

        Like a search, only a way to find: an index row added or removed can make a
        delivery look receipted or not, and ``hub audit verify`` finds such a row.
        """
        ...

    async def checkpoints(self) -> list[StoredCheckpoint]:
        """Return every checkpoint, smallest tree size first."""
        ...

    async def latest_checkpoint(self) -> StoredCheckpoint | None:
        """Return the checkpoint of the largest tree size, if any."""
        ...

    async def size(self) -> int:
        """Return how many entries the chain holds (the committed head's size)."""
        ...
