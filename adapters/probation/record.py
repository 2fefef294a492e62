"""The HMPPS-style domain event the probation adapter accepts, as pydantic models.

:data:`ProbationDomainEvent` is the request body of the probation adapter's
``POST /records`` (docs/adapters/probation.records.openapi.json) and what
:meth:`~adapters.probation.translate.ProbationTranslator.to_events` holds every
message to (:func:`~adapters.native.shape.check_shape`). Messages are told apart
by ``eventType``; each type has its own ``additionalInformation``. Unknown keys
are allowed and ignored (``description`` is one). Rules between fields (the
licence's dates in order) are the translator's.
"""

from typing import Annotated, Any, Final, Literal

from pydantic import Field, RootModel, TypeAdapter

from adapters.native.forms import (
    ActionRecord,
    BreachPlaceRecord,
    ConditionTermRecord,
    LocalId,
    SupervisionRecord,
    ZoneRecord,
)
from adapters.native.shape import Code, EventBounds, EventValue, NativeModel
from schemas.base import CaseEvent, PersonReference
from schemas.common import (
    ConditionKind,
    CrimeReference,
    OffenceType,
    OrderType,
    Priority,
    RiskTrend,
    Typology,
    ZoneRef,
)
from schemas.events.assessment import CaseConsultationHeld
from schemas.events.justice import (
    BreachOf,
    ConditionsSet,
    LicenceConditions,
    PoliceAction,
    ProbationAction,
)
from schemas.events.management import (
    Engagement,
    InterventionKind,
    InterventionProgress,
    InterventionStatus,
    InterventionUpdated,
    ManagementPlanUpdated,
    UpdateReason,
)
from schemas.events.referral import ReferralReceivedV2

#: The identifier type of the partnership's pseudonym; CRN, NOMS and PNC numbers are
#: identifying and never leave probation, so they are ignored.
PARTNERSHIP_REF: Final = "PARTNERSHIP_REF"
#: Exactly one identifier is the partnership's pseudonym, for partners validating
#: with the schema alone.
ONE_PARTNERSHIP_REF: Final[dict[str, Any]] = {
    "contains": {
        "properties": {
            "type": {"const": PARTNERSHIP_REF},
            "value": TypeAdapter(PersonReference).json_schema(),
        },
        "required": ["type", "value"],
    },
    "minContains": 1,
    "maxContains": 1,
}


class Identifier(NativeModel):
    """One identifier of the person; only ``PARTNERSHIP_REF`` (a ``P-…`` pseudonym) is read.

    Other identifiers (CRN, NOMS number) are identifying and ignored.
    """

    type: LocalId
    value: LocalId


class PersonReferenceRecord(NativeModel):
    """Who the message is about: exactly one ``PARTNERSHIP_REF`` among the identifiers."""

    identifiers: Annotated[
        list[Identifier], Field(min_length=1, json_schema_extra=ONE_PARTNERSHIP_REF)
    ]


class Information(NativeModel):
    """What every message's ``additionalInformation`` has: the case and when it was recorded."""

    case_reference: Annotated[str, EventValue(CaseEvent, "case_reference")]
    recorded_at: Annotated[str, EventValue(CaseEvent, "recorded_at")]


class DomainEventBase(NativeModel):
    """What every message has: type, version, where it came from, when, and about whom."""

    version: Literal[1]
    detail_url: LocalId
    occurred_at: Annotated[str, EventValue(CaseEvent, "occurred_at")]
    person_reference: PersonReferenceRecord


class LicenceRecord(NativeModel):
    """A licence: its period and its coded conditions."""

    start_date: Annotated[str, EventValue(LicenceConditions, "licence_starts_on")]
    end_date: Annotated[str, EventValue(LicenceConditions, "licence_ends_on")]
    conditions: Annotated[list[ConditionTermRecord], EventBounds(LicenceConditions, "terms")]


class LicenceInformation(Information):
    """Licence conditions, the supervision picture and the exclusion zones (group G)."""

    protected_person_references: Annotated[list[str], EventValue(ConditionsSet, "protected_refs")]
    licence: LicenceRecord
    supervision: SupervisionRecord | None = None
    exclusion_zones: (
        Annotated[list[ZoneRecord], EventBounds(ConditionsSet, "exclusion_zones")] | None
    ) = None


class LicenceConditionsUpdated(DomainEventBase):
    """Becomes ConditionsSet v1 (licence)."""

    event_type: Literal["probation-case.licence-conditions.updated"]
    additional_information: LicenceInformation


Strand = Annotated[list[ActionRecord], EventBounds(ManagementPlanUpdated, "supervision")]


