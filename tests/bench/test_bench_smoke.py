"""The hub-against-raw benchmark harness: a handful of events end to end, its pieces, its errors.

Benchmarks are not tests: nothing here looks at a number's size, only at the
results file's shape, the fictional policy, the docs rendering and the errors.
"""

from __future__ import annotations

import asyncio
import gc
import importlib.util
import json
import os
import resource
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import TYPE_CHECKING, Any

import pytest
from services import amqp_url
from yarl import URL

from adapters import client as client_module
from bench.hub_vs_raw import __main__ as cli
from bench.hub_vs_raw import measure, report, variants
from bench.hub_vs_raw.budget import (
    MIN_TICKS,
    BrokerCpu,
    busy_pct,
    checks_cpu_s,
    core_ticks,
    cpu_ticks,
    machine_ticks,
    per_call_us,
    reference_jws,
    reference_us,
)
from bench.hub_vs_raw.errors import BenchError
from bench.hub_vs_raw.fixture import (
    event_json_bytes,
    event_of_size,
    make_keys,
    recipients,
    write_policy,
)
from bench.hub_vs_raw.gcpauses import GcPauses
from bench.hub_vs_raw.measure import STAGES, RunSpec, at_share_of_hub, stage_times
from hub.broker import amqp as amqp_module
from hub.crypto import compact
from hub.crypto.compact import sign as compact_sign
from hub.crypto.envelope import issue_event, open_ingress
from hub.crypto.keys import KeyDirectory, generate_party_keys
from hub.ledger import service as ledger_service
from hub.policy.decide import decide
from schemas.samples import sample_event

if TYPE_CHECKING:
    from collections.abc import Mapping

ROOT = Path(__file__).resolve().parents[2]
RULES = ROOT / "deploy" / "rules.toml"
NOW = datetime.now(UTC)
RUN_FIELDS: dict[str, type | tuple[type, ...]] = {
    "scenario": str,
    "recipients": int,
    "payload_bytes": int,
    "envelope_bytes": int,
    "events": int,
    "events_per_s": (int, float),
    "deliveries_per_s": (int, float),
    "p50_ms": (int, float),
    "p95_ms": (int, float),
    "p99_ms": (int, float),
    "cpu_s_per_event": (int, float),
    "peak_rss_mib": (int, float),
    "load_cpu_s_per_event": (int, float),
    "gc_pause_ms": (int, float),
    "load_gc_pause_ms": (int, float),
    "machine_busy_pct": (int, float, type(None)),
    "reference_us": (int, float),
}


