"""The evaluation record: nothing outside the minimised record, pseudonyms that link and hide."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any

import pytest
from evaluation_checks import WITHHELD, group_strings, references, strings
from hypothesis import given, settings
from strategies import case_events

from hub.evaluation import Area, LinkageKey, minimise
from hub.ledger import Pseudonymizer
from schemas.base import FieldGroup, person_fields
from schemas.evaluation import EvaluationRecord, InterventionModel
from schemas.samples import sample_event

if TYPE_CHECKING:
    from schemas.base import CaseEvent

KEY = LinkageKey(b"k" * 32)
AREA = Area("exampleshire", InterventionModel.THREAT_ASSESSMENT_CENTRE)


@settings(max_examples=200, deadline=None)
@given(case_events())
def test_no_event_gives_the_evaluator_more_than_the_minimised_record(event: CaseEvent) -> None:
    """Any valid event of any type: codes, a month and pseudonyms only, nothing withheld."""
    record = minimise(event, AREA, KEY)
    text = json.dumps(record.model_dump(mode="json"))
    shown = set(strings(record.model_dump(mode="json")))
    for reference in references(event):
        assert reference not in text, "a partnership reference reached the evaluator"
    withheld = {s for s in group_strings(event, WITHHELD) if len(s) > 3}
    if event.event_type == "VictimViewRecorded":  # the view's codes, tied to nothing
        assert (record.case, record.person) == (None, None)
        withheld = group_strings(event, (FieldGroup.D, FieldGroup.F, FieldGroup.G))
    assert not withheld & shown, f"a value of groups D, F, G or H: {withheld & shown}"
    free_text = {s for s in group_strings(event, tuple(FieldGroup)) if " " in s}
    assert not free_text & shown, "free text reached the evaluator"
    subject = getattr(event, "subject_ref", None)
    others = [n for n, role in person_fields(type(event)).items() if role.value != "subject"]
    for name in others:
        for ref in set(strings(event.model_dump(mode="json")[name])) - {subject}:
            assert KEY.person(ref) != record.person, "a victim or another person was named"
    assert EvaluationRecord.model_validate_json(text) == record


def test_one_person_in_two_areas_is_one_evaluation_person() -> None:
    """The same references under the areas' one key: the same pseudonyms in every area."""
    event = sample_event("RiskAssessmentCompleted")
    north = minimise(event, Area("northshire", InterventionModel.CLINIC), KEY)
    south = minimise(event, Area("southshire", InterventionModel.ANTI_STALKING_UNIT), KEY)
    assert (north.person, north.case) == (south.person, south.case)
    assert (north.area, north.model) != (south.area, south.model)
    other_key = minimise(event, AREA, LinkageKey(b"x" * 32))
    assert other_key.person != north.person
    assert KEY.person("P-0000000001") != KEY.person("P-0000000002")


def test_evaluation_pseudonyms_match_nothing_the_ledger_or_the_agencies_hold() -> None:
    """Not the reference, not the ledger's pseudonym, even under the same key bytes."""
    event = sample_event("RiskAssessmentCompleted")
    record = minimise(event, AREA, KEY)
    ledger = Pseudonymizer(b"k" * 32)
    subject = event.subject_ref  # type: ignore[attr-defined]
    held = {
        subject,
        event.case_reference,
        ledger.person(subject),
        ledger.case(event.case_reference),
    }
    assert not {record.person, record.case, record.record} & held
    assert record.record != str(event.event_id)
    assert str(event.event_id) not in record.model_dump_json()


def test_a_referral_time_becomes_its_month_in_utc() -> None:
    """23:30 on 31 March at UTC-2 is April; the day and time never leave."""
    event = sample_event("ReferralReceived")
    late = datetime(2026, 3, 31, 23, 30, tzinfo=timezone(timedelta(hours=-2)))
    moved = event.model_copy(update={"occurred_at": late, "recorded_at": late})
    assert minimise(moved, AREA, KEY).month == "2026-04"
    in_utc = moved.model_copy(update={"occurred_at": late.astimezone(UTC)})
    assert minimise(in_utc, AREA, KEY).month == "2026-04"
    closed = sample_event("CaseClosed").model_copy(update={"occurred_at": late})
    assert minimise(closed, AREA, KEY).month is None


