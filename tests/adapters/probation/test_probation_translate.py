"""The probation translator: samples round-trip, bad records are named, deliveries hold no more."""

from __future__ import annotations

import copy
import json
import re
import uuid
from pathlib import Path
from typing import Any

import pytest
from json_values import scalars

from adapters.base import ReceivedEvent, RecordError
from adapters.probation.translate import ProbationTranslator
from schemas.base import FieldGroup, fields_by_group, split_groups
from schemas.registry import parse_event
from schemas.samples import sample_data, sample_event

SAMPLES = Path(__file__).parents[3] / "adapters" / "probation" / "samples"
GOOD = sorted(SAMPLES.glob("*.json"))
BAD = sorted((SAMPLES / "bad").glob("*.json"))
TRANSLATOR = ProbationTranslator()
EXPECTED_TYPES = {
    "licence_conditions_updated.json": "ConditionsSet",
    "management_plan_updated.json": "ManagementPlanUpdated",
    "breach_reported.json": "BreachReported",
    "partnership_referral_sent.json": "ReferralReceived",
    "intervention_updated.json": "InterventionUpdated",
    "multi_agency_meeting_held.json": "CaseConsultationHeld",
}
#: Each bad sample, the native field its error must name, and a value it must not quote.
BAD_FIELDS: dict[str, tuple[str, str | None]] = {
    "licence_ends_before_start.json": ("additionalInformation.licence", "2027-08-22"),
    "intervention_unknown_engagement.json": (
        "additionalInformation.intervention.engagement",
        "KEEN",
    ),
    "intervention_negative_sessions.json": (
        "additionalInformation.intervention.sessionsMissed",
        "-3",
    ),
    "meeting_without_attendees.json": ("additionalInformation.attendingAgencies", None),
    "referral_without_victim.json": ("additionalInformation.protectedPersonReferences", None),
}


def load(path: Path) -> dict[str, Any]:
    """Read one sample."""
    data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return data


def normalise(record: dict[str, Any]) -> dict[str, Any]:
    """The round-trip normal form: no ``detailUrl`` and only the partnership identifier.

    ``detailUrl`` feeds the event id (uuid5) and cannot be recovered from it; other
    identifiers (CRN, NOMS) are never translated. Samples are otherwise in the
    canonical form ``to_native`` emits, so the rest must be equal as it stands.
    """
    result = copy.deepcopy(record)
    result.pop("detailUrl", None)
    ids = result["personReference"]["identifiers"]
    result["personReference"]["identifiers"] = [i for i in ids if i["type"] == "PARTNERSHIP_REF"]
    return result


def test_every_supported_kind_has_a_sample() -> None:
    """There is a good sample for each domain event type and a bad one besides."""
    assert {path.name for path in GOOD} == set(EXPECTED_TYPES)
    assert {path.name for path in BAD} == set(BAD_FIELDS)


@pytest.mark.parametrize("path", GOOD, ids=lambda p: p.name)
def test_sample_round_trips(path: Path) -> None:
    """A native record read and written back is the same domain event, after normalisation."""
    record = load(path)
    events = TRANSLATOR.to_events(record, record_id=path.name)
    assert normalise(TRANSLATOR.to_native(events)) == normalise(record)


@pytest.mark.parametrize("path", GOOD, ids=lambda p: p.name)
def test_events_validate_with_expected_groups(path: Path) -> None:
    """Each sample gives one event of the expected type, authored by probation, with its groups."""
    (event,) = TRANSLATOR.to_events(load(path), record_id=path.name)
    assert event.event_type == EXPECTED_TYPES[path.name]
    assert event.author_agency == "probation"
    assert set(split_groups(event)) <= set(fields_by_group(type(event)))
    assert FieldGroup.A in split_groups(event)


@pytest.mark.parametrize("path", GOOD, ids=lambda p: p.name)
def test_event_ids_are_stable(path: Path) -> None:
    """The same message read twice gives the same event id; another detailUrl, another."""
    record = load(path)
    (first,) = TRANSLATOR.to_events(record, record_id="a")
    (again,) = TRANSLATOR.to_events(copy.deepcopy(record), record_id="b")
    (other,) = TRANSLATOR.to_events(record | {"detailUrl": "https://example.org/x"}, record_id="a")
    assert first.event_id == again.event_id != other.event_id


def test_other_identifiers_are_ignored() -> None:
    """A CRN beside the partnership reference is not translated."""
    record = load(SAMPLES / "breach_reported.json")
    record["personReference"]["identifiers"].insert(0, {"type": "CRN", "value": "X999999"})
    (event,) = TRANSLATOR.to_events(record, record_id="breach.json")
    assert "X999999" not in event.model_dump_json()


@pytest.mark.parametrize("path", BAD, ids=lambda p: p.name)
def test_bad_sample_is_refused(path: Path) -> None:
    """A bad sample raises a record.invalid naming the record and the native field."""
    with pytest.raises(RecordError) as caught:
        TRANSLATOR.to_events(load(path), record_id=path.name)
    field, value = BAD_FIELDS[path.name]
    assert caught.value.code == "record.invalid"
    assert caught.value.record == path.name
    assert caught.value.field == field
    assert value is None or value not in str(caught.value)


