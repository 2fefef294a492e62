"""One run: fresh queues, the relay in its own process, warm-up, the measured phase, clean-up."""

from __future__ import annotations

import dataclasses
import json
import resource
import statistics
import uuid
from contextlib import AsyncExitStack
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final

import asyncpg

from bench.hub_vs_raw.agencies import HubAgencies, RawAgencies
from bench.hub_vs_raw.budget import busy_pct, machine_ticks, reference_us
from bench.hub_vs_raw.errors import BenchError
from bench.hub_vs_raw.fixture import all_parties, recipients, write_policy
from bench.hub_vs_raw.gcpauses import GcPauses
from bench.hub_vs_raw.relay import ROOT, RelayProcess
from bench.hub_vs_raw.traffic import Tracker, drive
from bench.hub_vs_raw.variants import variant
from hub import heap
from hub.broker.amqp import AmqpBroker
from hub.broker.testing import delete_topologies
from hub.broker.topology import TopologyNames, default_topology

if TYPE_CHECKING:
    from pathlib import Path

    from bench.hub_vs_raw.agencies import Agencies
    from bench.hub_vs_raw.budget import BrokerCpu
    from bench.hub_vs_raw.fixture import Keys
    from schemas.base import CaseEvent

RULES: Final = ROOT / "deploy" / "rules.toml"
#: The stages of a hub event: (label, from, to), each a ``HubContext.trace`` stage,
#: or None for the sender's hand-over (first) and the last recipient's verdict (last).
STAGES: Final = (
    ("sender to worker (issue, seal, outbox, broker, queue)", None, "taken"),
    ("open, verify, validate", "taken", "accepted"),
    ("dedupe, decide, record in the ledger", "accepted", "recorded"),
    ("present, seal, publish with confirms", "recorded", "delivered"),
    ("to the last recipient, opened and verified", "delivered", None),
)
_TRACED: Final = ("taken", "accepted", "recorded", "delivered")


@dataclass(frozen=True)
class Payload:
    """One payload size: the event template and what it weighs."""

    nominal: int
    event: CaseEvent
    json_bytes: int
    envelope: bytes


@dataclass(frozen=True)
class Setup:
    """What every run shares: broker, keys, payloads, concurrency, ledger."""

    url: str
    keys: Keys
    payloads: dict[int, Payload]
    prefetch: int
    window: int
    postgres_dsn: str | None
    workdir: Path
    broker: BrokerCpu | None = None


@dataclass(frozen=True)
class RunSpec:
    """One run: which relay, K, payload size, how many events, and at what pace."""

    scenario: str
    relay: str
    recipients: int
    payload_bytes: int
    events: int
    warmup: int
    rate: float | None = None
    #: The hub's agencies sign receipts for what they keep (the SDK's default).
    receipts: bool = True
    #: The hub as built, or as before one lever (``bench.hub_vs_raw.variants``).
    variant: str = "as-built"
    #: Which round of the levers' A/B runs this is: 0 is the plan's own run.
    ab_round: int = 0
    #: A fixed-rate run whose rate is this share of the hub's own flat-out rate at
    #: the same K and size in this run, for ``seconds`` (``at_share_of_hub``).
    share: float | None = None
    seconds: float = 0.0


def at_share_of_hub(spec: RunSpec, runs: list[dict[str, Any]]) -> RunSpec:
    """``spec`` with its rate and event count set from the hub's flat-out run at its point.

    Without a hub run there (``--relays raw``), the relay's own flat-out run is used.

    Raises:
        BenchError: ``bench.no_flat_out_run`` when neither ran.
    """
    if spec.share is None:
        return spec
    point = (spec.recipients, spec.payload_bytes)
    flat = [
        r for r in runs
        if r.get("mode") != "fixed_rate" and (r["recipients"], r["payload_bytes"]) == point
    ]  # fmt: skip
    base = next((r for r in flat if r["scenario"] == "hub"), None) or next(
        (r for r in flat if r["scenario"] == spec.relay), None
    )
    if base is None or not base["events_per_s"]:
        raise BenchError("bench.no_flat_out_run", f"no flat-out run at K={point[0]}")
    rate = round(spec.share * base["events_per_s"], 1)
    return dataclasses.replace(spec, rate=rate, events=max(2, round(rate * spec.seconds)))


