"""Signed is not enough: each disclosure must hold exactly its own group's fields."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import pytest

from hub.crypto.envelope import (
    DecisionHeader,
    EventClaims,
    Issuance,
    issue_event,
    issue_groups,
    open_delivery,
    open_ingress,
    present,
)
from hub.crypto.jwe import seal
from hub.crypto.keys import PartyKeyring
from hub.events import event_from_issuance, groups_from_delivery
from schemas.base import FieldGroup, split_groups
from schemas.errors import SchemaError, SchemaErrorCode
from schemas.samples import sample_event

if TYPE_CHECKING:
    from hub.crypto.keys import KeyDirectory

Rings = dict[str, PartyKeyring]
NOW = datetime.now(UTC)


def _issue(
    groups: dict[FieldGroup, dict[str, Any]], rings: Rings, directory: KeyDirectory
) -> Issuance:
    event = sample_event("VictimSafetyPlanUpdated")
    claims = EventClaims("advocacy", event.event_id, event.event_type, event.schema_version, NOW)
    text = issue_groups(
        claims,
        {g.value: v for g, v in groups.items()},
        rings["advocacy"].signing_key(NOW),
        directory.valid_keys("hub", "sig", NOW)[0],
    )
    return open_ingress(seal(text, directory.encryption_key("hub", NOW)), rings["hub"], directory)


def test_well_formed_issuance_validates(keyrings: Rings, directory: KeyDirectory) -> None:
    """An issuance with every group in place validates to the original event."""
    event = sample_event("VictimSafetyPlanUpdated")
    issuance = _issue(split_groups(event), keyrings, directory)
    assert event_from_issuance(issuance) == event


def test_location_smuggled_into_case_group_is_refused(
    keyrings: Rings, directory: KeyDirectory
) -> None:
    """A victim-location field signed inside group A is refused before any decision (P3)."""
    groups = split_groups(sample_event("VictimSafetyPlanUpdated"))
    location = groups.pop(FieldGroup.G)
    groups[FieldGroup.A] = {**groups[FieldGroup.A], **location}
    with pytest.raises(SchemaError) as caught:
        event_from_issuance(_issue(groups, keyrings, directory))
    assert caught.value.code is SchemaErrorCode.INVALID
    assert "group A" in str(caught.value)


def test_an_optional_field_left_out_of_its_group_is_optional_on_the_wire(
    keyrings: Rings, directory: KeyDirectory
) -> None:
    """A group without an optional field (not even as null) validates, at the hub and after."""
    event = sample_event("VictimSafetyPlanUpdated")
    groups = split_groups(event)
    del groups[FieldGroup.A]["subject_ref"]
    del groups[FieldGroup.H]["needs"]
    groups[FieldGroup.E] = {}  # every field of E is optional: the group may be empty
    received = event_from_issuance(_issue(groups, keyrings, directory))
    assert received.model_dump(exclude={"subject_ref", "needs", "advocate_risk_level"}) == (
        event.model_dump(exclude={"subject_ref", "needs", "advocate_risk_level"})
    )
    left_out = received.model_dump(include={"subject_ref", "needs", "advocate_risk_level"})
    assert left_out == {"subject_ref": None, "needs": None, "advocate_risk_level": None}


def test_a_required_field_left_out_is_named_by_its_path(
    keyrings: Rings, directory: KeyDirectory
) -> None:
    """Leaving out a required field is refused, and the refusal names the field."""
    groups = split_groups(sample_event("VictimSafetyPlanUpdated"))
    del groups[FieldGroup.H]["safety_plan"]
    with pytest.raises(SchemaError) as caught:
        event_from_issuance(_issue(groups, keyrings, directory))
    assert [(p.loc, p.type) for p in caught.value.problems] == [("safety_plan", "missing")]


def test_a_field_in_another_group_is_named_and_its_value_never(
    keyrings: Rings, directory: KeyDirectory
) -> None:
    """A field put in another group names the field; an unknown key is ``<key>``; no value."""
    groups = split_groups(sample_event("VictimSafetyPlanUpdated"))
    location = groups.pop(FieldGroup.G)
    groups[FieldGroup.G] = {}
    groups[FieldGroup.A] = {**groups[FieldGroup.A], **location, "home_address": "1 Example Road"}
    with pytest.raises(SchemaError) as caught:
        event_from_issuance(_issue(groups, keyrings, directory))
    assert [(p.loc, p.type) for p in caught.value.problems] == [
        ("location", "wrong_group"),
        ("<key>", "extra_forbidden"),
    ]
    assert "Example Road" not in str(caught.value.diagnostics())
    assert "home_address" not in str(caught.value.diagnostics())


def test_missing_group_is_refused(keyrings: Rings, directory: KeyDirectory) -> None:
    """An issuance that leaves out one of its type's groups is refused."""
    groups = split_groups(sample_event("VictimSafetyPlanUpdated"))
    del groups[FieldGroup.F]  # every field of F is optional: only the layout check can tell
    with pytest.raises(SchemaError) as caught:
        event_from_issuance(_issue(groups, keyrings, directory))
    assert caught.value.code is SchemaErrorCode.INVALID


def test_recipient_validates_each_group_it_received(
    keyrings: Rings, directory: KeyDirectory
) -> None:
    """A recipient validates the groups it got against their part of the schema."""
    event = sample_event("VictimSafetyPlanUpdated")
    issuance = open_ingress(
        issue_event(event, keyrings["advocacy"], directory), keyrings["hub"], directory
    )
    decision = DecisionHeader(uuid.uuid4(), "masip", 1, "police")
    granted = {FieldGroup.A, FieldGroup.G}
    delivery = open_delivery(
        present(issuance, granted, decision, keyrings["hub"], directory),
        keyrings["police"],
        directory,
    )
    validated = groups_from_delivery(delivery)
    assert set(validated) == granted
    expected = split_groups(event)
    for group, model in validated.items():
        assert model.model_dump(mode="json") == expected[group]


def test_recipient_refuses_a_group_that_does_not_validate(
    keyrings: Rings, directory: KeyDirectory
) -> None:
    """A signed group whose values break its schema is refused at the recipient too."""
    groups = split_groups(sample_event("VictimSafetyPlanUpdated"))
    first = next(iter(groups[FieldGroup.A]))
    groups[FieldGroup.A] = {**groups[FieldGroup.A], first: ["not", "a", "valid", "value"]}
    issuance = _issue(groups, keyrings, directory)
    decision = DecisionHeader(uuid.uuid4(), "masip", 1, "police")
    delivery = open_delivery(
        present(issuance, {FieldGroup.A}, decision, keyrings["hub"], directory),
        keyrings["police"],
        directory,
    )
    with pytest.raises(SchemaError) as caught:
        groups_from_delivery(delivery)
    assert caught.value.code is SchemaErrorCode.INVALID
