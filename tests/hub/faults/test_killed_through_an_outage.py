"""Issue 19 (8): workers stopped again and again through a ledger outage, on both stores.

Each stop during the outage gives the worker's messages back to ``hub.ingress.q``,
one delivery each, so RabbitMQ's delivery limit dead-letters them to the quarantine
with no reason of the hub's. Once the ledger is back, a worker takes them up again
(:mod:`hub.reconcile`): every valid event reaches every entitled recipient once,
and nothing stays in the quarantine.
"""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
import uuid
from collections import Counter
from dataclasses import replace
from typing import TYPE_CHECKING

import pytest
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
    wait_for,
)
from services import drop_schema
from structlog.testing import capture_logs
from yarl import URL

from hub.broker.testing import TcpProxy
from hub.ledger.service import Ledger, open_ledger
from hub.worker import serve

from .conftest import POSTGRES_PORT

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Awaitable, Callable
    from pathlib import Path

    from hub.crypto.keys import PartyKeyring

EVENTS = 12
#: Every event in flight at once, so each stop gives every one back.
STOPPING = replace(LIMITS, prefetch=16, shutdown_grace=1.0)
MOST_STOPS = 10


@contextlib.asynccontextmanager
async def sqlite_outage(
    folder: Path, keyring: PartyKeyring
) -> AsyncIterator[tuple[Ledger, Callable[..., Awaitable[None]]]]:
    """A SQLite ledger, and a switch: another process's connection holding its write lock."""
    path = folder / "ledger.db"
    ledger = await open_ledger(f"sqlite:///{path}", keyring=keyring)
    holder = sqlite3.connect(path, isolation_level=None, check_same_thread=False)

    async def outage(*, down: bool) -> None:
        holder.execute("BEGIN IMMEDIATE" if down else "ROLLBACK")

    try:
        yield ledger, outage
    finally:
        with contextlib.suppress(sqlite3.Error):
            holder.execute("ROLLBACK")
        holder.close()
        await ledger.close()


@contextlib.asynccontextmanager
async def postgres_outage(
    dsn: str, keyring: PartyKeyring
) -> AsyncIterator[tuple[Ledger, Callable[..., Awaitable[None]]]]:
    """A PostgreSQL ledger through a proxy, and a switch taking the proxy down and up."""
    proxy = TcpProxy("127.0.0.1", POSTGRES_PORT)
    port = await proxy.start()
    schema = f"faults_{uuid.uuid4().hex[:12]}"
    ledger = await open_ledger(str(URL(dsn).with_port(port)), keyring=keyring, schema=schema)

    async def outage(*, down: bool) -> None:
        if down:
            await proxy.go_down()
        else:
            proxy.come_up()

    try:
        yield ledger, outage
    finally:
        proxy.come_up()
        await ledger.close()
        await proxy.close()
        await drop_schema(dsn, schema)


async def _stop_in_the_outage(p: Partnership, ledger: Ledger) -> None:
    """Run a worker until it holds messages it cannot record, then stop it."""
    ctx = await p.hub(ledger)
    stop = asyncio.Event()
    with capture_logs() as logs:
        worker = asyncio.create_task(serve(ctx, STOPPING, stop))

        async def stuck() -> bool:
            return any(line["event"] == "worker.retrying" for line in logs)

        await wait_for("the worker meeting the outage", stuck, 60)
        stop.set()
        async with asyncio.timeout(60):
            await worker
    await ctx.broker.close()


@pytest.mark.parametrize("store", ["sqlite", "postgres"])
async def test_workers_stopped_through_a_ledger_outage_lose_nothing(
    partnership: Partnership, store: str, request: pytest.FixtureRequest
) -> None:
    """The limit spent by the outage, the events parked; then every one delivered once."""
    p = partnership
    events = p.events(EVENTS)
    recipients = p.recipients(events)
    await p.apply_topology()
    clients = {party: await p.client(party) for party in AGENCIES}
    inboxes = expected_inboxes(recipients)
    if store == "sqlite":
        outage_of = sqlite_outage(p.folder, p.keyrings["hub"])
    else:
        dsn = request.getfixturevalue("own_postgres")
        outage_of = postgres_outage(dsn, p.keyrings["hub"])
    async with outage_of as (ledger, outage):
        await outage(down=True)
        sent: Counter[str] = Counter()
        for author, mine in by_author(events).items():
            await publish_all(clients[author], mine, sent)
        for _ in range(MOST_STOPS):
            if await queue_depth(p.url("hub"), p.names.ingress_queue) == 0:
                break
            await _stop_in_the_outage(p, ledger)
        assert await queue_depth(p.url("hub"), p.names.ingress_queue) == 0
        parked = await queue_depth(p.url("hub"), p.names.quarantine)
        assert parked == EVENTS, "the outage did not spend the delivery limit"

        await outage(down=False)
        ctx = await p.hub(ledger)
        stop = asyncio.Event()
        worker = asyncio.create_task(serve(ctx, LIMITS, stop))
        try:
            await asyncio.gather(*(drain(clients[a], inboxes[a]) for a in AGENCIES))
        finally:
            stop.set()
            async with asyncio.timeout(60):
                await worker
        for inbox in inboxes.values():
            assert_each_once(inbox)
        assert await queue_depth(p.url("hub"), p.names.quarantine) == 0
        assert await quarantined(p.url("hub"), p.names) == 0
        await ledger.checkpoint_now()
        await assert_ledger(ledger.store, p.directory, recipients)
