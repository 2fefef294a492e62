"""A hub worker's resident memory over a long run: is it steady, and under 200 MiB?

Usage: ``.venv/bin/python -m bench.memory_soak [--events 100000] [--every 5000]``.

One process holds the worker (``hub.worker.serve``, prefetch 64, a SQLite ledger,
the start-up heap frozen with ``hub.heap.settle`` as ``hub run`` does)
on the in-memory broker, a feeder that issues police referrals (three recipients
each) and keeps at most ``--backlog`` of them waiting on ingress, and three
consumers that ack every delivery. Feeder and consumers hold a bounded amount, so
growth is the worker's. With ``HUB_BENCH_AMQP_URL`` set the broker is that
RabbitMQ instead (the queues then live in the broker, not in this process).

Every ``--every`` events the resident set size (``VmRSS``) is sampled. The report
gives the start, the RSS after warm-up (the first 10 % of events: caches, the
ledger's page cache and the allocator's arenas fill), the end, the peak, and the
slope after warm-up in MiB per 10,000 events (least squares). ``--trace`` also
takes tracemalloc snapshots after warm-up and at the end and prints the lines
whose allocations grew most, to find a leak. The curve is written to
``bench/out/memory.json``. Nothing is asserted.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import time
import tracemalloc
import uuid
from contextlib import AsyncExitStack
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from tempfile import TemporaryDirectory
from typing import TYPE_CHECKING, Any, Final

from hub import heap
from hub.broker.amqp import AmqpBroker
from hub.broker.base import OutgoingMessage
from hub.broker.memory import MemoryBroker, MemoryNode
from hub.broker.testing import delete_topologies, next_delivery
from hub.broker.topology import TopologyNames, default_topology
from hub.context import build_context
from hub.crypto.envelope import issue_event
from hub.crypto.keys import KeyDirectory, generate_party_keys
from hub.embedded import embedded_settings
from hub.ledger.service import open_ledger
from hub.logs import configure
from hub.worker import WorkerLimits, serve
from schemas.base import new_event_id
from schemas.samples import sample_event

if TYPE_CHECKING:
    from hub.broker.base import Broker

DEPLOY = Path(__file__).resolve().parents[1] / "deploy"
OUT = Path(__file__).resolve().parent / "out" / "memory.json"
AGENCIES = ("police", "probation", "health", "advocacy")
RECIPIENTS = ("probation", "health", "advocacy")
LIMIT_MIB: Final = 200.0
MIB: Final = 1024 * 1024


def rss_mib() -> float:
    """This process's resident set size in MiB (Linux ``/proc/self/status``)."""
    for line in Path("/proc/self/status").read_text(encoding="ascii").splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS in /proc/self/status")


@dataclass
class Curve:
    """RSS samples: (events done, MiB, seconds since start)."""

    every: int
    warmup: int
    points: list[tuple[int, float, float]] = field(default_factory=list)
    snapshots: list[tracemalloc.Snapshot] = field(default_factory=list)
    started: float = field(default_factory=time.monotonic)

    def sample(self, done: int, *, trace: bool) -> None:
        """Record the RSS after ``done`` events (and a snapshot at warm-up, if tracing)."""
        self.points.append((done, rss_mib(), time.monotonic() - self.started))
        if trace and done == self.warmup:
            self.snapshots.append(tracemalloc.take_snapshot())

    def summary(self) -> dict[str, Any]:
        """Start, warm-up, end, peak and the slope after warm-up (MiB per 10k events)."""
        after = [(n, m) for n, m, _ in self.points if n >= self.warmup]
        warm = after[0][1] if after else self.points[0][1]
        return {
            "start_mib": round(self.points[0][1], 1),
            "warmup_events": self.warmup,
            "after_warmup_mib": round(warm, 1),
            "end_mib": round(self.points[-1][1], 1),
            "peak_mib": round(max(m for _, m, _ in self.points), 1),
            "slope_mib_per_10k": round(_slope(after) * 10_000, 3),
            "growth_after_warmup_mib": round(self.points[-1][1] - warm, 1),
            "under_limit": max(m for _, m, _ in self.points) < LIMIT_MIB,
        }


def _slope(points: list[tuple[int, float]]) -> float:
    """Least-squares slope of MiB over events (0 for fewer than two points)."""
    if len(points) < 2:  # noqa: PLR2004 - a line needs two points
        return 0.0
    mean_x = sum(x for x, _ in points) / len(points)
    mean_y = sum(y for _, y in points) / len(points)
    num = sum((x - mean_x) * (y - mean_y) for x, y in points)
    den = sum((x - mean_x) ** 2 for x, _ in points)
    return num / den if den else 0.0


class Progress:
    """Events delivered to the first recipient, with a condition to wait on."""

    def __init__(self) -> None:
        """Start at zero."""
        self.count = 0
        self.changed = asyncio.Condition()

    async def step(self) -> None:
        """Count one more delivered event and wake the waiters."""
        async with self.changed:
            self.count += 1
            self.changed.notify_all()

    async def reach(self, goal: int) -> None:
        """Wait until ``goal`` events have been delivered."""
        async with self.changed:
            await self.changed.wait_for(lambda: self.count >= goal)


@dataclass(frozen=True)
class Soak:
    """What one run needs: the parties' keys, the names and the run's bounds."""

    events: int
    every: int
    backlog: int
    trace: bool
    rings: dict[str, Any]
    directory: KeyDirectory
    names: TopologyNames