def _percentile(sorted_ms: list[float], share: float) -> float:
    if len(sorted_ms) == 1:
        return sorted_ms[0]
    return statistics.quantiles(sorted_ms, n=100, method="inclusive")[round(share * 100) - 1]


def _own_cpu() -> float:
    own = resource.getrusage(resource.RUSAGE_SELF)
    return own.ru_utime + own.ru_stime


def summarise(  # noqa: PLR0913, PLR0917 - the measurements, each one
    spec: RunSpec,
    setup: Setup,
    tracker: Tracker,
    cpu_s: float,
    peak_rss_mib: float,
    load_cpu_s: float,
) -> dict[str, Any]:
    """The run's result record (the shape of ``results.json``'s ``runs``).

    ``cpu_s`` and ``peak_rss_mib`` are the relay process's; ``load_cpu_s`` is this
    process's (sender and receivers: for the hub, the adapters' crypto and state),
    so a reader can tell when the load side, not the relay, set the pace.
    """
    seconds = max(tracker.last_ns - tracker.first_ns, 1) / 1e9
    latencies = sorted(tracker.latencies_ms)
    payload = setup.payloads[spec.payload_bytes]
    return {
        "scenario": spec.scenario,
        "ab_round": spec.ab_round,
        "relay": spec.relay,
        "mode": "fixed_rate" if spec.rate else "throughput",
        "recipients": spec.recipients,
        "payload_bytes": spec.payload_bytes,
        "event_json_bytes": payload.json_bytes,
        "envelope_bytes": len(payload.envelope),
        "events": spec.events,
        "offered_events_per_s": spec.rate,
        "seconds": round(seconds, 3),
        "events_per_s": round(spec.events / seconds, 1),
        "deliveries_per_s": round(spec.events * spec.recipients / seconds, 1),
        "p50_ms": round(_percentile(latencies, 0.50), 2),
        "p95_ms": round(_percentile(latencies, 0.95), 2),
        "p99_ms": round(_percentile(latencies, 0.99), 2),
        "cpu_s_per_event": round(cpu_s / spec.events, 6),
        "peak_rss_mib": round(peak_rss_mib, 1),
        "load_cpu_s_per_event": round(load_cpu_s / spec.events, 6),
        "ledger": ("postgresql" if setup.postgres_dsn else "sqlite")
        if spec.relay == "hub"
        else None,
        "window": setup.window,
        "prefetch": setup.prefetch,
    }


def stage_times(
    completed: dict[str, tuple[int, int]], stamps: list[list[Any]]
) -> dict[str, dict[str, float]]:
    """Percentiles of each of :data:`STAGES` over the events of a phase.

    Args:
        completed: event id to (publish, last arrival) times, from the tracker.
        stamps: ``[stage, message id, ns]`` from the worker's trace; a message
            handled twice keeps its first stamps.
    """
    marks: dict[str, dict[str, int]] = {}
    for stage, key, ns in stamps:
        if isinstance(key, str):
            marks.setdefault(key, {}).setdefault(str(stage), int(ns))
    spans: dict[str, list[float]] = {label: [] for label, _, _ in STAGES}
    for key, (sent, last) in completed.items():
        got = marks.get(key, {})
        if not all(stage in got for stage in _TRACED):
            continue
        for label, start, end in STAGES:
            begin = sent if start is None else got[start]
            finish = last if end is None else got[end]
            spans[label].append((finish - begin) / 1e6)
    return {
        label: {
            f"{name}_ms": round(_percentile(sorted(values), share), 2)
            for name, share in (("p50", 0.50), ("p95", 0.95), ("p99", 0.99))
        }
        for label, values in spans.items()
        if values
    }


