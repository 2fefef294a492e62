"""What recipients still owe the ledger: receipts for deliveries, erasures past retention.

Two questions an operator and an IG officer ask of the ledger (ADR 0029, ADR 0030),
answered from its search index and checked against the entries it finds:

- **Delivered, not receipted**, per recipient: disclosures (outcome ``disclosed``)
  that no delivery receipt covers (no ``receipted:<decision id>`` term); how many,
  and when the oldest was recorded. That age is also the backlog age quorum
  queues do not report. Receipts are expected from the ledger's first receipt on:
  deliveries recorded before any party signed one are not counted (a ledger from
  before receipts would otherwise owe them all).
- **Erasures overdue**, per recipient: deliveries whose retention end, as the
  recipient acknowledged it on its delivery receipt (``erase-by:<day>``), has
  passed with no erasure receipt covering them (no ``erased:<decision id>``); how
  many, and the earliest such day.

A :class:`Duties` reads incrementally: it remembers where each answer's
outstanding items begin (receipts and erasures, once recorded, are never undone),
so a refresh reads only from there on. One refresh reads at most ``budget``
entries per question and recipient, and says when a count stopped there
(``at_least``). Like any search, the index only finds: each entry found is parsed
and hash-checked, and one that does not say what the index said is skipped.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import TYPE_CHECKING, Final

from hub.ledger import chain
from hub.ledger.base import IndexQuery, LedgerError
from hub.logs import get_logger

if TYPE_CHECKING:
    import uuid
    from collections.abc import Iterable

    from hub.ledger.base import LedgerStore, StoredEntry
    from hub.ledger.entries import LedgerEntry

_log = get_logger("hub.ledger.duties")
#: Rows asked of the index at once.
PAGE: Final = 500
#: Entries one refresh reads at most, per question and recipient.
BUDGET: Final = 10_000


@dataclass(frozen=True)
class AwaitingReceipts:
    """Deliveries to one recipient that no receipt covers yet.

    Attributes:
        recipient: the party.
        count: how many (a lower bound when ``at_least``).
        oldest: when the oldest of them was recorded.
        at_least: the refresh stopped at its budget; there may be more.
    """

    recipient: str
    count: int
    oldest: datetime
    at_least: bool = False

    def age_seconds(self, now: datetime) -> float:
        """Seconds since the oldest was recorded."""
        return max(0.0, (now - self.oldest).total_seconds())


@dataclass(frozen=True)
class OverdueErasures:
    """Deliveries to one recipient past their retention end, with no erasure receipt.

    Attributes:
        recipient: the party.
        count: how many (a lower bound when ``at_least``).
        earliest: the earliest retention end among them.
        at_least: the refresh stopped at its budget; there may be more.
    """

    recipient: str
    count: int
    earliest: date
    at_least: bool = False


def _parsed(rows: Iterable[StoredEntry]) -> list[LedgerEntry]:
    """The rows' entries, each hash-checked; a row that does not parse is skipped."""
    entries = []
    for row in rows:
        try:
            entries.append(chain.parse(row))
        except LedgerError as error:
            _log.warning("ledger.duties_skipped", code=error.code.value, seq=row.seq)
    return entries


