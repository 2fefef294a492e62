"""From verified envelope contents to validated case events, group by group.

A signature proves who wrote an event, not that each field sits in the right
field group. An issuer that put a victim's address into the case group (A) would
have it disclosed wherever A goes. So before the hub decides anything it checks
that every disclosure holds exactly the fields of its group, then validates the
whole event; a recipient checks each group it received against that group's part
of the schema.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from schemas.base import fields_by_group, group_model
from schemas.errors import FieldProblem, SchemaError, SchemaErrorCode
from schemas.registry import model_for, parse_event

if TYPE_CHECKING:
    from collections.abc import Mapping

    from hub.crypto import Delivery, Issuance
    from schemas.base import CaseEvent, FieldGroup, StrictModel


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