@pytest.mark.parametrize(
    ("path", "value", "field"),
    [
        (
            ("additionalInformation", "supervision", "mappaLevel"),
            7,
            "additionalInformation.supervision.mappaLevel",
        ),
        (
            ("additionalInformation", "caseReference"),
            "SECRET-REF",
            "additionalInformation.caseReference",
        ),
        (("occurredAt"), "2026-13-99T99:00:00", "occurredAt"),
        (
            ("additionalInformation", "protectedPersonReferences"),
            ["Jane Secret"],
            "additionalInformation.protectedPersonReferences",
        ),
    ],
)
def test_errors_name_the_field_without_the_value(path: Any, value: Any, field: str) -> None:
    """A bad field is named by its native path and its value appears nowhere in the error."""
    record = load(SAMPLES / "licence_conditions_updated.json")
    keys = (path,) if isinstance(path, str) else path
    target = record
    for key in keys[:-1]:
        target = target[key]
    target[keys[-1]] = value
    with pytest.raises(RecordError) as caught:
        TRANSLATOR.to_events(record, record_id="licence.json")
    assert caught.value.field == field
    assert json.dumps(value).strip('"[]') not in str(caught.value)


@pytest.mark.parametrize(
    ("key", "value"), [("eventType", "probation-case.sentence.created"), ("version", 2)]
)
def test_unknown_kind_is_unsupported(key: str, value: Any) -> None:
    """An event type or version the adapter does not translate is record.unsupported."""
    record = load(SAMPLES / "breach_reported.json") | {key: value}
    with pytest.raises(RecordError) as caught:
        TRANSLATOR.to_events(record, record_id="breach.json")
    assert (caught.value.code, caught.value.field) == ("record.unsupported", key)


@pytest.mark.parametrize(
    "event_type",
    [
        "VictimSafetyPlanUpdated",
        "OrderEvent",
        "BreachReported",
        "ManagementPlanAgreed",
        "RiskAssessmentCompleted",
        "ReferralReceived",
        "InterventionUpdated",
        "CaseConsultationHeld",
    ],
)
def test_partial_delivery_holds_nothing_withheld(event_type: str) -> None:
    """A delivery of groups A and C renders no value from any withheld group."""
    event = sample_event(event_type)
    split = split_groups(event)
    kept: dict[FieldGroup, dict[str, Any]] = {
        group: values for group, values in split.items() if group in {FieldGroup.A, FieldGroup.C}
    }
    received = ReceivedEvent(
        event_id=event.event_id,
        event_type=event.event_type,
        schema_version=event.schema_version,
        sender=event.author_agency,
        recipient="probation",
        decision_id=uuid.UUID(int=2),
        agreement_id="ISA-EXAMPLE-1",
        agreement_version=1,
        groups=kept,
    )
    rendered = json.dumps(TRANSLATOR.render_delivery(received))
    withheld = [dict(values) for group, values in split.items() if group not in kept]
    disclosed = set(scalars([dict(values) for values in kept.values()])) | {event.author_agency}
    # A value also held by a disclosed group (a shared date or code) proves nothing.
    distinctive = [v for v in scalars(withheld) if not any(v in d for d in disclosed)]
    assert distinctive
    assert not [value for value in distinctive if value in rendered]
    assert event.case_reference in rendered


def _set(record: dict[str, Any], path: tuple[str | int, ...], value: Any) -> None:
    target: Any = record
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value


@pytest.mark.parametrize(
    ("sample", "path", "value", "field"),
    [
        (
            "partnership_referral_sent.json",
            ("protectedPersonReferences", 0),
            "Jane Secret",
            "protectedPersonReferences[0]",
        ),
        (
            "partnership_referral_sent.json",
            ("crimeReferences", 0),
            "secret crime ref",
            "crimeReferences[0]",
        ),
        ("partnership_referral_sent.json", ("offences", 1), "PERJURY", "offences[1]"),
        ("partnership_referral_sent.json", ("behaviourBeganOn",), "2099-01-01", "behaviourBeganOn"),
        ("intervention_updated.json", ("intervention", "type"), "HYPNOSIS", "intervention.type"),
        (
            "intervention_updated.json",
            ("intervention", "progressNotes"),
            "Secret\x00note",
            "intervention.progressNotes",
        ),
        (
            "multi_agency_meeting_held.json",
            ("actions", 1, "owner"),
            "Mr Secret Owner",
            "actions[1]",
        ),
        (
            "multi_agency_meeting_held.json",
            ("supervision", "mappaLevel"),
            9,
            "supervision.mappaLevel",
        ),
        (
            "multi_agency_meeting_held.json",
            ("attendingAgencies", 0),
            "Secret Agency",
            "attendingAgencies",
        ),
    ],
)
def test_casework_errors_name_the_field_without_the_value(
    sample: str, path: tuple[str | int, ...], value: Any, field: str
) -> None:
    """A bad field of a referral, intervention or meeting is named, its value never quoted."""
    record = load(SAMPLES / sample)
    _set(record, ("additionalInformation", *path), value)
    with pytest.raises(RecordError) as caught:
        TRANSLATOR.to_events(record, record_id=sample)
    assert (caught.value.code, caught.value.record) == ("record.invalid", sample)
    assert caught.value.field == f"additionalInformation.{field}"
    assert str(value) not in str(caught.value)