def _on(event_type: str, when: datetime, case: str = "MASIP-2026-000123") -> CaseEvent:
    return sample_event(event_type).model_copy(
        update={"occurred_at": when, "recorded_at": when, "case_reference": case}
    )


def test_a_case_timeline_keeps_intervals_and_hides_the_calendar() -> None:
    """Days between two events of a case are exact, in every area; the origin is the key's."""
    start = datetime(2026, 1, 10, 9, tzinfo=UTC)
    referral = minimise(_on("ReferralReceived", start), AREA, KEY)
    other = Area("northshire", InterventionModel.CLINIC)
    plan = minimise(_on("ManagementPlanAgreed", start + timedelta(days=23)), other, KEY)
    assert referral.case_day is not None
    assert plan.case_day is not None
    assert plan.case_day - referral.case_day == 23
    naive = (start.date() - date(1900, 1, 1)).days
    shifts = {
        minimise(_on("ReferralReceived", start, f"MASIP-2026-{n:06d}"), AREA, KEY).case_day
        for n in range(200)
    }
    assert all(s is not None and naive <= s < naive + 366 for s in shifts)
    assert len(shifts) > 100, "the shift depends on the case"
    assert minimise(_on("ReferralReceived", start), AREA, LinkageKey(b"x" * 32)) != referral


@pytest.mark.parametrize(
    ("event_type", "expected"),
    [
        ("RiskAssessmentCompleted", {"priority": "high", "typology": "rejected"}),
        ("OrderEvent", {"order_type": "interim_spo", "order_action": "granted"}),
        ("BreachReported", {"breach_of": "order", "risk_trend": "increased"}),
        ("CriminalJusticeOutcome", {"justice_outcome": "convicted"}),
        ("CaseClosed", {"closure_reason": "risk_managed"}),
        ("VictimSafetyPlanUpdated", {}),
        ("VictimViewRecorded", "view"),
    ],
)
def test_each_type_gives_the_codes_the_measures_need(
    event_type: str, expected: dict[str, Any] | str
) -> None:
    """The sample events' codes, and None for what a type does not carry."""
    event = sample_event(event_type)
    record = minimise(event, AREA, KEY).model_dump(mode="json")
    if expected == "view":
        expected = {
            "view_stage": event.stage,  # type: ignore[attr-defined]
            "feels_safer": event.feels_safer,  # type: ignore[attr-defined]
            "satisfied_with_response": event.satisfied_with_response,  # type: ignore[attr-defined]
            "view_declined": event.declined,  # type: ignore[attr-defined]
        }
        expected = {k: v for k, v in expected.items() if v is not None}
    kept = {"record", "case", "person", "area", "model", "event_type", "schema_version",
            "month", "case_day"}  # fmt: skip
    coded = {k: v for k, v in record.items() if k not in kept and v is not None}
    assert coded == expected


def test_a_short_key_is_refused_and_never_shown() -> None:
    """At least 32 bytes; its repr withholds it."""
    with pytest.raises(ValueError, match="32 bytes"):
        LinkageKey(b"short")
    assert "k" * 32 not in repr(KEY)


def test_a_victims_view_is_tied_to_no_case_and_no_person() -> None:
    """Counted by area, model, month and stage only: no case, no person, whoever is named."""
    event = sample_event("VictimViewRecorded")
    record = minimise(event, AREA, KEY)
    assert (record.case, record.person, record.case_day) == (None, None, None)
    assert record.month is not None
    assert record.view_stage is not None
    assert KEY.case(event.case_reference) not in record.model_dump_json()
