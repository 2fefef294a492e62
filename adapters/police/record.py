"""The POLE document the police adapter accepts, as pydantic models: its published schema.

:class:`PoleDocument` is the request body of the police adapter's ``POST /records``
(docs/adapters/police.records.openapi.json) and what
:meth:`~adapters.police.translate.PoliceTranslator.to_events` holds every document
to (:func:`~adapters.native.shape.check_shape`). Persons are told apart by
``role``, objects and locations by ``type``, events by ``type``; each event type
has its own ``details``. Every entity is checked, linked or not. Unknown keys are
allowed and ignored. Rules between entities (ids unique, links resolve, one
linked suspect or victim where the event needs one) are the translator's.
"""

from typing import Annotated, Final, Literal

from pydantic import Field, create_model

from adapters.native.forms import (
    ActionRecord,
    BreachPlaceRecord,
    ConditionTermRecord,
    LocalId,
    SupervisionRecord,
    ZoneRecord,
)
from adapters.native.shape import Code, EventBounds, EventValue, NativeModel
from adapters.police.kinds import SDASH_QUESTIONS
from schemas.base import CaseEvent, PersonReference
from schemas.common import (
    ConditionKind,
    CrimeReference,
    OffenceType,
    OrderType,
    Priority,
    RiskJudgement,
    RiskTrend,
    Typology,
    ZoneRef,
)
from schemas.events.assessment import CaseConsultationHeld
from schemas.events.justice import (
    BreachOf,
    OrderAction,
    OrderDetails,
    PoliceAction,
    ProbationAction,
)
from schemas.events.outcome import (
    CaseClosed,
    Change,
    ClosureReason,
    JusticeMeasures,
    JusticeOutcome,
    NeedsMet,
    OutcomeKind,
    Sentence,
    SentenceKind,
    StalkingStatus,
)
from schemas.events.referral import ReferralReceivedV2, ReferralSource, ScreeningAnswer

Offences = list[Annotated[str, Code(OffenceType)]]


class PoleSuspect(NativeModel):
    """A suspect: the person the case is about, by partnership pseudonym only."""

    id: LocalId
    role: Literal["SUSPECT"]
    partnership_ref: PersonReference


class PoleVictim(NativeModel):
    """A victim, or a person an order protects, by partnership pseudonym only."""

    id: LocalId
    role: Literal["VICTIM"]
    partnership_ref: PersonReference


class PoleOfficer(NativeModel):
    """An officer: police-internal, never translated."""

    id: LocalId
    role: Literal["OFFICER"]


PolePerson = Annotated[PoleSuspect | PoleVictim | PoleOfficer, Field(discriminator="role")]


class PoleCrimeReport(NativeModel):
    """A crime report, by its crime reference."""

    id: LocalId
    type: Literal["CRIME_REPORT"]
    crime_reference: CrimeReference


class PoleOrderObject(NativeModel):
    """A protective order and its coded terms."""

    id: LocalId
    type: Literal["ORDER"]
    order_type: Annotated[str, Code(OrderType)]
    court: Annotated[str | None, EventValue(OrderDetails, "court")] = None
    effective_on: Annotated[str | None, EventValue(OrderDetails, "effective_on")] = None
    expires_on: Annotated[str | None, EventValue(OrderDetails, "expires_on")] = None
    terms: Annotated[list[ConditionTermRecord], EventBounds(OrderDetails, "terms")] | None = None


PoleObject = Annotated[PoleCrimeReport | PoleOrderObject, Field(discriminator="type")]


class PoleExclusionZone(ZoneRecord):
    """An exclusion zone an order sets (victim location, group G only)."""

    id: LocalId
    type: Literal["EXCLUSION_ZONE"]


class PoleBreachPlace(BreachPlaceRecord):
    """Where a breach happened (victim location, group G only)."""

    id: LocalId
    type: Literal["BREACH_PLACE"]


PoleLocation = Annotated[PoleExclusionZone | PoleBreachPlace, Field(discriminator="type")]


