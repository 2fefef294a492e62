"""The police translator: samples round-trip, bad records are named, deliveries hold no more."""

from __future__ import annotations

import copy
import json
import uuid
from pathlib import Path
from typing import Any

import pytest
from json_values import scalars

from adapters.base import ReceivedEvent, RecordError
from adapters.police.translate import PoliceTranslator
from schemas.base import FieldGroup, fields_by_group, split_groups
from schemas.samples import sample_event

SAMPLES = Path(__file__).parents[3] / "adapters" / "police" / "samples"
GOOD = sorted(SAMPLES.glob("*.json"))
BAD = sorted((SAMPLES / "bad").glob("*.json"))
TRANSLATOR = PoliceTranslator()
EXPECTED_TYPES = {
    "referral.json": "ReferralReceived",
    "sdash_screening.json": "ScreeningCompleted",
    "interim_spo_granted.json": "OrderEvent",
    "breach.json": "BreachReported",
    "court_outcome.json": "CriminalJusticeOutcome",
    "case_consultation.json": "CaseConsultationHeld",
    "case_closed.json": "CaseClosed",
}
#: Each bad sample and the native field its error must name.
BAD_FIELDS = {
    "sdash_missing_answer.json": "events[0].details.answers.q7",
    "closure_unknown_stalking_status.json": "events[0].details.riskAtClosure.stalkingStatus",
}


def load(path: Path) -> dict[str, Any]:
    """Read one sample."""
    data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return data


def normalise(document: dict[str, Any]) -> dict[str, Any]:
    """The round-trip normal form: no document id, no officers and no links to them.

    The document id feeds the event ids (uuid5) and cannot be recovered from them;
    officers are police-internal and never translated. Samples are otherwise written
    in the canonical form ``to_native`` emits (no nulls, no empty lists, ids numbered
    in order of first use), so the rest must be equal as it stands.
    """
    result = copy.deepcopy(document)
    result.pop("id", None)
    officers = {p["id"] for p in result.get("persons", []) if p["role"] == "OFFICER"}
    result["persons"] = [p for p in result.get("persons", []) if p["id"] not in officers]
    for event in result["events"]:
        event["personIds"] = [i for i in event.get("personIds", []) if i not in officers]
    return result


def test_every_supported_kind_has_a_sample() -> None:
    """There is a good sample for each POLE event type and a bad one besides."""
    assert {path.name for path in GOOD} == set(EXPECTED_TYPES)
    assert {path.name for path in BAD} == set(BAD_FIELDS)


@pytest.mark.parametrize("path", GOOD, ids=lambda p: p.name)
def test_sample_round_trips(path: Path) -> None:
    """A native record read and written back is the same document, after normalisation."""
    record = load(path)
    events = TRANSLATOR.to_events(record, record_id=path.name)
    assert normalise(TRANSLATOR.to_native(events)) == normalise(record)


@pytest.mark.parametrize("path", GOOD, ids=lambda p: p.name)
def test_events_validate_with_expected_groups(path: Path) -> None:
    """Each sample gives an event of the expected type, authored by police, with its groups."""
    (event,) = TRANSLATOR.to_events(load(path), record_id=path.name)
    assert event.event_type == EXPECTED_TYPES[path.name]
    assert event.author_agency == "police"
    assert set(split_groups(event)) == set(fields_by_group(type(event)))


@pytest.mark.parametrize("path", GOOD, ids=lambda p: p.name)
def test_event_ids_are_stable(path: Path) -> None:
    """Reading the same document twice gives the same event ids; another document id, others."""
    record = load(path)
    first = TRANSLATOR.to_events(record, record_id="a")
    assert [e.event_id for e in first] == [
        e.event_id for e in TRANSLATOR.to_events(record, record_id="b")
    ]
    other = TRANSLATOR.to_events(record | {"id": "EX-POLE-2026-9999"}, record_id="a")
    assert first[0].event_id != other[0].event_id


def test_native_back_to_events_is_a_fixed_point() -> None:
    """Events written natively and read again are the same but for the derived event id."""
    types = ("ReferralReceived", "ScreeningCompleted", "OrderEvent", "CaseConsultationHeld")
    events = [sample_event(t) for t in (*types, "CaseClosed")]
    again = TRANSLATOR.to_events(TRANSLATOR.to_native(events), record_id="x")
    strip = {"event_id"}
    assert [e.model_dump(exclude=strip) for e in again] == [
        e.model_dump(exclude=strip) for e in events
    ]


