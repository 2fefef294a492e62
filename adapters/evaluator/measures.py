"""The outcome measures, per model and area, from the evaluator's store.

Every measure starts from one row per case (:func:`cases`), which DuckDB builds from
the records in one grouped query: where and under which model the case began (its
referral), its starting priority and typology (the first risk assessment), the days
on its timeline of the referral, the management plan, the first intervention, the
first and latest assessed priority, its re-offences and its closure.

Definitions (docs/evaluation.md, "The measures"):

- **Intervention start**: the first ``InterventionUpdated``, or the management plan
  where no intervention is recorded yet. A case with neither has not started.
- **Re-offence**: a ``BreachReported``, or a ``CriminalJusticeOutcome`` of
  ``charged``, ``cautioned`` or ``convicted``, after the start. (The Justice Data
  Lab counts proven offences only; a breach here counts as well, as the programme
  asks.)
- **Re-offended within 12 months**: among cases followed for a full 365 days since
  the start, those with a re-offence in that time. **Frequency**: re-offences in
  those 365 days.
- **Time to first re-offence**: days from the start, censored at the end of
  observation for a case with none (Kaplan-Meier, lifelines).
- **End of observation**: the report's ``as_of`` day on the case's timeline. A
  timeline's origin is hidden (ADR 0022); the referral's month places it to within
  a month, and the middle of that month is taken, so a censoring time may be off by
  up to about 15 days. A case whose referral the store lacks is observed to its
  last record only.

Nothing here releases a figure: :mod:`adapters.evaluator.report` passes every count
through :mod:`adapters.evaluator.release` first.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import TYPE_CHECKING, Final

from scipy.stats import binomtest

from schemas.evaluation import TIMELINE_START

if TYPE_CHECKING:
    from adapters.evaluator.release import Released, ReleaseRule
    from adapters.evaluator.store import Store

#: Days of follow-up for the 12-month measures.
FOLLOW_UP: Final = 365
#: The longest time the survival curves run to.
HORIZON: Final = 730
#: Justice outcomes that count as a new offence.
OFFENCE_OUTCOMES: Final = ("charged", "cautioned", "convicted")
PRIORITIES: Final = ("standard", "medium", "high")
MODELS: Final = ("anti_stalking_unit", "clinic", "threat_assessment_centre")
TYPOLOGIES: Final = ("rejected", "incompetent_suitor", "intimacy_seeker", "predatory", "resentful")
SCALE: Final = ("strongly_disagree", "disagree", "neither", "agree", "strongly_agree")
TRANSITIONS: Final = ("down", "same", "up")
#: The models in the report's words (docs/evaluation.md describes each).
MODEL_NAMES: Final = {
    "anti_stalking_unit": "Anti-stalking unit",
    "clinic": "Stalking clinic",
    "threat_assessment_centre": "Threat assessment centre",
}

_CASES: Final = f"""
SELECT "case",
  arg_min(area, case_day) FILTER (WHERE event_type = 'ReferralReceived') AS area,
  arg_min(model, case_day) FILTER (WHERE event_type = 'ReferralReceived') AS model,
  min(case_day) FILTER (WHERE event_type = 'ReferralReceived') AS referred,
  arg_min(month, case_day) FILTER (WHERE event_type = 'ReferralReceived') AS referral_month,
  arg_min(priority, case_day) FILTER (WHERE event_type = 'ReferralReceived') AS asked,
  min(case_day) FILTER (WHERE event_type = 'ManagementPlanAgreed') AS planned,
  min(case_day) FILTER (WHERE event_type = 'InterventionUpdated') AS intervened,
  arg_min(priority, case_day) FILTER (WHERE event_type = 'RiskAssessmentCompleted') AS first,
  arg_max(priority, case_day) FILTER (WHERE event_type = 'RiskAssessmentCompleted') AS latest,
  count(*) FILTER (WHERE event_type = 'RiskAssessmentCompleted') AS assessments,
  arg_min(typology, case_day) FILTER (
    WHERE event_type = 'RiskAssessmentCompleted' AND typology IS NOT NULL) AS typology,
  min(case_day) FILTER (WHERE event_type = 'CaseClosed') AS closed,
  max(case_day) AS last_seen,
  list(case_day ORDER BY case_day) FILTER (
    WHERE event_type = 'BreachReported' OR (event_type = 'CriminalJusticeOutcome'
      AND justice_outcome IN {OFFENCE_OUTCOMES!r})) AS offences
