"""Each agency's published record schema against its translator: the samples, the bad ones, chance.

The schema is the request body of ``docs/adapters/<agency>.records.openapi.json``,
read from the committed document. Every good sample fits it; every bad sample is
refused by it unless the rule it breaks is one between fields that JSON Schema
cannot state (listed, and checked to fit so the list stays honest); the kinds the
schema lists are the kinds the translator reads; and a record the schema refuses,
however it was spoiled, the translator refuses too.
"""

from __future__ import annotations

import copy
import json
from functools import cache
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from jsonschema import Draft202012Validator, ValidationError
from jsonschema.exceptions import best_match

from adapters.advocacy import referral, safety_plan
from adapters.advocacy import translate as advocacy
from adapters.base import RecordError
from adapters.health import assessment, fhir, intervention
from adapters.health import translate as health
from adapters.openapi import AGENCIES, document_path
from adapters.police import translate as police
from adapters.probation import kinds as probation_kinds
from adapters.probation import translate as probation
from adapters.registry import translator_for
from schemas.samples import sample_event

ROOT = Path(__file__).resolve().parents[2]
#: Bad samples whose fault lies between fields, where JSON Schema cannot see it.
BETWEEN_FIELDS = {"probation/licence_ends_before_start.json": "the licence ends before it starts"}
JsonValue = Any


@cache
def document(agency: str) -> dict[str, Any]:
    """The committed OpenAPI document of ``agency``."""
    loaded: dict[str, Any] = json.loads(document_path(agency).read_text(encoding="utf-8"))
    return loaded


@cache
def validator(agency: str, *, formats: bool = True) -> Draft202012Validator:
    """A JSON Schema validator of ``agency``'s request body, its references in the document."""
    body = document(agency)["paths"]["/records"]["post"]["requestBody"]
    schema = body["content"]["application/json"]["schema"] | {
        "components": document(agency)["components"]
    }
    checker = Draft202012Validator.FORMAT_CHECKER if formats else None
    return Draft202012Validator(schema, format_checker=checker)


def schema_of(agency: str, name: str) -> dict[str, Any]:
    """One named schema of ``agency``'s document."""
    found: dict[str, Any] = document(agency)["components"]["schemas"][name]
    return found


def load(path: Path) -> dict[str, Any]:
    """Read one sample record."""
    data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return data


def best_match_of(error: ValidationError) -> ValidationError:
    """The error a ``oneOf`` of kinds hides: the one in the branch the record meant."""
    found: ValidationError = best_match([error])
    return found


def samples(agency: str, folder: str = "") -> list[Path]:
    """The sample records of ``agency`` (good ones, or those in ``folder``)."""
    return sorted((ROOT / "adapters" / agency / "samples" / folder).glob("*.json"))


GOOD = [(agency, path) for agency in AGENCIES for path in samples(agency)]
BAD = [(agency, path) for agency in AGENCIES for path in samples(agency, "bad")]


def _name(value: Any) -> str:
    return value.name if isinstance(value, Path) else str(value)


@pytest.mark.parametrize(("agency", "path"), GOOD, ids=_name)
def test_every_sample_record_fits_its_agencys_request_schema(agency: str, path: Path) -> None:
    """A committed sample validates against the agency's request schema, formats included."""
    errors = [
        f"{'/'.join(map(str, deepest.absolute_path))}: {deepest.validator}"
        for deepest in map(best_match_of, validator(agency).iter_errors(load(path)))
    ]
    assert errors == []


@pytest.mark.parametrize(("agency", "path"), BAD, ids=_name)
def test_bad_samples_are_refused_by_the_schema_where_json_schema_can_say_so(
    agency: str, path: Path
) -> None:
    """A bad sample fails the schema, unless its fault is a rule between fields (then it fits)."""
    record = load(path)
    with pytest.raises(RecordError):
        translator_for(agency).to_events(record, record_id=path.name)
    fits = validator(agency).is_valid(record)
    assert fits == (f"{agency}/{path.name}" in BETWEEN_FIELDS)


@pytest.mark.parametrize("agency", AGENCIES)
def test_records_the_adapter_writes_fit_the_schema(agency: str) -> None:
    """``to_native`` of the agency's own sample events is a record its schema takes."""
    translator = translator_for(agency)
    for path in samples(agency):
        events = translator.to_events(load(path), record_id=path.name)
        assert validator(agency).is_valid(translator.to_native(events))
    if agency == "police":
        types = ("ReferralReceived", "OrderEvent", "CaseConsultationHeld", "CaseClosed")
        written = translator.to_native([sample_event(t) for t in types])
        assert validator(agency).is_valid(written)