async def _feed(soak: Soak, client: Broker, delivered: Progress) -> None:
    """Issue and publish every event, keeping at most ``backlog`` ahead of deliveries."""
    template = sample_event("ReferralReceived")
    for sent in range(soak.events):
        await delivered.reach(sent - soak.backlog + 1)
        event = template.model_copy(update={"event_id": new_event_id()})
        body = issue_event(event, soak.rings["police"], soak.directory).encode()
        message = OutgoingMessage(soak.names.ingress, "police", body, str(uuid.uuid4()))
        await client.publish(message)


async def _drain(soak: Soak, client: Broker, recipient: str, progress: Progress | None) -> None:
    async with client.consume(soak.names.inbox(recipient), 200) as consumer:
        for _ in range(soak.events):
            message = await next_delivery(consumer, 120)
            await message.ack()
            if progress is not None:
                await progress.step()


async def _watch(soak: Soak, curve: Curve, delivered: Progress) -> None:
    """Sample the RSS each time another ``every`` events have reached a recipient."""
    goal = soak.every
    while goal <= soak.events:
        await delivered.reach(goal)
        curve.sample(goal, trace=soak.trace)
        print(f"{goal:>8} events  {curve.points[-1][1]:7.1f} MiB", flush=True)
        goal += soak.every


async def _brokers(stack: AsyncExitStack, names: TopologyNames) -> tuple[Broker, Broker, str]:
    url = os.environ.get("HUB_BENCH_AMQP_URL")
    topology = default_topology(AGENCIES, names=names)
    if url:
        hub_broker: Broker = AmqpBroker(url)
        client: Broker = AmqpBroker(url)
        stack.push_async_callback(delete_topologies, url, [topology])
        kind = "rabbitmq"
    else:
        node = MemoryNode()
        hub_broker, client, kind = MemoryBroker(node, user="hub"), MemoryBroker(node), "memory"
    for broker in (hub_broker, client):
        await broker.connect()
        stack.push_async_callback(broker.close)
    await hub_broker.apply(topology)
    return hub_broker, client, kind


async def soak_run(soak: Soak, workdir: Path) -> tuple[Curve, str]:
    """Run the worker through ``soak.events`` events, sampling its RSS."""
    curve = Curve(soak.every, max(soak.every, soak.events // 10 // soak.every * soak.every))
    async with AsyncExitStack() as stack:
        hub_broker, client, kind = await _brokers(stack, soak.names)
        ledger = await open_ledger(f"sqlite:///{workdir / 'soak.db'}", keyring=soak.rings["hub"])
        stack.push_async_callback(ledger.close)
        settings = embedded_settings(
            workdir, soak.rings["hub"], soak.directory, topology_prefix=soak.names.prefix
        )
        ctx = await build_context(settings, stack, broker=hub_broker, ledger=ledger)
        ctx = replace(ctx, require_user_id=False)
        heap.settle()  # as `hub run` does once its context is built
        curve.sample(0, trace=False)
        stop, delivered = asyncio.Event(), Progress()
        worker = asyncio.create_task(serve(ctx, WorkerLimits(prefetch=64, delivery_limit=5), stop))
        drains = [_drain(soak, client, r, delivered if r == RECIPIENTS[0] else None)
                  for r in RECIPIENTS]  # fmt: skip
        await asyncio.gather(
            _feed(soak, client, delivered), _watch(soak, curve, delivered), *drains
        )
        stop.set()
        await worker
    if soak.trace:
        curve.snapshots.append(tracemalloc.take_snapshot())
    return curve, kind


def _print_growth(curve: Curve) -> list[str]:
    """Print and return the 15 source lines whose live allocations grew most after warm-up."""
    if len(curve.snapshots) < 2:  # noqa: PLR2004 - warm-up and end
        return []
    stats = curve.snapshots[1].compare_to(curve.snapshots[0], "lineno")
    lines = [str(s) for s in stats[:15]]
    print("tracemalloc, growth after warm-up:")
    for line in lines:
        print("  ", line)
    return lines


async def main() -> None:
    """Run the soak, print the curve's summary and write the JSON."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--every", type=int, default=5_000)
    parser.add_argument("--backlog", type=int, default=500)
    parser.add_argument("--trace", action="store_true")
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args()
    configure("console", "WARNING")
    if args.trace:
        tracemalloc.start(5)
    rings = {p: generate_party_keys(p) for p in ("hub", *AGENCIES)}
    soak = Soak(
        args.events, args.every, args.backlog, args.trace, rings,
        KeyDirectory.of(*rings.values()), TopologyNames(prefix=f"s{uuid.uuid4().hex[:8]}."),
    )  # fmt: skip
    with TemporaryDirectory() as workdir:
        curve, kind = await soak_run(soak, Path(workdir))
    summary = curve.summary()
    print(json.dumps(summary, indent=2))
    growth = _print_growth(curve)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    document = {
        "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "broker": kind,
        "events": args.events,
        "limit_mib": LIMIT_MIB,
        "summary": summary,
        "curve": [
            {"events": n, "rss_mib": round(m, 1), "seconds": round(s, 1)}
            for n, m, s in curve.points
        ],
        "tracemalloc_growth": growth,
    }
    args.out.write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")
    print(f"(written to {args.out})")


if __name__ == "__main__":
    asyncio.run(main())