def _child_config(
    spec: RunSpec, setup: Setup, names: TopologyNames, folder: Path
) -> dict[str, Any]:
    config: dict[str, Any] = {
        "kind": spec.relay,
        "url": setup.url,
        "prefix": names.prefix,
        "ingress_queue": names.ingress_queue,
        "deliveries": names.deliveries,
        "recipients": list(recipients(spec.recipients)),
        "prefetch": setup.prefetch,
        "keys_dir": str(setup.keys.folder),
        "policy_dir": str(folder / "policy"),
        "ledger_url": setup.postgres_dsn or f"sqlite:///{folder / 'ledger.db'}",
        "schema": f"bench_{names.prefix.strip('.')}" if setup.postgres_dsn else None,
        "variant": spec.variant,
    }
    if spec.relay == "hub":
        write_policy(folder / "policy", spec.recipients, RULES)
    return config


async def _agencies(
    spec: RunSpec, setup: Setup, names: TopologyNames, tracker: Tracker, folder: Path
) -> Agencies:
    payload = setup.payloads[spec.payload_bytes]
    count = spec.warmup + spec.events
    targets = recipients(spec.recipients)
    if spec.relay == "hub":
        return await HubAgencies.open(
            setup.url, setup.keys, names, targets, tracker, payload.event, count,
            folder=folder, prefetch=setup.prefetch, receipts=spec.receipts,
        )  # fmt: skip
    return await RawAgencies.open(
        setup.url, names, targets, tracker, payload.envelope, count, prefetch=setup.prefetch
    )


async def _drop_schema(dsn: str, schema: str) -> None:
    connection = await asyncpg.connect(dsn, timeout=10)
    try:
        await connection.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
    finally:
        await connection.close()


async def measure(spec: RunSpec, setup: Setup) -> dict[str, Any]:
    """Run ``spec`` on fresh queues and return its result; delete the queues whatever happens."""
    reference = reference_us()  # the host's speed, before this run's processes start
    names = TopologyNames(prefix=f"bench{uuid.uuid4().hex[:10]}.")
    topology = default_topology(all_parties(), names=names)
    folder = setup.workdir / names.prefix.strip(".")
    folder.mkdir()
    window = max(setup.window, int((spec.rate or 0) * 10))
    tracker = Tracker(spec.recipients, window)
    async with AsyncExitStack() as stack:
        stack.push_async_callback(delete_topologies, setup.url, [topology])
        async with AmqpBroker(setup.url) as admin:
            await admin.apply(topology)
        config = _child_config(spec, setup, names, folder)
        stages_file = folder / "stages.json" if spec.relay == "hub" and spec.rate else None
        if stages_file is not None:
            config["stages_file"] = str(stages_file)
        if config["schema"] and setup.postgres_dsn:
            stack.push_async_callback(_drop_schema, setup.postgres_dsn, config["schema"])
        stack.enter_context(variant(spec.variant))  # the agencies', in this process
        relay = await stack.enter_async_context(RelayProcess(config, folder))
        agencies = await _agencies(spec, setup, names, tracker, folder)
        stack.push_async_callback(agencies.aclose)
        heap.settle()  # as each agency's hub-adapter process does once started
        pauses = GcPauses()
        stack.callback(pauses.close)
        if spec.warmup:
            await drive(tracker, agencies.keys[: spec.warmup], agencies.send, None)
        broker = setup.broker
        before, load_before, _ = await relay.usage(), _own_cpu(), pauses.take()
        broker_before = broker.seconds() if broker else 0.0
        cores_before = machine_ticks()
        measured = agencies.keys[spec.warmup :]
        await drive(tracker, measured, lambda i: agencies.send(spec.warmup + i), spec.rate)
        after, load_after, load_pause = await relay.usage(), _own_cpu(), pauses.take()
        broker_after = broker.seconds() if broker else 0.0
        cores_after = machine_ticks()
    cpu_s = after["cpu_s"] - before["cpu_s"]
    record = summarise(spec, setup, tracker, cpu_s, after["peak_rss_mib"], load_after - load_before)
    record["broker_cpu_s_per_event"] = (
        round((broker_after - broker_before) / spec.events, 6) if broker else None
    )
    record["machine_busy_pct"] = busy_pct(cores_before, cores_after)
    record["reference_us"] = round(reference, 1)
    record["gc_pause_ms"] = after.get("gc_pause_ms")
    record["load_gc_pause_ms"] = load_pause
    if stages_file is not None and stages_file.is_file():
        record["stages"] = stage_times(tracker.completed, json.loads(stages_file.read_text()))
    return record
