"""The shared ledger store: PostgreSQL, for several hub workers writing one chain.

Every write transaction starts by locking the one head row (``SELECT ... FOR
UPDATE``): writers from any process queue on that row lock, and each reads the
head only after the writer before it committed, so sequence numbers and
``prev_hash`` stay one chain (READ COMMITTED gives every later statement a fresh
snapshot, so the decision ids a writer checks include the ones just committed).
The lock lasts one transaction, and group commit makes that one transaction per
batch of appends, not per entry. Creating the schema takes a transaction-level
advisory lock, so two workers starting at once do not race on ``CREATE``, and then
the head row lock before any DDL, so a worker starting beside running ones queues
behind their writes instead of deadlocking with them.

Each write transaction also writes the search index of the entries it inserts
(:mod:`hub.ledger.search`); opening a ledger written before the index existed
indexes its entries first, under the head row lock, so no writer appends beside it.

Bodies are ``text``, not ``jsonb``: ``jsonb`` re-orders and re-spaces, and the hash
is over the exact bytes. Triggers refuse ``UPDATE``, ``DELETE`` and ``TRUNCATE`` on
entries and checkpoints.

When the database goes away, every call fails with ``ledger.unavailable`` within a
bounded time (connecting and each statement have a timeout, so a silent network
cannot hang the hub) and the pool reconnects by itself on the next call once the
database is back: asyncpg replaces a closed connection when it is acquired. A
commit whose answer was lost may have happened; the caller retries, and a
decision already recorded is found rather than recorded twice.
"""

from __future__ import annotations

import contextlib
import re
import uuid
from typing import TYPE_CHECKING, Any, Final

import asyncpg

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

#: Advisory lock key for schema creation: the bytes of "hubledgr" as an integer.
_SCHEMA_LOCK: Final = int.from_bytes(b"hubledgr", "big") & 0x7FFF_FFFF_FFFF_FFFF
_SCHEMA_NAME: Final = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")
_DDL: Final = (
    "CREATE TABLE IF NOT EXISTS ledger_meta (key text PRIMARY KEY, value text NOT NULL)",
    """CREATE TABLE IF NOT EXISTS ledger_entries (
        seq bigint PRIMARY KEY,
        decision_id uuid NOT NULL UNIQUE,
        event_id uuid,
        entry_hash text NOT NULL,
        body text NOT NULL)""",
    "CREATE INDEX IF NOT EXISTS ledger_entries_event ON ledger_entries (event_id)",
    """CREATE TABLE IF NOT EXISTS ledger_checkpoints (
        tree_size bigint PRIMARY KEY, token text NOT NULL)""",
    """CREATE TABLE IF NOT EXISTS ledger_notes (
        tree_size bigint PRIMARY KEY, note text NOT NULL)""",
    """CREATE TABLE IF NOT EXISTS ledger_cosignatures (
        tree_size bigint NOT NULL, key_name text NOT NULL, key_id bigint NOT NULL,
        line text NOT NULL, PRIMARY KEY (tree_size, key_name, key_id))""",
    """CREATE TABLE IF NOT EXISTS ledger_head (
        id integer PRIMARY KEY CHECK (id = 1),
        size bigint NOT NULL, last_entry_hash text NOT NULL, frontier text NOT NULL)""",
    """CREATE TABLE IF NOT EXISTS ledger_entry_terms (
        term text NOT NULL, seq bigint NOT NULL, PRIMARY KEY (term, seq))""",
    """CREATE TABLE IF NOT EXISTS ledger_entry_times (
        seq bigint PRIMARY KEY, recorded_at timestamptz)""",
    """CREATE INDEX IF NOT EXISTS ledger_entry_times_at
        ON ledger_entry_times (recorded_at, seq)""",
    "CREATE INDEX IF NOT EXISTS ledger_entry_terms_seq ON ledger_entry_terms (seq)",
    """CREATE OR REPLACE FUNCTION ledger_refuse_change() RETURNS trigger
        LANGUAGE plpgsql AS $$
        BEGIN RAISE EXCEPTION 'ledger rows are append-only'; END $$""",
    *(
        f"""CREATE OR REPLACE TRIGGER {table}_{name} BEFORE {event} ON {table}
            FOR EACH {each} EXECUTE FUNCTION ledger_refuse_change()"""
        for table in ("ledger_entries", "ledger_checkpoints", "ledger_notes", "ledger_cosignatures")
        for name, event, each in (
            ("append_only", "UPDATE OR DELETE", "ROW"),
            ("no_truncate", "TRUNCATE", "STATEMENT"),
        )
    ),
)
_ENTRY_COLUMNS: Final = "seq, body, entry_hash"
#: Seconds to open a connection before ``ledger.unavailable``.
CONNECT_TIMEOUT: Final = 10.0
#: Seconds any one statement may take before ``ledger.unavailable``.
COMMAND_TIMEOUT: Final = 30.0
#: Entries indexed per statement when backfilling the search index.
_BACKFILL_PAGE: Final = 1000


