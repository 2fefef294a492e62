"""What a witness remembers: per log, the newest checkpoint it cosigned; and evidence.

One SQLite file, written with ``synchronous=FULL``: an answer is sent only after
the new size is on disk. Checking the old size and storing the new one happen in
one ``BEGIN IMMEDIATE`` transaction, which holds SQLite's write lock across both
(C2SP tlog-witness's race: two requests checked against the same size must not
both be cosigned, or one would roll the other back). A checkpoint that is signed
by the log yet inconsistent with what was cosigned is kept as evidence: it is a
second history, and the agency's IG officer must see it.
"""

from __future__ import annotations

import contextlib
import sqlite3
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final

from hub.errors import HubError

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator
    from pathlib import Path

_SCHEMA: Final = """
CREATE TABLE IF NOT EXISTS witness_logs (
    origin TEXT PRIMARY KEY,
    size INTEGER NOT NULL,
    root BLOB NOT NULL,
    note TEXT NOT NULL,
    cosigned_at INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS witness_evidence (
    id INTEGER PRIMARY KEY,
    origin TEXT NOT NULL,
    seen_at INTEGER NOT NULL,
    kind TEXT NOT NULL,
    old_size INTEGER NOT NULL,
    cosigned_size INTEGER NOT NULL,
    size INTEGER NOT NULL,
    request TEXT NOT NULL
);
CREATE TRIGGER IF NOT EXISTS witness_evidence_kept BEFORE DELETE ON witness_evidence
    BEGIN SELECT RAISE(ABORT, 'evidence is kept'); END;
"""


class WitnessStateError(HubError):
    """The state file cannot be opened or written: ``witness.state_unavailable``."""


@dataclass(frozen=True)
class Cosigned:
    """The newest checkpoint cosigned for one log."""

    origin: str
    size: int
    root: bytes
    note: str
    cosigned_at: int


@dataclass(frozen=True)
class Evidence:
    """A checkpoint the log signed that does not extend what was cosigned.

    Attributes:
        kind: ``inconsistent`` (its consistency proof fails, or one size has two
            roots) or ``shrunk`` (a size below the one cosigned: never cosigned).
        old_size: the old size the request gave; ``cosigned_size`` the witness's.
        request: the whole request body, note and proof, as received.
    """

    origin: str
    seen_at: int
    kind: str
    old_size: int
    cosigned_size: int
    size: int
    request: str


class WitnessState:
    """The witness's durable memory, one SQLite file."""

    def __init__(self, path: Path, *, clock: Callable[[], float] = time.time) -> None:
        """Open (creating if missing) the state file at ``path``.

        Raises:
            WitnessStateError: ``witness.state_unavailable``.
        """
        self._clock = clock
        try:
            self._db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=FULL")
            self._db.executescript(_SCHEMA)
        except sqlite3.Error as error:
            raise WitnessStateError(
                "witness.state_unavailable", f"{path.name}: {type(error).__name__}"
            ) from None

    def close(self) -> None:
        """Close the file."""
        self._db.close()

    def latest(self, origin: str) -> Cosigned | None:
        """The newest checkpoint cosigned for ``origin``, if any."""
        row = self._db.execute(
            "SELECT origin, size, root, note, cosigned_at FROM witness_logs WHERE origin = ?",
            (origin,),
        ).fetchone()
        return None if row is None else Cosigned(*row)

    def logs(self) -> list[Cosigned]:
        """Every log's newest cosigned checkpoint, by origin."""
        rows = self._db.execute(
            "SELECT origin, size, root, note, cosigned_at FROM witness_logs ORDER BY origin"
        ).fetchall()
        return [Cosigned(*row) for row in rows]

    def evidence(self) -> list[Evidence]:
        """Every kept piece of evidence, oldest first."""
        rows = self._db.execute(
            "SELECT origin, seen_at, kind, old_size, cosigned_size, size, request"
            " FROM witness_evidence ORDER BY id"
        ).fetchall()
        return [Evidence(*row) for row in rows]

    def keep_evidence(self, evidence: Evidence) -> None:
        """Store ``evidence`` durably."""
        with _mapped():
            self._db.execute(
                "INSERT INTO witness_evidence"
                " (origin, seen_at, kind, old_size, cosigned_size, size, request)"
                " VALUES (?, ?, ?, ?, ?, ?, ?)",
                (
                    evidence.origin,
                    evidence.seen_at,
                    evidence.kind,
                    evidence.old_size,
                    evidence.cosigned_size,
                    evidence.size,
                    evidence.request,
                ),
            )

    def now(self) -> int:
        """The witness's clock, whole seconds."""
        return int(self._clock())

    def advance(self, origin: str, decide: Callable[[Cosigned | None], Cosigned]) -> Cosigned:
        """Read ``origin``'s record and store what ``decide`` makes of it, atomically.

        ``decide`` raises to refuse (nothing is stored); what it returns is written
        and on disk before this returns.

        Raises:
            WitnessStateError: ``witness.state_unavailable``; or what ``decide`` raises.
        """
        with _mapped():
            self._db.execute("BEGIN IMMEDIATE")
            try:
                new = decide(self.latest(origin))
                self._db.execute(
                    "INSERT INTO witness_logs (origin, size, root, note, cosigned_at)"
                    " VALUES (?, ?, ?, ?, ?) ON CONFLICT (origin) DO UPDATE SET"
                    " size = excluded.size, root = excluded.root, note = excluded.note,"
                    " cosigned_at = excluded.cosigned_at",
                    (new.origin, new.size, new.root, new.note, new.cosigned_at),
                )
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")
        return new


@contextlib.contextmanager
def _mapped() -> Iterator[None]:
    """Turn a database failure into ``witness.state_unavailable``."""
    try:
        yield
    except sqlite3.Error as error:
        raise WitnessStateError("witness.state_unavailable", type(error).__name__) from None
