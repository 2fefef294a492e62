"""The evaluation report: released figures as CSV, charts, and a page that opens offline.

:func:`evaluate` computes the measures (:mod:`adapters.evaluator.measures`) and
passes every count through one :class:`~adapters.evaluator.release.ReleaseControl`;
rates, intervals and curves are computed from released figures only, or shown only
where the counts beneath them were released. :func:`write_report` writes each
released table as CSV, each chart as SVG, ``index.html`` (no server, no script, no
network) and ``manifest.json``: the rule, and the SHA-256 of every table and file,
which is what a release's ledger entry names.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from typing import TYPE_CHECKING, Any, Final

from jinja2 import Environment, PackageLoader, select_autoescape

from adapters.evaluator import charts
from adapters.evaluator.measures import (
    FOLLOW_UP,
    MODEL_NAMES,
    MODELS,
    PRIORITIES,
    SCALE,
    TRANSITIONS,
    TYPOLOGIES,
    Case,
    Evaluation,
    cases,
    views,
)
from adapters.evaluator.privacy import noisy_release
from adapters.evaluator.release import ReleaseControl, ReleaseRule, Table, populations
from hub.errors import HubError

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Mapping
    from datetime import date
    from pathlib import Path

    from adapters.evaluator.store import Store

#: Months at which the survival curves are shown (the at-risk counts are released there).
CURVE_MONTHS: Final = tuple(range(25))
DAYS_PER_MONTH: Final = 30.4375


def _name(model: str | None, area: str | None) -> str:
    """A row of the report: the model in words and the area, ``Clinic (midshire)``."""
    return f"{MODEL_NAMES.get(model or '', model or 'unknown')} ({area or 'unknown area'})"


def _rows(pairs: Iterable[tuple[str | None, str | None]]) -> list[str]:
    """The rows of a table: each model and area present, models in their order."""
    order = {model: n for n, model in enumerate(MODELS)}
    present = sorted(set(pairs), key=lambda p: (order.get(p[0] or "", len(order)), p[1] or ""))
    return [_name(model, area) for model, area in present]


def _table(
    name: str, rows: Iterable[str], columns: Iterable[str], members: Iterable[tuple[str, str, str]]
) -> Table:
    rows, columns = tuple(rows), tuple(columns)
    return Table(name, rows, columns, populations(members, rows, columns))


def _outcome(case: Case) -> str:
    return "re-offended" if case.reoffended() else "did not"


def _strata(
    found: list[Case], as_of: date, label: Callable[[Case], str | None]
) -> list[tuple[str, str, str]]:
    followed = [c for c in found if c.followed(as_of) and label(c) is not None]
    return [(c.case, _name(c.model, c.area), f"{label(c)}: {_outcome(c)}") for c in followed]


def _quartiles(values: list[int], rule: ReleaseRule) -> tuple[int, int, int] | None:
    """Median and quartiles in whole days, only for a group larger than the threshold."""
    if len(values) <= rule.threshold:
        return None
    ordered = sorted(values)

    def at(share: float) -> int:
        return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]

    return at(0.25), at(0.5), at(0.75)


def _case_tables(found: list[Case], as_of: date) -> dict[str, Table]:
    """Every count table of cases, in the order they are released."""
    models = _rows((c.model, c.area) for c in found)
    followed = [c for c in found if c.followed(as_of)]
    frequency = ("0", "1", "2 or more")
    outcomes = ("re-offended", "did not")
    return {
        "cohort_by_priority": _table(
            "Cases by model and starting priority", models, PRIORITIES,
            [(c.case, _name(c.model, c.area), c.priority or "") for c in found]),
        "cohort_by_typology": _table(
            "Cases by model and typology", models, TYPOLOGIES,
            [(c.case, _name(c.model, c.area), c.typology or "") for c in found]),
        "reoffending": _table(
            f"Re-offended within {FOLLOW_UP} days of the intervention's start", models, outcomes,
            [(c.case, _name(c.model, c.area), _outcome(c)) for c in followed]),
        "frequency": _table(
            f"Re-offences within {FOLLOW_UP} days of the intervention's start", models, frequency,
            [(c.case, _name(c.model, c.area), frequency[min(c.frequency(), 2)]) for c in followed]),
        "reoffending_by_priority": _table(
            "Re-offended within 12 months, by starting priority", models,
            [f"{p}: {o}" for p in PRIORITIES for o in outcomes],
            _strata(found, as_of, lambda c: c.priority)),
        "reoffending_by_typology": _table(
            "Re-offended within 12 months, by typology", models,
            [f"{t}: {o}" for t in TYPOLOGIES for o in outcomes],
            _strata(found, as_of, lambda c: c.typology)),
        "priority_transitions": _table(
            "Risk priority from first to latest assessment", models, TRANSITIONS,
            [(c.case, _name(c.model, c.area), c.transition() or "") for c in found]),
    }  # fmt: skip


def _view_tables(store: Store) -> dict[str, Table]:
    """The victims' view: counted per record (a view names no case); none without views."""
    seen = views(store)
    if not seen:
        return {}
    models = _rows((v["model"], v["area"]) for v in seen)
    return {
        key: _table(title, models, SCALE, [
            (str(v["record"]), _name(v["model"], v["area"]), str(v[answer])) for v in seen
        ])
        for key, answer, title in (
            ("victims_safer", "feels_safer", "Victims who feel safer"),
            ("victims_satisfied", "satisfied_with_response", "Victims satisfied with the response"),
        )
    }  # fmt: skip


