"""Fictional sample events, one valid event of every catalogued type and version.

Everything here is invented and says so: the case ``MASIP-2026-000123``, the
victim "Alex Example" of "1 Example Street, Exampletown, ZZ1 1ZZ" (ZZ is no
postcode area), a phone number from Ofcom's range reserved for drama
(07700 900xxx), map points in the North Sea. They feed the demo, the docs and
the tests.

Samples are deterministic (fixed event ids; times counted back from an anchor
date), and every time lies in the past: the anchor is 1 September 2026 or 30
days ago, whichever is earlier.
"""

import uuid
from collections.abc import Callable
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, Final

from schemas.base import CaseEvent
from schemas.registry import CATALOGUE, latest_version, model_for, parse_event

CASE: Final = "MASIP-2026-000123"
SUBJECT: Final = "P-00000000S1"
VICTIM: Final = "P-00000000V1"
_NAMESPACE: Final = uuid.UUID("6d7c1f0e-5a1b-4c3e-9f00-000000000123")
_ANCHOR: Final = date(2026, 9, 1)
_WEEKDAYS: Final = ("monday", "tuesday", "wednesday", "thursday", "friday")

JsonObject = dict[str, Any]


def _anchor() -> date:
    return min(_ANCHOR, datetime.now(UTC).date() - timedelta(days=30))


def _day(offset: int) -> str:
    """The anchor date moved by ``offset`` days, ISO formatted."""
    return (_anchor() + timedelta(days=offset)).isoformat()


def _header(event_type: str, version: int, author: str, offset: int) -> JsonObject:
    occurred = datetime.combine(_anchor() + timedelta(days=offset), time(10, 0), UTC)
    return {
        "event_id": str(uuid.uuid5(_NAMESPACE, f"{event_type}.v{version}")),
        "event_type": event_type,
        "schema_version": version,
        "case_reference": CASE,
        "occurred_at": occurred.isoformat(),
        "recorded_at": (occurred + timedelta(minutes=25)).isoformat(),
        "author_agency": author,
    }


def _point(north: float, east: float) -> JsonObject:
    """A point offset from 54N 2E, open sea east of Yorkshire: no one lives there."""
    return {"latitude": round(54.0 + north, 4), "longitude": round(2.0 + east, 4)}


def _supervision() -> JsonObject:
    return {
        "supervision_level": "enhanced",
        "rosh_level": "high",
        "mappa_level": "level_2",
        "mappa_category": "category_2",
        "supervision_ends_on": _day(335),
    }


def _action(action: str, owner: str, due: int, status: str = "planned") -> JsonObject:
    return {"action": action, "owner": owner, "due_on": _day(due), "status": status}


def _referral_v1() -> JsonObject:
    return _header("ReferralReceived", 1, "police", -120) | {
        "subject_ref": SUBJECT,
        "victim_refs": [VICTIM],
        "crime_references": ["EX/00123/26"],
        "suspected_offences": ["stalking_fear_of_violence", "malicious_communications"],
        "priority_requested": "high",
        "concerns": (
            "Fictional example. Repeated unwanted messages and visits since the end of a"
            " relationship; the victim says she is very frightened."
        ),
    }


def _referral_v2() -> JsonObject:
    data = _referral_v1() | _header("ReferralReceived", 2, "police", -120)
    return data | {"referral_source": "police", "behaviour_began_on": _day(-200)}


def _screening() -> JsonObject:
    answers = dict.fromkeys(
        (
            "victim_very_frightened",
            "previous_abuse_or_harassment",
            "turns_up_unannounced",
            "follows_or_loiters",
            "threats_of_violence",
            "third_parties_harassed",
        ),
        "yes",
    ) | {
        "property_vandalised_or_destroyed": "no",
        "violent_to_others_during_stalking": "no",
        "engaged_others_to_help": "not_known",
        "substance_or_mental_health_problems": "yes",
        "history_of_violence": "not_known",
    }
    return _header("ScreeningCompleted", 1, "police", -120) | {
        "victim_ref": VICTIM,
        "subject_ref": SUBJECT,
        "crime_reference": "EX/00123/26",
        "screening": {"tool": "s_dash", "answers": answers},
        "priority": "high",
    }


