"""Values that say where a victim lives, works, goes, or must not be approached.

Every model here is victim-location data: an event may hold one only in a field
tagged G (tests/schemas/test_groups.py enforces it by field name). The ICO has
reprimanded public bodies for disclosing victims' safe addresses to their abusers;
keeping all of it in one group lets the hub's safety rule withhold it whole.
"""

import enum
from typing import Annotated, Literal

from pydantic import Field, StringConstraints

from schemas.base import ShortText, StrictModel
from schemas.common import ClockTime, Weekday, ZoneRef

#: A UK postcode in its usual upper-case form, e.g. ``ZZ1 1ZZ``.
Postcode = Annotated[str, StringConstraints(pattern=r"^[A-Z]{1,2}[0-9][A-Z0-9]? ?[0-9][A-Z]{2}$")]
#: Latitude in degrees (WGS 84), bounded to the British Isles and their waters.
Latitude = Annotated[float, Field(ge=49.0, le=61.0)]
#: Longitude in degrees (WGS 84), bounded to the British Isles and their waters.
Longitude = Annotated[float, Field(ge=-11.0, le=2.5)]


class PostalAddress(StrictModel):
    """A postal address: one to four lines, town and postcode."""

    lines: Annotated[tuple[ShortText, ...], Field(min_length=1, max_length=4)]
    town: ShortText
    postcode: Postcode | None = None


class GeoPoint(StrictModel):
    """A point on the map (WGS 84)."""

    latitude: Latitude
    longitude: Longitude


class CircleGeometry(StrictModel):
    """A circular zone: a centre and a radius."""

    shape: Literal["circle"]
    centre: GeoPoint
    radius_metres: Annotated[int, Field(ge=10, le=50_000)]


class PolygonGeometry(StrictModel):
    """A zone drawn on a map: its boundary's vertices in order (closed implicitly)."""

    shape: Literal["polygon"]
    vertices: Annotated[tuple[GeoPoint, ...], Field(min_length=3, max_length=64)]


#: The geometry of an exclusion zone, told apart by ``shape``.
ZoneGeometry = Annotated[CircleGeometry | PolygonGeometry, Field(discriminator="shape")]


class ExclusionZone(StrictModel):
    """An area the subject must not enter, referred to by conditions as ``zone_ref``."""

    zone_ref: ZoneRef
    label: ShortText
    geometry: ZoneGeometry


#: Up to ten exclusion zones.
ExclusionZones = Annotated[tuple[ExclusionZone, ...], Field(max_length=10)]


class RoutineKind(enum.StrEnum):
    """What a victim's regular movement is for."""

    WORK = "work"
    EDUCATION = "education"
    SCHOOL_RUN = "school_run"
    CHILDCARE = "childcare"
    HEALTH_APPOINTMENT = "health_appointment"
    LEISURE = "leisure"
    WORSHIP = "worship"
    SHOPPING = "shopping"
    TRAVEL = "travel"
    OTHER = "other"


class Routine(StrictModel):
    """A regular movement of the victim that a safety plan must account for."""

    kind: RoutineKind
    days: Annotated[tuple[Weekday, ...], Field(max_length=7)] = ()
    window_from: ClockTime | None = None
    window_until: ClockTime | None = None
    place: PostalAddress | None = None


class VictimLocation(StrictModel):
    """Where the victim can be found: home, workplace and routines.

    ``confidential_home`` marks a safe address (a refuge, a move after the
    stalking began): a disclosure of it is the harm the hub exists to prevent.
    """

    home: PostalAddress | None = None
    confidential_home: bool = False
    workplace: PostalAddress | None = None
    routines: Annotated[tuple[Routine, ...], Field(max_length=20)] = ()


class PlaceKind(enum.StrEnum):
    """What kind of place a breach happened at, relative to the victim."""

    VICTIM_HOME = "victim_home"
    VICTIM_WORKPLACE = "victim_workplace"
    VICTIM_ROUTINE = "victim_routine"
    EXCLUSION_ZONE = "exclusion_zone"
    ONLINE = "online"
    OTHER = "other"


class BreachPlace(StrictModel):
    """Where a breach happened: a kind of place, a zone and a point, each optional."""

    kind: PlaceKind
    zone_ref: ZoneRef | None = None
    point: GeoPoint | None = None