def _bench(
    env: Mapping[str, str], *args: str, timeout: float = 100
) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("HUB_BENCH_")}
    return subprocess.run(  # noqa: S603 - our own module, fixed arguments
        [sys.executable, "-m", "bench.hub_vs_raw", *args],
        cwd=ROOT,
        env={**clean, **env},
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def _check_run(run: dict[str, Any]) -> None:
    for name, kind in RUN_FIELDS.items():
        assert isinstance(run[name], kind), f"{run['scenario']}.{name} is {run[name]!r}"
    assert run["p50_ms"] <= run["p95_ms"] <= run["p99_ms"]
    assert run["events_per_s"] > 0
    assert run["cpu_s_per_event"] > 0
    assert run["peak_rss_mib"] > 0
    assert run["envelope_bytes"] > run["event_json_bytes"]
    assert run["reference_us"] > 0
    if run["machine_busy_pct"] is not None:  # a phase too short to count ticks has none
        assert 0 <= run["machine_busy_pct"] <= 100


@pytest.mark.rabbitmq
@pytest.mark.timeout(150)
def test_a_handful_of_events_gives_a_results_file_of_the_documented_shape(tmp_path: Path) -> None:
    """Raw, hub (and FastStream when installed) at K = 3, then fixed rate: every run recorded."""
    url = amqp_url()
    out = tmp_path / "results.json"
    faststream = importlib.util.find_spec("faststream") is not None
    args = ["--plan", "quick", "--events", "6", "--warmup", "2", "--recipients", "3"]
    args += ["--sizes", "1024", "--rate", "20", "--duration", "1", "--out", str(out)]
    env = {"HUB_BENCH_AMQP_URL": url}
    node = os.environ.get("HUB_TEST_RABBITMQ_DIR")  # make test's node: its CPU can be read
    if node:
        env["HUB_BENCH_BROKER_PID_FILE"] = str(Path(node) / "rabbitmq.pid")
    done = _bench(env, *args, *([] if faststream else ["--no-faststream"]))
    assert done.returncode == 0, done.stderr[-2000:]
    document = json.loads(out.read_text())
    scenarios = [r["scenario"] for r in document["runs"]]
    expected = [
        "raw", "hub", "hub-no-receipts", "hub-joserfc", "hub-reread", "hub-no-wait",
        "hub-frame-writes", *(["faststream"] if faststream else []), "raw-fixed-rate",
    ]  # fmt: skip
    assert scenarios == [*expected, "hub-fixed-rate"]
    for run in document["runs"]:
        _check_run(run)
        assert run["recipients"] == 3
        assert run["payload_bytes"] == 1024
    assert [r["events"] for r in document["runs"]][:2] == [6, 6]
    stages = document["runs"][-1]["stages"]  # the hub at a fixed rate stamps its stages
    assert list(stages) == [label for label, _, _ in STAGES]
    for stage in stages.values():
        assert 0 <= stage["p50_ms"] <= stage["p95_ms"] <= stage["p99_ms"]
    assert all("stages" not in run for run in document["runs"][:-1])
    for run in document["runs"][-2:]:  # a second at a fixed rate: long enough to count ticks
        assert 0 < run["machine_busy_pct"] <= 100
    assert document["ledger"] == "sqlite"
    assert isinstance(document["ratio_hub_to_raw_k3_1k"], float)
    for key, _, _, _ in report.LEVERS:  # each lever's A/B pair ran, and is reported
        assert isinstance(document[key]["with_to_without"], float)
    # Six events flat out are no baseline for the fixed rate: said, not made up.
    load = document["fixed_rate_load"]
    assert [(r["scenario"], r["offered_to_flat_out"]) for r in load] == [
        ("raw-fixed-rate", None), ("hub-fixed-rate", None),
    ]  # fmt: skip
    assert done.stdout.count(": no flat-out run to compare; p99 ") == 2
    [checks] = document["checks"]  # the envelope work, where the hub ran flat out
    assert (checks["recipients"], checks["payload_bytes"]) == (3, 1024)
    assert checks["cpu_s_per_event"] > 0
    [row] = document["budget"]
    assert row["checks_cpu_s_per_event"] == checks["cpu_s_per_event"]
    if node:
        # What the phase used, not the node's whole life: a few events take far under
        # 0.5 s of RabbitMQ's CPU each, where its boot alone takes seconds.
        assert all(0 <= r["broker_cpu_s_per_event"] < 0.5 for r in document["runs"])
        assert 0 < document["ceiling_hub_to_raw_k3_1k"] < 1
        assert isinstance(document["hub_beyond_s_per_event_k3_1k"], float)
        assert "bench: hub beyond raw + checks at K=3, 1 KiB: " in done.stdout
    assert {"cpu_model", "cores", "ram_gib", "python", "rabbitmq"} <= document["machine"].keys()
    # One progress line per run, and the broker's password nowhere.
    assert done.stdout.count("ev/s") == len(scenarios)
    secret = URL(url).password or "unset"
    assert secret not in done.stdout + done.stderr + out.read_text()


def test_an_unreachable_broker_is_a_stable_code_without_the_password(tmp_path: Path) -> None:
    """No broker answering: exit 2, ``bench.broker_unreachable``, the password not echoed."""
    url = "amqp://bench:not-a-real-password-7f3a@127.0.0.1:9/none"
    done = _bench({"HUB_BENCH_AMQP_URL": url}, "--out", str(tmp_path / "r.json"), timeout=60)
    assert done.returncode == 2
    assert "bench.broker_unreachable" in done.stderr
    assert "not-a-real-password-7f3a" not in done.stdout + done.stderr
    assert not (tmp_path / "r.json").exists()


def test_no_broker_url_is_a_stable_code(tmp_path: Path) -> None:
    """Without HUB_BENCH_AMQP_URL the harness says so with ``bench.broker_url_missing``."""
    done = _bench({}, "--out", str(tmp_path / "r.json"), timeout=60)
    assert done.returncode == 2
    assert "bench.broker_url_missing" in done.stderr


def _document() -> dict[str, Any]:
    run = {
        "scenario": "hub", "recipients": 3, "payload_bytes": 1024, "envelope_bytes": 3782,
        "events_per_s": 50.0, "deliveries_per_s": 150.0, "p50_ms": 1.0, "p95_ms": 2.0,
        "p99_ms": 3.0, "cpu_s_per_event": 0.004, "peak_rss_mib": 70.0,
        "load_cpu_s_per_event": 0.01, "gc_pause_ms": 2.5, "load_gc_pause_ms": 61.0,
        "machine_busy_pct": 87.6, "reference_us": 199.2,
    }  # fmt: skip
    machine = {
        "cpu_model": "Example CPU", "cores": 2, "ram_gib": 4.0, "python": "3.11",
        "rabbitmq": "3.10", "os": "Linux", "load_average_at_start": [0.1, 0.2, 0.3],
    }  # fmt: skip
    return report.results([run], {"machine": machine, "ledger": "sqlite", "settings": {}})


def test_rendering_replaces_only_the_block_between_the_markers(tmp_path: Path) -> None:
    """Re-rendering replaces the table and keeps every other section of the page."""
    docs = tmp_path / "performance.md"
    docs.write_text(f"# Perf\n\nbefore\n\n{report.START}\nold\n{report.END}\n\nafter\n")
    report.update_docs(_document(), docs)
    report.update_docs(_document(), docs)
    text = docs.read_text()
    assert text.startswith("# Perf\n\nbefore\n\n")
    assert text.endswith("\n\nafter\n")
    assert "old" not in text
    assert text.count(report.START) == text.count(report.END) == 1
    assert text.count("| hub | 3 | 1 KiB (3,782 B) | 50 | 150 |") == 1
    assert text.count("| 10.00 | - | 2.5 / 61.0 |") == 1  # load CPU, broker CPU, pauses
    assert "Example CPU, 2 cores" in text
    assert text.count("| 2.5 / 61.0 | 88 | 199 |") == 1  # machine busy %, reference µs
    assert "reference (one Ed25519 JWS sign + verify, CPU) 199 µs before the runs" in text


def test_a_run_without_pause_times_renders_a_dash() -> None:
    """Results from before pauses were timed still render, with a dash in that column."""
    document = _document()
    for run in document["runs"]:
        del run["gc_pause_ms"], run["load_gc_pause_ms"]
    assert "| 10.00 | - | - |" in report.render(document)


def test_a_run_from_before_the_host_readings_renders_dashes() -> None:
    """Results without machine busy % and reference timing render, saying neither."""
    document = _document()
    for run in document["runs"]:
        del run["machine_busy_pct"], run["reference_us"]
    text = report.render(document)
    assert "| 2.5 / 61.0 | - | - |" in text
    assert "reference (" not in text


def _budget_runs(broker: float | None) -> list[dict[str, Any]]:
    def run(scenario: str, rate: float, relay: float, load: float) -> dict[str, Any]:
        return {
            "scenario": scenario, "recipients": 3, "payload_bytes": 1024, "envelope_bytes": 3782,
            "events_per_s": rate, "deliveries_per_s": 3 * rate, "p50_ms": 1.0, "p95_ms": 2.0,
            "p99_ms": 3.0, "cpu_s_per_event": relay, "peak_rss_mib": 70.0,
            "load_cpu_s_per_event": load, "broker_cpu_s_per_event": broker,
        }  # fmt: skip

    return [run("raw", 800.0, 0.0005, 0.0005), run("hub", 200.0, 0.003, 0.004)]


@pytest.mark.parametrize(
    ("key", "off_scenario", "label"), [(k, off, t) for k, _, off, t in report.LEVERS]
)
def test_each_lever_is_the_hub_with_it_against_without(
    key: str, off_scenario: str, label: str
) -> None:
    """The same hub run without the lever: the rate ratio and each CPU's delta, rendered."""
    runs = _budget_runs(0.001)
    off = {**runs[1], "scenario": off_scenario, "events_per_s": 250.0}
    off |= {
        "cpu_s_per_event": 0.0025,
        "load_cpu_s_per_event": 0.0035,
        "broker_cpu_s_per_event": 0.0008,
    }
    document = report.results([*runs, off], {"settings": {}})
    assert document[key] == {
        "with_to_without": 0.8,
        "worker_cpu_ms_per_event": 0.5,
        "load_cpu_ms_per_event": 0.5,
        "broker_cpu_ms_per_event": 0.2,
        "machine_cpu_ms_per_event": 1.2,
        "rounds": [0.8],
        "machine_cpu_rounds": [1.2],
    }
    document["machine"] = _document()["machine"]
    document["generated_at"] = "2026-01-01T00:00:00+00:00"
    text = report.render(document)
    assert f"{label} at K = 3, 1 KiB: **0.8** of the events per second" in text
    assert "**+1.20 ms** of CPU per event in all (the worker +0.50" in text
    assert text.count("of the events per second") == 1  # the other lever did not run
    assert report.results(runs, {"settings": {}})[key] is None


def test_a_lever_is_the_median_of_its_rounds_each_paired_within_its_round() -> None:
    """Three rounds: each pairs its own two runs, and the median of the three is reported."""
    runs = _budget_runs(0.001)  # round 0: hub at 200 events/s
    off = {**runs[1], "scenario": "hub-reread", "events_per_s": 250.0}
    later = [
        {**runs[1], "ab_round": 1, "events_per_s": 180.0},
        {**off, "ab_round": 1, "events_per_s": 150.0},
        {**off, "ab_round": 2, "events_per_s": 200.0},
        {**runs[1], "ab_round": 2, "events_per_s": 210.0},
    ]
    document = report.results([*runs, off], {"settings": {}}, later)
    cost = document["recent_entries_k3_1k"]
    assert cost["rounds"] == [0.8, 1.2, 1.05]
    assert cost["with_to_without"] == 1.05
    assert document["ab_runs"] == later
    document["machine"] = _document()["machine"]
    text = report.render(document)
    assert (
        "**1.05** of the events per second (the median of 3 interleaved rounds: 0.8, 1.2," in text
    )
    assert [r["scenario"] for r in document["runs"]] == ["raw", "hub", "hub-reread"]


def test_the_ab_group_alternates_its_order_from_round_to_round() -> None:
    """Round 0 in the group's order, round 1 backwards, each spec marked with its round."""
    base = measure.RunSpec("hub", "hub", 3, 1024, 10, 1)
    runs = cli._ab_group(cli.AB_GROUP, base, 3)
    names = [n for n, _ in cli.AB_GROUP]
    size = len(names)
    assert [r.scenario for r in runs] == [*names, *reversed(names), *names]
    assert [r.ab_round for r in runs] == [0] * size + [1] * size + [2] * size
    assert {r.variant for r in runs} == {
        "as-built",
        "joserfc",
        "reread",
        "no-wait",
        "frame-writes",
    }
    assert [r.receipts for r in runs if r.scenario == "hub-no-receipts"] == [False] * 3
    assert {(r.recipients, r.payload_bytes, r.events, r.warmup) for r in runs} == {(3, 1024, 10, 1)}


def test_levers_picks_the_hub_and_the_named_variants_only() -> None:
    """``--levers`` keeps the hub and the variants it names; an unknown name is refused."""
    args = cli.parse(
        ["--relays", "hub", "--levers", "hub-no-wait", "--rate", "0", "--no-faststream"]
    )
    runs = cli.specs(args)
    k3 = [r for r in runs if r.recipients == 3 and r.payload_bytes == 1024]
    assert {r.scenario for r in k3} == {"hub", "hub-no-wait"}
    with pytest.raises(SystemExit):
        cli.parse(["--levers", "hub-nothing"])


def test_the_budget_adds_each_process_and_bounds_the_ratio_by_the_checks() -> None:
    """Machine CPU per event is relay + load + broker; the ceiling is raw ÷ (raw + checks)."""
    checks = [{"recipients": 3, "payload_bytes": 1024, "cpu_s_per_event": 0.002}]
    document = report.results(_budget_runs(0.001), {"checks": checks, "settings": {}})
    [row] = document["budget"]
    assert row["raw_machine_cpu_s_per_event"] == pytest.approx(0.002)
    assert row["hub_machine_cpu_s_per_event"] == pytest.approx(0.008)
    assert row["cpu_raw_to_hub"] == 0.25
    assert row["hub_to_raw"] == 0.25
    assert row["ceiling_hub_to_raw"] == 0.5  # 2 ms ÷ (2 ms + 2 ms of checks)
    assert document["ceiling_hub_to_raw_k3_1k"] == 0.5
    assert row["hub_beyond_s_per_event"] == pytest.approx(0.004)  # 8 - 2 raw - 2 checks
    assert document["hub_beyond_s_per_event_k3_1k"] == row["hub_beyond_s_per_event"]
    document["machine"] = _document()["machine"]
    document["generated_at"] = "2026-01-01T00:00:00+00:00"
    line = "| 3 | 1 KiB | 2.00 | 8.00 | 0.250 | 0.250 | 2.00 | 0.500 | 4.00 |"
    assert line in report.render(document)


def test_results_written_before_the_beyond_column_still_render_it() -> None:
    """An older ``results.json`` has no ``hub_beyond_s_per_event``: it is derived."""
    checks = [{"recipients": 3, "payload_bytes": 1024, "cpu_s_per_event": 0.002}]
    document = report.results(_budget_runs(0.001), {"checks": checks, "settings": {}})
    del document["budget"][0]["hub_beyond_s_per_event"]
    document["machine"] = _document()["machine"]
    document["generated_at"] = "2026-01-01T00:00:00+00:00"
    assert "| 2.00 | 0.500 | 4.00 |" in report.render(document)


def test_without_the_brokers_cpu_the_budget_says_what_it_cannot_tell() -> None:
    """No broker CPU read (a broker of someone else's): dashes, not a made-up ceiling."""
    checks = [{"recipients": 3, "payload_bytes": 1024, "cpu_s_per_event": 0.002}]
    document = report.results(_budget_runs(None), {"checks": checks, "settings": {}})
    [row] = document["budget"]
    assert row["ceiling_hub_to_raw"] is None
    assert row["cpu_raw_to_hub"] is None
    assert row["hub_to_raw"] == 0.25
    assert row["hub_beyond_s_per_event"] is None
    document["machine"] = _document()["machine"]
    document["generated_at"] = "2026-01-01T00:00:00+00:00"
    assert "| 3 | 1 KiB | - | - | - | 0.250 | 2.00 | - | - |" in report.render(document)


def test_the_broker_meter_reads_a_processs_cpu_from_proc(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Pointed at this process, it counts the CPU a busy loop burns, as getrusage does."""
    pid_file = tmp_path / "node.pid"
    pid_file.write_text(f"{os.getpid()}\n")
    monkeypatch.setenv("HUB_BENCH_BROKER_PID_FILE", str(pid_file))
    meter = BrokerCpu.from_environment()
    assert meter is not None
    before, rusage_before = meter.seconds(), _rusage()
    while _rusage() - rusage_before < 0.3:  # bounded: CPU time always advances while spinning
        pass
    spent = meter.seconds() - before
    assert spent == pytest.approx(_rusage() - rusage_before, abs=0.05)


def _rusage() -> float:
    own = resource.getrusage(resource.RUSAGE_SELF)
    return own.ru_utime + own.ru_stime


def test_the_stat_line_is_read_from_after_the_last_parenthesis() -> None:
    """A command name may hold spaces and parentheses; utime and stime come after it."""
    rest = "S 1 2 3 4 5 6 7 8 9 10 250 125 11 12 20 0 1 0 99"  # state first; utime 250, stime 125
    assert cpu_ticks(f"4242 (beam.smp) {rest}") == 375
    assert cpu_ticks(f"4242 (odd) name (x) {rest}") == 375


def test_the_cores_are_read_from_the_aggregate_cpu_line() -> None:
    """Busy is all but idle and I/O wait, steal included; guest time is not counted twice."""
    line = "cpu  100 5 50 800 20 3 7 15 40 2"  # user nice system idle iowait irq softirq steal
    assert core_ticks(line) == (180, 1000)
    for bad in ("cpu0 100 5 50 800 20 3 7 15", "intr 1 2 3", "cpu 1 2", ""):
        with pytest.raises(ValueError, match="aggregate cpu line"):
            core_ticks(bad)


def test_busy_per_cent_is_the_share_of_ticks_between_two_readings() -> None:
    """A quarter of the ticks busy is 25 %; too few ticks, or a missing reading, is no answer."""
    assert busy_pct((100, 1000), (150, 1200)) == 25.0
    assert busy_pct((100, 1000), (100, 1000)) is None
    assert busy_pct((100, 1000), (110, 1000 + MIN_TICKS - 1)) is None  # too short to tell
    assert busy_pct((100, 1000), (110, 1000 + MIN_TICKS)) == 20.0
    assert busy_pct(None, (150, 1200)) is None
    assert busy_pct((100, 1000), None) is None


def test_the_machine_reading_counts_this_processs_own_work() -> None:
    """Spinning for 0.3 s of CPU shows up in the machine's busy ticks (tick-sampled, so loosely)."""
    before, own_before = machine_ticks(), _rusage()
    assert before is not None
    while _rusage() - own_before < 0.3:  # bounded: CPU time always advances while spinning
        pass
    after = machine_ticks()
    assert after is not None
    tick = os.sysconf("SC_CLK_TCK")
    assert after[0] - before[0] >= 0.5 * 0.3 * tick
    assert busy_pct(before, after) is not None


def test_per_call_time_is_the_median_batch_by_the_clock_given() -> None:
    """Five batches costing 1, 5, 2, 9 and 3 µs a call give 3 µs, read off the clock passed."""
    now = [0.0]
    costs = iter([1e-6, 1e-6, 5e-6, 5e-6, 2e-6, 2e-6, 9e-6, 9e-6, 3e-6, 3e-6])  # two calls each

    def call() -> None:
        now[0] += next(costs)

    assert per_call_us(call, 2, lambda: now[0]) == pytest.approx(3.0)


def test_the_reference_signs_and_verifies_and_takes_time() -> None:
    """The reference is a real sign and verify (its claims come back), timed above zero."""
    claims = reference_jws()()
    assert isinstance(claims, dict)
    assert claims["iss"] == "bench-reference"
    assert reference_us(rounds=3) > 0


def test_the_reference_is_timed_in_process_cpu_time(monkeypatch: pytest.MonkeyPatch) -> None:
    """A process clock that moves 1 ms per reading gives 250 µs a call at 4 calls a batch."""
    ticks = iter(range(1_000_000))
    monkeypatch.setattr(time, "process_time", lambda: next(ticks) / 1000)
    assert reference_us(rounds=4) == pytest.approx(250.0)


def _rate_run(relay: str, mode: str, events: int, rate: float, **more: Any) -> dict[str, Any]:
    scenario = relay if mode == "throughput" else f"{relay}-fixed-rate"
    return {
        **_document()["runs"][0],
        "scenario": scenario, "relay": relay, "mode": mode, "recipients": 3,
        "payload_bytes": 1024, "events": events, "events_per_s": rate,
        "offered_events_per_s": rate if mode == "fixed_rate" else None,
        "p99_ms": 3.0, **more,
    }  # fmt: skip


def test_a_fixed_rate_is_measured_against_its_own_relays_flat_out_rate() -> None:
    """Offered ÷ flat out, matched by relay, K and size; the other relay's rate is not used."""
    runs = [
        _rate_run("raw", "throughput", 1000, 800.0),
        _rate_run("hub", "throughput", 1000, 160.0),
        _rate_run("hub", "throughput", 1000, 90.0) | {"recipients": 6},
        _rate_run("raw", "fixed_rate", 6000, 100.0, machine_busy_pct=40.2),
        _rate_run("hub", "fixed_rate", 6000, 100.0, machine_busy_pct=71.6),
    ]
    document = report.results(runs, {"settings": {}})
    raw, hub = document["fixed_rate_load"]
    assert (raw["scenario"], raw["flat_out_events_per_s"], raw["offered_to_flat_out"]) == (
        "raw-fixed-rate", 800.0, 0.125,
    )  # fmt: skip
    assert (hub["scenario"], hub["flat_out_events_per_s"], hub["offered_to_flat_out"]) == (
        "hub-fixed-rate", 160.0, 0.625,
    )  # fmt: skip
    document["machine"] = _document()["machine"]
    document["generated_at"] = "2026-01-01T00:00:00+00:00"
    text = report.render(document)
    assert (
        "- `hub-fixed-rate` (K = 3, 1 KiB): 100 events/s offered, 0.62 of its 160.0 flat out;"
        " p99 3.0 ms, cores 72 % busy."
    ) in text
    del document["fixed_rate_load"]  # a results file from before the shares: worked out
    assert report.render(document) == text


def test_a_fixed_rate_without_a_long_enough_flat_out_run_says_so() -> None:
    """A flat-out run of a handful of events is no baseline: no share, and the page says so."""
    short = report.MIN_FLAT_OUT_EVENTS - 1
    runs = [_rate_run("hub", "throughput", short, 99.5), _rate_run("hub", "fixed_rate", 600, 20.0)]
    document = report.results(runs, {"settings": {}})
    [row] = document["fixed_rate_load"]
    assert row["flat_out_events_per_s"] is None
    assert row["offered_to_flat_out"] is None
    document["machine"] = _document()["machine"]
    document["generated_at"] = "2026-01-01T00:00:00+00:00"
    text = report.render(document)
    assert "20 events/s offered, no flat-out run to compare; p99 3.0 ms, cores 88 % busy." in text
    assert report.results([runs[0]], {"settings": {}})["fixed_rate_load"] == []


def test_a_run_missing_one_processs_cpu_gives_no_budget() -> None:
    """No part of the machine's cost is taken as zero: a run lacking one has no total."""
    checks = [{"recipients": 3, "payload_bytes": 1024, "cpu_s_per_event": 0.002}]
    runs = _budget_runs(0.001)
    del runs[0]["load_cpu_s_per_event"]
    [row] = report.results(runs, {"checks": checks, "settings": {}})["budget"]
    assert row["raw_machine_cpu_s_per_event"] is None
    assert row["ceiling_hub_to_raw"] is None
    assert row["hub_beyond_s_per_event"] is None


@pytest.mark.parametrize("content", ["", "not-a-pid", "999999999"])
def test_a_broker_pid_file_naming_no_process_is_a_stable_code(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, content: str
) -> None:
    """A pid file that is empty, garbled or stale fails before any run, with its code."""
    pid_file = tmp_path / "node.pid"
    pid_file.write_text(content)
    monkeypatch.setenv("HUB_BENCH_BROKER_PID_FILE", str(pid_file))
    with pytest.raises(BenchError) as raised:
        BrokerCpu.from_environment()
    assert raised.value.code == "bench.broker_pid_invalid"


def test_no_broker_pid_file_means_no_broker_meter(monkeypatch: pytest.MonkeyPatch) -> None:
    """Unset, the harness runs without RabbitMQ's CPU (its column shows a dash)."""
    monkeypatch.delenv("HUB_BENCH_BROKER_PID_FILE", raising=False)
    assert BrokerCpu.from_environment() is None


def test_the_checks_cost_more_with_more_recipients(tmp_path: Path) -> None:
    """Each recipient adds a present, a seal and a recipient's verification to the floor."""
    keys = make_keys(tmp_path)
    event = event_of_size(1024)
    one, six = (checks_cpu_s(keys, event, k, rounds=2) for k in (1, 6))
    assert 0 < one < six


def test_the_checks_are_measured_just_before_each_points_first_run(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Each point's checks come right before its raw run, on the host's speed of that moment."""
    order: list[str] = []

    async def broker(_url: str) -> str:
        return "3.10"

    def checks(_keys: Any, _event: Any, count: int, _rounds: int) -> float:
        order.append(f"checks K={count}")
        return 0.001 * count

    async def measure(spec: Any, _setup: Any) -> dict[str, Any]:
        order.append(f"{spec.scenario} K={spec.recipients}")
        return {
            "scenario": spec.scenario, "recipients": spec.recipients,
            "payload_bytes": spec.payload_bytes, "envelope_bytes": 3782, "events_per_s": 100.0,
            "deliveries_per_s": 100.0 * spec.recipients, "p50_ms": 1.0, "p95_ms": 2.0,
            "p99_ms": 3.0, "cpu_s_per_event": 0.001, "peak_rss_mib": 70.0,
        }  # fmt: skip

    monkeypatch.setattr(cli, "_check_broker", broker)
    setup = SimpleNamespace(keys=None, payloads={1024: SimpleNamespace(event=None)})
    monkeypatch.setattr(cli, "_setup", lambda *_: SimpleNamespace(**vars(setup), postgres_dsn=None))
    monkeypatch.setattr(cli, "checks_cpu_s", checks)
    monkeypatch.setattr(cli, "measure", measure)
    args = cli.parse(["--recipients", "6,1", "--sizes", "1024", "--no-faststream", "--rate", "5"])
    document = asyncio.run(cli.run(args, "amqp://unused"))
    assert order == [
        "checks K=6", "raw K=6", "hub K=6", "checks K=1", "raw K=1", "hub K=1",
        "raw-fixed-rate K=6", "hub-fixed-rate K=6",
    ]  # fmt: skip
    assert [c["recipients"] for c in document["checks"]] == [1, 6]  # sorted for the table
    assert [c["cpu_s_per_event"] for c in document["checks"]] == [0.001, 0.006]


def test_gc_pauses_keep_the_longest_collection_since_last_asked() -> None:
    """A collection is timed; asking resets; closing stops the timing."""
    pauses = GcPauses()
    try:
        gc.collect()
        assert pauses.take() > 0
        assert pauses.take() == 0
    finally:
        pauses.close()
    gc.collect()
    assert pauses.take() == 0


def test_a_page_without_markers_is_refused(tmp_path: Path) -> None:
    """A docs file without the markers is left alone, with ``bench.docs_markers_missing``."""
    docs = tmp_path / "performance.md"
    docs.write_text("# Perf\n")
    with pytest.raises(BenchError) as caught:
        report.update_docs(_document(), docs)
    assert caught.value.code == "bench.docs_markers_missing"
    assert docs.read_text() == "# Perf\n"


@pytest.mark.parametrize("count", [1, 3, 6])
def test_the_bench_policy_grants_the_event_to_exactly_k_recipients(
    tmp_path: Path, count: int
) -> None:
    """The generated policy loads through the hub's loader and discloses to K recipients."""
    policy = write_policy(tmp_path, count, RULES)
    event = event_of_size(1024)
    decisions = decide(
        event, event.author_agency, policy.agreements, policy.rules, datetime.now(UTC)
    )
    assert sorted(d.recipient for d in decisions.disclosures()) == list(recipients(count))


@pytest.mark.parametrize("size", [1024, 16384])
def test_events_are_padded_to_about_the_payload_size(size: int) -> None:
    """An event's JSON lands within 2 % of the nominal size and stays a valid event."""
    assert abs(event_json_bytes(event_of_size(size)) - size) <= size // 50


def test_stage_times_join_the_senders_clock_and_the_workers_stamps() -> None:
    """Each stage runs between two stamps of one event; an event stamped twice keeps its first."""
    ms = 1_000_000
    completed = {"e1": (0, 50 * ms), "e2": (0, 80 * ms), "unstamped": (0, 9 * ms)}
    stamps: list[list[Any]] = [
        ["taken", "e1", 10 * ms], ["accepted", "e1", 11 * ms],
        ["recorded", "e1", 15 * ms], ["delivered", "e1", 30 * ms],
        ["taken", "e2", 20 * ms], ["accepted", "e2", 22 * ms],
        ["recorded", "e2", 30 * ms], ["delivered", "e2", 60 * ms],
        ["taken", "e2", 70 * ms],  # a redelivery: not the event's own time
        ["taken", None, 1],
    ]  # fmt: skip
    stages = stage_times(completed, stamps)
    labels = [label for label, _, _ in STAGES]
    assert list(stages) == labels
    p50 = [stages[label]["p50_ms"] for label in labels]
    p99 = [stages[label]["p99_ms"] for label in labels]
    assert p50 == [15.0, 1.5, 6.0, 22.5, 20.0]
    assert p99 == [19.9, 1.99, 7.96, 29.85, 20.0]
    assert stage_times({"e1": (0, 1)}, []) == {}


def test_stages_are_rendered_under_the_table() -> None:
    """A run that stamped its stages gets a table of them; the others none."""
    stages = {label: {"p50_ms": 1.0, "p95_ms": 2.0, "p99_ms": 3.0} for label, _, _ in STAGES}
    run = {
        "scenario": "hub-fixed-rate", "recipients": 3, "payload_bytes": 1024,
        "event_json_bytes": 1000, "envelope_bytes": 3000, "events_per_s": 100.0,
        "deliveries_per_s": 300.0, "p50_ms": 1.0, "p95_ms": 2.0, "p99_ms": 3.0,
        "cpu_s_per_event": 0.005, "peak_rss_mib": 80.0, "load_cpu_s_per_event": 0.006,
        "stages": stages,
    }  # fmt: skip
    document = {
        "generated_at": "2026-11-22T00:00:00+00:00",
        "machine": {
            "cpu_model": "test", "cores": 2, "ram_gib": 1.0, "python": "3.11",
            "rabbitmq": "3.10", "os": "Linux", "load_average_at_start": [0.0, 0.0, 0.0],
        },
        "runs": [run, {**run, "scenario": "raw-fixed-rate", "stages": {}}],
    }  # fmt: skip
    text = report.render(document)
    assert "Where the time goes in `hub-fixed-rate`" in text
    assert "Where the time goes in `raw-fixed-rate`" not in text
    for label, _, _ in STAGES:
        assert f"| {label} | 1.0 | 2.0 | 3.0 |" in text


def test_the_fixed_rate_is_half_the_hubs_flat_out_rate_in_the_same_run() -> None:
    """A share-of-hub spec takes its rate from the hub's run at its point, else its relay's."""
    runs = _budget_runs(0.001)  # raw 800/s, hub 200/s at K = 3, 1 KiB
    spec = RunSpec("raw-fixed-rate", "raw", 3, 1024, 0, 5, None, share=0.5, seconds=60.0)
    done = at_share_of_hub(spec, runs)
    assert (done.rate, done.events) == (100.0, 6000)
    only_raw = at_share_of_hub(spec, runs[:1])
    assert only_raw.rate == 400.0
    with pytest.raises(BenchError) as caught:
        at_share_of_hub(spec, [])
    assert caught.value.code == "bench.no_flat_out_run"
    fixed = RunSpec("hub-fixed-rate", "hub", 3, 1024, 40, 5, 20.0)
    assert at_share_of_hub(fixed, runs) is fixed


@pytest.mark.parametrize(
    ("name", "module", "setting"),
    [
        ("reread", ledger_service, "RECENT_ENTRIES"),
        ("no-wait", client_module, "GROUP_WAIT_SECONDS"),
        ("frame-writes", amqp_module, "BATCHED_WRITES"),
    ],
)
def test_a_variant_turns_its_setting_off_and_back_on(
    name: str, module: object, setting: str
) -> None:
    """Inside the block the lever's setting is off (0 or False); after it, as before."""
    before = getattr(module, setting)
    with variants.variant(name):
        during = getattr(module, setting)
    assert (during, getattr(module, setting)) == (0, before)
    assert before > 0


def test_the_joserfc_engine_is_the_envelope_as_before_and_is_put_back() -> None:
    """Inside the block joserfc seals and signs, and what it makes opens outside, and back."""
    keys = {p: generate_party_keys(p, NOW - timedelta(days=1)) for p in ("hub", "police")}
    directory = KeyDirectory.of(*keys.values())
    event = sample_event("ReferralReceived")
    with variants.joserfc_envelope():
        assert compact.sign is not compact_sign
        sealed = issue_event(event, keys["police"], directory)
    assert compact.sign is compact_sign
    assert open_ingress(sealed, keys["hub"], directory).claims.event_id == event.event_id
    with variants.variant("joserfc"):
        assert open_ingress(sealed, keys["hub"], directory).claims.event_id == event.event_id


def test_make_bench_envelope_runs_and_sets_each_operation_against_joserfc() -> None:
    """The script runs as ``make bench-envelope`` calls it, with a ratio per operation."""
    done = subprocess.run(
        [sys.executable, "-m", "bench.envelope_ops", "--rounds", "1"],
        cwd=ROOT, capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    rows = [line.split() for line in done.stdout.splitlines()[2:6]]
    assert [" ".join(row[:-5]) for row in rows] == [
        "issue+seal", "open+verify", "present+seal", "verify at recipient"
    ]  # fmt: skip
    for row in rows:
        ours, theirs, ratio = float(row[-5]), float(row[-2]), float(row[-1])
        assert ratio == pytest.approx(ours / theirs, abs=0.01)
