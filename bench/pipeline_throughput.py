"""Events per second through the whole hub pipeline, 3 recipients per event.

Usage: ``.venv/bin/python -m bench.pipeline_throughput [--events N]`` for the
in-memory broker with a SQLite ledger; set ``HUB_BENCH_AMQP_URL`` and
``HUB_BENCH_POSTGRES_DSN`` (``make bench-pipeline`` does) to measure RabbitMQ with
a PostgreSQL ledger as well. Events are issued and sealed before the clock starts;
the clock runs from the first message consumed to the last delivery received.
Beside events per second it reports the ratio to a raw broker round trip of the
same messages in the same run (publish to ingress, consume, ack), so the number
compares across machines. Nothing is asserted.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import time
import uuid
from contextlib import AsyncExitStack
from dataclasses import replace
from pathlib import Path
from tempfile import TemporaryDirectory
from typing import TYPE_CHECKING

import asyncpg

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
AGENCIES = ("police", "probation", "health", "advocacy")
RECIPIENTS = ("probation", "health", "advocacy")  # of a police referral


async def _drain(broker: Broker, queue: str, count: int) -> None:
    async with broker.consume(queue, 200) as consumer:
        for _ in range(count):
            message = await next_delivery(consumer, 60)
            await message.ack()


async def _raw_round_trip(broker: Broker, names: TopologyNames, bodies: list[bytes]) -> float:
    """Seconds to publish the bodies to ingress and consume and ack them, nothing else."""
    start = time.perf_counter()
    await asyncio.gather(
        *(
            broker.publish(OutgoingMessage(names.ingress, "police", b, str(uuid.uuid4())))
            for b in bodies
        )
    )
    await _drain(broker, names.ingress_queue, len(bodies))
    return time.perf_counter() - start


async def measure(kind: str, events: int, workdir: Path) -> tuple[float, float]:
    """Return (events per second through the hub, raw round trip seconds / hub seconds)."""
    rings = {p: generate_party_keys(p) for p in ("hub", *AGENCIES)}
    directory = KeyDirectory.of(*rings.values())
    names = TopologyNames(prefix=f"b{uuid.uuid4().hex[:8]}.")
    topology = default_topology(AGENCIES, names=names)
    async with AsyncExitStack() as stack:
        if kind == "memory":
            node = MemoryNode()
            hub_broker: Broker = MemoryBroker(node, user="hub")
            client: Broker = MemoryBroker(node, user="hub")
            ledger_url, schema = f"sqlite:///{workdir / 'bench.db'}", None
        else:
            url, ledger_url = os.environ["HUB_BENCH_AMQP_URL"], os.environ["HUB_BENCH_POSTGRES_DSN"]
            schema = f"bench_{uuid.uuid4().hex[:8]}"
            stack.push_async_callback(_drop, ledger_url, schema)
            stack.push_async_callback(delete_topologies, url, [topology])
            hub_broker, client = AmqpBroker(url), AmqpBroker(url)
        for broker in (hub_broker, client):
            await broker.connect()
            stack.push_async_callback(broker.close)
        await hub_broker.apply(topology)
        ledger = await open_ledger(ledger_url, keyring=rings["hub"], schema=schema)
        stack.push_async_callback(ledger.close)
        settings = embedded_settings(workdir, rings["hub"], directory, topology_prefix=names.prefix)
        ctx = await build_context(settings, stack, broker=hub_broker, ledger=ledger)
        ctx = replace(ctx, require_user_id=False)
        bodies = [
            issue_event(
                sample_event("ReferralReceived").model_copy(update={"event_id": new_event_id()}),
                rings["police"],
                directory,
            ).encode()
            for _ in range(events)
        ]
        raw = await _raw_round_trip(client, names, bodies)
        await asyncio.gather(
            *(
                client.publish(OutgoingMessage(names.ingress, "police", b, str(uuid.uuid4())))
                for b in bodies
            )
        )
        stop = asyncio.Event()
        start = time.perf_counter()
        worker = asyncio.create_task(serve(ctx, WorkerLimits(prefetch=64, delivery_limit=5), stop))
        await asyncio.gather(*(_drain(client, names.inbox(r), events) for r in RECIPIENTS))
        elapsed = time.perf_counter() - start
        stop.set()
        await worker
        return events / elapsed, raw / elapsed


async def _drop(dsn: str, schema: str) -> None:
    connection = await asyncpg.connect(dsn)
    try:
        await connection.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
    finally:
        await connection.close()


async def main() -> None:
    """Measure every configured backend and print a line each."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=500)
    events = parser.parse_args().events
    configure("console", "WARNING")
    kinds = ["memory"] + (["rabbitmq"] if os.environ.get("HUB_BENCH_AMQP_URL") else [])
    print(f"{'backend':<28}{'events/s':>10}{'raw/hub':>10}   ({events} events, 3 recipients each)")
    with TemporaryDirectory() as workdir:
        for kind in kinds:
            rate, ratio = await measure(kind, events, Path(workdir))
            label = "memory + SQLite" if kind == "memory" else "RabbitMQ + PostgreSQL"
            print(f"{label:<28}{rate:>10.0f}{ratio:>10.2f}")


if __name__ == "__main__":
    asyncio.run(main())
