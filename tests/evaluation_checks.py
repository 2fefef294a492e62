"""What the evaluator must never see of an event: the checks the evaluation tests share."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from schemas.base import FieldGroup, fields_by_group, person_fields

if TYPE_CHECKING:
    from collections.abc import Iterator

    from schemas.base import CaseEvent

#: Groups whose content never reaches the evaluator, not even as a code.
WITHHELD = (FieldGroup.D, FieldGroup.F, FieldGroup.G, FieldGroup.H)


def strings(value: Any) -> Iterator[str]:
    """Every string leaf of a JSON value."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from strings(item)


def group_strings(event: CaseEvent, groups: tuple[FieldGroup, ...]) -> set[str]:
    """Every string ``event`` holds in ``groups``."""
    dumped = event.model_dump(mode="json")
    layout = fields_by_group(type(event))
    return {s for g in groups for name in layout.get(g, ()) for s in strings(dumped[name])}


def references(event: CaseEvent) -> set[str]:
    """The partnership's own references in ``event``: its case and every person."""
    dumped = event.model_dump(mode="json")
    found = {event.case_reference}
    for name in person_fields(type(event)):
        found |= set(strings(dumped[name]))
    return found
