"""JSON Schema export: committed files up to date, valid draft 2020-12, deterministic."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from jsonschema import Draft202012Validator

from schemas.base import CaseEvent, field_group
from schemas.export import (
    DIALECT,
    expected_files,
    export_all,
    file_name,
    json_schema,
    render,
    stale_files,
)
from schemas.registry import CATALOGUE
from schemas.samples import all_samples

COMMITTED = Path(__file__).resolve().parents[2] / "schemas" / "json"
MODELS = sorted(CATALOGUE.items())
IDS = [f"{t}.v{v}" for (t, v), _ in MODELS]


def test_committed_schemas_are_up_to_date() -> None:
    """schemas/json matches the models exactly: run `make schemas` if this fails."""
    assert stale_files(COMMITTED) == []


def test_export_reproduces_the_committed_files(tmp_path: Path) -> None:
    """A fresh export is byte-for-byte the committed folder."""
    written = export_all(tmp_path)
    assert [p.name for p in written] == sorted(p.name for p in COMMITTED.glob("*.schema.json"))
    for path in written:
        assert path.read_bytes() == (COMMITTED / path.name).read_bytes()
    assert stale_files(tmp_path) == []


def test_stale_files_names_missing_changed_and_extra(tmp_path: Path) -> None:
    """Missing, edited and unbacked schema files are all reported; other files are ignored."""
    export_all(tmp_path)
    (tmp_path / "CaseClosed.v1.schema.json").unlink()
    (tmp_path / "OrderEvent.v1.schema.json").write_text("{}\n", encoding="utf-8")
    (tmp_path / "Retired.v1.schema.json").write_text("{}\n", encoding="utf-8")
    (tmp_path / "README.md").write_text("not a schema\n", encoding="utf-8")
    assert stale_files(tmp_path) == [
        "CaseClosed.v1.schema.json",
        "OrderEvent.v1.schema.json",
        "Retired.v1.schema.json",
    ]
    export_all(tmp_path)
    assert stale_files(tmp_path) == []
    assert (tmp_path / "README.md").exists()


def test_a_missing_folder_is_all_stale(tmp_path: Path) -> None:
    """Checking a folder that does not exist reports every file as missing."""
    assert stale_files(tmp_path / "absent") == sorted(expected_files())


def test_output_is_deterministic() -> None:
    """Rendering sorts keys, indents, and ends with one newline."""
    first, second = expected_files(), expected_files()
    assert first == second
    for content in first.values():
        assert content.endswith("}\n")
        assert content == render(json.loads(content))


@pytest.mark.parametrize(("key", "model"), MODELS, ids=IDS)
def test_each_schema_is_valid_draft_2020_12(key: tuple[str, int], model: type[CaseEvent]) -> None:
    """Every schema declares its dialect and id and is itself a valid 2020-12 schema."""
    schema = json_schema(model)
    Draft202012Validator.check_schema(schema)
    assert schema["$schema"] == DIALECT
    assert schema["$id"].endswith("/" + file_name(*key))
    assert schema["additionalProperties"] is False


@pytest.mark.parametrize(("key", "model"), MODELS, ids=IDS)
def test_each_property_names_its_group(key: tuple[str, int], model: type[CaseEvent]) -> None:
    """x-field-group on every top-level property equals the model's tag."""
    properties = json_schema(model)["properties"]
    assert set(properties) == set(model.model_fields), key
    for name, node in properties.items():
        assert node["x-field-group"] == field_group(model, name).value


@pytest.mark.parametrize(
    ("bail", "licence", "valid"),
    [(None, {}, True), ({}, None, True), ({}, {}, False), (None, None, False)],
)
def test_conditions_schema_demands_one_regime(
    bail: dict[str, object] | None, licence: dict[str, object] | None, *, valid: bool
) -> None:
    """The exported ConditionsSet schema, like the model, wants bail or licence, not both."""
    schema = json.loads((COMMITTED / "ConditionsSet.v1.schema.json").read_text())
    rule = {"oneOf": schema["oneOf"]}
    assert Draft202012Validator(rule).is_valid({"bail": bail, "licence": licence}) is valid


@pytest.mark.parametrize(
    "event", all_samples(), ids=lambda e: f"{e.event_type}.v{e.schema_version}"
)
def test_samples_validate_against_the_exported_schema(event: CaseEvent) -> None:
    """A partner validating with the JSON Schema alone accepts every sample."""
    schema = json.loads((COMMITTED / file_name(event.event_type, event.schema_version)).read_text())
    Draft202012Validator(schema).validate(json.loads(event.model_dump_json()))
