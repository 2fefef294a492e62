"""Managing the case: the multi-agency management plan and the progress of interventions.

A plan follows the four strands of multi-agency risk management (supervision,
monitoring and control, interventions and treatment, victim safety planning).
Each strand is one field in its own group, so a health service can read the
treatment strand without the victim's safety plan and an advocate the reverse.
"""

import enum
from typing import Annotated, Literal

from pydantic import Field

from schemas.base import (
    SUBJECT,
    A,
    B,
    C,
    CaseEvent,
    D,
    E,
    H,
    PersonReference,
    PlannedDate,
    StrictModel,
    Text,
)
from schemas.common import AgreedActions, Priority, RiskTrend, SupervisionStatus, Typology


class ManagementPlanAgreed(CaseEvent):
    """The partnership agreed a management plan for the subject."""

    event_type: Annotated[Literal["ManagementPlanAgreed"], A]
    schema_version: Annotated[Literal[1], A]
    subject_ref: Annotated[PersonReference, A, SUBJECT]
    plan_version: Annotated[int, A, Field(ge=1, le=999)]
    review_on: Annotated[PlannedDate, A]
    priority: Annotated[Priority, E]
    typology: Annotated[Typology | None, E] = None
    objectives: Annotated[Text, E]
    supervision: Annotated[AgreedActions, C] = ()
    supervision_status: Annotated[SupervisionStatus | None, C] = None
    monitoring_and_control: Annotated[AgreedActions, B] = ()
    interventions_and_treatment: Annotated[AgreedActions, D] = ()
    victim_safety_planning: Annotated[AgreedActions, H] = ()


class UpdateReason(enum.StrEnum):
    """Why a management plan changed."""

    SCHEDULED_REVIEW = "scheduled_review"
    CHANGE_IN_RISK = "change_in_risk"
    BREACH = "breach"
    NEW_INFORMATION = "new_information"
    CHANGE_OF_CIRCUMSTANCES = "change_of_circumstances"
    OTHER = "other"


class ManagementPlanUpdated(CaseEvent):
    """The management plan was reviewed or changed.

    A strand left out (``null``) is unchanged; a strand given replaces the
    previous one whole, so a recipient never merges partial lists.
    """

    event_type: Annotated[Literal["ManagementPlanUpdated"], A]
    schema_version: Annotated[Literal[1], A]
    subject_ref: Annotated[PersonReference, A, SUBJECT]
    plan_version: Annotated[int, A, Field(ge=2, le=999)]
    review_on: Annotated[PlannedDate, A]
    reason: Annotated[UpdateReason, E]
    priority: Annotated[Priority | None, E] = None
    risk_trend: Annotated[RiskTrend | None, E] = None
    changes_summary: Annotated[Text, E]
    supervision: Annotated[AgreedActions | None, C] = None
    supervision_status: Annotated[SupervisionStatus | None, C] = None
    monitoring_and_control: Annotated[AgreedActions | None, B] = None
    interventions_and_treatment: Annotated[AgreedActions | None, D] = None
    victim_safety_planning: Annotated[AgreedActions | None, H] = None


class InterventionKind(enum.StrEnum):
    """Interventions a subject may be referred to."""

    STALKING_INTERVENTION_PROGRAMME = "stalking_intervention_programme"
    PSYCHOLOGICAL_THERAPY = "psychological_therapy"
    PSYCHIATRIC_TREATMENT = "psychiatric_treatment"
    SUBSTANCE_MISUSE_SERVICE = "substance_misuse_service"
    ACCREDITED_PROBATION_PROGRAMME = "accredited_probation_programme"
    OTHER = "other"


class InterventionStatus(enum.StrEnum):
    """Where an intervention stands."""

    REFERRED = "referred"
    STARTED = "started"
    ONGOING = "ongoing"
    PAUSED = "paused"
    COMPLETED = "completed"
    ENDED_EARLY = "ended_early"


class Engagement(enum.StrEnum):
    """How the subject engages with an intervention."""

    ENGAGED = "engaged"
    PARTIALLY_ENGAGED = "partially_engaged"
    DISENGAGED = "disengaged"
    DECLINED = "declined"
    NOT_YET_ASSESSED = "not_yet_assessed"


class InterventionProgress(StrictModel):
    """The clinical side of an intervention's progress (group D)."""

    kind: InterventionKind
    status: InterventionStatus
    engagement: Engagement
    sessions_attended: Annotated[int, Field(ge=0, le=999)] = 0
    sessions_missed: Annotated[int, Field(ge=0, le=999)] = 0
    progress_notes: Text | None = None


class InterventionUpdated(CaseEvent):
    """An intervention with the subject started, progressed, paused or ended.

    The detail is clinical (group D); ``summary_for_partners`` is what the
    treating service judges the partners need (GMC: the minimum necessary).
    """

    event_type: Annotated[Literal["InterventionUpdated"], A]
    schema_version: Annotated[Literal[1], A]
    subject_ref: Annotated[PersonReference, A, SUBJECT]
    intervention: Annotated[InterventionProgress, D]
    risk_trend: Annotated[RiskTrend | None, E] = None
    summary_for_partners: Annotated[Text | None, E] = None
