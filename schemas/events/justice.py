"""Orders, conditions and their breaches: the controls placed on the subject.

Bail and orders are justice data (group B); licence conditions and supervision
are probation's (group C). Terms are coded (:class:`schemas.common.ConditionTerm`)
and name exclusion zones by reference only; the zones' geometry is victim
location and travels in group G, so a recipient may know *that* the subject must
keep out of zone Z1 without learning where the victim lives.
"""

import enum
from datetime import date
from typing import Annotated, Literal, Self

from pydantic import ConfigDict, Field, model_validator
from pydantic_core import PydanticCustomError

from schemas.base import (
    OTHER,
    SUBJECT,
    A,
    B,
    C,
    CaseEvent,
    E,
    G,
    H,
    PastDate,
    PersonReference,
    PlannedDate,
    ShortText,
    StrictModel,
)
from schemas.common import (
    ConditionKind,
    ConditionTerm,
    ConditionTerms,
    CrimeReference,
    OrderType,
    RiskTrend,
    SupervisionStatus,
    ZoneRef,
)
from schemas.places import BreachPlace, ExclusionZones

#: People an order or conditions protect besides the original victim (SPA 2019 s.2).
ProtectedRefs = Annotated[tuple[PersonReference, ...], Field(min_length=1, max_length=10)]


def _in_order(first: date | None, then: date | None, what: str) -> None:
    """Refuse a pair of dates that runs backwards; ``None`` on either side passes."""
    if first is not None and then is not None and then < first:
        raise PydanticCustomError("date_order", "{what} runs backwards", {"what": what})


class OrderAction(enum.StrEnum):
    """What happened to an order."""

    APPLIED = "applied"
    GRANTED = "granted"
    SERVED = "served"
    VARIED = "varied"
    RENEWED = "renewed"
    DISCHARGED = "discharged"


class OrderDetails(StrictModel):
    """A protective order and what just happened to it (group B).

    ``terms`` are the order's prohibitions and requirements; an application may
    not have any yet. An SPO carries ``notify_name_and_address`` by law.
    """

    order_type: OrderType
    action: OrderAction
    court: ShortText | None = None
    effective_on: PastDate | None = None
    expires_on: PlannedDate | None = None
    terms: Annotated[tuple[ConditionTerm, ...], Field(max_length=30)] = ()

    @model_validator(mode="after")
    def _dates_in_order(self) -> Self:
        _in_order(self.effective_on, self.expires_on, "order period")
        return self


class OrderEvent(CaseEvent):
    """A protective order was applied for, granted, served, varied, renewed or discharged."""

    event_type: Annotated[Literal["OrderEvent"], A]
    schema_version: Annotated[Literal[1], A]
    subject_ref: Annotated[PersonReference, A, SUBJECT]
    protected_refs: Annotated[ProtectedRefs, A, OTHER]
    order: Annotated[OrderDetails, B]
    crime_reference: Annotated[CrimeReference | None, B] = None
    exclusion_zones: Annotated[ExclusionZones, G] = ()


class BailType(enum.StrEnum):
    """Who granted bail, and at which stage."""

    POLICE_PRE_CHARGE = "police_pre_charge"
    POLICE_POST_CHARGE = "police_post_charge"
    COURT = "court"


class BailConditions(StrictModel):
    """Conditions of bail (group B)."""

    bail_type: BailType
    granted_on: PastDate
    answer_bail_on: PlannedDate | None = None
    terms: ConditionTerms

    @model_validator(mode="after")
    def _dates_in_order(self) -> Self:
        _in_order(self.granted_on, self.answer_bail_on, "bail period")
        return self


class LicenceConditions(StrictModel):
    """Conditions of a licence after release from custody (group C)."""

    licence_starts_on: PlannedDate
    licence_ends_on: PlannedDate
    terms: ConditionTerms

    @model_validator(mode="after")
    def _dates_in_order(self) -> Self:
        _in_order(self.licence_starts_on, self.licence_ends_on, "licence period")
        return self


class ConditionsSet(CaseEvent):
    """Bail conditions or licence conditions were set or changed: exactly one of the two."""

    # The same rule as _one_regime, for partners validating with the JSON Schema alone.
    model_config = ConfigDict(
        json_schema_extra={
            "oneOf": [
                {"properties": {"bail": {"type": "object"}}, "required": ["bail"]},
                {"properties": {"licence": {"type": "object"}}, "required": ["licence"]},
            ]
        }
    )

    event_type: Annotated[Literal["ConditionsSet"], A]
    schema_version: Annotated[Literal[1], A]
    subject_ref: Annotated[PersonReference, A, SUBJECT]
    protected_refs: Annotated[ProtectedRefs, A, OTHER]
    bail: Annotated[BailConditions | None, B] = None
    licence: Annotated[LicenceConditions | None, C] = None
    supervision: Annotated[SupervisionStatus | None, C] = None
    exclusion_zones: Annotated[ExclusionZones, G] = ()

    @model_validator(mode="after")
    def _one_regime(self) -> Self:
        if (self.bail is None) == (self.licence is None):
            raise PydanticCustomError("regime_count", "exactly one of bail or licence is set")
        return self


class BreachOf(enum.StrEnum):
    """What the subject breached."""

    ORDER = "order"
    BAIL = "bail"
    LICENCE = "licence"


class PoliceAction(enum.StrEnum):
    """The police response to a breach."""

    ARRESTED = "arrested"
    CHARGED = "charged"
    VOLUNTARY_INTERVIEW = "voluntary_interview"
    UNDER_INVESTIGATION = "under_investigation"
    NO_FURTHER_ACTION = "no_further_action"


class BreachDetails(StrictModel):
    """What was breached and the police response (group B)."""

    breach_of: BreachOf
    order_type: OrderType | None = None
    condition: ConditionKind
    zone_ref: ZoneRef | None = None
    crime_reference: CrimeReference | None = None
    police_action: PoliceAction | None = None


class ProbationAction(enum.StrEnum):
    """The probation response to a breach of licence."""

    RECALL_REQUESTED = "recall_requested"
    WARNING_ISSUED = "warning_issued"
    REVIEW_OF_CONDITIONS = "review_of_conditions"


class BreachReported(CaseEvent):
    """A breach of an order, bail or licence was reported.

    Breaching an SPO without reasonable excuse is an offence (SPA 2019 s.8).
    Where it happened is victim location (group G); whether the victim has been
    told is victim needs (group H).
    """

    event_type: Annotated[Literal["BreachReported"], A]
    schema_version: Annotated[Literal[1], A]
    subject_ref: Annotated[PersonReference, A, SUBJECT]
    breach: Annotated[BreachDetails, B]
    probation_action: Annotated[ProbationAction | None, C] = None
    risk_trend: Annotated[RiskTrend | None, E] = None
    breach_location: Annotated[BreachPlace | None, G] = None
    victim_informed: Annotated[bool, H] = False