MARKER = "Fictional marker 7f3a"


@pytest.mark.parametrize(
    ("sample", "path", "native", "group"),
    [
        ("licence_conditions_updated.json", ("exclusionZones", 0, "label"), MARKER, FieldGroup.G),
        ("licence_conditions_updated.json", ("supervision", "mappaCategory"), 4, FieldGroup.C),
        ("management_plan_updated.json", ("changesSummary",), MARKER, FieldGroup.E),
        (
            "management_plan_updated.json",
            ("monitoringActions", 0, "description"),
            MARKER,
            FieldGroup.B,
        ),
        (
            "management_plan_updated.json",
            ("victimSafetyActions", 0, "description"),
            MARKER,
            FieldGroup.H,
        ),
        ("breach_reported.json", ("crimeReference",), "EX/77777/26", FieldGroup.B),
        ("breach_reported.json", ("breachLocation", "point", "lat"), 54.4242, FieldGroup.G),
        ("partnership_referral_sent.json", ("concerns",), MARKER, FieldGroup.E),
        ("partnership_referral_sent.json", ("crimeReferences", 0), "EX/77777/26", FieldGroup.B),
        ("partnership_referral_sent.json", ("offences", 0), "ASSAULT", FieldGroup.B),
        ("partnership_referral_sent.json", ("priorityRequested",), "MEDIUM", FieldGroup.E),
        ("intervention_updated.json", ("intervention", "progressNotes"), MARKER, FieldGroup.D),
        (
            "intervention_updated.json",
            ("intervention", "type"),
            "STALKING_INTERVENTION_PROGRAMME",
            FieldGroup.D,
        ),
        ("intervention_updated.json", ("intervention", "sessionsAttended"), 417, FieldGroup.D),
        ("intervention_updated.json", ("summaryForPartners",), MARKER, FieldGroup.E),
        ("multi_agency_meeting_held.json", ("decisionsSummary",), MARKER, FieldGroup.E),
        ("multi_agency_meeting_held.json", ("actions", 0, "description"), MARKER, FieldGroup.E),
        ("multi_agency_meeting_held.json", ("typology",), "INTIMACY_SEEKER", FieldGroup.E),
        ("multi_agency_meeting_held.json", ("supervision", "mappaCategory"), 4, FieldGroup.C),
        ("multi_agency_meeting_held.json", ("victimVoice",), MARKER, FieldGroup.H),
    ],
)
def test_native_field_lands_in_its_group_only(
    sample: str, path: tuple[str | int, ...], native: Any, group: FieldGroup
) -> None:
    """A distinctive native value is translated into the one group the mapping table names."""
    record = load(SAMPLES / sample)
    _set(record, ("additionalInformation", *path), native)
    (event,) = TRANSLATOR.to_events(record, record_id=sample)
    wanted = native
    if isinstance(native, str) and re.fullmatch(r"[A-Z][A-Z_]+", native):
        wanted = native.lower()
    if path[-1] == "mappaCategory":
        wanted = f"category_{native}"
    found = {
        found_group
        for found_group, values in split_groups(event).items()
        if json.dumps(wanted) in json.dumps(values)
    }
    assert found == {group}


def test_referral_is_version_2_from_probation() -> None:
    """A probation referral is ReferralReceived version 2 whose source is probation."""
    path = SAMPLES / "partnership_referral_sent.json"
    (event,) = TRANSLATOR.to_events(load(path), record_id=path.name)
    data = event.model_dump(mode="json")
    assert (event.schema_version, data["referral_source"]) == (2, "probation")
    assert data["subject_ref"] == "P-00000000S1"


@pytest.mark.parametrize(
    ("changes", "version"),
    [({"referral_source": "police"}, 2), ({}, 1)],
    ids=["another-source", "version-1"],
)
def test_referral_probation_did_not_make_has_no_form(changes: dict[str, Any], version: int) -> None:
    """Only probation's own referrals, in version 2, are written back as domain events."""
    event = parse_event(sample_data("ReferralReceived", version) | changes)
    with pytest.raises(ValueError, match="probation"):
        TRANSLATOR.to_native([event])


def test_intervention_counts_default_to_none_recorded() -> None:
    """An intervention message without session counts reads as none attended or missed."""
    record = load(SAMPLES / "intervention_updated.json")
    del record["additionalInformation"]["intervention"]["sessionsAttended"]
    (event,) = TRANSLATOR.to_events(record, record_id="intervention.json")
    progress = event.model_dump(mode="json")["intervention"]
    assert (progress["sessions_attended"], progress["sessions_missed"]) == (0, 1)