def _risk_assessment() -> JsonObject:
    return _header("RiskAssessmentCompleted", 1, "health", -100) | {
        "subject_ref": SUBJECT,
        "next_review_on": _day(-10),
        "judgements": {
            "violence": "moderate",
            "persistence": "high",
            "recurrence": "high",
            "psychosocial_damage_to_stalker": "moderate",
        },
        "domains": {
            "relationship": "high",
            "motivation": "high",
            "psychopathology_and_profile": "moderate",
            "victim_vulnerabilities": "moderate",
            "legal_and_mental_health_context": "low",
        },
        "typology": "rejected",
        "priority": "high",
        "formulation_summary": (
            "Fictional example. Stalking began when the relationship ended and is driven"
            " by a wish for reconciliation mixed with grievance."
        ),
        "recommendations": ["apply_for_spo", "victim_safety_review", "refer_to_intervention"],
        "clinical": {
            "diagnoses": [{"system": "icd_10", "code": "F43.2", "display": "Adjustment disorder"}],
            "medications": ["Examplamine 50 mg once daily (fictional)"],
            "treatment_advice": "Fictional example. Advise those managing him; do not treat.",
            "under_police_investigation": True,
        },
    }


def _consultation() -> JsonObject:
    return _header("CaseConsultationHeld", 1, "police", -95) | {
        "subject_ref": SUBJECT,
        "attendees": ["police", "probation", "health", "advocacy"],
        "next_consultation_on": _day(-65),
        "priority": "high",
        "typology": "rejected",
        "decisions_summary": "Fictional example. Apply for an interim SPO; review in 30 days.",
        "actions": [
            _action("Apply for an interim Stalking Protection Order", "police", -90, "done"),
            _action("Review the safety plan with the victim", "advocacy", -88, "done"),
        ],
        "supervision": _supervision(),
        "victim_voice": "Fictional example. She wants the contact to stop and to avoid court.",
    }


def _plan_agreed() -> JsonObject:
    return _header("ManagementPlanAgreed", 1, "police", -95) | {
        "subject_ref": SUBJECT,
        "plan_version": 1,
        "review_on": _day(-65),
        "priority": "high",
        "typology": "rejected",
        "objectives": "Fictional example. Stop all contact; engage him in the programme.",
        "supervision": [_action("Weekly supervision appointments", "probation", -60)],
        "supervision_status": _supervision(),
        "monitoring_and_control": [_action("Serve the interim SPO", "police", -85)],
        "interventions_and_treatment": [_action("Offer the programme", "health", -70)],
        "victim_safety_planning": [_action("Agree a safe route plan", "advocacy", -90)],
    }


def _plan_updated() -> JsonObject:
    return _header("ManagementPlanUpdated", 1, "police", -58) | {
        "subject_ref": SUBJECT,
        "plan_version": 2,
        "review_on": _day(-28),
        "reason": "breach",
        "priority": "high",
        "risk_trend": "increased",
        "changes_summary": "Fictional example. Breach of the interim SPO; full order sought.",
        "monitoring_and_control": [_action("Apply for a full SPO", "police", -45)],
        "victim_safety_planning": [_action("Fit a personal alarm", "advocacy", -55, "done")],
    }


def _intervention() -> JsonObject:
    return _header("InterventionUpdated", 1, "health", -40) | {
        "subject_ref": SUBJECT,
        "intervention": {
            "kind": "stalking_intervention_programme",
            "status": "ongoing",
            "engagement": "partially_engaged",
            "sessions_attended": 4,
            "sessions_missed": 1,
            "progress_notes": "Fictional example. Beginning to accept the relationship ended.",
        },
        "risk_trend": "unchanged",
        "summary_for_partners": "Fictional example. Attending most sessions.",
    }


