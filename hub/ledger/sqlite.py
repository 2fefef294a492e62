"""The embedded ledger store: one SQLite file in WAL mode, one writer connection.

SQLite serialises writers itself: a write transaction starts with ``BEGIN
IMMEDIATE``, which takes the database's write lock at once, so the head read at
the start of a transaction is still the head at its commit, even if another
process opens the same file. ``synchronous=FULL``: a committed entry survives a
power cut, which is what "recorded before delivered" needs; group commit pays
that fsync once per batch. Reads use a second connection, which WAL lets run
beside the writer and never sees a write before it commits.

The writer's statements run on the event loop's thread: with the write lock held,
reading the head, inserting a batch and its index rows take microseconds, less
than handing each statement to a thread and back. ``BEGIN IMMEDIATE`` is tried
inline without waiting; only when another connection holds the write lock does it
wait for it, up to the busy timeout, in a thread. ``COMMIT`` waits for the disk
and runs in a thread. Point lookups by event id (the pipeline's dedupe, once per
event) run inline too, on a read-only connection of their own; every other read,
which may be the whole ledger, runs on the reader connection's thread (aiosqlite).

Each write transaction also writes the search index of the entries it inserts
(:mod:`hub.ledger.search`), so an entry is never committed unindexed; opening a
ledger written before the index existed indexes its entries first.

Triggers refuse ``UPDATE`` and ``DELETE`` on entries and checkpoints: nothing in the
hub changes a recorded row, and an accident cannot either. (Someone with the file
can drop the triggers; that is what the hash chain and signed checkpoints catch.)
"""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
import uuid
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

import aiosqlite

from hub import safejson
from hub.ledger.base import (
    Cosignature,
    ErrorCode,
    Head,
    IndexQuery,
    LedgerError,
    NewEntry,
    StoredCheckpoint,
    StoredColumns,
    StoredEntry,
    with_notes,
)
from hub.ledger.entries import GENESIS_HASH, stamp
from hub.ledger.search import IndexRow, index_row, index_sql, new_index_rows, stored_columns

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Collection, Iterator, Sequence

_SCHEMA: Final = """
CREATE TABLE IF NOT EXISTS ledger_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS ledger_entries (
    seq INTEGER PRIMARY KEY,
    decision_id TEXT NOT NULL UNIQUE,
    event_id TEXT,
    entry_hash TEXT NOT NULL,
    body TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS ledger_entries_event ON ledger_entries (event_id);
CREATE TABLE IF NOT EXISTS ledger_checkpoints (
    tree_size INTEGER PRIMARY KEY,
    token TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS ledger_notes (
    tree_size INTEGER PRIMARY KEY,
    note TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS ledger_cosignatures (
    tree_size INTEGER NOT NULL,
    key_name TEXT NOT NULL,
    key_id INTEGER NOT NULL,
    line TEXT NOT NULL,
    PRIMARY KEY (tree_size, key_name, key_id)
);
CREATE TABLE IF NOT EXISTS ledger_head (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    size INTEGER NOT NULL,
    last_entry_hash TEXT NOT NULL,
    frontier TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS ledger_entry_terms (
    term TEXT NOT NULL,
    seq INTEGER NOT NULL,
    PRIMARY KEY (term, seq)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS ledger_entry_times (
    seq INTEGER PRIMARY KEY,
    recorded_at TEXT
);
CREATE INDEX IF NOT EXISTS ledger_entry_times_at ON ledger_entry_times (recorded_at, seq);
CREATE INDEX IF NOT EXISTS ledger_entry_terms_seq ON ledger_entry_terms (seq);
CREATE TRIGGER IF NOT EXISTS ledger_entries_no_update BEFORE UPDATE ON ledger_entries
    BEGIN SELECT RAISE(ABORT, 'ledger entries are append-only'); END;
CREATE TRIGGER IF NOT EXISTS ledger_entries_no_delete BEFORE DELETE ON ledger_entries
    BEGIN SELECT RAISE(ABORT, 'ledger entries are append-only'); END;
CREATE TRIGGER IF NOT EXISTS ledger_checkpoints_no_update BEFORE UPDATE ON ledger_checkpoints
    BEGIN SELECT RAISE(ABORT, 'ledger checkpoints are append-only'); END;
CREATE TRIGGER IF NOT EXISTS ledger_checkpoints_no_delete BEFORE DELETE ON ledger_checkpoints
    BEGIN SELECT RAISE(ABORT, 'ledger checkpoints are append-only'); END;
CREATE TRIGGER IF NOT EXISTS ledger_notes_no_update BEFORE UPDATE ON ledger_notes
    BEGIN SELECT RAISE(ABORT, 'ledger checkpoints are append-only'); END;
CREATE TRIGGER IF NOT EXISTS ledger_notes_no_delete BEFORE DELETE ON ledger_notes
    BEGIN SELECT RAISE(ABORT, 'ledger checkpoints are append-only'); END;
CREATE TRIGGER IF NOT EXISTS ledger_cosignatures_no_update BEFORE UPDATE ON ledger_cosignatures
    BEGIN SELECT RAISE(ABORT, 'ledger checkpoints are append-only'); END;
CREATE TRIGGER IF NOT EXISTS ledger_cosignatures_no_delete BEFORE DELETE ON ledger_cosignatures
    BEGIN SELECT RAISE(ABORT, 'ledger checkpoints are append-only'); END;
"""
_ENTRY_COLUMNS: Final = "seq, body, entry_hash"
#: Most ids per ``IN (...)`` list, well below SQLite's variable limit.
_CHUNK: Final = 500
#: Entries indexed per statement when backfilling the search index.
_BACKFILL_PAGE: Final = 1000
#: How long a connection waits for another's lock (SQLite's busy timeout), ms.
BUSY_TIMEOUT_MS: Final = 10000


