"""Issue 5 (c): every connection cut through a TCP proxy, again and again, mid-stream."""

from __future__ import annotations

import asyncio
from collections import Counter

from scenarios import (
    AGENCIES,
    Partnership,
    RabbitNode,
    assert_each_once,
    assert_ledger,
    by_author,
    drain,
    expected_inboxes,
    publish_all,
    quarantined,
    queue_depth,
    running,
    wait_for,
)
from services import postgres_dsn

from hub.broker.testing import TcpProxy

EVENTS = 700
CUT_EVERY = 100


async def test_repeated_connection_cuts_lose_nothing(
    partnership: Partnership, rabbit_node: RabbitNode
) -> None:
    """Six cuts of every hub and adapter connection: all reconnect; every event arrives once."""
    p = partnership
    events = p.events(EVENTS)
    recipients = p.recipients(events)
    proxy = TcpProxy("127.0.0.1", rabbit_node.port)
    port = await proxy.start()
    p.stack.push_async_callback(proxy.close)
    ctx = await p.hub(await p.ledger(postgres_dsn()), port)
    clients = {party: await p.client(party, port) for party in AGENCIES}
    inboxes = expected_inboxes(recipients)
    sent: Counter[str] = Counter()
    cuts = 0
    async with running(ctx):
        draining = [asyncio.create_task(drain(clients[a], inboxes[a])) for a in AGENCIES]
        publishing = [
            asyncio.create_task(publish_all(clients[author], mine, sent))
            for author, mine in by_author(events).items()
        ]
        for threshold in range(CUT_EVERY, EVENTS, CUT_EVERY):

            async def reached(at: int = threshold) -> bool:
                return sum(sent.values()) >= at

            await wait_for(f"{threshold} events published", reached, 120)
            await proxy.cut()
            cuts += 1
        await asyncio.gather(*publishing)
        await asyncio.gather(*draining)
    assert cuts >= 5
    for inbox in inboxes.values():
        assert_each_once(inbox)
    await ctx.ledger.checkpoint_now()
    await assert_ledger(ctx.ledger.store, p.directory, recipients)
    assert await queue_depth(p.url("hub"), p.names.quarantine) == 0
    assert await quarantined(p.url("hub"), p.names) == 0
    assert await queue_depth(p.url("hub"), p.names.ingress_queue) == 0
