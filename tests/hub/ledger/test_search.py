"""Ledger search on SQLite and PostgreSQL: the index finds, the entry bodies decide."""

from __future__ import annotations

import contextlib
import sqlite3
import uuid
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import pytest

from hub.ledger.base import ErrorCode, IndexQuery, LedgerError
from hub.ledger.checkpoints import CheckpointPolicy
from hub.ledger.search import MAX_LIMIT, SearchQuery, index_sql, terms_of
from hub.ledger.service import Ledger, LedgerConfig

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Callable

    from hub.ledger.base import Head, LedgerStore, NewEntry
    from hub.ledger.entries import EntryDraft, LedgerEntry

NO_TIMER = LedgerConfig(checkpoints=CheckpointPolicy(every_entries=10_000, every_seconds=3600))
T0 = datetime(2026, 5, 1, 9, 0, tzinfo=UTC)
CASE_1, CASE_2 = "c_" + "1" * 43, "c_" + "2" * 43
ANNA, BEN, CARL = "p_" + "a" * 43, "p_" + "b" * 43, "p_" + "c" * 43


@pytest.fixture
async def filled(
    harness: Any, draft: Callable[..., EntryDraft]
) -> tuple[Ledger, list[LedgerEntry]]:
    """Six entries across two cases, three people, four parties, both kinds and a week."""
    ledger = await harness.ledger(NO_TIMER, sign=False)
    drafts = [
        draft(case_pseudonym=CASE_1, person_pseudonyms=(ANNA, BEN), recorded_at=T0),
        draft(
            case_pseudonym=CASE_1,
            person_pseudonyms=(ANNA,),
            recipient="advocacy",
            event_type="VictimSafetyPlanUpdated",
            recorded_at=T0 + timedelta(days=1),
        ),
        draft(
            case_pseudonym=CASE_2,
            person_pseudonyms=(CARL,),
            provider="probation",
            agreement_id="other-isa",
            recorded_at=T0 + timedelta(days=2),
        ),
        draft(
            kind="refusal",
            case_pseudonym=None,
            person_pseudonyms=(),
            recipient=None,
            agreement_id=None,
            outcome="refused",
            reason_code="signature.invalid",
            recorded_at=T0 + timedelta(days=3),
        ),
        draft(
            kind="consultation",
            event_id=None,
            case_pseudonym=CASE_1,
            person_pseudonyms=(BEN,),
            provider=None,
            recipient=None,
            agreement_id=None,
            outcome="console.search",
            actor="ig-officer",
            purpose="audit",
            recorded_at=T0 + timedelta(days=4),
        ),
        draft(case_pseudonym=CASE_1, person_pseudonyms=(BEN,), recorded_at=T0 + timedelta(days=5)),
    ]
    entries = [(await ledger.append([d]))[0] for d in drafts]
    return ledger, entries


async def seqs(ledger: Ledger, **criteria: Any) -> list[int]:
    """The positions a search with ``criteria`` returns."""
    page = await ledger.search(SearchQuery(**criteria))
    return [entry.seq for entry in page.entries]


@pytest.mark.parametrize(
    ("criteria", "expected"),
    [
        ({"case": CASE_1}, [0, 1, 4, 5]),
        ({"person": ANNA}, [0, 1]),
        ({"person": BEN}, [0, 4, 5]),
        ({"person": BEN, "case": CASE_1, "kind": "disclosure"}, [0, 5]),
        ({"party": "advocacy"}, [1]),
        ({"party": "probation"}, [2]),
        ({"party": "police"}, [0, 1, 3, 5]),
        ({"agreement": "other-isa"}, [2]),
        ({"event_type": "VictimSafetyPlanUpdated"}, [1]),
        ({"kind": "refusal"}, [3]),
        ({"kind": "consultation", "actor": "ig-officer"}, [4]),
        ({"since": T0 + timedelta(days=2)}, [2, 3, 4, 5]),
        ({"until": T0 + timedelta(days=2)}, [0, 1]),
        (
            {"case": CASE_1, "since": T0 + timedelta(days=1), "until": T0 + timedelta(days=5)},
            [1, 4],
        ),
        ({}, [0, 1, 2, 3, 4, 5]),
        ({"person": CARL, "case": CASE_1}, []),
    ],
)
async def test_each_criterion_finds_exactly_its_entries(
    filled: tuple[Ledger, list[LedgerEntry]], criteria: dict[str, Any], expected: list[int]
) -> None:
    """Every criterion, alone and combined, returns exactly the entries that meet it."""
    ledger, _ = filled
    assert await seqs(ledger, **criteria) == expected