class PlanInformation(Information):
    """A plan update; a strand left out is unchanged, an empty list clears it."""

    plan_version: Annotated[int, EventValue(ManagementPlanUpdated, "plan_version")]
    review_date: Annotated[str, EventValue(ManagementPlanUpdated, "review_on")]
    reason: Annotated[str, Code(UpdateReason)]
    priority: Annotated[str, Code(Priority)] | None = None
    risk_trend: Annotated[str, Code(RiskTrend)] | None = None
    changes_summary: Annotated[str, EventValue(ManagementPlanUpdated, "changes_summary")]
    supervision_actions: Strand | None = None
    monitoring_actions: Strand | None = None
    intervention_actions: Strand | None = None
    victim_safety_actions: Strand | None = None
    supervision_status: SupervisionRecord | None = None


class ManagementPlanUpdatedRecord(DomainEventBase):
    """Becomes ManagementPlanUpdated v1."""

    event_type: Literal["probation-case.management-plan.updated"]
    additional_information: PlanInformation


class BreachInformation(Information):
    """A breach: of what, which condition, the responses, and where (group G)."""

    breach_of: Annotated[str, Code(BreachOf)]
    order_type: Annotated[str, Code(OrderType)] | None = None
    condition: Annotated[str, Code(ConditionKind)]
    zone_ref: ZoneRef | None = None
    crime_reference: CrimeReference | None = None
    police_action: Annotated[str, Code(PoliceAction)] | None = None
    probation_action: Annotated[str, Code(ProbationAction)] | None = None
    risk_trend: Annotated[str, Code(RiskTrend)] | None = None
    breach_location: BreachPlaceRecord | None = None
    victim_informed: bool | None = None


class BreachReportedRecord(DomainEventBase):
    """Becomes BreachReported v1."""

    event_type: Literal["probation-case.breach.reported"]
    additional_information: BreachInformation


class ReferralInformation(Information):
    """A referral probation makes to the partnership."""

    behaviour_began_on: Annotated[
        str | None, EventValue(ReferralReceivedV2, "behaviour_began_on")
    ] = None
    protected_person_references: Annotated[list[str], EventValue(ReferralReceivedV2, "victim_refs")]
    crime_references: (
        Annotated[list[str], EventValue(ReferralReceivedV2, "crime_references")] | None
    ) = None
    offences: (
        Annotated[
            list[Annotated[str, Code(OffenceType)]],
            EventBounds(ReferralReceivedV2, "suspected_offences"),
        ]
        | None
    ) = None
    priority_requested: Annotated[str, Code(Priority)] | None = None
    concerns: Annotated[str, EventValue(ReferralReceivedV2, "concerns")]


class PartnershipReferralSent(DomainEventBase):
    """Becomes ReferralReceived v2 with ``referral_source`` ``probation``."""

    event_type: Literal["probation-case.partnership-referral.sent"]
    additional_information: ReferralInformation


class InterventionRecord(NativeModel):
    """An intervention's progress: clinical detail, group D."""

    type: Annotated[str, Code(InterventionKind)]
    status: Annotated[str, Code(InterventionStatus)]
    engagement: Annotated[str, Code(Engagement)]
    sessions_attended: (
        Annotated[int, EventValue(InterventionProgress, "sessions_attended")] | None
    ) = None
    sessions_missed: Annotated[int, EventValue(InterventionProgress, "sessions_missed")] | None = (
        None
    )
    progress_notes: Annotated[str | None, EventValue(InterventionProgress, "progress_notes")] = None


class InterventionInformation(Information):
    """An intervention update and what the practitioner writes for the partners."""

    intervention: InterventionRecord
    risk_trend: Annotated[str, Code(RiskTrend)] | None = None
    summary_for_partners: Annotated[
        str | None, EventValue(InterventionUpdated, "summary_for_partners")
    ] = None


class InterventionUpdatedRecord(DomainEventBase):
    """Becomes InterventionUpdated v1."""

    event_type: Literal["probation-case.intervention.updated"]
    additional_information: InterventionInformation


class MeetingInformation(Information):
    """A multi-agency meeting held on the probation side, such as a MAPPA meeting."""

    attending_agencies: Annotated[list[str], EventValue(CaseConsultationHeld, "attendees")]
    next_meeting_date: Annotated[
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


class MultiAgencyMeetingHeld(DomainEventBase):
    """Becomes CaseConsultationHeld v1."""

    event_type: Literal["probation-case.multi-agency-meeting.held"]
    additional_information: MeetingInformation


class ProbationDomainEvent(RootModel[Any]):
    """One HMPPS-style domain event, told apart by ``eventType``; message ``version`` 1.

    ``eventType``, ``detailUrl`` and ``occurredAt`` make the event id, so the same
    message sent again changes nothing.
    """

    root: Annotated[
        LicenceConditionsUpdated
        | ManagementPlanUpdatedRecord
        | BreachReportedRecord
        | PartnershipReferralSent
        | InterventionUpdatedRecord
        | MultiAgencyMeetingHeld,
        Field(discriminator="event_type"),
    ]