FROM records
WHERE "case" IS NOT NULL
GROUP BY "case"
ORDER BY "case"
"""  # noqa: S608 - fixed text; OFFENCE_OUTCOMES is a constant tuple of codes


@dataclass(frozen=True)
class Rate:
    """A rate from released counts, with its 95 % Wilson interval; None where suppressed."""

    label: str
    numerator: int | None
    denominator: int | None

    def interval(self) -> tuple[float, float, float] | None:
        """The rate and its 95 % Wilson interval (scipy), or None when not shown."""
        if self.numerator is None or not self.denominator:
            return None
        k = min(self.numerator, self.denominator)
        low, high = binomtest(k, self.denominator).proportion_ci(method="wilson")
        return k / self.denominator, float(low), float(high)


@dataclass(frozen=True)
class Case:
    """One case, as the measures see it; days are on the case's own timeline."""

    case: str
    area: str | None
    model: str | None
    referred: int | None
    referral_month: str | None
    priority: str | None
    typology: str | None
    planned: int | None
    intervened: int | None
    first: str | None
    latest: str | None
    assessments: int
    closed: int | None
    last_seen: int
    offences: tuple[int, ...] = field(default=())

    @property
    def start(self) -> int | None:
        """The intervention start: the first intervention, else the plan."""
        return self.intervened if self.intervened is not None else self.planned

    def observed_to(self, as_of: date) -> int:
        """The last day observed: ``as_of`` on this case's timeline, at least its last record."""
        if self.referral_month is None or self.referred is None:
            return self.last_seen
        year, month = (int(part) for part in self.referral_month.split("-"))
        middle = date(year, month, 15)
        shift = self.referred - (middle - TIMELINE_START).days
        return max(self.last_seen, (as_of - TIMELINE_START).days + shift)

    def after_start(self) -> tuple[int, ...]:
        """Days from the start to each re-offence after it."""
        start = self.start
        if start is None:
            return ()
        return tuple(day - start for day in self.offences if day > start)

    def followed(self, as_of: date) -> bool:
        """Whether the case was observed for a full :data:`FOLLOW_UP` days since its start."""
        start = self.start
        return start is not None and self.observed_to(as_of) - start >= FOLLOW_UP

    def reoffended(self) -> bool:
        """Whether it re-offended within :data:`FOLLOW_UP` days of its start."""
        return any(days <= FOLLOW_UP for days in self.after_start())

    def frequency(self) -> int:
        """Re-offences within :data:`FOLLOW_UP` days of its start."""
        return sum(1 for days in self.after_start() if days <= FOLLOW_UP)

    def survival(self, as_of: date) -> tuple[int, bool] | None:
        """Days to the first re-offence and True, or days observed and False (censored)."""
        start = self.start
        if start is None:
            return None
        after = self.after_start()
        limit = min(HORIZON, self.observed_to(as_of) - start)
        if after and after[0] <= limit:
            return after[0], True
        return max(0, limit), False

    def transition(self) -> str | None:
        """``up``, ``same`` or ``down`` from the first to the latest assessed priority."""
        if self.assessments < 2 or self.first is None or self.latest is None:  # noqa: PLR2004
            return None
        first, latest = PRIORITIES.index(self.first), PRIORITIES.index(self.latest)
        return "up" if latest > first else "down" if latest < first else "same"


@dataclass
class Evaluation:
    """Everything the report shows, released."""

    as_of: date
    rule: ReleaseRule
    tables: dict[str, Released] = field(default_factory=dict)
    curves: dict[str, list[tuple[int, float, float, float]]] = field(default_factory=dict)
    timeliness: dict[str, dict[str, tuple[int, int, int] | None]] = field(default_factory=dict)
    cases: int = 0

    def rates(self, table: str, yes: str, no: str) -> list[Rate]:
        """Rates per row of ``table`` from its released ``yes`` and ``no`` columns."""
        released = self.tables[table]
        found = []
        for row in released.rows:
            numerator = released.figures[(row, yes)]
            other = released.figures[(row, no)]
            total = None if numerator is None or other is None else numerator + other
            found.append(Rate(row, numerator, total))
        return found


def cases(store: Store) -> list[Case]:
    """One :class:`Case` per case in the store (the referral's area and model)."""
    return [
        Case(
            case=row["case"],
            area=row["area"],
            model=row["model"],
            referred=row["referred"],
            referral_month=row["referral_month"],
            priority=row["first"] or row["asked"],
            typology=row["typology"],
            planned=row["planned"],
            intervened=row["intervened"],
            first=row["first"],
            latest=row["latest"],
            assessments=row["assessments"],
            closed=row["closed"],
            last_seen=row["last_seen"],
            offences=tuple(row["offences"] or ()),
        )
        for row in store.query(_CASES)
    ]


def views(store: Store) -> list[dict[str, str | None]]:
    """Every victim's view: its record id, model, area, stage and two answers."""
    return store.query(
        "SELECT record, model, area, view_stage, feels_safer, satisfied_with_response"
        " FROM records WHERE event_type = 'VictimViewRecorded'"
        " AND NOT coalesce(view_declined, false) ORDER BY record"
    )


def month_start(month: str) -> date:
    """The first day of ``YYYY-MM``."""
    year, number = (int(part) for part in month.split("-"))
    return date(year, number, 1)


def latest_month(store: Store) -> date | None:
    """The end of the latest month any record names (a default ``as_of``)."""
    rows = store.query("SELECT max(month) AS month FROM records")
    month = rows[0]["month"] if rows else None
    if month is None:
        return None
    start = month_start(month)
    following = (start.replace(day=28) + timedelta(days=4)).replace(day=1)
    return following - timedelta(days=1)
