"""The catalogue: every event type present, every one with a fictional, valid sample."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Annotated, Any, Literal

import pytest

from schemas.base import A, CaseEvent
from schemas.errors import SchemaError
from schemas.events import EVENT_MODELS
from schemas.export import catalogue_table
from schemas.registry import (
    CATALOGUE,
    build_catalogue,
    catalogue_key,
    event_types,
    latest_version,
    versions,
)
from schemas.samples import CASE, all_samples, sample_data, sample_event

DOCS = Path(__file__).resolve().parents[2] / "docs" / "schemas.md"
#: The parties of the demo partnership (tests/conftest.py holds a keyring for each).
PARTIES = {"police", "probation", "health", "advocacy"}
EXPECTED_TYPES = {
    "ReferralReceived",
    "ScreeningCompleted",
    "RiskAssessmentCompleted",
    "CaseConsultationHeld",
    "ManagementPlanAgreed",
    "ManagementPlanUpdated",
    "InterventionUpdated",
    "OrderEvent",
    "ConditionsSet",
    "BreachReported",
    "VictimSafetyPlanUpdated",
    "VictimViewRecorded",
    "CriminalJusticeOutcome",
    "CaseClosed",
}
#: Free-text fields, which must say they are invented.
NARRATIVE = ("concerns", "summary", "notes", "advice", "voice", "objectives", "partners")


class _Loose(CaseEvent):
    event_type: Annotated[str, A]
    schema_version: Annotated[Literal[1], A]


def _strings(value: Any, key: str = "") -> list[tuple[str, str]]:
    """Every string in a JSON value with the key it sits under."""
    if isinstance(value, dict):
        return [s for k, v in value.items() for s in _strings(v, k)]
    if isinstance(value, list):
        return [s for v in value for s in _strings(v, key)]
    return [(key, value)] if isinstance(value, str) else []


def test_every_event_type_is_catalogued() -> None:
    """The catalogue holds exactly the fourteen event types of the case lifecycle."""
    assert set(event_types()) == EXPECTED_TYPES
    assert len(CATALOGUE) == len(EVENT_MODELS)


def test_catalogue_keys_match_the_models_literals() -> None:
    """Each model is filed under the type and version its literals pin."""
    for key, model in CATALOGUE.items():
        assert catalogue_key(model) == key
        assert model.model_fields["event_type"].is_required()
        assert model.model_fields["schema_version"].is_required()


def test_a_model_without_literals_or_repeated_is_refused() -> None:
    """A model must pin its type and version, and no key may appear twice."""
    with pytest.raises(TypeError, match="literals"):
        catalogue_key(_Loose)
    with pytest.raises(TypeError, match="repeats"):
        build_catalogue([EVENT_MODELS[0], EVENT_MODELS[0]])


@pytest.mark.parametrize("key", sorted(CATALOGUE), ids=lambda k: f"{k[0]}.v{k[1]}")
def test_every_type_and_version_has_a_valid_sample(key: tuple[str, int]) -> None:
    """sample_event returns a valid event of the model the key names."""
    event = sample_event(*key)
    assert type(event) is CATALOGUE[key]
    assert (event.event_type, event.schema_version) == key


def test_sample_event_defaults_to_the_latest_version() -> None:
    """Without a version, sample_event returns the newest version of the type."""
    for event_type in event_types():
        assert sample_event(event_type).schema_version == latest_version(event_type)
        assert versions(event_type)[-1] == latest_version(event_type)


def test_sample_event_refuses_unknown_types_and_versions() -> None:
    """Asking for a sample of something not catalogued raises a coded SchemaError."""
    with pytest.raises(SchemaError) as unknown_type:
        sample_event("NoSuchEvent")
    assert unknown_type.value.code == "schema.unknown_type"
    with pytest.raises(SchemaError) as unknown_version:
        sample_event("CaseClosed", 9)
    assert unknown_version.value.code == "schema.unknown_version"


def test_samples_are_deterministic_and_distinct() -> None:
    """Samples are the same on every call, and each has its own event id."""
    first, second = all_samples(), all_samples()
    assert first == second
    assert len({e.event_id for e in first}) == len(first)


def test_samples_are_written_by_demo_parties() -> None:
    """Each sample's author is a party of the demo partnership, so it can be signed in tests."""
    assert {e.author_agency for e in all_samples()} <= PARTIES


def test_sample_times_lie_in_the_past() -> None:
    """Every time a sample records has already happened."""
    now = datetime.now(UTC)
    for event in all_samples():
        assert event.recorded_at <= now
        assert event.occurred_at <= event.recorded_at


def test_samples_are_obviously_fictional() -> None:
    """Samples use the fictional case, names, street, postcode range and drama phone range."""
    texts = [s for key in CATALOGUE for s in _strings(sample_data(*key))]
    assert all(event.case_reference == CASE for event in all_samples())
    joined = " | ".join(text for _, text in texts)
    for marker in ("Alex", "1 Example Street", "Exampletown", "ZZ1 1ZZ", "07700 900"):
        assert marker in joined
    for name, text in texts:
        if name.endswith(NARRATIVE):
            assert text.startswith("Fictional example."), name


def test_docs_show_the_catalogue_table() -> None:
    """docs/schemas.md carries the catalogue table as the models define it."""
    assert catalogue_table() in DOCS.read_text(encoding="utf-8")


def test_sample_dates_fit_one_case_timeline() -> None:
    """Every date in the samples lies within a year of the case's closure."""
    closed = sample_event("CaseClosed").occurred_at.date()
    for key in CATALOGUE:
        for _, text in _strings(sample_data(*key)):
            if re.fullmatch(r"\d{4}-\d{2}-\d{2}", text):
                assert abs((date.fromisoformat(text) - closed).days) <= 366, key