@pytest.mark.parametrize("path", BAD, ids=lambda p: p.name)
def test_bad_sample_is_refused(path: Path) -> None:
    """A bad sample raises a record.invalid naming the record and the native field."""
    with pytest.raises(RecordError) as caught:
        TRANSLATOR.to_events(load(path), record_id=path.name)
    assert caught.value.code == "record.invalid"
    assert caught.value.record == path.name
    assert caught.value.field == BAD_FIELDS[path.name]


def _mutated(change: str) -> dict[str, Any]:
    record = load(SAMPLES / "interim_spo_granted.json")
    if change == "court":
        record["objects"][0]["court"] = "Secret Court\nline two"
    elif change == "radius":
        record["locations"][0]["circle"]["radiusMetres"] = 987654
    elif change == "link":
        record["events"][0]["personIds"].append("PER-404-SECRET")
    elif change == "code":
        record["events"][0]["details"]["action"] = "SECRET_ACTION"
    return record


@pytest.mark.parametrize(
    ("change", "field", "secret"),
    [
        ("court", "objects[0]", "Secret Court"),
        ("radius", "locations[0]", "987654"),
        ("link", "events[0].personIds[2]", "PER-404-SECRET"),
        ("code", "events[0].details.action", "SECRET_ACTION"),
    ],
)
def test_errors_name_the_field_without_the_value(change: str, field: str, secret: str) -> None:
    """A bad field is named by its native path and its value appears nowhere in the error."""
    with pytest.raises(RecordError) as caught:
        TRANSLATOR.to_events(_mutated(change), record_id="order.json")
    assert caught.value.field == field
    assert secret not in str(caught.value)
    assert secret not in caught.value.problem


def test_unknown_event_type_is_unsupported() -> None:
    """A POLE event type the adapter does not translate is record.unsupported."""
    record = load(SAMPLES / "breach.json")
    record["events"][0]["type"] = "STOP_AND_SEARCH"
    with pytest.raises(RecordError) as caught:
        TRANSLATOR.to_events(record, record_id="breach.json")
    assert (caught.value.code, caught.value.field) == ("record.unsupported", "events[0].type")


def _received(event_type: str, groups: set[FieldGroup]) -> tuple[ReceivedEvent, list[Any]]:
    event = sample_event(event_type)
    split = split_groups(event)
    kept = {group: values for group, values in split.items() if group in groups}
    withheld = [
        value for group, values in split.items() if group not in groups for value in values.values()
    ]
    received = ReceivedEvent(
        event_id=event.event_id,
        event_type=event.event_type,
        schema_version=event.schema_version,
        sender=event.author_agency,
        recipient="police",
        decision_id=uuid.UUID(int=1),
        agreement_id="ISA-EXAMPLE-1",
        agreement_version=1,
        groups=kept,
    )
    return received, withheld


@pytest.mark.parametrize(
    "event_type",
    [
        "VictimSafetyPlanUpdated",
        "OrderEvent",
        "BreachReported",
        "ConditionsSet",
        "RiskAssessmentCompleted",
    ],
)
def test_partial_delivery_holds_nothing_withheld(event_type: str) -> None:
    """A delivery of groups A and B renders no value from any withheld group."""
    received, withheld = _received(event_type, {FieldGroup.A, FieldGroup.B})
    rendered = json.dumps(TRANSLATOR.render_delivery(received))
    disclosed = set(scalars([dict(values) for values in received.groups.values()]))
    disclosed.add(received.sender)
    # A value also held by a disclosed group (a shared date or code) proves nothing.
    distinctive = [v for v in scalars(withheld) if not any(v in d for d in disclosed)]
    assert distinctive
    assert not [value for value in distinctive if value in rendered]
    assert received.fields()["case_reference"] in rendered


def test_delivery_puts_group_g_in_locations() -> None:
    """A disclosed group G field is a POLE location, never an event detail."""
    received, _ = _received("BreachReported", set(FieldGroup))
    rendered = TRANSLATOR.render_delivery(received)
    assert [loc["type"] for loc in rendered["locations"]] == ["BREACH_PLACE"]
    assert "G" not in rendered["events"][0]["details"]
