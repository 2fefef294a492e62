"""The victim's side of the case: identity, location, needs, safety plan and view.

Written by the advocacy service, which keeps the victim's voice in every
decision. The parts sit in separate groups on purpose: the advocate's risk level
(E), identity (F), location (G), needs, safety plan and the victim's own view of
the response (H). A perpetrator-facing health service must never receive G,
whatever an agreement says.
"""

import enum
from typing import Annotated, Literal, Self

from pydantic import ConfigDict, Field, model_validator
from pydantic_core import PydanticCustomError

from schemas.base import (
    SUBJECT,
    VICTIM,
    A,
    CaseEvent,
    E,
    F,
    G,
    H,
    PersonReference,
    PlannedDate,
    ShortText,
    StrictModel,
    Text,
)
from schemas.common import Priority
from schemas.places import VictimLocation


class ContactMethod(enum.StrEnum):
    """How the victim can be contacted safely."""

    PHONE_CALL = "phone_call"
    TEXT_MESSAGE = "text_message"
    EMAIL = "email"
    VIA_ADVOCATE = "via_advocate"
    IN_PERSON_BY_APPOINTMENT = "in_person_by_appointment"


class SafeContact(StrictModel):
    """A safe way to reach the victim, and when it is safe to use it."""

    method: ContactMethod
    detail: ShortText | None = None
    safe_times: ShortText | None = None
    leave_messages: bool = False


class VictimIdentity(StrictModel):
    """Who the victim is and how to reach them safely (group F)."""

    given_name: ShortText
    family_name: ShortText
    preferred_name: ShortText | None = None
    safe_contact: SafeContact | None = None


class NeedKind(enum.StrEnum):
    """Needs an advocate records with the victim."""

    PERSONAL_SAFETY = "personal_safety"
    HOME_SECURITY = "home_security"
    HOUSING = "housing"
    EMOTIONAL_SUPPORT = "emotional_support"
    HEALTH = "health"
    CRIMINAL_JUSTICE_SUPPORT = "criminal_justice_support"
    LEGAL_ADVICE = "legal_advice"
    FINANCIAL = "financial"
    CHILDREN_AND_FAMILY = "children_and_family"
    DIGITAL_SAFETY = "digital_safety"
    EMPLOYMENT = "employment"
    INTERPRETER = "interpreter"
    ACCESSIBILITY = "accessibility"
    OTHER = "other"


class VictimNeeds(StrictModel):
    """The victim's needs in their own terms (group H)."""

    needs: Annotated[tuple[NeedKind, ...], Field(max_length=14)] = ()
    summary: Text | None = None


class MeasureKind(enum.StrEnum):
    """Kinds of measure in a safety plan."""

    PERSONAL_ALARM = "personal_alarm"
    HOME_SECURITY_SURVEY = "home_security_survey"
    POLICE_MARKER = "police_marker"
    SAFE_ROUTE_PLAN = "safe_route_plan"
    PHONE_AND_DEVICE_CHECK = "phone_and_device_check"
    SOCIAL_MEDIA_PRIVACY = "social_media_privacy"
    EVIDENCE_DIARY = "evidence_diary"
    TRUSTED_CONTACTS = "trusted_contacts"
    EMPLOYER_PLAN = "employer_plan"
    RELOCATION = "relocation"
    OTHER = "other"


class MeasureStatus(enum.StrEnum):
    """Where a safety measure stands."""

    PLANNED = "planned"
    IN_PLACE = "in_place"
    DECLINED = "declined"
    WITHDRAWN = "withdrawn"


class SafetyMeasure(StrictModel):
    """One measure of a safety plan."""

    kind: MeasureKind
    status: MeasureStatus


class SafetyPlan(StrictModel):
    """The victim's safety plan (group H)."""

    measures: Annotated[tuple[SafetyMeasure, ...], Field(max_length=30)] = ()
    review_on: PlannedDate | None = None


class VictimSafetyPlanUpdated(CaseEvent):
    """The advocate updated a victim's safety plan, with what it rests on.

    ``subject_ref`` is empty when the stalker is not known. Identity, location and
    needs are optional, so an advocate shares only what the victim agreed to.
    ``advocate_risk_level`` is the advocate's view of the risk to the victim, shared
    with the partnership's risk picture (group E).
    """

    event_type: Annotated[Literal["VictimSafetyPlanUpdated"], A]
    schema_version: Annotated[Literal[1], A]
    victim_ref: Annotated[PersonReference, A, VICTIM]
    subject_ref: Annotated[PersonReference | None, A, SUBJECT] = None
    advocate_risk_level: Annotated[Priority | None, E] = None
    victim: Annotated[VictimIdentity | None, F] = None
    location: Annotated[VictimLocation | None, G] = None
    needs: Annotated[VictimNeeds | None, H] = None
    safety_plan: Annotated[SafetyPlan, H]


class ViewStage(enum.StrEnum):
    """When in the case the victim was asked for their view."""

    REFERRAL = "referral"
    PLAN_AGREED = "plan_agreed"
    REVIEW = "review"
    CLOSURE = "closure"
    FOLLOW_UP = "follow_up"


class ViewScale(enum.StrEnum):
    """How far the victim agrees with a statement: a fixed five-point scale."""

    STRONGLY_DISAGREE = "strongly_disagree"
    DISAGREE = "disagree"
    NEITHER = "neither"
    AGREE = "agree"
    STRONGLY_AGREE = "strongly_agree"


class VictimViewRecorded(CaseEvent):
    """The advocate recorded the victim's own view of how safe they feel and of the response.

    Each statement ("I feel safer", "I am satisfied with the response") is answered
    on :class:`ViewScale`, or ``None`` where the victim chose not to answer it.
    ``declined`` says the victim gave no view at all; both answers are then ``None``
    (``declined_with_answer`` otherwise). There is no free text: the view is counted
    for the programme's evaluation, only ever in aggregate.
    """

    # The same rule as _declined_has_no_answers, for partners validating with the JSON
    # Schema alone.
    model_config = ConfigDict(
        json_schema_extra={
            "if": {"properties": {"declined": {"const": True}}, "required": ["declined"]},
            "then": {
                "properties": {
                    "feels_safer": {"type": "null"},
                    "satisfied_with_response": {"type": "null"},
                }
            },
        }
    )

    event_type: Annotated[Literal["VictimViewRecorded"], A]
    schema_version: Annotated[Literal[1], A]
    victim_ref: Annotated[PersonReference, A, VICTIM]
    subject_ref: Annotated[PersonReference | None, A, SUBJECT] = None
    stage: Annotated[ViewStage, H]
    feels_safer: Annotated[ViewScale | None, H] = None
    satisfied_with_response: Annotated[ViewScale | None, H] = None
    declined: Annotated[bool, H] = False

    @model_validator(mode="after")
    def _declined_has_no_answers(self) -> Self:
        if self.declined and (
            self.feels_safer is not None or self.satisfied_with_response is not None
        ):
            raise PydanticCustomError("declined_with_answer", "a declined view holds no answer")
        return self
