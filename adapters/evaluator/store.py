"""The evaluator's store: every evaluation record received, in one DuckDB file.

DuckDB rather than Polars (ADR 0023): the store must be durable and transactional
(a record is acknowledged to the broker only once it is committed), keep one copy
of a record that comes twice (a primary key on the record id), and answer the
measures' grouped, windowed questions. DuckDB is an embedded database file with
ACID transactions and SQL; Polars is a data-frame library with no store of its own.

Each row is one :class:`~schemas.evaluation.EvaluationRecord`, its fields as
columns of the same names, beside the decision id of the ledger entry that
recorded its disclosure, the time the hub signed it and the hub-signed JWT itself
(``token``), so every record can be checked again later (:meth:`Store.tokens`).
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final, Self

import duckdb
import pandas as pd

from schemas.evaluation import EvaluationRecord

if TYPE_CHECKING:
    from collections.abc import Iterable, Iterator, Sequence
    from datetime import datetime
    from pathlib import Path
    from types import TracebackType

#: The record's fields, in order: the columns of the same names.
FIELDS: Final = tuple(EvaluationRecord.model_fields)
_TYPES: Final = {"schema_version": "INTEGER", "case_day": "INTEGER", "view_declined": "BOOLEAN"}
COLUMNS: Final = (*FIELDS, "decision_id", "issued_at", "token")
_DDL: Final = (
    "CREATE TABLE IF NOT EXISTS records ("
    + ", ".join(
        f'"{name}" {_TYPES.get(name, "VARCHAR")}' + (" PRIMARY KEY" if name == "record" else "")
        for name in FIELDS
    )
    + ', "decision_id" VARCHAR NOT NULL, "issued_at" TIMESTAMPTZ NOT NULL,'
    + ' "token" VARCHAR NOT NULL)'
)
_INSERT: Final = (
    "INSERT INTO records ("  # noqa: S608 - column names from the model, no input
    + ", ".join(f'"{c}"' for c in COLUMNS)
    + ") SELECT "
    + ", ".join(f'"{c}"' for c in COLUMNS)
    + " FROM batch ON CONFLICT DO NOTHING"
)


@dataclass(frozen=True)
class Received:
    """One record as the evaluator keeps it: the record and how it was signed."""

    record: EvaluationRecord
    decision_id: str
    issued_at: datetime
    token: str

    def row(self) -> tuple[Any, ...]:
        """The values of :data:`COLUMNS`."""
        values = self.record.model_dump(mode="json")
        return (*(values[name] for name in FIELDS), self.decision_id, self.issued_at, self.token)


class Store:
    """The evaluator's DuckDB file: add records once each, read them back, query them.

    One connection, used from one thread at a time (a lock guards it), so the
    inbox's consumer may commit from a worker thread while the loop goes on.
    """

    def __init__(self, path: Path | None) -> None:
        """Open (or create) the store at ``path``; ``None``: in memory, for tests."""
        self._db = duckdb.connect(":memory:" if path is None else str(path))
        self._lock = threading.Lock()
        self._db.execute(_DDL)

    def close(self) -> None:
        """Close the file."""
        with self._lock:
            self._db.close()

    def __enter__(self) -> Self:
        """Use the store in a ``with`` block."""
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        """Close it."""
        self.close()

    def add(self, received: Sequence[Received]) -> int:
        """Add ``received`` in one transaction; a record already kept is kept once.

        Returns:
            How many records were new.
        """
        if not received:
            return 0
        with self._lock:
            before = self._count()
            # One set-wise insert from a data frame: DuckDB inserts row by row
            # (executemany) a hundred times slower.
            batch = pd.DataFrame([r.row() for r in received], columns=list(COLUMNS))
            batch = batch.drop_duplicates(subset="record")
            self._db.execute("BEGIN TRANSACTION")
            try:
                self._db.register("batch", batch)
                self._db.execute(_INSERT)
                self._db.unregister("batch")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")
            return self._count() - before

    def _count(self) -> int:
        row = self._db.execute("SELECT count(*) FROM records").fetchone()
        return int(row[0]) if row else 0

    def count(self) -> int:
        """How many records the store holds."""
        with self._lock:
            return self._count()

    def query(self, sql: str, parameters: Iterable[Any] = ()) -> list[dict[str, Any]]:
        """Rows of a read-only query, as dicts (the measures' one way in)."""
        with self._lock:
            cursor = self._db.execute(sql, list(parameters))
            names = [d[0] for d in cursor.description or ()]
            return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]

    def execute(self, sql: str, parameters: Iterable[Any] = ()) -> None:
        """Run one statement that writes (the privacy budget's), committed at once."""
        with self._lock:
            self._db.execute(sql, list(parameters))

    def records(self) -> Iterator[EvaluationRecord]:
        """Every record, in record id order."""
        fields = ", ".join(f'"{name}"' for name in FIELDS)
        for row in self.query(f"SELECT {fields} FROM records ORDER BY record"):  # noqa: S608 - fixed names
            yield EvaluationRecord.model_validate_json(json.dumps(row))

    def tokens(self) -> list[tuple[str, str, str]]:
        """Every record's id, decision id and hub-signed JWT, for checking again."""
        rows = self.query("SELECT record, decision_id, token FROM records ORDER BY record")
        return [(r["record"], r["decision_id"], r["token"]) for r in rows]
