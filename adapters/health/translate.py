"""The health translator: FHIR R4B bundles of the clinical service to case events and back.

Pure: no I/O, no clock, no keys. A record is a FHIR Bundle of type ``collection``
tagged with its kind (``meta.tag`` in :data:`~adapters.health.fhir.RECORD_KIND_SYSTEM`),
holding one Patient that carries only the partnership's pseudonymous reference and
the resources of its kind; the subset and the field-by-field mapping are in
docs/adapters/health.md. The event id is the bundle's id when that is a UUID, else
uuid5 of it: the same bundle read twice gives the same event. A bundle read is then
held to its published shape (:class:`~adapters.health.record.HealthBundle`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Final, NamedTuple

from fhir.resources.R4B.bundle import Bundle

from adapters.health import assessment, delivery, fhir, intervention
from adapters.health.record import HealthBundle
from adapters.native.reading import UNSUPPORTED, Draft, Node
from adapters.native.shape import check_shape

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping

    from adapters.base import ReceivedEvent
    from schemas.base import CaseEvent

AGENCY: Final = "health"


class Kind(NamedTuple):
    """One kind of bundle and the case event it stands for."""

    event_type: str
    resources: frozenset[str]
    read: Callable[[dict[str, list[Node]], Node, Draft], None]
    write: Callable[[dict[str, Any]], list[dict[str, Any]]]


#: Bundle kind (``meta.tag`` code) -> its translation (all version 1 events).
KINDS: Final = {
    "risk-assessment": Kind(
        "RiskAssessmentCompleted", assessment.RESOURCES, assessment.read, assessment.write
    ),
    "intervention-update": Kind(
        "InterventionUpdated", intervention.RESOURCES, intervention.read, intervention.write
    ),
}
_NATIVE_KIND: Final = {kind.event_type: name for name, kind in KINDS.items()}


def _kind(root: Node) -> tuple[str, Kind]:
    tags = [
        tag
        for tag in root.get("meta").get("tag").items(required=True)
        if tag.get("system").value == fhir.RECORD_KIND_SYSTEM
    ]
    if len(tags) != 1:
        raise root.get("meta").get("tag").fail("needs exactly one record-kind tag")
    name = tags[0].get("code").text()
    kind = KINDS.get(name)
    if kind is None:
        raise tags[0].get("code").fail("is not a record kind this adapter translates", UNSUPPORTED)
    return name, kind


def _resources(root: Node, allowed: frozenset[str]) -> dict[str, list[Node]]:
    found: dict[str, list[Node]] = {}
    for entry in root.get("entry").items(required=True):
        resource = entry.get("resource")
        kind = resource.get("resourceType").text()
        if kind != "Patient" and kind not in allowed:
            raise resource.get("resourceType").fail("is not a resource this record kind holds")
        found.setdefault(kind, []).append(resource)
    return found


def _case_reference(root: Node) -> Node:
    identifier = root.get("identifier")
    if identifier.get("system").value != fhir.CASE_REF_SYSTEM:
        raise identifier.get("system").fail("is not the partnership case reference system")
    return identifier.get("value")


class HealthTranslator:
    """Translates the clinical service's FHIR bundles to case events and back."""

    agency = AGENCY

    def to_events(self, record: Mapping[str, Any], *, record_id: str) -> list[CaseEvent]:
        """Translate one bundle into one case event.

        Raises:
            RecordError: ``record.invalid`` naming the bundle path at fault (FHIR
                validation included), or ``record.unsupported`` for an unknown kind.
        """
        root = Node(record, "", record_id)
        if root.get("resourceType").value != "Bundle":
            raise root.get("resourceType").fail("must be Bundle")
        fhir.validate_bundle(record, record_id)
        if root.get("type").value != "collection":
            raise root.get("type").fail("must be collection")
        _, kind = _kind(root)
        resources = _resources(root, kind.resources)
        patients = resources.get("Patient", [])
        if len(patients) != 1:
            raise root.get("entry").fail("needs exactly one Patient")
        draft = Draft(record_id, "entry")
        draft.put("event_id", fhir.event_id_for(root.get("id").text()), "id")
        draft.put("event_type", kind.event_type, "meta.tag")
        draft.put("schema_version", 1, "meta.tag")
        case = _case_reference(root)
        draft.put("case_reference", case.text(), case.path)
        draft.put("recorded_at", root.get("timestamp").text(), "timestamp")
        draft.put("author_agency", AGENCY, "")
        draft.put("subject_ref", fhir.read_patient(patients[0]), patients[0].path)
        kind.read(resources, root.get("entry"), draft)
        event = draft.build()
        check_shape(HealthBundle, record, record_id)
        return [event]

    def to_native(self, events: list[CaseEvent]) -> dict[str, Any]:
        """Write one event back as one validated FHIR R4B bundle.

        The bundle's id becomes the event id (the original id cannot be recovered
        from a uuid5); resources come in canonical order with canonical ids.

        Raises:
            ValueError: not exactly one event, or an event with no health form.
        """
        if len(events) != 1:
            raise ValueError("a bundle carries exactly one case event")
        event = events[0]
        name = _NATIVE_KIND.get(event.event_type)
        if name is None or event.schema_version != 1:
            raise ValueError(f"no health form for {event.event_type} v{event.schema_version}")
        data = event.model_dump(mode="json")
        resources = [fhir.patient(data["subject_ref"]), *KINDS[name].write(data)]
        bundle = {
            "resourceType": "Bundle",
            "id": str(event.event_id),
            "meta": {"tag": [{"system": fhir.RECORD_KIND_SYSTEM, "code": name}]},
            "identifier": {"system": fhir.CASE_REF_SYSTEM, "value": data["case_reference"]},
            "type": "collection",
            "timestamp": data["recorded_at"],
            "entry": [{"resource": resource} for resource in resources],
        }
        native: dict[str, Any] = Bundle.model_validate(bundle).model_dump(
            mode="json", exclude_none=True
        )
        return native

    def render_delivery(self, received: ReceivedEvent) -> dict[str, Any]:
        """Render what health received as a FHIR R4B Communication.

        Only disclosed groups appear, and never group G (see
        :mod:`adapters.health.delivery`).
        """
        return delivery.render(received)
