"""The advocate's case record the advocacy adapter accepts, as pydantic models.

:class:`AdvocacyRecord` is the request body of the advocacy adapter's ``POST /records``
(docs/adapters/advocacy.records.openapi.json) and what
:meth:`~adapters.advocacy.translate.AdvocacyTranslator.to_events` holds every JSON
record to (:func:`~adapters.native.shape.check_shape`). Records are told apart by
``recordType``. Codes are the catalogue's own (lower case) and most values pass to
the event as they stand, so they take the event field's type. Unknown keys are
refused. The CSV export has its own columns (docs/adapters/advocacy.md).
"""

from typing import Annotated, Any, Final, Literal

from pydantic import ConfigDict, Field, RootModel

from adapters.native.forms import LocalId
from adapters.native.shape import ClosedModel, EventBounds, EventValue
from schemas.base import CaseEvent, PersonReference
from schemas.events.referral import ReferralReceivedV2
from schemas.events.victim import (
    SafeContact,
    SafetyPlan,
    VictimIdentity,
    VictimNeeds,
    VictimSafetyPlanUpdated,
)
from schemas.places import Routine, VictimLocation


class RecordHeader(ClosedModel):
    """What every record has: its id, its case and when."""

    record_id: LocalId
    case_reference: Annotated[str, EventValue(CaseEvent, "case_reference")]
    occurred_at: Annotated[str, EventValue(CaseEvent, "occurred_at")]
    recorded_at: Annotated[str, EventValue(CaseEvent, "recorded_at")]


class ReferralRecord(RecordHeader):
    """A referral the advocacy service took: becomes ReferralReceived v2 (one victim)."""

    record_type: Literal["referral"]
    victim_reference: PersonReference
    source: Annotated[str, EventValue(ReferralReceivedV2, "referral_source")]
    behaviour_began_on: Annotated[
        str | None, EventValue(ReferralReceivedV2, "behaviour_began_on")
    ] = None
    perpetrator_reference: Annotated[str | None, EventValue(ReferralReceivedV2, "subject_ref")] = (
        None
    )
    crime_references: (
        Annotated[list[str], EventValue(ReferralReceivedV2, "crime_references")] | None
    ) = None
    suspected_offences: (
        Annotated[list[str], EventValue(ReferralReceivedV2, "suspected_offences")] | None
    ) = None
    priority_requested: Annotated[
        str | None, EventValue(ReferralReceivedV2, "priority_requested")
    ] = None
    concerns: Annotated[str, EventValue(ReferralReceivedV2, "concerns")]


class SafeContactRecord(ClosedModel):
    """How the victim may safely be contacted (group F)."""

    method: Annotated[str, EventValue(SafeContact, "method")]
    detail: Annotated[str | None, EventValue(SafeContact, "detail")] = None
    safe_times: Annotated[str | None, EventValue(SafeContact, "safe_times")] = None
    leave_messages: Annotated[bool | None, EventValue(SafeContact, "leave_messages")] = None


#: Any identity key needs both names, for partners validating with the schema alone.
NAMES_TOGETHER: Final[dict[str, Any]] = {
    "dependentRequired": {
        key: ["givenName", "familyName"]
        for key in ("givenName", "familyName", "preferredName", "safeContact")
    }
}


class VictimRecord(ClosedModel):
    """The victim: the pseudonym (group A) and, if the victim agreed, identity (group F).

    Any identity key (``preferredName`` and ``safeContact`` too) needs both
    ``givenName`` and ``familyName``.
    """

    model_config = ConfigDict(json_schema_extra=NAMES_TOGETHER)

    reference: PersonReference
    given_name: Annotated[str | None, EventValue(VictimIdentity, "given_name")] = None
    family_name: Annotated[str | None, EventValue(VictimIdentity, "family_name")] = None
    preferred_name: Annotated[str | None, EventValue(VictimIdentity, "preferred_name")] = None
    safe_contact: SafeContactRecord | None = None


class RoutineRecord(ClosedModel):
    """A regular movement of the victim (group G)."""

    kind: Annotated[str, EventValue(Routine, "kind")]
    days: Annotated[list[str] | None, EventValue(Routine, "days")] = None
    from_: Annotated[str | None, EventValue(Routine, "window_from"), Field(alias="from")] = None
    until: Annotated[str | None, EventValue(Routine, "window_until")] = None
    place: Annotated[Any, EventValue(Routine, "place")] = None


class SafetyPlanDetails(ClosedModel):
    """The safety plan: its measures and when it is reviewed (group H)."""

    measures: Annotated[list[Any], EventValue(SafetyPlan, "measures")] | None = None
    review_date: Annotated[str | None, EventValue(SafetyPlan, "review_on")] = None


class SafetyPlanRecord(RecordHeader):
    """A safety plan: becomes VictimSafetyPlanUpdated.

    ``riskLevel`` is group E; identity under ``victim`` F; ``safeAddress``,
    ``addressConfidential``, ``workplace`` and ``routines`` G; ``needs``,
    ``needsSummary`` and ``safetyPlan`` H.
    """

    record_type: Literal["safety_plan"]
    victim: VictimRecord
    perpetrator_reference: Annotated[
        str | None, EventValue(VictimSafetyPlanUpdated, "subject_ref")
    ] = None
    risk_level: Annotated[
        str | None, EventValue(VictimSafetyPlanUpdated, "advocate_risk_level")
    ] = None
    safe_address: Annotated[Any, EventValue(VictimLocation, "home")] = None
    address_confidential: (
        Annotated[bool, EventValue(VictimLocation, "confidential_home")] | None
    ) = None
    workplace: Annotated[Any, EventValue(VictimLocation, "workplace")] = None
    routines: Annotated[list[RoutineRecord], EventBounds(VictimLocation, "routines")] | None = None
    needs: Annotated[list[str], EventValue(VictimNeeds, "needs")] | None = None
    needs_summary: Annotated[str | None, EventValue(VictimNeeds, "summary")] = None
    safety_plan: SafetyPlanDetails


class AdvocacyRecord(RootModel[Any]):
    """One record of the advocate's case-management system, told apart by ``recordType``.

    ``recordId`` makes the event id, so the same record sent again changes nothing.
    """

    root: Annotated[ReferralRecord | SafetyPlanRecord, Field(discriminator="record_type")]
