"""The building blocks every case event shares: field groups, bounded types and the header.

A field group (ARCHITECTURE section 4) is the unit of disclosure: the hub grants or
withholds whole groups, never single fields. Every top-level field of an event model
carries exactly one group tag, written as ``Annotated[T, A]`` (or ``B`` ... ``H``);
nested models inherit the group of the field that holds them, so a nested model never
mixes groups. The tag also appears in the exported JSON Schema as ``x-field-group``.
"""

from __future__ import annotations

import enum
import functools
import uuid
from datetime import UTC, date, datetime, timedelta
from typing import TYPE_CHECKING, Annotated, Any, ClassVar, Final, Self

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    create_model,
    model_validator,
)
from pydantic_core import PydanticCustomError

from schemas.parties import PartyId

if TYPE_CHECKING:
    from pydantic import GetJsonSchemaHandler
    from pydantic.json_schema import JsonSchemaValue
    from pydantic_core import CoreSchema


class FieldGroup(enum.StrEnum):
    """The eight field groups of ARCHITECTURE section 4."""

    A = "A"  # case: references, event ids, pseudonymous person references, dates
    B = "B"  # justice: offences, crime references, bail, orders, charges, outcomes
    C = "C"  # supervision: licence conditions, supervision level, MAPPA level
    D = "D"  # clinical: diagnosis, treatment, engagement (special category data)
    E = "E"  # risk: priority, typology, key risk factors, formulation summary
    F = "F"  # victim identity: name, safe contact method
    G = "G"  # victim location: addresses, workplace, routines, exclusion zones
    H = "H"  # victim needs: needs, safety plan


#: A short title for each field group, for people reading timelines and reports.
GROUP_TITLES: Final[dict[FieldGroup, str]] = {
    FieldGroup.A: "case",
    FieldGroup.B: "justice",
    FieldGroup.C: "supervision",
    FieldGroup.D: "clinical",
    FieldGroup.E: "risk",
    FieldGroup.F: "victim identity",
    FieldGroup.G: "victim location",
    FieldGroup.H: "victim needs",
}


