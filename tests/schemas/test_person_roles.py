"""Every person reference in the catalogue says its role, and events report their people."""

from __future__ import annotations

from typing import Annotated, Any

import pytest

from schemas.base import (
    OTHER,
    SUBJECT,
    VICTIM,
    A,
    CaseEvent,
    PersonReference,
    PersonRole,
    StrictModel,
    person_fields,
    persons_of,
)
from schemas.registry import CATALOGUE, parse_event
from schemas.samples import sample_data, sample_event

PERSON_PATTERN = "^P-[0-9A-HJKMNP-TV-Z]{10}$"
MODELS = sorted(CATALOGUE.values(), key=lambda m: (m.__name__,))


def _holds_person(node: Any, defs: dict[str, Any], seen: frozenset[str] = frozenset()) -> bool:
    """Whether a JSON Schema node can hold a person reference anywhere inside it."""
    if isinstance(node, dict):
        if node.get("pattern") == PERSON_PATTERN:
            return True
        ref = node.get("$ref")
        if isinstance(ref, str):
            name = ref.rsplit("/", 1)[-1]
            if name not in seen and _holds_person(defs[name], defs, seen | {name}):
                return True
        return any(_holds_person(v, defs, seen) for k, v in node.items() if k != "$defs")
    if isinstance(node, list):
        return any(_holds_person(v, defs, seen) for v in node)
    return False


@pytest.mark.parametrize("model", MODELS, ids=lambda m: f"{m.__name__}")
def test_every_field_that_can_hold_a_person_reference_names_its_role(
    model: type[CaseEvent],
) -> None:
    """A field holding person references, however nested, carries x-person-role."""
    schema = model.model_json_schema()
    defs = schema.get("$defs", {})
    roles = person_fields(model)
    for name, prop in schema["properties"].items():
        if _holds_person(prop, defs):
            assert name in roles, f"{model.__name__}.{name} holds people but names no role"
            assert prop["x-person-role"] == roles[name].value
        else:
            assert name not in roles


def test_the_catalogue_tags_the_known_person_fields() -> None:
    """subject_ref is the subject, victim_ref(s) the victim, protected_refs others."""
    seen: dict[str, set[PersonRole]] = {}
    for model in MODELS:
        for name, role in person_fields(model).items():
            seen.setdefault(name, set()).add(role)
    assert seen == {
        "subject_ref": {PersonRole.SUBJECT},
        "victim_refs": {PersonRole.VICTIM},
        "victim_ref": {PersonRole.VICTIM},
        "protected_refs": {PersonRole.OTHER},
    }


def test_persons_of_an_order_lists_subject_and_protected_people() -> None:
    """An order's subject is the subject and each protected person is other."""
    data = sample_data("OrderEvent", 1)
    event = sample_event("OrderEvent", 1)
    expected = {(data["subject_ref"], PersonRole.SUBJECT)} | {
        (ref, PersonRole.OTHER) for ref in data["protected_refs"]
    }
    assert set(persons_of(event)) == expected
    assert list(persons_of(event)) == sorted(expected)


def test_persons_of_skips_an_unknown_subject() -> None:
    """A referral whose stalker is unknown lists only its victims."""
    data = sample_data("ReferralReceived", 2) | {"subject_ref": None}
    event = parse_event(data)
    assert persons_of(event) == tuple(sorted((r, PersonRole.VICTIM) for r in data["victim_refs"]))


class _Twice(StrictModel):
    both: Annotated[PersonReference, A, VICTIM, SUBJECT]


class _Both(StrictModel):
    victim_ref: Annotated[PersonReference, A, VICTIM]
    protected_refs: Annotated[tuple[PersonReference, ...], A, OTHER]


def test_a_field_with_two_roles_is_refused() -> None:
    """A field may carry one role only; two is a mistake in the schema."""
    with pytest.raises(LookupError):
        person_fields(_Twice)


def test_one_person_in_two_roles_appears_twice() -> None:
    """A victim whom an order also protects is listed as victim and as other."""
    ref = "P-00000000V1"
    event: Any = _Both(victim_ref=ref, protected_refs=(ref, "P-00000000X2"))
    assert persons_of(event) == (
        ("P-00000000V1", PersonRole.OTHER),
        ("P-00000000V1", PersonRole.VICTIM),
        ("P-00000000X2", PersonRole.OTHER),
    )
