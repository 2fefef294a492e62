"""Native forms of values police and probation records share: condition terms and zones.

Native condition term: ``{"code": "EXCLUSION_ZONE", "zoneRefs": ["Z1"], "curfewStart":
"19:00", "curfewEnd": "07:00", "victimRelated": true}``. Native exclusion zone:
``{"zoneRef": "Z1", "label": ..., "circle": {"centre": {"lat": .., "lon": ..},
"radiusMetres": 500}}`` or ``{..., "polygon": [{"lat": .., "lon": ..}, ...]}``. Zones
and points are victim location: they only ever feed group G fields.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from adapters.native.reading import native_code
from schemas.common import ConditionKind

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
