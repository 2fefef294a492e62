"""Field groups: one tag on every field, and sensitive data only in its own group."""

from typing import Annotated, Literal

import pytest

from schemas.audit import audit, field_sites, placement_problems, tag_problems
from schemas.base import A, B, C, CaseEvent, D, E, FieldGroup, H, StrictModel, split_groups
from schemas.events.assessment import RiskAssessmentCompleted
from schemas.events.justice import ConditionsSet, OrderEvent
from schemas.events.victim import VictimSafetyPlanUpdated
from schemas.places import PostalAddress
from schemas.registry import CATALOGUE, build_catalogue
from schemas.samples import all_samples

MODELS = sorted(CATALOGUE.items())
IDS = [f"{t}.v{v}" for (t, v), _ in MODELS]

# Kept here, not imported from schemas.audit, so weakening the audit fails this test.
MUST_BE_IN: dict[FieldGroup, tuple[str, ...]] = {
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
    ),
    FieldGroup.D: ("diagnos", "treatment", "medication"),
}


def misplaced(model: type[CaseEvent]) -> list[str]:
    """Return the dotted paths of sensitive fields not under a top-level field of their group."""
    found = []
    for site in field_sites(model):
        for group, fragments in MUST_BE_IN.items():
            if any(f in site.path[-1] for f in fragments) and site.group is not group:
                found.append(site.dotted)
    return found


class _Justice(StrictModel):
    court: str
    address: PostalAddress


class _Clinical(StrictModel):
    diagnosis_code: str


class _AddressInJustice(CaseEvent):
    event_type: Annotated[Literal["AddressInJustice"], A]
    schema_version: Annotated[Literal[1], A]
    order: Annotated[_Justice, B]


class _DiagnosisInRisk(CaseEvent):
    event_type: Annotated[Literal["DiagnosisInRisk"], A]
    schema_version: Annotated[Literal[1], A]
    findings: Annotated[tuple[_Clinical, ...], E] = ()


class _WorkplaceInNeeds(CaseEvent):
    event_type: Annotated[Literal["WorkplaceInNeeds"], A]
    schema_version: Annotated[Literal[1], A]
    victim_workplace: Annotated[str | None, H] = None


class _Untagged(CaseEvent):
    event_type: Annotated[Literal["Untagged"], A]
    schema_version: Annotated[Literal[1], A]
    licence: str


class _Doubled(CaseEvent):
    event_type: Annotated[Literal["Doubled"], A]
    schema_version: Annotated[Literal[1], A]
    licence: Annotated[str, B, C]


class _Tagged(StrictModel):
    note: Annotated[str, D]


class _NestedTag(CaseEvent):
    event_type: Annotated[Literal["NestedTag"], A]
    schema_version: Annotated[Literal[1], A]
    summary: Annotated[_Tagged, E]


@pytest.mark.parametrize(("key", "model"), MODELS, ids=IDS)
def test_every_field_has_exactly_one_group(key: tuple[str, int], model: type[CaseEvent]) -> None:
    """Every top-level field carries one group tag and no nested field carries any."""
    assert tag_problems(model) == [], key


@pytest.mark.parametrize(("key", "model"), MODELS, ids=IDS)
def test_sensitive_fields_sit_in_their_group(key: tuple[str, int], model: type[CaseEvent]) -> None:
    """Victim-location names sit under G and clinical names under D, at any depth."""
    assert misplaced(model) == [], key
    assert placement_problems(model) == [], key


@pytest.mark.parametrize(
    ("model", "path"),
    [
        (_AddressInJustice, "order.address"),
        (_DiagnosisInRisk, "findings.diagnosis_code"),
        (_WorkplaceInNeeds, "victim_workplace"),
    ],
)
def test_misplaced_sensitive_fields_are_reported(model: type[CaseEvent], path: str) -> None:
    """The placement check finds an address under B, a diagnosis under E, a workplace under H."""
    assert path in misplaced(model)
    assert any(f"{model.__name__}.{path} belongs in group" in p for p in placement_problems(model))


@pytest.mark.parametrize(
    ("model", "message"),
    [
        (_Untagged, "_Untagged.licence has 0 group tags"),
        (_Doubled, "_Doubled.licence has 2 group tags"),
        (_NestedTag, "_NestedTag.summary.note is nested but carries a group tag"),
    ],
)
def test_missing_doubled_and_nested_tags_are_reported(model: type[CaseEvent], message: str) -> None:
    """The tag check reports a field without a group, with two, or tagged inside a value."""
    assert message in tag_problems(model)


def test_the_registry_refuses_a_mis_tagged_model() -> None:
    """A model failing the audit cannot enter a catalogue."""
    assert audit(_AddressInJustice)
    with pytest.raises(TypeError, match="fails the field-group audit"):
        build_catalogue([_AddressInJustice])


def test_nested_fields_inherit_their_holders_group() -> None:
    """A value's fields are disclosed with the field that holds it."""
    sites = {site.dotted: site.group for site in field_sites(VictimSafetyPlanUpdated)}
    assert sites["location.home.postcode"] is FieldGroup.G
    assert sites["location.routines.place.lines"] is FieldGroup.G
    assert sites["victim.safe_contact.detail"] is FieldGroup.F
    assert sites["safety_plan.measures.kind"] is FieldGroup.H


@pytest.mark.parametrize(
    ("model", "name", "group"),
    [
        (VictimSafetyPlanUpdated, "location", FieldGroup.G),
        (VictimSafetyPlanUpdated, "victim", FieldGroup.F),
        (VictimSafetyPlanUpdated, "safety_plan", FieldGroup.H),
        (OrderEvent, "exclusion_zones", FieldGroup.G),
        (OrderEvent, "order", FieldGroup.B),
        (ConditionsSet, "bail", FieldGroup.B),
        (ConditionsSet, "licence", FieldGroup.C),
        (ConditionsSet, "exclusion_zones", FieldGroup.G),
        (RiskAssessmentCompleted, "clinical", FieldGroup.D),
        (RiskAssessmentCompleted, "typology", FieldGroup.E),
        (RiskAssessmentCompleted, "subject_ref", FieldGroup.A),
    ],
)
def test_key_fields_are_pinned_to_their_group(
    model: type[CaseEvent], name: str, group: FieldGroup
) -> None:
    """The fields the safety rules hinge on keep their group."""
    assert next(s for s in field_sites(model) if s.path == (name,)).group is group


@pytest.mark.parametrize(
    "event", all_samples(), ids=lambda e: f"{e.event_type}.v{e.schema_version}"
)
def test_split_groups_covers_every_field_once(event: CaseEvent) -> None:
    """Every field but the envelope claims is in exactly one group's disclosure."""
    names = [name for values in split_groups(event).values() for name in values]
    assert len(names) == len(set(names))
    assert set(names) | set(CaseEvent.ENVELOPE_CLAIMS) == set(type(event).model_fields)
    assert not set(names) & set(CaseEvent.ENVELOPE_CLAIMS)


def test_victim_location_appears_only_in_group_g() -> None:
    """No group but G of the safety-plan sample holds the victim's street or postcode."""
    event = next(e for e in all_samples() if e.event_type == "VictimSafetyPlanUpdated")
    for group, values in split_groups(event).items():
        text = str(values)
        assert ("Example Street" in text) is (group is FieldGroup.G)
        assert ("ZZ1 1ZZ" in text) is (group is FieldGroup.G)
