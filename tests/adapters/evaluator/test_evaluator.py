"""The evaluator's side: the inbox keeps signed records once, the measures, the report."""

from __future__ import annotations

import csv
import hashlib
import io
import json
import math
import re
import uuid
from collections import Counter
from datetime import UTC, date, datetime, timedelta
from typing import TYPE_CHECKING

import pytest
from rich.console import Console

from adapters.evaluator.announce import release_of
from adapters.evaluator.cli import main as evaluation_cli
from adapters.evaluator.inbox import Inbox
from adapters.evaluator.measures import cases
from adapters.evaluator.privacy import laplace, noisy_release, scale_for
from adapters.evaluator.release import ReleaseRule, Table, populations
from adapters.evaluator.report import evaluate, write_report
from adapters.evaluator.store import Received, Store
from hub import evaluation_demo
from hub.broker import MemoryBroker, MemoryNode, OutgoingMessage, TopologyNames, default_topology
from hub.crypto import seal_record
from hub.evaluation import Area, LinkageKey, minimise
from hub.ledger import ReleaseRecord
from schemas.cohorts import AREAS, cohort
from schemas.evaluation import InterventionModel
from schemas.registry import parse_event
from schemas.samples import sample_data

if TYPE_CHECKING:
    from pathlib import Path

    from hub.crypto import KeyDirectory, PartyKeyring
    from schemas.base import CaseEvent

KEY = LinkageKey(b"E" * 32)
AREA = Area("northshire", InterventionModel.CLINIC)
START = datetime(2024, 3, 4, 10, tzinfo=UTC)
AS_OF = date(2026, 11, 30)
NAMES = TopologyNames()
PSEUDONYM = re.compile(r"e[pcr]-[0-9a-f]{32}")


def _event(event_type: str, days: int, **changes: object) -> CaseEvent:
    """The catalogue's sample of ``event_type``, ``days`` after the start, parsed as sent."""
    when = (START + timedelta(days=days)).isoformat()
    data = sample_data(event_type) | {
        "event_id": str(uuid.uuid4()),
        "occurred_at": when,
        "recorded_at": when,
        "case_reference": "MASIP-2024-000001",
    }
    return parse_event(json.dumps(data | changes))


def _kept(events: list[CaseEvent]) -> list[Received]:
    now = datetime.now(UTC)
    return [Received(minimise(e, AREA, KEY), str(uuid.uuid4()), now, "t") for e in events]


def test_a_record_that_comes_twice_is_kept_once() -> None:
    """The record id is the store's key: a redelivery adds nothing."""
    received = _kept([_event("ReferralReceived", 0), _event("CaseClosed", 40)])
    with Store(None) as store:
        assert store.add(received) == 2
        assert store.add(received[:1]) == 0
        assert store.count() == 2
        assert {r.record for r in store.records()} == {r.record.record for r in received}


def test_a_case_is_measured_from_its_own_timeline() -> None:
    """Days to plan and intervention, the start, re-offences after it, and the censoring."""
    events = [
        _event("ReferralReceived", 0),
        _event("RiskAssessmentCompleted", 3, priority="medium", typology="rejected"),
        _event("ManagementPlanAgreed", 10),
        _event("InterventionUpdated", 24),
        _event("BreachReported", 20),  # before the start: not a re-offence
        _event("BreachReported", 124),
        _event(
            "CriminalJusticeOutcome",
            300,
            outcome={"outcome": "charged", "offences": ["stalking_fear_of_violence"]},
        ),
        _event("RiskAssessmentCompleted", 129, priority="high", typology="rejected"),
    ]
    with Store(None) as store:
        store.add(_kept(events))
        [case] = cases(store)
    assert (case.planned - case.referred, case.intervened - case.referred) == (10, 24)  # type: ignore[operator]
    assert case.start == case.intervened
    assert case.after_start() == (100, 276)
    assert case.reoffended()
    assert case.frequency() == 2
    assert case.survival(AS_OF) == (100, True)
    assert case.transition() == "up"
    assert (case.priority, case.typology) == ("medium", "rejected")
    assert case.followed(AS_OF)
    assert not case.followed((START + timedelta(days=200)).date())
    # Observed to as-of within half a month of the truth, though the origin is hidden.
    truth = (AS_OF - START.date()).days - 24
    assert abs(case.observed_to(AS_OF) - case.start - truth) <= 16  # type: ignore[operator]


def test_a_case_without_re_offence_is_censored_at_the_end_of_observation() -> None:
    """No re-offence: survival is the days observed, marked censored, at most two years."""
    events = [_event("ReferralReceived", 0), _event("ManagementPlanAgreed", 10)]
    with Store(None) as store:
        store.add(_kept(events))
        [case] = cases(store)
    days, observed = case.survival((START + timedelta(days=100)).date()) or (0, True)
    assert not observed
    assert abs(days - 90) <= 16
    assert case.survival(AS_OF) == (730, False)


