"""The police translator: POLE documents in, case events out, and deliveries rendered as POLE.

Pure: no I/O, no clock, no keys. The native format (a documented subset of the POLE
model and the police standard data model built on it) and the field-by-field mapping
are in docs/adapters/police.md. Event ids are uuid5 of the document ``id`` and the
POLE event ``id``, so reading the same document twice gives the same events and the
hub recognises the repeat and records nothing new. A document read is then held to
its published shape (:class:`~adapters.police.record.PoleDocument`), unread parts
(an entity no event links) included.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Final, NamedTuple

from adapters.native.codecs import compact, write_zone
from adapters.native.reading import UNSUPPORTED, Draft, Node, derive_event_id, native_code
from adapters.native.shape import check_shape
from adapters.police import casework, kinds
from adapters.police.pole import DocumentWriter, index, links_of
from adapters.police.record import PoleDocument
from schemas.base import FieldGroup

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping

    from adapters.base import ReceivedEvent
    from adapters.police.pole import Links
    from schemas.base import CaseEvent

AGENCY: Final = "police"


class Kind(NamedTuple):
    """One POLE event type and the case event it stands for."""

    event_type: str
    version: int
    read: Callable[[Links, Draft], None]
    write: Callable[[dict[str, Any], DocumentWriter], dict[str, Any]]


#: POLE event ``type`` -> its translation.
KINDS: Final = {
    "REFERRAL": Kind("ReferralReceived", 2, kinds.read_referral, kinds.write_referral),
    "SDASH_SCREENING": Kind("ScreeningCompleted", 1, kinds.read_screening, kinds.write_screening),
    "ORDER": Kind("OrderEvent", 1, kinds.read_order, kinds.write_order),
    "BREACH": Kind("BreachReported", 1, kinds.read_breach, kinds.write_breach),
    "COURT_OUTCOME": Kind("CriminalJusticeOutcome", 1, kinds.read_outcome, kinds.write_outcome),
    "CASE_CONSULTATION": Kind(
        "CaseConsultationHeld", 1, casework.read_consultation, casework.write_consultation
    ),
    "CASE_CLOSURE": Kind("CaseClosed", 1, casework.read_closure, casework.write_closure),
}
_NATIVE_TYPE: Final = {(kind.event_type, kind.version): name for name, kind in KINDS.items()}
_ROLES: Final = {
    "subject_ref": "SUSPECT",
    "victim_ref": "VICTIM",
    "victim_refs": "VICTIM",
    "protected_refs": "VICTIM",
}
_LOCATION_TYPES: Final = {"exclusion_zones": "EXCLUSION_ZONE", "breach_location": "BREACH_PLACE"}


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)


class PoliceTranslator:
    """Translates POLE documents to case events and back, and renders deliveries as POLE."""

    agency = AGENCY

    def to_events(self, record: Mapping[str, Any], *, record_id: str) -> list[CaseEvent]:
        """Translate one POLE document into one case event per POLE event.

        Raises:
            RecordError: ``record.invalid`` naming the native field at fault, or
                ``record.unsupported`` for a POLE event type not translated here.
        """
        document = Node(record, "", record_id)
        document_id = document.get("id").text()
        entities = index(document)
        events = [
            self._event(event, document, document_id, entities)
            for event in document.get("events").items(required=True)
        ]
        check_shape(PoleDocument, record, record_id)
        return events

    def _event(
        self, event: Node, document: Node, document_id: str, entities: dict[str, dict[str, Node]]
    ) -> CaseEvent:
        kind = KINDS.get(event.get("type").text())
        if kind is None:
            raise event.get("type").fail(
                "is not a POLE event type this adapter translates", UNSUPPORTED
            )
        draft = Draft(document.record, f"{event.path}.recordedAt")
        draft.put("event_id", str(derive_event_id(AGENCY, document_id, event.get("id").text())), "")
        draft.put("event_type", kind.event_type, f"{event.path}.type")
        draft.put("schema_version", kind.version, f"{event.path}.type")
        draft.take("case_reference", document.get("caseReference"))
        draft.take("occurred_at", event.get("occurredAt"))
        draft.take("recorded_at", event.get("recordedAt"))
        draft.put("author_agency", AGENCY, "")
        kind.read(links_of(event, entities), draft)
        return draft.build()

    def to_native(self, events: list[CaseEvent]) -> dict[str, Any]:
        """Write events of one case back as one POLE document.

        The document ``id`` is ``urn:uuid:`` and the first event id: the original
        document id cannot be recovered from the derived event ids.

        Raises:
            ValueError: no events, events of several cases, or an event type with
                no POLE form here.
        """
        if not events or len({event.case_reference for event in events}) != 1:
            raise ValueError("to_native needs events of exactly one case")
        writer = DocumentWriter()
        pole_events = []
        for number, event in enumerate(events, start=1):
            name = _NATIVE_TYPE.get((event.event_type, event.schema_version))
            if name is None:
                raise ValueError(f"no POLE form for {event.event_type} v{event.schema_version}")
            data = event.model_dump(mode="json")
            header = {"id": f"EVT-{number}", "type": name}
            header |= {"occurredAt": data["occurred_at"], "recordedAt": data["recorded_at"]}
            pole_events.append(header | compact(KINDS[name].write(data, writer)))
        head = {"id": f"urn:uuid:{events[0].event_id}", "caseReference": events[0].case_reference}
        return head | compact(writer.entities) | {"events": pole_events}

    def render_delivery(self, received: ReceivedEvent) -> dict[str, Any]:
        """Render what police received as a POLE document of one event.

        Only disclosed fields appear: references become persons, crime references
        crime reports, group G fields locations; the rest sits in ``details`` by group.
        Nothing is filled in for a withheld group.
        """
        writer = DocumentWriter()
        links: dict[str, list[str]] = {"personIds": [], "objectIds": [], "locationIds": []}
        details: dict[str, dict[str, Any]] = {}
        for group, values in sorted(received.groups.items()):
            for name, value in values.items():
                if value is None or value == []:
                    continue
                if not _link(name, value, group, writer, links):
                    details.setdefault(group.value, {})[_camel(name)] = value
        fields = received.fields()
        event: dict[str, Any] = {"id": "EVT-1", "type": native_code(received.event_type)}
        event |= {"occurredAt": fields.get("occurred_at"), "recordedAt": fields.get("recorded_at")}
        event |= links | {"details": details}
        return compact(
            {
                "id": f"urn:uuid:{received.event_id}",
                "caseReference": fields.get("case_reference"),
                "delivery": _provenance(received),
            }
            | writer.entities
            | {"events": [compact(event)]}
        )


def _link(
    name: str, value: Any, group: FieldGroup, writer: DocumentWriter, links: dict[str, list[str]]
) -> bool:
    """Turn a field into linked entities if it is a reference or a place; say whether it was.

    Every group G field is victim location: it becomes a POLE location, never part of
    an event's ``details``, so it cannot be mistaken for another group's data.
    """
    if name in {"case_reference", "occurred_at", "recorded_at"}:
        return True
    if name in _ROLES:
        refs = value if isinstance(value, list) else [value]
        links["personIds"] += [writer.person(ref, _ROLES[name]) for ref in refs]
    elif name in {"crime_reference", "crime_references"}:
        refs = value if isinstance(value, list) else [value]
        links["objectIds"] += [writer.crime_report(ref) for ref in refs]
    elif name == "exclusion_zones":
        zones = [{"type": "EXCLUSION_ZONE"} | write_zone(zone) for zone in value]
        links["locationIds"] += [writer.add("locations", zone) for zone in zones]
    elif group is FieldGroup.G:
        kind = _LOCATION_TYPES.get(name) or native_code(name)
        links["locationIds"].append(writer.add("locations", {"type": kind, "detail": value}))
    else:
        return False
    return True


def _provenance(received: ReceivedEvent) -> dict[str, Any]:
    return {
        "eventType": received.event_type,
        "schemaVersion": received.schema_version,
        "sender": received.sender,
        "recipient": received.recipient,
        "decisionId": str(received.decision_id),
        "agreementId": received.agreement_id,
        "agreementVersion": received.agreement_version,
        "disclosedGroups": sorted(group.value for group in received.groups),
    }
