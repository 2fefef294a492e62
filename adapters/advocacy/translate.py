"""The advocacy translator: the advocate's case-record exports to case events and back.

Pure: no I/O, no clock, no keys. A record is one JSON object exported from the
advocate's case-management system: ``recordType`` (``safety_plan`` or
``referral``), ``recordId``, ``caseReference``, ``occurredAt``, ``recordedAt``
and the fields of its kind, in camelCase with the catalogue's codes. Unknown keys
are refused rather than dropped. The subset and the field-by-field mapping are in
docs/adapters/advocacy.md. The event id is ``recordId`` when that is a UUID, else
uuid5 of it: the same record read twice gives the same event.
"""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING, Any, Final, NamedTuple

from adapters.advocacy import referral, safety_plan
from adapters.native.reading import UNSUPPORTED, Draft, Node

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping

    from adapters.base import ReceivedEvent
    from schemas.base import CaseEvent

AGENCY: Final = "advocacy"
#: Namespace of the event ids derived from record ids (uuid5).
EVENT_NAMESPACE: Final = uuid.UUID("5e2a9c14-7b3d-5f60-8a1e-2d4c6b8f0a02")
_HEADER: Final = frozenset({"recordType", "recordId", "caseReference", "occurredAt", "recordedAt"})


class Kind(NamedTuple):
    """One kind of record and the case event it stands for."""

    event_type: str
    schema_version: int
    keys: frozenset[str]
    read: Callable[[Node, Draft], None]
    write: Callable[[dict[str, Any]], dict[str, Any]]


_PLAN_KEYS: Final = frozenset(
    {"victim", "perpetratorReference", "riskLevel", "needs", "needsSummary", "safetyPlan"}
)
#: ``recordType`` -> its translation.
KINDS: Final = {
    "safety_plan": Kind(
        "VictimSafetyPlanUpdated",
        1,
        _PLAN_KEYS | frozenset(safety_plan.LOCATION_KEYS),
        safety_plan.read,
        safety_plan.write,
    ),
    "referral": Kind(
        "ReferralReceived",
        2,
        frozenset({"victimReference", *referral.FIELDS}),
        referral.read,
        referral.write,
    ),
}
_NATIVE_KIND: Final = {(k.event_type, k.schema_version): name for name, k in KINDS.items()}


def event_id_for(record_id: str) -> str:
    """Return the event id of a record: its id if it is a UUID, else uuid5 of it."""
    try:
        return str(uuid.UUID(record_id))
    except ValueError:
        return str(uuid.uuid5(EVENT_NAMESPACE, f"{AGENCY}/{record_id}"))


def _kind(root: Node) -> Kind:
    kind = KINDS.get(root.get("recordType").text())
    if kind is None:
        raise root.get("recordType").fail(
            "is not a record type this adapter translates", UNSUPPORTED
        )
    unknown = set(root.obj()) - _HEADER - kind.keys
    if unknown:
        raise root.fail("holds a key this record type does not define")
    return kind


class AdvocacyTranslator:
    """Translates the advocate's case-record exports to case events and back."""

    agency = AGENCY

    def to_events(self, record: Mapping[str, Any], *, record_id: str) -> list[CaseEvent]:
        """Translate one exported record into one case event.

        Raises:
            RecordError: ``record.invalid`` naming the native field at fault, or
                ``record.unsupported`` for an unknown ``recordType``.
        """
        root = Node(record, "", record_id)
        kind = _kind(root)
        draft = Draft(record_id, "recordType")
        draft.put("event_id", event_id_for(root.get("recordId").text()), "recordId")
        draft.put("event_type", kind.event_type, "recordType")
        draft.put("schema_version", kind.schema_version, "recordType")
        draft.put("case_reference", root.get("caseReference").text(), "caseReference")
        draft.put("occurred_at", root.get("occurredAt").text(), "occurredAt")
        draft.put("recorded_at", root.get("recordedAt").text(), "recordedAt")
        draft.put("author_agency", AGENCY, "")
        kind.read(root, draft)
        return [draft.build()]

    def to_native(self, events: list[CaseEvent]) -> dict[str, Any]:
        """Write one event back as one exported record.

        ``recordId`` becomes the event id: the original id cannot be recovered from a uuid5.

        Raises:
            ValueError: not exactly one event, or an event with no advocacy form.
        """
        if len(events) != 1:
            raise ValueError("an advocacy record carries exactly one case event")
        event = events[0]
        name = _NATIVE_KIND.get((event.event_type, event.schema_version))
        if name is None:
            raise ValueError(f"no advocacy form for {event.event_type} v{event.schema_version}")
        data = event.model_dump(mode="json")
        header = {
            "recordType": name,
            "recordId": str(event.event_id),
            "caseReference": data["case_reference"],
            "occurredAt": data["occurred_at"],
            "recordedAt": data["recorded_at"],
        }
        return header | KINDS[name].write(data)

    def render_delivery(self, received: ReceivedEvent) -> dict[str, Any]:
        """Render what advocacy received as a ``partner_update`` record.

        Each disclosed group appears under ``groups`` with the event's own field
        names; a withheld group leaves no key behind.
        """
        return {
            "recordType": "partner_update",
            "eventId": str(received.event_id),
            "eventType": received.event_type,
            "schemaVersion": received.schema_version,
            "sender": received.sender,
            "decisionId": str(received.decision_id),
            "agreement": {"id": received.agreement_id, "version": received.agreement_version},
            "disclosedGroups": sorted(group.value for group in received.groups),
            "groups": {group.value: dict(values) for group, values in received.groups.items()},
        }
