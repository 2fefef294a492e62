"""The building blocks in schemas.base: group tags, bounded times and the event header."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta
from typing import Annotated, Literal

import pytest
from pydantic import ValidationError

from schemas.base import (
    CLOCK_SKEW,
    A,
    B,
    CaseEvent,
    FieldGroup,
    G,
    PastDate,
    PastTime,
    PlannedDate,
    ShortText,
    StrictModel,
    _layout,
    field_group,
    fields_by_group,
    group_model,
    new_event_id,
    split_groups,
)
from schemas.samples import sample_data, sample_event

NOW = datetime.now(UTC)


class _Times(StrictModel):
    at: PastTime | None = None
    on: PastDate | None = None
    planned: PlannedDate | None = None
    label: ShortText | None = None


class _Untagged(CaseEvent):
    event_type: Annotated[Literal["Untagged"], A]
    schema_version: Annotated[Literal[1], A]
    note: str


class _Doubled(CaseEvent):
    event_type: Annotated[Literal["Doubled"], A]
    schema_version: Annotated[Literal[1], A]
    note: Annotated[str, A, G]


def _errors(**values: object) -> list[str]:
    with pytest.raises(ValidationError) as caught:
        _Times.model_validate_json(json.dumps(values))
    return [e["type"] for e in caught.value.errors()]


def test_field_group_reads_the_single_tag() -> None:
    """field_group returns the one group a field is tagged with."""
    assert field_group(sample_event("OrderEvent").__class__, "exclusion_zones") is FieldGroup.G
    assert field_group(CaseEvent, "case_reference") is FieldGroup.A


@pytest.mark.parametrize(("model", "count"), [(_Untagged, 0), (_Doubled, 2)])
def test_field_group_refuses_missing_or_doubled_tags(model: type[CaseEvent], count: int) -> None:
    """A field with no tag or two tags has no group: field_group raises LookupError."""
    with pytest.raises(LookupError, match=f"has {count} field group tags"):
        field_group(model, "note")


def test_fields_by_group_leaves_out_envelope_claims() -> None:
    """The envelope claims travel as plain claims, so no group lists them."""
    grouped = fields_by_group(type(sample_event("ReferralReceived")))
    listed = {name for names in grouped.values() for name in names}
    assert not listed & set(CaseEvent.ENVELOPE_CLAIMS)
    assert {"case_reference", "occurred_at", "recorded_at"} <= set(grouped[FieldGroup.A])


def test_fields_by_group_hands_each_caller_its_own_copy() -> None:
    """Worked out once per model, yet a caller that changes its dict changes no one else's."""
    model = type(sample_event("ReferralReceived"))
    first = fields_by_group(model)
    worked_out = _layout.cache_info().misses
    expected = dict(first)
    first.pop(FieldGroup.A)
    first[FieldGroup.H] = ("smuggled",)
    assert fields_by_group(model) == expected
    assert _layout.cache_info().misses == worked_out  # asked again, not worked out again
    assert all(field_group(model, n) == g for g, names in expected.items() for n in names)


def test_group_model_validates_one_disclosure() -> None:
    """The model of one group accepts that group's values and nothing else."""
    event = sample_event("VictimSafetyPlanUpdated")
    location = group_model(type(event), FieldGroup.G)
    values = split_groups(event)[FieldGroup.G]
    assert location.model_validate_json(json.dumps(values)).model_dump(mode="json") == values
    with pytest.raises(ValidationError):
        location.model_validate_json(json.dumps(values | {"victim_ref": "P-00000000V1"}))


def test_in_group_writes_x_field_group() -> None:
    """Each top-level property of the JSON Schema names its group."""
    properties = type(sample_event("OrderEvent")).model_json_schema()["properties"]
    assert properties["exclusion_zones"]["x-field-group"] == "G"
    assert properties["order"]["x-field-group"] == "B"
    assert properties["case_reference"]["x-field-group"] == "A"


def test_past_time_accepts_recent_aware_times() -> None:
    """A timezone-aware time in the past, or within the clock skew, is accepted."""
    for moment in (NOW - timedelta(days=3), NOW + CLOCK_SKEW / 2):
        assert _Times.model_validate_json(json.dumps({"at": moment.isoformat()})).at == moment


@pytest.mark.parametrize(
    ("values", "kind"),
    [
        ({"at": "2026-01-01T10:00:00"}, "timezone_aware"),
        ({"at": (NOW + timedelta(hours=1)).isoformat()}, "time_in_future"),
        ({"at": "1899-12-31T10:00:00+00:00"}, "time_too_early"),
        ({"on": (NOW + timedelta(days=2)).date().isoformat()}, "date_in_future"),
        ({"on": "1899-12-31"}, "date_too_early"),
        ({"planned": "2099-01-01"}, "date_too_far_ahead"),
        ({"label": "two\nlines"}, "string_pattern_mismatch"),
        ({"label": "x" * 121}, "string_too_long"),
        ({"label": ""}, "string_too_short"),
    ],
)
def test_bounded_types_refuse_implausible_values(values: dict[str, object], kind: str) -> None:
    """Naive, future, prehistoric and far-ahead times and unbounded text are refused."""
    assert kind in _errors(**values)


def test_planned_date_may_lie_ahead() -> None:
    """A planned date (a review, an expiry) may lie in the future, within the horizon."""
    ahead = NOW.date() + timedelta(days=365 * 5)
    assert _Times.model_validate_json(json.dumps({"planned": ahead.isoformat()})).planned == ahead


def test_recorded_at_may_not_precede_occurred_at() -> None:
    """An event recorded before it occurred (beyond the clock skew) is refused."""
    data = sample_data("ReferralReceived")
    occurred = datetime.fromisoformat(data["occurred_at"])
    model = type(sample_event("ReferralReceived"))
    late = data | {"recorded_at": (occurred - CLOCK_SKEW / 2).isoformat()}
    assert model.model_validate_json(json.dumps(late)).recorded_at < occurred
    early = data | {"recorded_at": (occurred - 2 * CLOCK_SKEW).isoformat()}
    with pytest.raises(ValidationError) as caught:
        model.model_validate_json(json.dumps(early))
    assert [e["type"] for e in caught.value.errors()] == ["recorded_before_occurred"]


def test_models_are_frozen() -> None:
    """A validated event cannot be changed afterwards."""
    event = sample_event("CaseClosed")
    with pytest.raises(ValidationError):
        event.case_reference = "MASIP-2026-000999"  # type: ignore[misc]


def test_new_event_id_is_random_uuid4() -> None:
    """Event ids are fresh random UUIDs."""
    first, second = new_event_id(), new_event_id()
    assert first != second
    assert first.version == 4
    assert isinstance(first, uuid.UUID)


def test_split_groups_leaves_out_envelope_claims_and_keeps_json_values() -> None:
    """split_groups yields JSON values per group with no envelope claim in any."""
    groups = split_groups(sample_event("BreachReported"))
    assert set(groups) == {FieldGroup(g) for g in "ABCEGH"}
    json.dumps(groups)
    assert all("event_id" not in values for values in groups.values())
    assert B in type(sample_event("BreachReported")).model_fields["breach"].metadata
