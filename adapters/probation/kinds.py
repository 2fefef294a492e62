"""Probation's own records as HMPPS-style domain events: licence, plan and breach, both ways.

Each ``read_*`` fills a draft's body from ``additionalInformation``; each ``write_*``
turns the event's JSON form back into ``additionalInformation``. Condition terms,
zones, agreed actions and the supervision status use the native forms of
:mod:`adapters.native.codecs`. The mapping table is in docs/adapters/probation.md.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Final

from adapters.native.codecs import (
    compact,
    read_action,
    read_point,
    read_supervision,
    read_term,
    read_zone,
    write_action,
    write_point,
    write_supervision,
    write_term,
    write_zone,
)
from adapters.native.reading import native_code
from schemas.common import ConditionKind, OrderType, Priority, RiskTrend
from schemas.events.justice import BreachOf, PoliceAction, ProbationAction
from schemas.events.management import UpdateReason
from schemas.places import PlaceKind

if TYPE_CHECKING:
    from adapters.native.reading import Draft, Node

Json = dict[str, Any]
#: Plan strand -> native list of actions.
STRANDS: Final = {
    "supervision": "supervisionActions",
    "monitoring_and_control": "monitoringActions",
    "interventions_and_treatment": "interventionActions",
    "victim_safety_planning": "victimSafetyActions",
}


def read_conditions(info: Node, draft: Draft) -> None:
    """``probation-case.licence-conditions.updated`` -> ConditionsSet (licence)."""
    licence = info.get("licence")
    terms = [read_term(term) for term in licence.get("conditions").items(required=True)]
    draft.take("protected_refs", info.get("protectedPersonReferences"))
    body = {"licence_starts_on": licence.get("startDate").value, "terms": terms}
    draft.put("licence", body | {"licence_ends_on": licence.get("endDate").value}, licence.path)
    supervision = info.get("supervision")
    draft.put("supervision", read_supervision(supervision), supervision.path)
    zones = info.get("exclusionZones").items()
    draft.put("exclusion_zones", [read_zone(zone) for zone in zones], f"{info.path}.exclusionZones")
    draft.sources |= {f"exclusion_zones.{i}": zone.path for i, zone in enumerate(zones)}


def write_conditions(data: Json) -> Json:
    """ConditionsSet (licence) -> ``additionalInformation``."""
    licence = data["licence"]
    if licence is None:
        raise ValueError("probation writes licence conditions only")
    native_licence = {
        "startDate": licence["licence_starts_on"],
        "endDate": licence["licence_ends_on"],
        "conditions": [write_term(term) for term in licence["terms"]],
    }
    return compact(
        {
            "protectedPersonReferences": data["protected_refs"],
            "licence": native_licence,
            "supervision": write_supervision(data["supervision"]),
            "exclusionZones": [write_zone(zone) for zone in data["exclusion_zones"]],
        }
    )


def read_plan(info: Node, draft: Draft) -> None:
    """``probation-case.management-plan.updated`` -> ManagementPlanUpdated.

    A strand absent from the record is unchanged (``null``); an empty list clears it.
    """
    draft.take("plan_version", info.get("planVersion"))
    draft.take("review_on", info.get("reviewDate"))
    draft.put("reason", info.get("reason").code(UpdateReason), f"{info.path}.reason")
    draft.put("priority", info.get("priority").opt_code(Priority), f"{info.path}.priority")
    draft.put("risk_trend", info.get("riskTrend").opt_code(RiskTrend), f"{info.path}.riskTrend")
    draft.take("changes_summary", info.get("changesSummary"))
    for strand, key in STRANDS.items():
        node = info.get(key)
        if node.present:
            draft.put(strand, [read_action(action) for action in node.items()], node.path)
    status = info.get("supervisionStatus")
    draft.put("supervision_status", read_supervision(status), status.path)


def write_plan(data: Json) -> Json:
    """ManagementPlanUpdated -> ``additionalInformation``."""
    native: Json = {
        "planVersion": data["plan_version"],
        "reviewDate": data["review_on"],
        "reason": native_code(data["reason"]),
        "priority": native_code(data["priority"]),
        "riskTrend": native_code(data["risk_trend"]),
        "changesSummary": data["changes_summary"],
        "supervisionStatus": write_supervision(data["supervision_status"]),
    }
    for strand, key in STRANDS.items():
        if data[strand] is not None:
            native[key] = [write_action(action) for action in data[strand]]
    return {k: v for k, v in native.items() if v is not None}


def read_breach(info: Node, draft: Draft) -> None:
    """``probation-case.breach.reported`` -> BreachReported."""
    breach = {
        "breach_of": info.get("breachOf").code(BreachOf),
        "order_type": info.get("orderType").opt_code(OrderType),
        "condition": info.get("condition").code(ConditionKind),
        "zone_ref": info.get("zoneRef").value,
        "crime_reference": info.get("crimeReference").value,
        "police_action": info.get("policeAction").opt_code(PoliceAction),
    }
    draft.put("breach", compact(breach), info.path)
    action = info.get("probationAction")
    draft.put("probation_action", action.opt_code(ProbationAction), action.path)
    draft.put("risk_trend", info.get("riskTrend").opt_code(RiskTrend), f"{info.path}.riskTrend")
    place = info.get("breachLocation")
    if place.present:
        point = place.get("point")
        location: Json = {"kind": place.get("placeKind").code(PlaceKind)}
        location |= {"zone_ref": place.get("zoneRef").value}
        location |= {"point": read_point(point) if point.present else None}
        draft.put("breach_location", compact(location), place.path)
    informed = info.get("victimInformed")
    draft.put("victim_informed", informed.flag(), informed.path)


def write_breach(data: Json) -> Json:
    """BreachReported -> ``additionalInformation``."""
    breach, place = data["breach"], data["breach_location"]
    location: Json | None = None
    if place is not None:
        point = None if place["point"] is None else write_point(place["point"])
        location = compact(
            {"placeKind": native_code(place["kind"]), "zoneRef": place["zone_ref"], "point": point}
        )
    return compact(
        {
            "breachOf": native_code(breach["breach_of"]),
            "orderType": native_code(breach["order_type"]),
            "condition": native_code(breach["condition"]),
            "zoneRef": breach["zone_ref"],
            "crimeReference": breach["crime_reference"],
            "policeAction": native_code(breach["police_action"]),
            "probationAction": native_code(data["probation_action"]),
            "riskTrend": native_code(data["risk_trend"]),
            "breachLocation": location,
            "victimInformed": data["victim_informed"],
        }
    )
