"""Issue 5 (a): `hub run` killed with SIGKILL midway through 2,000 events, then restarted."""

from __future__ import annotations

import asyncio
import contextlib
import signal
import uuid
from collections import Counter
from typing import TYPE_CHECKING

import asyncpg
from scenarios import (
    AGENCIES,
    assert_each_once,
    assert_ledger,
    by_author,
    drain,
    expected_inboxes,
    logged_events,
    publish_all,
    start_worker,
    stop_worker,
    wait_for,
    write_config,
)
from services import postgres_dsn
from structlog.testing import capture_logs
from yarl import URL

from hub.ledger.stores import open_store

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

    from scenarios import Partnership

EVENTS = 2000
PREFETCH = 32


@contextlib.asynccontextmanager
async def fresh_database() -> AsyncIterator[str]:
    """A new database on the shared PostgreSQL for one worker's ledger; its DSN."""
    admin_dsn = postgres_dsn()
    name = f"faults_{uuid.uuid4().hex[:12]}"
    admin = await asyncpg.connect(admin_dsn)
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
        yield str(URL(admin_dsn).with_path(f"/{name}"))
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


async def ledger_size(dsn: str) -> int:
    """Entries committed in the worker's ledger so far (0 before it made its tables)."""
    connection = await asyncpg.connect(dsn)
    try:
        return int(await connection.fetchval("SELECT count(*) FROM ledger_entries"))
    except asyncpg.UndefinedTableError:
        return 0
    finally:
        await connection.close()


async def test_worker_killed_midway_loses_nothing_and_records_nothing_twice(
    partnership: Partnership,
) -> None:
    """SIGKILL at half way, restart: every recipient gets every event once; one entry each."""
    p = partnership
    events = p.events(EVENTS)
    recipients = p.recipients(events)
    entries = sum(max(1, len(parties)) for parties in recipients.values())
    workers: list[asyncio.subprocess.Process] = []
    async with fresh_database() as dsn:
        config = write_config(p, dsn, PREFETCH)
        await p.apply_topology()
        clients = {party: await p.client(party) for party in AGENCIES}
        inboxes = expected_inboxes(recipients)
        sent: Counter[str] = Counter()
        # Everything is queued first, so the worker is busy with a full prefetch when killed.
        await asyncio.gather(
            *(publish_all(clients[a], mine, sent) for a, mine in by_author(events).items())
        )
        try:
            with capture_logs() as logs:
                draining = [asyncio.create_task(drain(clients[a], inboxes[a])) for a in AGENCIES]
                workers.append(await start_worker(config, p.url("hub"), p.folder / "first.log"))

                async def half_recorded() -> bool:
                    assert workers[0].returncode is None, "the first worker ended by itself"
                    return await ledger_size(dsn) >= entries // 2

                await wait_for("half the ledger entries", half_recorded, 180)
                assert await stop_worker(workers[0], signal.SIGKILL) == -signal.SIGKILL
                assert await ledger_size(dsn) < entries, "the worker was not killed midway"

                second_log = p.folder / "second.log"
                workers.append(await start_worker(config, p.url("hub"), second_log))
                await asyncio.gather(*draining)
                assert await stop_worker(workers[1], signal.SIGTERM) == 0
        finally:
            for worker in workers:
                if worker.returncode is None:
                    worker.kill()
                    await worker.wait()

        assert sum(sent.values()) == EVENTS
        for inbox in inboxes.values():
            assert_each_once(inbox)
        store = await open_store(dsn, read_only=True)
        try:
            await assert_ledger(store, p.directory, recipients)
        finally:
            await store.close()

    # The killed worker's unacked messages came again: their recorded deliveries were
    # re-published without new entries, and the clients recognised the copies.
    redelivered = set(logged_events(second_log, "event.redelivered"))
    assert len(redelivered) <= PREFETCH, "more messages redelivered than were in flight"
    recognised = [uuid.UUID(e["event_id"]) for e in logs if e["event"] == "delivery.duplicate"]
    assert set(recognised) <= redelivered
    assert sum(client.duplicates for client in clients.values()) == len(recognised)
    assert len(recognised) <= sum(len(recipients[event_id]) for event_id in redelivered)
