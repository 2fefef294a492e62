"""parse_event: strict validation, stable codes and error messages free of input values."""

from __future__ import annotations

import json
import traceback
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import pytest

from schemas.errors import MAX_PROBLEMS, SchemaError, SchemaErrorCode
from schemas.events import ReferralReceivedV2
from schemas.registry import model_for, parse_event
from schemas.samples import all_samples, sample_data

if TYPE_CHECKING:
    from collections.abc import Callable

    from schemas.base import CaseEvent

PERSONAL = "Alex Example of 1 Example Street"
NOW = datetime.now(UTC)
Data = dict[str, Any]


def _refused(data: bytes | str | Data) -> SchemaError:
    with pytest.raises(SchemaError) as caught:
        parse_event(data)
    return caught.value


def _leaks(error: SchemaError, *secrets: str) -> bool:
    printed = "".join(traceback.format_exception(error))
    texts = (str(error), repr(error), json.dumps(error.diagnostics()), printed)
    return any(secret in text for secret in secrets for text in texts)


def _set(path: str, value: object) -> Callable[[Data], Data]:
    def change(data: Data) -> Data:
        *parents, last = path.split(".")
        node: Any = data
        for part in parents:
            node = node[int(part)] if isinstance(node, list) else node[part]
        node[last] = value
        return data

    return change


def _future(days: int) -> str:
    return (NOW + timedelta(days=days)).isoformat()


# event type, change to its sample, (loc, type) expected among the problems,
# and an input value that must not appear in the error
STRICTNESS: list[tuple[str, Callable[[Data], Data], tuple[str, str], str]] = [
    ("ReferralReceived", _set(f"extra {PERSONAL}", 1), ("<key>", "extra_forbidden"), PERSONAL),
    ("ReferralReceived", _set("victim_home", PERSONAL), ("<key>", "extra_forbidden"), PERSONAL),
    (
        "ReferralReceived",
        _set("concerns", PERSONAL * 200),
        ("concerns", "string_too_long"),
        PERSONAL,
    ),
    (
        "ReferralReceived",
        _set("priority_requested", PERSONAL),
        ("priority_requested", "enum"),
        PERSONAL,
    ),
    (
        "ReferralReceived",
        _set("occurred_at", "2026-01-02T03:04:05"),
        ("occurred_at", "timezone_aware"),
        "2026-01-02T03:04:05",
    ),
    (
        "ReferralReceived",
        _set("occurred_at", _future(3)),
        ("occurred_at", "time_in_future"),
        _future(3)[:16],
    ),
    (
        "VictimSafetyPlanUpdated",
        _set("safety_plan.review_on", "2099-12-31"),
        ("safety_plan.review_on", "date_too_far_ahead"),
        "2099-12-31",
    ),
    (
        "ReferralReceived",
        _set("recorded_at", "2000-01-01T00:00:00+00:00"),
        ("", "recorded_before_occurred"),
        "2000-01-01",
    ),
    (
        "VictimSafetyPlanUpdated",
        _set("location.home.postcode", PERSONAL),
        ("location.home.postcode", "string_pattern_mismatch"),
        PERSONAL,
    ),
    (
        "VictimSafetyPlanUpdated",
        _set("victim.given_name", "Alex\nExample"),
        ("victim.given_name", "string_pattern_mismatch"),
        "Alex",
    ),
    (
        "ReferralReceived",
        _set("victim_refs", [f"P-000000V{i:03d}" for i in range(11)]),
        ("victim_refs", "too_long"),
        "P-000000V",
    ),
    (
        "ReferralReceived",
        _set("case_reference", PERSONAL),
        ("case_reference", "string_pattern_mismatch"),
        PERSONAL,
    ),
    (
        "InterventionUpdated",
        _set("intervention.sessions_attended", value=True),
        ("intervention.sessions_attended", "int_type"),
        "true",
    ),
    (
        "CaseClosed",
        _set("event_id", "not-a-uuid-" + PERSONAL),
        ("event_id", "uuid_parsing"),
        PERSONAL,
    ),
    (
        "ConditionsSet",
        _set(
            "bail",
            {"bail_type": "court", "granted_on": "2026-01-05", "terms": [{"kind": "curfew"}]},
        ),
        ("", "regime_count"),
        "2026-01-05",
    ),
    (
        "ConditionsSet",
        _set("licence.licence_ends_on", "2001-01-01"),
        ("licence", "date_order"),
        "2001-01-01",
    ),
    (
        "OrderEvent",
        _set("exclusion_zones.0.geometry.radius_metres", 5),
        ("exclusion_zones.0.geometry.circle.radius_metres", "greater_than_equal"),
        "Exampletown",
    ),
    (
        "OrderEvent",
        _set("exclusion_zones.0.geometry.shape", PERSONAL),
        ("exclusion_zones.0.geometry", "union_tag_invalid"),
        PERSONAL,
    ),
]