class PoleEventBase(NativeModel):
    """What every POLE event has: its id, times and links to the document's entities."""

    id: LocalId
    occurred_at: Annotated[str, EventValue(CaseEvent, "occurred_at")]
    recorded_at: Annotated[str, EventValue(CaseEvent, "recorded_at")]
    person_ids: list[LocalId] | None = None
    object_ids: list[LocalId] | None = None
    location_ids: list[LocalId] | None = None


class ReferralDetails(NativeModel):
    """A referral: where it came from, when the behaviour began, offences and concerns."""

    referral_source: Annotated[str, Code(ReferralSource)]
    behaviour_began_on: Annotated[
        str | None, EventValue(ReferralReceivedV2, "behaviour_began_on")
    ] = None
    offences: Annotated[Offences, EventBounds(ReferralReceivedV2, "suspected_offences")] | None = (
        None
    )
    priority_requested: Annotated[str, Code(Priority)] | None = None
    concerns: Annotated[str, EventValue(ReferralReceivedV2, "concerns")]


class PoleReferral(PoleEventBase):
    """REFERRAL: becomes ReferralReceived v2; links 0 or 1 SUSPECT, VICTIMs, CRIME_REPORTs."""

    type: Literal["REFERRAL"]
    details: ReferralDetails


#: The S-DASH answers, ``q1`` to ``q11`` in the form's order (each described by its question).
SdashAnswersRecord: Final = create_model(
    "SdashAnswersRecord",
    __base__=NativeModel,
    __doc__="The eleven S-DASH answers in the form's order.",
    **{  # type: ignore[call-overload]  # one field per question of the form
        f"q{number}": (
            Annotated[str, Code(ScreeningAnswer)],
            Field(description=question.replace("_", " ")),
        )
        for number, question in enumerate(SDASH_QUESTIONS, start=1)
    },
)


class SdashDetails(NativeModel):
    """An S-DASH screening: the answers and the priority set."""

    answers: SdashAnswersRecord
    priority: Annotated[str, Code(Priority)]


class PoleSdashScreening(PoleEventBase):
    """SDASH_SCREENING: becomes ScreeningCompleted; links exactly 1 VICTIM."""

    type: Literal["SDASH_SCREENING"]
    details: SdashDetails


class OrderEventDetails(NativeModel):
    """What happened to the linked order."""

    action: Annotated[str, Code(OrderAction)]


class PoleOrder(PoleEventBase):
    """ORDER: becomes OrderEvent; links 1 SUSPECT, 1 ORDER, EXCLUSION_ZONEs."""

    type: Literal["ORDER"]
    details: OrderEventDetails


class BreachDetailsRecord(NativeModel):
    """A breach: of what, which condition, and the responses to it."""

    breach_of: Annotated[str, Code(BreachOf)]
    order_type: Annotated[str, Code(OrderType)] | None = None
    condition: Annotated[str, Code(ConditionKind)]
    zone_ref: ZoneRef | None = None
    police_action: Annotated[str, Code(PoliceAction)] | None = None
    probation_action: Annotated[str, Code(ProbationAction)] | None = None
    risk_trend: Annotated[str, Code(RiskTrend)] | None = None
    victim_informed: bool | None = None


class PoleBreach(PoleEventBase):
    """BREACH: becomes BreachReported; links 1 SUSPECT, a CRIME_REPORT, a BREACH_PLACE."""

    type: Literal["BREACH"]
    details: BreachDetailsRecord


class SentenceRecord(NativeModel):
    """A sentence: its kind, months of custody, requirements."""

    kind: Annotated[str, Code(SentenceKind)]
    custodial_months: Annotated[int, EventValue(Sentence, "custodial_months")] | None = None
    requirements: Annotated[list[str], EventValue(Sentence, "requirements")] | None = None


class CourtOutcomeDetails(NativeModel):
    """A criminal justice outcome: what, for which offences, where, the sentence."""

    outcome: Annotated[str, Code(OutcomeKind)]
    offences: Annotated[Offences, EventBounds(JusticeOutcome, "offences")]
    court: Annotated[str | None, EventValue(JusticeOutcome, "court")] = None
    sentence: SentenceRecord | None = None
    restraining_order_made: bool | None = None