class Duties:
    """Answers to both questions, kept between refreshes (one per console)."""

    def __init__(self, store: LedgerStore, budget: int = BUDGET) -> None:
        """Read ``store``, at most ``budget`` entries per question and recipient a refresh."""
        self._store, self._budget = store, budget
        self._lock = asyncio.Lock()
        #: Position of the ledger's first receipt entry, once there is one.
        self._first_receipt: int | None = None
        #: Per recipient: every disclosure at or before this position is receipted.
        self._receipted_to: dict[str, int] = {}
        #: Every delivery whose retention ended before this day is erased.
        self._erased_before: date | None = None
        #: Receipt entries after this position are not yet looked at for late days.
        self._receipts_seen = -1

    async def _candidates(self, terms: tuple[str, ...], after: int) -> list[StoredEntry]:
        return await self._store.search(IndexQuery(terms, after=after, limit=PAGE))

    async def _start(self) -> int | None:
        """The position of the first receipt entry, if any (found once)."""
        after = -1
        while self._first_receipt is None:
            rows = await self._candidates(("kind:receipt",), after)
            found = [e for e in _parsed(rows) if e.kind == "receipt"]
            if found:
                self._first_receipt = found[0].seq
            elif len(rows) < PAGE:
                return None
            else:
                after = rows[-1].seq
        return self._first_receipt

    async def awaiting_receipts(self, recipients: Iterable[str]) -> list[AwaitingReceipts]:
        """Per recipient, the deliveries no receipt covers (only those with any).

        Raises:
            LedgerError: ``ledger.unavailable`` or ``ledger.closed``.
        """
        async with self._lock:
            start = await self._start()
            if start is None:
                return []
            owed = []
            for recipient in sorted(set(recipients)):
                after = max(start, self._receipted_to.get(recipient, start))
                found = await self._awaiting(recipient, after)
                if found is not None:
                    owed.append(found)
            return owed

    async def _awaiting(self, recipient: str, after: int) -> AwaitingReceipts | None:
        terms = ("kind:disclosure", f"recipient:{recipient}")
        waiting: list[LedgerEntry] = []
        read, complete, last = 0, False, after
        while read < self._budget:
            rows = await self._candidates(terms, last)
            delivered = [
                e
                for e in _parsed(rows)
                if e.kind == "disclosure" and e.outcome == "disclosed" and e.recipient == recipient
            ]
            wanted = {f"receipted:{e.decision_id}" for e in delivered}
            held = await self._store.holding(wanted) if wanted else set()
            waiting += [e for e in delivered if f"receipted:{e.decision_id}" not in held]
            read += len(rows)
            if rows:
                last = rows[-1].seq
            if len(rows) < PAGE:
                complete = True
                break
        self._receipted_to[recipient] = waiting[0].seq - 1 if waiting else last
        if not waiting:
            return None
        return AwaitingReceipts(recipient, len(waiting), waiting[0].recorded_at, not complete)

    async def overdue_erasures(self, today: date | None = None) -> list[OverdueErasures]:
        """Per recipient, the deliveries past their retention end with no erasure receipt.

        ``today`` (UTC by default) is not overdue yet: a retention end is the last
        day to erase on.

        Raises:
            LedgerError: ``ledger.unavailable`` or ``ledger.closed``.
        """
        today = today or datetime.now(UTC).date()
        async with self._lock:
            day = await self._first_day(today)
            if day is None:
                return []
            overdue: dict[str, list[date]] = {}
            unfinished: date | None = None
            read = 0
            while day < today and read < self._budget:
                count, owing = await self._overdue_on(day)
                read += count
                for recipient in owing:
                    overdue.setdefault(recipient, []).extend([day] * owing[recipient])
                if owing and unfinished is None:
                    unfinished = day
                day += timedelta(days=1)
            self._erased_before = unfinished or day
            stopped = day < today
            return [
                OverdueErasures(recipient, len(days), min(days), stopped)
                for recipient, days in sorted(overdue.items())
            ]

    async def _first_day(self, today: date) -> date | None:
        """The first day worth reading; None when no receipt acknowledges any day yet.

        A delivery receipt recorded late may acknowledge a day already passed over:
        the receipts recorded since the last refresh are read for such days.
        """
        if await self._start() is None:
            return None
        if self._erased_before is None:
            # The first refresh starts on the ledger's first day: no day can be earlier.
            first = _parsed(await self._store.read(0, 1))
            self._erased_before = first[0].recorded_at.astimezone(UTC).date() if first else today
            self._receipts_seen = await self._store.size() - 1
        after = self._receipts_seen
        while True:
            rows = await self._candidates(("kind:receipt",), after)
            for entry in _parsed(rows):
                if entry.receipt is not None and entry.outcome == "receipted":
                    days = [i.until for i in entry.receipt.items if i.until is not None]
                    self._erased_before = min([self._erased_before, *days])
            if rows:
                after = rows[-1].seq
            if len(rows) < PAGE:
                break
        self._receipts_seen = after
        return self._erased_before

    async def _overdue_on(self, day: date) -> tuple[int, dict[str, int]]:
        """Entries read, and per recipient the deliveries due on ``day`` not yet erased."""
        due: dict[uuid.UUID, str] = {}
        read, after = 0, -1
        while True:
            rows = await self._candidates((f"erase-by:{day.isoformat()}",), after)
            read += len(rows)
            for entry in _parsed(rows):
                if entry.receipt is None or entry.outcome != "receipted" or entry.recipient is None:
                    continue
                for item in entry.receipt.items:
                    if item.until == day:
                        due[item.decision_id] = entry.recipient
            if len(rows) < PAGE:
                break
            after = rows[-1].seq
        held = await self._store.holding({f"erased:{d}" for d in due}) if due else set()
        owing: dict[str, int] = {}
        for decision_id, recipient in due.items():
            if f"erased:{decision_id}" not in held:
                owing[recipient] = owing.get(recipient, 0) + 1
        return read, owing
