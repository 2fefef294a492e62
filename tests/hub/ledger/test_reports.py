"""The subject access report's rules hold for any ledger: a property test over generated cases."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

from hypothesis import given, settings
from hypothesis import strategies as st

from hub.ledger import chain
from hub.ledger.entries import (
    GENESIS_HASH,
    EntryDraft,
    GrantRecord,
    LedgerEntry,
    PersonInEvent,
    WithheldGroup,
)
from hub.ledger.reports import (
    RULES,
    annex_rows,
    build_report,
    derive_role,
    released_rows,
    row_role,
)
from hub.policy.load import load_policy
from schemas.base import GROUP_TITLES, FieldGroup

if TYPE_CHECKING:
    from hub.policy.load import Policy

DEPLOY: Final = Path(__file__).resolve().parents[3] / "deploy"
POLICY: Final = load_policy(DEPLOY / "agreements", DEPLOY / "parties.toml", DEPLOY / "rules.toml")
PEOPLE: Final = tuple(f"p_{letter * 43}" for letter in "ABCD")
#: The deployment's parties, and one the registry does not know.
PARTIES: Final = ("police", "probation", "health", "advocacy", "unlisted")
START: Final = datetime(2026, 6, 1, tzinfo=UTC)


@st.composite
def event(draw: st.DrawFn) -> dict[str, Any]:
    """One event: who it is about and in which role, who sent it, who got which groups."""
    subject = draw(st.none() | st.sampled_from(PEOPLE))
    others = [p for p in PEOPLE if p != subject]
    victims = draw(st.lists(st.sampled_from(others), min_size=1, max_size=2, unique=True))
    protected = draw(st.lists(st.sampled_from(PEOPLE), max_size=1))
    roles = {(v, "victim") for v in victims} | {(p, "other") for p in protected}
    if subject is not None:
        roles.add((subject, "subject"))
    provider = draw(st.sampled_from(PARTIES[:4]))
    recipients = draw(
        st.lists(st.sampled_from([p for p in PARTIES if p != provider]), min_size=1, unique=True)
    )
    decisions = []
    for recipient in recipients:
        disclosed = draw(st.lists(st.sampled_from("ABCDEFGH"), min_size=1, unique=True))
        rest = [g for g in "ABCDEFGH" if g not in disclosed]
        withheld = draw(st.lists(st.sampled_from(rest), unique=True)) if rest else []
        split = draw(st.integers(1, len(disclosed)))
        decisions.append((recipient, sorted(disclosed), sorted(withheld), split))
    return {"roles": sorted(roles), "provider": provider, "decisions": decisions}


def _grants(disclosed: list[str], split: int) -> tuple[GrantRecord, ...]:
    parts: list[list[Any]] = [disclosed[:split], disclosed[split:]]
    return tuple(
        GrantRecord(
            agreement_id="masip-exampleshire",
            agreement_version=1,
            clause="grants-" + "".join(part).lower(),
            purpose="protect-victims",
            lawful_basis="DPA 2018 Part 3 s.35; Sch 8 para 4",
            groups=tuple(part),
        )
        for part in parts
        if part
    )


def ledger_of(events: list[dict[str, Any]], legacy: list[bool]) -> list[LedgerEntry]:
    """The entries the hub would have recorded for ``events`` (format 1 where ``legacy``)."""
    entries: list[LedgerEntry] = []
    last, at = GENESIS_HASH, START
    for number, (item, old) in enumerate(zip(events, legacy, strict=True)):
        persons = tuple(PersonInEvent(pseudonym=p, role=r) for p, r in item["roles"])
        for recipient, disclosed, withheld, split in item["decisions"]:
            grants = _grants(disclosed, split)
            primary = grants[0]
            fields: dict[str, Any] = {
                "kind": "disclosure",
                "decision_id": uuid.uuid4(),
                "recorded_at": at,
                "event_id": uuid.UUID(int=number + 1),
                "event_type": "ReferralReceived",
                "case_pseudonym": "c_" + "C" * 43,
                "person_pseudonyms": tuple(sorted({p for p, _ in item["roles"]})),
                "provider": item["provider"],
                "recipient": recipient,
                "agreement_id": primary.agreement_id,
                "agreement_version": primary.agreement_version,
                "clause": primary.reference,
                "purpose": primary.purpose,
                "lawful_basis": primary.lawful_basis,
                "groups_disclosed": tuple(disclosed),
                "groups_withheld": tuple(withheld),
                "outcome": "disclosed",
            }
            if old:
                fields |= {"format": 1, "clause": ";".join(g.reference for g in grants)}
            else:
                fields |= {
                    "persons": persons,
                    "grants": grants,
                    "withheld": tuple(
                        WithheldGroup(group=g, reason="not_granted") for g in withheld
                    ),
                }
            row, entry = chain.seal_entry(EntryDraft(**fields), len(entries), last)
            last, at = row.entry_hash, at + timedelta(hours=5)
            entries.append(entry)
    return entries


def _hidden_party(policy: Policy, party: str | None, role: str) -> bool:
    rules = RULES[role]  # type: ignore[index]
    known = policy.rules.party(party) if party else None
    if party is None:
        return False
    if known is None:
        return True
    return (rules.victim_facing and known.kind.value == "advocacy") or (
        rules.perpetrator_facing and known.perpetrator_facing
    )


def _titles(groups: str) -> set[str]:
    return {GROUP_TITLES[FieldGroup(g)] for g in groups}


@settings(max_examples=150, deadline=None)
@given(
    st.lists(event(), min_size=1, max_size=5),
    st.lists(st.booleans(), min_size=5, max_size=5),
)
def test_no_report_holds_what_its_role_leaves_out(
    events: list[dict[str, Any]], legacy: list[bool]
) -> None:
    """For every person: the derived role, and no hidden group, clause, agency or position."""
    entries = ledger_of(events, legacy[: len(events)])
    for person in PEOPLE:
        about = [e for e in entries if person in e.person_pseudonyms]
        report = build_report(about, person, POLICY)
        roles = {p.role for e in about for p in e.persons if p.pseudonym == person}
        if "subject" in roles:
            assert report.role == "subject"
        assert report.role == derive_role(about, person)
        for row in report.rows:
            role = row_role(row.entry, person, report.role)
            hidden = RULES[role].groups
            assert not set(row.disclosed + row.withheld) & hidden
            assert not _hidden_party(POLICY, row.entry.provider, role)
            assert not _hidden_party(POLICY, row.entry.recipient, role)
            granted = {g.reference: set(g.groups) for g in row.entry.grants}
            for basis in row.bases:
                assert granted.get(basis.reference, {"?"}) - hidden, basis.reference
        released = released_rows(report, POLICY)
        text = json.dumps(released)
        assert [r["number"] for r in released] == list(range(1, len(released) + 1))
        assert not any(p in text for p in PEOPLE)
        assert not any(e.entry_hash in text for e in entries)
        assert not {"seq", "position", "entry_hash", "recorded_at"} & {
            k for r in released for k in r
        }
        shown = {t for r in released for t in r["shared"] + r["not_shared"]}
        parties = {name for r in released for name in (r["from"], r["to"])}
        if report.role == "subject":
            assert not shown & _titles("FGH")
            assert "Exampleshire Independent Stalking Advocacy Service" not in parties
            assert "unlisted" not in parties
        if report.role == "other":
            assert not shown & _titles("DFGH")
            assert "Exampleshire NHS Stalking Clinic" not in parties
        if report.role == "victim":
            assert not shown & _titles("D")
            assert "Exampleshire NHS Stalking Clinic" not in parties
        annex = annex_rows(report)
        assert [a["position"] for a in annex] == [row.entry.seq for row in report.rows]


def test_a_row_left_with_only_hidden_groups_is_left_out() -> None:
    """Victim needs alone leave no row in the stalker's report, not even an empty one."""
    item = {
        "roles": [(PEOPLE[0], "subject"), (PEOPLE[1], "victim")],
        "provider": "probation",
        "decisions": [("police", ["H"], [], 1)],
    }
    [entry] = ledger_of([item], [False])
    assert build_report([entry], PEOPLE[0], POLICY).rows == ()
    assert build_report([entry], PEOPLE[0], POLICY).rows_left_out == 1
    assert len(build_report([entry], PEOPLE[1], POLICY).rows) == 1


def test_a_format_1_row_follows_the_rules_that_leave_out_most() -> None:
    """A person only in format 1 entries (no roles recorded) is reported as other."""
    item = {
        "roles": [(PEOPLE[0], "subject"), (PEOPLE[1], "victim")],
        "provider": "police",
        "decisions": [("probation", ["A", "D", "G"], [], 1)],
    }
    [entry] = ledger_of([item], [True])
    report = build_report([entry], PEOPLE[1], POLICY)
    assert report.role == "other"
    [row] = report.rows
    assert row.disclosed == ("A",)
