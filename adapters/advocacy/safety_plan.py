"""Safety-plan records: the victim's identity, location, needs and safety plan.

The record keeps the event's groups apart by key: ``victim.reference`` is the
pseudonym (A), ``riskLevel`` the advocate's risk level (E), the rest of ``victim``
is identity (F), ``safeAddress``, ``addressConfidential``, ``workplace`` and
``routines`` are location (G) and ``needs``, ``needsSummary`` and ``safetyPlan``
are needs (H). Location data only ever feeds the event's ``location`` field.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Final

if TYPE_CHECKING:
    from adapters.native.reading import Draft, Node

#: Native location keys -> fields of the event's VictimLocation (group G).
LOCATION_KEYS: Final = {
    "safeAddress": "home",
    "addressConfidential": "confidential_home",
    "workplace": "workplace",
    "routines": "routines",
}
_SAFE_CONTACT: Final = {
    "method": "method",
    "detail": "detail",
    "safeTimes": "safe_times",
    "leaveMessages": "leave_messages",
}
_ROUTINE: Final = {
    "kind": "kind",
    "days": "days",
    "from": "window_from",
    "until": "window_until",
    "place": "place",
}
_IDENTITY: Final = {"givenName": "given_name", "familyName": "family_name"}


def _renamed(node: Node, names: dict[str, str]) -> dict[str, Any]:
    """Copy the keys of ``names`` present in ``node``, renamed; the schema judges values."""
    source = node.obj()
    unknown = set(source) - set(names)
    if unknown:
        raise node.fail("holds a key this record kind does not define")
    return {names[key]: value for key, value in source.items()}


def _identity(victim: Node, draft: Draft) -> None:
    names = _IDENTITY | {
        "reference": "reference",
        "preferredName": "preferred_name",
        "safeContact": "safe_contact",
    }
    identity = _renamed(victim, names)
    identity.pop("reference", None)
    if not identity:
        return
    if victim.get("safeContact").present:
        identity["safe_contact"] = _renamed(victim.get("safeContact"), _SAFE_CONTACT)
        draft.sources["victim.safe_contact"] = f"{victim.path}.safeContact"
    draft.put("victim", identity, victim.path)


def _location(record: Node, draft: Draft) -> None:
    present = [key for key in LOCATION_KEYS if record.get(key).present]
    if not present:
        return
    location = {LOCATION_KEYS[key]: record.get(key).value for key in present}
    routines = record.get("routines").items()
    if routines:
        location["routines"] = [_renamed(routine, _ROUTINE) for routine in routines]
    for key in present:
        draft.sources[f"location.{LOCATION_KEYS[key]}"] = key
    draft.put("location", location, present[0])


def _needs(record: Node, draft: Draft) -> None:
    if not (record.get("needs").present or record.get("needsSummary").present):
        return
    needs: dict[str, Any] = {"needs": record.get("needs").value or []}
    if record.get("needsSummary").present:
        needs["summary"] = record.get("needsSummary").value
    draft.sources["needs.summary"] = "needsSummary"
    draft.put("needs", needs, "needs")


def read(record: Node, draft: Draft) -> None:
    """Read a safety-plan record's own fields into ``draft``."""
    victim = record.get("victim")
    draft.put("victim_ref", victim.get("reference").text(), f"{victim.path}.reference")
    draft.take("subject_ref", record.get("perpetratorReference"))
    draft.take("advocate_risk_level", record.get("riskLevel"))
    _identity(victim, draft)
    _location(record, draft)
    _needs(record, draft)
    plan = record.get("safetyPlan")
    safety_plan = {"measures": plan.get("measures").value or []}
    if plan.get("reviewDate").present:
        safety_plan["review_on"] = plan.get("reviewDate").value
    draft.put("safety_plan", safety_plan, plan.path)


def _native(values: dict[str, Any], names: dict[str, str]) -> dict[str, Any]:
    """Rename event keys back to native ones, leaving out ``None`` values."""
    back = {field: key for key, field in names.items()}
    return {back[name]: value for name, value in values.items() if value is not None}


def _write_victim(data: dict[str, Any]) -> dict[str, Any]:
    victim: dict[str, Any] = {"reference": data["victim_ref"]}
    identity = data["victim"]
    if identity is None:
        return victim
    names = _IDENTITY | {"preferredName": "preferred_name"}
    victim |= _native({k: v for k, v in identity.items() if k != "safe_contact"}, names)
    if identity["safe_contact"] is not None:
        victim["safeContact"] = _native(identity["safe_contact"], _SAFE_CONTACT)
    return victim


def _without_none(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _without_none(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_without_none(item) for item in value]
    return value


def _write_location(location: dict[str, Any] | None) -> dict[str, Any]:
    if location is None:
        return {}
    out = _native({k: v for k, v in location.items() if k != "routines"}, LOCATION_KEYS)
    if location["routines"]:
        out["routines"] = [_native(routine, _ROUTINE) for routine in location["routines"]]
    cleaned: dict[str, Any] = _without_none(out)
    return cleaned


def write(data: dict[str, Any]) -> dict[str, Any]:
    """Return the safety-plan fields of a VictimSafetyPlanUpdated event (JSON data)."""
    out: dict[str, Any] = {"victim": _write_victim(data)}
    if data["subject_ref"] is not None:
        out["perpetratorReference"] = data["subject_ref"]
    if data["advocate_risk_level"] is not None:
        out["riskLevel"] = data["advocate_risk_level"]
    out |= _write_location(data["location"])
    if data["needs"] is not None:
        out["needs"] = data["needs"]["needs"]
        if data["needs"]["summary"] is not None:
            out["needsSummary"] = data["needs"]["summary"]
    plan = {"measures": data["safety_plan"]["measures"]}
    if data["safety_plan"]["review_on"] is not None:
        plan["reviewDate"] = data["safety_plan"]["review_on"]
    return out | {"safetyPlan": plan}
