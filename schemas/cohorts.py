"""Fictional cohorts for the evaluation: three areas, one per intervention model.

:func:`cohort` draws, from a seeded generator, several hundred fictional cases per
area over the last two years, each a stream of valid case events: a referral, a
risk assessment, a management plan, an intervention, perhaps an order, perhaps a
new offence or breach, reassessment, the victim's own view, and a closure unless
the case is still open. A few cases move to another area and go on there under
the same references (the regional link carries them), so the evaluation can link
them. Every event is built from the catalogue's own sample (:mod:`schemas.samples`)
and parsed, so each one validates exactly as an agency's would.

The shapes are the documented ones where there are any (``../shared/DOMAIN.md``):
one pilot area's typology mix (69 % rejected, 12 % incompetent suitor, 6.5 %
predatory, 6.5 % intimacy seeker, 6 % resentful) and a threat-assessment centre's
three priorities. Re-offending rates, times and the models' differences are
invented for the demonstration and say nothing about any real service: the
evaluation's measures must find them again, which is what makes the data useful.
"""

import json
import random
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, Final

from schemas.base import CaseEvent
from schemas.common import Priority, Typology
from schemas.evaluation import InterventionModel
from schemas.registry import parse_event
from schemas.samples import sample_data

#: One pilot area's referrals by typology.
TYPOLOGY_MIX: Final = {
    Typology.REJECTED: 0.69,
    Typology.INCOMPETENT_SUITOR: 0.12,
    Typology.PREDATORY: 0.065,
    Typology.INTIMACY_SEEKER: 0.065,
    Typology.RESENTFUL: 0.06,
}
#: Starting priority by typology: standard, medium, high.
PRIORITY_MIX: Final = {
    Typology.REJECTED: (0.25, 0.45, 0.30),
    Typology.INCOMPETENT_SUITOR: (0.60, 0.30, 0.10),
    Typology.PREDATORY: (0.05, 0.25, 0.70),
    Typology.INTIMACY_SEEKER: (0.40, 0.40, 0.20),
    Typology.RESENTFUL: (0.20, 0.40, 0.40),
}
#: How much more often a case of each starting priority re-offends than the area's base.
PRIORITY_RISK: Final = {Priority.STANDARD: 0.6, Priority.MEDIUM: 1.0, Priority.HIGH: 1.6}
_PRIORITIES: Final = (Priority.STANDARD, Priority.MEDIUM, Priority.HIGH)
_CROCKFORD: Final = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"  # pragma: allowlist secret
_NAMESPACE: Final = uuid.UUID("3c1f5a52-8d0e-4b7a-9f1e-0000000e7a1d")
_DAYS: Final = 730
#: The share of cases that move to another area during the case.
MOVE_SHARE: Final = 0.04


@dataclass(frozen=True)
class AreaProfile:
    """One fictional area: its model and the (invented) shape of its cases.

    Attributes:
        id: the area's id in the evaluation.
        model: the intervention model it runs.
        prefix: its case references' prefix.
        lead: the agency that assesses and leads the plan.
        cases: how many cases it takes over the two years.
        days_to_plan: mean days from referral to the management plan.
        reoffending: the chance that a medium-priority case re-offends or breaches
            within a year of its plan.
        days_to_close: mean days from the plan to closure.
        satisfied: the chance a victim agrees they are satisfied with the response.
    """

    id: str
    model: InterventionModel
    prefix: str
    lead: str
    cases: int
    days_to_plan: float
    reoffending: float
    days_to_close: float
    satisfied: float


AREAS: Final = (
    AreaProfile("northshire", InterventionModel.ANTI_STALKING_UNIT, "NTH", "police",
                320, 21.0, 0.36, 240.0, 0.55),
    AreaProfile("midshire", InterventionModel.CLINIC, "MID", "health",
                280, 35.0, 0.28, 300.0, 0.62),
    AreaProfile("southshire", InterventionModel.THREAT_ASSESSMENT_CENTRE, "STH", "police",
                300, 7.0, 0.24, 270.0, 0.70),
)  # fmt: skip


@dataclass(frozen=True)
class Placed:
    """One event of the cohort and the area whose hub carries it."""

    area: str
    event: CaseEvent


def _reference(rng: random.Random) -> str:
    return "P-" + "".join(rng.choice(_CROCKFORD) for _ in range(10))


def _choose(rng: random.Random, weights: dict[Any, float]) -> Any:
    return rng.choices(list(weights), weights=list(weights.values()))[0]


@dataclass
class _Case:
    """What one case's events share, while they are drawn."""

    rng: random.Random
    area: AreaProfile
    reference: str
    subject: str
    victim: str
    end: date
    step: int = 0

    def event(self, event_type: str, day: date, author: str, **fields: Any) -> CaseEvent | None:
        """The sample of ``event_type`` made this case's, on ``day``; None after the end."""
        if day > self.end:
            return None
        self.step += 1
        occurred = datetime.combine(day, time(9 + self.step % 8, 0), UTC)
        data = sample_data(event_type) | {
            "event_id": str(uuid.uuid5(_NAMESPACE, f"{self.reference}/{self.step}")),
            "case_reference": self.reference,
            "occurred_at": occurred.isoformat(),
            "recorded_at": (occurred + timedelta(minutes=30)).isoformat(),
            "author_agency": author,
        }
        for name, value in (("subject_ref", self.subject), ("victim_ref", self.victim)):
            if name in data:
                data[name] = value
        for name in ("victim_refs", "protected_refs"):
            if name in data:
                data[name] = [self.victim]
        return parse_event(json.dumps(data | fields, default=str))


