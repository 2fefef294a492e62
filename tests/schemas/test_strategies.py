"""Property tests over generated events of every catalogued type and version."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from strategies import case_events

from schemas.base import CaseEvent, split_groups
from schemas.registry import CATALOGUE, parse_event


# Generation walks a whole JSON Schema per example; a deadline would measure that, not the test.
@settings(max_examples=150, deadline=None)
@given(case_events())
def test_generated_events_round_trip(event: CaseEvent) -> None:
    """Any valid event survives model_dump_json and parse_event unchanged."""
    assert parse_event(event.model_dump_json()) == event
    assert parse_event(event.model_dump(mode="json")) == event


@settings(max_examples=60, deadline=None)
@given(case_events())
def test_generated_events_split_into_disjoint_groups(event: CaseEvent) -> None:
    """split_groups of any event holds each non-envelope field once."""
    names = [name for values in split_groups(event).values() for name in values]
    assert sorted(names) == sorted(set(type(event).model_fields) - set(CaseEvent.ENVELOPE_CLAIMS))


@pytest.mark.parametrize("key", sorted(CATALOGUE), ids=lambda k: f"{k[0]}.v{k[1]}")
@settings(max_examples=5, deadline=None)
@given(data=st.data())
def test_the_strategy_draws_every_catalogued_model(
    key: tuple[str, int], data: st.DataObject
) -> None:
    """Each catalogued type and version can be drawn on its own and is valid."""
    event = data.draw(case_events(keys=(key,)))
    assert (event.event_type, event.schema_version) == key
    assert parse_event(event.model_dump_json()) == event
