"""Good events per second with and without bad traffic interleaved (issue 5, P6).

Usage: ``.venv/bin/python -m bench.bad_traffic [--events N]``. Three runs on the
embedded hub (in-memory broker, SQLite ledger, ``hub.worker.serve`` with prefetch
64), each on a fresh hub in the same process: N good police referrals alone, then
the same N with one bad message per good one (1:1), then with four (1:4). Bad
messages cycle through the corpus of ``tests/bad_messages.py`` in order, built
before the clock starts, each published over its own broker user. The clock runs
from the worker's start until every good event has reached its three recipients
and every bad one is in quarantine. Reported: good events per second, and the
ratio of each interleaved run's rate to the good-only rate, and the time one bad
message took in units of one good event's time. Nothing is asserted.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
import uuid
from contextlib import AsyncExitStack
from datetime import UTC, datetime, timedelta
from pathlib import Path
from tempfile import TemporaryDirectory
from typing import TYPE_CHECKING

# The corpus lives with the tests; the bench sends the very same messages.
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

import forge
from bad_messages import CORPUS

from hub.broker.base import BrokerError, OutgoingMessage
from hub.broker.memory import MemoryBroker, MemoryNode
from hub.broker.testing import next_delivery
from hub.crypto.keys import generate_party_keys
from hub.embedded import embedded_hub
from hub.logs import configure
from hub.worker import WorkerLimits, serve

if TYPE_CHECKING:
    from forge import World

    from hub.broker.base import Broker, IncomingMessage
    from hub.context import HubContext

RECIPIENTS = ("probation", "health", "advocacy")  # of a police referral
USERS = (*forge.AGENCIES, "intruder")
Message = tuple[str, bytes]


def _traffic(world: World, events: int, bad_per_good: int) -> tuple[list[Message], int]:
    """Messages in publishing order (user, body), and how many of them are bad."""
    messages: list[Message] = []
    cases = [case for case in CORPUS if case.code != "event.replayed"]  # it brings a good one
    for index in range(events):
        for step in range(bad_per_good):
            built = cases[(index * bad_per_good + step) % len(cases)].build(world)
            messages.append((built.user, built.body))
        messages.append(("police", forge.good(world)))
    return messages, events * bad_per_good


async def _count(broker: Broker, queue: str, kind: str, count: int) -> None:
    """Take messages from ``queue`` until ``count`` of ``kind`` arrived."""
    seen = 0
    async with broker.consume(queue, 200) as consumer:
        while seen < count:
            message = await next_delivery(consumer, 120)
            await message.ack()
            seen += message.headers.get("kind") == kind


async def _count_refused(broker: MemoryBroker, stream: str, count: int) -> None:
    """Wait until the quarantine's stream holds ``count`` refusals (it is read, not emptied)."""
    while True:
        seen = 0

        def enough(message: IncomingMessage) -> bool:
            nonlocal seen
            seen += message.headers.get("kind") == "refusal"
            return seen >= count

        try:
            await broker.read_log(stream, None, enough)
        except BrokerError:
            await asyncio.sleep(0.01)
        else:
            return


async def _send(ctx: HubContext, brokers: dict[str, Broker], messages: list[Message]) -> None:
    for user, body in messages:
        key = user if user in forge.AGENCIES else "police"
        await brokers[user].publish(
            OutgoingMessage(ctx.names.ingress, key, body, str(uuid.uuid4()), user_id=user)
        )


async def measure(world: World, events: int, bad_per_good: int, workdir: Path) -> float:
    """Return good events per second through a fresh embedded hub."""
    messages, bad = _traffic(world, events, bad_per_good)
    node = MemoryNode()
    async with AsyncExitStack() as stack:
        ctx = await embedded_hub(stack, workdir, world.keyrings["hub"], world.directory, node)
        brokers: dict[str, Broker] = {
            user: await stack.enter_async_context(MemoryBroker(node, user=user)) for user in USERS
        }
        await _send(ctx, brokers, messages)
        stop = asyncio.Event()
        start = time.perf_counter()
        worker = asyncio.create_task(serve(ctx, WorkerLimits(prefetch=64, delivery_limit=5), stop))
        reader = brokers["police"]
        quarantine = await stack.enter_async_context(MemoryBroker(node))
        await asyncio.gather(
            *(_count(reader, ctx.names.inbox(r), "delivery", events) for r in RECIPIENTS),
            _count_refused(quarantine, ctx.names.quarantine_log, bad),
        )
        elapsed = time.perf_counter() - start
        stop.set()
        await worker
        return events / elapsed


def _world() -> World:
    start = datetime.now(UTC) - timedelta(days=1)
    parties = ("hub", *forge.AGENCIES)
    return forge.make_world({p: generate_party_keys(p, start) for p in parties})


async def main() -> None:
    """Measure good-only, 1:1 and 1:4, each the median of ``--repeat`` runs; print a line each."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=300)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    configure("console", "ERROR")
    world = _world()
    print(
        f"{'traffic (bad per good)':<24}{'good/s':>8}{'ratio':>8}{'refusal cost':>14}"
        f"   ({args.events} good events, median of {args.repeat})"
    )
    baseline = 0.0
    with TemporaryDirectory() as tmp:
        for bad_per_good in (0, 1, 4):
            rates = []
            for run in range(args.repeat):
                workdir = Path(tmp) / f"{bad_per_good}-{run}"
                workdir.mkdir()
                rates.append(await measure(world, args.events, bad_per_good, workdir))
            rate = statistics.median(rates)
            baseline = baseline or rate
            # Time the hub spent on one bad message, in units of one good event's time.
            cost = (baseline / rate - 1) / bad_per_good if bad_per_good else 0.0
            label = "good only" if not bad_per_good else f"1:{bad_per_good}"
            print(f"{label:<24}{rate:>8.0f}{rate / baseline:>8.2f}{cost:>14.2f}")


if __name__ == "__main__":
    asyncio.run(main())
