"""From verified envelope contents to validated case events, group by group.

A signature proves who wrote an event, not that each field sits in the right
field group. An issuer that put a victim's address into the case group (A) would
have it disclosed wherever A goes. So before the hub decides anything it checks
that every disclosure holds exactly the fields of its group, then validates the
whole event; a recipient checks each group it received against that group's part
of the schema.

When an event fails, :func:`field_of` says where, for the sender's refusal notice,
as a JSON Pointer built from the names of the type's published JSON Schema alone.
"""

from __future__ import annotations

import functools
import json
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final

from schemas.base import fields_by_group, group_model
from schemas.errors import FieldProblem, SchemaError, SchemaErrorCode
from schemas.registry import model_for, parse_event

if TYPE_CHECKING:
    from collections.abc import Mapping

    from hub.crypto import Delivery, Issuance
    from schemas.base import CaseEvent, FieldGroup, StrictModel

_INDEX: Final = re.compile(r"^(0|[1-9][0-9]{0,5})$")


def _check_layout(
    expected: Mapping[FieldGroup, tuple[str, ...]],
    groups: Mapping[FieldGroup, Mapping[str, Any]],
    *,
    complete: bool,
) -> None:
    """Every disclosed field sits in its own group; an optional field may be left out.

    A field left out of its group is the schema's business: the whole event's
    validation names a missing required field by its path. A field in another group
    than its own is named by its path too; a name the event type does not have is
    from the input, and named ``<key>``. With ``complete`` (an issuance), every group
    of the event type is disclosed, if only as ``{}``.
    """
    owner = {name: group for group, names in expected.items() for name in names}
    for group, value in groups.items():
        stray = [name for name in value if owner.get(name) is not group]
        if stray:
            problems = [
                FieldProblem(name, "wrong_group") if name in owner else _unknown_key()
                for name in stray
            ]
            detail = f"group {group.value} holds fields that are not its own"
            raise SchemaError(SchemaErrorCode.INVALID, detail, problems)
    missing = sorted(group.value for group in set(expected) - set(groups)) if complete else []
    if missing:
        detail = f"the event lacks its group(s) {', '.join(missing)} (an empty group is {{}})"
        raise SchemaError(SchemaErrorCode.INVALID, detail)


def _unknown_key() -> FieldProblem:
    """A name the event type does not have: it comes from the input, so it is not echoed."""
    return FieldProblem("<key>", "extra_forbidden")


def event_from_issuance(issuance: Issuance) -> CaseEvent:
    """Validate an issuance as a whole event of its declared type and version.

    Raises:
        SchemaError: ``schema.unknown_type``, ``schema.unknown_version`` or
            ``schema.invalid`` (a group holding another group's fields included).
        EnvelopeError: a field repeated across groups.
    """
    model = model_for(issuance.claims.event_type, issuance.claims.schema_version)
    _check_layout(fields_by_group(model), issuance.groups, complete=True)
    return parse_event(issuance.event_data())


def groups_from_delivery(delivery: Delivery) -> dict[FieldGroup, StrictModel]:
    """Validate each delivered group against its part of the event's schema.

    Returns:
        group -> validated model of just that group's fields.

    Raises:
        SchemaError: as :func:`event_from_issuance`; missing groups are expected.
    """
    model = model_for(delivery.claims.event_type, delivery.claims.schema_version)
    _check_layout(fields_by_group(model), delivery.groups, complete=False)
    return {group: _validate_group(model, group, v) for group, v in delivery.groups.items()}


def _validate_group(model: type[CaseEvent], group: FieldGroup, value: Any) -> StrictModel:
    part = group_model(model, group)
    try:
        return part.model_validate_json(json.dumps(value))
    except ValueError:
        raise SchemaError(
            SchemaErrorCode.INVALID, f"group {group.value} does not validate"
        ) from None


@dataclass(frozen=True)
class FieldAt:
    """Where an event fails its schema, in a form a sender's notice may carry.

    Attributes:
        pointer: a JSON Pointer (RFC 6901) into the event as its JSON Schema
            describes it, e.g. ``/exclusion_zones/0/geometry/radius_metres``;
            ``""`` for the event as a whole.
        error: the validation error type, e.g. ``greater_than_equal``.
    """

    pointer: str
    error: str


def field_of(error: SchemaError, event_type: str, version: int) -> FieldAt | None:
    """Where the first problem of ``error`` lies; ``None`` when it names no field.

    Every step of the pointer is an array index or a property name that the type's
    JSON Schema declares: the pointer stops at the deepest place the schema names,
    so a key the sender made up (``<key>`` in the problem) is never in it, only the
    object that holds it. A union's tag, which pydantic puts in the location
    (``geometry.circle.radius_metres``), is no key of the JSON and is passed over.
    """
    if not error.problems:
        return None
    try:
        model = model_for(event_type, version)
    except SchemaError:
        return None
    problem = error.problems[0]
    return FieldAt(_pointer(_json_schema(model), problem.loc.split(".")), problem.type)


@functools.cache
def _json_schema(model: type[CaseEvent]) -> dict[str, Any]:
    """The model's JSON Schema, as ``schemas/json/`` publishes it (read only)."""
    return model.model_json_schema(mode="validation")


def _pointer(root: dict[str, Any], steps: list[str]) -> str:
    """Walk ``steps`` down the schema ``root``; keep those that are keys or indexes of the JSON."""
    node, named = root, []
    for step in steps:
        node = _concrete(root, node)
        properties = node.get("properties", {})
        tags = node.get("discriminator", {}).get("mapping", {})
        if step in properties:
            node = properties[step]
            named.append(step)
        elif "items" in node and _INDEX.fullmatch(step):
            node = node["items"]
            named.append(step)
        elif step in tags:
            node = {"$ref": tags[step]}
        else:
            break
    return "".join(f"/{step}" for step in named)


def _concrete(root: dict[str, Any], node: dict[str, Any]) -> dict[str, Any]:
    """Follow ``$ref`` and a nullable ``anyOf`` to the node that holds the value's shape."""
    while True:
        if "$ref" in node:
            node = root["$defs"][str(node["$ref"]).removeprefix("#/$defs/")]
            continue
        branches = [b for b in node.get("anyOf", ()) if b.get("type") != "null"]
        if len(branches) != 1:
            return node
        node = branches[0]