def _case_events(case: _Case, start: date) -> Iterator[CaseEvent]:
    rng, area = case.rng, case.area
    typology = _choose(rng, TYPOLOGY_MIX)
    priority = rng.choices(_PRIORITIES, weights=PRIORITY_MIX[typology])[0]
    planned = start + timedelta(days=max(1, round(rng.expovariate(1 / area.days_to_plan))))
    assessed = start + timedelta(days=rng.randint(1, max(1, (planned - start).days)))
    drawn: list[CaseEvent | None] = [
        case.event("ReferralReceived", start, "police", priority_requested=priority,
                   behaviour_began_on=None),
        case.event("RiskAssessmentCompleted", assessed, area.lead,
                   typology=typology, priority=priority),
        case.event("ManagementPlanAgreed", planned, area.lead,
                   typology=typology, priority=priority),
        case.event("InterventionUpdated", planned + timedelta(days=rng.randint(7, 40)), area.lead),
    ]  # fmt: skip
    if rng.random() < 0.3:  # noqa: PLR2004 - an invented share of cases with an order
        ordered = planned + timedelta(days=rng.randint(1, 20))
        drawn.append(case.event("OrderEvent", ordered, "police"))
    chance = min(0.95, area.reoffending * PRIORITY_RISK[priority])
    reoffends = rng.random() < chance
    # Within a year with probability `chance`: an exponential time, cut at 365 days.
    days = 365 * rng.random() if reoffends else 365 + rng.expovariate(1 / 365)
    again = planned + timedelta(days=max(1, round(days)))
    later = None
    if again < planned + timedelta(days=700):
        if rng.random() < 0.5:  # noqa: PLR2004
            drawn.append(case.event("BreachReported", again, "police"))
        else:
            outcome = {"outcome": "charged", "offences": ["stalking_fear_of_violence"]}
            drawn.append(case.event("CriminalJusticeOutcome", again, "police", outcome=outcome))
        raised = _PRIORITIES[min(2, _PRIORITIES.index(priority) + 1)]
        drawn.append(case.event("RiskAssessmentCompleted", again + timedelta(days=5), area.lead,
                                typology=typology, priority=raised))  # fmt: skip
        later = raised
    review = planned + timedelta(days=90)
    if later is None:
        eased = _PRIORITIES[max(0, _PRIORITIES.index(priority) - (rng.random() < 0.5))]  # noqa: PLR2004
        drawn.append(case.event("RiskAssessmentCompleted", review, area.lead,
                                typology=typology, priority=eased))  # fmt: skip
    satisfied = "agree" if rng.random() < area.satisfied else "disagree"
    safer = "agree" if later is None else "disagree"
    view = {"stage": "review", "feels_safer": safer, "satisfied_with_response": satisfied}
    drawn.append(case.event("VictimViewRecorded", review + timedelta(days=3), "advocacy", **view))
    closed = planned + timedelta(days=round(rng.expovariate(1 / area.days_to_close)) + 30)
    reason = "risk_managed" if later is None else "plan_completed"
    drawn.append(case.event("CaseClosed", closed, area.lead, reason=reason))
    yield from sorted((e for e in drawn if e is not None), key=lambda e: e.occurred_at)


def cohort(
    areas: tuple[AreaProfile, ...] = AREAS, *, scale: float = 1.0, seed: int = 2026,
    end: date | None = None,
) -> list[Placed]:  # fmt: skip
    """The fictional cohort: every event of every case, in time order, with its area.

    Args:
        areas: the areas and their shapes.
        scale: a share of each area's cases (a test draws a few).
        seed: the generator's seed; the same seed gives the same cohort.
        end: the last day (yesterday by default); referrals fall in the two years before.
    """
    rng = random.Random(seed)  # noqa: S311 - fictional data, drawn again from its seed
    last = end or (datetime.now(UTC).date() - timedelta(days=1))
    first = last - timedelta(days=_DAYS)
    placed: list[Placed] = []
    for area in areas:
        for number in range(max(1, round(area.cases * scale))):
            reference = f"{area.prefix}-{first.year}-{number:06d}"
            case = _Case(rng, area, reference, _reference(rng), _reference(rng), last)
            start = first + timedelta(days=rng.randint(0, _DAYS - 30))
            events = list(_case_events(case, start))
            moves = len(areas) > 1 and rng.random() < MOVE_SHARE
            to = rng.choice([a for a in areas if a is not area]) if moves else area
            cut = len(events) // 2  # a mover's second half is carried by the other area's hub
            placed += [
                Placed(to.id if moves and i >= cut else area.id, event)
                for i, event in enumerate(events)
            ]
    return sorted(placed, key=lambda p: p.event.occurred_at)
