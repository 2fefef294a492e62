"""Queue numbers and browsing: the same answers from the memory node and from RabbitMQ."""

from __future__ import annotations

import asyncio
import base64
import os
from typing import TYPE_CHECKING

import pytest
from services import amqp_url, dev_script
from structlog.testing import capture_logs

from hub.broker.amqp import AmqpBroker
from hub.broker.base import BrokerError, QueueInspector, QueueStats
from hub.broker.management import ManagementClient, queue_stats
from hub.broker.memory import MemoryBroker
from hub.broker.testing import BrokerHarness, ingress_message

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

    from hub.broker.base import Broker


def management_url() -> str:
    """The management API of the test node (``rabbitmq.sh management-url``)."""
    amqp_url()  # skips (or fails) as every RabbitMQ test does
    folder = os.environ.get("HUB_TEST_RABBITMQ_DIR", "")
    if not folder:
        pytest.skip("management tests need HUB_TEST_RABBITMQ_DIR")
    return dev_script("rabbitmq.sh", "management-url", folder, timeout=30)


@pytest.fixture(params=["memory", "rabbitmq"])
async def inspected(
    request: pytest.FixtureRequest,
) -> AsyncIterator[tuple[BrokerHarness, Broker, QueueInspector]]:
    """A harness, a connection with the default topology and the same connection to inspect."""
    if request.param == "memory":
        harness = BrokerHarness("memory")
        broker: Broker = await harness.connect()
        assert isinstance(broker, MemoryBroker)
        inspector: QueueInspector = broker
    else:
        harness = BrokerHarness("rabbitmq", url=amqp_url())
        amqp = AmqpBroker(harness.url, connect_timeout=5.0, management_url=management_url())
        harness.brokers.append(amqp)
        await amqp.connect()
        broker = inspector = amqp
    await broker.apply(harness.topology())
    try:
        yield harness, broker, inspector
    finally:
        await harness.cleanup()


async def _settled_stats(
    inspector: QueueInspector, queue: str, ready: int, consumers: int
) -> QueueStats:
    """Poll until ``queue`` shows ``ready``, ``consumers`` and a publish rate.

    RabbitMQ samples every 5 s, and the message counts, the consumer count and the
    message rates come from separate samples: one may be in an answer without another.
    """
    async with asyncio.timeout(30):
        while True:
            stats = (await inspector.queue_stats([queue])).get(queue)
            if (
                stats is not None
                and (stats.ready, stats.consumers) == (ready, consumers)
                and stats.publish_rate is not None
            ):
                return stats
            await asyncio.sleep(0.5)


async def test_numbers_of_a_queue_with_known_depth_and_a_consumer(
    inspected: tuple[BrokerHarness, Broker, QueueInspector],
) -> None:
    """Five published, one held by a consumer with prefetch 1: 4 ready, 1 unacked, 1 consumer."""
    harness, broker, inspector = inspected
    queue = harness.names.ingress_queue
    for _ in range(5):
        await broker.publish(ingress_message(harness.names, user_id=harness.user))
    async with broker.consume(queue, prefetch=1) as consumer:
        held = await asyncio.wait_for(anext(consumer), 5)
        stats = await _settled_stats(inspector, queue, ready=4, consumers=1)
        assert stats.unacked == 1
        assert stats.publish_rate is not None
        assert stats.publish_rate >= 0
        await held.ack()
    assert harness.names.inbox("police") in await inspector.queue_stats(
        [harness.names.inbox("police"), "no.such.queue"]
    )
    assert "no.such.queue" not in await inspector.queue_stats(["no.such.queue"])


async def test_browse_gives_every_message_back_in_order(
    inspected: tuple[BrokerHarness, Broker, QueueInspector],
) -> None:
    """A browse of the first three leaves all five in place, in their order."""
    harness, broker, inspector = inspected
    queue = harness.names.quarantine
    sent = []
    for _ in range(5):
        message = ingress_message(harness.names, user_id=harness.user)
        sent.append(message.message_id)
        quarantined = type(message)(
            harness.names.quarantine, "", message.body, message.message_id, user_id=harness.user
        )
        await broker.publish(quarantined)
    async with inspector.browse(queue, 3) as seen:
        assert [m.message_id for m in seen] == sent[:3]
        assert all(m.timestamp is not None for m in seen)
    async with inspector.browse(queue, 10) as seen:
        assert [m.message_id for m in seen] == sent
    async with inspector.browse(queue, 10) as seen:
        await seen[1].ack()
    async with inspector.browse(queue, 10) as seen:
        assert [m.message_id for m in seen] == [sent[0], *sent[2:]]


async def test_browse_of_an_unknown_queue_is_not_found(
    inspected: tuple[BrokerHarness, Broker, QueueInspector],
) -> None:
    """Browsing a queue that does not exist raises broker.not_found."""
    harness, _, inspector = inspected
    with pytest.raises(BrokerError) as caught:
        async with inspector.browse(f"{harness.names.prefix}nothing", 1):
            pass
    assert caught.value.code.value == "broker.not_found"


def test_a_row_without_numbers_is_unknown_not_zero() -> None:
    """A queue RabbitMQ has not sampled yet has None numbers, and the age comes from the head."""
    fresh = queue_stats({"name": "q"}, now=100.0)
    assert (fresh.ready, fresh.unacked, fresh.consumers, fresh.oldest_seconds) == (
        None,
        None,
        None,
        None,
    )
    row = {
        "name": "q",
        "messages_ready": 3,
        "messages_unacknowledged": True,
        "head_message_timestamp": 40,
        "message_stats": {"publish_details": {"rate": 1.5}},
    }
    stats = queue_stats(row, now=100.0)
    assert (stats.ready, stats.unacked, stats.oldest_seconds, stats.publish_rate) == (
        3,
        None,
        60.0,
        1.5,
    )


async def test_credentials_never_appear_in_errors_or_logs() -> None:
    """An unreachable or refusing management API raises a stable code without the password."""
    secret = "s3cret-Pa55"  # noqa: S105 - a made-up password, looked for in the output
    with capture_logs() as logs:
        client = ManagementClient(f"http://hub:{secret}@127.0.0.1:9/", "v", timeout=2)
        async with client:
            with pytest.raises(BrokerError) as caught:
                await client.queue_stats(["q"])
    assert caught.value.code.value == "broker.management_unavailable"
    encoded = base64.b64encode(f"hub:{secret}".encode()).decode()
    for leak in (secret, encoded):
        assert leak not in str(caught.value)
        assert leak not in repr(caught.value.__cause__)
        assert leak not in repr(logs)


async def test_wrong_credentials_are_refused() -> None:
    """The real management API with a wrong password answers broker.management_refused."""
    url = management_url()
    wrong = url.replace("@", "x@", 1)
    async with ManagementClient(wrong, "hub-test", timeout=5) as client:
        with pytest.raises(BrokerError) as caught:
            await client.queue_stats(["q"])
    assert caught.value.code.value == "broker.management_refused"
    assert url.split("@")[0] not in str(caught.value)


async def test_amqp_without_management_url_is_not_configured() -> None:
    """An AMQP broker given no management URL says so with a stable code."""
    broker = AmqpBroker("amqp://u:p@127.0.0.1:9/v")
    with pytest.raises(BrokerError) as caught:
        await broker.queue_stats(["q"])
    assert caught.value.code.value == "broker.management_not_configured"
