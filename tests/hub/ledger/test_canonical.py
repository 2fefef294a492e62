"""The ledger's canonical JSON fast path writes exactly the RFC 8785 bytes, and sealing is exact."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import pytest
import rfc8785
from hypothesis import given
from hypothesis import strategies as st
from json_values import json_objects

from hub import safejson
from hub.ledger import chain
from hub.ledger.entries import GENESIS_HASH, EntryDraft, GrantRecord, WithheldGroup

_KEYS = st.text(st.characters(max_codepoint=0x7F), max_size=8) | st.text(max_size=4)
_SCALARS = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**60), max_value=2**60)
    | st.text(max_size=12)
    | st.text(st.characters(max_codepoint=0x20), max_size=6)
)
_DOCUMENTS = json_objects(_KEYS, _SCALARS, max_size=6)


def _reference(document: dict[str, Any]) -> str | None:
    try:
        return rfc8785.dumps(document).decode("utf-8")
    except (rfc8785.CanonicalizationError, ValueError, TypeError):
        return None


@given(_DOCUMENTS)
def test_canonical_equals_rfc8785(document: dict[str, Any]) -> None:
    """Whatever path it takes, canonical() writes the bytes the RFC 8785 library writes."""
    expected = _reference(document)
    if expected is not None:
        assert safejson.canonical(document) == expected


def test_control_characters_and_non_ascii_match_rfc8785() -> None:
    """Control characters, quotes, backslashes, U+2028 and astral characters match exactly."""
    text = "".join(chr(c) for c in range(0x20)) + '"\\/\x7f\u2028\u00e9\U0001f600'
    plain: dict[str, Any] = {
        "b": text,
        "a": [1, -(2**53) + 1, 2**53 - 1, True, False, None],
        "B": {"z": text},
    }
    keys: dict[str, Any] = {"\u00e9": "non-ascii key", "\U0001f600": 1, "\uff61": 2, "a": 0}
    for document in (plain, keys):
        assert safejson.canonical(document) == rfc8785.dumps(document).decode("utf-8")


def test_floats_take_the_rfc8785_path() -> None:
    """A float is written in RFC 8785's number form (1e+21), not Python's (1e21)."""
    assert safejson.canonical({"x": 1e21}) == '{"x":1e+21}'


def test_sealed_entry_is_what_its_row_parses_to() -> None:
    """The entry the writer builds beside a row is the one parse() reads back from the row."""
    draft = EntryDraft(
        kind="disclosure",
        decision_id=uuid.uuid4(),
        recorded_at=datetime(2026, 1, 2, 3, 4, 5, 6, tzinfo=UTC),
        event_id=uuid.uuid4(),
        event_type="ReferralReceived",
        recipient="health",
        provider="police",
        groups_disclosed=("E", "A"),
        groups_withheld=("G",),
        agreement_id="masip-exampleshire",
        agreement_version=1,
        clause="masip-exampleshire@1#police-to-health-core",
        purpose="assess-and-treat",
        lawful_basis="UK GDPR Art 6(1)(e)",
        grants=(
            GrantRecord(
                agreement_id="masip-exampleshire",
                agreement_version=1,
                clause="police-to-health-core",
                purpose="assess-and-treat",
                lawful_basis="UK GDPR Art 6(1)(e)",
                groups=("E", "A"),
            ),
        ),
        withheld=(WithheldGroup(group="G", reason="safety_rule", rule="no-g"),),
        outcome="disclosed",
    )
    row, entry = chain.seal_entry(draft, 7, GENESIS_HASH)
    assert row == chain.seal(draft, 7, GENESIS_HASH)
    assert chain.parse(row) == entry
    assert chain.body_of(entry) == row.body
    assert entry.seq == 7
    assert entry.prev_hash == GENESIS_HASH


def test_integers_beyond_a_double_are_refused_as_before() -> None:
    """An integer a double cannot hold is refused, as RFC 8785 refuses it, not written."""
    with pytest.raises(rfc8785.CanonicalizationError):
        safejson.canonical({"x": 2**53})
