"""Exporting a ledger for an independent verifier: JSON Lines, rows exactly as stored.

``hub audit export`` writes one JSON object per line, so a verifier can stream a
ledger of millions of entries in constant memory:

    {"type": "ledger-export", "version": 3, "ledger_id": "...", "exported_at": "...Z"}
    {"type": "checkpoint", "tree_size": 4, "token": "<compact JWS>"}      (every one)
    {"type": "note", "tree_size": 4, "note": "<C2SP checkpoint note>"}    (every one)
    {"type": "entry", "seq": 0, "entry_hash": "<64 hex>", "body": "<canonical JSON>",
     "decision_id": "<uuid>", "event_id": "<uuid>" | null,
     "recorded_at": "...Z" | null, "terms": ["case:c_...", ...]}
    {"type": "end", "entries": 10, "checkpoints": 3, "notes": 3}

``body`` is the stored text, byte for byte as it was hashed, carried as a JSON
string; nothing is parsed or re-serialised on the way out, so a tampered row is
exported as tampered and the verifier, not the exporter, judges it. Version 2
adds what the store keeps beside each body and the hub finds entries by: the
``decision_id`` and ``event_id`` columns and the search index's time and terms
(sorted), also exactly as stored, so the verifier can check them against the body.
Version 3 adds each checkpoint's C2SP note with the witnesses' cosignatures
(ADR 0026) and counts them in the end record. Files of versions 1 and 2 are
still read. Checkpoints
are read first: an entry appended while the export runs is then at worst an
unsigned newest entry, never one a checkpoint covers but the file lacks. The
``end`` record lets a verifier tell a cut-short copy from a complete one; it is
not signed and proves nothing else. The format is in docs/audit-verification.md.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Final

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Callable
    from typing import TextIO

    from hub.ledger.base import LedgerStore

EXPORT_TYPE: Final = "ledger-export"
EXPORT_VERSION: Final = 3
DEFAULT_PAGE: Final = 1000


@dataclass(frozen=True)
class ExportSummary:
    """What an export wrote: the ledger's id and how many entries, checkpoints and notes."""

    ledger_id: str
    entries: int
    checkpoints: int
    notes: int = 0


def _line(record: dict[str, Any]) -> str:
    # ASCII-only output: the body's exact characters survive as \u escapes, and the
    # file opens the same whatever encoding an auditor's tools assume.
    return json.dumps(record, separators=(",", ":"), ensure_ascii=True) + "\n"


async def export_records(
    store: LedgerStore, *, page: int = DEFAULT_PAGE, now: datetime | None = None
) -> AsyncIterator[dict[str, Any]]:
    """Yield the export's records in file order, reading entries page by page.

    Args:
        store: an open store (read-only is enough).
        page: rows read per query.
        now: the export time written in the first record; the real clock if None.

    Raises:
        LedgerError: ``ledger.unavailable`` when the store cannot be read.
    """
    at = (now or datetime.now(UTC)).astimezone(UTC)
    yield {
        "type": EXPORT_TYPE,
        "version": EXPORT_VERSION,
        "ledger_id": await store.ledger_id(),
        "exported_at": at.replace(tzinfo=None).isoformat(timespec="seconds") + "Z",
    }
    checkpoints = await store.checkpoints()
    for checkpoint in checkpoints:
        yield {"type": "checkpoint", "tree_size": checkpoint.tree_size, "token": checkpoint.token}
    notes = [(c.tree_size, c.cosigned_note) for c in checkpoints if c.cosigned_note]
    for size, note in notes:
        yield {"type": "note", "tree_size": size, "note": note}
    count, start = 0, 0
    while rows := await store.scan(start, page):
        columns = await store.columns(rows[0].seq, rows[-1].seq + 1)
        for row in rows:
            held = columns.get(row.seq)
            yield {
                "type": "entry",
                "seq": row.seq,
                "entry_hash": row.entry_hash,
                "body": row.body,
                "decision_id": held.decision_id if held else None,
                "event_id": held.event_id if held else None,
                "recorded_at": held.recorded_at if held else None,
                "terms": sorted(held.terms) if held else [],
            }
        count += len(rows)
        start = rows[-1].seq + 1
    yield {"type": "end", "entries": count, "checkpoints": len(checkpoints), "notes": len(notes)}


async def write_export(
    store: LedgerStore,
    out: TextIO,
    *,
    page: int = DEFAULT_PAGE,
    on_entries: Callable[[int], None] | None = None,
) -> ExportSummary:
    """Write a store's export to ``out``, one record a line.

    Args:
        store: an open store (read-only is enough).
        out: a text stream opened for writing.
        page: rows read per query.
        on_entries: told the number of entries written so far, after each page.

    Returns:
        The ledger id and the counts written.

    Raises:
        LedgerError: ``ledger.unavailable`` when the store cannot be read.
    """
    ledger_id, entries, checkpoints, notes = "", 0, 0, 0
    async for record in export_records(store, page=page):
        out.write(_line(record))
        kind = record["type"]
        if kind == "entry":
            entries += 1
            if on_entries is not None and entries % page == 0:
                on_entries(entries)
        elif kind == "checkpoint":
            checkpoints += 1
        elif kind == "note":
            notes += 1
        elif kind == EXPORT_TYPE:
            ledger_id = record["ledger_id"]
    if on_entries is not None:
        on_entries(entries)
    return ExportSummary(ledger_id, entries, checkpoints, notes)
