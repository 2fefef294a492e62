"""Assessing the stalker and deciding together: risk assessment and case consultation.

The clinical service assesses with the Stalking Risk Profile and shares its
judgements, typology and formulation summary as risk (group E); diagnosis and
treatment advice stay clinical (group D), which advocacy services never receive.
"""

import enum
from typing import Annotated, Literal

from pydantic import Field

from schemas.base import (
    SUBJECT,
    A,
    C,
    CaseEvent,
    D,
    E,
    H,
    PartyId,
    PersonReference,
    PlannedDate,
    ShortText,
    StrictModel,
    Text,
)
from schemas.common import AgreedActions, Priority, RiskJudgement, SupervisionStatus, Typology


class SrpJudgements(StrictModel):
    """The four risks the Stalking Risk Profile judges."""

    violence: RiskJudgement
    persistence: RiskJudgement
    recurrence: RiskJudgement
    psychosocial_damage_to_stalker: RiskJudgement


class SrpDomains(StrictModel):
    """The level of concern in each of the five Stalking Risk Profile domains."""

    relationship: RiskJudgement
    motivation: RiskJudgement
    psychopathology_and_profile: RiskJudgement
    victim_vulnerabilities: RiskJudgement
    legal_and_mental_health_context: RiskJudgement


class Recommendation(enum.StrEnum):
    """Non-clinical recommendations a risk assessment gives the managing agencies."""

    APPLY_FOR_SPO = "apply_for_spo"
    SEEK_RESTRAINING_ORDER = "seek_restraining_order"
    REVIEW_BAIL_CONDITIONS = "review_bail_conditions"
    REVIEW_LICENCE_CONDITIONS = "review_licence_conditions"
    VICTIM_SAFETY_REVIEW = "victim_safety_review"
    MULTI_AGENCY_CONSULTATION = "multi_agency_consultation"
    REFER_TO_INTERVENTION = "refer_to_intervention"
    NO_FURTHER_ACTION = "no_further_action"


class CodeSystem(enum.StrEnum):
    """Terminologies a diagnosis may be coded in."""

    SNOMED_CT = "snomed_ct"
    ICD_10 = "icd_10"
    ICD_11 = "icd_11"


class Diagnosis(StrictModel):
    """A coded diagnosis, as the clinical record holds it."""

    system: CodeSystem
    code: Annotated[str, Field(pattern=r"^[A-Z0-9][A-Z0-9.]{0,17}$")]
    display: ShortText


class ClinicalFindings(StrictModel):
    """Special category data from the assessment (group D)."""

    diagnoses: Annotated[tuple[Diagnosis, ...], Field(max_length=10)] = ()
    medications: Annotated[tuple[ShortText, ...], Field(max_length=20)] = ()
    treatment_advice: Text | None = None
    under_police_investigation: bool = False


class RiskAssessmentCompleted(CaseEvent):
    """A Stalking Risk Profile assessment of the subject was completed.

    ``under_police_investigation`` in the clinical findings records why the
    service advises those managing the subject rather than treating them.
    """

    event_type: Annotated[Literal["RiskAssessmentCompleted"], A]
    schema_version: Annotated[Literal[1], A]
    subject_ref: Annotated[PersonReference, A, SUBJECT]
    next_review_on: Annotated[PlannedDate | None, A] = None
    judgements: Annotated[SrpJudgements, E]
    domains: Annotated[SrpDomains, E]
    typology: Annotated[Typology, E]
    priority: Annotated[Priority, E]
    formulation_summary: Annotated[Text, E]
    recommendations: Annotated[tuple[Recommendation, ...], E, Field(max_length=8)] = ()
    clinical: Annotated[ClinicalFindings | None, D] = None


class CaseConsultationHeld(CaseEvent):
    """The partnership held a multi-agency consultation on the case.

    The advocate's account of the victim's wishes (``victim_voice``) is victim
    needs (group H); the supervision picture presented by probation is group C.
    """

    event_type: Annotated[Literal["CaseConsultationHeld"], A]
    schema_version: Annotated[Literal[1], A]
    subject_ref: Annotated[PersonReference | None, A, SUBJECT] = None
    attendees: Annotated[tuple[PartyId, ...], A, Field(min_length=1, max_length=20)]
    next_consultation_on: Annotated[PlannedDate | None, A] = None
    priority: Annotated[Priority, E]
    typology: Annotated[Typology | None, E] = None
    decisions_summary: Annotated[Text, E]
    actions: Annotated[AgreedActions, E] = ()
    supervision: Annotated[SupervisionStatus | None, C] = None
    victim_voice: Annotated[Text | None, H] = None
