"""Schema evolution: old versions keep validating, new ones add, upcast reaches the latest."""

from __future__ import annotations

from itertools import pairwise

import pytest

from schemas.base import field_group
from schemas.errors import SchemaError, SchemaErrorCode
from schemas.events import ReferralReceived, ReferralReceivedV2
from schemas.events.referral import ReferralSource, upcast_referral_v1
from schemas.registry import CATALOGUE, UPCASTERS, event_types, parse_event, upcast, versions
from schemas.samples import sample_data, sample_event

EVOLVED = [t for t in event_types() if len(versions(t)) > 1]


def test_version_1_referral_still_parses_and_is_catalogued() -> None:
    """A version 1 ReferralReceived from before version 2 validates as version 1."""
    assert CATALOGUE["ReferralReceived", 1] is ReferralReceived
    event = parse_event(sample_data("ReferralReceived", 1))
    assert isinstance(event, ReferralReceived)
    assert event.schema_version == 1


def test_version_2_referral_parses_and_is_catalogued() -> None:
    """A version 2 ReferralReceived validates as version 2 with its source."""
    assert CATALOGUE["ReferralReceived", 2] is ReferralReceivedV2
    event = parse_event(sample_data("ReferralReceived", 2))
    assert isinstance(event, ReferralReceivedV2)
    assert event.referral_source is ReferralSource.POLICE


def test_version_2_requires_the_source_and_version_1_refuses_it() -> None:
    """The source is required from version 2 on; version 1 stays closed to it."""
    without = sample_data("ReferralReceived", 2)
    del without["referral_source"]
    with pytest.raises(SchemaError) as missing:
        parse_event(without)
    assert ("referral_source", "missing") in [(p.loc, p.type) for p in missing.value.problems]
    with pytest.raises(SchemaError) as extra:
        parse_event(sample_data("ReferralReceived", 1) | {"referral_source": "police"})
    assert extra.value.code is SchemaErrorCode.INVALID


def test_the_optional_field_of_version_2_may_be_left_out() -> None:
    """behaviour_began_on is optional: a version 2 event without it is valid."""
    data = sample_data("ReferralReceived", 2)
    del data["behaviour_began_on"]
    event = parse_event(data)
    assert isinstance(event, ReferralReceivedV2)
    assert event.behaviour_began_on is None


def test_upcast_turns_version_1_into_the_latest() -> None:
    """Upcasting keeps the event's id and content and marks the source as not recorded."""
    old = sample_event("ReferralReceived", 1)
    new = upcast(old)
    assert isinstance(new, ReferralReceivedV2)
    assert new.referral_source is ReferralSource.NOT_RECORDED
    added = {"schema_version", "referral_source", "behaviour_began_on"}
    assert new.model_dump(exclude=added) == old.model_dump(exclude={"schema_version"})
    assert new.behaviour_began_on is None


def test_upcast_leaves_the_latest_version_alone() -> None:
    """An event already at its latest version comes back unchanged."""
    event = sample_event("ReferralReceived")
    assert upcast(event) is event
    assert upcast(sample_event("CaseClosed")) == sample_event("CaseClosed")


def test_an_upcaster_refuses_the_wrong_event() -> None:
    """An upcaster applied to another type or version raises TypeError."""
    with pytest.raises(TypeError):
        upcast_referral_v1(sample_event("ReferralReceived", 2))


@pytest.mark.parametrize("event_type", EVOLVED)
def test_every_old_version_has_an_upcaster(event_type: str) -> None:
    """Each version but the latest has a step to the next one, so upcast always ends."""
    for version in versions(event_type)[:-1]:
        assert (event_type, version) in UPCASTERS
    assert (event_type, versions(event_type)[-1]) not in UPCASTERS


@pytest.mark.parametrize("event_type", EVOLVED)
def test_fields_keep_their_group_across_versions(event_type: str) -> None:
    """A field kept by a newer version stays in its group: who may see it does not change."""
    known = versions(event_type)
    for older, newer in pairwise(known):
        old, new = CATALOGUE[event_type, older], CATALOGUE[event_type, newer]
        for name in set(old.model_fields) & set(new.model_fields):
            assert field_group(old, name) is field_group(new, name), name
