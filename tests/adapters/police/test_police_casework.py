"""Case consultations and closures as POLE events: groups filled, errors named by path."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from adapters.base import RecordError
from adapters.police.translate import PoliceTranslator
from schemas.base import FieldGroup, split_groups
from schemas.events.assessment import CaseConsultationHeld
from schemas.events.outcome import CaseClosed

SAMPLES = Path(__file__).parents[3] / "adapters" / "police" / "samples"
TRANSLATOR = PoliceTranslator()


def load(name: str) -> dict[str, Any]:
    """Read one sample."""
    data: dict[str, Any] = json.loads((SAMPLES / name).read_text(encoding="utf-8"))
    return data


def test_consultation_fields_land_in_their_groups() -> None:
    """Attendees are A, decisions and actions E, supervision C, the victim's voice H."""
    (event,) = TRANSLATOR.to_events(load("case_consultation.json"), record_id="c")
    assert isinstance(event, CaseConsultationHeld)
    groups = split_groups(event)
    assert groups[FieldGroup.A]["attendees"] == ["police", "probation", "health", "advocacy"]
    assert [action["owner"] for action in groups[FieldGroup.E]["actions"]] == ["police", "advocacy"]
    assert groups[FieldGroup.C]["supervision"]["mappa_level"] == "level_2"
    assert groups[FieldGroup.H]["victim_voice"].startswith("Fictional example.")
    assert event.subject_ref == "P-00000000S1"


def test_closure_fields_land_in_their_groups() -> None:
    """The reason and risk at closure are E, justice measures B, the victim's outcomes H."""
    (event,) = TRANSLATOR.to_events(load("case_closed.json"), record_id="c")
    assert isinstance(event, CaseClosed)
    groups = split_groups(event)
    assert groups[FieldGroup.E]["reason"] == "risk_managed"
    assert groups[FieldGroup.E]["risk_at_closure"]["stalking_status"] == "ceased"
    assert groups[FieldGroup.B]["justice_measures"]["breaches_recorded"] == 1
    assert groups[FieldGroup.H]["victim_outcomes"]["needs_met"] == "most"


def test_optional_parts_may_be_left_out() -> None:
    """A consultation with no suspect, typology, actions or supervision still translates."""
    record = load("case_consultation.json")
    record["persons"] = [p for p in record["persons"] if p["role"] != "SUSPECT"]
    record["events"][0]["personIds"] = ["PER-2"]
    details = record["events"][0]["details"]
    for key in ("typology", "actions", "supervision", "victimVoice", "nextConsultationDate"):
        del details[key]
    (event,) = TRANSLATOR.to_events(record, record_id="c")
    assert isinstance(event, CaseConsultationHeld)
    assert (event.subject_ref, event.supervision, event.actions) == (None, None, ())


def _consultation(change: str) -> dict[str, Any]:
    record = load("case_consultation.json")
    details = record["events"][0]["details"]
    if change == "attendee":
        details["attendingAgencies"].append("Secret Agency")
    elif change == "mappa":
        details["supervision"]["mappaLevel"] = 7
    elif change == "status":
        details["actions"][1]["status"] = "SECRET_STATUS"
    elif change == "owner":
        details["actions"][1]["owner"] = "Secret Owner"
    elif change == "suspects":
        record["persons"].append(
            {"id": "PER-9", "partnershipRef": "P-SECRET0S9", "role": "SUSPECT"}
        )
        record["events"][0]["personIds"].append("PER-9")
    return record


@pytest.mark.parametrize(
    ("change", "field", "secret"),
    [
        ("attendee", "events[0].details.attendingAgencies", "Secret Agency"),
        ("mappa", "events[0].details.supervision.mappaLevel", "7"),
        ("status", "events[0].details.actions[1].status", "SECRET_STATUS"),
        ("owner", "events[0].details.actions[1]", "Secret Owner"),
        ("suspects", "events[0].personIds", "P-SECRET0S9"),
    ],
)
def test_consultation_errors_name_the_field_without_the_value(
    change: str, field: str, secret: str
) -> None:
    """A bad consultation field is named by its native path; its value appears nowhere."""
    with pytest.raises(RecordError) as caught:
        TRANSLATOR.to_events(_consultation(change), record_id="consultation.json")
    assert (caught.value.code, caught.value.field) == ("record.invalid", field)
    assert secret not in str(caught.value)


@pytest.mark.parametrize(
    ("key", "field"),
    [
        ("closureReason", "events[0].details.closureReason"),
        ("riskAtClosure", "events[0].details.riskAtClosure"),
        ("closureSummary", "events[0].details.closureSummary"),
    ],
)
def test_closure_without_a_required_part_is_refused(key: str, field: str) -> None:
    """A closure missing its reason, risk or summary is refused at a native field."""
    record = load("case_closed.json")
    del record["events"][0]["details"][key]
    with pytest.raises(RecordError) as caught:
        TRANSLATOR.to_events(record, record_id="closed.json")
    assert caught.value.field == field


def test_closure_measures_are_judged_by_the_schema() -> None:
    """A count out of range is refused against the justice measures, value unquoted."""
    record = load("case_closed.json")
    record["events"][0]["details"]["justiceMeasures"]["breachesRecorded"] = 123456
    with pytest.raises(RecordError) as caught:
        TRANSLATOR.to_events(record, record_id="closed.json")
    assert caught.value.field == "events[0].details.justiceMeasures"
    assert "123456" not in str(caught.value)
