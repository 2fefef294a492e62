"""Release control: every figure that leaves the evaluator's store passes one policy.

A figure is a count of evaluation records (a cell of a table, a row or column total,
the grand total), and the evaluator knows which records each one counts: their
evaluation pseudonyms, its *population*. :class:`ReleaseControl` releases a table
only after four checks, in the manner of statistical disclosure control (OpenSAFELY's
output checking, ACRO, the ONS):

1. **Primary suppression.** A count from 1 to the threshold (7 by default, after
   OpenSAFELY) is suppressed: a group that small points at people.
2. **Secondary suppression.** In each row and each column, with its total, the
   suppressed counts must not be recoverable from the rest: if the true counts that
   line hides add up to 1..threshold, the smallest count still shown in it is
   suppressed too, and so on until no line gives a small group away.
3. **Differencing.** Two figures whose populations nest (one counts everybody the
   other does, and more), in this release or any earlier one, would give away the
   people between them by subtraction. If that difference is 1..threshold, the
   newer figure is suppressed. So a table of everyone, then the same table less
   three people, cannot reveal the three.
4. **Rounding.** Every figure shown is rounded to the nearest multiple of 5.

Steps 2 and 3 repeat until nothing changes. The checks work on true populations,
never on the rounded figures, so they do not rely on rounding to hide anything.
Zero counts are shown by default (``suppress_zero`` changes it).

Nothing here reads a record: the caller gives populations, this module gives
figures. Its state is the populations of every figure released so far; a release
that is refused leaves it unchanged.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Final

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping

#: OpenSAFELY's rule: counts of 7 or fewer are redacted, the rest rounded to 5.
DEFAULT_THRESHOLD: Final = 7
DEFAULT_ROUNDING: Final = 5
#: How a suppressed figure is written in a CSV.
SUPPRESSED: Final = "[suppressed]"
TOTAL: Final = "Total"


@dataclass(frozen=True)
class ReleaseRule:
    """The policy a release follows, recorded with it.

    Attributes:
        name: a name for the rule, e.g. ``opensafely``.
        threshold: counts from 1 to this are suppressed (and from 0, with
            ``suppress_zero``).
        rounding: every figure shown is rounded to a multiple of this (1: none).
        suppress_zero: suppress zero counts too (an empty cell can say something).
    """

    name: str = "opensafely"
    threshold: int = DEFAULT_THRESHOLD
    rounding: int = DEFAULT_ROUNDING
    suppress_zero: bool = False
    #: Set for a differentially private release (:mod:`adapters.evaluator.privacy`):
    #: its privacy loss, as decimal text; the figures then carry noise, not suppression.
    epsilon: str | None = None

    def __post_init__(self) -> None:
        """Refuse a rule that protects nothing.

        Raises:
            ValueError: a threshold below 1 or a rounding below 1.
        """
        if self.threshold < 1 or self.rounding < 1:
            raise ValueError("the threshold and the rounding must be at least 1")

    def small(self, count: int) -> bool:
        """Whether ``count`` people are too few to show (pure)."""
        return 0 < count <= self.threshold or (count == 0 and self.suppress_zero)

    def rounded(self, count: int) -> int:
        """``count`` to the nearest multiple of :attr:`rounding`, halves up (pure)."""
        return (count + self.rounding // 2) // self.rounding * self.rounding


@dataclass(frozen=True)
class Table:
    """A two-way table to release: who is counted in each cell.

    Attributes:
        name: what the table shows, e.g. ``re-offended within 12 months by model``.
        rows: the row labels, in order.
        columns: the column labels, in order.
        cells: the population of each cell, by ``(row, column)``; a cell left out
            counts nobody.
    """

    name: str
    rows: tuple[str, ...]
    columns: tuple[str, ...]
    cells: Mapping[tuple[str, str], frozenset[str]]

    def __post_init__(self) -> None:
        """Refuse cells outside the table, or a table without rows or columns.

        Raises:
            ValueError: as said, or a member counted in two cells.
        """
        if not self.rows or not self.columns:
            raise ValueError("a table needs rows and columns")
        if TOTAL in self.rows or TOTAL in self.columns:
            raise ValueError(f"{TOTAL} is the margins' label")
        if any(r not in self.rows or c not in self.columns for r, c in self.cells):
            raise ValueError("a cell lies outside the table's rows and columns")
        counted = [member for found in self.cells.values() for member in found]
        if len(counted) != len(set(counted)):
            raise ValueError("a member is counted in two cells: the margins would not add up")

    def population(self, row: str, column: str) -> frozenset[str]:
        """Who is counted where ``row`` and ``column`` meet; either may be :data:`TOTAL`."""
        rows = self.rows if row == TOTAL else (row,)
        columns = self.columns if column == TOTAL else (column,)
        found: set[str] = set()
        for r in rows:
            for c in columns:
                found |= self.cells.get((r, c), frozenset())
        return frozenset(found)


@dataclass(frozen=True)
class Released:
    """A table as released: rounded figures, ``None`` where suppressed, and the rule.

    ``figures`` holds every cell and the margins, keyed ``(row, column)`` with
    :data:`TOTAL` for a total.
    """

    name: str
    rows: tuple[str, ...]
    columns: tuple[str, ...]
    figures: Mapping[tuple[str, str], int | None]
    rule: ReleaseRule

    def csv(self) -> str:
        """The table as CSV: a header of columns and ``Total``, one line per row and ``Total``."""
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow([self.name, *self.columns, TOTAL])
        for row in (*self.rows, TOTAL):
            shown = [self.figures[(row, column)] for column in (*self.columns, TOTAL)]
            writer.writerow([row, *(SUPPRESSED if v is None else v for v in shown)])
        return out.getvalue()

    def digest(self) -> str:
        """The SHA-256 of the release's canonical JSON: what its ledger entry names."""
        document = {
            "name": self.name,
            "rows": list(self.rows),
            "columns": list(self.columns),
            "figures": [[r, c, v] for (r, c), v in sorted(self.figures.items())],
            "rule": {
                "name": self.rule.name,
                "threshold": self.rule.threshold,
                "rounding": self.rule.rounding,
                "suppress_zero": self.rule.suppress_zero,
            }
            | ({"epsilon": self.rule.epsilon} if self.rule.epsilon is not None else {}),
        }
        text = json.dumps(document, sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(text.encode()).hexdigest()


def _lines(table: Table) -> list[list[tuple[str, str]]]:
    """Every row and column of the table with its total: the sums an attacker can take."""
    rows = [[(r, c) for c in (*table.columns, TOTAL)] for r in (*table.rows, TOTAL)]
    columns = [[(r, c) for r in (*table.rows, TOTAL)] for c in (*table.columns, TOTAL)]
    return rows + columns


@dataclass
class ReleaseControl:
    """Releases tables under one :class:`ReleaseRule`, remembering what it has let out."""

    rule: ReleaseRule = field(default_factory=ReleaseRule)
    released: list[frozenset[str]] = field(default_factory=list)

    def release(self, table: Table) -> Released:
        """Check, suppress and round ``table``; remember the populations it let out."""
        keys = [(r, c) for r in (*table.rows, TOTAL) for c in (*table.columns, TOTAL)]
        people = {key: table.population(*key) for key in keys}
        hidden = {key for key in keys if self.rule.small(len(people[key]))}
        while True:
            more = self._secondary(table, people, hidden) or self._differencing(people, hidden)
            if not more:
                break
            hidden |= more
        figures = {
            key: None if key in hidden else self.rule.rounded(len(people[key])) for key in keys
        }
        self.released.extend(people[key] for key in keys if key not in hidden)
        return Released(table.name, table.rows, table.columns, figures, self.rule)

    def _needs_more(
        self,
        line: list[tuple[str, str]],
        people: Mapping[tuple[str, str], frozenset[str]],
        hidden: set[tuple[str, str]],
    ) -> bool:
        """Whether what ``line`` hides can be worked out from what it shows.

        A line (a row or a column, with its total) is additive. One hidden figure is
        the total less the rest; with the total shown, the hidden cells' sum is the
        total less the rest, so it must not be a small group.
        """
        gone = [key for key in line if key in hidden]
        if not gone:
            return False
        total, cells = line[-1], line[:-1]
        if len(gone) == 1:
            return any(key not in hidden for key in line)
        if total in hidden:
            return False
        return self.rule.small(sum(len(people[k]) for k in cells if k in hidden))

    def _secondary(
        self,
        table: Table,
        people: Mapping[tuple[str, str], frozenset[str]],
        hidden: set[tuple[str, str]],
    ) -> set[tuple[str, str]]:
        """The next figure to hide so that a line's hidden figures cannot be worked out.

        The first line that needs one gives it: the cell still shown whose other line
        needs one too (one hide mends both), else its smallest cell, else its total.
        One at a time, so that hides are not made twice over.
        """
        lines = _lines(table)
        wanting = [line for line in lines if self._needs_more(line, people, hidden)]
        if not wanting:
            return set()
        line = wanting[0]
        total, cells = line[-1], line[:-1]
        shown = [key for key in cells if key not in hidden]
        if not shown:
            return {total}

        def crossing_wants(key: tuple[str, str]) -> bool:
            return any(key in other and other is not line for other in wanting)

        return {min(shown, key=lambda k: (not crossing_wants(k), len(people[k]), k))}

    def _differencing(
        self, people: Mapping[tuple[str, str], frozenset[str]], hidden: set[tuple[str, str]]
    ) -> set[tuple[str, str]]:
        """Figures that nest with another one let out and differ from it by a small group.

        Each figure is held against every population released before and every
        figure of this table still shown, smallest first; of two figures in this
        table that give a small group away, the smaller goes.
        """
        shown = sorted((key for key in people if key not in hidden), key=lambda k: len(people[k]))
        more: set[tuple[str, str]] = set()
        for key in shown:
            mine = people[key]
            here = (people[k] for k in shown if k != key and k not in more)
            for other in (*self.released, *here):
                if (mine < other or other < mine) and self.rule.small(abs(len(mine) - len(other))):
                    more.add(key)
                    break
        return more


def populations(
    members: Iterable[tuple[str, str, str]], rows: Iterable[str], columns: Iterable[str]
) -> dict[tuple[str, str], frozenset[str]]:
    """Cells from ``(member, row, column)`` triples: who falls where (pure)."""
    wanted_rows, wanted_columns = set(rows), set(columns)
    cells: dict[tuple[str, str], set[str]] = {}
    for member, row, column in members:
        if row in wanted_rows and column in wanted_columns:
            cells.setdefault((row, column), set()).add(member)
    return {key: frozenset(found) for key, found in cells.items()}
