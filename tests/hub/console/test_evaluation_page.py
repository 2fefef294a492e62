"""The console's evaluation page: the feed, the releases, and only reports that match one."""

from __future__ import annotations

import hashlib
import shutil
import uuid
from dataclasses import replace
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import pytest

from adapters.evaluator.report import evaluate, write_report
from adapters.evaluator.store import Received, Store
from hub.console.base import Role
from hub.console.deps import ConsoleDeps
from hub.evaluation import Area, Feed, LinkageKey, minimise
from hub.ledger import EntryDraft, ReleaseRecord
from schemas.cohorts import AREAS, cohort

from .test_pages import check_accessible, signed_in

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable
    from pathlib import Path

    from hub.console.tokens import TokenStore
    from hub.context import HubContext

    from .conftest import Client

KEY = LinkageKey(b"R" * 32)
AS_OF = datetime(2026, 11, 30, tzinfo=UTC).date()


@pytest.fixture(scope="module")
def written(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One report of a small cohort, written once."""
    models = {a.id: a.model for a in AREAS}
    now = datetime.now(UTC)
    out = tmp_path_factory.mktemp("written") / "report"
    with Store(None) as store:
        placed = cohort(scale=0.2, seed=4, end=AS_OF)
        records = [minimise(p.event, Area(p.area, models[p.area]), KEY) for p in placed]
        store.add([Received(r, str(uuid.uuid4()), now, "t") for r in records])
        write_report(evaluate(store, AS_OF), out)
    return out


def _release(manifest: Path) -> EntryDraft:
    record = ReleaseRecord(
        release_id=uuid.uuid4(), as_of=AS_OF.isoformat(), tables=("reoffending",),
        mechanism="suppression", rule="opensafely", threshold=7, rounding=5,
        output_sha256=hashlib.sha256(manifest.read_bytes()).hexdigest(),
    )  # fmt: skip
    return EntryDraft(
        kind="release", decision_id=uuid.uuid4(), recorded_at=datetime.now(UTC),
        provider="evaluator", outcome="released", release=record,
    )  # fmt: skip


@pytest.fixture
async def published(
    hub_ctx: HubContext,
    store: TokenStore,
    serve: Callable[[ConsoleDeps], Awaitable[Client]],
    written: Path,
    tmp_path: Path,
) -> Client:
    """A console whose reports folder holds a released, a changed and an unknown report."""
    reports = tmp_path / "reports"
    for name in ("released", "changed", "unknown"):
        shutil.copytree(written, reports / name)
    svg = reports / "changed" / "reoffending.svg"
    svg.write_text(svg.read_text().replace("Re-offending", "Re-0ffending"))
    (reports / "unknown" / "manifest.json").write_text('{"files": {}}\n')
    await hub_ctx.ledger.append([_release(reports / "released" / "manifest.json")])
    fed = replace(hub_ctx, evaluation=Feed(Area("northshire", AREAS[0].model), KEY))
    return await serve(ConsoleDeps(fed, store, reports=reports))


async def test_the_page_shows_the_feed_the_release_and_only_the_matching_report(
    published: Client, tokens: dict[Role, str]
) -> None:
    """The released report's charts; the changed and unknown ones named and not shown."""
    await signed_in(published, tokens[Role.IG_OFFICER])
    response = await published.get("/evaluation")
    html = await response.text()
    assert response.status == 200
    check_accessible(html)
    for fact in ("Feeding", "northshire", "police", "evaluate-interventions",
                 "Matches release", "a file differs from what was released",
                 "its manifest matches no recorded release"):  # fmt: skip
        assert fact in html, fact
    assert 'src="/evaluation/reports/released/reoffending.svg"' in html
    assert "/evaluation/reports/changed/" not in html
    assert "/evaluation/reports/unknown/" not in html


async def test_a_chart_is_served_only_from_a_report_that_matches_a_release(
    published: Client, tokens: dict[Role, str]
) -> None:
    """As released, sandboxed; a changed report, an unknown one or a path trick: 404."""
    await signed_in(published, tokens[Role.IG_OFFICER])
    good = await published.get("/evaluation/reports/released/reoffending.svg")
    assert good.status == 200
    assert good.content_type == "image/svg+xml"
    assert "default-src 'none'" in good.headers["Content-Security-Policy"]
    assert "script-src" not in good.headers["Content-Security-Policy"]
    for url in (
        "/evaluation/reports/changed/reoffending.svg",
        "/evaluation/reports/unknown/reoffending.svg",
        "/evaluation/reports/released/manifest.json",
        "/evaluation/reports/released/..%2Fchanged%2Freoffending.svg",
        "/evaluation/reports/..%2Freports%2Freleased/reoffending.svg",
    ):
        assert (await published.get(url)).status == 404, url


async def test_the_api_answers_the_same_and_an_agency_may_not_see_it(
    published: Client, tokens: dict[Role, str]
) -> None:
    """The JSON summary for governance roles; an agency's token is refused."""
    headers = {"Authorization": f"Bearer {tokens[Role.IG_OFFICER]}"}
    body = await (await published.get("/api/evaluation", headers=headers)).json()
    assert body["feed"]["area"] == "northshire"
    assert [r["mechanism"] for r in body["releases"]] == ["suppression"]
    verdicts = {r["name"]: r["verified"] for r in body["reports"]}
    assert verdicts == {"released": True, "changed": False, "unknown": False}
    agency = {"Authorization": f"Bearer {tokens[Role.AGENCY]}"}
    assert (await published.get("/api/evaluation", headers=agency)).status == 403
