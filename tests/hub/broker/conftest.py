"""One behaviour suite, two brokers: the in-memory one always, RabbitMQ when configured.

Set ``HUB_TEST_AMQP_URL`` (``deploy/dev/rabbitmq.sh start DIR PORT`` prints one) to
run the ``rabbitmq`` cases; without it they skip, unless ``HUB_REQUIRE_SERVICES=1``,
when they fail. Each test gets its own names and deletes what it declared.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from services import amqp_url

from hub.broker.testing import BrokerHarness

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

HERE = Path(__file__).parent


def pytest_configure(config: pytest.Config) -> None:
    """Register the ``rabbitmq`` marker for these tests."""
    config.addinivalue_line("markers", "rabbitmq: needs a real RabbitMQ (HUB_TEST_AMQP_URL)")


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark the RabbitMQ cases of the ``harness`` fixture ``rabbitmq``.

    Marked here rather than with ``pytest.param(marks=...)``: this conftest is imported
    before its ``pytest_configure`` registers the marker when pytest starts from
    ``tests/``, and ``--strict-markers`` would refuse it at import.
    """
    for item in items:
        callspec = getattr(item, "callspec", None)
        if (
            item.path.is_relative_to(HERE)
            and callspec is not None
            and callspec.params.get("harness") == "rabbitmq"
        ):
            item.add_marker("rabbitmq")


@pytest.fixture(params=["memory", "rabbitmq"])
async def harness(request: pytest.FixtureRequest) -> AsyncIterator[BrokerHarness]:
    """A broker to test: in memory, and RabbitMQ when ``HUB_TEST_AMQP_URL`` is set."""
    if request.param == "memory":
        harness = BrokerHarness("memory")
    else:
        harness = BrokerHarness("rabbitmq", url=amqp_url())
    try:
        yield harness
    finally:
        await harness.cleanup()


@pytest.fixture
async def rabbit() -> AsyncIterator[BrokerHarness]:
    """A RabbitMQ harness only, for the AMQP broker's own tests."""
    harness = BrokerHarness("rabbitmq", url=amqp_url())
    try:
        yield harness
    finally:
        await harness.cleanup()
