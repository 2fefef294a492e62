"""How things end: criminal justice outcomes and the closure of a case.

A closure carries outcome measures, one field per group, so each partner learns
the measures its agreement entitles it to: justice measures (B), the risk picture
at closure (E), the victim's outcomes (H).
"""

import enum
from typing import Annotated, Literal

from pydantic import Field

from schemas.base import (
    SUBJECT,
    A,
    B,
    CaseEvent,
    E,
    H,
    PersonReference,
    ShortText,
    StrictModel,
    Text,
)
from schemas.common import CrimeReference, OffenceType, Priority, RiskJudgement


class OutcomeKind(enum.StrEnum):
    """Charging decisions and court outcomes."""

    CHARGED = "charged"
    CAUTIONED = "cautioned"
    NO_FURTHER_ACTION = "no_further_action"
    REMANDED_IN_CUSTODY = "remanded_in_custody"
    BAILED_BY_COURT = "bailed_by_court"
    CONVICTED = "convicted"
    ACQUITTED = "acquitted"
    DISCONTINUED = "discontinued"


class SentenceKind(enum.StrEnum):
    """Sentences on conviction."""

    IMMEDIATE_CUSTODY = "immediate_custody"
    SUSPENDED_SENTENCE = "suspended_sentence"
    COMMUNITY_ORDER = "community_order"
    FINE = "fine"
    CONDITIONAL_DISCHARGE = "conditional_discharge"
    HOSPITAL_ORDER = "hospital_order"


class Sentence(StrictModel):
    """A sentence passed on conviction."""

    kind: SentenceKind
    custodial_months: Annotated[int, Field(ge=0, le=1200)] = 0
    requirements: Annotated[tuple[ShortText, ...], Field(max_length=10)] = ()


class JusticeOutcome(StrictModel):
    """One charging decision or court outcome (group B)."""

    outcome: OutcomeKind
    offences: Annotated[tuple[OffenceType, ...], Field(min_length=1, max_length=20)]
    crime_references: Annotated[tuple[CrimeReference, ...], Field(max_length=20)] = ()
    court: ShortText | None = None
    sentence: Sentence | None = None
    restraining_order_made: bool = False


class CriminalJusticeOutcome(CaseEvent):
    """A charging decision or a court outcome concerning the subject."""

    event_type: Annotated[Literal["CriminalJusticeOutcome"], A]
    schema_version: Annotated[Literal[1], A]
    subject_ref: Annotated[PersonReference, A, SUBJECT]
    outcome: Annotated[JusticeOutcome, B]


class ClosureReason(enum.StrEnum):
    """Why the partnership closed the case."""

    RISK_MANAGED = "risk_managed"
    PLAN_COMPLETED = "plan_completed"
    SUBJECT_IN_CUSTODY = "subject_in_custody"
    MOVED_OUT_OF_AREA = "moved_out_of_area"
    TRANSFERRED = "transferred"
    VICTIM_DISENGAGED = "victim_disengaged"
    OTHER = "other"


class StalkingStatus(enum.StrEnum):
    """Whether the stalking behaviour continues at closure."""

    CEASED = "ceased"
    REDUCED = "reduced"
    CONTINUING = "continuing"
    NOT_KNOWN = "not_known"


class JusticeMeasures(StrictModel):
    """Justice outcome measures over the life of the case (group B)."""

    breaches_recorded: Annotated[int, Field(ge=0, le=999)]
    further_offences_recorded: Annotated[int, Field(ge=0, le=999)]
    orders_in_force: bool


class RiskAtClosure(StrictModel):
    """The risk picture when the case closed (group E)."""

    priority: Priority
    stalking_status: StalkingStatus
    violence: RiskJudgement
    persistence: RiskJudgement
    recurrence: RiskJudgement


class Change(enum.StrEnum):
    """How something changed between referral and closure, as the victim reports it."""

    IMPROVED = "improved"
    UNCHANGED = "unchanged"
    WORSE = "worse"
    NOT_KNOWN = "not_known"


class NeedsMet(enum.StrEnum):
    """How far the needs recorded with the victim were met by closure."""

    ALL = "all"
    MOST = "most"
    SOME = "some"
    NONE = "none"
    NOT_KNOWN = "not_known"


class VictimOutcomes(StrictModel):
    """The victim's outcome measures, as they report them to the advocate (group H)."""

    feeling_of_safety: Change
    wellbeing: Change
    needs_met: NeedsMet


class CaseClosed(CaseEvent):
    """The partnership closed the case, with its outcome measures."""

    event_type: Annotated[Literal["CaseClosed"], A]
    schema_version: Annotated[Literal[1], A]
    subject_ref: Annotated[PersonReference | None, A, SUBJECT] = None
    reason: Annotated[ClosureReason, E]
    closure_summary: Annotated[Text, E]
    risk_at_closure: Annotated[RiskAtClosure, E]
    justice_measures: Annotated[JusticeMeasures | None, B] = None
    victim_outcomes: Annotated[VictimOutcomes | None, H] = None
