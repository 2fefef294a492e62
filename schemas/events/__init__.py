"""The case-event catalogue: one model per event type and version.

Modules group events by stage of a case: referral and screening, assessment and
consultation, management, justice, the victim's side, and outcomes.
:data:`EVENT_MODELS` lists every model the registry serves; a new type or version
is added there (docs/schemas.md).
"""

from typing import Final

from schemas.base import CaseEvent
from schemas.events.assessment import CaseConsultationHeld, RiskAssessmentCompleted
from schemas.events.justice import BreachReported, ConditionsSet, OrderEvent
from schemas.events.management import (
    InterventionUpdated,
    ManagementPlanAgreed,
    ManagementPlanUpdated,
)
from schemas.events.outcome import CaseClosed, CriminalJusticeOutcome
from schemas.events.referral import ReferralReceived, ReferralReceivedV2, ScreeningCompleted
from schemas.events.victim import VictimSafetyPlanUpdated, VictimViewRecorded

#: Every catalogued model, in the order a case usually meets them.
EVENT_MODELS: Final[tuple[type[CaseEvent], ...]] = (
    ReferralReceived,
    ReferralReceivedV2,
    ScreeningCompleted,
    RiskAssessmentCompleted,
    CaseConsultationHeld,
    ManagementPlanAgreed,
    ManagementPlanUpdated,
    InterventionUpdated,
    OrderEvent,
    ConditionsSet,
    BreachReported,
    VictimSafetyPlanUpdated,
    VictimViewRecorded,
    CriminalJusticeOutcome,
    CaseClosed,
)

__all__ = [
    "EVENT_MODELS",
    "BreachReported",
    "CaseClosed",
    "CaseConsultationHeld",
    "ConditionsSet",
    "CriminalJusticeOutcome",
    "InterventionUpdated",
    "ManagementPlanAgreed",
    "ManagementPlanUpdated",
    "OrderEvent",
    "ReferralReceived",
    "ReferralReceivedV2",
    "RiskAssessmentCompleted",
    "ScreeningCompleted",
    "VictimSafetyPlanUpdated",
    "VictimViewRecorded",
]