@contextlib.contextmanager
def _mapped(action: str) -> Iterator[None]:
    """Turn driver errors into ledger errors that name the action, never the data."""
    try:
        yield
    except asyncpg.UniqueViolationError:
        raise LedgerError(ErrorCode.CONFLICT, f"{action}: a row already exists") from None
    except (asyncpg.PostgresError, asyncpg.InterfaceError, OSError, TimeoutError) as error:
        raise LedgerError(ErrorCode.UNAVAILABLE, f"{action}: {type(error).__name__}") from None


def _entries(rows: Sequence[Any]) -> list[StoredEntry]:
    return [StoredEntry(int(r["seq"]), str(r["body"]), str(r["entry_hash"])) for r in rows]


async def _index(conn: Any, indexed: Sequence[IndexRow]) -> None:
    """Write the search index rows ``indexed``, in the caller's transaction."""
    await conn.executemany(
        "INSERT INTO ledger_entry_times (seq, recorded_at) VALUES ($1, $2)"
        " ON CONFLICT (seq) DO UPDATE SET recorded_at = EXCLUDED.recorded_at",
        [(r.seq, r.recorded_at) for r in indexed],
    )
    await conn.executemany(
        "INSERT INTO ledger_entry_terms (term, seq) VALUES ($1, $2) ON CONFLICT DO NOTHING",
        [(term, r.seq) for r in indexed for term in sorted(r.terms)],
    )


async def _backfill(conn: Any) -> None:
    """Index every entry the index lacks (a ledger written before the index existed)."""
    while True:
        rows = await conn.fetch(
            "SELECT seq, body FROM ledger_entries e WHERE NOT EXISTS"
            " (SELECT 1 FROM ledger_entry_times t WHERE t.seq = e.seq) ORDER BY seq LIMIT $1",
            _BACKFILL_PAGE,
        )
        if not rows:
            return
        # Each page indexes every row it read, so the loop ends.
        await _index(conn, [index_row(int(r["seq"]), str(r["body"])) for r in rows])


