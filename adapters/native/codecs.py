"""Native forms of values police and probation records share: terms, zones, actions.

Native condition term: ``{"code": "EXCLUSION_ZONE", "zoneRefs": ["Z1"], "curfewStart":
"19:00", "curfewEnd": "07:00", "victimRelated": true}``. Native exclusion zone:
``{"zoneRef": "Z1", "label": ..., "circle": {"centre": {"lat": .., "lon": ..},
"radiusMetres": 500}}`` or ``{..., "polygon": [{"lat": .., "lon": ..}, ...]}``. Zones
and points are victim location: they only ever feed group G fields. Native agreed
action: ``{"description", "owner", "dueDate", "status"}``; native supervision status:
``{"level", "roshLevel", "mappaLevel", "mappaCategory", "endDate"}`` with MAPPA level
(1 to 3) and category (1 to 4) as numbers, as probation records them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Final

from adapters.native.reading import native_code
from schemas.common import ActionStatus, ConditionKind, RoshLevel, SupervisionLevel

if TYPE_CHECKING:
    from adapters.native.reading import Node


def compact(data: dict[str, Any]) -> dict[str, Any]:
    """Drop ``None`` values and empty lists: the canonical native form has neither."""
    return {key: value for key, value in data.items() if value is not None and value != []}


def read_term(node: Node) -> dict[str, Any]:
    """Read one native condition term into a :class:`schemas.common.ConditionTerm`."""
    return compact(
        {
            "kind": node.get("code").code(ConditionKind),
            "zone_refs": node.get("zoneRefs").value,
            "curfew_from": node.get("curfewStart").value,
            "curfew_until": node.get("curfewEnd").value,
            "victim_related": node.get("victimRelated").flag(),
        }
    )


def write_term(term: dict[str, Any]) -> dict[str, Any]:
    """Write one condition term (JSON form) natively."""
    return compact(
        {
            "code": native_code(term["kind"]),
            "zoneRefs": list(term["zone_refs"]),
            "curfewStart": term["curfew_from"],
            "curfewEnd": term["curfew_until"],
            "victimRelated": term["victim_related"],
        }
    )


def read_point(node: Node) -> dict[str, Any]:
    """Read a native ``{"lat", "lon"}`` point."""
    return {"latitude": node.get("lat").value, "longitude": node.get("lon").value}


def write_point(point: dict[str, Any]) -> dict[str, Any]:
    """Write a point natively."""
    return {"lat": point["latitude"], "lon": point["longitude"]}


def read_zone(node: Node) -> dict[str, Any]:
    """Read a native exclusion zone (circle or polygon) into a schema exclusion zone."""
    circle, polygon = node.get("circle"), node.get("polygon")
    if circle.present == polygon.present:
        raise node.fail("needs exactly one of circle or polygon")
    if circle.present:
        geometry = {
            "shape": "circle",
            "centre": read_point(circle.get("centre")),
            "radius_metres": circle.get("radiusMetres").value,
        }
    else:
        vertices = [read_point(vertex) for vertex in polygon.items(required=True)]
        geometry = {"shape": "polygon", "vertices": vertices}
    return {"zone_ref": node.get("zoneRef").value, "label": node.get("label").value} | {
        "geometry": geometry
    }


def write_zone(zone: dict[str, Any]) -> dict[str, Any]:
    """Write an exclusion zone (JSON form) natively."""
    geometry = zone["geometry"]
    native: dict[str, Any] = {"zoneRef": zone["zone_ref"], "label": zone["label"]}
    if geometry["shape"] == "circle":
        centre = write_point(geometry["centre"])
        native["circle"] = {"centre": centre, "radiusMetres": geometry["radius_metres"]}
    else:
        native["polygon"] = [write_point(vertex) for vertex in geometry["vertices"]]
    return native


#: MAPPA level and category are numbers in native records (level 1 to 3, category 1 to 4).
MAPPA_LEVELS: Final = {n: f"level_{n}" for n in range(1, 4)}
MAPPA_CATEGORIES: Final = {n: f"category_{n}" for n in range(1, 5)}


def read_action(node: Node) -> dict[str, Any]:
    """Read one native agreed action into a :class:`schemas.common.AgreedAction`."""
    return compact(
        {
            "action": node.get("description").value,
            "owner": node.get("owner").value,
            "due_on": node.get("dueDate").value,
            "status": node.get("status").code(ActionStatus),
        }
    )


def write_action(action: dict[str, Any]) -> dict[str, Any]:
    """Write one agreed action (JSON form) natively."""
    return compact(
        {
            "description": action["action"],
            "owner": action["owner"],
            "dueDate": action["due_on"],
            "status": native_code(action["status"]),
        }
    )


def read_supervision(node: Node) -> dict[str, Any] | None:
    """Read a native supervision status (``None`` when absent)."""
    if not node.present:
        return None
    level, category = node.get("mappaLevel"), node.get("mappaCategory")
    return compact(
        {
            "supervision_level": node.get("level").code(SupervisionLevel),
            "rosh_level": node.get("roshLevel").code(RoshLevel),
            "mappa_level": level.mapped(MAPPA_LEVELS) if level.present else None,
            "mappa_category": category.mapped(MAPPA_CATEGORIES) if category.present else None,
            "supervision_ends_on": node.get("endDate").value,
        }
    )


def write_supervision(status: dict[str, Any] | None) -> dict[str, Any] | None:
    """Write a supervision status (JSON form) natively (``None`` stays ``None``)."""
    if status is None:
        return None
    level, category = status["mappa_level"], status["mappa_category"]
    return compact(
        {
            "level": native_code(status["supervision_level"]),
            "roshLevel": native_code(status["rosh_level"]),
            "mappaLevel": None if level is None else int(level.removeprefix("level_")),
            "mappaCategory": None if category is None else int(category.removeprefix("category_")),
            "endDate": status["supervision_ends_on"],
        }
    )