def _tags(schema: dict[str, Any]) -> set[str]:
    return set(schema["discriminator"]["mapping"])


def test_the_schemas_list_the_kinds_the_translators_read() -> None:
    """Record kinds, resource types, keys and strands in the schemas are the translators' own."""
    events = schema_of("police", "PoleDocument")["properties"]["events"]["items"]
    assert _tags(events) == set(police.KINDS)
    assert _tags(schema_of("probation", "ProbationDomainEvent")) == set(probation.KINDS)
    plan = schema_of("probation", "PlanInformation")["properties"]
    assert set(probation_kinds.STRANDS.values()) <= set(plan)
    resources = _tags(schema_of("health", "Entry")["properties"]["resource"])
    assert resources == {"Patient"} | assessment.RESOURCES | intervention.RESOURCES
    assert set(health.KINDS) == {"risk-assessment", "intervention-update"}
    patient = schema_of("health", "Patient")["properties"]
    assert {name for name, value in patient.items() if value == {"type": "null"}} == set(
        fhir._IDENTIFYING
    )
    assert _tags(schema_of("advocacy", "AdvocacyRecord")) == set(advocacy.KINDS)
    header = set(advocacy._HEADER)
    plan_keys = set(schema_of("advocacy", "SafetyPlanRecord")["properties"]) - header
    assert plan_keys == advocacy._PLAN_KEYS | set(safety_plan.LOCATION_KEYS)
    referral_keys = set(schema_of("advocacy", "ReferralRecord")["properties"]) - header
    assert referral_keys == {"victimReference", *referral.FIELDS}


def _spots(value: JsonValue, path: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every place in a JSON value: the root, each key of an object, each list element."""
    found = [path]
    if isinstance(value, dict):
        for key, item in value.items():
            found += _spots(item, (*path, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found += _spots(item, (*path, index))
    return found


def _scalars(value: JsonValue) -> list[JsonValue]:
    if isinstance(value, dict):
        return [s for item in value.values() for s in _scalars(item)]
    if isinstance(value, list):
        return [s for item in value for s in _scalars(item)]
    return [value]


_JSON: st.SearchStrategy[JsonValue] = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**40), 2**40)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=6),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=4), inner, max_size=3)
    ),
    max_leaves=4,
)


def _like(record: JsonValue) -> st.SearchStrategy[JsonValue]:
    """Values close to the record's own: another field's value, its case changed, at random."""
    scalars = _scalars(record)
    texts = [value for value in scalars if isinstance(value, str)]
    return st.one_of(
        st.sampled_from(scalars),
        st.sampled_from(texts).map(str.lower),
        st.sampled_from(texts).map(str.upper),
        st.sampled_from([-1, 0, 1, 10**6, "", [], {}]),
        _JSON,
    )


@st.composite
def spoiled(draw: st.DrawFn) -> tuple[str, dict[str, Any]]:
    """A good sample with one change: a key or element gone, a value replaced, a key added."""
    agency, path = draw(st.sampled_from(GOOD))
    record = load(path)
    spot = draw(st.sampled_from(_spots(record)))
    parent: Any = record
    for step in spot[:-1]:
        parent = parent[step]
    change = draw(st.sampled_from(["drop", "replace", "add"] if spot else ["add"]))
    target = parent[spot[-1]] if spot else record
    if change == "drop":
        del parent[spot[-1]]
    elif change == "replace":
        parent[spot[-1]] = draw(_like(record))
    elif isinstance(target, dict):
        target[draw(st.sampled_from(["extra", "note", *target]))] = draw(_like(record))
    elif isinstance(target, list):
        target.append(draw(_like(record)))
    return agency, copy.deepcopy(record)


@settings(max_examples=300, deadline=None)
@given(spoiled())
def test_a_record_the_schema_refuses_the_translator_refuses(
    case: tuple[str, dict[str, Any]],
) -> None:
    """However a sample is spoiled, the translator refuses whatever its schema refuses.

    It answers events or a RecordError, never a crash. Formats are annotations here, as
    JSON Schema 2020-12 and OpenAPI 3.1 read them by default.
    """
    agency, record = case
    fits = validator(agency, formats=False).is_valid(record)
    try:
        translator_for(agency).to_events(record, record_id="spoiled.json")
    except RecordError:
        return
    assert fits, "the schema refuses a record the translator takes"