@pytest.mark.parametrize(
    "event", all_samples(), ids=lambda e: f"{e.event_type}.v{e.schema_version}"
)
def test_every_sample_round_trips(event: CaseEvent) -> None:
    """model_dump_json then parse_event gives back an equal event, from text, bytes or data."""
    text = event.model_dump_json()
    assert parse_event(text) == event
    assert parse_event(text.encode()) == event
    assert parse_event(json.loads(text)) == event
    assert type(parse_event(text)) is type(event)


@pytest.mark.parametrize(
    ("event_type", "change", "problem", "secret"),
    STRICTNESS,
    ids=[f"{t}-{p[1]}" for t, _, p, _ in STRICTNESS],
)
def test_strict_validation_refuses_without_quoting_input(
    event_type: str, change: Callable[[Data], Data], problem: tuple[str, str], secret: str
) -> None:
    """Each kind of bad input is schema.invalid at its location, and the value is not quoted."""
    error = _refused(change(sample_data(event_type)))
    assert error.code is SchemaErrorCode.INVALID
    assert problem in [(p.loc, p.type) for p in error.problems]
    assert not _leaks(error, secret, "Example Street")


def test_the_validation_error_is_not_chained() -> None:
    """The pydantic error, which quotes input, is not attached for a traceback to print."""
    error = _refused(sample_data("ReferralReceived") | {"concerns": PERSONAL * 200})
    assert error.__cause__ is None
    assert error.__suppress_context__


@pytest.mark.parametrize(
    ("data", "problem"),
    [
        ("{not json " + PERSONAL, ("", "json_invalid")),
        (b"\xff\xfe" + PERSONAL.encode(), ("", "json_invalid")),
        (json.dumps([PERSONAL]), ("", "model_type")),
        ('{"event_type": "CaseClosed", "event_type": "CaseClosed"}', ("", "json_invalid")),
        ('{"event_type": "CaseClosed", "schema_version": NaN}', ("", "json_invalid")),
        ("[" * 100_000, ("", "json_invalid")),
        ({"event_type": "CaseClosed", "schema_version": 1, "when": NOW}, ("", "json_type")),
        ({"schema_version": 1}, ("event_type", "missing")),
        ({"event_type": 7, "schema_version": 1}, ("event_type", "string_type")),
        ({"event_type": "CaseClosed"}, ("schema_version", "missing")),
        ({"event_type": "CaseClosed", "schema_version": "1"}, ("schema_version", "int_type")),
        ({"event_type": "CaseClosed", "schema_version": True}, ("schema_version", "int_type")),
    ],
    ids=[
        "malformed",
        "not-utf8",
        "not-object",
        "duplicate-key",
        "nan",
        "deep",
        "not-json-data",
        "no-type",
        "type-not-text",
        "no-version",
        "version-text",
        "version-bool",
    ],
)
def test_malformed_input_is_schema_invalid(
    data: bytes | str | Data, problem: tuple[str, str]
) -> None:
    """Input that is not a JSON object naming a type and an integer version is schema.invalid."""
    error = _refused(data)
    assert error.code is SchemaErrorCode.INVALID
    assert [(p.loc, p.type) for p in error.problems] == [problem]
    assert not _leaks(error, PERSONAL)


def test_unknown_type_is_refused_without_naming_it() -> None:
    """An event type outside the catalogue is schema.unknown_type; the type is not echoed."""
    error = _refused(sample_data("CaseClosed") | {"event_type": PERSONAL})
    assert error.code is SchemaErrorCode.UNKNOWN_TYPE
    assert error.diagnostics()["code"] == "schema.unknown_type"
    assert not _leaks(error, PERSONAL)


def test_unknown_version_is_refused() -> None:
    """A known type with a version outside the catalogue is schema.unknown_version."""
    error = _refused(sample_data("CaseClosed") | {"schema_version": 987654})
    assert error.code is SchemaErrorCode.UNKNOWN_VERSION
    assert not _leaks(error, "987654")


def test_a_type_mismatching_its_model_is_refused() -> None:
    """A document whose nested literals contradict its version is schema.invalid."""
    data = sample_data("ReferralReceived", 1) | {"schema_version": 2}
    error = _refused(data)
    assert error.code is SchemaErrorCode.INVALID
    assert ("referral_source", "missing") in [(p.loc, p.type) for p in error.problems]


def test_problems_are_bounded() -> None:
    """At most MAX_PROBLEMS problems are listed; the rest are counted."""
    data = sample_data("CaseClosed") | {f"extra_{i}": PERSONAL for i in range(MAX_PROBLEMS + 7)}
    error = _refused(data)
    assert len(error.problems) == MAX_PROBLEMS
    assert error.more == 7
    assert error.diagnostics()["more"] == 7
    assert "(+7 more)" in str(error)


def test_model_for_serves_the_catalogue() -> None:
    """model_for returns the model of a type and version, or a coded error."""
    assert model_for("ReferralReceived", 2) is ReferralReceivedV2
    with pytest.raises(SchemaError) as unknown_type:
        model_for("NoSuchEvent", 1)
    assert unknown_type.value.code == "schema.unknown_type"
    with pytest.raises(SchemaError) as unknown_version:
        model_for("ReferralReceived", 3)
    assert unknown_version.value.code == "schema.unknown_version"