async def test_pages_follow_seq_order_without_gaps_or_repeats(
    filled: tuple[Ledger, list[LedgerEntry]],
) -> None:
    """Pages of two walk the matches in seq order; the last page has no cursor."""
    ledger, _ = filled
    seen: list[int] = []
    after = -1
    for _ in range(10):
        page = await ledger.search(SearchQuery(case=CASE_1, after=after, limit=2))
        seen += [e.seq for e in page.entries]
        if page.next_after is None:
            break
        after = page.next_after
    assert seen == [0, 1, 4, 5]


def test_limits_are_bounded() -> None:
    """A page holds 1 to 500 entries; naive times are refused."""
    for limit in (0, MAX_LIMIT + 1):
        with pytest.raises(ValueError, match="limit"):
            SearchQuery(limit=limit)
    with pytest.raises(ValueError, match="time zone"):
        SearchQuery(since=datetime(2026, 1, 1))  # noqa: DTZ001 - the naive time under test


async def test_every_entry_is_indexed_in_its_own_transaction(
    filled: tuple[Ledger, list[LedgerEntry]], harness: Any
) -> None:
    """Each committed entry has its time row and the terms of its own body."""
    _, entries = filled
    times = await harness.sql("SELECT seq FROM ledger_entry_times ORDER BY seq")
    assert [row[0] for row in times] == [e.seq for e in entries]
    terms = await harness.sql("SELECT term FROM ledger_entry_terms WHERE seq = ?", 1)
    assert {row[0] for row in terms} == terms_of(entries[1].model_dump(mode="json"))
    assert {"person:" + ANNA, "party:advocacy", "type:VictimSafetyPlanUpdated"} <= {
        row[0] for row in terms
    }


class _FailAfterInsert:
    """A store whose transactions insert entries and index, then fail before committing."""

    def __init__(self, store: LedgerStore) -> None:
        self._store = store

    def __getattr__(self, name: str) -> Any:
        return getattr(self._store, name)

    @contextlib.asynccontextmanager
    async def write(self) -> AsyncIterator[Any]:
        async with self._store.write() as tx:
            yield _Failing(tx)


class _Failing:
    def __init__(self, tx: Any) -> None:
        self._tx = tx

    def __getattr__(self, name: str) -> Any:
        return getattr(self._tx, name)

    async def insert(self, entries: list[NewEntry], head: Head) -> None:
        await self._tx.insert(entries, head)
        raise LedgerError(ErrorCode.UNAVAILABLE, "simulated crash after insert")


async def test_a_failed_transaction_leaves_no_index_rows(
    harness: Any, draft: Callable[..., EntryDraft]
) -> None:
    """Entries and their index commit together: a rolled-back append leaves no term behind."""
    ledger = Ledger(_FailAfterInsert(await harness.store()), config=NO_TIMER)
    with pytest.raises(LedgerError):
        await ledger.append([draft(person_pseudonyms=(ANNA,))])
    await ledger.close()
    assert await harness.sql("SELECT term FROM ledger_entry_terms") == []
    assert await harness.sql("SELECT seq FROM ledger_entry_times") == []


async def test_a_ledger_without_the_index_is_backfilled_at_open(
    filled: tuple[Ledger, list[LedgerEntry]], harness: Any
) -> None:
    """A ledger written before the index existed is indexed when a store next opens it."""
    ledger, _ = filled
    await ledger.close()
    await harness.sql("DROP TABLE ledger_entry_terms")
    await harness.sql("DROP TABLE ledger_entry_times")
    reopened = await harness.ledger(NO_TIMER, sign=False)
    assert await seqs(reopened, person=ANNA) == [0, 1]
    assert await seqs(reopened, since=T0 + timedelta(days=5)) == [5]
    count = await harness.sql("SELECT count(*) FROM ledger_entry_times")
    assert count[0][0] == 6


