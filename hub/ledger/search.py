"""Searching the ledger through a derived index, with every hit checked against its entry.

The stores keep two side tables beside the entries, written in the same write
transaction as the entries they describe (and backfilled when a store opens a
ledger written before they existed):

- ``ledger_entry_terms (term, seq)``: one row per searchable value of an entry,
  spelt ``name:value``: ``case:c_...``, ``person:p_...``, ``party:police`` (provider
  or recipient), ``provider:``, ``recipient:``, ``agreement:``, ``type:``, ``kind:``,
  ``actor:``; on a delivery receipt ``receipted:<decision id>`` for each delivery it
  covers and ``erase-by:<day>`` for each retention end its items acknowledge, on an
  erasure receipt ``erased:<decision id>`` for each;
- ``ledger_entry_times (seq, recorded_at)``: when each entry was recorded.

A search asks the index for the positions holding every term, then reads those
entries' bodies and keeps only the ones whose parsed, hash-checked entry really
matches the query. The entry bodies stay authoritative and the index is only a
way to find them: an index row someone added or changed can at most make a search
read an entry it then drops, never return an entry that does not match, and a
removed index row can at most hide an entry from searches. The hash chain and the
signed checkpoints cover the entries; ``hub audit verify`` also checks each
entry's index rows against its body (:func:`column_problem`), so an index row
removed to hide an entry is found.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Final

from hub import safejson
from hub.ledger import chain
from hub.ledger.base import ErrorCode, IndexQuery, LedgerError, StoredColumns
from hub.logs import get_logger

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Mapping, Sequence

    from hub.ledger.base import LedgerStore, NewEntry, StoredEntry
    from hub.ledger.entries import EntryKind, LedgerEntry

_log = get_logger("hub.ledger.search")
#: Most entries one search page returns.
MAX_LIMIT: Final = 500
DEFAULT_LIMIT: Final = 100
#: Entry fields indexed as one term each, by term name.
_SINGLE: Final = (
    ("case", "case_pseudonym"),
    ("provider", "provider"),
    ("recipient", "recipient"),
    ("agreement", "agreement_id"),
    ("type", "event_type"),
    ("kind", "kind"),
    ("actor", "actor"),
)


@dataclass(frozen=True)
class IndexRow:
    """What the index holds about one entry: its position, time and terms."""

    seq: int
    recorded_at: datetime | None
    terms: frozenset[str]


def terms_of(fields: Mapping[str, Any]) -> frozenset[str]:
    """The index terms of an entry, from its fields (pure).

    Args:
        fields: the entry's fields as parsed from its body (JSON values).
    """
    terms = {f"{name}:{fields[key]}" for name, key in _SINGLE if isinstance(fields.get(key), str)}
    persons = fields.get("person_pseudonyms")
    if isinstance(persons, list):
        terms |= {f"person:{person}" for person in persons if isinstance(person, str)}
    terms |= {
        f"party:{fields[k]}" for k in ("provider", "recipient") if isinstance(fields.get(k), str)
    }
    receipt = fields.get("receipt")
    if isinstance(receipt, dict) and isinstance(receipt.get("items"), list):
        items = [item for item in receipt["items"] if isinstance(item, dict)]
        done = "erased" if fields.get("outcome") == "erased" else "receipted"
        ids = [i["decision_id"] for i in items if isinstance(i.get("decision_id"), str)]
        terms |= {f"{done}:{decision_id}" for decision_id in ids}
        terms |= {f"erase-by:{i['until']}" for i in items if isinstance(i.get("until"), str)}
    return frozenset(terms)


def parse_time(text: str) -> datetime:
    """Read an entry's ``recorded_at`` (``...Z``) as an aware UTC time.

    Raises:
        ValueError: not an ISO 8601 time.
    """
    return datetime.fromisoformat(text).astimezone(UTC)


def index_row(seq: int, body: str) -> IndexRow:
    """Derive the index row of one stored body; best effort for a body that does not parse.

    A body that is not JSON, or has no readable time, is indexed with what can be
    read (possibly nothing): it then cannot be found by those terms, and
    verification, not the index, reports it.
    """
    try:
        fields = safejson.loads(body)
    except ValueError:
        return IndexRow(seq, None, frozenset())
    if not isinstance(fields, dict):
        return IndexRow(seq, None, frozenset())
    return _index_of(seq, fields)


def _index_of(seq: int, fields: Mapping[str, Any]) -> IndexRow:
    try:
        at: datetime | None = parse_time(str(fields.get("recorded_at")))
    except ValueError:
        at = None
    return IndexRow(seq, at, terms_of(fields))


def new_index_rows(entries: Sequence[NewEntry]) -> list[IndexRow]:
    """The index rows of entries about to be inserted (pure).

    Each is derived from the fields the writer sealed the entry from, when it
    holds them, instead of parsing the body it has just made; the same as
    :func:`index_row` of the body, since the body is those fields' canonical JSON.
    """
    return [
        index_row(e.seq, e.body) if e.fields is None else _index_of(e.seq, e.fields)
        for e in entries
    ]


def stored_columns(
    ids: Iterable[Sequence[Any]],
    times: Iterable[Sequence[Any]],
    terms: Iterable[Sequence[Any]],
    spell: Callable[[Any], str],
) -> dict[int, StoredColumns]:
    """Gather a store's ``(seq, decision_id, event_id)``, ``(seq, time)`` and ``(seq, term)`` rows.

    Args:
        ids: rows of the entries table.
        times: rows of the index's times.
        terms: rows of the index's terms.
        spell: how a stored time is written as entries write it.
    """
    at = {int(seq): (None if value is None else spell(value)) for seq, value in times}
    held: dict[int, set[str]] = {}
    for seq, term in terms:
        held.setdefault(int(seq), set()).add(str(term))
    return {
        int(seq): StoredColumns(
            int(seq),
            None if decision is None else str(decision),
            None if event is None else str(event),
            at.get(int(seq)),
            frozenset(held.get(int(seq), ())),
        )
        for seq, decision, event in ids
    }


def column_problem(entry: LedgerEntry, columns: StoredColumns | None) -> LedgerError | None:
    """What is wrong with the columns and index rows stored beside ``entry``, if anything.

    Returns:
        ``ledger.column_mismatch`` when the ``decision_id`` or ``event_id`` column
        differs from the body (the hub finds entries by them), ``ledger.index_mismatch``
        when the search index's time or terms differ from the body's (a search
        would miss the entry, a subject access report among them); None when all agree.
    """
    at = entry.seq
    event_id = None if entry.event_id is None else str(entry.event_id)
    if columns is None or columns.decision_id != str(entry.decision_id):
        return LedgerError(ErrorCode.COLUMN_MISMATCH, f"entry {at}: decision_id column differs")
    if columns.event_id != event_id:
        return LedgerError(ErrorCode.COLUMN_MISMATCH, f"entry {at}: event_id column differs")
    fields = entry.model_dump(mode="json")
    if columns.recorded_at != fields["recorded_at"] or columns.terms != terms_of(fields):
        return LedgerError(ErrorCode.INDEX_MISMATCH, f"entry {at}: search index rows differ")
    return None


def index_sql(
    query: IndexQuery, mark: Callable[[int], str], time: Callable[[datetime], Any]
) -> tuple[str, list[Any]]:
    """The SELECT that finds the candidate rows of ``query``, in either SQL dialect.

    The first term drives the query through the ``(term, seq)`` key, in ``seq``
    order, so a page stops reading at its limit; further terms and the time range
    are existence checks on the same keys. Only placeholders are interpolated.

    Args:
        query: what to find.
        mark: the placeholder for the n-th parameter (``?`` or ``$n``).
        time: how a time parameter is passed to the driver.
    """
    parameters: list[Any] = []

    def bind(value: Any) -> str:
        parameters.append(value)
        return mark(len(parameters))

    terms = list(query.terms)
    if terms:
        source = "ledger_entry_terms d JOIN ledger_entries e ON e.seq = d.seq"
        where = [f"d.term = {bind(terms.pop(0))}", f"d.seq > {bind(query.after)}"]
        order = "d.seq"
    else:
        source, where, order = "ledger_entries e", [f"e.seq > {bind(query.after)}"], "e.seq"
    holds = "EXISTS (SELECT 1 FROM ledger_entry_terms x WHERE x.term = {} AND x.seq = e.seq)"
    where += [holds.format(bind(term)) for term in terms]
    window = []
    if query.since is not None:
        window.append(f"t.recorded_at >= {bind(time(query.since))}")
    if query.until is not None:
        window.append(f"t.recorded_at < {bind(time(query.until))}")
    if window:
        joined = " AND ".join(["t.seq = e.seq", *window])
        where.append(f"EXISTS (SELECT 1 FROM ledger_entry_times t WHERE {joined})")  # noqa: S608 - placeholders only
    sql = (
        f"SELECT e.seq, e.body, e.entry_hash FROM {source} WHERE {' AND '.join(where)}"  # noqa: S608 - placeholders only
        f" ORDER BY {order} LIMIT {bind(query.limit)}"
    )
    return sql, parameters


@dataclass(frozen=True)
class SearchQuery:
    """A ledger search: every criterion given must hold; pages follow ``seq`` order.

    Attributes:
        case: a case pseudonym (``c_...``).
        person: a person pseudonym (``p_...``).
        party: a party that provided or received the entry's event.
        agreement: an agreement id.
        event_type: an event type.
        kind: ``disclosure``, ``refusal`` or ``consultation``.
        actor: who consulted (consultation entries).
        since: recorded at or after this time.
        until: recorded before this time.
        after: only entries after this position (the previous page's cursor).
        limit: most entries in the page, 1 to :data:`MAX_LIMIT`.
    """

    case: str | None = None
    person: str | None = None
    party: str | None = None
    agreement: str | None = None
    event_type: str | None = None
    kind: EntryKind | None = None
    actor: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    after: int = -1
    limit: int = DEFAULT_LIMIT

    def __post_init__(self) -> None:
        """Refuse bounds a store should never be asked.

        Raises:
            ValueError: a limit outside 1..500, a cursor below -1, or a naive time.
        """
        if not 1 <= self.limit <= MAX_LIMIT:
            raise ValueError(f"limit must be 1 to {MAX_LIMIT}")
        if self.after < -1:
            raise ValueError("after must be -1 or a position")
        for at in (self.since, self.until):
            if at is not None and at.tzinfo is None:
                raise ValueError("times must carry a time zone")

    def terms(self) -> tuple[str, ...]:
        """The index terms an entry must hold to match."""
        pairs = (
            ("case", self.case),
            ("person", self.person),
            ("party", self.party),
            ("agreement", self.agreement),
            ("type", self.event_type),
            ("kind", self.kind),
            ("actor", self.actor),
        )
        return tuple(f"{name}:{value}" for name, value in pairs if value is not None)

    def index_query(self) -> IndexQuery:
        """What the store's index is asked."""
        return IndexQuery(self.terms(), self.after, self.since, self.until, self.limit)

    def matches(self, entry: LedgerEntry) -> bool:
        """Whether ``entry`` itself meets every criterion (the re-check of an index hit)."""
        equal = (
            (self.case, entry.case_pseudonym),
            (self.agreement, entry.agreement_id),
            (self.event_type, entry.event_type),
            (self.kind, entry.kind),
            (self.actor, entry.actor),
        )
        return (
            entry.seq > self.after
            and all(wanted is None or wanted == held for wanted, held in equal)
            and (self.person is None or self.person in entry.person_pseudonyms)
            and (self.party is None or self.party in (entry.provider, entry.recipient))
            and (self.since is None or entry.recorded_at >= self.since)
            and (self.until is None or entry.recorded_at < self.until)
        )


@dataclass(frozen=True)
class SearchPage:
    """One page of results and where the next begins.

    Attributes:
        entries: the matching entries, in ``seq`` order.
        next_after: the cursor for the next page (its ``after``); None at the end.
    """

    entries: tuple[LedgerEntry, ...]
    next_after: int | None


def _checked(row: StoredEntry, query: SearchQuery) -> LedgerEntry | None:
    try:
        entry = chain.parse(row)
    except LedgerError as error:
        # A broken row is verification's finding; a search neither fails on it nor shows it.
        _log.warning("ledger.search_skipped", code=error.code.value, seq=row.seq)
        return None
    if entry.seq != row.seq or not query.matches(entry):
        _log.warning("ledger.index_mismatch", seq=row.seq)
        return None
    return entry


async def search_store(store: LedgerStore, query: SearchQuery) -> SearchPage:
    """Find one page of entries matching ``query``, each re-checked against its own body.

    Raises:
        LedgerError: ``ledger.unavailable`` or ``ledger.closed``.
    """
    rows = await store.search(query.index_query())
    found = tuple(e for e in (_checked(row, query) for row in rows) if e is not None)
    next_after = rows[-1].seq if len(rows) == query.limit else None
    return SearchPage(found, next_after)
