"""Decisions remembered for the day: the same inputs, the same answer, decided once.

:func:`hub.policy.decide.decide_groups` depends on the event's type and the field
groups that type carries, the sender, the agreements, the safety rules and the
*day* (agreements and clauses are in force by date). For one policy and one day
the answer is therefore a function of (event class, sender): the hub receives
thousands of referrals from the same agencies, and deciding each afresh walked
every agreement and clause per message. A memo holds one policy's decisions for
one day and forgets them all when the day changes. A sender that is not entitled
is not remembered: the refusal is decided again each time (rare and cheap).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from hub.policy.decide import decide_groups, event_groups

if TYPE_CHECKING:
    from datetime import date, datetime

    from hub.policy.base import Decisions
    from hub.policy.load import Policy
    from schemas.base import CaseEvent


class DecisionMemo:
    """The decisions of one policy, remembered per (event class, sender) for one day."""

    def __init__(self, policy: Policy, *, evaluation: bool = False) -> None:
        """Remember decisions made under ``policy`` (never another one).

        ``evaluation``: whether the hub feeds the evaluation (see :func:`decide`).
        """
        self.policy = policy
        self.evaluation = evaluation
        self._day: date | None = None
        self._known: dict[tuple[type[CaseEvent], str], Decisions] = {}

    def decide(self, event: CaseEvent, sender: str, now: datetime) -> Decisions:
        """Decide as :func:`hub.policy.decide.decide` does, from memory when already known.

        Raises:
            NotEntitledError: no active clause lets ``sender`` provide this event type.
        """
        day = now.date()
        if day != self._day:
            self._known.clear()
            self._day = day
        key = (type(event), sender)
        known = self._known.get(key)
        if known is None:
            known = decide_groups(
                event.event_type,
                event_groups(event),
                sender,
                self.policy.agreements,
                self.policy.rules,
                now,
                evaluation=self.evaluation,
            )
            self._known[key] = known
        return known