class _PostgresTransaction:
    """One transaction holding the head row lock."""

    def __init__(self, conn: Any, head: Head) -> None:
        self._conn = conn
        self._head = head

    async def head(self) -> Head:
        return self._head

    async def find(self, decision_ids: Collection[uuid.UUID]) -> dict[uuid.UUID, StoredEntry]:
        with _mapped("find decisions"):
            rows = await self._conn.fetch(
                f"SELECT decision_id, {_ENTRY_COLUMNS} FROM ledger_entries"  # noqa: S608 - constant columns
                " WHERE decision_id = ANY($1::uuid[])",
                list(decision_ids),
            )
        return {row["decision_id"]: _entries([row])[0] for row in rows}

    async def entries_for_events(self, event_ids: Collection[uuid.UUID]) -> list[StoredEntry]:
        with _mapped("read entries"):
            rows = await self._conn.fetch(
                f"SELECT {_ENTRY_COLUMNS} FROM ledger_entries"  # noqa: S608 - constant columns
                " WHERE event_id = ANY($1::uuid[]) ORDER BY seq",
                list(event_ids),
            )
        return _entries(rows)

    async def insert(self, entries: Sequence[NewEntry], head: Head) -> None:
        with _mapped("insert entries"):
            await self._conn.executemany(
                "INSERT INTO ledger_entries (seq, decision_id, event_id, entry_hash, body)"
                " VALUES ($1, $2, $3, $4, $5)",
                [(e.seq, e.decision_id, e.event_id, e.entry_hash, e.body) for e in entries],
            )
            await _index(self._conn, new_index_rows(entries))
            await self._conn.execute(
                "UPDATE ledger_head SET size = $1, last_entry_hash = $2, frontier = $3"
                " WHERE id = 1",
                head.size,
                head.last_entry_hash,
                safejson.dumps(list(head.frontier)),
            )
        self._head = head

    async def latest_checkpoint(self) -> StoredCheckpoint | None:
        return await _latest_checkpoint(self._conn)

    async def add_checkpoint(self, checkpoint: StoredCheckpoint) -> None:
        with _mapped("add checkpoint"):
            await self._conn.execute(
                "INSERT INTO ledger_checkpoints (tree_size, token) VALUES ($1, $2)",
                checkpoint.tree_size,
                checkpoint.token,
            )
            if checkpoint.note is not None:
                await self._conn.execute(
                    "INSERT INTO ledger_notes (tree_size, note) VALUES ($1, $2)",
                    checkpoint.tree_size,
                    checkpoint.note,
                )

    async def add_cosignatures(self, tree_size: int, lines: Sequence[Cosignature]) -> None:
        with _mapped("add cosignatures"):
            await self._conn.executemany(
                "INSERT INTO ledger_cosignatures (tree_size, key_name, key_id, line)"
                " VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING",
                [(tree_size, c.name, c.key_id, c.line) for c in lines],
            )


async def _latest_checkpoint(conn: Any) -> StoredCheckpoint | None:
    with _mapped("read checkpoint"):
        row = await conn.fetchrow(
            "SELECT tree_size, token FROM ledger_checkpoints ORDER BY tree_size DESC LIMIT 1"
        )
    return None if row is None else StoredCheckpoint(int(row["tree_size"]), str(row["token"]))


