"""Ledger fixtures: one test suite, run on SQLite and on PostgreSQL.

The PostgreSQL cases need ``HUB_TEST_POSTGRES_DSN`` (``deploy/dev/postgres.sh start
DIR PORT`` prints one). Without it they are skipped, unless ``HUB_REQUIRE_SERVICES=1``,
when they fail. Each test gets a fresh SQLite file, or a fresh PostgreSQL schema
that is dropped afterwards.
"""

from __future__ import annotations

import json
import sqlite3
import uuid
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import asyncpg
import pytest
from entry_drafts import disclosure
from services import drop_schema, postgres_dsn

from hub.ledger.base import StoredEntry
from hub.ledger.service import Ledger, LedgerConfig
from hub.ledger.stores import open_store

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Callable
    from pathlib import Path

    from hub.crypto.keys import PartyKeyring
    from hub.ledger.base import LedgerStore
    from hub.ledger.entries import EntryDraft
from hub.ledger.search import index_row


def _make_draft(**fields: Any) -> EntryDraft:
    """A disclosure draft with a fresh decision id; ``fields`` override the defaults."""
    return disclosure(**fields)


@dataclass
class Harness:
    """One fresh ledger database and the raw SQL access a tamperer would have."""

    kind: str
    url: str
    schema: str | None
    keyring: PartyKeyring
    _opened: list[Ledger | LedgerStore] = field(default_factory=list)

    async def store(self, *, read_only: bool = False) -> LedgerStore:
        """Open a store on this database (closed at teardown)."""
        store = await open_store(self.url, read_only=read_only, schema=self.schema)
        self._opened.append(store)
        return store

    async def ledger(self, config: LedgerConfig | None = None, *, sign: bool = True) -> Ledger:
        """Open a ledger on this database (closed at teardown)."""
        store = await open_store(self.url, schema=self.schema)
        ledger = Ledger(store, keyring=self.keyring if sign else None, config=config)
        await ledger.start()
        self._opened.append(ledger)
        return ledger

    async def close(self) -> None:
        """Close everything opened here."""
        for item in reversed(self._opened):
            await item.close()

    async def sql(self, statement: str, *parameters: Any) -> list[tuple[Any, ...]]:
        """Run raw SQL as the database owner, ``?`` placeholders, triggers off."""
        if self.kind == "sqlite":
            return self._sqlite(statement, parameters)
        return await self._postgres(statement, parameters)

    def _sqlite(self, statement: str, parameters: tuple[Any, ...]) -> list[tuple[Any, ...]]:
        db = sqlite3.connect(self.url.removeprefix("sqlite:///"))
        try:
            for name in ("entries_no_update", "entries_no_delete"):
                db.execute(f"DROP TRIGGER IF EXISTS ledger_{name}")
            rows = db.execute(statement, parameters).fetchall()
            db.commit()
        finally:
            db.close()
        return rows

    async def _postgres(self, statement: str, parameters: tuple[Any, ...]) -> list[tuple[Any, ...]]:
        for number in range(1, len(parameters) + 1):
            statement = statement.replace("?", f"${number}", 1)
        conn = await asyncpg.connect(self.url, server_settings={"search_path": self.schema or ""})
        try:
            await conn.execute("ALTER TABLE ledger_entries DISABLE TRIGGER USER")
            rows = await conn.fetch(statement, *parameters)
        finally:
            await conn.close()
        return [tuple(row) for row in rows]

    async def rows(self) -> list[StoredEntry]:
        """Every entry row, in order."""
        found = await self.sql("SELECT seq, body, entry_hash FROM ledger_entries ORDER BY seq")
        return [StoredEntry(int(seq), str(body), str(digest)) for seq, body, digest in found]

    async def put(self, seq: int, body: str, entry_hash: str) -> None:
        """Overwrite the body and hash stored at ``seq``."""
        await self.sql(
            "UPDATE ledger_entries SET body = ?, entry_hash = ? WHERE seq = ?",
            body,
            entry_hash,
            seq,
        )

    async def rewrite(self, rows: list[StoredEntry]) -> None:
        """Replace every entry row with ``rows``: a careful tamperer's rewrite.

        The ``decision_id`` and ``event_id`` columns and the search index are
        written as each body says, so only the chain and the checkpoints can
        tell.
        """
        await self.sql("DELETE FROM ledger_entries")
        await self.sql("DELETE FROM ledger_entry_terms")
        await self.sql("DELETE FROM ledger_entry_times")
        for row in rows:
            fields = json.loads(row.body)
            await self.sql(
                "INSERT INTO ledger_entries (seq, decision_id, event_id, entry_hash, body)"
                " VALUES (?, ?, ?, ?, ?)",
                row.seq,
                self._uuid(fields.get("decision_id")),
                self._uuid(fields.get("event_id")),
                row.entry_hash,
                row.body,
            )
            indexed = index_row(row.seq, row.body)
            await self.sql(
                "INSERT INTO ledger_entry_times (seq, recorded_at) VALUES (?, ?)",
                row.seq,
                fields.get("recorded_at") if self.kind == "sqlite" else indexed.recorded_at,
            )
            for term in indexed.terms:
                await self.sql(
                    "INSERT INTO ledger_entry_terms (term, seq) VALUES (?, ?)", term, row.seq
                )

    def _uuid(self, text: object) -> object:
        """A UUID column's value as this database's driver takes it (None stays None)."""
        if not isinstance(text, str):
            return None if text is None else str(uuid.uuid4())
        return text if self.kind == "sqlite" else uuid.UUID(text)


@pytest.fixture(params=["sqlite", "postgres"])
async def harness(
    request: pytest.FixtureRequest, tmp_path: Path, keyrings: dict[str, PartyKeyring]
) -> AsyncIterator[Harness]:
    """A fresh ledger database: a SQLite file, or a PostgreSQL schema dropped afterwards."""
    if request.param == "sqlite":
        made = Harness("sqlite", f"sqlite:///{tmp_path / 'ledger.db'}", None, keyrings["hub"])
        yield made
        await made.close()
        return
    dsn = postgres_dsn()
    schema = f"ledger_test_{uuid.uuid4().hex[:12]}"
    made = Harness("postgres", dsn, schema, keyrings["hub"])
    try:
        yield made
    finally:
        await made.close()
        await drop_schema(dsn, schema)


@pytest.fixture
def draft() -> Callable[..., EntryDraft]:
    """Make a disclosure draft with a fresh decision id; keyword arguments override fields."""
    return _make_draft
