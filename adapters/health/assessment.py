"""Stalking Risk Profile bundles: RiskAssessment, Flag, Condition and CarePlan.

The RiskAssessment carries the four SRP judgements and the five domains as
predictions, the formulation summary as its note and recommendations and the next
review as extensions (group E, A). The Flag carries typology and priority (E). The
clinical findings (group D) are Conditions (diagnoses) and one CarePlan (treatment
advice, medications, and whether the subject is under police investigation).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Final

from adapters.health import fhir
from schemas.events.assessment import SrpDomains, SrpJudgements

if TYPE_CHECKING:
    from adapters.native.reading import Draft, Node

#: Resource types a risk-assessment bundle may hold, beside its Patient.
RESOURCES: Final = frozenset({"RiskAssessment", "Flag", "Condition", "CarePlan"})
ADVICE_ONLY: Final = "advice-only-under-investigation"
_SYSTEM_OF: Final = {uri: name for name, uri in fhir.DIAGNOSIS_SYSTEMS.items()}


def _one(resources: dict[str, list[Node]], kind: str, holder: Node) -> Node:
    found = resources.get(kind, [])
    if len(found) != 1:
        raise holder.fail(f"needs exactly one {kind}")
    return found[0]


def _predictions(risk: Node, system: str, names: tuple[str, ...]) -> dict[str, str]:
    found: dict[str, str] = {}
    for item in risk.get("prediction").items(required=True):
        outcome = item.get("outcome").get("coding").items(required=True)[0]
        if outcome.get("system").value != system:
            continue
        name = outcome.get("code").text()
        if name not in names or name in found:
            raise outcome.get("code").fail("is not an SRP item, or repeats one")
        found[name] = fhir.code_of(item.get("qualitativeRisk"), fhir.JUDGEMENT_SYSTEM)
    return found


def _read_risk(risk: Node, draft: Draft) -> None:
    fhir.check_subject(risk)
    when = risk.get("occurrenceDateTime")
    draft.put("occurred_at", when.text(), when.path)
    judgements = _predictions(risk, fhir.SRP_RISK_SYSTEM, tuple(SrpJudgements.model_fields))
    draft.put("judgements", judgements, f"{risk.path}.prediction")
    domains = _predictions(risk, fhir.SRP_DOMAIN_SYSTEM, tuple(SrpDomains.model_fields))
    draft.put("domains", domains, f"{risk.path}.prediction")
    notes = risk.get("note").items(required=True)
    draft.take("formulation_summary", notes[0].get("text"))
    review = fhir.one_extension(risk, fhir.NEXT_REVIEW_EXT, "valueDate")
    if review is not None:
        draft.take("next_review_on", review)
    recommendations = fhir.extensions(risk, fhir.RECOMMENDATION_EXT)
    codes = [ext.get("valueCode").text() for ext in recommendations]
    draft.put("recommendations", codes, f"{risk.path}.extension")


def _read_flag(flag: Node, draft: Draft) -> None:
    fhir.check_subject(flag)
    draft.put("typology", fhir.code_of(flag.get("code"), fhir.TYPOLOGY_SYSTEM), f"{flag.path}.code")
    categories = flag.get("category").items(required=True)
    draft.put(
        "priority", fhir.code_of(categories[0], fhir.PRIORITY_SYSTEM), f"{flag.path}.category"
    )


def _diagnosis(condition: Node) -> dict[str, Any]:
    fhir.check_subject(condition)
    first = condition.get("code").get("coding").items(required=True)[0]
    system = _SYSTEM_OF.get(first.get("system").text())
    if system is None:
        raise first.get("system").fail("is not SNOMED CT, ICD-10 or ICD-11")
    return {
        "system": system,
        "code": first.get("code").text(),
        "display": first.get("display").text(),
    }


def _read_advice(plan: Node, clinical: dict[str, Any]) -> None:
    fhir.check_subject(plan)
    categories = plan.get("category").items()
    codes = [fhir.code_of(item, fhir.CAREPLAN_CATEGORY_SYSTEM) for item in categories]
    clinical["under_police_investigation"] = ADVICE_ONLY in codes
    clinical["medications"] = [
        act.get("detail").get("productCodeableConcept").get("text").text()
        for act in plan.get("activity").items()
    ]
    advice = plan.get("description").opt_text()
    if advice is not None:
        clinical["treatment_advice"] = advice


def _read_clinical(resources: dict[str, list[Node]], draft: Draft) -> None:
    conditions = resources.get("Condition", [])
    plans = resources.get("CarePlan", [])
    if not conditions and not plans:
        return
    if len(plans) > 1:
        raise plans[1].fail("a risk-assessment bundle holds at most one CarePlan")
    clinical: dict[str, Any] = {"diagnoses": [_diagnosis(item) for item in conditions]}
    if plans:
        _read_advice(plans[0], clinical)
    source = plans[0].path if plans else conditions[0].path
    draft.put("clinical", clinical, source)


def read(resources: dict[str, list[Node]], holder: Node, draft: Draft) -> None:
    """Read a risk-assessment bundle's resources into ``draft``."""
    _read_risk(_one(resources, "RiskAssessment", holder), draft)
    _read_flag(_one(resources, "Flag", holder), draft)
    _read_clinical(resources, draft)


