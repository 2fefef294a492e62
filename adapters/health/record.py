"""The FHIR R4B bundle the health adapter accepts, as pydantic models: the subset it reads.

:class:`HealthBundle` is the request body of the health adapter's ``POST /records``
(docs/adapters/health.records.openapi.json) and what
:meth:`~adapters.health.translate.HealthTranslator.to_events` holds every bundle to
(:func:`~adapters.native.shape.check_shape`), after fhir.resources has validated it
as FHIR. Only the elements the adapter reads are described; any other FHIR element
is allowed, except those of a Patient that identify a person. Entries are told
apart by ``resourceType``. Which resources a kind of bundle holds, and which code
system each first coding comes from, are the translator's rules
(docs/adapters/health.md).
"""

from typing import Annotated, Literal

from pydantic import Field

from adapters.health.fhir import (
    CASE_REF_SYSTEM,
    PERSON_REF_SYSTEM,
    SUBJECT,
    SUBJECT_ID,
)
from adapters.native.forms import LocalId
from adapters.native.shape import EventBounds, EventValue, Fixed, NativeModel
from schemas.base import CaseEvent, PersonReference, ShortText, Text
from schemas.events.assessment import ClinicalFindings, RiskAssessmentCompleted


class Coding(NativeModel):
    """A code from a code system."""

    system: LocalId
    code: LocalId
    display: str | None = None


class CodeableConcept(NativeModel):
    """A concept as codings; the adapter reads the first coding."""

    coding: Annotated[list[Coding], Field(min_length=1)]


class Extension(NativeModel):
    """An extension; the adapter reads those whose ``url`` it knows (docs/adapters/health.md)."""

    url: LocalId
    value_date: Annotated[str | None, EventValue(RiskAssessmentCompleted, "next_review_on")] = None
    value_code: str | None = None


class SubjectReference(NativeModel):
    """The bundle's one Patient, always ``Patient/subject``."""

    reference: Annotated[str, Fixed(SUBJECT["reference"])]


class Note(NativeModel):
    """A note: the formulation summary, or an intervention's progress notes (group D)."""

    text: Text


class PersonIdentifier(NativeModel):
    """The partnership's pseudonymous person reference: the only identifier sent."""

    system: Annotated[str, Fixed(PERSON_REF_SYSTEM)]
    value: PersonReference


class Patient(NativeModel):
    """The pseudonymous Patient: id ``subject`` and the partnership reference alone.

    The elements that identify a person (name, telecom, address, birth date, photo,
    contact) must be absent: the bundle is refused if it holds one.
    """

    resource_type: Literal["Patient"]
    id: Annotated[str, Fixed(SUBJECT_ID)]
    identifier: Annotated[list[PersonIdentifier], Field(min_length=1, max_length=1)]
    name: None = None
    telecom: None = None
    address: None = None
    birth_date: None = None
    photo: None = None
    contact: None = None


class Prediction(NativeModel):
    """One SRP item (its code in ``outcome``) and its judgement (``qualitativeRisk``).

    A prediction whose first outcome coding is of neither SRP code system is not read.
    """

    outcome: CodeableConcept
    qualitative_risk: CodeableConcept | None = None


class RiskAssessment(NativeModel):
    """The SRP: four judgements and five domains as predictions, the formulation as a note.

    Extensions carry the next review date (``valueDate``) and the recommendations
    (``valueCode``, one each).
    """

    resource_type: Literal["RiskAssessment"]
    subject: SubjectReference
    occurrence_date_time: Annotated[str, EventValue(CaseEvent, "occurred_at")]
    prediction: Annotated[list[Prediction], Field(min_length=1)]
    note: Annotated[list[Note], Field(min_length=1)]
    extension: list[Extension] | None = None


class Flag(NativeModel):
    """The typology (``code``) and the case priority (first ``category``)."""

    resource_type: Literal["Flag"]
    subject: SubjectReference
    code: CodeableConcept
    category: Annotated[list[CodeableConcept], Field(min_length=1)]


class Condition(NativeModel):
    """One diagnosis: its first coding from SNOMED CT, ICD-10 or ICD-11 (group D)."""

    resource_type: Literal["Condition"]
    subject: SubjectReference
    code: CodeableConcept


class Product(NativeModel):
    """A medication, by name."""

    text: ShortText


class ActivityDetail(NativeModel):
    """What one activity of a clinical-advice plan is: a medication."""

    product_codeable_concept: Product


class Activity(NativeModel):
    """One activity of a clinical-advice plan."""

    detail: ActivityDetail


class CarePlan(NativeModel):
    """The clinical advice of a risk assessment, or the intervention of an update.

    Clinical advice: treatment advice (``description``), medications (``activity``),
    whether advice only, under police investigation (``category``). Intervention:
    its kind (``category``), status, engagement and risk trend (extensions), when
    (``created``), progress notes (``note``), the summary for partners
    (``description``).
    """

    resource_type: Literal["CarePlan"]
    subject: SubjectReference
    category: list[CodeableConcept] | None = None
    description: Text | None = None
    created: Annotated[str | None, EventValue(CaseEvent, "occurred_at")] = None
    activity: Annotated[list[Activity], EventBounds(ClinicalFindings, "medications")] | None = None
    note: list[Note] | None = None
    extension: list[Extension] | None = None


class Encounter(NativeModel):
    """One session of an intervention: ``finished`` (attended) or ``cancelled`` (missed)."""

    resource_type: Literal["Encounter"]
    subject: SubjectReference
    status: Literal["finished", "cancelled"]


Resource = Annotated[
    Patient | RiskAssessment | Flag | Condition | CarePlan | Encounter,
    Field(discriminator="resource_type"),
]


class Entry(NativeModel):
    """One entry of the bundle."""

    resource: Resource


class BundleMeta(NativeModel):
    """The bundle's tags; exactly one names its kind: risk-assessment or intervention-update."""

    tag: Annotated[list[Coding], Field(min_length=1)]


class CaseIdentifier(NativeModel):
    """The partnership case reference."""

    system: Annotated[str, Fixed(CASE_REF_SYSTEM)]
    value: Annotated[str, EventValue(CaseEvent, "case_reference")]


class HealthBundle(NativeModel):
    """One FHIR R4B Bundle of type ``collection``: one Patient and the resources of its kind.

    A ``risk-assessment`` holds one RiskAssessment, one Flag, Conditions and at most
    one CarePlan; an ``intervention-update`` one CarePlan and an Encounter per
    session. The bundle ``id`` makes the event id, so the same bundle sent again
    changes nothing.
    """

    resource_type: Literal["Bundle"]
    id: LocalId
    meta: BundleMeta
    identifier: CaseIdentifier
    type: Literal["collection"]
    timestamp: Annotated[str, EventValue(CaseEvent, "recorded_at")]
    entry: Annotated[list[Entry], Field(min_length=1)]