class InGroup:
    """Annotation marker that puts one model field into one field group."""

    __slots__ = ("group",)

    def __init__(self, group: FieldGroup) -> None:
        """Tag a field with ``group``."""
        self.group = group

    def __repr__(self) -> str:
        """Show the group, for error messages and debugging."""
        return f"InGroup({self.group.value})"

    def __get_pydantic_json_schema__(
        self, core_schema: CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        """Write the group into the field's JSON Schema as ``x-field-group``."""
        schema = handler(core_schema)
        schema["x-field-group"] = self.group.value
        return schema


class PersonRole(enum.StrEnum):
    """What a person referenced by an event is to that event.

    The ledger records each person's role beside their pseudonym when the hub
    decides, so a subject access report derives the role from the record rather
    than from what someone picks (``hub.console.governance``).
    """

    VICTIM = "victim"  # the person being stalked
    SUBJECT = "subject"  # the person who stalks, whom the case is about
    OTHER = "other"  # anyone else: a person an order protects, say


class AsRole:
    """Annotation marker that says which role the person references of one field hold.

    Every field holding :data:`PersonReference` values carries exactly one (a test
    holds the catalogue to it), so the roles of an event's people come from its
    schema, never from a guess.
    """

    __slots__ = ("role",)

    def __init__(self, role: PersonRole) -> None:
        """Tag a field's person references with ``role``."""
        self.role = role

    def __repr__(self) -> str:
        """Show the role, for error messages and debugging."""
        return f"AsRole({self.role.value})"

    def __get_pydantic_json_schema__(
        self, core_schema: CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        """Write the role into the field's JSON Schema as ``x-person-role``."""
        schema = handler(core_schema)
        schema["x-person-role"] = self.role.value
        return schema


A: Final = InGroup(FieldGroup.A)
B: Final = InGroup(FieldGroup.B)
C: Final = InGroup(FieldGroup.C)
D: Final = InGroup(FieldGroup.D)
E: Final = InGroup(FieldGroup.E)
F: Final = InGroup(FieldGroup.F)
G: Final = InGroup(FieldGroup.G)
H: Final = InGroup(FieldGroup.H)
VICTIM: Final = AsRole(PersonRole.VICTIM)
SUBJECT: Final = AsRole(PersonRole.SUBJECT)
OTHER: Final = AsRole(PersonRole.OTHER)

#: Clock skew tolerated between agencies' systems for times that must not be in the future.
CLOCK_SKEW: Final = timedelta(minutes=5)
#: The furthest ahead a planned date (review, expiry, hearing) may lie.
PLANNING_HORIZON: Final = timedelta(days=366 * 25)
#: Nothing in a case record predates this.
EARLIEST_DATE: Final = date(1900, 1, 1)


def _not_in_future(value: datetime) -> datetime:
    if value > datetime.now(UTC) + CLOCK_SKEW:
        raise PydanticCustomError("time_in_future", "time lies in the future")
    if value.date() < EARLIEST_DATE:
        raise PydanticCustomError("time_too_early", "time lies implausibly far in the past")
    return value


def _plausible_date(value: date) -> date:
    if value < EARLIEST_DATE:
        raise PydanticCustomError("date_too_early", "date lies implausibly far in the past")
    if value > (datetime.now(UTC) + PLANNING_HORIZON).date():
        raise PydanticCustomError("date_too_far_ahead", "date lies beyond the planning horizon")
    return value


def _past_date(value: date) -> date:
    _plausible_date(value)
    if value > (datetime.now(UTC) + CLOCK_SKEW).date():
        raise PydanticCustomError("date_in_future", "date lies in the future")
    return value


class JsonSchemaExtra:
    """Annotation marker: members for the exported JSON Schema, not for validation.

    The model checks the same rule in its own validator, with its own error type
    (``date_too_early``...). A ``pattern`` lets a partner's JSON Schema validator
    refuse what the hub would refuse, where a pattern says it simply; an ``x-``
    member names, for a partner's code, a rule no JSON Schema keyword can state.
    """

    __slots__ = ("members",)

    def __init__(self, members: dict[str, str]) -> None:
        """Write ``members`` into the value's JSON Schema."""
        self.members = members

    def __repr__(self) -> str:
        """Show the members, for error messages and debugging."""
        return f"JsonSchemaExtra({self.members!r})"

    def __get_pydantic_json_schema__(
        self, core_schema: CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        """Add the members to the value's JSON Schema."""
        schema = handler(core_schema)
        schema.update(self.members)
        return schema


#: RFC 3339 writes the year first: ``EARLIEST_DATE``'s 1900 or later, as a pattern.
_YEAR_1900_ON: Final = r"^(19[0-9]{2}|[2-9][0-9]{3})-"
#: A JSON date-time from 1900 on, ending in its offset (``Z``, ``+01:00``): a naive
#: time, as Java's ``LocalDateTime`` writes one, is refused.
TIME_PATTERN: Final = _YEAR_1900_ON + r".*([Zz]|[+-][0-9]{2}:?[0-9]{2})$"
#: A JSON date from 1900 on.
DATE_PATTERN: Final = _YEAR_1900_ON
#: ``x-when`` of a time or date: ``past`` (at most :data:`CLOCK_SKEW` ahead of the
#: hub's clock) or ``planned`` (at most :data:`PLANNING_HORIZON` ahead).
WHEN_PAST: Final = "past"
WHEN_PLANNED: Final = "planned"

#: A timezone-aware time that has already happened (give or take clock skew).
PastTime = Annotated[
    AwareDatetime,
    AfterValidator(_not_in_future),
    JsonSchemaExtra({"pattern": TIME_PATTERN, "x-when": WHEN_PAST}),
]
#: A calendar date that has already happened.
PastDate = Annotated[
    date,
    AfterValidator(_past_date),
    JsonSchemaExtra({"pattern": DATE_PATTERN, "x-when": WHEN_PAST}),
]
#: A calendar date in a plausible planning window (past or future).
PlannedDate = Annotated[
    date,
    AfterValidator(_plausible_date),
    JsonSchemaExtra({"pattern": DATE_PATTERN, "x-when": WHEN_PLANNED}),
]

#: Characters no text field holds: C0 controls but tab (and, in free text, line breaks),
#: DEL and C1 controls (terminal and log injection), and the bidirectional embeddings,
#: overrides and isolates U+202A-U+202E and U+2066-U+2069, which make a reader see
#: other words than the ones written ("Trojan Source", CVE-2021-42574). Marks that
#: only set a direction (U+200E, U+200F) reorder nothing and stay allowed.
UNSAFE_TEXT: Final = r"\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069"
#: Short single-line text: a label, a name, a code.
ShortText = Annotated[
    str, StringConstraints(min_length=1, max_length=120, pattern=rf"^[^\r\n{UNSAFE_TEXT}]+$")
]
#: Free text, bounded: a summary, a rationale, a formulation.
Text = Annotated[
    str, StringConstraints(min_length=1, max_length=4000, pattern=rf"^[^{UNSAFE_TEXT}]+$")
]
#: A partnership case reference, e.g. ``MASIP-2026-000123``.
CaseReference = Annotated[
    str, StringConstraints(pattern=r"^[A-Z][A-Z0-9]{1,11}-[0-9]{4}-[0-9]{6}$")
]
#: A pseudonymous person reference issued by the partnership (never a name or NHS number).
PersonReference = Annotated[str, StringConstraints(pattern=r"^P-[0-9A-HJKMNP-TV-Z]{10}$")]


class StrictModel(BaseModel):
    """Base of every schema model: frozen, strict and closed to unknown fields."""

    model_config = ConfigDict(strict=True, extra="forbid", frozen=True, str_strip_whitespace=False)


class CaseEvent(StrictModel):
    """The common header of every case event.

    Subclasses set ``event_type`` and ``schema_version`` as literals and add their
    own grouped fields. ``recorded_at`` may not precede ``occurred_at`` by more
    than :data:`CLOCK_SKEW`. ``ENVELOPE_CLAIMS`` are the header fields that travel as
    plain claims of the SD-JWT (routing metadata, no personal data); every other
    field travels in the disclosure of its group.
    """

    ENVELOPE_CLAIMS: ClassVar[tuple[str, ...]] = (
        "event_id",
        "event_type",
        "schema_version",
        "author_agency",
    )

    event_id: Annotated[uuid.UUID, A]
    event_type: Annotated[str, A]
    schema_version: Annotated[int, A]
    case_reference: Annotated[CaseReference, A]
    occurred_at: Annotated[PastTime, A]
    recorded_at: Annotated[PastTime, A]
    author_agency: Annotated[PartyId, A]

    @model_validator(mode="after")
    def _recorded_after_occurred(self) -> Self:
        if self.recorded_at < self.occurred_at - CLOCK_SKEW:
            raise PydanticCustomError("recorded_before_occurred", "recorded before it occurred")
        return self


def field_group(model: type[BaseModel], name: str) -> FieldGroup:
    """Return the field group of one field of ``model``.

    Raises:
        LookupError: the field does not exist or carries no (or more than one) group.
    """
    info = model.model_fields[name]
    tags = [m.group for m in info.metadata if isinstance(m, InGroup)]
    if len(tags) != 1:
        raise LookupError(f"{model.__name__}.{name} has {len(tags)} field group tags")
    return tags[0]


def fields_by_group(model: type[CaseEvent]) -> dict[FieldGroup, tuple[str, ...]]:
    """Map each group used by ``model`` to its field names, envelope claims excluded.

    Worked out once per model (the hub and every recipient ask for each event) and
    handed out as a new dict each time, so a caller may change its copy.
    """
    return dict(_layout(model))


@functools.cache
def _layout(model: type[CaseEvent]) -> tuple[tuple[FieldGroup, tuple[str, ...]], ...]:
    grouped: dict[FieldGroup, list[str]] = {}
    for name in model.model_fields:
        if name not in model.ENVELOPE_CLAIMS:
            grouped.setdefault(field_group(model, name), []).append(name)
    return tuple((group, tuple(names)) for group, names in sorted(grouped.items()))


def person_fields(model: type[BaseModel]) -> dict[str, PersonRole]:
    """Map each field of ``model`` that holds person references to their role."""
    return dict(_person_fields(model))


@functools.cache
def _person_fields(model: type[BaseModel]) -> tuple[tuple[str, PersonRole], ...]:
    found = []
    for name, info in model.model_fields.items():
        roles = [m.role for m in info.metadata if isinstance(m, AsRole)]
        if len(roles) > 1:
            raise LookupError(f"{model.__name__}.{name} has {len(roles)} person roles")
        if roles:
            found.append((name, roles[0]))
    return tuple(found)


def persons_of(event: CaseEvent) -> tuple[tuple[str, PersonRole], ...]:
    """The people ``event`` references, each with its role, sorted and without repeats.

    One person may appear twice with two roles (a victim an order also protects).
    """
    pairs: set[tuple[str, PersonRole]] = set()
    for name, role in _person_fields(type(event)):
        value = getattr(event, name)
        refs = value if isinstance(value, tuple) else (value,)
        pairs.update((ref, role) for ref in refs if isinstance(ref, str))
    return tuple(sorted(pairs))


def split_groups(event: CaseEvent) -> dict[FieldGroup, dict[str, Any]]:
    """Split an event into the JSON values of its field groups (envelope claims excluded)."""
    data = event.model_dump(mode="json")
    return {
        group: {name: data[name] for name in names}
        for group, names in fields_by_group(type(event)).items()
    }


@functools.cache
def group_model(model: type[CaseEvent], group: FieldGroup) -> type[StrictModel]:
    """The strict model of one group of ``model``, to validate a partial disclosure.

    Built once per event type and group: building a pydantic model costs about a
    millisecond, which every delivery would otherwise pay for each of its groups.
    """
    fields: dict[str, Any] = {}
    for name in fields_by_group(model).get(group, ()):
        info = model.model_fields[name]
        fields[name] = (info.annotation, info)
    return create_model(f"{model.__name__}{group.value}", __base__=StrictModel, **fields)


def new_event_id() -> uuid.UUID:
    """Return a fresh random event id (UUID version 4)."""
    return uuid.uuid4()


__all__ = [
    "CLOCK_SKEW",
    "DATE_PATTERN",
    "EARLIEST_DATE",
    "OTHER",
    "PLANNING_HORIZON",
    "SUBJECT",
    "TIME_PATTERN",
    "VICTIM",
    "A",
    "AsRole",
    "B",
    "C",
    "CaseEvent",
    "CaseReference",
    "D",
    "E",
    "F",
    "Field",
    "FieldGroup",
    "G",
    "H",
    "InGroup",
    "JsonSchemaExtra",
    "PartyId",
    "PastDate",
    "PastTime",
    "PersonReference",
    "PersonRole",
    "PlannedDate",
    "ShortText",
    "StrictModel",
    "Text",
    "field_group",
    "fields_by_group",
    "group_model",
    "new_event_id",
    "person_fields",
    "persons_of",
    "split_groups",
]
