"""Scale scenarios: several `hub run` workers and a three-node RabbitMQ cluster of their own.

These tests stop nodes, so they never touch the shared services' nodes: they start
their own cluster on ``127.0.0.1:10791``-``10793`` (``deploy/dev/rabbitmq-cluster.sh``,
management ports 20791-20793, distribution ports 30791-30793) and their own
PostgreSQL on ``127.0.0.1:15491``, in folders under ``/tmp/hub-scale/``, and stop
them at the end of the session. They run where the services of `make test` run
(``HUB_TEST_AMQP_URL`` and ``HUB_TEST_POSTGRES_DSN`` set), skip otherwise, and fail
under ``HUB_REQUIRE_SERVICES=1``; so `make test` needs nothing more.

The parties and the checks are those of the fault scenarios (``tests/scenarios.py``).
"""

from __future__ import annotations

import contextlib
import json
import secrets
import shutil
import uuid
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Final

import asyncpg
import pytest
from scenarios import (
    PARTIES,
    Partnership,
    RabbitNode,
    load_default_policy,
    mark_scenarios,
    private_postgres,
)
from services import amqp_url, dev_script, stop_in_background
from yarl import URL

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Iterator

    from hub.crypto.keys import KeyDirectory, PartyKeyring

SCALE: Final = Path("/tmp/hub-scale")  # noqa: S108 - the folder these services are given
CLUSTER_PORT: Final = 10791
POSTGRES_PORT: Final = 15491
NODES: Final = (1, 2, 3)
#: Seconds to start or stop the cluster: three nodes booting on two cores.
CLUSTER_SECONDS: Final = 300.0
HERE: Final = Path(__file__).resolve().parent


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark the scale scenarios: every test file of this folder."""
    mark_scenarios(items, HERE)


@dataclass
class QueueReplicas:
    """One quorum queue as the cluster reports it: its leader and members."""

    name: str
    leader: str
    members: frozenset[str]
    online: frozenset[str]


@dataclass
class RabbitCluster(RabbitNode):
    """The scenarios' three-node cluster; ``folder`` and ``port`` are node 1's.

    Vhosts and users are cluster-wide, so :meth:`add_vhost` and
    :meth:`delete_vhost` go through node 1, which the scenarios never stop.
    """

    cluster: Path = SCALE / "rabbitmq"
    stopped: set[int] = field(default_factory=set)

    def port_of(self, n: int) -> int:
        """Node ``n``'s AMQP port."""
        return self.port + n - 1

    def name_of(self, n: int) -> str:
        """Node ``n``'s Erlang node name."""
        return f"hubtest-{self.port_of(n)}@localhost"

    def start(self) -> None:
        """Start and cluster the three nodes (idempotent)."""
        urls = dev_script(
            "rabbitmq-cluster.sh", "start", self.cluster, self.port, timeout=CLUSTER_SECONDS
        )
        assert len(urls.splitlines()) == len(NODES), "the cluster script printed no URLs"
        self.stopped.clear()

    def stop(self) -> None:
        """Stop every node."""
        dev_script("rabbitmq-cluster.sh", "stop", self.cluster, timeout=CLUSTER_SECONDS)

    def stop_node(self, n: int) -> None:
        """Stop node ``n`` alone: its clients' connections are closed."""
        self.stopped.add(n)
        dev_script("rabbitmq-cluster.sh", "stop-node", self.cluster, n)

    def start_node(self, n: int) -> None:
        """Start node ``n`` again; it rejoins the cluster."""
        dev_script("rabbitmq-cluster.sh", "start-node", self.cluster, n)
        self.stopped.discard(n)

    def running_members(self) -> dict[int, frozenset[str]]:
        """For each node, the running cluster members it sees (empty when it is stopped)."""
        seen: dict[int, frozenset[str]] = {}
        for line in dev_script("rabbitmq-cluster.sh", "status", self.cluster).splitlines():
            n, _, _, state, *members = [*line.split(), ""]
            listed = members[0] if state == "running" else ""
            seen[int(n)] = frozenset(filter(None, listed.split(",")))
        return seen

    def quorum_queues(self, vhost: str) -> dict[str, QueueReplicas]:
        """Every quorum queue of ``vhost``, with its leader and members (asked of node 1)."""
        out = dev_script(
            "rabbitmq.sh", "ctl", self.folder, "list_queues", "-p", vhost,
            "name", "type", "leader", "members", "online", "--formatter", "json",
        )  # fmt: skip
        return {
            row["name"]: QueueReplicas(
                row["name"], row["leader"], frozenset(row["members"]), frozenset(row["online"])
            )
            for row in json.loads(out)
            if row["type"] == "quorum"
        }


def _discard_other_cluster(folder: Path) -> None:
    """Stop and remove a cluster left in ``folder`` on other ports (the script keeps it)."""
    baseport = folder / "baseport"
    if baseport.is_file() and baseport.read_text(encoding="ascii").strip() != str(CLUSTER_PORT):
        dev_script("rabbitmq-cluster.sh", "stop", folder, timeout=CLUSTER_SECONDS)
        shutil.rmtree(folder)


@pytest.fixture(scope="session")
def cluster() -> Iterator[RabbitCluster]:
    """The scenarios' cluster, started once and stopped at the end."""
    amqp_url()  # skips, or fails under HUB_REQUIRE_SERVICES=1, as every service test does
    SCALE.mkdir(exist_ok=True)
    _discard_other_cluster(SCALE / "rabbitmq")
    node = RabbitCluster(SCALE / "rabbitmq" / "node1", CLUSTER_PORT)
    node.passwords = {party: secrets.token_hex(12) for party in PARTIES}
    try:
        node.start()
    except AssertionError:
        # A node whose kept state an earlier run left half-written does not boot
        # (RabbitMQ's feature-flags file): stop what did start and begin afresh.
        node.stop()
        shutil.rmtree(node.cluster)
        node.start()
    try:
        yield node
    finally:
        stop_in_background("the scale scenarios' RabbitMQ cluster", node.stop)


@pytest.fixture
def vhost(cluster: RabbitCluster) -> Iterator[str]:
    """A fresh vhost on the cluster, deleted afterwards (a stopped node started first)."""
    name = cluster.add_vhost()
    try:
        yield name
    finally:
        for n in sorted(cluster.stopped):
            cluster.start_node(n)
        cluster.delete_vhost(name)


@pytest.fixture(scope="session")
def own_postgres() -> Iterator[str]:
    """A PostgreSQL of the scenarios' own, for the workers' shared ledger; its DSN."""
    with private_postgres(SCALE / "postgres", POSTGRES_PORT) as dsn:
        yield dsn


@pytest.fixture
async def ledger_dsn(own_postgres: str) -> AsyncIterator[str]:
    """A new database for one scenario's shared ledger, dropped afterwards; its DSN."""
    name = f"scale_{uuid.uuid4().hex[:12]}"
    admin = await asyncpg.connect(own_postgres)
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
        yield str(URL(own_postgres).with_path(f"/{name}"))
    finally:
        with contextlib.suppress(asyncpg.PostgresError):
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


@pytest.fixture
async def partnership(
    cluster: RabbitCluster,
    vhost: str,
    keyrings: dict[str, PartyKeyring],
    directory: KeyDirectory,
    tmp_path: Path,
) -> AsyncIterator[Partnership]:
    """The parties of one scenario on a fresh vhost of the cluster; closed afterwards."""
    policy = load_default_policy()
    async with AsyncExitStack() as stack:
        yield Partnership(cluster, vhost, keyrings, directory, policy, tmp_path, stack)
