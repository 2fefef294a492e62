"""Intervention bundles: one CarePlan for the intervention, one Encounter per session.

The CarePlan carries the kind (category), the exact status, engagement and risk
trend (extensions: FHIR's CarePlan.status has no ``referred`` or ``ended early``),
the clinical progress notes (note, group D) and the summary for partners
(description, group E). Sessions attended are ``finished`` Encounters, sessions
missed ``cancelled`` ones.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Final

from adapters.health import fhir

if TYPE_CHECKING:
    from adapters.native.reading import Draft, Node

#: Resource types an intervention bundle may hold, beside its Patient.
RESOURCES: Final = frozenset({"CarePlan", "Encounter"})
#: Catalogue intervention status -> FHIR CarePlan.status (written; read from the extension).
CAREPLAN_STATUS: Final = {
    "referred": "draft",
    "started": "active",
    "ongoing": "active",
    "paused": "on-hold",
    "completed": "completed",
    "ended_early": "revoked",
}
_ATTENDED: Final = "finished"
_MISSED: Final = "cancelled"


def _code(plan: Node, url: str) -> str | None:
    value = fhir.one_extension(plan, url, "valueCode")
    return None if value is None else value.text()


def _sessions(encounters: list[Node]) -> tuple[int, int]:
    attended = missed = 0
    for encounter in encounters:
        fhir.check_subject(encounter)
        status = encounter.get("status").value
        if status == _ATTENDED:
            attended += 1
        elif status == _MISSED:
            missed += 1
        else:
            raise encounter.get("status").fail("a session is either finished or cancelled")
    return attended, missed


def read(resources: dict[str, list[Node]], holder: Node, draft: Draft) -> None:
    """Read an intervention bundle's resources into ``draft``."""
    plans = resources.get("CarePlan", [])
    if len(plans) != 1:
        raise holder.fail("needs exactly one CarePlan")
    plan = plans[0]
    fhir.check_subject(plan)
    draft.put("occurred_at", plan.get("created").text(), f"{plan.path}.created")
    attended, missed = _sessions(resources.get("Encounter", []))
    categories = plan.get("category").items(required=True)
    progress: dict[str, Any] = {
        "kind": fhir.code_of(categories[0], fhir.INTERVENTION_KIND_SYSTEM),
        "status": _code(plan, fhir.INTERVENTION_STATUS_EXT),
        "engagement": _code(plan, fhir.ENGAGEMENT_EXT),
        "sessions_attended": attended,
        "sessions_missed": missed,
    }
    notes = plan.get("note").items()
    if notes:
        progress["progress_notes"] = notes[0].get("text").text()
    draft.put("intervention", progress, plan.path)
    draft.put("risk_trend", _code(plan, fhir.RISK_TREND_EXT), f"{plan.path}.extension")
    draft.take("summary_for_partners", plan.get("description"))


def _encounter(index: int, status: str) -> dict[str, Any]:
    return {
        "resourceType": "Encounter",
        "id": f"session-{index}",
        "status": status,
        "class": {"system": fhir.ACT_CODE_SYSTEM, "code": "AMB"},
        "subject": fhir.SUBJECT,
    }


def _care_plan(data: dict[str, Any]) -> dict[str, Any]:
    progress = data["intervention"]
    extension = [
        {"url": fhir.INTERVENTION_STATUS_EXT, "valueCode": progress["status"]},
        {"url": fhir.ENGAGEMENT_EXT, "valueCode": progress["engagement"]},
    ]
    if data["risk_trend"] is not None:
        extension.append({"url": fhir.RISK_TREND_EXT, "valueCode": data["risk_trend"]})
    plan: dict[str, Any] = {
        "resourceType": "CarePlan",
        "id": "intervention",
        "extension": extension,
        "status": CAREPLAN_STATUS[progress["status"]],
        "intent": "plan",
        "category": [fhir.coding(fhir.INTERVENTION_KIND_SYSTEM, progress["kind"])],
        "subject": fhir.SUBJECT,
        "created": data["occurred_at"],
    }
    if data["summary_for_partners"] is not None:
        plan["description"] = data["summary_for_partners"]
    if progress["progress_notes"] is not None:
        plan["note"] = [{"text": progress["progress_notes"]}]
    return plan


def write(data: dict[str, Any]) -> list[dict[str, Any]]:
    """Return the resources of an InterventionUpdated event (JSON data), Patient excluded."""
    progress = data["intervention"]
    statuses = [_ATTENDED] * progress["sessions_attended"] + [_MISSED] * progress["sessions_missed"]
    encounters = [_encounter(i, status) for i, status in enumerate(statuses, start=1)]
    return [_care_plan(data), *encounters]
