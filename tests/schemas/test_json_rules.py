"""What the published JSON Schemas say about times and dates agrees with the models."""

from __future__ import annotations

import json
from typing import Any

import pytest
from jsonschema import Draft202012Validator

from schemas.base import DATE_PATTERN, TIME_PATTERN
from schemas.errors import SchemaError
from schemas.export import json_schema
from schemas.registry import CATALOGUE, parse_event
from schemas.samples import sample_data


def _nodes(node: Any) -> list[dict[str, Any]]:
    if isinstance(node, dict):
        return [node, *(n for value in node.values() for n in _nodes(value))]
    if isinstance(node, list):
        return [n for value in node for n in _nodes(value)]
    return []


def test_every_time_and_date_carries_its_pattern_and_when() -> None:
    """Each ``date-time`` and ``date`` of every schema has the 1900 pattern and an ``x-when``."""
    seen = 0
    for model in CATALOGUE.values():
        for node in _nodes(json_schema(model)):
            form = node.get("format")
            if form in {"date-time", "date"}:
                expected = TIME_PATTERN if form == "date-time" else DATE_PATTERN
                assert node["pattern"] == expected
                assert node["x-when"] in {"past", "planned"}
                seen += 1
    assert seen > len(CATALOGUE) * 2


def _schema_accepts(data: dict[str, Any]) -> bool:
    key = (data["event_type"], data["schema_version"])
    return bool(Draft202012Validator(json_schema(CATALOGUE[key])).is_valid(data))


def _hub_accepts(data: dict[str, Any]) -> bool:
    try:
        parse_event(json.dumps(data))
    except SchemaError:
        return False
    return True


@pytest.mark.parametrize(
    ("occurred_at", "accepted"),
    [
        ("2026-01-15T10:00:00Z", True),
        ("2026-01-15T10:00:00z", True),
        ("2026-01-15T11:00:00+01:00", True),
        ("2026-01-15T11:00:00.123456+0100", True),
        ("1900-01-01T00:00:00Z", True),
        ("1899-12-31T23:59:59Z", False),
        ("0999-01-01T00:00:00Z", False),
        ("2026-01-15T10:00:00", False),
    ],
)
def test_the_time_pattern_refuses_what_the_hub_refuses(occurred_at: str, *, accepted: bool) -> None:
    """Early and naive times fail the JSON Schema as they fail the hub; others pass both."""
    data = sample_data("CaseClosed", 1) | {"occurred_at": occurred_at}
    data["recorded_at"] = data["occurred_at"]
    assert _schema_accepts(data) is accepted
    assert _hub_accepts(data) is accepted


@pytest.mark.parametrize(
    ("day", "accepted"), [("1900-01-01", True), ("2026-01-15", True), ("1899-12-31", False)]
)
def test_the_date_pattern_refuses_what_the_hub_refuses(day: str, *, accepted: bool) -> None:
    """A date before 1900 fails the JSON Schema as it fails the hub."""
    data = sample_data("ReferralReceived", 2) | {"behaviour_began_on": day}
    assert _schema_accepts(data) is accepted
    assert _hub_accepts(data) is accepted


def test_a_future_time_passes_the_schema_and_not_the_hub() -> None:
    """``x-when: past`` is for the partner's code: the JSON Schema alone cannot refuse it."""
    data = sample_data("CaseClosed", 1) | {"recorded_at": "2999-01-01T00:00:00Z"}
    assert _schema_accepts(data)
    assert not _hub_accepts(data)