def _groups(found: list[Case]) -> dict[str, list[Case]]:
    """The cases of each model and area, in the rows' order."""
    rows = _rows((c.model, c.area) for c in found)
    return {row: [c for c in found if _name(c.model, c.area) == row] for row in rows}


def _found(store: Store) -> list[Case]:
    """The cases to report on: those whose referral the store holds.

    Raises:
        HubError: ``report.no_cases`` when there are none yet.
    """
    found = [c for c in cases(store) if c.model is not None]
    if not found:
        raise HubError("report.no_cases", "the store holds no case's referral yet")
    return found


def _days(group: list[Case], field: str) -> list[int]:
    """Days from referral to ``field`` (``planned``, ``intervened``) where both are known."""
    return [
        value - c.referred
        for c in group
        if (value := getattr(c, field)) is not None and c.referred is not None
    ]


def evaluate(store: Store, as_of: date, rule: ReleaseRule | None = None) -> Evaluation:
    """Compute every measure on ``store`` as of ``as_of`` and release it under ``rule``.

    Counts pass one :class:`ReleaseControl`; the survival curves and the days to
    plan and intervention are released as their functions say.
    """
    control = ReleaseControl(rule or ReleaseRule())
    found = _found(store)
    result = Evaluation(as_of, control.rule, cases=len(found))
    for key, table in (_case_tables(found, as_of) | _view_tables(store)).items():
        result.tables[key] = control.release(table)
    _curves(result, control, found)
    for row, group in _groups(found).items():
        result.timeliness[row] = {
            "plan": _quartiles(_days(group, "planned"), control.rule),
            "intervention": _quartiles(_days(group, "intervened"), control.rule),
        }
    return result


def evaluate_private(store: Store, as_of: date, epsilon: float) -> tuple[Evaluation, float]:
    """The case count tables with differential privacy for ``epsilon`` (:mod:`privacy`).

    Returns:
        The evaluation (counts only: no curves, medians or victims' view) and the
        privacy loss OpenDP accounts for it.
    """
    found = _found(store)
    noisy = noisy_release(_case_tables(found, as_of), epsilon)
    rule = next(iter(noisy.tables.values())).rule
    result = Evaluation(as_of, rule, tables=noisy.tables, cases=len(found))
    return result, noisy.epsilon


def _curves(result: Evaluation, control: ReleaseControl, found: list[Case]) -> None:
    """Kaplan-Meier curves of time to first re-offence, by model.

    A curve is an estimate, not a count: each point is shown, rounded to a whole
    per cent, only while more than the threshold's cases are still at risk there,
    and the curve stops at the first point with fewer. The at-risk counts are not
    released (they nest month by month, and their differences are small groups).
    """
    from lifelines import KaplanMeierFitter  # noqa: PLC0415 - heavy; only for the curves

    for row, members in _groups(found).items():
        group = [s for c in members if (s := c.survival(result.as_of))]
        if len(group) <= control.rule.threshold:
            continue
        days = [g[0] for g in group]
        fitter = KaplanMeierFitter().fit(days, [g[1] for g in group])
        bands = fitter.confidence_interval_survival_function_
        points = []
        for month in CURVE_MONTHS:
            t = month * DAYS_PER_MONTH
            if sum(1 for d in days if d >= t) <= control.rule.threshold:
                break
            low, high = (1.0, 1.0) if month == 0 else (float(v) for v in bands.asof(t))
            points.append(
                (month, round(float(fitter.predict(t)), 2), round(low, 2), round(high, 2))
            )
        result.curves[row] = points


def _digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def write_report(
    evaluation: Evaluation, out: Path, privacy: Mapping[str, str] | None = None
) -> dict[str, Any]:
    """Write the CSVs, charts, ``index.html`` and ``manifest.json`` to ``out``.

    ``privacy``: for a differentially private release, its ``epsilon``, the budget
    ``spent`` after it and the ``budget`` (decimal text), and its ``release_id``.

    Returns:
        The manifest: the release id, the rule (or the privacy loss), and the
        SHA-256 of every released table and file.
    """
    out.mkdir(parents=True, exist_ok=True)
    files: dict[str, str] = {}

    def put(name: str, data: bytes) -> None:
        (out / name).write_bytes(data)
        files[name] = _digest(data)

    for key, table in evaluation.tables.items():
        put(f"{key}.csv", table.csv().encode())
    for name, svg in charts.draw(evaluation).items():
        put(name, svg.encode())
    if evaluation.curves:
        put("curves.csv", charts.curves_csv(evaluation).encode())
    if evaluation.timeliness:
        put("timeliness.csv", charts.timeliness_csv(evaluation).encode())
    environment = Environment(
        loader=PackageLoader("adapters.evaluator", "templates"),
        autoescape=select_autoescape(["html"]),
    )
    page = environment.get_template("report.html").render(
        e=evaluation, files=sorted(files), follow_up=FOLLOW_UP, privacy=privacy
    )
    put("index.html", page.encode())
    rule = evaluation.rule
    release_id = (privacy or {}).get("release_id") or str(uuid.uuid4())
    manifest: dict[str, Any] = {
        "release_id": release_id,
        "as_of": evaluation.as_of.isoformat(),
        "rule": {
            "name": rule.name,
            "threshold": rule.threshold,
            "rounding": rule.rounding,
            "suppress_zero": rule.suppress_zero,
        },
        "tables": {key: table.digest() for key, table in sorted(evaluation.tables.items())},
        "files": files,
    }
    if privacy is not None:
        manifest["privacy"] = {k: privacy[k] for k in ("epsilon", "spent", "budget")}
    (out / "manifest.json").write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")
    return manifest
