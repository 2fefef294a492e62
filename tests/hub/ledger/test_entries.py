"""Entries and the hash chain: what an entry may hold, its canonical bytes and its hash."""

from __future__ import annotations

import hashlib
import json
import uuid
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING

import pytest
import rfc8785
from pydantic import ValidationError

from hub.ledger import chain
from hub.ledger.base import ErrorCode, LedgerError, StoredEntry
from hub.ledger.entries import GENESIS_HASH, EntryDraft, LedgerEntry

if TYPE_CHECKING:
    from collections.abc import Callable


def test_entry_hash_is_sha256_of_rfc8785_without_entry_hash(
    draft: Callable[..., EntryDraft],
) -> None:
    """entry_hash is SHA-256 over the RFC 8785 JSON of every other field, seq and prev_hash too."""
    row = chain.seal(draft(), 0, GENESIS_HASH)
    entry = chain.parse(row)
    fields = json.loads(row.body)
    assert "entry_hash" not in fields
    assert fields["seq"] == 0
    assert fields["prev_hash"] == "0" * 64
    assert row.body.encode() == rfc8785.dumps(fields)
    assert entry.entry_hash == hashlib.sha256(row.body.encode()).hexdigest()
    assert chain.body_of(entry) == row.body


def test_body_round_trips_byte_for_byte(draft: Callable[..., EntryDraft]) -> None:
    """Parsing a body and serialising the entry again gives the same bytes, any time zone."""
    moment = datetime(2026, 3, 1, 9, 30, 0, 120, tzinfo=timezone(timedelta(hours=2)))
    row = chain.seal(draft(recorded_at=moment), 7, "ab" * 32)
    entry = chain.parse(row)
    assert json.loads(row.body)["recorded_at"] == "2026-03-01T07:30:00.000120Z"
    assert entry.recorded_at == moment
    assert chain.stored_of(entry) == StoredEntry(7, row.body, row.entry_hash)


def test_groups_and_persons_are_kept_sorted_and_distinct(
    draft: Callable[..., EntryDraft],
) -> None:
    """Sets given in any order become one sorted tuple, so one decision has one hash."""
    one = draft(groups_disclosed=frozenset("EAC"), groups_withheld=["G", "F", "G"])
    assert one.groups_disclosed == ("A", "C", "E")
    assert one.groups_withheld == ("F", "G")


@pytest.mark.parametrize(
    "change",
    [
        {"case_reference": "MASIP-2026-000123"},
        {"victim_name": "Jane"},
        {"groups_disclosed": ("Z",)},
        {"case_pseudonym": "MASIP-2026-000123"},
        {"person_pseudonyms": ("P-0123456789",)},
        {"recorded_at": datetime(2026, 1, 1)},  # noqa: DTZ001 - a naive time is the point
        {"kind": "gossip"},
        {"outcome": "Disclosed to Jane Smith"},
        {"reason_code": "free text, with spaces"},
        {"clause": "line one\nline two"},
        {"provider": "Police Service"},
    ],
    ids=lambda change: next(iter(change)),
)
def test_drafts_refuse_clear_data_and_free_text(
    draft: Callable[..., EntryDraft], change: dict[str, object]
) -> None:
    """No field takes a clear reference, a name, free text or an unknown group."""
    with pytest.raises(ValidationError):
        draft(**change)


def test_consultation_and_refusal_entries(draft: Callable[..., EntryDraft]) -> None:
    """A refusal carries its reason code; a consultation names the console user."""
    refusal = draft(kind="refusal", outcome="refused", reason_code="signature.invalid",
                    recipient=None, groups_disclosed=(), groups_withheld=())  # fmt: skip
    consult = EntryDraft(
        kind="consultation",
        decision_id=uuid.uuid4(),
        recorded_at=refusal.recorded_at,
        outcome="consulted",
        actor="ig-officer-7",
        case_pseudonym=refusal.case_pseudonym,
    )
    for one in (refusal, consult):
        assert chain.parse(chain.seal(one, 0, GENESIS_HASH)).draft() == one


def test_a_body_that_does_not_match_its_hash_is_refused(draft: Callable[..., EntryDraft]) -> None:
    """Parsing a row whose body was edited raises ledger.hash_mismatch."""
    row = chain.seal(draft(), 3, GENESIS_HASH)
    edited = StoredEntry(3, row.body.replace('"health"', '"advocacy"'), row.entry_hash)
    with pytest.raises(LedgerError) as caught:
        chain.parse(edited)
    assert caught.value.code is ErrorCode.HASH_MISMATCH