async def test_the_inbox_keeps_what_the_hub_signed_and_rejects_the_rest(
    keyrings: dict[str, PartyKeyring], directory: KeyDirectory
) -> None:
    """Records signed by the hub are kept and acked; a forged one goes to quarantine."""
    node = MemoryNode()
    async with MemoryBroker(node, user="hub") as hub, MemoryBroker(node, user="evaluator") as mine:
        await hub.apply(default_topology(("evaluator",)))
        now = datetime.now(UTC)
        records = _kept([_event("ReferralReceived", 0), _event("CaseClosed", 9)])
        signers = [keyrings["hub"], keyrings["hub"], keyrings["police"]]  # the last one forged
        for received, signer in zip([*records, records[0]], signers, strict=True):
            record = received.record.model_dump(mode="json")
            body = seal_record(record, uuid.uuid4(), "evaluator", now, signer, directory)
            kind = {"kind": "evaluation-record"}
            message = OutgoingMessage(
                NAMES.deliveries, "evaluator", body.encode(), str(uuid.uuid4()), headers=kind
            )
            await hub.publish(message)
        with Store(None) as store:
            tally = await Inbox(keyrings["evaluator"], directory, mine, store).run(idle=0.3)
            assert (tally.kept, tally.again) == (2, 0)
            assert tally.rejected == {"signature.invalid": 1}
            assert store.count() == 2


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, object]]:
    """The report of a third of the cohort, written once."""
    placed = cohort(scale=0.3, seed=11, end=AS_OF)
    models = {a.id: a.model for a in AREAS}
    now = datetime.now(UTC)
    received = [
        Received(minimise(p.event, Area(p.area, models[p.area]), KEY), str(uuid.uuid4()), now, "t")
        for p in placed
    ]
    out = tmp_path_factory.mktemp("report")
    with Store(None) as store:
        store.add(received)
        manifest = write_report(evaluate(store, AS_OF, ReleaseRule()), out)
    return out, manifest


def test_the_report_is_static_names_nobody_and_matches_its_manifest(
    report: tuple[Path, dict[str, object]],
) -> None:
    """No pseudonym in any file, no script or network on the page, digests that match."""
    out, manifest = report
    files = manifest["files"]
    assert isinstance(files, dict)
    assert {"index.html", "survival.svg", "reoffending.svg", "reoffending.csv"} <= set(files)
    for name, digest in files.items():
        data = (out / name).read_bytes()
        assert hashlib.sha256(data).hexdigest() == digest, name
        assert not PSEUDONYM.search(data.decode()), f"a pseudonym in {name}"
    page = (out / "index.html").read_text()
    assert "<script" not in page
    assert not re.search(r"(src|href)=\"(https?:)?//", page), "the page must open offline"


def test_every_released_count_is_suppressed_or_rounded_above_the_threshold(
    report: tuple[Path, dict[str, object]],
) -> None:
    """Each count in each CSV table: [suppressed], 0, or a multiple of 5 above 7."""
    out, manifest = report
    tables = manifest["tables"]
    assert isinstance(tables, dict)
    for key in tables:
        with (out / f"{key}.csv").open() as handle:
            rows = list(csv.reader(handle))[1:]
        for row in rows:
            for cell in row[1:]:
                assert cell == "[suppressed]" or int(cell) % 5 == 0, (key, cell)
                assert cell not in {str(n) for n in range(1, 8)}, (key, cell)


def test_the_demo_runs_through_three_hubs_and_its_records_verify(tmp_path: Path) -> None:
    """A small cohort: every event disclosed, every record kept; changing one is caught."""
    out = tmp_path / "report"
    assert evaluation_demo.run(Console(file=io.StringIO()), out, scale=0.03, seed=5) == 0
    assert (out / "index.html").is_file()
    store, keys = str(out / "evaluation.duckdb"), str(out / "keys")
    assert evaluation_cli(["verify", "--store", store, "--keys", keys]) == 0
    import duckdb  # noqa: PLC0415

    with duckdb.connect(store) as db:
        first = "(SELECT min(record) FROM records)"
        other = "CASE WHEN priority = 'high' THEN 'standard' ELSE 'high' END"
        db.execute(f"UPDATE records SET priority = {other} WHERE record = {first}")  # noqa: S608
    assert evaluation_cli(["verify", "--store", store, "--keys", keys]) == 1
    assert evaluation_cli(["report", "--store", store, "--out", str(tmp_path / "again")]) == 0


