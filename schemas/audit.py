"""Checks that an event model's fields sit in the right field groups.

Two rules, both checked by the registry before a model enters the catalogue and
by the tests on every catalogued model:

1. every top-level field carries exactly one group tag, and no field of a nested
   value model carries one (a nested value inherits its holder's group);
2. a field whose name says it is victim location, clinical detail or victim
   identity sits, at whatever depth, under a top-level field of that group.

Rule 2 goes by names, so it catches the likely slip (an ``address`` added to a
justice value model) rather than every possible one; review covers the rest.
"""

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Final, get_args

from pydantic import BaseModel

from schemas.base import CaseEvent, FieldGroup, InGroup

#: Name fragments that place a field, at any depth, in one group.
SENSITIVE_NAMES: Final[Mapping[FieldGroup, tuple[str, ...]]] = {
    FieldGroup.D: ("diagnos", "treatment", "medicat", "clinical"),
    FieldGroup.F: ("given_name", "family_name", "preferred_name", "safe_contact"),
    FieldGroup.G: (
        "address",
        "postcode",
        "workplace",
        "routine",
        "exclusion",
        "location",
        "geometry",
        "latitude",
        "longitude",
        "coordinates",
        "home",
    ),
}


@dataclass(frozen=True)
class FieldSite:
    """One field of an event model, at any depth, and the group that discloses it.

    Attributes:
        path: field names from the top level down, e.g. ``("location", "home", "postcode")``.
        tags: the group tags written on this very field.
        group: the group of the top-level field it sits under (``None`` if that
            field carries no single tag).
    """

    path: tuple[str, ...]
    tags: tuple[FieldGroup, ...]
    group: FieldGroup | None

    @property
    def dotted(self) -> str:
        """The path as ``a.b.c``."""
        return ".".join(self.path)


def nested_models(annotation: object) -> Iterator[type[BaseModel]]:
    """Yield the models an annotation holds: in unions, tuples, ``Annotated`` and so on."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        yield annotation
        return
    for arg in get_args(annotation):
        yield from nested_models(arg)


def _tags(metadata: list[object]) -> tuple[FieldGroup, ...]:
    return tuple(m.group for m in metadata if isinstance(m, InGroup))


def _walk(
    model: type[BaseModel], prefix: tuple[str, ...], group: FieldGroup | None, seen: frozenset[type]
) -> Iterator[FieldSite]:
    for name, info in model.model_fields.items():
        path = (*prefix, name)
        tags = _tags(info.metadata)
        held_in = (tags[0] if len(tags) == 1 else None) if not prefix else group
        yield FieldSite(path, tags, held_in)
        for inner in nested_models(info.annotation):
            if inner not in seen:
                yield from _walk(inner, path, held_in, seen | {inner})


def field_sites(model: type[CaseEvent]) -> Iterator[FieldSite]:
    """Yield every field of ``model``, top level first, then nested models depth first."""
    yield from _walk(model, (), None, frozenset({model}))


def tag_problems(model: type[CaseEvent]) -> list[str]:
    """List violations of rule 1: missing, doubled or nested group tags."""
    problems = []
    for site in field_sites(model):
        if len(site.path) == 1 and len(site.tags) != 1:
            problems.append(f"{model.__name__}.{site.dotted} has {len(site.tags)} group tags")
        elif len(site.path) > 1 and site.tags:
            problems.append(f"{model.__name__}.{site.dotted} is nested but carries a group tag")
    return problems


def placement_problems(model: type[CaseEvent]) -> list[str]:
    """List violations of rule 2: sensitive field names outside their group."""
    problems = []
    for site in field_sites(model):
        name = site.path[-1].lower()
        for group, fragments in SENSITIVE_NAMES.items():
            if any(f in name for f in fragments) and site.group is not group:
                problems.append(
                    f"{model.__name__}.{site.dotted} belongs in group {group.value},"
                    f" sits in {site.group.value if site.group else 'no group'}"
                )
    return problems


def audit(model: type[CaseEvent]) -> list[str]:
    """List every field-group problem of ``model``; empty means it may be catalogued."""
    return tag_problems(model) + placement_problems(model)