@pytest.mark.parametrize(
    "body",
    ["not json", "[1, 2]", '{"seq": 0}', None],
    ids=["text", "array", "incomplete", "spaced"],
)
def test_a_rehashed_body_that_is_not_a_canonical_entry_is_refused(
    draft: Callable[..., EntryDraft], body: str | None
) -> None:
    """A body with a matching hash but not canonical JSON of an entry is ledger.entry_malformed."""
    if body is None:
        body = json.dumps(json.loads(chain.seal(draft(), 0, GENESIS_HASH).body), indent=1)
    with pytest.raises(LedgerError) as caught:
        chain.parse(StoredEntry(0, body, chain.hash_body(body)))
    assert caught.value.code is ErrorCode.ENTRY_MALFORMED
    assert "Jane" not in str(caught.value)


def test_entry_is_a_draft_in_its_place(draft: Callable[..., EntryDraft]) -> None:
    """A committed entry is frozen and gives back exactly its draft."""
    original = draft()
    entry = chain.parse(chain.seal(original, 0, GENESIS_HASH))
    assert isinstance(entry, LedgerEntry)
    assert entry.draft() == original
    with pytest.raises(ValidationError):
        entry.seq = 5  # type: ignore[misc]


def test_a_committed_entry_given_as_a_draft_brings_no_old_place(
    draft: Callable[..., EntryDraft],
) -> None:
    """Sealing a committed entry again uses only its draft fields, not its old seq or hashes."""
    entry = chain.parse(chain.seal(draft(), 4, "ab" * 32))
    again = chain.parse(chain.seal(entry, 0, GENESIS_HASH))
    assert (again.seq, again.prev_hash) == (0, GENESIS_HASH)
    assert again.draft() == entry.draft()


def test_a_disclosed_group_without_its_grant_is_refused(draft: Callable[..., EntryDraft]) -> None:
    """Format 2: every disclosed group has a recorded grant, and every grant a disclosed group."""
    honest = draft()
    [grant] = honest.grants
    fields = honest.draft_fields()
    narrower = grant.model_copy(update={"groups": ("A", "C")})
    with pytest.raises(ValidationError, match="grants hold exactly the disclosed groups"):
        EntryDraft(**{**fields, "grants": (narrower,)})  # type: ignore[arg-type]
    with pytest.raises(ValidationError, match="grants hold exactly the disclosed groups"):
        EntryDraft(**{**fields, "grants": ()})  # type: ignore[arg-type]


def test_a_withheld_group_without_its_reason_is_refused(draft: Callable[..., EntryDraft]) -> None:
    """Format 2: each withheld group has one reason; a safety rule reason names the rule."""
    fields = draft().draft_fields()
    with pytest.raises(ValidationError, match="every withheld group has its reason"):
        EntryDraft(**{**fields, "withheld": ()})  # type: ignore[arg-type]
    with pytest.raises(ValidationError, match="names its rule"):
        draft(
            withheld=(
                {"group": "F", "reason": "safety_rule"},
                {"group": "G", "reason": "not_granted"},
            )
        )


def test_a_primary_clause_that_is_no_grant_is_refused(draft: Callable[..., EntryDraft]) -> None:
    """The top-level clause, purpose and lawful basis are one of the grants'."""
    with pytest.raises(ValidationError, match="primary clause is one of the grants"):
        draft(purpose="another-purpose", grants=draft().grants)


def test_a_format_1_entry_keeps_its_bytes(draft: Callable[..., EntryDraft]) -> None:
    """A format 1 entry serialises without any format 2 field; one with one is refused."""
    old = draft(format=1, grants=(), withheld=(), clause="a@1#b;a@1#c")
    body = chain.seal(old, 0, GENESIS_HASH).body
    assert "format" not in json.loads(body)
    assert not {"persons", "grants", "withheld", "content_digest", "criteria"} & set(
        json.loads(body)
    )
    assert chain.parse(chain.seal(old, 0, GENESIS_HASH)).clauses == ("a@1#b", "a@1#c")
    with pytest.raises(ValidationError, match="format 1 entry holds no format 2 field"):
        draft(format=1, withheld=(), content_digest="d_" + "A" * 43, grants=())
