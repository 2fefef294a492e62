"""The decision memo answers as decide() does, per sender and type, and forgets at midnight."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

import pytest

from hub.context import HubContext
from hub.policy.base import NotEntitledError
from hub.policy.decide import decide
from hub.policy.memo import DecisionMemo
from schemas.samples import sample_event

if TYPE_CHECKING:
    from hub.policy.load import Policy

NOW = datetime(2026, 11, 21, 12, tzinfo=UTC)


def test_memo_answers_as_decide_does(policy: Policy) -> None:
    """For every sample type and sender the memo's decisions equal decide()'s, refusals too."""
    memo = DecisionMemo(policy)
    for event_type in ("ReferralReceived", "VictimSafetyPlanUpdated", "RiskAssessmentCompleted"):
        event = sample_event(event_type)
        for sender in ("police", "probation", "health", "advocacy"):
            try:
                expected = decide(event, sender, policy.agreements, policy.rules, NOW)
            except NotEntitledError:
                with pytest.raises(NotEntitledError):
                    memo.decide(event, sender, NOW)
                continue
            assert memo.decide(event, sender, NOW) == expected
            assert memo.decide(event, sender, NOW) == expected  # from memory


def test_memo_decides_again_on_another_day(policy: Policy) -> None:
    """An agreement that ends today grants today and, from memory, not tomorrow."""
    ending = tuple(a.model_copy(update={"valid_until": NOW.date()}) for a in policy.agreements)
    memo = DecisionMemo(dataclasses.replace(policy, agreements=ending))
    event = sample_event("ReferralReceived")
    assert memo.decide(event, "police", NOW).disclosures()
    with pytest.raises(NotEntitledError):
        memo.decide(event, "police", NOW + timedelta(days=1))


def test_memo_keeps_senders_apart(policy: Policy) -> None:
    """A decision remembered for one sender is never the answer for another."""
    memo = DecisionMemo(policy)
    event = sample_event("VictimSafetyPlanUpdated")
    assert memo.decide(event, "advocacy", NOW).sender == "advocacy"
    with pytest.raises(NotEntitledError):
        memo.decide(event, "health", NOW)


def test_a_context_with_another_policy_has_its_own_memo(policy: Policy) -> None:
    """HubContext builds its memo from its own policy, also through dataclasses.replace."""
    fields = {f.name: None for f in dataclasses.fields(HubContext) if f.init}
    ctx = HubContext(**{**fields, "policy": policy, "max_envelope_bytes": 1})  # type: ignore[arg-type]
    other = dataclasses.replace(ctx, policy=dataclasses.replace(policy, agreements=()))
    assert ctx.decisions.policy is policy
    assert other.decisions.policy is other.policy
    with pytest.raises(NotEntitledError):
        other.decisions.decide(sample_event("ReferralReceived"), "police", NOW)
