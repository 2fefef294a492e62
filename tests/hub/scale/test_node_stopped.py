"""One node of the three-node cluster stopped mid-stream: nothing lost, nothing doubled.

The hub's queues are declared through node 3, so node 3 leads every quorum queue.
One worker connects to node 1, the other to node 3 with nodes 1 and 2 as its
failover (``broker_failover``); the agencies connect to nodes 1 and 2. Stopping
node 3 makes the other two elect new leaders while events flow, and the worker on
node 3 carries on through another node.
"""

from __future__ import annotations

import asyncio
import signal
from collections import Counter
from typing import TYPE_CHECKING, Final

from scenarios import (
    AGENCIES,
    Partnership,
    assert_each_once,
    assert_stored_ledger,
    by_author,
    drain,
    expected_inboxes,
    kill_workers,
    logged_count,
    publish_all,
    quarantined,
    queue_depth,
    start_worker,
    stop_worker,
    wait_for,
    write_config,
)

if TYPE_CHECKING:
    from .conftest import RabbitCluster

EVENTS: Final = 600
#: Seconds between two publishes of one agency: the stream lasts longer than a node's stop.
PAUSE: Final = 0.1
#: The node stopped: the one the queues are declared through, so their leader.
STOPPED: Final = 3
#: The log lines of a message a worker took and recorded: an event disclosed, a receipt.
CARRIED: Final = ("event.disclosed", "receipt.recorded")


def assert_replicated(cluster: RabbitCluster, vhost: str, leader: int) -> None:
    """Every quorum queue of ``vhost`` has a member on each node, all online, led by ``leader``."""
    everyone = frozenset(cluster.name_of(n) for n in (1, 2, 3))
    queues = cluster.quorum_queues(vhost)
    assert queues, "no quorum queue was declared"
    for queue in queues.values():
        assert queue.members == everyone, f"{queue.name} has members {sorted(queue.members)}"
        assert queue.online == everyone, f"{queue.name} has online {sorted(queue.online)}"
        assert queue.leader == cluster.name_of(leader), f"{queue.name} is led by {queue.leader}"


async def test_a_stopped_node_loses_nothing_and_doubles_nothing(
    partnership: Partnership, cluster: RabbitCluster, ledger_dsn: str
) -> None:
    """Node 3, leader of every queue, stops a sixth of the way in; every event arrives once."""
    p = partnership
    events = p.events(EVENTS)
    recipients = p.recipients(events)
    await p.apply_topology(cluster.port_of(STOPPED))
    assert_replicated(cluster, p.vhost, leader=STOPPED)
    config = write_config(p, ledger_dsn)
    workers: list[asyncio.subprocess.Process] = []
    try:
        others = [f"127.0.0.1:{cluster.port_of(n)}" for n in (1, 2)]
        for n, failover in ((1, []), (STOPPED, others)):
            log = p.folder / f"worker{n}.log"
            url = p.url("hub", cluster.port_of(n))
            workers.append(await start_worker(config, url, log, failover))
        clients = {
            party: await p.client(party, cluster.port_of(1 + i % 2))
            for i, party in enumerate(AGENCIES)
        }
        inboxes = expected_inboxes(recipients)
        sent: Counter[str] = Counter()
        draining = [asyncio.create_task(drain(clients[a], inboxes[a])) for a in AGENCIES]
        publishing = [
            asyncio.create_task(publish_all(clients[author], mine, sent, pause=PAUSE))
            for author, mine in by_author(events).items()
        ]

        async def a_sixth_published() -> bool:
            return sum(sent.values()) >= EVENTS // 6

        await wait_for("a sixth of the events published", a_sixth_published, 120)
        failing_over = p.folder / f"worker{STOPPED}.log"
        await asyncio.to_thread(cluster.stop_node, STOPPED)
        stopped_at = sum(sent.values())
        # Counted once the node is down: what the worker records after (events it
        # discloses, receipts the recipients send), it took through another node.
        after_stop = logged_count(failing_over, *CARRIED)
        await asyncio.gather(*publishing)
        await asyncio.gather(*draining)
        # The two nodes left carry every queue: new leaders, the stopped member offline.
        survivors = frozenset(cluster.name_of(n) for n in (1, 2))
        for queue in cluster.quorum_queues(p.vhost).values():
            assert queue.leader in survivors, f"{queue.name} has no leader left"
            assert queue.online == survivors, f"{queue.name} has online {sorted(queue.online)}"
        for worker in workers:
            assert await stop_worker(worker, signal.SIGTERM) == 0
    finally:
        await kill_workers(workers)

    assert stopped_at < EVENTS, "the node was not stopped mid-stream"
    # The worker whose node stopped carried on through another node of the cluster.
    assert logged_count(failing_over, *CARRIED) > after_stop
    assert sum(sent.values()) == EVENTS
    for inbox in inboxes.values():
        assert_each_once(inbox)
    await assert_stored_ledger(ledger_dsn, p.directory, recipients)
    assert await queue_depth(p.url("hub"), p.names.quarantine) == 0
    assert await quarantined(p.url("hub"), p.names) == 0
    assert await queue_depth(p.url("hub"), p.names.ingress_queue) == 0

    await assert_rejoins(cluster, p.vhost)


async def assert_rejoins(cluster: RabbitCluster, vhost: str) -> None:
    """Back again, the stopped node rejoins and its replicas catch up."""
    await asyncio.to_thread(cluster.start_node, STOPPED)
    everyone = frozenset(cluster.name_of(n) for n in (1, 2, 3))
    assert cluster.running_members()[1] == everyone

    async def replicas_back() -> bool:
        queues = (await asyncio.to_thread(cluster.quorum_queues, vhost)).values()
        return all(queue.online == everyone for queue in queues)

    await wait_for("node 3's replicas online again", replicas_back, 60)