@pytest.mark.parametrize(
    ("argv", "code"),
    [
        (["report", "--store", "/nonexistent.duckdb", "--out", "x"], "store.missing"),
        (["verify", "--store", "/nonexistent.duckdb", "--keys", "x"], "store.missing"),
        (["receive", "--config", "/nonexistent.toml"], "settings.invalid"),
        (["report", "--store"], "usage.invalid"),
        (["report", "--store", __file__, "--out", "x", "--epsilon", "1"], "usage.invalid"),
    ],
)
def test_bad_invocations_get_a_code_and_no_traceback(
    argv: list[str], code: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """Each failure is one line naming its code."""
    assert evaluation_cli(argv) in {1, 2}
    err = capsys.readouterr().err
    assert err.startswith(f"error {code}:")
    assert "Traceback" not in err


# --- Differential privacy ------------------------------------------------------------


def _table(cells: dict[tuple[str, str], int]) -> Table:
    members = [(f"ec-{row}{column}{n}", row, column) for (row, column), k in cells.items()
               for n in range(k)]  # fmt: skip
    rows = tuple(sorted({r for r, _ in cells}))
    columns = tuple(sorted({c for _, c in cells}))
    return Table("t", rows, columns, populations(members, rows, columns))


def test_a_private_release_spends_what_opendp_accounts_and_adds_noise() -> None:
    """The loss OpenDP maps for one case's reach; counts vary run to run; margins add up."""
    tables = {"a": _table({("x", "p"): 12, ("x", "q"): 3}), "b": _table({("y", "r"): 15})}
    runs = [noisy_release(tables, 0.5) for _ in range(20)]
    assert all(r.sensitivity == 2 and r.epsilon <= 0.5 + 1e-9 for r in runs)
    seen = {r.tables["a"].figures[("x", "p")] for r in runs}
    assert len(seen) > 3, "the counts carry noise"
    for run in runs:
        figures = run.tables["a"].figures
        assert all(isinstance(v, int) and v >= 0 for v in figures.values())
        assert figures[("x", "Total")] == sum(figures[("x", c)] or 0 for c in "pq")
        assert run.tables["a"].rule.epsilon == "0.5"


def test_the_budget_refuses_a_release_it_cannot_pay_for(tmp_path: Path) -> None:
    """Three releases of 1 under a budget of 3; the fourth is refused and writes nothing."""
    placed = cohort(scale=0.05, seed=2, end=AS_OF)
    models = {a.id: a.model for a in AREAS}
    store = tmp_path / "store.duckdb"
    now = datetime.now(UTC)
    with Store(store) as kept:
        kept.add([Received(minimise(p.event, Area(p.area, models[p.area]), KEY),
                           str(uuid.uuid4()), now, "t") for p in placed])  # fmt: skip
    argv = ["report", "--store", str(store), "--epsilon", "1", "--budget", "3", "--out"]
    for n in range(3):
        assert evaluation_cli([*argv, str(tmp_path / f"r{n}")]) == 0
    manifest = json.loads((tmp_path / "r2" / "manifest.json").read_text())
    assert manifest["privacy"] == {"epsilon": "1", "spent": "3", "budget": "3"}
    assert evaluation_cli([*argv, str(tmp_path / "r3")]) == 1
    assert not (tmp_path / "r3").exists()
    release = release_of(tmp_path / "r2")
    assert (release["mechanism"], release["epsilon"], release["spent"]) == ("laplace", "1", "3")
    assert (
        release["release_id"] == manifest["release_id"] == release_of(tmp_path / "r2")["release_id"]
    )
    assert ReleaseRecord.model_validate(release).threshold is None


def test_neighbouring_counts_give_each_output_with_odds_within_e_to_the_epsilon() -> None:
    """The mechanism as released, sampled: a case more or less moves no output's odds past e^ε.

    Counts of 40 and 41 (one case apart), 40,000 draws each at the scale used for
    epsilon 1 over one table; for every output drawn often enough to measure, the
    ratio of its frequencies stays within e^1 (with room for sampling error).
    """
    epsilon, draws = 1.0, 40_000
    mechanism = laplace(scale_for(epsilon, 1))
    one, other = Counter(mechanism([40] * draws)), Counter(mechanism([41] * draws))
    measured = [k for k in set(one) | set(other) if min(one[k], other[k]) >= 400]
    assert len(measured) >= 5
    for k in measured:
        ratio = max(one[k] / other[k], other[k] / one[k])
        assert ratio <= math.exp(epsilon) * 1.25, (k, ratio)
    assert mechanism.map(d_in=1) <= epsilon + 1e-9  # type: ignore[no-untyped-call]


def test_a_report_is_never_as_of_a_day_still_to_come(tmp_path: Path) -> None:
    """By default a report runs to its latest month's end, or to today if that is sooner."""
    yesterday = (datetime.now(UTC) - timedelta(days=1)).isoformat()
    data = sample_data("ReferralReceived") | {
        "event_id": str(uuid.uuid4()), "occurred_at": yesterday, "recorded_at": yesterday,
    }  # fmt: skip
    store = tmp_path / "store.duckdb"
    with Store(store) as kept:
        kept.add(_kept([parse_event(json.dumps(data))]))
    assert evaluation_cli(["report", "--store", str(store), "--out", str(tmp_path / "r")]) == 0
    manifest = json.loads((tmp_path / "r" / "manifest.json").read_text())
    assert manifest["as_of"] <= datetime.now(UTC).date().isoformat()
