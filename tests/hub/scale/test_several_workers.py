"""Three `hub run` workers on one ingress queue and one PostgreSQL ledger: one chain."""

from __future__ import annotations

import asyncio
import signal
import subprocess
from collections import Counter
from typing import TYPE_CHECKING, Final

import aio_pika
import asyncpg
from scenarios import (
    AGENCIES,
    HUB,
    Partnership,
    assert_each_once,
    assert_stored_ledger,
    by_author,
    drain,
    environment,
    expected_inboxes,
    kill_workers,
    logged_events,
    publish_all,
    start_worker,
    stop_worker,
    wait_for,
    write_config,
)

from hub.ledger import chain
from hub.ledger.base import StoredEntry
from hub.ledger.entries import GENESIS_HASH

if TYPE_CHECKING:
    import uuid

    from .conftest import RabbitCluster

EVENTS: Final = 5000
WORKERS: Final = 3
PREFETCH: Final = 32
#: Seconds the whole stream may take to arrive: bounds a hang, measures nothing.
ARRIVAL: Final = 420.0


async def consumers(url: str, queue: str) -> int:
    """How many consumers ``queue`` has."""
    async with await aio_pika.connect(url, timeout=10) as connection:
        channel = await connection.channel()
        declared = await channel.declare_queue(queue, passive=True)
        return int(declared.declaration_result.consumer_count or 0)


async def assert_one_chain(dsn: str) -> int:
    """The rows form one chain: seqs 0..N-1, each ``prev_hash`` its predecessor's hash.

    Also: every decision id appears once, and the head row agrees. Returns N.
    """
    connection = await asyncpg.connect(dsn)
    try:
        rows = await connection.fetch(
            "SELECT seq, decision_id, body, entry_hash FROM ledger_entries ORDER BY seq"
        )
        head = await connection.fetchrow("SELECT size, last_entry_hash FROM ledger_head")
    finally:
        await connection.close()
    seqs = [int(row["seq"]) for row in rows]
    assert seqs == list(range(len(rows))), "the sequence numbers have a gap"
    decisions = Counter(row["decision_id"] for row in rows)
    assert max(decisions.values()) == 1, "a decision was recorded twice"
    previous = GENESIS_HASH
    for row in rows:
        entry = chain.parse(StoredEntry(int(row["seq"]), row["body"], row["entry_hash"]))
        assert entry.decision_id == row["decision_id"], f"entry {entry.seq}: decision id differs"
        assert entry.prev_hash == previous, f"entry {entry.seq} does not follow its predecessor"
        previous = entry.entry_hash
    assert head is not None
    assert (int(head["size"]), str(head["last_entry_hash"])) == (len(rows), previous)
    return len(rows)


def audit_verify(dsn: str, partnership: Partnership) -> str:
    """Run `hub audit verify` on the ledger; return what it printed (it must exit 0)."""
    done = subprocess.run(  # noqa: S603 - our own command, fixed arguments
        [HUB, "audit", "verify", "--ledger", dsn, "--keys", str(partnership.keys_folder())],
        capture_output=True, text=True, timeout=300, check=False, env=environment(),
    )  # fmt: skip
    assert done.returncode == 0, f"hub audit verify: {done.stdout}{done.stderr}"
    return done.stdout


async def test_three_workers_write_one_chain_and_deliver_each_event_once(
    partnership: Partnership, cluster: RabbitCluster, ledger_dsn: str
) -> None:
    """5,000 events through three workers, one per node: one chain, every delivery once."""
    p = partnership
    events = p.events(EVENTS)
    recipients = p.recipients(events)
    await p.apply_topology()
    config = write_config(p, ledger_dsn, PREFETCH)
    logs = [p.folder / f"worker{n}.log" for n in range(1, WORKERS + 1)]
    workers: list[asyncio.subprocess.Process] = []
    try:
        # Worker n connects to node n: the cluster shares out the work as well.
        for n, log in enumerate(logs, start=1):
            workers.append(await start_worker(config, p.url("hub", cluster.port_of(n)), log))

        async def all_consuming() -> bool:
            ended = [w.returncode for w in workers if w.returncode is not None]
            assert not ended, f"a worker ended by itself ({ended}); see {p.folder}"
            return await consumers(p.url("hub"), p.names.ingress_queue) == WORKERS

        await wait_for("every worker consuming ingress", all_consuming, 120)
        clients = {
            party: await p.client(party, cluster.port_of(1 + i % 3))
            for i, party in enumerate(AGENCIES)
        }
        inboxes = expected_inboxes(recipients)
        sent: Counter[str] = Counter()
        draining = [
            asyncio.create_task(drain(clients[a], inboxes[a], seconds=ARRIVAL)) for a in AGENCIES
        ]
        await asyncio.gather(
            *(
                publish_all(clients[a], mine, sent, seconds=ARRIVAL)
                for a, mine in by_author(events).items()
            )
        )
        await asyncio.gather(*draining)
        for worker in workers:
            assert await stop_worker(worker, signal.SIGTERM) == 0
    finally:
        await kill_workers(workers)

    assert sum(sent.values()) == EVENTS
    for inbox in inboxes.values():
        assert_each_once(inbox)
    await assert_stored_ledger(ledger_dsn, p.directory, recipients)
    size = await assert_one_chain(ledger_dsn)
    assert audit_verify(ledger_dsn, p).startswith(f"intact: {size} entries")

    # Each worker disclosed a share of the events, and no event was disclosed twice.
    disclosed: list[set[uuid.UUID]] = [set(logged_events(log, "event.disclosed")) for log in logs]
    shares = [len(mine) for mine in disclosed]
    assert all(shares), f"a worker did no work: {shares}"
    assert sum(shares) == EVENTS, f"events disclosed twice or never: {shares}"
    assert set().union(*disclosed) == {e.event_id for e in events}
