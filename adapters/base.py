"""Protocols and values shared by the client SDK and the agency adapters.

An adapter translates its agency's native records into case events (and back),
and renders what the agency receives into its native form. The SDK
(:mod:`adapters.client`) does everything cryptographic and every broker call;
translators are pure: no I/O, no clock, no keys.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING, Any, Protocol

from hub.errors import HubError

if TYPE_CHECKING:
    import uuid
    from collections.abc import Mapping

    from schemas.base import CaseEvent, FieldGroup


class RecordError(HubError):
    """A native record cannot be translated.

    Attributes:
        code: ``record.invalid`` (wrong or missing field) or ``record.unsupported``
            (a kind of record this adapter does not translate).
        record: the record's own id or file name, never its content.
        field: the native field path that is wrong, e.g. ``persons[0].role``.
        problem: what is wrong, without the value.
    """

    def __init__(self, code: str, record: str, field: str, problem: str) -> None:
        """Name the record and the field; never quote the value."""
        super().__init__(code, f"record {record}: field {field}: {problem}")
        self.record = record
        self.field = field
        self.problem = problem


@dataclass(frozen=True)
class ReceivedEvent:
    """What an agency received about one event: the disclosed groups and why.

    Attributes:
        groups: group -> the JSON values of that group's fields, validated
            against the event's schema; withheld groups are absent.
    """

    event_id: uuid.UUID
    event_type: str
    schema_version: int
    sender: str
    recipient: str
    decision_id: uuid.UUID
    agreement_id: str
    agreement_version: int
    groups: Mapping[FieldGroup, Mapping[str, Any]]
    #: What the agency must and must not do with it: the W3C ODRL 2.2 policy the hub
    #: signed into the delivery (docs/envelope.md, "Obligations"); None from a hub
    #: that sends none.
    obligations: Mapping[str, Any] | None = None

    @property
    def purposes(self) -> tuple[str, ...]:
        """The purposes it may be used for (the ``use`` permission's constraint)."""
        for permission in (self.obligations or {}).get("permission", ()):
            for constraint in permission.get("constraint", ()):
                if constraint.get("leftOperand") == "purpose":
                    return tuple(constraint.get("rightOperand", ()))
        return ()

    @property
    def retain_until(self) -> date | None:
        """The day by which it must be deleted (the ``delete`` duty), if one is set."""
        for duty in (self.obligations or {}).get("obligation", ()):
            if duty.get("action") != "delete":
                continue
            for constraint in duty.get("constraint", ()):
                value = constraint.get("rightOperand")
                if constraint.get("leftOperand") == "dateTime" and isinstance(value, dict):
                    return date.fromisoformat(value["@value"])
        return None

    def fields(self) -> dict[str, Any]:
        """Every disclosed field, flat, as JSON values."""
        merged: dict[str, Any] = {}
        for value in self.groups.values():
            merged.update(value)
        return merged


class Translator(Protocol):
    """One agency's translation between its native records and case events."""

    agency: str

    def to_events(self, record: Mapping[str, Any], *, record_id: str) -> list[CaseEvent]:
        """Translate one native record into the events it stands for.

        Raises:
            RecordError: naming ``record_id`` and the native field at fault.
        """
        ...

    def to_native(self, events: list[CaseEvent]) -> dict[str, Any]:
        """Translate events this agency issued back into one native record."""
        ...

    def render_delivery(self, received: ReceivedEvent) -> dict[str, Any]:
        """Render a received (possibly partial) event in the agency's native form."""
        ...
