"""The published shape of the native values police and probation records share.

The models of :mod:`adapters.native.codecs`' forms: a condition term, a point, an
exclusion zone (a circle or a polygon), a breach place, an agreed action and a
supervision status. Values that feed an event field unchanged take that field's
type (:class:`~adapters.native.shape.EventValue`), codes the catalogue's
vocabulary in upper case (:class:`~adapters.native.shape.Code`).
"""

from typing import Annotated, Any, Final, Self

from pydantic import ConfigDict, Field, model_validator
from pydantic_core import PydanticCustomError

from adapters.native.codecs import MAPPA_CATEGORIES, MAPPA_LEVELS
from adapters.native.shape import Code, EventBounds, EventValue, NativeModel
from schemas.common import (
    ActionStatus,
    AgreedAction,
    ConditionKind,
    ConditionTerm,
    RoshLevel,
    SupervisionLevel,
    SupervisionStatus,
    ZoneRef,
)
from schemas.places import CircleGeometry, ExclusionZone, GeoPoint, PlaceKind, PolygonGeometry

#: Any non-empty text: an id the adapter reads but does not forward as it stands.
LocalId = Annotated[str, Field(min_length=1)]


class ConditionTermRecord(NativeModel):
    """One coded term of bail, a licence or an order; a place is a zone reference only."""

    code: Annotated[str, Code(ConditionKind)]
    zone_refs: Annotated[list[str], EventValue(ConditionTerm, "zone_refs")] | None = None
    curfew_start: Annotated[str | None, EventValue(ConditionTerm, "curfew_from")] = None
    curfew_end: Annotated[str | None, EventValue(ConditionTerm, "curfew_until")] = None
    victim_related: bool | None = None


class Point(NativeModel):
    """A point on the map (WGS 84, degrees): victim location, group G only."""

    lat: Annotated[float, EventValue(GeoPoint, "latitude")]
    lon: Annotated[float, EventValue(GeoPoint, "longitude")]


class Circle(NativeModel):
    """A circular zone: its centre and radius."""

    centre: Point
    radius_metres: Annotated[int, EventValue(CircleGeometry, "radius_metres")]


#: Exactly one of ``circle`` and ``polygon``, for partners validating with the schema alone.
ONE_GEOMETRY: Final[dict[str, Any]] = {
    "oneOf": [
        {"properties": {"circle": {"type": "object"}}, "required": ["circle"]},
        {"properties": {"polygon": {"type": "array"}}, "required": ["polygon"]},
    ]
}


class ZoneRecord(NativeModel):
    """An exclusion zone: a reference conditions use, a label, and a circle or a polygon.

    Victim location, group G only. Exactly one of ``circle`` and ``polygon``.
    """

    model_config = ConfigDict(json_schema_extra=ONE_GEOMETRY)

    zone_ref: ZoneRef
    label: Annotated[str, EventValue(ExclusionZone, "label")]
    circle: Circle | None = None
    polygon: Annotated[list[Point], EventBounds(PolygonGeometry, "vertices")] | None = None

    @model_validator(mode="after")
    def _one_geometry(self) -> Self:
        if (self.circle is None) == (self.polygon is None):
            raise PydanticCustomError("geometry_count", "exactly one of circle or polygon")
        return self


class BreachPlaceRecord(NativeModel):
    """Where a breach happened: a kind of place, a zone and a point (group G only)."""

    place_kind: Annotated[str, Code(PlaceKind)]
    zone_ref: ZoneRef | None = None
    point: Point | None = None


class ActionRecord(NativeModel):
    """One agreed action: what, which agency, by when, how far."""

    description: Annotated[str, EventValue(AgreedAction, "action")]
    owner: Annotated[str, EventValue(AgreedAction, "owner")]
    due_date: Annotated[str | None, EventValue(AgreedAction, "due_on")] = None
    status: Annotated[str, Code(ActionStatus)]


class SupervisionRecord(NativeModel):
    """Probation's supervision picture; MAPPA level (1 to 3) and category (1 to 4) as numbers."""

    level: Annotated[str, Code(SupervisionLevel)]
    rosh_level: Annotated[str, Code(RoshLevel)]
    mappa_level: Annotated[int, Field(ge=min(MAPPA_LEVELS), le=max(MAPPA_LEVELS))] | None = None
    mappa_category: (
        Annotated[int, Field(ge=min(MAPPA_CATEGORIES), le=max(MAPPA_CATEGORIES))] | None
    ) = None
    end_date: Annotated[str | None, EventValue(SupervisionStatus, "supervision_ends_on")] = None
