"""The programme's evaluation as this hub's IG officers see it: the feed, releases, reports.

- **The feed**: whether this hub feeds the evaluation (its area and model), and the
  evaluation clauses in force, per provider, with their lawful basis.
- **Releases**: every ``release`` entry in the ledger (ADR 0024), newest first: what
  the evaluator let out, under which rule, and the hash of its manifest.
- **Published reports**: each report folder in ``evaluation_reports_dir`` (the
  evaluator's ``hub-evaluation report`` output, as published to the programme)
  whose ``manifest.json`` hashes to the output of a recorded release and whose every
  file hashes to what the manifest says. Only such a report is shown, its charts
  served from that folder; one that matches no release, or holds a changed file, is
  listed with what is wrong and nothing of it is served.

Nothing here names a person or a case: releases hold aggregates and codes only.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final

from aiohttp import web

from hub.console.base import GOVERNANCE, Param, Route
from hub.console.deps import deps_of
from hub.ledger import MAX_LIMIT, SearchQuery
from schemas.agreements import ClauseForm

if TYPE_CHECKING:
    from datetime import datetime
    from pathlib import Path

    from aiohttp.typedefs import Handler

    from hub.context import HubContext
    from hub.ledger import LedgerEntry

#: The most release entries read for the page (newest first).
MAX_RELEASES: Final = 500
#: A report folder's name, and a file in it, as the console serves them.
REPORT_NAME: Final = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
CHART: Final = re.compile(r"^[a-z][a-z0-9_]{0,63}\.svg$")
#: The charts a report page shows, in order, with their titles (adapters/evaluator/charts.py).
CHARTS: Final = (
    ("reoffending.svg", "Re-offending within 12 months, by model"),
    ("reoffending_by_priority.svg", "Re-offending within 12 months, within each starting priority"),
    ("survival.svg", "Time to first re-offence or breach (Kaplan-Meier)"),
    ("timeliness.svg", "Days from referral to the plan and the first intervention"),
    ("priority_transitions.svg", "Risk priority, first to latest assessment"),
    ("victims_safer.svg", "Victims' own view: I feel safer"),
    ("victims_satisfied.svg", "Victims' own view: I am satisfied with the response"),
)


def _release_row(entry: LedgerEntry) -> dict[str, Any]:
    release = entry.release
    assert release is not None  # noqa: S101 - only release entries are asked for
    return {
        "position": entry.seq,
        "recorded_at": entry.recorded_at.isoformat(),
        "evaluator": entry.provider,
        **release.model_dump(mode="json"),
    }


async def releases(hub: HubContext) -> list[dict[str, Any]]:
    """Every release the ledger records (up to :data:`MAX_RELEASES`), newest first."""
    found: list[LedgerEntry] = []
    after = -1
    while len(found) < MAX_RELEASES:
        page = await hub.ledger.search(SearchQuery(kind="release", after=after, limit=MAX_LIMIT))
        found += page.entries
        if page.next_after is None:
            break
        after = page.next_after
    return [_release_row(e) for e in reversed(found[:MAX_RELEASES])]


def feed(hub: HubContext, at: datetime) -> dict[str, Any]:
    """Whether this hub feeds the evaluation, and the evaluation clauses in force on ``at``."""
    day = at.date()
    clauses = [
        {
            "agreement": agreement.reference,
            "clause": clause.id,
            "provider": clause.provider,
            "recipient": clause.recipient,
            "event_types": list(clause.event_types),
            "purpose": clause.purpose,
            "lawful_basis": clause.lawful_basis.summary(),
        }
        for agreement in hub.policy.agreements
        if agreement.active_on(day)
        for clause in agreement.clauses
        if clause.active_on(day) and clause.form is ClauseForm.EVALUATION_RECORD
    ]
    area = hub.evaluation.area if hub.evaluation is not None else None
    return {
        "feeds": area is not None,
        "area": area.id if area is not None else None,
        "model": area.model.value if area is not None else None,
        "clauses": clauses,
    }


@dataclass(frozen=True)
class Report:
    """One published report folder and what checking it found."""

    name: str
    manifest_sha256: str | None
    release: dict[str, Any] | None
    problem: str | None
    files: tuple[str, ...] = ()

    @property
    def verified(self) -> bool:
        """Whether it matches a recorded release and every file is as released."""
        return self.problem is None


def _check(folder: Path, known: dict[str, dict[str, Any]]) -> Report:
    """Check one report folder against the recorded releases (pure but for reading it)."""
    try:
        data = (folder / "manifest.json").read_bytes()
        manifest = json.loads(data)
        files: dict[str, str] = manifest["files"]
        assert isinstance(files, dict)  # noqa: S101 - caught below with the rest
    except (OSError, ValueError, KeyError, TypeError, AssertionError):
        return Report(folder.name, None, None, "no readable manifest.json")
    digest = hashlib.sha256(data).hexdigest()
    release = known.get(digest)
    if release is None:
        return Report(folder.name, digest, None, "its manifest matches no recorded release")
    for name, expected in sorted(files.items()):
        try:
            held = hashlib.sha256((folder / name).read_bytes()).hexdigest()
        except OSError:
            held = None
        if not REPORT_NAME.fullmatch(name) or held != expected:
            return Report(folder.name, digest, release, "a file differs from what was released")
    return Report(folder.name, digest, release, None, tuple(sorted(files)))


def published(reports: Path | None, recorded: list[dict[str, Any]]) -> list[Report]:
    """Every report folder in ``reports``, checked, newest release first."""
    if reports is None or not reports.is_dir():
        return []
    known = {r["output_sha256"]: r for r in reversed(recorded)}
    found = [
        _check(folder, known)
        for folder in sorted(reports.iterdir())
        if folder.is_dir() and REPORT_NAME.fullmatch(folder.name)
    ]
    return sorted(found, key=lambda r: (r.release or {}).get("recorded_at", ""), reverse=True)


def report_json(report: Report) -> dict[str, Any]:
    """A checked report as the API answers it."""
    return {
        "name": report.name,
        "verified": report.verified,
        "problem": report.problem,
        "manifest_sha256": report.manifest_sha256,
        "release_id": (report.release or {}).get("release_id"),
        "charts": [name for name, _ in CHARTS if name in report.files],
    }


async def summary(request: web.Request) -> dict[str, Any]:
    """The feed, the releases and the published reports, for the API and the page."""
    deps = deps_of(request)
    recorded = await releases(deps.hub)
    return {
        "feed": feed(deps.hub, deps.clock()),
        "releases": recorded,
        "reports": [report_json(r) for r in published(deps.reports, recorded)],
    }


async def evaluation(request: web.Request) -> web.Response:
    """The evaluation feed, the releases recorded and the published reports, as JSON."""
    return web.json_response(await summary(request))


async def report_chart(request: web.Request) -> web.Response:
    """One chart of a verified published report, as released; 404 for anything else."""
    deps = deps_of(request)
    name, chart = request.match_info["report"], request.match_info["chart"]
    if not REPORT_NAME.fullmatch(name) or not CHART.fullmatch(chart) or deps.reports is None:
        raise web.HTTPNotFound
    recorded = await releases(deps.hub)
    known = {r["output_sha256"]: r for r in recorded}
    report = _check(deps.reports / name, known) if (deps.reports / name).is_dir() else None
    if report is None or not report.verified or chart not in report.files:
        raise web.HTTPNotFound
    body = (deps.reports / name / chart).read_bytes()
    # Checked against the manifest above; the console's Content-Security-Policy
    # (default-src 'none') keeps any script in it from running, even opened directly.
    return web.Response(body=body, content_type="image/svg+xml")


ROUTES: Final[tuple[Route, ...]] = (
    Route(
        "evaluation", "GET", "/api/evaluation",
        "The evaluation feed, the releases recorded and the published reports", GOVERNANCE,
    ),
    Route(
        "evaluation_chart", "GET", "/evaluation/reports/{report}/{chart}",
        "One chart of a published report that matches a recorded release", GOVERNANCE,
        statuses=(200, 404), media_type="image/svg+xml", session=True,
        example="/evaluation/reports/2026-12/reoffending.svg",
        parameters=(
            Param("report", "path", {"type": "string", "pattern": REPORT_NAME.pattern},
                  description="The report's folder name"),
            Param("chart", "path", {"type": "string", "pattern": CHART.pattern},
                  description="A chart's file name, e.g. reoffending.svg"),
        ),
    ),
)  # fmt: skip
HANDLERS: Final[dict[str, Handler]] = {
    "evaluation": evaluation,
    "evaluation_chart": report_chart,
}
