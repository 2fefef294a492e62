"""The probation translator: HMPPS-style domain events in, case events out, and back.

Pure: no I/O, no clock, no keys. A record is one domain event shaped like those
HMPPS publishes (``eventType``, ``version``, ``occurredAt``, ``detailUrl``,
``personReference.identifiers``, ``additionalInformation``); the subset and the
field-by-field mapping are in docs/adapters/probation.md. The event id is uuid5 of
``eventType``, ``detailUrl`` and ``occurredAt``: the same message read twice gives
the same event, and the hub recognises the repeat and records nothing new. A message
read is then held to its published shape
(:class:`~adapters.probation.record.ProbationDomainEvent`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Final, NamedTuple

from adapters.native.reading import UNSUPPORTED, Draft, Node, derive_event_id
from adapters.native.shape import check_shape
from adapters.probation import casework, kinds
from adapters.probation.record import PARTNERSHIP_REF, ProbationDomainEvent
from schemas.base import FieldGroup

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping

    from adapters.base import ReceivedEvent
    from schemas.base import CaseEvent

AGENCY: Final = "probation"


class Kind(NamedTuple):
    """One domain event type and the case event (type and schema version) it stands for."""

    event_type: str
    version: int
    description: str
    read: Callable[[Node, Draft], None]
    write: Callable[[dict[str, Any]], dict[str, Any]]


#: HMPPS ``eventType`` (message ``version`` 1) -> its translation.
KINDS: Final = {
    "probation-case.licence-conditions.updated": Kind(
        "ConditionsSet",
        1,
        "Licence conditions updated",
        kinds.read_conditions,
        kinds.write_conditions,
    ),
    "probation-case.management-plan.updated": Kind(
        "ManagementPlanUpdated", 1, "Management plan updated", kinds.read_plan, kinds.write_plan
    ),
    "probation-case.breach.reported": Kind(
        "BreachReported", 1, "Breach reported", kinds.read_breach, kinds.write_breach
    ),
    "probation-case.partnership-referral.sent": Kind(
        "ReferralReceived",
        2,
        "Referral to the stalking partnership sent",
        casework.read_referral,
        casework.write_referral,
    ),
    "probation-case.intervention.updated": Kind(
        "InterventionUpdated",
        1,
        "Intervention updated",
        casework.read_intervention,
        casework.write_intervention,
    ),
    "probation-case.multi-agency-meeting.held": Kind(
        "CaseConsultationHeld",
        1,
        "Multi-agency meeting held",
        casework.read_meeting,
        casework.write_meeting,
    ),
}
_NATIVE_TYPE: Final = {(kind.event_type, kind.version): name for name, kind in KINDS.items()}


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)


def _subject(record: Node) -> str:
    identifiers = record.get("personReference").get("identifiers")
    refs = [
        item
        for item in identifiers.items(required=True)
        if item.get("type").value == PARTNERSHIP_REF
    ]
    if len(refs) != 1:
        raise identifiers.fail(f"needs exactly one {PARTNERSHIP_REF} identifier")
    return refs[0].get("value").text()


class ProbationTranslator:
    """Translates HMPPS-style domain events to case events and back."""

    agency = AGENCY

    def to_events(self, record: Mapping[str, Any], *, record_id: str) -> list[CaseEvent]:
        """Translate one domain event into one case event.

        Raises:
            RecordError: ``record.invalid`` naming the native field at fault, or
                ``record.unsupported`` for an ``eventType`` or ``version`` not translated.
        """
        root = Node(record, "", record_id)
        name = root.get("eventType").text()
        kind = KINDS.get(name)
        if kind is None:
            raise root.get("eventType").fail(
                "is not an event type this adapter translates", UNSUPPORTED
            )
        if root.get("version").number() != 1:
            raise root.get("version").fail("is not a version this adapter translates", UNSUPPORTED)
        info = root.get("additionalInformation")
        occurred = root.get("occurredAt")
        event_id = derive_event_id(AGENCY, name, root.get("detailUrl").text(), occurred.text())
        draft = Draft(record_id, "additionalInformation.recordedAt")
        draft.put("event_id", str(event_id), "detailUrl")
        draft.put("event_type", kind.event_type, "eventType")
        draft.put("schema_version", kind.version, "version")
        draft.take("case_reference", info.get("caseReference"))
        draft.take("occurred_at", occurred)
        draft.take("recorded_at", info.get("recordedAt"))
        draft.put("author_agency", AGENCY, "")
        draft.put("subject_ref", _subject(root), "personReference.identifiers")
        kind.read(info, draft)
        event = draft.build()
        check_shape(ProbationDomainEvent, record, record_id)
        return [event]

    def to_native(self, events: list[CaseEvent]) -> dict[str, Any]:
        """Write one event back as one domain event.

        ``detailUrl`` becomes ``urn:uuid:`` and the event id: the original URL cannot
        be recovered from the derived id.

        Raises:
            ValueError: not exactly one event, or an event with no probation form.
        """
        if len(events) != 1:
            raise ValueError("a domain event carries exactly one case event")
        event = events[0]
        name = _NATIVE_TYPE.get((event.event_type, event.schema_version))
        if name is None:
            raise ValueError(f"no probation form for {event.event_type} v{event.schema_version}")
        data = event.model_dump(mode="json")
        info = {"caseReference": data["case_reference"], "recordedAt": data["recorded_at"]}
        return {
            "eventType": name,
            "version": 1,
            "description": KINDS[name].description,
            "detailUrl": f"urn:uuid:{event.event_id}",
            "occurredAt": data["occurred_at"],
            "personReference": _person(data["subject_ref"]),
            "additionalInformation": info | KINDS[name].write(data),
        }

    def render_delivery(self, received: ReceivedEvent) -> dict[str, Any]:
        """Render what probation received as an HMPPS-style domain event.

        Disclosed fields go into ``additionalInformation`` (camelCase); group G fields
        sit apart under ``victimLocation``. A withheld group leaves no key behind.
        """
        info: dict[str, Any] = {
            "eventId": str(received.event_id),
            "sender": received.sender,
            "decisionId": str(received.decision_id),
            "agreementId": received.agreement_id,
            "agreementVersion": received.agreement_version,
            "disclosedGroups": sorted(group.value for group in received.groups),
        }
        location: dict[str, Any] = {}
        for group, values in sorted(received.groups.items()):
            target = location if group is FieldGroup.G else info
            target |= {_camel(name): value for name, value in values.items() if name not in _HEAD}
        if location:
            info["victimLocation"] = location
        fields = received.fields()
        native: dict[str, Any] = {
            "eventType": f"partnership-case.{_kebab(received.event_type)}.received",
            "version": received.schema_version,
            "description": f"{received.event_type} shared by {received.sender}",
        }
        if "occurred_at" in fields:
            native["occurredAt"] = fields["occurred_at"]
        if fields.get("subject_ref") is not None:
            native["personReference"] = _person(fields["subject_ref"])
        return native | {"additionalInformation": info}


_HEAD: Final = frozenset({"occurred_at", "subject_ref"})


def _person(ref: str) -> dict[str, Any]:
    return {"identifiers": [{"type": PARTNERSHIP_REF, "value": ref}]}


def _kebab(event_type: str) -> str:
    return "".join(f"-{c.lower()}" if c.isupper() else c for c in event_type).lstrip("-")
