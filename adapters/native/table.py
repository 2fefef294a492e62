"""Reading and writing native CSV exports: a header row, then one record per row.

Python's :mod:`csv` does the parsing (RFC 4180 quoting, cells over several lines).
A :class:`Row` keeps its spreadsheet number (the header is row 1, the first record
row 2), so an error names the file, the row and the column, never a cell's value.
Problems with the file as a whole (not UTF-8, no header, a column named twice, an
unknown column, too many rows) raise :class:`~adapters.base.RecordError`; problems
with one row are that row's alone, and the other rows still go through.

:class:`TableTranslator` is what the runner asks of a translator that reads CSV.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final, Protocol, runtime_checkable

from adapters.base import RecordError
from adapters.native.reading import INVALID

if TYPE_CHECKING:
    from collections.abc import Iterable, Sequence

    from schemas.base import CaseEvent

#: Rows one file may hold; a file is read and answered whole, so it is bounded.
MAX_ROWS: Final = 10_000
#: Longest cell, in characters (the longest event text is 4,000).
MAX_CELL: Final = 8_000
HEADER_FIELD: Final = "(header)"


def row_record(file_name: str, number: int) -> str:
    """Return how an error names one row of a file: ``case_records.csv row 3``."""
    return f"{file_name} row {number}"


@dataclass(frozen=True)
class Row:
    """One record of a CSV file: its spreadsheet row number and its cells as read."""

    number: int
    values: tuple[str, ...]

    def record(self, file_name: str) -> str:
        """Return the record name errors use for this row."""
        return row_record(file_name, self.number)


@dataclass(frozen=True)
class Table:
    """A CSV file read: its columns in order and its non-empty rows."""

    columns: tuple[str, ...]
    rows: tuple[Row, ...]

    def cells(self, row: Row, file_name: str) -> dict[str, str]:
        """Return one row's cells by column; a short row is padded with empty cells.

        Spreadsheets drop trailing empty cells, so a short row is not an error.

        Raises:
            RecordError: the row has more cells than the header has columns, or a
                cell longer than :data:`MAX_CELL`.
        """
        if len(row.values) > len(self.columns):
            raise RecordError(
                INVALID, row.record(file_name), "(row)", "has more cells than columns"
            )
        padded = row.values + ("",) * (len(self.columns) - len(row.values))
        cells = dict(zip(self.columns, padded, strict=True))
        for column, cell in cells.items():
            if len(cell) > MAX_CELL:
                raise RecordError(
                    INVALID, row.record(file_name), column, "is longer than a cell may be"
                )
        return cells


@dataclass(frozen=True)
class RowResult:
    """What one row became: its events, or the error that refused it."""

    row: Row
    events: tuple[CaseEvent, ...] = ()
    error: RecordError | None = None


@runtime_checkable
class TableTranslator(Protocol):
    """A translator that also reads its agency's CSV export, one record per row."""

    def table_to_events(self, data: bytes, *, file_name: str) -> tuple[Table, list[RowResult]]:
        """Read a whole export and translate each row on its own.

        Raises:
            RecordError: the file as a whole cannot be read (named ``file_name``).
        """
        ...


def _file_error(file_name: str, field: str, problem: str) -> RecordError:
    return RecordError(INVALID, file_name, field, problem)


def _check_header(
    header: list[str], known: Sequence[str], required: Sequence[str], file_name: str
) -> None:
    for column in required:
        if column not in header:
            raise _file_error(file_name, column, "is missing from the header")
    for position, column in enumerate(header, start=1):
        if column not in known:
            # The unknown name is not quoted: a shifted file may hold data in its header.
            raise _file_error(file_name, HEADER_FIELD, f"column {position} is not defined")
        if header.index(column) != position - 1:
            raise _file_error(file_name, column, "is named twice in the header")


def read_table(
    data: bytes, *, file_name: str, known: Sequence[str], required: Sequence[str] = ()
) -> Table:
    """Parse a CSV export whose columns are all ``known`` and include every ``required`` one.

    A byte-order mark is allowed; an empty line is skipped.

    Raises:
        RecordError: the file is not UTF-8 CSV, has no header, an unknown, repeated or
            missing column, or more than :data:`MAX_ROWS` rows.
    """
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise _file_error(file_name, "(document)", "not UTF-8 text") from None
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    rows: list[Row] = []
    try:
        header = next(reader, None)
        if not header:
            raise _file_error(file_name, HEADER_FIELD, "no header row")
        _check_header(header, known, required, file_name)
        for number, values in enumerate(reader, start=2):
            if len(rows) >= MAX_ROWS:
                raise _file_error(file_name, "(document)", f"more than {MAX_ROWS} rows")
            if values:
                rows.append(Row(number, tuple(values)))
    except csv.Error:
        # csv's messages quote no cell; the row number is enough to find the fault.
        line = reader.line_num
        raise _file_error(file_name, "(document)", f"not valid CSV at line {line}") from None
    return Table(tuple(header), tuple(rows))


def write_table(columns: Sequence[str], rows: Iterable[Sequence[str]]) -> str:
    """Write a header and rows as CSV text (minimal quoting, LF line ends)."""
    out = io.StringIO(newline="")
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(columns)
    writer.writerows(rows)
    return out.getvalue()
