import json
import uuid
from pathlib import Path
from typing import Any

import pytest

from adapters.advocacy.translate import AdvocacyTranslator, event_id_for
from adapters.base import ReceivedEvent, RecordError
from schemas.base import FieldGroup, fields_by_group, split_groups
from schemas.events.victim import VictimSafetyPlanUpdated

SAMPLES = Path(__file__).parents[3] / "adapters" / "advocacy" / "samples"
GOOD = sorted(SAMPLES.glob("*.json"))
EXPECTED = {
    "safety_plan.json": ("VictimSafetyPlanUpdated", {"A", "E", "F", "G", "H"}),
    "safety_plan_stalker_unknown.json": ("VictimSafetyPlanUpdated", {"A", "E", "H"}),
    "referral.json": ("ReferralReceived", {"A", "E"}),
}


def _load(path: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return data


def _normalise(native: dict[str, Any]) -> dict[str, Any]:
    """The documented normalisation: the record id becomes the event id."""
    return native | {"recordId": event_id_for(native["recordId"])}


@pytest.mark.parametrize("path", GOOD, ids=lambda p: p.name)
def test_sample_round_trips(path: Path) -> None:
    """Every sample record comes back equal after native -> events -> native."""
    translator = AdvocacyTranslator()
    native = _load(path)
    events = translator.to_events(native, record_id=path.name)
    assert translator.to_native(events) == _normalise(native)


@pytest.mark.parametrize("path", GOOD, ids=lambda p: p.name)
def test_sample_events_fill_expected_groups(path: Path) -> None:
    """Every produced event is of the expected type, by advocacy, filling the expected groups."""
    (event,) = AdvocacyTranslator().to_events(_load(path), record_id=path.name)
    event_type, groups = EXPECTED[path.name]
    assert event.event_type == event_type
    assert event.author_agency == "advocacy"
    filled = {
        group.value
        for group, values in split_groups(event).items()
        if any(value not in (None, []) for value in values.values())
    }
    assert filled == groups
    assert filled <= {group.value for group in fields_by_group(type(event))}


def test_location_lands_only_in_group_g() -> None:
    """The safe address, workplace and routines travel only in the group G field."""
    (event,) = AdvocacyTranslator().to_events(_load(SAMPLES / "safety_plan.json"), record_id="plan")
    assert isinstance(event, VictimSafetyPlanUpdated)
    assert event.location is not None
    assert event.location.home is not None
    assert event.location.confidential_home
    groups = split_groups(event)
    for group, values in groups.items():
        if group is not FieldGroup.G:
            assert "Example Street" not in json.dumps(values)
            assert "Example Works" not in json.dumps(values)


def test_bad_sample_names_field_not_value() -> None:
    """A bad postcode is refused naming the record and the native field, not the value."""
    path = SAMPLES / "bad" / "safe_address_bad_postcode.json"
    with pytest.raises(RecordError) as caught:
        AdvocacyTranslator().to_events(_load(path), record_id=path.name)
    assert caught.value.code == "record.invalid"
    assert caught.value.record == path.name
    assert caught.value.field == "safeAddress"
    assert "EX1 1AA!" not in str(caught.value)


def test_missing_victim_reference_is_refused() -> None:
    """A safety plan without the victim's reference is refused at that field."""
    native = _load(SAMPLES / "safety_plan.json")
    del native["victim"]["reference"]
    with pytest.raises(RecordError) as caught:
        AdvocacyTranslator().to_events(native, record_id="r1")
    assert caught.value.field == "victim.reference"


def test_unknown_key_is_refused() -> None:
    """A key the record type does not define is refused, not silently dropped."""
    native = _load(SAMPLES / "safety_plan.json") | {"homeAddress": "1 Example Street"}
    with pytest.raises(RecordError) as caught:
        AdvocacyTranslator().to_events(native, record_id="r2")
    assert "Example Street" not in str(caught.value)


def test_unknown_record_type_is_unsupported() -> None:
    """A record type the adapter does not translate is record.unsupported."""
    native = _load(SAMPLES / "referral.json") | {"recordType": "court_support"}
    with pytest.raises(RecordError) as caught:
        AdvocacyTranslator().to_events(native, record_id="r3")
    assert caught.value.code == "record.unsupported"
    assert caught.value.field == "recordType"


def test_event_id_is_deterministic() -> None:
    """The same record always gives the same uuid5 event id."""
    native = _load(SAMPLES / "referral.json")
    first = AdvocacyTranslator().to_events(native, record_id="a")[0].event_id
    assert first == AdvocacyTranslator().to_events(native, record_id="b")[0].event_id
    assert first.version == 5


def test_delivery_renders_only_disclosed_groups() -> None:
    """A partner update holds the disclosed groups and no key of a withheld one."""
    (event,) = AdvocacyTranslator().to_events(_load(SAMPLES / "safety_plan.json"), record_id="p")
    split = split_groups(event)
    received = ReceivedEvent(
        event_id=event.event_id,
        event_type=event.event_type,
        schema_version=event.schema_version,
        sender="health",
        recipient="advocacy",
        decision_id=uuid.UUID("00000000-0000-4000-8000-0000000000d2"),
        agreement_id="isa-example-2026",
        agreement_version=1,
        groups={FieldGroup.A: split[FieldGroup.A], FieldGroup.H: split[FieldGroup.H]},
    )
    output = AdvocacyTranslator().render_delivery(received)
    assert output["disclosedGroups"] == ["A", "H"]
    assert set(output["groups"]) == {"A", "H"}
    assert "Example Street" not in json.dumps(output)
