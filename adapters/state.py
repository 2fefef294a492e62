"""An agency client's state file: its outbox and its seen records, in SQLite.

The file belongs to one :class:`~adapters.client.AgencyClient`. Statements run on
the event loop's thread: in WAL mode with no other writer, an insert, a delete or
an indexed lookup takes microseconds, less than handing it to a thread and back.
A commit waits for the disk (``synchronous=FULL``: one WAL append and fsync) and
runs inline too: it costs about half the CPU of a commit handed to a thread, and
falling back to a thread after a slow one never paid (ADR 0013, ADR 0019;
``make bench-commit`` measures it).

Commits are grouped: :meth:`StateFile.write` numbers each write, and
:meth:`StateFile.commit` makes a given write durable, committing everything written
so far; a caller that finds a commit under way waits for it and then finds its own
write covered, or commits once for everyone queued behind it.
"""

from __future__ import annotations

import asyncio
import sqlite3
from typing import TYPE_CHECKING, Final, Self

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence
    from pathlib import Path

#: WAL with ``synchronous=FULL``: a committed outbox row or seen record survives a
#: crash or a power cut, as with the rollback journal, but a commit costs one WAL
#: append and fsync instead of creating, syncing and deleting a journal file.
STATE_PRAGMAS: Final = ("journal_mode = WAL", "synchronous = FULL", "busy_timeout = 10000")

Parameter = str | bytes | int
Row = tuple[Parameter, ...]


class StateFile:
    """One SQLite connection: statements inline, commits grouped."""

    def __init__(self, connection: sqlite3.Connection) -> None:
        """Wrap an open connection; use :meth:`open`."""
        self._connection: sqlite3.Connection | None = connection
        #: Held by every statement and by a commit for its whole length, so no
        #: statement runs on the connection while a commit is under way.
        self._lock = asyncio.Lock()
        self._commit_lock = asyncio.Lock()
        self._written = 0
        self._committed = 0

    @classmethod
    async def open(cls, path: Path, prepare: Callable[[sqlite3.Connection], None]) -> Self:
        """Open ``path`` with :data:`STATE_PRAGMAS`, run ``prepare`` on it, commit.

        ``prepare`` (schema creation, migrations) runs in a thread, as a whole.
        """

        def connect() -> sqlite3.Connection:
            connection = sqlite3.connect(path, check_same_thread=False)
            try:
                for pragma in STATE_PRAGMAS:
                    connection.execute(f"PRAGMA {pragma}")
                prepare(connection)
                connection.commit()
            except BaseException:
                connection.close()
                raise
            return connection

        return cls(await asyncio.to_thread(connect))

    @property
    def connection(self) -> sqlite3.Connection:
        """The open connection."""
        if self._connection is None:
            raise RuntimeError("state file closed")
        return self._connection

    async def write(self, statement: str, parameters: Sequence[Parameter]) -> int:
        """Execute one write in the open transaction; return its number for :meth:`commit`."""
        async with self._lock:
            self.connection.execute(statement, parameters)
            self._written += 1
            return self._written

    async def write_all(self, statements: Sequence[tuple[str, Sequence[Parameter]]]) -> int:
        """Execute writes back to back, no commit between them; the number of the last.

        A commit covers all of them or none: one that starts meanwhile waits.
        """
        async with self._lock:
            for statement, parameters in statements:
                self.connection.execute(statement, parameters)
            self._written += 1
            return self._written

    async def query(self, statement: str, parameters: Sequence[Parameter] = ()) -> list[Row]:
        """Every row of one query (uncommitted writes of this connection included)."""
        async with self._lock:
            rows: list[Row] = self.connection.execute(statement, parameters).fetchall()
            return rows

    async def commit(self, upto: int) -> None:
        """Commit until write number ``upto`` is durable; one commit serves every waiter."""
        async with self._commit_lock:
            if self._committed >= upto:
                return
            # One turn of the loop first: writers already under way add their writes
            # to this commit, as they would while a commit waits in a thread.
            await asyncio.sleep(0)
            async with self._lock:
                covered = self._written
                await _commit(self.connection)
                self._committed = covered

    async def pragma(self, name: str) -> Parameter:
        """The value of PRAGMA ``name`` on this connection."""
        rows = await self.query(f"PRAGMA {name}")
        return rows[0][0]

    async def close(self) -> None:
        """Commit what is written, then close (idempotent)."""
        connection, self._connection = self._connection, None
        if connection is None:
            return
        async with self._lock:

            def finish() -> None:
                try:
                    connection.commit()
                finally:
                    connection.close()

            await asyncio.to_thread(finish)


async def _commit(connection: sqlite3.Connection) -> None:
    """Commit on the loop's thread (``bench/commit_handoff.py`` swaps in a thread)."""
    connection.commit()