@contextlib.contextmanager
def _mapped(action: str) -> Iterator[None]:
    """Turn SQLite errors into ledger errors that name the action, not the data."""
    try:
        yield
    except sqlite3.IntegrityError:
        raise LedgerError(ErrorCode.CONFLICT, f"{action}: a row already exists") from None
    except sqlite3.Error as error:
        # SQLite's own words name the cause ("file is not a database"), never a row:
        # every value reaches SQLite as a bound parameter.
        cause = f"{type(error).__name__}: {error}"
        raise LedgerError(ErrorCode.UNAVAILABLE, f"{action}: {cause}") from None
    except OSError as error:
        cause = f"{error.strerror or type(error).__name__}: {error.filename or ''}"
        raise LedgerError(ErrorCode.UNAVAILABLE, f"{action}: {cause}") from None


def _entries(rows: Any) -> list[StoredEntry]:
    return [StoredEntry(int(seq), str(body), str(digest)) for seq, body, digest in rows]


def _index(db: sqlite3.Connection, indexed: Sequence[IndexRow]) -> None:
    """Write the search index rows ``indexed``, in the caller's transaction."""
    db.executemany(
        "INSERT OR REPLACE INTO ledger_entry_times (seq, recorded_at) VALUES (?, ?)",
        [(r.seq, r.recorded_at and stamp(r.recorded_at)) for r in indexed],
    )
    db.executemany(
        "INSERT OR IGNORE INTO ledger_entry_terms (term, seq) VALUES (?, ?)",
        [(term, r.seq) for r in indexed for term in sorted(r.terms)],
    )


def _backfill(db: sqlite3.Connection) -> None:
    """Index every entry the index lacks (a ledger written before the index existed)."""
    while True:
        rows = db.execute(
            "SELECT seq, body FROM ledger_entries e WHERE NOT EXISTS"
            " (SELECT 1 FROM ledger_entry_times t WHERE t.seq = e.seq) ORDER BY seq LIMIT ?",
            (_BACKFILL_PAGE,),
        ).fetchall()
        if not rows:
            return
        # Each page indexes every row it read, so the loop ends.
        _index(db, [index_row(int(seq), str(body)) for seq, body in rows])


