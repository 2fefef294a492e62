"""Referral records: a referral the advocacy service took (ReferralReceived version 2)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Final

if TYPE_CHECKING:
    from adapters.native.reading import Draft, Node

#: Native key -> event field; values pass as they are and the schema judges them.
FIELDS: Final = {
    "source": "referral_source",
    "behaviourBeganOn": "behaviour_began_on",
    "perpetratorReference": "subject_ref",
    "crimeReferences": "crime_references",
    "suspectedOffences": "suspected_offences",
    "priorityRequested": "priority_requested",
    "concerns": "concerns",
}


def read(record: Node, draft: Draft) -> None:
    """Read a referral record's own fields into ``draft``."""
    victim = record.get("victimReference")
    draft.put("victim_refs", [victim.text()], victim.path)
    for key, name in FIELDS.items():
        draft.take(name, record.get(key))


def write(data: dict[str, Any]) -> dict[str, Any]:
    """Return the referral fields of a ReferralReceived version 2 event (JSON data).

    Raises:
        ValueError: the event names more than one victim; a record holds one.
    """
    if len(data["victim_refs"]) != 1:
        raise ValueError("an advocacy referral record names exactly one victim")
    out: dict[str, Any] = {"victimReference": data["victim_refs"][0]}
    for key, name in FIELDS.items():
        if data[name] not in (None, []):
            out[key] = data[name]
    return out
