"""Issue 5 (b): the RabbitMQ node restarted mid-stream; everyone reconnects by themselves."""

from __future__ import annotations

import asyncio
import contextlib
from collections import Counter

from scenarios import (
    AGENCIES,
    FAR_DAY,
    Partnership,
    RabbitNode,
    assert_each_once,
    assert_ledger,
    by_author,
    covered,
    delivered_to,
    drain,
    erase_all,
    expected_inboxes,
    publish_all,
    quarantined,
    queue_depth,
    running,
    wait_for,
)
from services import postgres_dsn

from hub.broker.base import BrokerError
from hub.ledger import chain

EVENTS = 300
#: Seconds between two publishes of one agency: the stream lasts longer than the
#: node's stop, which on busy cores took longer than publishing the other two thirds.
PAUSE = 0.1


async def test_node_restart_mid_stream_loses_nothing(
    partnership: Partnership, rabbit_node: RabbitNode
) -> None:
    """Publishers, the hub and the adapters ride out a node restart; every event arrives once."""
    p = partnership
    events = p.events(EVENTS)
    recipients = p.recipients(events)
    ctx = await p.hub(await p.ledger(postgres_dsn()))
    clients = {party: await p.client(party) for party in AGENCIES}
    inboxes = expected_inboxes(recipients)
    sent: Counter[str] = Counter()
    async with running(ctx):
        draining = [asyncio.create_task(drain(clients[a], inboxes[a])) for a in AGENCIES]
        publishing = [
            asyncio.create_task(publish_all(clients[author], mine, sent, pause=PAUSE))
            for author, mine in by_author(events).items()
        ]

        async def a_third_published() -> bool:
            return sum(sent.values()) >= EVENTS // 3

        await wait_for("a third of the events published", a_third_published, 120)
        await asyncio.to_thread(rabbit_node.stop)
        stopped_at = sum(sent.values())
        await asyncio.to_thread(rabbit_node.start)
        await asyncio.gather(*publishing)
        await asyncio.gather(*draining)
    assert stopped_at < EVENTS, "the node was not restarted mid-stream"
    for inbox in inboxes.values():
        assert_each_once(inbox)
    # Retention ends while the node is down again: each agency erases, seals and
    # stores its erasure receipt, and sends it once the node is back (ADR 0030).
    await asyncio.to_thread(rabbit_node.stop)
    for party in AGENCIES:
        with contextlib.suppress(BrokerError):
            await clients[party].erase_due(today=FAR_DAY)
    await asyncio.to_thread(rabbit_node.start)
    await asyncio.gather(*(erase_all(clients[party]) for party in AGENCIES))
    delivered = {d for d, _ in await delivered_to(ctx.ledger.store)}
    async with running(ctx):

        async def all_signed_for() -> bool:
            entries = [chain.parse(row) for row in await ctx.ledger.store.read(0, None)]
            return covered(entries, "receipted") == covered(entries, "erased") == delivered

        await wait_for("every delivery receipted, erased and signed for", all_signed_for, 120)
    await ctx.ledger.checkpoint_now()
    await assert_ledger(ctx.ledger.store, p.directory, recipients)
    assert await queue_depth(p.url("hub"), p.names.quarantine) == 0
    assert await quarantined(p.url("hub"), p.names) == 0
    assert await queue_depth(p.url("hub"), p.names.ingress_queue) == 0