def _open_writer(path: Path) -> sqlite3.Connection:
    """Open the writer connection and create the schema (blocking: run in a thread)."""
    db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    try:
        for pragma in ("journal_mode = WAL", "synchronous = FULL"):
            db.execute(f"PRAGMA {pragma}")
        db.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        db.execute("BEGIN IMMEDIATE")
        try:
            for statement in _SCHEMA.split(";\n"):
                if statement.strip():
                    db.execute(statement)
            db.execute("INSERT OR IGNORE INTO ledger_head VALUES (1, 0, ?, '[]')", (GENESIS_HASH,))
            db.execute(
                "INSERT OR IGNORE INTO ledger_meta VALUES ('ledger_id', ?)", (str(uuid.uuid4()),)
            )
            _backfill(db)
        except BaseException:
            db.execute("ROLLBACK")
            raise
        db.execute("COMMIT")
        # From here on BEGIN IMMEDIATE never waits on the loop's thread (_begin).
        db.execute("PRAGMA busy_timeout = 0")
    except BaseException:
        db.close()
        raise
    return db


def _begin_now(db: sqlite3.Connection) -> bool:
    """``BEGIN IMMEDIATE`` without waiting; False when another connection holds the lock."""
    try:
        db.execute("BEGIN IMMEDIATE")
    except sqlite3.OperationalError as error:
        if error.sqlite_errorcode & 0xFF == sqlite3.SQLITE_BUSY:
            return False
        raise
    return True


def _begin_waiting(db: sqlite3.Connection) -> None:
    """``BEGIN IMMEDIATE``, waiting up to the busy timeout (blocking: run in a thread)."""
    db.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
    try:
        db.execute("BEGIN IMMEDIATE")
    finally:
        db.execute("PRAGMA busy_timeout = 0")


async def _begin(db: sqlite3.Connection) -> None:
    """Take the write lock: inline when it is free, else waiting in a thread."""
    if not _begin_now(db):
        await asyncio.to_thread(_begin_waiting, db)


def _open_lookup(path: Path) -> sqlite3.Connection:
    """Open a read-only connection for point lookups (blocking: run in a thread)."""
    uri = f"{path.resolve().as_uri()}?mode=ro"
    db = sqlite3.connect(uri, uri=True, isolation_level=None, check_same_thread=False)
    db.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
    return db


class _SqliteTransaction:
    """One ``BEGIN IMMEDIATE`` transaction on the writer connection; statements inline."""

    def __init__(self, db: sqlite3.Connection) -> None:
        self._db = db

    async def head(self) -> Head:
        with _mapped("read head"):
            row = self._db.execute(
                "SELECT size, last_entry_hash, frontier FROM ledger_head WHERE id = 1"
            ).fetchone()
        if row is None:
            raise LedgerError(ErrorCode.UNAVAILABLE, "read head: the ledger has no head row")
        return Head(int(row[0]), str(row[1]), tuple(safejson.loads(row[2])))

    async def find(self, decision_ids: Collection[uuid.UUID]) -> dict[uuid.UUID, StoredEntry]:
        ids = [str(i) for i in decision_ids]
        found: dict[uuid.UUID, StoredEntry] = {}
        for start in range(0, len(ids), _CHUNK):
            chunk = ids[start : start + _CHUNK]
            marks = ",".join("?" * len(chunk))
            query = f"SELECT decision_id, {_ENTRY_COLUMNS} FROM ledger_entries WHERE decision_id IN ({marks})"  # noqa: E501, S608 - only placeholders are interpolated
            with _mapped("find decisions"):
                rows = self._db.execute(query, chunk).fetchall()
            for decision_id, *rest in rows:
                found[uuid.UUID(decision_id)] = _entries([rest])[0]
        return found

    async def entries_for_events(self, event_ids: Collection[uuid.UUID]) -> list[StoredEntry]:
        ids = [str(i) for i in event_ids]
        found: list[StoredEntry] = []
        for start in range(0, len(ids), _CHUNK):
            chunk = ids[start : start + _CHUNK]
            marks = ",".join("?" * len(chunk))
            query = f"SELECT {_ENTRY_COLUMNS} FROM ledger_entries WHERE event_id IN ({marks})"  # noqa: S608 - only placeholders are interpolated
            with _mapped("read entries"):
                found += _entries(self._db.execute(query, chunk).fetchall())
        return sorted(found, key=lambda row: row.seq)

    async def insert(self, entries: Sequence[NewEntry], head: Head) -> None:
        rows = [
            (e.seq, str(e.decision_id), e.event_id and str(e.event_id), e.entry_hash, e.body)
            for e in entries
        ]
        with _mapped("insert entries"):
            self._db.executemany(
                "INSERT INTO ledger_entries (seq, decision_id, event_id, entry_hash, body)"
                " VALUES (?, ?, ?, ?, ?)",
                rows,
            )
            _index(self._db, new_index_rows(entries))
            self._db.execute(
                "UPDATE ledger_head SET size = ?, last_entry_hash = ?, frontier = ? WHERE id = 1",
                (head.size, head.last_entry_hash, safejson.dumps(list(head.frontier))),
            )

    async def latest_checkpoint(self) -> StoredCheckpoint | None:
        with _mapped("read checkpoint"):
            rows = self._db.execute(_LATEST_CHECKPOINT).fetchall()
        return _checkpoint(rows)

    async def add_checkpoint(self, checkpoint: StoredCheckpoint) -> None:
        with _mapped("add checkpoint"):
            self._db.execute(
                "INSERT INTO ledger_checkpoints (tree_size, token) VALUES (?, ?)",
                (checkpoint.tree_size, checkpoint.token),
            )
            if checkpoint.note is not None:
                self._db.execute(
                    "INSERT INTO ledger_notes (tree_size, note) VALUES (?, ?)",
                    (checkpoint.tree_size, checkpoint.note),
                )

    async def add_cosignatures(self, tree_size: int, lines: Sequence[Cosignature]) -> None:
        with _mapped("add cosignatures"):
            self._db.executemany(
                "INSERT OR IGNORE INTO ledger_cosignatures (tree_size, key_name, key_id, line)"
                " VALUES (?, ?, ?, ?)",
                [(tree_size, c.name, c.key_id, c.line) for c in lines],
            )