def _zone_circle() -> JsonObject:
    return {
        "zone_ref": "Z1",
        "label": "Around the victim's home (fictional)",
        "geometry": {"shape": "circle", "centre": _point(0, 0), "radius_metres": 500},
    }


def _zone_polygon() -> JsonObject:
    corners = [_point(0.01, 0.01), _point(0.01, 0.02), _point(0.02, 0.02), _point(0.02, 0.01)]
    return {
        "zone_ref": "Z2",
        "label": "Around the victim's workplace (fictional)",
        "geometry": {"shape": "polygon", "vertices": corners},
    }


def _order() -> JsonObject:
    terms = [
        {"kind": "non_contact", "victim_related": True},
        {"kind": "no_online_contact", "victim_related": True},
        {"kind": "exclusion_zone", "zone_refs": ["Z1", "Z2"], "victim_related": True},
        {"kind": "notify_name_and_address"},
    ]
    return _header("OrderEvent", 1, "police", -90) | {
        "subject_ref": SUBJECT,
        "protected_refs": [VICTIM],
        "order": {
            "order_type": "interim_spo",
            "action": "granted",
            "court": "Exampletown Magistrates' Court",
            "effective_on": _day(-90),
            "expires_on": _day(-30),
            "terms": terms,
        },
        "crime_reference": "EX/00123/26",
        "exclusion_zones": [_zone_circle(), _zone_polygon()],
    }


def _conditions() -> JsonObject:
    terms = [
        {"kind": "non_contact", "victim_related": True},
        {"kind": "exclusion_zone", "zone_refs": ["Z1"], "victim_related": True},
        {"kind": "curfew", "curfew_from": "19:00", "curfew_until": "07:00"},
        {"kind": "attend_intervention"},
    ]
    return _header("ConditionsSet", 1, "probation", -10) | {
        "subject_ref": SUBJECT,
        "protected_refs": [VICTIM],
        "licence": {"licence_starts_on": _day(-10), "licence_ends_on": _day(355), "terms": terms},
        "supervision": _supervision(),
        "exclusion_zones": [_zone_circle()],
    }


def _breach() -> JsonObject:
    return _header("BreachReported", 1, "police", -60) | {
        "subject_ref": SUBJECT,
        "breach": {
            "breach_of": "order",
            "order_type": "interim_spo",
            "condition": "exclusion_zone",
            "zone_ref": "Z1",
            "crime_reference": "EX/00456/26",
            "police_action": "arrested",
        },
        "probation_action": "review_of_conditions",
        "risk_trend": "increased",
        "breach_location": {"kind": "exclusion_zone", "zone_ref": "Z1", "point": _point(0.001, 0)},
        "victim_informed": True,
    }


def _victim_location() -> JsonObject:
    workplace = {"lines": ["Example Works", "2 Sample Road"], "town": "Exampletown"}
    leisure = {"lines": ["Exampletown Leisure Centre"], "town": "Exampletown"}
    return {
        "home": {"lines": ["1 Example Street"], "town": "Exampletown", "postcode": "ZZ1 1ZZ"},
        "confidential_home": True,
        "workplace": workplace | {"postcode": "ZZ1 2ZZ"},
        "routines": [
            {
                "kind": "work",
                "days": list(_WEEKDAYS),
                "window_from": "08:00",
                "window_until": "17:30",
                "place": workplace,
            },
            {"kind": "leisure", "days": ["saturday"], "window_from": "10:00", "place": leisure},
        ],
    }


def _safety_plan() -> JsonObject:
    return _header("VictimSafetyPlanUpdated", 1, "advocacy", -110) | {
        "victim_ref": VICTIM,
        "subject_ref": SUBJECT,
        "advocate_risk_level": "high",
        "victim": {
            "given_name": "Alex",
            "family_name": "Example",
            "safe_contact": {
                "method": "text_message",
                "detail": "07700 900123",
                "safe_times": "Weekdays after 18:00",
            },
        },
        "location": _victim_location(),
        "needs": {
            "needs": ["personal_safety", "home_security", "criminal_justice_support"],
            "summary": "Fictional example. Wants to feel safe on the way to work.",
        },
        "safety_plan": {
            "measures": [
                {"kind": "personal_alarm", "status": "in_place"},
                {"kind": "safe_route_plan", "status": "planned"},
                {"kind": "evidence_diary", "status": "in_place"},
            ],
            "review_on": _day(-80),
        },
    }


