"""The FHIR subset the health adapter reads and writes: systems, validation, codings.

fhir.resources ships FHIR R5 by default; this adapter uses ``fhir.resources.R4B``
(FHIR 4.3.0), the nearest release to the R4 of UK Core that the library ships.
Every bundle is validated with it before a field is read, and everything written is
validated with it before it leaves. fhir.resources checks structure and types but
not code bindings, so the codes this adapter relies on are checked again on reading.
"""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING, Any, Final

from fhir.resources.R4B.bundle import Bundle
from fhir.resources.R4B.communication import Communication
from pydantic import ValidationError

from adapters.base import RecordError
from adapters.native.reading import INVALID, Node

if TYPE_CHECKING:
    from collections.abc import Mapping

BASE: Final = "https://example.org/fhir"
#: The partnership's pseudonymous person reference: the only Patient identifier sent.
PERSON_REF_SYSTEM: Final = f"{BASE}/masip-person-ref"
CASE_REF_SYSTEM: Final = f"{BASE}/masip-case-ref"
RECORD_KIND_SYSTEM: Final = f"{BASE}/CodeSystem/masip-record-kind"
SRP_RISK_SYSTEM: Final = f"{BASE}/CodeSystem/srp-risk"
SRP_DOMAIN_SYSTEM: Final = f"{BASE}/CodeSystem/srp-domain"
JUDGEMENT_SYSTEM: Final = f"{BASE}/CodeSystem/srp-judgement"
TYPOLOGY_SYSTEM: Final = f"{BASE}/CodeSystem/stalker-typology"
PRIORITY_SYSTEM: Final = f"{BASE}/CodeSystem/case-priority"
CAREPLAN_CATEGORY_SYSTEM: Final = f"{BASE}/CodeSystem/careplan-category"
INTERVENTION_KIND_SYSTEM: Final = f"{BASE}/CodeSystem/intervention-kind"
EXT: Final = f"{BASE}/StructureDefinition"
NEXT_REVIEW_EXT: Final = f"{EXT}/next-review-on"
RECOMMENDATION_EXT: Final = f"{EXT}/srp-recommendation"
INTERVENTION_STATUS_EXT: Final = f"{EXT}/intervention-status"
ENGAGEMENT_EXT: Final = f"{EXT}/engagement"
RISK_TREND_EXT: Final = f"{EXT}/risk-trend"
#: Identifiers and tags of a rendered delivery.
EVENT_ID_SYSTEM: Final = f"{BASE}/masip-event-id"
DECISION_ID_SYSTEM: Final = f"{BASE}/masip-decision-id"
AGREEMENT_SYSTEM: Final = f"{BASE}/masip-agreement"
GROUP_SYSTEM: Final = f"{BASE}/CodeSystem/masip-field-group"
EVENT_TYPE_SYSTEM: Final = f"{BASE}/CodeSystem/masip-event-type"
#: UK Core's NHS number system: identifying, so a bundle carrying it is refused.
NHS_NUMBER_SYSTEM: Final = "https://fhir.nhs.uk/Id/nhs-number"
ACT_CODE_SYSTEM: Final = "http://terminology.hl7.org/CodeSystem/v3-ActCode"
CLINICAL_STATUS_SYSTEM: Final = "http://terminology.hl7.org/CodeSystem/condition-clinical"
#: Catalogue code system of a diagnosis -> its FHIR system URI.
DIAGNOSIS_SYSTEMS: Final = {
    "snomed_ct": "http://snomed.info/sct",
    "icd_10": "http://hl7.org/fhir/sid/icd-10",
    "icd_11": "http://id.who.int/icd/release/11/mms",
}
SUBJECT_ID: Final = "subject"
SUBJECT: Final = {"reference": f"Patient/{SUBJECT_ID}"}
#: Patient elements that identify a person; the adapter refuses a Patient holding any.
_IDENTIFYING: Final = ("name", "telecom", "address", "birthDate", "photo", "contact")
#: Namespace of the event ids derived from bundle ids (uuid5).
EVENT_NAMESPACE: Final = uuid.UUID("8b0d6f52-4c1e-5a37-9d2f-1e6a0c4b7a01")


