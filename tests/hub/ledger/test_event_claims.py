"""One event id, one content: the ledger settles it under its write lock, on both stores."""

from __future__ import annotations

import asyncio
import uuid
from typing import TYPE_CHECKING, Any

import pytest

from hub.ledger.base import ErrorCode, LedgerError
from hub.ledger.service import EventClaim

if TYPE_CHECKING:
    from collections.abc import Callable

    from hub.ledger.entries import EntryDraft, LedgerEntry
    from hub.ledger.service import Ledger

DIGEST_ONE = "d_" + "1" * 43
DIGEST_TWO = "d_" + "2" * 43


def _claim(event_id: uuid.UUID, digest: str) -> EventClaim:
    return EventClaim(event_id, lambda entry: entry.content_digest == digest)


def _decision(
    draft: Callable[..., EntryDraft], event_id: uuid.UUID, digest: str
) -> list[EntryDraft]:
    """The drafts one content of an event makes: two recipients, fresh decision ids."""
    return [
        draft(event_id=event_id, content_digest=digest, recipient=recipient)
        for recipient in ("health", "probation")
    ]


async def _outcome(
    ledger: Ledger, drafts: list[EntryDraft], claim: EventClaim
) -> tuple[list[LedgerEntry], bool] | str:
    try:
        return await ledger.record_event(drafts, claim)
    except LedgerError as error:
        return error.code.value


async def test_first_content_is_recorded_and_the_same_again_is_found(
    harness: Any, draft: Callable[..., EntryDraft]
) -> None:
    """An event recorded once is found again for the same content, with nothing added."""
    ledger = await harness.ledger()
    event_id = uuid.uuid4()
    recorded, seen = await ledger.record_event(
        _decision(draft, event_id, DIGEST_ONE), _claim(event_id, DIGEST_ONE)
    )
    assert not seen
    again, seen = await ledger.record_event(
        _decision(draft, event_id, DIGEST_ONE), _claim(event_id, DIGEST_ONE)
    )
    assert seen
    assert again == recorded
    assert await ledger.size() == 2


async def test_other_content_under_a_recorded_event_id_is_refused(
    harness: Any, draft: Callable[..., EntryDraft]
) -> None:
    """Other content under a recorded event id fails ledger.event_conflict and adds nothing."""
    ledger = await harness.ledger()
    event_id = uuid.uuid4()
    await ledger.record_event(_decision(draft, event_id, DIGEST_ONE), _claim(event_id, DIGEST_ONE))
    with pytest.raises(LedgerError) as refused:
        await ledger.record_event(
            _decision(draft, event_id, DIGEST_TWO), _claim(event_id, DIGEST_TWO)
        )
    assert refused.value.code is ErrorCode.EVENT_CONFLICT
    assert await ledger.size() == 2


async def test_concurrent_contents_in_one_worker_record_exactly_one(
    harness: Any, draft: Callable[..., EntryDraft]
) -> None:
    """Twenty pairs sent at once through one ledger (one batch): one of each pair is recorded."""
    ledger = await harness.ledger()
    calls = []
    for _ in range(20):
        event_id = uuid.uuid4()
        calls += [
            _outcome(ledger, _decision(draft, event_id, digest), _claim(event_id, digest))
            for digest in (DIGEST_ONE, DIGEST_TWO)
        ]
    outcomes = await asyncio.gather(*calls)
    for first, second in zip(outcomes[::2], outcomes[1::2], strict=True):
        assert sorted([isinstance(first, str), isinstance(second, str)]) == [False, True]
        assert "ledger.event_conflict" in (first, second)
    entries = await ledger.read()
    assert len(entries) == 40
    by_event: dict[uuid.UUID | None, set[str | None]] = {}
    for entry in entries:
        by_event.setdefault(entry.event_id, set()).add(entry.content_digest)
    assert all(len(digests) == 1 for digests in by_event.values())


async def test_concurrent_contents_in_two_workers_record_exactly_one(
    harness: Any, draft: Callable[..., EntryDraft]
) -> None:
    """Two ledgers on one database (two hub workers) racing on ten event ids: one content each."""
    one, two = await harness.ledger(), await harness.ledger()
    calls, events = [], []
    for _ in range(10):
        event_id = uuid.uuid4()
        events.append(event_id)
        calls.append(
            _outcome(one, _decision(draft, event_id, DIGEST_ONE), _claim(event_id, DIGEST_ONE))
        )
        calls.append(
            _outcome(two, _decision(draft, event_id, DIGEST_TWO), _claim(event_id, DIGEST_TWO))
        )
    outcomes = await asyncio.gather(*calls)
    assert outcomes.count("ledger.event_conflict") == 10
    entries = await one.read()
    assert len(entries) == 20
    for event_id in events:
        digests = {e.content_digest for e in entries if e.event_id == event_id}
        assert len(digests) == 1


async def test_the_same_content_at_once_is_recorded_once(
    harness: Any, draft: Callable[..., EntryDraft]
) -> None:
    """The same content twice at once (other salts, other decision ids): recorded once, found."""
    one, two = await harness.ledger(), await harness.ledger()
    event_id = uuid.uuid4()
    results = await asyncio.gather(
        one.record_event(_decision(draft, event_id, DIGEST_ONE), _claim(event_id, DIGEST_ONE)),
        two.record_event(_decision(draft, event_id, DIGEST_ONE), _claim(event_id, DIGEST_ONE)),
    )
    assert sorted(seen for _, seen in results) == [False, True]
    assert results[0][0] == results[1][0]
    assert await one.size() == 2


async def test_consultations_and_refusals_about_the_event_do_not_count(
    harness: Any, draft: Callable[..., EntryDraft]
) -> None:
    """Only disclosure entries settle an event id: a refusal about it does not block it."""
    ledger = await harness.ledger()
    event_id = uuid.uuid4()
    await ledger.append(
        [draft(kind="refusal", event_id=event_id, outcome="refused", groups_withheld=())]
    )
    _, seen = await ledger.record_event(
        _decision(draft, event_id, DIGEST_ONE), _claim(event_id, DIGEST_ONE)
    )
    assert not seen
