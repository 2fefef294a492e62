"""The advocacy translator: the advocate's case-record exports to case events and back.

Pure: no I/O, no clock, no keys. A record is one JSON object exported from the
advocate's case-management system: ``recordType`` (``safety_plan`` or
``referral``), ``recordId``, ``caseReference``, ``occurredAt``, ``recordedAt``
and the fields of its kind, in camelCase with the catalogue's codes. Unknown keys
are refused rather than dropped. The same records also come as a CSV export, one
per row (:mod:`adapters.advocacy.csv_export`); a bad row is refused on its own.
The subset and the field-by-field mapping are in docs/adapters/advocacy.md. The
event id is ``recordId`` when that is a UUID, else uuid5 of it: the same record
read twice, in either form, gives the same event. A JSON record read is then held to
its published shape (:class:`~adapters.advocacy.record.AdvocacyRecord`).
"""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING, Any, Final, NamedTuple

from adapters.advocacy import csv_export, referral, safety_plan
from adapters.advocacy.record import AdvocacyRecord
from adapters.base import RecordError
from adapters.native.reading import UNSUPPORTED, Draft, Node
from adapters.native.shape import check_shape
from adapters.native.table import RowResult, read_table, write_table

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping

    from adapters.base import ReceivedEvent
    from adapters.native.table import Row, Table
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


def _record_type(root: Node) -> str:
    name = root.get("recordType").text()
    if name not in KINDS:
        raise root.get("recordType").fail(
            "is not a record type this adapter translates", UNSUPPORTED
        )
    return name


def _draft(root: Node, kind: Kind) -> Draft:
    """Start the event of a record (a JSON object or a CSV row) with its header fields."""
    draft = Draft(root.record, "recordedAt")
    draft.put("event_id", event_id_for(root.get("recordId").text()), "recordId")
    draft.put("event_type", kind.event_type, "recordType")
    draft.put("schema_version", kind.schema_version, "recordType")
    draft.put("case_reference", root.get("caseReference").text(), "caseReference")
    draft.put("occurred_at", root.get("occurredAt").text(), "occurredAt")
    draft.put("recorded_at", root.get("recordedAt").text(), "recordedAt")
    draft.put("author_agency", AGENCY, "")
    return draft


def _native_name(event: CaseEvent) -> str:
    name = _NATIVE_KIND.get((event.event_type, event.schema_version))
    if name is None:
        raise ValueError(f"no advocacy form for {event.event_type} v{event.schema_version}")
    return name


def _header(name: str, data: dict[str, Any]) -> dict[str, str]:
    return {
        "recordType": name,
        "recordId": data["event_id"],
        "caseReference": data["case_reference"],
        "occurredAt": data["occurred_at"],
        "recordedAt": data["recorded_at"],
    }


def _row_result(table: Table, row: Row, file_name: str) -> RowResult:
    """Translate one CSV row; a refusal is this row's result, not the file's."""
    try:
        cells = table.cells(row, file_name)
        root = Node(cells, "", row.record(file_name))
        name = _record_type(root)
        csv_export.check_cells(cells, name, root.record)
        draft = _draft(root, KINDS[name])
        csv_export.read(cells, name, draft)
        return RowResult(row, (draft.build(),))
    except RecordError as error:
        return RowResult(row, error=error)


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
        kind = KINDS[_record_type(root)]
        if set(root.obj()) - _HEADER - kind.keys:
            raise root.fail("holds a key this record type does not define")
        draft = _draft(root, kind)
        kind.read(root, draft)
        event = draft.build()
        check_shape(AdvocacyRecord, record, record_id)
        return [event]

    def table_to_events(self, data: bytes, *, file_name: str) -> tuple[Table, list[RowResult]]:
        """Translate a CSV export, each row into one case event, each row on its own.

        A bad row is refused naming ``file_name row N`` and its column; the other
        rows are translated regardless.

        Raises:
            RecordError: the file as a whole cannot be read: not UTF-8 CSV, no
                header, a column missing from, unknown to or repeated in the header.
        """
        table = read_table(
            data, file_name=file_name, known=csv_export.COLUMNS, required=csv_export.HEADER
        )
        return table, [_row_result(table, row, file_name) for row in table.rows]

    def to_native(self, events: list[CaseEvent]) -> dict[str, Any]:
        """Write one event back as one exported record.

        ``recordId`` becomes the event id: the original id cannot be recovered from a uuid5.

        Raises:
            ValueError: not exactly one event, or an event with no advocacy form.
        """
        if len(events) != 1:
            raise ValueError("an advocacy record carries exactly one case event")
        name = _native_name(events[0])
        data = events[0].model_dump(mode="json")
        return _header(name, data) | KINDS[name].write(data)

    def to_table(self, events: list[CaseEvent]) -> str:
        """Write events back as a CSV export, one row per event, every column.

        ``recordId`` becomes the event id, as in :meth:`to_native`.

        Raises:
            ValueError: an event with no advocacy form, or a safety plan with
                routines (they have no columns) or a referral naming several victims.
        """
        rows = []
        for event in events:
            name = _native_name(event)
            data = event.model_dump(mode="json")
            if data.get("location") and data["location"]["routines"]:
                raise ValueError("routines have no CSV form; export this record as JSON")
            cells = _header(name, data) | csv_export.write(name, data)
            rows.append([cells.get(column, "") for column in csv_export.COLUMNS])
        return write_table(csv_export.COLUMNS, rows)

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
