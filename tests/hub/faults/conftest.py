"""Fault scenarios: a RabbitMQ node of their own, one broker user per party, a partnership.

Faults stop and restart nodes, so these tests never touch the shared services'
nodes: they start their own RabbitMQ on ``127.0.0.1:10780`` (and, for the ledger
outage, their own PostgreSQL on ``127.0.0.1:15480``) with ``deploy/dev/*.sh``, in
folders under ``/tmp/faults/``, and stop them at the end of the session. The shared
PostgreSQL (``HUB_TEST_POSTGRES_DSN``) holds the ledgers the faults do not target,
each in a schema or database of its own. They run where the services of `make
test` run (``HUB_TEST_AMQP_URL`` and ``HUB_TEST_POSTGRES_DSN`` set), skip otherwise,
and fail under ``HUB_REQUIRE_SERVICES=1``.

The parties, the checks and the worker helpers live in ``tests/scenarios.py``
(shared with the scale tests); the test files import them from here as before.
Each test gets a vhost of its own, deleted afterwards.
"""

from __future__ import annotations

import secrets
from contextlib import AsyncExitStack
from pathlib import Path
from typing import TYPE_CHECKING, Final

import pytest
from scenarios import (
    AGENCIES,
    ARRIVAL_SECONDS,
    DELIVERY_LIMIT,
    DEPLOY,
    LIMITS,
    PARTIES,
    QUIET_SECONDS,
    Inbox,
    Partnership,
    RabbitNode,
    assert_each_once,
    assert_ledger,
    by_author,
    drain,
    entitled,
    environment,
    load_default_policy,
    mark_scenarios,
    private_postgres,
    publish_all,
    queue_depth,
    running,
    wait_for,
)
from services import amqp_url, stop_in_background

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Iterator

    from hub.crypto.keys import KeyDirectory, PartyKeyring

__all__ = [
    "AGENCIES",
    "ARRIVAL_SECONDS",
    "DELIVERY_LIMIT",
    "DEPLOY",
    "LIMITS",
    "POSTGRES_PORT",
    "QUIET_SECONDS",
    "Inbox",
    "Partnership",
    "RabbitNode",
    "assert_each_once",
    "assert_ledger",
    "by_author",
    "drain",
    "entitled",
    "environment",
    "publish_all",
    "queue_depth",
    "running",
    "wait_for",
]

FAULTS: Final = Path("/tmp/faults")  # noqa: S108 - the folder these nodes are given
RABBITMQ_PORT: Final = 10780
POSTGRES_PORT: Final = 15480
HERE: Final = Path(__file__).resolve().parent


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark the fault scenarios: the test files of this folder but the fast one."""
    mark_scenarios(items, HERE, fast=("test_transient.py",))


@pytest.fixture(scope="session")
def rabbit_node() -> Iterator[RabbitNode]:
    """The scenarios' RabbitMQ node, started once and stopped at the end."""
    amqp_url()  # skips, or fails under HUB_REQUIRE_SERVICES=1, as every service test does
    FAULTS.mkdir(exist_ok=True)
    node = RabbitNode(FAULTS / "rabbitmq", RABBITMQ_PORT)
    node.passwords = {party: secrets.token_hex(12) for party in PARTIES}
    node.start()
    try:
        yield node
    finally:
        stop_in_background("the fault scenarios' RabbitMQ node", node.stop)


@pytest.fixture
def vhost(rabbit_node: RabbitNode) -> Iterator[str]:
    """A fresh vhost on the scenarios' node, deleted afterwards."""
    name = rabbit_node.add_vhost()
    try:
        yield name
    finally:
        rabbit_node.start()  # a scenario may have left it stopped after a failure
        rabbit_node.delete_vhost(name)


@pytest.fixture(scope="session")
def own_postgres() -> Iterator[str]:
    """A PostgreSQL of the scenarios' own, to take away; its DSN."""
    with private_postgres(FAULTS / "postgres", POSTGRES_PORT) as dsn:
        yield dsn


@pytest.fixture
async def partnership(
    rabbit_node: RabbitNode,
    vhost: str,
    keyrings: dict[str, PartyKeyring],
    directory: KeyDirectory,
    tmp_path: Path,
) -> AsyncIterator[Partnership]:
    """The parties of one scenario on a fresh vhost; everything closed afterwards."""
    policy = load_default_policy()
    async with AsyncExitStack() as stack:
        yield Partnership(rabbit_node, vhost, keyrings, directory, policy, tmp_path, stack)