class PoleCourtOutcome(PoleEventBase):
    """COURT_OUTCOME: becomes CriminalJusticeOutcome; links 1 SUSPECT, CRIME_REPORTs."""

    type: Literal["COURT_OUTCOME"]
    details: CourtOutcomeDetails


class ConsultationDetails(NativeModel):
    """A multi-agency consultation: who attended, what was decided, who does what."""

    attending_agencies: Annotated[list[str], EventValue(CaseConsultationHeld, "attendees")]
    next_consultation_date: Annotated[
        str | None, EventValue(CaseConsultationHeld, "next_consultation_on")
    ] = None
    priority: Annotated[str, Code(Priority)]
    typology: Annotated[str, Code(Typology)] | None = None
    decisions_summary: Annotated[str, EventValue(CaseConsultationHeld, "decisions_summary")]
    actions: Annotated[list[ActionRecord], EventBounds(CaseConsultationHeld, "actions")] | None = (
        None
    )
    supervision: SupervisionRecord | None = None
    victim_voice: Annotated[str | None, EventValue(CaseConsultationHeld, "victim_voice")] = None


class PoleCaseConsultation(PoleEventBase):
    """CASE_CONSULTATION: becomes CaseConsultationHeld; links 0 or 1 SUSPECT."""

    type: Literal["CASE_CONSULTATION"]
    details: ConsultationDetails


class RiskAtClosureRecord(NativeModel):
    """The risk picture at closure."""

    priority: Annotated[str, Code(Priority)]
    stalking_status: Annotated[str, Code(StalkingStatus)]
    violence: Annotated[str, Code(RiskJudgement)]
    persistence: Annotated[str, Code(RiskJudgement)]
    recurrence: Annotated[str, Code(RiskJudgement)]


class JusticeMeasuresRecord(NativeModel):
    """Justice measures at closure."""

    breaches_recorded: Annotated[int, EventValue(JusticeMeasures, "breaches_recorded")]
    further_offences_recorded: Annotated[
        int, EventValue(JusticeMeasures, "further_offences_recorded")
    ]
    orders_in_force: Annotated[bool, EventValue(JusticeMeasures, "orders_in_force")]


class VictimOutcomesRecord(NativeModel):
    """The victim's outcomes at closure."""

    feeling_of_safety: Annotated[str, Code(Change)]
    wellbeing: Annotated[str, Code(Change)]
    needs_met: Annotated[str, Code(NeedsMet)]


class ClosureDetails(NativeModel):
    """A case closure: why, a summary, and the outcome measures."""

    closure_reason: Annotated[str, Code(ClosureReason)]
    closure_summary: Annotated[str, EventValue(CaseClosed, "closure_summary")]
    risk_at_closure: RiskAtClosureRecord
    justice_measures: JusticeMeasuresRecord | None = None
    victim_outcomes: VictimOutcomesRecord | None = None


class PoleCaseClosure(PoleEventBase):
    """CASE_CLOSURE: becomes CaseClosed; links 0 or 1 SUSPECT."""

    type: Literal["CASE_CLOSURE"]
    details: ClosureDetails


PoleEvent = Annotated[
    PoleReferral
    | PoleSdashScreening
    | PoleOrder
    | PoleBreach
    | PoleCourtOutcome
    | PoleCaseConsultation
    | PoleCaseClosure,
    Field(discriminator="type"),
]


class PoleDocument(NativeModel):
    """One POLE document: persons, objects and locations, and the events that link them.

    Each event becomes one case event of its ``type``; ``id`` and each event's ``id``
    make the event id, so the same document sent again changes nothing.
    """

    id: LocalId
    case_reference: Annotated[str, EventValue(CaseEvent, "case_reference")]
    persons: list[PolePerson] | None = None
    objects: list[PoleObject] | None = None
    locations: list[PoleLocation] | None = None
    events: Annotated[list[PoleEvent], Field(min_length=1)]
