"""The published shape of native records: codes, event values, bounds, paths and the check."""

from __future__ import annotations

from typing import Annotated, Literal

import pytest
from pydantic import BaseModel, Field

from adapters.base import RecordError
from adapters.native.shape import (
    Code,
    EventBounds,
    EventValue,
    NativeModel,
    check_shape,
    native_path,
    native_vocabulary,
    record_schema,
)
from schemas.common import Priority
from schemas.events.assessment import CaseConsultationHeld
from schemas.events.management import ManagementPlanUpdated
from schemas.events.referral import ReferralReceivedV2


class Item(NativeModel):
    """An item."""

    kind: Literal["A"]
    priority: Annotated[str, Code(Priority)]


class Other(NativeModel):
    """Another item."""

    kind: Literal["B"]


class Sample(NativeModel):
    """A record of two fields and tagged items."""

    concerns: Annotated[str, EventValue(ReferralReceivedV2, "concerns")]
    behaviour_began_on: Annotated[
        str | None, EventValue(ReferralReceivedV2, "behaviour_began_on")
    ] = None
    items: Annotated[
        list[Annotated[Item | Other, Field(discriminator="kind")]],
        EventBounds(CaseConsultationHeld, "attendees"),
    ]


def test_native_codes_are_the_catalogues_in_upper_case() -> None:
    """A native vocabulary has the catalogue's members, upper case, and the same name."""
    native = native_vocabulary(Priority)
    assert [member.value for member in native] == ["STANDARD", "MEDIUM", "HIGH"]
    assert native.__name__ == "Priority"
    assert native_vocabulary(Priority) is native


def test_the_schema_takes_the_event_fields_type_and_the_lists_bounds() -> None:
    """Event values carry the event field's pattern and bounds; lists its length; camelCase keys."""
    root, schemas = record_schema(Sample)
    properties = root["properties"]
    assert properties["concerns"]["maxLength"] == 4000
    assert properties["behaviourBeganOn"]["anyOf"][0]["format"] == "date"
    assert "default" not in properties["behaviourBeganOn"]
    assert "title" not in properties["concerns"]
    assert (properties["items"]["minItems"], properties["items"]["maxItems"]) == (1, 20)
    assert schemas["Priority"]["enum"] == ["STANDARD", "MEDIUM", "HIGH"]
    assert root["required"] == ["concerns", "items"]


def test_bounds_are_found_inside_an_optional_alias() -> None:
    """``AgreedActions | None`` still gives the list's bounds; a field without any is an error."""

    class Strand(BaseModel):
        actions: Annotated[list[str], EventBounds(ManagementPlanUpdated, "supervision")]

    assert Strand.model_json_schema()["properties"]["actions"]["maxItems"] == 20
    with pytest.raises(TypeError, match="no length bounds"):

        class Unbounded(BaseModel):
            concerns: Annotated[list[str], EventBounds(ReferralReceivedV2, "concerns")]


@pytest.mark.parametrize(
    ("record", "field"),
    [
        ({"items": [{"kind": "A", "priority": "HIGH"}]}, "concerns"),
        ({"concerns": "x", "items": [{"kind": "A", "priority": "high"}]}, "items[0].priority"),
        ({"concerns": "x", "items": []}, "items"),
        ({"concerns": "x", "items": [{"kind": "C"}]}, "items[0]"),
        ({"concerns": "x\x00y", "items": [{"kind": "B"}]}, "concerns"),
    ],
)
def test_check_names_the_native_field_never_the_value(
    record: dict[str, object], field: str
) -> None:
    """A record that does not fit is record.invalid at its camelCase path, tags left out."""
    with pytest.raises(RecordError) as caught:
        check_shape(Sample, record, "r.json")
    assert (caught.value.code, caught.value.record, caught.value.field) == (
        "record.invalid",
        "r.json",
        field,
    )
    assert "high" not in str(caught.value)
    assert caught.value.problem.startswith("does not fit the record schema (")


def test_a_fitting_record_passes_and_unknown_keys_are_ignored() -> None:
    """A record that fits passes; a key the model does not name is allowed."""
    check_shape(Sample, {"concerns": "x", "items": [{"kind": "B", "note": 1}], "more": 1}, "r")


def test_paths_follow_the_record_not_the_union_tags() -> None:
    """A tag pydantic adds to a location is no key of the record and is left out."""
    record = {"events": [{"type": "REFERRAL", "details": {}}]}
    loc = ("events", 0, "REFERRAL", "details", "concerns")
    assert native_path(loc, record) == "events[0].details.concerns"
    assert native_path((), record) == "(document)"


class Closed(NativeModel):
    """A part of a record that names every key it takes (as an advocacy safety plan)."""

    model_config = NativeModel.model_config | {"extra": "forbid"}
    steps: list[str]


class Holder(NativeModel):
    """A record holding a closed part."""

    plan: Closed


def test_a_key_the_sender_made_up_is_named_as_a_key_never_repeated() -> None:
    """An unknown key where none is allowed: its object's path and <key>, not the key."""
    record = {"plan": {"steps": [], "Jo Example lives at 1 Fictional Row": True}}
    with pytest.raises(RecordError) as caught:
        check_shape(Holder, record, "r.json")
    assert caught.value.field == "plan.<key>"
    assert "Fictional" not in str(caught.value)
    assert "extra_forbidden" in caught.value.problem