async def test_a_tampered_index_cannot_misattribute_an_entry(
    filled: tuple[Ledger, list[LedgerEntry]], harness: Any
) -> None:
    """Terms and times forged onto other entries bring no entry that does not match."""
    ledger, _ = filled
    for seq in (2, 3, 4):
        await harness.sql(
            "INSERT INTO ledger_entry_terms (term, seq) VALUES (?, ?)", f"person:{ANNA}", seq
        )
    await harness.sql("DELETE FROM ledger_entry_times WHERE seq = 2")
    forged = "2026-05-01T09:00:00.000000Z" if harness.kind == "sqlite" else T0
    await harness.sql("INSERT INTO ledger_entry_times (seq, recorded_at) VALUES (?, ?)", 2, forged)
    assert await seqs(ledger, person=ANNA) == [0, 1]
    assert await seqs(ledger, until=T0 + timedelta(hours=1)) == [0]


async def test_a_removed_index_row_can_only_hide(
    filled: tuple[Ledger, list[LedgerEntry]], harness: Any
) -> None:
    """Deleting a term hides that entry from the search; nothing else changes."""
    ledger, _ = filled
    await harness.sql("DELETE FROM ledger_entry_terms WHERE seq = 1 AND term = ?", f"person:{ANNA}")
    assert await seqs(ledger, person=ANNA) == [0]


async def test_a_tampered_body_is_skipped_not_shown(
    filled: tuple[Ledger, list[LedgerEntry]], harness: Any
) -> None:
    """A hit whose body no longer matches its hash is left out of the page."""
    ledger, entries = filled
    body = entries[0].model_dump_json().replace('"police"', '"health"')
    await harness.put(0, body, entries[0].entry_hash)
    assert await seqs(ledger, person=ANNA) == [1]


def test_the_sqlite_plan_uses_the_term_key(tmp_path: Any) -> None:
    """On SQLite a person search reads the (term, seq) key, not every entry."""
    from hub.ledger.sqlite import _SCHEMA  # noqa: PLC0415 - the schema under test

    db = sqlite3.connect(tmp_path / "plan.db")
    try:
        db.executescript(_SCHEMA)
        sql, parameters = index_sql(
            IndexQuery(("person:" + ANNA, "case:" + CASE_1), 5, T0, None, 10),
            lambda _: "?",
            lambda at: at.isoformat(),
        )
        plan = " | ".join(row[3] for row in db.execute(f"EXPLAIN QUERY PLAN {sql}", parameters))
    finally:
        db.close()
    assert "SEARCH d USING PRIMARY KEY (term=? AND seq>?)" in plan, plan
    assert "SCAN e" not in plan, plan


def test_terms_name_no_identifier() -> None:
    """Index terms hold pseudonyms, ids and codes: what the entry holds, nothing more."""
    fields = {
        "kind": "disclosure",
        "case_pseudonym": CASE_1,
        "person_pseudonyms": [ANNA],
        "provider": "police",
        "recipient": "health",
        "decision_id": str(uuid.uuid4()),
    }
    assert terms_of(fields) == {
        "kind:disclosure", f"case:{CASE_1}", f"person:{ANNA}", "provider:police",
        "recipient:health", "party:police", "party:health",
    }  # fmt: skip


async def test_the_index_says_which_terms_it_holds(
    filled: tuple[Ledger, list[LedgerEntry]],
) -> None:
    """``holding`` names the terms some entry holds, and no other (in chunks past 500)."""
    ledger, _ = filled
    absent = [f"receipted:{uuid.uuid4()}" for _ in range(1200)]
    asked = [f"case:{CASE_1}", f"person:{CARL}", "kind:refusal", *absent]
    assert await ledger.store.holding(asked) == {f"case:{CASE_1}", f"person:{CARL}", "kind:refusal"}
    assert await ledger.store.holding([]) == set()


async def test_decisions_are_found_in_one_read_each_checked(
    filled: tuple[Ledger, list[LedgerEntry]],
) -> None:
    """``decisions`` returns every entry asked that exists, by its decision id."""
    ledger, entries = filled
    asked = [entries[0].decision_id, entries[4].decision_id, uuid.uuid4()]
    found = await ledger.decisions(asked)
    assert found == {e.decision_id: e for e in (entries[0], entries[4])}
    assert await ledger.decisions([]) == {}
