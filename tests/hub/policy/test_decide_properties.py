"""Least disclosure as a property: for any agreements and any event, nothing beyond the grants."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from typing import TYPE_CHECKING, Any

from hypothesis import given, settings
from hypothesis import strategies as st

from hub.policy.base import NotEntitledError
from hub.policy.check import type_groups
from hub.policy.decide import decide_groups
from hub.policy.rules import SafetyRules
from schemas.agreements import Agreement
from schemas.base import FieldGroup
from schemas.registry import event_types

if TYPE_CHECKING:
    from hypothesis.strategies import DrawFn

NOW = datetime(2026, 11, 21, 12, tzinfo=UTC)
PARTIES = ("police", "probation", "health", "advocacy", "clinic-two")
TYPES = sorted(event_types())
BASIS = {"regime": "dpa2018_part3", "schedule8": "para 4"}


@st.composite
def rules(draw: DrawFn) -> SafetyRules:
    """Parties with random perpetrator-facing flags, and the two default rules."""
    facing = draw(st.lists(st.booleans(), min_size=len(PARTIES), max_size=len(PARTIES)))
    kinds = {
        "police": "police",
        "probation": "probation",
        "health": "health",
        "advocacy": "advocacy",
    }
    return SafetyRules.model_validate_json(
        json.dumps(
            {
                "parties": [
                    {"id": p, "name": p, "kind": kinds.get(p, "other"), "perpetrator_facing": f}
                    for p, f in zip(PARTIES, facing, strict=True)
                ],
                "rules": [
                    {
                        "id": "no-g",
                        "description": "x",
                        "never_groups": ["G"],
                        "to": {"perpetrator_facing": True},
                    },
                    {
                        "id": "no-d",
                        "description": "x",
                        "never_groups": ["D"],
                        "to": {"kinds": ["advocacy"]},
                    },
                ],
            }
        )
    )


def _window(draw: DrawFn) -> tuple[date, date | None]:
    start = NOW.date() + timedelta(days=draw(st.integers(-400, 30)))
    end = draw(st.none() | st.integers(-30, 400).map(lambda d: NOW.date() + timedelta(days=d)))
    return (start, end) if end is None or end >= start else (end, start)


@st.composite
def clause(draw: DrawFn, number: int) -> dict[str, Any]:
    """A random clause between two different parties."""
    provider, recipient = draw(
        st.lists(st.sampled_from(PARTIES), min_size=2, max_size=2, unique=True)
    )
    start, end = _window(draw)
    types = draw(
        st.just(["*"]) | st.lists(st.sampled_from(TYPES), min_size=1, max_size=4, unique=True)
    )
    return {
        "id": f"c-{number}",
        "provider": provider,
        "recipient": recipient,
        "event_types": types,
        "groups": draw(
            st.lists(st.sampled_from(sorted(FieldGroup)), min_size=1, max_size=8, unique=True)
        ),
        "purpose": "share",
        "lawful_basis": BASIS,
        "gateway": "s.115",
        "valid_from": start,
        "valid_until": end,
        "review_date": NOW.date(),
        "retention": {"months": 12, "disposal": "delete"},
    }


@st.composite
def agreement(draw: DrawFn, number: int) -> Agreement:
    """A random agreement over all parties with 1 to 6 clauses."""
    start, end = _window(draw)
    count = draw(st.integers(1, 6))
    data = {
        "id": f"a-{number}",
        "version": 1,
        "title": "t",
        "status": draw(st.sampled_from(["draft", "active", "suspended", "terminated"])),
        "dpia_reference": "d",
        "valid_from": start,
        "valid_until": end,
        "review_date": NOW.date(),
        "parties": [{"party": p, "organisation": p, "role": "controller"} for p in PARTIES],
        "purposes": [{"id": "share", "description": "x"}],
        "clauses": [draw(clause(n)) for n in range(count)],
        "signatories": [
            {"party": p, "name": p, "position": "x", "signed_on": NOW.date()} for p in PARTIES
        ],
    }
    return Agreement.model_validate_json(json.dumps(data, default=str))


def _in_force(start: date, end: date | None) -> bool:
    return start <= NOW.date() and (end is None or NOW.date() <= end)


def _oracle(
    agreements: list[Agreement], sender: str, recipient: str, event_type: str
) -> set[FieldGroup]:
    """Groups any active clause grants, computed independently of the code under test."""
    granted: set[FieldGroup] = set()
    for a in agreements:
        if a.status != "active" or not _in_force(a.valid_from, a.valid_until):
            continue
        for c in a.clauses:
            covers = "*" in c.event_types or event_type in c.event_types
            if (
                covers
                and c.provider == sender
                and c.recipient == recipient
                and _in_force(c.valid_from, c.valid_until)
            ):
                granted |= set(c.groups)
    return granted


@settings(max_examples=300, deadline=None)
@given(
    agreements=st.lists(st.integers(0, 99), min_size=1, max_size=3, unique=True).flatmap(
        lambda ns: st.tuples(*(agreement(n) for n in ns))
    ),
    deployment=rules(),
    sender=st.sampled_from(PARTIES),
    event_type=st.sampled_from(TYPES),
)
def test_no_group_beyond_active_grants_and_never_g_to_perpetrator_facing(
    agreements: tuple[Agreement, ...], deployment: SafetyRules, sender: str, event_type: str
) -> None:
    """Nothing ungranted is disclosed; never G to perpetrator-facing parties, D to advocacy."""
    present = type_groups(event_type)
    entitled = any(_oracle(list(agreements), sender, r, event_type) for r in PARTIES) or any(
        c.provider == sender
        for a in agreements
        if a.status == "active" and _in_force(a.valid_from, a.valid_until)
        for c in a.clauses
        if ("*" in c.event_types or event_type in c.event_types)
        and _in_force(c.valid_from, c.valid_until)
    )
    try:
        decisions = decide_groups(event_type, present, sender, agreements, deployment, NOW)
    except NotEntitledError:
        assert not entitled
        return
    assert entitled
    for recipient, disclosure in decisions.recipients.items():
        assert recipient != sender
        if disclosure is None:
            continue
        party = deployment.party(recipient)
        assert party is not None
        assert disclosure.disclosed <= _oracle(list(agreements), sender, recipient, event_type)
        assert disclosure.disclosed <= present
        assert disclosure.withheld == present - disclosure.disclosed
        if party.perpetrator_facing:
            assert FieldGroup.G not in disclosure.disclosed
        if party.kind == "advocacy":
            assert FieldGroup.D not in disclosure.disclosed
