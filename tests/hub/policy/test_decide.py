"""The decision: grants from active clauses only, safety rules always, nothing else."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import TYPE_CHECKING

import pytest

from hub.policy.base import NotEntitledError
from hub.policy.decide import decide
from schemas.agreements import Agreement, AgreementStatus
from schemas.base import FieldGroup
from schemas.samples import sample_event

if TYPE_CHECKING:
    from hub.policy.load import Policy

G = FieldGroup
NOW = datetime(2026, 11, 21, 12, tzinfo=UTC)


def _with(agreement: Agreement, **changes: object) -> Agreement:
    return agreement.model_copy(update=changes)


def test_default_matrix_for_a_victim_safety_plan(policy: Policy) -> None:
    """A safety plan reaches police whole, probation without G and H, health only A and E."""
    event = sample_event("VictimSafetyPlanUpdated")
    decisions = decide(event, "advocacy", policy.agreements, policy.rules, NOW)
    got = {r: d.disclosed for r, d in decisions.recipients.items() if d is not None}
    assert got == {
        "police": {G.A, G.E, G.F, G.G, G.H},
        "probation": {G.A, G.E, G.F},
        "health": {G.A, G.E},
    }
    health = decisions.recipients["health"]
    assert health is not None
    assert health.withheld == {G.F, G.G, G.H}
    assert decisions.recipients["hub"] is None


def test_disclosure_names_clause_purpose_and_lawful_basis(policy: Policy) -> None:
    """Each disclosure says which clause, purpose and lawful basis justify it."""
    event = sample_event("RiskAssessmentCompleted")
    decisions = decide(event, "health", policy.agreements, policy.rules, NOW)
    police = decisions.recipients["police"]
    assert police is not None
    assert police.primary.clause_id == "health-to-police-core"
    assert police.primary.purpose == "protect-victims"
    assert police.primary.lawful_basis == "UK GDPR Art 6(1)(e); Art 9(2)(g), DPA 2018 Sch 1 para 10"
    assert police.primary.gateway == "Crime and Disorder Act 1998 s.115"
    assert police.clauses == "masip-exampleshire@1#health-to-police-core"


def test_sender_without_clause_is_not_entitled(policy: Policy) -> None:
    """Health may not provide a victim safety plan: sender.not_entitled."""
    event = sample_event("VictimSafetyPlanUpdated")
    with pytest.raises(NotEntitledError) as caught:
        decide(event, "health", policy.agreements, policy.rules, NOW)
    assert caught.value.code == "sender.not_entitled"


@pytest.mark.parametrize(
    "change",
    [
        {"status": AgreementStatus.SUSPENDED},
        {"status": AgreementStatus.DRAFT},
        {"status": AgreementStatus.TERMINATED},
        {"valid_from": date(2026, 12, 1)},
        {"valid_until": date(2026, 11, 20)},
    ],
    ids=["suspended", "draft", "terminated", "not-yet-valid", "expired"],
)
def test_inactive_agreements_grant_nothing(policy: Policy, change: dict[str, object]) -> None:
    """Suspended, draft, terminated, not-yet-valid and expired agreements grant nothing."""
    agreements = tuple(_with(a, **change) for a in policy.agreements)
    event = sample_event("ReferralReceived")
    with pytest.raises(NotEntitledError):
        decide(event, "police", agreements, policy.rules, NOW)


def test_expired_clause_grants_nothing(policy: Policy) -> None:
    """A clause past its own valid_until grants nothing though its agreement is active."""
    agreement = policy.agreements[0]
    clauses = tuple(
        c.model_copy(update={"valid_until": date(2026, 6, 1)})
        if c.id == "police-to-advocacy-core"
        else c
        for c in agreement.clauses
    )
    event = sample_event("ScreeningCompleted")
    decisions = decide(event, "police", (_with(agreement, clauses=clauses),), policy.rules, NOW)
    assert decisions.recipients["advocacy"] is None
    assert decisions.recipients["probation"] is not None


def test_safety_rule_beats_a_granting_clause(policy: Policy) -> None:
    """A clause granting G to the perpetrator-facing health service is overridden at run time."""
    agreement = policy.agreements[0]
    clauses = tuple(
        c.model_copy(update={"groups": (*c.groups, G.G, G.H)})
        if c.id == "advocacy-to-health-core"
        else c
        for c in agreement.clauses
    )
    event = sample_event("VictimSafetyPlanUpdated")
    decisions = decide(event, "advocacy", (_with(agreement, clauses=clauses),), policy.rules, NOW)
    health = decisions.recipients["health"]
    assert health is not None
    assert G.G not in health.disclosed
    assert G.H in health.disclosed
    assert health.blocked_by == {"victim-location-never-to-perpetrator-facing": frozenset({G.G})}


def test_recipient_unknown_to_the_deployment_gets_nothing(policy: Policy) -> None:
    """A clause naming a party the deployment does not register discloses nothing (fail closed)."""
    rules = policy.rules.model_copy(
        update={"parties": tuple(p for p in policy.rules.parties if p.id != "advocacy")}
    )
    decisions = decide(sample_event("ReferralReceived"), "police", policy.agreements, rules, NOW)
    assert "advocacy" not in decisions.recipients
    assert decisions.recipients["probation"] is not None