_NOTED: Final = (
    "SELECT count(*) FROM sqlite_master WHERE type = 'table'"
    " AND name IN ('ledger_notes', 'ledger_cosignatures')"
)
_BARE_CHECKPOINTS: Final = "SELECT tree_size, token FROM ledger_checkpoints ORDER BY tree_size"
_CHECKPOINTS: Final = (
    "SELECT c.tree_size, c.token, n.note FROM ledger_checkpoints c"
    " LEFT JOIN ledger_notes n ON n.tree_size = c.tree_size ORDER BY c.tree_size"
)
_COSIGNATURES: Final = (
    "SELECT tree_size, line FROM ledger_cosignatures ORDER BY tree_size, key_name, key_id"
)
_LATEST_CHECKPOINT: Final = (
    "SELECT tree_size, token FROM ledger_checkpoints ORDER BY tree_size DESC LIMIT 1"
)


def _checkpoint(rows: Any) -> StoredCheckpoint | None:
    return next((StoredCheckpoint(int(size), str(token)) for size, token in rows), None)


async def _latest_checkpoint(db: aiosqlite.Connection) -> StoredCheckpoint | None:
    with _mapped("read checkpoint"):
        rows = await db.execute_fetchall(_LATEST_CHECKPOINT)
    return _checkpoint(rows)


