"""Properties of verification: any chain of entries is intact, any single-field change is caught."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any, Final

from hypothesis import given, settings
from hypothesis import strategies as st

from hub.crypto.checkpoint import sign_checkpoint
from hub.crypto.keys import KeyDirectory, generate_party_keys
from hub.ledger import chain
from hub.ledger.base import Head
from hub.ledger.checkpoints import tree_head
from hub.ledger.entries import (
    GENESIS_HASH,
    Criteria,
    EntryDraft,
    GrantRecord,
    LedgerEntry,
    PersonInEvent,
    ReceiptRecord,
    WithheldGroup,
)
from hub.ledger.merkle import Frontier
from hub.ledger.search import index_row, new_index_rows
from hub.ledger.verify import verify_entries

HUB: Final = generate_party_keys("hub", datetime.now(UTC) - timedelta(days=1))
DIRECTORY: Final = KeyDirectory.of(HUB)
LEDGER_ID: Final = "property-ledger"

_B64: Final = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
_PSEUDONYM: Final = st.text(_B64, min_size=43, max_size=43)
_PARTY: Final = st.sampled_from(["police", "probation", "health", "advocacy", "hub"])
_LABEL: Final = st.from_regex(r"\A[a-z][a-z0-9-]{0,20}\Z")
_GROUPS: Final = st.lists(st.sampled_from("ABCDEFGH"), unique=True).map(lambda g: tuple(sorted(g)))
_TIMES: Final = st.datetimes(
    min_value=datetime(2020, 1, 1),  # noqa: DTZ001 - hypothesis bounds are naive; zone below
    max_value=datetime(2030, 1, 1),  # noqa: DTZ001
    timezones=st.just(UTC),
)

_ANY_FIELDS: Final = {
    "kind": st.sampled_from(["disclosure", "refusal", "consultation"]),
    "decision_id": st.uuids(),
    "recorded_at": _TIMES,
    "event_id": st.none() | st.uuids(),
    "event_type": st.none() | st.sampled_from(["ReferralReceived", "RiskAssessed"]),
    "case_pseudonym": st.none() | _PSEUDONYM.map(lambda s: "c_" + s),
    "person_pseudonyms": st.lists(_PSEUDONYM.map(lambda s: "p_" + s), max_size=3, unique=True).map(
        lambda p: tuple(sorted(p))
    ),
    "provider": st.none() | _PARTY,
    "recipient": st.none() | _PARTY,
    "agreement_id": st.none() | _LABEL,
    "agreement_version": st.none() | st.integers(1, 99),
    "clause": st.none() | _LABEL,
    "purpose": st.none() | _LABEL,
    "lawful_basis": st.none() | st.just("UK GDPR Art 6(1)(e); Art 9(2)(g), DPA 2018 Sch 1 para 18"),
    "groups_disclosed": _GROUPS,
    "groups_withheld": _GROUPS,
    "policy_hash": st.none() | st.just("ab" * 32),
    "outcome": st.sampled_from(["disclosed", "nothing_disclosed", "refused", "consulted"]),
    "reason_code": st.none() | st.sampled_from(["signature.invalid", "schema.invalid"]),
    "actor": st.none() | _LABEL,
}
#: Format 1 entries, as the first ledgers hold them: any combination of fields.
format_1: Final = st.builds(EntryDraft, format=st.just(1), **_ANY_FIELDS)


@st.composite
def format_2(draw: st.DrawFn) -> EntryDraft:
    """A format 2 entry: people with roles, and grants and reasons that fit its groups."""
    values: dict[str, Any] = {name: draw(strategy) for name, strategy in _ANY_FIELDS.items()}
    values["persons"] = tuple(
        PersonInEvent(pseudonym=p, role=draw(st.sampled_from(["victim", "subject", "other"])))
        for p in values["person_pseudonyms"]
    )
    values["content_digest"] = draw(st.none() | _PSEUDONYM.map(lambda s: "d_" + s))
    if draw(st.booleans()):
        values["criteria"] = Criteria(
            agency=draw(st.none() | _PARTY), since=draw(st.none() | _TIMES)
        )
    values["withheld"] = tuple(
        WithheldGroup(group=g, reason="safety_rule", rule="no-g")
        if draw(st.booleans())
        else WithheldGroup(group=g, reason="not_granted")
        for g in values["groups_withheld"]
    )
    if values["outcome"] == "disclosed" and not values["groups_disclosed"]:
        values["groups_disclosed"] = ("A",)
    if values["outcome"] == "disclosed":
        split = draw(st.integers(0, len(values["groups_disclosed"]) - 1))
        parts = [values["groups_disclosed"][: split + 1], values["groups_disclosed"][split + 1 :]]
        grants = tuple(
            GrantRecord(
                agreement_id="masip-x",
                agreement_version=draw(st.integers(1, 9)),
                clause=f"clause-{n}",
                purpose=draw(_LABEL),
                lawful_basis="UK GDPR Art 6(1)(e)",
                groups=part,
            )
            for n, part in enumerate(parts)
            if part
        )
        primary = grants[0]
        values |= {
            "grants": grants,
            "agreement_id": primary.agreement_id,
            "agreement_version": primary.agreement_version,
            "clause": primary.reference,
            "purpose": primary.purpose,
            "lawful_basis": primary.lawful_basis,
        }
    return EntryDraft(**values)


drafts: Final = format_1 | format_2()


def _chain(items: list[EntryDraft]) -> list[LedgerEntry]:
    entries, last = [], GENESIS_HASH
    for seq, item in enumerate(items):
        entry = chain.parse(chain.seal(item, seq, last))
        entries.append(entry)
        last = entry.entry_hash
    return entries


def _checkpoint(entries: list[LedgerEntry]) -> str:
    frontier = Frontier()
    for entry in entries:
        frontier.append(chain.leaf_of(chain.body_of(entry)))
    head = Head(len(entries), entries[-1].entry_hash, tuple(h.hex() for h in frontier.hashes))
    now = datetime.now(UTC)
    return sign_checkpoint(tree_head(head, LEDGER_ID, now), HUB.signing_key(now))


_PARTS: Final[dict[str, Any]] = {
    "persons": PersonInEvent(pseudonym="p_" + "Q" * 43, role="victim"),
    "grants": GrantRecord(
        agreement_id="a",
        agreement_version=1,
        clause="c",
        purpose="p",
        lawful_basis="b",
        groups=("A",),
    ),
    "withheld": WithheldGroup(group="H", reason="not_granted"),
}


def _other(value: Any, name: str) -> Any:
    """A different valid value for one field."""
    replacements: dict[type, Any] = {
        bool: lambda v: not v,
        int: lambda v: v + 1,
        str: lambda v: ("1" if v[0] == "0" else "0") + v[1:] if name.endswith("hash") else v + "x",
        uuid.UUID: lambda _: uuid.uuid4(),
        datetime: lambda v: v + timedelta(microseconds=1),
        tuple: lambda v: v[1:] if v else ("A",) if "group" in name else ("p_" + "Q" * 43,),
    }
    if name in _PARTS:
        return value[1:] if value else (_PARTS[name],)
    if name == "criteria":
        return Criteria(agency="police") if value is None else None
    if name == "format":
        return 1 if value == 2 else 2
    if value is None:
        return (
            {"kind": "refusal", "agreement_version": 3}.get(name, "x1")
            if name != "event_id"
            else uuid.uuid4()
        )
    return replacements[type(value)](value)


@settings(max_examples=60, deadline=None)
@given(st.lists(drafts, min_size=1, max_size=12, unique_by=lambda d: d.decision_id))
def test_any_chain_verifies_intact(items: list[EntryDraft]) -> None:
    """Any sequence of entries, chained and checkpointed, verifies intact."""
    entries = _chain(items)
    report = verify_entries(entries, [_checkpoint(entries)], DIRECTORY, ledger_id=LEDGER_ID)
    assert report.intact
    assert (report.entries, report.checkpoint_size) == (len(entries), len(entries))


@settings(max_examples=150, deadline=None)
@given(
    st.lists(drafts, min_size=1, max_size=8, unique_by=lambda d: d.decision_id),
    st.data(),
)
def test_any_single_field_change_is_caught_at_that_entry(
    items: list[EntryDraft], data: st.DataObject
) -> None:
    """Changing any one field of any one entry breaks verification exactly there."""
    entries = _chain(items)
    index = data.draw(st.integers(0, len(entries) - 1), label="index")
    held = json.loads(chain.body_of(entries[index]))  # a format 1 body holds no format 2 field
    name = data.draw(st.sampled_from(sorted(set(LedgerEntry.model_fields) & set(held))), "field")
    if name == "kind":
        new: Any = "consultation" if entries[index].kind != "consultation" else "refusal"
    else:
        new = _other(getattr(entries[index], name), name)
    changed = [*entries]
    changed[index] = entries[index].model_copy(update={name: new})
    assert changed[index] != entries[index]
    report = verify_entries(changed, [], DIRECTORY)
    assert not report.intact
    assert report.broken_at == index, (name, report)


def _receipts(draw: st.DrawFn) -> EntryDraft:
    """A receipt or an erasure receipt: the entries whose terms come from nested items."""
    items = [
        {"decision_id": str(draw(st.uuids())), "digest": "ef" * 32}
        | ({"until": draw(st.dates()).isoformat()} if draw(st.booleans()) else {})
        for _ in range(draw(st.integers(1, 3)))
    ]
    record = {
        "receipt_id": str(draw(st.uuids())),
        "signed_at": "2026-12-06T09:31:00.000000Z",
        "items": items,
        "signed": "eyJhbGciOiJFZERTQSJ9.eyJqdGkiOiJ4In0.c2lnbmF0dXJl",  # pragma: allowlist secret
    }
    return EntryDraft(
        kind="receipt",
        decision_id=draw(st.uuids()),
        recorded_at=draw(_TIMES),
        recipient=draw(_PARTY),
        outcome=draw(st.sampled_from(["receipted", "erased"])),
        receipt=ReceiptRecord.model_validate(record),
    )


@settings(max_examples=150, deadline=None)
@given(drafts | st.composite(_receipts)(), st.integers(0, 10**9))
def test_a_sealed_entry_is_indexed_as_its_body_would_be(draft: EntryDraft, seq: int) -> None:
    """The writer indexes a new entry from the fields it sealed: the rows its body gives."""
    row, _ = chain.seal_entry(draft, seq, GENESIS_HASH)
    assert row.fields is not None  # the fields are used, not the body parsed again
    [from_fields] = new_index_rows([row])
    assert from_fields == index_row(seq, row.body)
    assert from_fields.terms  # every entry has a kind at least
