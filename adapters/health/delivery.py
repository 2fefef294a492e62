"""Rendering what the health service received as a FHIR R4B Communication.

The Communication's payload holds one ``contentString`` per disclosed group: the
group's fields as JSON. Withheld groups are absent, not blanked, so nothing of them
can be inferred or invented. Group G (victim location) is never rendered, whatever
reached the adapter: a perpetrator-facing service must not hold where the victim is,
and this second check stands behind the hub's safety rule.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any, Final

from adapters.health import fhir
from schemas.base import FieldGroup

if TYPE_CHECKING:
    from collections.abc import Mapping

    from adapters.base import ReceivedEvent

#: Groups the health adapter refuses to render even if they were disclosed.
NEVER_RENDERED: Final = frozenset({FieldGroup.G})


def rendered_groups(received: ReceivedEvent) -> dict[FieldGroup, Mapping[str, Any]]:
    """Return the disclosed groups the health adapter renders, in group order."""
    return {
        group: values
        for group, values in sorted(received.groups.items())
        if group not in NEVER_RENDERED
    }


def _meta(received: ReceivedEvent, groups: list[FieldGroup]) -> dict[str, Any]:
    agreement = {
        "system": fhir.AGREEMENT_SYSTEM,
        "version": str(received.agreement_version),
        "code": received.agreement_id,
    }
    tags = [{"system": fhir.GROUP_SYSTEM, "code": group.value} for group in groups]
    return {"tag": [agreement, *tags]}


def _subject(groups: Mapping[FieldGroup, Mapping[str, Any]]) -> dict[str, Any] | None:
    ref = groups.get(FieldGroup.A, {}).get("subject_ref")
    if not isinstance(ref, str):
        return None
    return {"type": "Patient", "identifier": {"system": fhir.PERSON_REF_SYSTEM, "value": ref}}


def _payload(group: FieldGroup, values: Mapping[str, Any]) -> dict[str, Any]:
    content = {"group": group.value, "fields": dict(values)}
    return {"contentString": json.dumps(content, ensure_ascii=False, sort_keys=True)}


def render(received: ReceivedEvent) -> dict[str, Any]:
    """Return ``received`` as a validated FHIR R4B Communication (JSON data)."""
    groups = rendered_groups(received)
    resource: dict[str, Any] = {
        "resourceType": "Communication",
        "id": str(received.event_id),
        "meta": _meta(received, list(groups)),
        "identifier": [
            {"system": fhir.EVENT_ID_SYSTEM, "value": str(received.event_id)},
            {"system": fhir.DECISION_ID_SYSTEM, "value": str(received.decision_id)},
        ],
        "status": "completed",
        "category": [
            {
                "coding": [
                    {
                        "system": fhir.EVENT_TYPE_SYSTEM,
                        "version": str(received.schema_version),
                        "code": received.event_type,
                    }
                ]
            }
        ],
        "sender": {"display": received.sender},
        "recipient": [{"display": received.recipient}],
    }
    subject = _subject(groups)
    if subject is not None:
        resource["subject"] = subject
    if groups:
        resource["payload"] = [_payload(group, values) for group, values in groups.items()]
    return fhir.validate_communication(resource)
