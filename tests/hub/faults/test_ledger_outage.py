"""Issue 5 (e): the PostgreSQL ledger unreachable for 10 seconds while events flow."""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter
from typing import TYPE_CHECKING

import asyncpg
from scenarios import (
    AGENCIES,
    LIMITS,
    Partnership,
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
from services import drop_schema
from structlog.testing import capture_logs
from yarl import URL

from hub.broker.testing import TcpProxy
from hub.ledger.service import open_ledger

from .conftest import POSTGRES_PORT

if TYPE_CHECKING:
    from adapters.base import ReceivedEvent

EVENTS = 240
OUTAGE_SECONDS = 10


async def test_ledger_outage_pauses_the_hub_and_loses_nothing(
    partnership: Partnership, own_postgres: str
) -> None:
    """No delivery without its entry; nothing acked or quarantined meanwhile; all arrives after."""
    p = partnership
    events = p.events(EVENTS)
    recipients = p.recipients(events)
    entries = sum(max(1, len(parties)) for parties in recipients.values())
    proxy = TcpProxy("127.0.0.1", POSTGRES_PORT)
    port = await proxy.start()
    p.stack.push_async_callback(proxy.close)
    schema = f"faults_{uuid.uuid4().hex[:12]}"
    p.stack.push_async_callback(drop_schema, own_postgres, schema)
    proxied = str(URL(own_postgres).with_port(port))
    ledger = await open_ledger(proxied, keyring=p.keyrings["hub"], schema=schema)
    p.stack.push_async_callback(ledger.close)
    # The test's own view of the ledger goes round the proxy: it stays up.
    observer = await asyncpg.create_pool(
        own_postgres, min_size=1, max_size=4, server_settings={"search_path": schema}
    )
    p.stack.push_async_callback(observer.close)
    unrecorded: list[uuid.UUID] = []

    async def recorded(received: ReceivedEvent) -> None:
        query = "SELECT count(*) FROM ledger_entries WHERE decision_id = $1"
        if await observer.fetchval(query, received.decision_id) != 1:
            unrecorded.append(received.decision_id)

    async def recorded_events() -> int:
        return int(await observer.fetchval("SELECT count(DISTINCT event_id) FROM ledger_entries"))

    ctx = await p.hub(ledger)
    clients = {party: await p.client(party) for party in AGENCIES}
    inboxes = expected_inboxes(recipients)
    sent: Counter[str] = Counter()
    for author, mine in by_author(events).items():
        await publish_all(clients[author], mine, sent)
    with capture_logs() as logs:
        async with running(ctx):
            draining = [
                asyncio.create_task(drain(clients[a], inboxes[a], recorded)) for a in AGENCIES
            ]

            async def a_third() -> bool:
                count = await observer.fetchval("SELECT count(*) FROM ledger_entries")
                return int(count) >= entries // 3

            await wait_for("a third of the entries", a_third, 120)
            await proxy.go_down()
            await asyncio.sleep(OUTAGE_SECONDS)
            # Every message not recorded is still in the queue, or held unacked by the worker.
            waiting = await queue_depth(p.url("hub"), p.names.ingress_queue)
            assert waiting + LIMITS.prefetch >= EVENTS - await recorded_events()
            assert await queue_depth(p.url("hub"), p.names.quarantine) == 0
            proxy.come_up()
            await asyncio.gather(*draining)
    assert not unrecorded, f"{len(unrecorded)} deliveries held without their ledger entry"
    for inbox in inboxes.values():
        assert_each_once(inbox)
    await ctx.ledger.checkpoint_now()
    await assert_ledger(ctx.ledger.store, p.directory, recipients)
    assert await queue_depth(p.url("hub"), p.names.quarantine) == 0
    assert await quarantined(p.url("hub"), p.names) == 0
    assert await queue_depth(p.url("hub"), p.names.ingress_queue) == 0
    codes = Counter(e.get("code") for e in logs if e["event"] == "worker.retrying")
    assert codes["ledger.unavailable"] > 0, "the worker never met the outage"
    assert not [e for e in logs if e["event"] in {"worker.crashed", "worker.failed"}]