class PostgresStore:
    """A ledger in PostgreSQL (:class:`hub.ledger.base.LedgerStore`)."""

    def __init__(
        self,
        dsn: str,
        *,
        schema: str | None = None,
        read_only: bool = False,
        pool_size: int = 4,
    ) -> None:
        """Name the database; nothing is opened until :meth:`open`.

        Args:
            dsn: a ``postgresql://`` URL.
            schema: a schema to keep the ledger in (created if missing); the
                connection's default search path if None.
            read_only: open for reading only (audits): no schema is created.
            pool_size: most connections held.

        Raises:
            LedgerError: ``ledger.url_invalid`` for a schema name that is not a
                plain lower-case identifier.
        """
        if schema is not None and not _SCHEMA_NAME.match(schema):
            raise LedgerError(ErrorCode.URL_INVALID, "schema is not a lower-case identifier")
        self._dsn = dsn
        self._schema = schema
        self._read_only = read_only
        self._pool_size = pool_size
        self._pool: Any = None
        self._transactions = 0

    @property
    def transactions(self) -> int:
        """How many write transactions this store object has committed."""
        return self._transactions

    async def open(self) -> None:
        """Connect, and create the schema unless read-only (idempotent, race-free).

        Raises:
            LedgerError: ``ledger.unavailable`` when the database cannot be reached.
        """
        settings = {"search_path": self._schema} if self._schema else {}
        with _mapped("open ledger"):
            self._pool = await asyncpg.create_pool(
                self._dsn,
                min_size=1,
                max_size=self._pool_size,
                server_settings=settings,
                timeout=CONNECT_TIMEOUT,
                command_timeout=COMMAND_TIMEOUT,
            )
        try:
            if not self._read_only:
                await self._create_schema()
            await self.ledger_id()
        except BaseException:
            await self.close()
            raise

    async def _create_schema(self) -> None:
        with _mapped("create schema"):
            async with self._pool.acquire() as conn, conn.transaction():
                await conn.execute("SELECT pg_advisory_xact_lock($1)", _SCHEMA_LOCK)
                if self._schema:
                    await conn.execute(f'CREATE SCHEMA IF NOT EXISTS "{self._schema}"')
                # Every writer locks the head row before touching a table; so does this,
                # before any DDL takes a table lock. Otherwise a worker starting beside
                # a running one could hold a table a writer needs while waiting for the
                # head that writer holds: a deadlock, which PostgreSQL breaks by failing us.
                if await conn.fetchval("SELECT to_regclass('ledger_head')") is not None:
                    await conn.execute("SELECT size FROM ledger_head WHERE id = 1 FOR UPDATE")
                for statement in _DDL:
                    await conn.execute(statement)
                await conn.execute(
                    "INSERT INTO ledger_head VALUES (1, 0, $1, '[]') ON CONFLICT DO NOTHING",
                    GENESIS_HASH,
                )
                await conn.execute(
                    "INSERT INTO ledger_meta VALUES ('ledger_id', $1) ON CONFLICT DO NOTHING",
                    str(uuid.uuid4()),
                )
                # The head row lock keeps writers out while old entries are indexed.
                await conn.execute("SELECT size FROM ledger_head WHERE id = 1 FOR UPDATE")
                await _backfill(conn)

    async def close(self) -> None:
        """Close the pool."""
        if self._pool is not None:
            pool, self._pool = self._pool, None
            with _mapped("close ledger"):
                await pool.close()

    def _require_pool(self) -> Any:
        if self._pool is None:
            raise LedgerError(ErrorCode.CLOSED, "the ledger store is not open")
        return self._pool

    @contextlib.asynccontextmanager
    async def write(self) -> AsyncIterator[_PostgresTransaction]:
        """Begin a write transaction holding the head row lock until it commits."""
        if self._read_only:
            raise LedgerError(ErrorCode.CLOSED, "the ledger store is open read-only")
        pool = self._require_pool()
        with _mapped("write"):
            async with pool.acquire() as conn, conn.transaction():
                row = await conn.fetchrow(
                    "SELECT size, last_entry_hash, frontier FROM ledger_head WHERE id = 1"
                    " FOR UPDATE"
                )
                if row is None:
                    raise LedgerError(ErrorCode.UNAVAILABLE, "the ledger has no head row")
                head = Head(int(row[0]), str(row[1]), tuple(safejson.loads(row[2])))
                yield _PostgresTransaction(conn, head)
        self._transactions += 1

    async def ledger_id(self) -> str:
        """Return the ledger's id."""
        with _mapped("read ledger id"):
            value = await self._require_pool().fetchval(
                "SELECT value FROM ledger_meta WHERE key = 'ledger_id'"
            )
        if value is None:
            raise LedgerError(ErrorCode.UNAVAILABLE, "read ledger id: not a ledger")
        return str(value)

    async def _select(self, query: str, *parameters: Any) -> list[StoredEntry]:
        with _mapped("read entries"):
            return _entries(await self._require_pool().fetch(query, *parameters))

    async def read(self, start: int, stop: int | None) -> list[StoredEntry]:
        """Return the entries with ``start <= seq < stop``, in order."""
        return await self._select(
            f"SELECT {_ENTRY_COLUMNS} FROM ledger_entries WHERE seq >= $1 AND seq < $2 ORDER BY seq",  # noqa: E501, S608 - constant columns
            start,
            stop if stop is not None else 2**62,
        )

    async def scan(self, start: int, limit: int) -> list[StoredEntry]:
        """Return up to ``limit`` entries with ``seq >= start``, in order, gaps and all."""
        return await self._select(
            f"SELECT {_ENTRY_COLUMNS} FROM ledger_entries WHERE seq >= $1 ORDER BY seq LIMIT $2",  # noqa: S608 - constant columns
            start,
            limit,
        )

    async def entries_for_event(self, event_id: uuid.UUID) -> list[StoredEntry]:
        """Return every entry about one event, in order."""
        return await self._select(
            f"SELECT {_ENTRY_COLUMNS} FROM ledger_entries WHERE event_id = $1 ORDER BY seq",  # noqa: S608 - constant columns
            event_id,
        )

    async def find_decision(self, decision_id: uuid.UUID) -> StoredEntry | None:
        """Return the entry recorded under ``decision_id``, if any."""
        rows = await self._select(
            f"SELECT {_ENTRY_COLUMNS} FROM ledger_entries WHERE decision_id = $1",  # noqa: S608 - constant columns
            decision_id,
        )
        return rows[0] if rows else None

    async def columns(self, start: int, stop: int) -> dict[int, StoredColumns]:
        """Return the stored columns and index rows of the entries ``start <= seq < stop``."""
        pool = self._require_pool()
        with _mapped("read columns"):
            ids = await pool.fetch(
                "SELECT seq, decision_id, event_id FROM ledger_entries"
                " WHERE seq >= $1 AND seq < $2",
                start,
                stop,
            )
            times = await pool.fetch(
                "SELECT seq, recorded_at FROM ledger_entry_times WHERE seq >= $1 AND seq < $2",
                start,
                stop,
            )
            terms = await pool.fetch(
                "SELECT seq, term FROM ledger_entry_terms WHERE seq >= $1 AND seq < $2",
                start,
                stop,
            )
        return stored_columns(
            [tuple(r) for r in ids], [tuple(r) for r in times], [tuple(r) for r in terms], stamp
        )

    async def search(self, query: IndexQuery) -> list[StoredEntry]:
        """Return the candidate rows the search index lists for ``query``, in order."""
        sql, parameters = index_sql(query, lambda n: f"${n}", lambda at: at)
        return await self._select(sql, *parameters)

    async def find_decisions(
        self, decision_ids: Collection[uuid.UUID]
    ) -> dict[uuid.UUID, StoredEntry]:
        """Return the entries recorded under any of ``decision_ids``, by decision id column."""
        with _mapped("read entries"):
            rows = await self._require_pool().fetch(
                f"SELECT decision_id, {_ENTRY_COLUMNS} FROM ledger_entries"  # noqa: S608 - constant columns
                " WHERE decision_id = ANY($1::uuid[])",
                list(decision_ids),
            )
        return {row["decision_id"]: _entries([row])[0] for row in rows}

    async def holding(self, terms: Collection[str]) -> set[str]:
        """Return which of ``terms`` the search index holds for some entry."""
        with _mapped("read index"):
            rows = await self._require_pool().fetch(
                "SELECT DISTINCT term FROM ledger_entry_terms WHERE term = ANY($1::text[])",
                list(terms),
            )
        return {str(row[0]) for row in rows}

    async def checkpoints(self) -> list[StoredCheckpoint]:
        """Return every checkpoint, smallest tree size first."""
        with _mapped("read checkpoints"):
            pool = self._require_pool()
            noted = await pool.fetchval(
                "SELECT count(*) FROM information_schema.tables"
                " WHERE table_schema = current_schema()"
                " AND table_name IN ('ledger_notes', 'ledger_cosignatures')"
            )
            if noted < len(("ledger_notes", "ledger_cosignatures")):
                # A ledger from before notes, opened read-only: its checkpoints are JWS only.
                rows = await pool.fetch(
                    "SELECT tree_size, token FROM ledger_checkpoints ORDER BY tree_size"
                )
                return [StoredCheckpoint(int(r["tree_size"]), str(r["token"])) for r in rows]
            rows = await pool.fetch(
                "SELECT c.tree_size, c.token, n.note FROM ledger_checkpoints c"
                " LEFT JOIN ledger_notes n ON n.tree_size = c.tree_size ORDER BY c.tree_size"
            )
            cosigned = await pool.fetch(
                "SELECT tree_size, line FROM ledger_cosignatures"
                " ORDER BY tree_size, key_name, key_id"
            )
        return with_notes((tuple(r) for r in rows), (tuple(r) for r in cosigned))

    async def latest_checkpoint(self) -> StoredCheckpoint | None:
        """Return the checkpoint of the largest tree size, if any."""
        return await _latest_checkpoint(self._require_pool())

    async def size(self) -> int:
        """Return how many entries the chain holds (the committed head's size)."""
        with _mapped("read head"):
            size = await self._require_pool().fetchval("SELECT size FROM ledger_head WHERE id = 1")
        return int(size) if size is not None else 0