def event_id_for(native_id: str) -> str:
    """Return the event id of a bundle: its id if it is a UUID, else uuid5 of it."""
    try:
        return str(uuid.UUID(native_id))
    except ValueError:
        return str(uuid.uuid5(EVENT_NAMESPACE, f"health/{native_id}"))


def validate_bundle(record: Mapping[str, Any], record_id: str) -> None:
    """Validate ``record`` as a FHIR R4B Bundle, naming the failing path only.

    Raises:
        RecordError: ``record.invalid`` at the first failing location.
    """
    try:
        Bundle.model_validate(dict(record))
    except ValidationError as error:
        first = error.errors(include_url=False, include_input=False, include_context=False)[0]
        path = ".".join(str(part) for part in first["loc"])
        raise RecordError(
            INVALID, record_id, path or "<bundle>", f"not valid FHIR R4B ({first['type']})"
        ) from None
    except (KeyError, ValueError, TypeError):
        raise RecordError(INVALID, record_id, "entry", "holds an unknown FHIR resource") from None


def validate_communication(resource: dict[str, Any]) -> dict[str, Any]:
    """Validate a Communication with fhir.resources and return its JSON form."""
    model = Communication.model_validate(resource)
    dumped: dict[str, Any] = model.model_dump(mode="json", exclude_none=True)
    return dumped


def coding(system: str, code: str, display: str | None = None) -> dict[str, Any]:
    """Return a CodeableConcept with one coding."""
    item = {"system": system, "code": code}
    if display is not None:
        item["display"] = display
    return {"coding": [item]}


def code_of(node: Node, system: str) -> str:
    """Return the code of the first coding of a CodeableConcept, checking its system."""
    first = node.get("coding").items(required=True)[0]
    if first.get("system").text() != system:
        raise first.get("system").fail("is not the code system this field uses")
    return first.get("code").text()


def extensions(node: Node, url: str) -> list[Node]:
    """Return the extensions of a resource with ``url``."""
    return [ext for ext in node.get("extension").items() if ext.get("url").value == url]


def one_extension(node: Node, url: str, key: str) -> Node | None:
    """Return the ``value[x]`` node of the single extension with ``url`` (``None``: absent)."""
    found = extensions(node, url)
    if len(found) > 1:
        raise node.get("extension").fail("repeats an extension that may occur once")
    return found[0].get(key) if found else None


def check_subject(resource: Node) -> None:
    """Refuse a resource whose subject is not the bundle's pseudonymous Patient."""
    if resource.get("subject").get("reference").value != SUBJECT["reference"]:
        raise resource.get("subject").fail(f"must reference Patient/{SUBJECT_ID}")


def read_patient(patient: Node) -> str:
    """Return the pseudonymous reference of the Patient, refusing anything identifying.

    Raises:
        RecordError: an identifying element, an NHS number, or not exactly one
            partnership identifier.
    """
    if patient.get("id").value != SUBJECT_ID:
        raise patient.get("id").fail(f"must be {SUBJECT_ID}")
    for name in _IDENTIFYING:
        if patient.get(name).present:
            raise patient.get(name).fail("identifies a person; only the partnership ref is sent")
    identifiers = patient.get("identifier").items(required=True)
    for item in identifiers:
        if item.get("system").value != PERSON_REF_SYSTEM:
            raise item.get("system").fail("only the partnership person reference may be sent")
    if len(identifiers) != 1:
        raise patient.get("identifier").fail("needs exactly one partnership identifier")
    return identifiers[0].get("value").text()


def patient(person_ref: str) -> dict[str, Any]:
    """Return the pseudonymous Patient of a bundle."""
    return {
        "resourceType": "Patient",
        "id": SUBJECT_ID,
        "identifier": [{"system": PERSON_REF_SYSTEM, "value": person_ref}],
    }
