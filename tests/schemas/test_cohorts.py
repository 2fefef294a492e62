"""The fictional three-area cohort: valid events, documented shapes, movers that link."""

from __future__ import annotations

from collections import Counter, defaultdict
from datetime import UTC, date, datetime
from typing import TYPE_CHECKING

import pytest

from hub.evaluation import Area, LinkageKey, minimise
from schemas.cohorts import AREAS, TYPOLOGY_MIX, cohort
from schemas.registry import parse_event

if TYPE_CHECKING:
    from schemas.cohorts import Placed
    from schemas.common import Typology

END = date(2026, 11, 30)


@pytest.fixture(scope="module")
def full() -> list[Placed]:
    """The demo's cohort, at full size, ending on a fixed day."""
    return cohort(end=END)


def test_every_event_is_valid_fictional_and_in_the_past() -> None:
    """A small cohort: every event parses again from its own JSON, none after the end."""
    small = cohort(scale=0.05, end=END)
    assert small
    for placed in small:
        assert parse_event(placed.event.model_dump_json()) == placed.event
        assert placed.event.occurred_at <= datetime(2026, 12, 1, tzinfo=UTC)
    assert cohort(scale=0.05, end=END) == small  # the same seed, the same cohort


def test_the_typology_mix_is_the_documented_one(full: list[Placed]) -> None:
    """One pilot area's mix, within sampling error, over the cases' first assessments."""
    first: dict[str, Typology] = {}
    for placed in full:
        event = placed.event
        if event.event_type == "RiskAssessmentCompleted":
            first.setdefault(event.case_reference, event.typology)  # type: ignore[attr-defined]
    counts = Counter(first.values())
    total = sum(counts.values())
    assert total >= 0.99 * sum(area.cases for area in AREAS)  # a few begin at the very end
    for typology, share in TYPOLOGY_MIX.items():
        assert abs(counts[typology] / total - share) < 0.03, typology


def test_each_case_runs_in_order_from_referral_in_its_areas(full: list[Placed]) -> None:
    """A case starts with its referral; its events keep their order; most stay in one area."""
    cases: dict[str, list[Placed]] = defaultdict(list)
    for placed in full:
        cases[placed.event.case_reference].append(placed)
    for events in cases.values():
        assert events[0].event.event_type == "ReferralReceived"
        times = [p.event.occurred_at for p in events]
        assert times == sorted(times)
    moved = [c for c, events in cases.items() if len({p.area for p in events}) > 1]
    assert 0 < len(moved) < 0.1 * len(cases)


def test_a_person_who_moves_is_one_evaluation_person_in_both_areas(full: list[Placed]) -> None:
    """Minimised in each area's hub under the areas' key: one pseudonym, two areas."""
    key = LinkageKey(b"k" * 32)
    models = {area.id: area.model for area in AREAS}
    people: dict[str, set[str]] = defaultdict(set)
    for placed in full:
        record = minimise(placed.event, Area(placed.area, models[placed.area]), key)
        if record.person is not None:
            people[record.person].add(placed.area)
    assert any(len(areas) == 2 for areas in people.values())
    assert len(people) == sum(area.cases for area in AREAS)


def test_the_models_differ_as_invented_so_measures_have_something_to_find(
    full: list[Placed],
) -> None:
    """Re-offending or breach after the plan is commonest in the unit, rarest in the centre."""
    area_of: dict[str, str] = {}
    again: set[str] = set()
    for placed in full:
        case = placed.event.case_reference
        area_of.setdefault(case, placed.area)
        if placed.event.event_type in {"BreachReported", "CriminalJusticeOutcome"}:
            again.add(case)
    rates = {
        area.id: sum(c in again for c, a in area_of.items() if a == area.id) / area.cases
        for area in AREAS
    }
    assert rates["northshire"] > rates["midshire"] > rates["southshire"]