def _prediction(system: str, name: str, judgement: str) -> dict[str, Any]:
    return {
        "outcome": fhir.coding(system, name),
        "qualitativeRisk": fhir.coding(fhir.JUDGEMENT_SYSTEM, judgement),
    }


def _risk(data: dict[str, Any]) -> dict[str, Any]:
    predictions = [_prediction(fhir.SRP_RISK_SYSTEM, k, v) for k, v in data["judgements"].items()]
    predictions += [_prediction(fhir.SRP_DOMAIN_SYSTEM, k, v) for k, v in data["domains"].items()]
    extension = [{"url": fhir.RECOMMENDATION_EXT, "valueCode": c} for c in data["recommendations"]]
    if data["next_review_on"] is not None:
        extension.insert(0, {"url": fhir.NEXT_REVIEW_EXT, "valueDate": data["next_review_on"]})
    risk: dict[str, Any] = {"resourceType": "RiskAssessment", "id": "srp"}
    if extension:
        risk["extension"] = extension
    return risk | {
        "status": "final",
        "subject": fhir.SUBJECT,
        "occurrenceDateTime": data["occurred_at"],
        "prediction": predictions,
        "note": [{"text": data["formulation_summary"]}],
    }


def _flag(data: dict[str, Any]) -> dict[str, Any]:
    return {
        "resourceType": "Flag",
        "id": "srp-flag",
        "status": "active",
        "category": [fhir.coding(fhir.PRIORITY_SYSTEM, data["priority"])],
        "code": fhir.coding(fhir.TYPOLOGY_SYSTEM, data["typology"]),
        "subject": fhir.SUBJECT,
    }


def _condition(index: int, diagnosis: dict[str, Any]) -> dict[str, Any]:
    system = fhir.DIAGNOSIS_SYSTEMS[diagnosis["system"]]
    return {
        "resourceType": "Condition",
        "id": f"diagnosis-{index}",
        "clinicalStatus": fhir.coding(fhir.CLINICAL_STATUS_SYSTEM, "active"),
        "code": fhir.coding(system, diagnosis["code"], diagnosis["display"]),
        "subject": fhir.SUBJECT,
    }


def _care_plan(clinical: dict[str, Any]) -> dict[str, Any]:
    plan: dict[str, Any] = {"resourceType": "CarePlan", "id": "clinical-advice", "status": "active"}
    plan |= {"intent": "plan"}
    if clinical["under_police_investigation"]:
        plan["category"] = [fhir.coding(fhir.CAREPLAN_CATEGORY_SYSTEM, ADVICE_ONLY)]
    if clinical["treatment_advice"] is not None:
        plan["description"] = clinical["treatment_advice"]
    plan["subject"] = fhir.SUBJECT
    activity = [
        {"detail": {"status": "in-progress", "productCodeableConcept": {"text": name}}}
        for name in clinical["medications"]
    ]
    if activity:
        plan["activity"] = activity
    return plan


def write(data: dict[str, Any]) -> list[dict[str, Any]]:
    """Return the resources of a RiskAssessmentCompleted event (JSON data), Patient excluded."""
    resources = [_risk(data), _flag(data)]
    clinical = data["clinical"]
    if clinical is not None:
        resources += [_condition(i, d) for i, d in enumerate(clinical["diagnoses"], start=1)]
        resources.append(_care_plan(clinical))
    return resources