class SqliteStore:
    """A ledger in one SQLite file (:class:`hub.ledger.base.LedgerStore`)."""

    def __init__(self, path: Path | str, *, read_only: bool = False) -> None:
        """Name the file; nothing is opened until :meth:`open`.

        Args:
            path: the database file.
            read_only: open an existing ledger for reading only (audits): no
                schema is created and no write is possible.
        """
        self._path = Path(path)
        self._read_only = read_only
        self._writer: sqlite3.Connection | None = None
        self._lookup: sqlite3.Connection | None = None
        self._reader: aiosqlite.Connection | None = None
        self._write_lock = asyncio.Lock()
        self._transactions = 0

    @property
    def transactions(self) -> int:
        """How many write transactions this store object has committed."""
        return self._transactions

    async def open(self) -> None:
        """Open the file (creating the schema unless read-only).

        Raises:
            LedgerError: ``ledger.unavailable`` when the file cannot be opened, or
                a read-only ledger does not exist or is not a ledger.
        """
        try:
            await self._connect()
        except BaseException:
            await self.close()
            raise

    async def _connect(self) -> None:
        if self._read_only and not self._path.is_file():
            # Checked here rather than left to SQLite: a failed aiosqlite connect
            # leaves its worker thread to finish after the caller's loop is gone.
            raise LedgerError(ErrorCode.UNAVAILABLE, f"open ledger: no ledger file {self._path}")
        with _mapped("open ledger"):
            if self._read_only:
                uri = f"{self._path.resolve().as_uri()}?mode=ro"
                self._reader = await aiosqlite.connect(uri, uri=True, isolation_level=None)
                await _latest_checkpoint(self._reader)
                self._lookup = await asyncio.to_thread(_open_lookup, self._path)
                return
            self._writer = await asyncio.to_thread(_open_writer, self._path)
            self._lookup = await asyncio.to_thread(_open_lookup, self._path)
            self._reader = await aiosqlite.connect(self._path, isolation_level=None)
            await self._reader.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
            await self._reader.execute("PRAGMA query_only = ON")

    async def close(self) -> None:
        """Close every connection."""
        writer, lookup, reader = self._writer, self._lookup, self._reader
        self._writer = self._lookup = self._reader = None
        async with self._write_lock:  # a transaction under way finishes first
            for db in (writer, lookup):
                if db is not None:
                    with _mapped("close ledger"):
                        await asyncio.to_thread(db.close)
        if reader is not None:
            with _mapped("close ledger"):
                await reader.close()

    def _connection(self) -> aiosqlite.Connection:
        if self._reader is None:
            raise LedgerError(ErrorCode.CLOSED, "the ledger store is not open for this")
        return self._reader

    @contextlib.asynccontextmanager
    async def write(self) -> AsyncIterator[_SqliteTransaction]:
        """Begin a write transaction: ``BEGIN IMMEDIATE`` ... ``COMMIT``."""
        async with self._write_lock:
            db = self._writer
            if db is None:
                raise LedgerError(ErrorCode.CLOSED, "the ledger store is not open for this")
            with _mapped("begin"):
                await _begin(db)
            try:
                yield _SqliteTransaction(db)
            except BaseException:
                with contextlib.suppress(sqlite3.Error):
                    await asyncio.to_thread(db.execute, "ROLLBACK")
                raise
            with _mapped("commit"):
                await asyncio.to_thread(db.execute, "COMMIT")
            self._transactions += 1

    async def ledger_id(self) -> str:
        """Return the ledger's id."""
        with _mapped("read ledger id"):
            rows = list(
                await self._connection().execute_fetchall(
                    "SELECT value FROM ledger_meta WHERE key = 'ledger_id'"
                )
            )
        if not rows:
            raise LedgerError(ErrorCode.UNAVAILABLE, "read ledger id: not a ledger")
        return str(rows[0][0])

    async def _select(self, query: str, parameters: Sequence[Any]) -> list[StoredEntry]:
        with _mapped("read entries"):
            return _entries(await self._connection().execute_fetchall(query, parameters))

    async def read(self, start: int, stop: int | None) -> list[StoredEntry]:
        """Return the entries with ``start <= seq < stop``, in order."""
        return await self._select(
            f"SELECT {_ENTRY_COLUMNS} FROM ledger_entries WHERE seq >= ? AND seq < ? ORDER BY seq",  # noqa: S608 - a constant column list
            (start, stop if stop is not None else 2**62),
        )

    async def scan(self, start: int, limit: int) -> list[StoredEntry]:
        """Return up to ``limit`` entries with ``seq >= start``, in order, gaps and all."""
        return await self._select(
            f"SELECT {_ENTRY_COLUMNS} FROM ledger_entries WHERE seq >= ? ORDER BY seq LIMIT ?",  # noqa: S608 - a constant column list
            (start, limit),
        )

    async def entries_for_event(self, event_id: uuid.UUID) -> list[StoredEntry]:
        """Return every entry about one event, in order (an indexed lookup, inline)."""
        if self._lookup is None:
            raise LedgerError(ErrorCode.CLOSED, "the ledger store is not open for this")
        with _mapped("read entries"):
            rows = self._lookup.execute(
                f"SELECT {_ENTRY_COLUMNS} FROM ledger_entries WHERE event_id = ? ORDER BY seq",  # noqa: S608 - a constant column list
                (str(event_id),),
            ).fetchall()
        return _entries(rows)

    async def find_decision(self, decision_id: uuid.UUID) -> StoredEntry | None:
        """Return the entry recorded under ``decision_id``, if any."""
        rows = await self._select(
            f"SELECT {_ENTRY_COLUMNS} FROM ledger_entries WHERE decision_id = ?",  # noqa: S608 - a constant column list
            (str(decision_id),),
        )
        return rows[0] if rows else None

    async def columns(self, start: int, stop: int) -> dict[int, StoredColumns]:
        """Return the stored columns and index rows of the entries ``start <= seq < stop``."""
        db, bounds = self._connection(), (start, stop)
        with _mapped("read columns"):
            ids = await db.execute_fetchall(
                "SELECT seq, decision_id, event_id FROM ledger_entries WHERE seq >= ? AND seq < ?",
                bounds,
            )
            times = await db.execute_fetchall(
                "SELECT seq, recorded_at FROM ledger_entry_times WHERE seq >= ? AND seq < ?",
                bounds,
            )
            terms = await db.execute_fetchall(
                "SELECT seq, term FROM ledger_entry_terms WHERE seq >= ? AND seq < ?", bounds
            )
        return stored_columns(ids, times, terms, str)

    async def search(self, query: IndexQuery) -> list[StoredEntry]:
        """Return the candidate rows the search index lists for ``query``, in order."""
        sql, parameters = index_sql(query, lambda _: "?", stamp)
        return await self._select(sql, parameters)

    async def find_decisions(
        self, decision_ids: Collection[uuid.UUID]
    ) -> dict[uuid.UUID, StoredEntry]:
        """Return the entries recorded under any of ``decision_ids``, by decision id column."""
        ids, found = [str(i) for i in decision_ids], {}
        with _mapped("find decisions"):
            db = self._connection()
            for start in range(0, len(ids), _CHUNK):
                chunk = ids[start : start + _CHUNK]
                marks = ",".join("?" * len(chunk))
                rows = await db.execute_fetchall(
                    f"SELECT decision_id, {_ENTRY_COLUMNS} FROM ledger_entries"  # noqa: S608 - marks
                    f" WHERE decision_id IN ({marks})",
                    chunk,
                )
                for decision_id, *rest in rows:
                    found[uuid.UUID(decision_id)] = _entries([rest])[0]
        return found

    async def holding(self, terms: Collection[str]) -> set[str]:
        """Return which of ``terms`` the search index holds for some entry."""
        wanted, held = list(terms), set()
        with _mapped("read index"):
            db = self._connection()
            for start in range(0, len(wanted), _CHUNK):
                chunk = wanted[start : start + _CHUNK]
                marks = ",".join("?" * len(chunk))
                rows = await db.execute_fetchall(
                    f"SELECT DISTINCT term FROM ledger_entry_terms WHERE term IN ({marks})",  # noqa: S608 - marks
                    chunk,
                )
                held |= {str(row[0]) for row in rows}
        return held

    async def checkpoints(self) -> list[StoredCheckpoint]:
        """Return every checkpoint, smallest tree size first, with its note and cosignatures."""
        with _mapped("read checkpoints"):
            db = self._connection()
            noted = await db.execute_fetchall(_NOTED)
            if next(iter(noted))[0] < len(("ledger_notes", "ledger_cosignatures")):
                # A ledger from before notes, opened read-only: its checkpoints are JWS only.
                rows = await db.execute_fetchall(_BARE_CHECKPOINTS)
                return [StoredCheckpoint(int(size), str(token)) for size, token in rows]
            rows = await db.execute_fetchall(_CHECKPOINTS)
            cosigned = await db.execute_fetchall(_COSIGNATURES)
        return with_notes(rows, cosigned)

    async def latest_checkpoint(self) -> StoredCheckpoint | None:
        """Return the checkpoint of the largest tree size, if any."""
        return await _latest_checkpoint(self._connection())

    async def size(self) -> int:
        """Return how many entries the chain holds (the committed head's size)."""
        with _mapped("read head"):
            rows = list(
                await self._connection().execute_fetchall(
                    "SELECT size FROM ledger_head WHERE id = 1"
                )
            )
        return int(rows[0][0]) if rows else 0