def _victim_view() -> JsonObject:
    return _header("VictimViewRecorded", 1, "advocacy", -80) | {
        "victim_ref": VICTIM,
        "subject_ref": SUBJECT,
        "stage": "review",
        "feels_safer": "agree",
        "satisfied_with_response": "strongly_agree",
    }


def _justice_outcome() -> JsonObject:
    return _header("CriminalJusticeOutcome", 1, "police", -20) | {
        "subject_ref": SUBJECT,
        "outcome": {
            "outcome": "convicted",
            "offences": ["stalking_fear_of_violence"],
            "crime_references": ["EX/00123/26", "EX/00456/26"],
            "court": "Exampletown Crown Court",
            "sentence": {"kind": "suspended_sentence", "custodial_months": 12},
            "restraining_order_made": True,
        },
    }


def _closed() -> JsonObject:
    return _header("CaseClosed", 1, "police", 0) | {
        "subject_ref": SUBJECT,
        "reason": "risk_managed",
        "closure_summary": "Fictional example. No contact for three months; orders in force.",
        "risk_at_closure": {
            "priority": "standard",
            "stalking_status": "ceased",
            "violence": "low",
            "persistence": "moderate",
            "recurrence": "moderate",
        },
        "justice_measures": {
            "breaches_recorded": 1,
            "further_offences_recorded": 0,
            "orders_in_force": True,
        },
        "victim_outcomes": {
            "feeling_of_safety": "improved",
            "wellbeing": "improved",
            "needs_met": "most",
        },
    }


_BUILDERS: Final[dict[tuple[str, int], Callable[[], JsonObject]]] = {
    ("ReferralReceived", 1): _referral_v1,
    ("ReferralReceived", 2): _referral_v2,
    ("ScreeningCompleted", 1): _screening,
    ("RiskAssessmentCompleted", 1): _risk_assessment,
    ("CaseConsultationHeld", 1): _consultation,
    ("ManagementPlanAgreed", 1): _plan_agreed,
    ("ManagementPlanUpdated", 1): _plan_updated,
    ("InterventionUpdated", 1): _intervention,
    ("OrderEvent", 1): _order,
    ("ConditionsSet", 1): _conditions,
    ("BreachReported", 1): _breach,
    ("VictimSafetyPlanUpdated", 1): _safety_plan,
    ("VictimViewRecorded", 1): _victim_view,
    ("CriminalJusticeOutcome", 1): _justice_outcome,
    ("CaseClosed", 1): _closed,
}


def sample_data(event_type: str, version: int | None = None) -> JsonObject:
    """Return a fictional event as JSON data, not yet validated.

    Args:
        event_type: a catalogued event type.
        version: its schema version; the latest when ``None``.

    Raises:
        SchemaError: the type or version is not catalogued.
        LookupError: it is catalogued but has no sample (a test prevents this).
    """
    key = (event_type, latest_version(event_type) if version is None else version)
    model_for(*key)
    builder = _BUILDERS.get(key)
    if builder is None:
        raise LookupError(f"no sample for {key}")
    return builder()


def sample_event(event_type: str, version: int | None = None) -> CaseEvent:
    """Return a valid, fictional event of one type (the latest version when ``None``).

    Raises:
        SchemaError: the type or version is not catalogued.
    """
    return parse_event(sample_data(event_type, version))


def all_samples() -> list[CaseEvent]:
    """Return one sample of every catalogued type and version, in catalogue order."""
    return [sample_event(event_type, version) for event_type, version in CATALOGUE]
