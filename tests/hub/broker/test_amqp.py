"""The RabbitMQ broker's own promises: bounded waits, reconnection, no secrets in errors."""

from __future__ import annotations

import asyncio
import time
from typing import TYPE_CHECKING

import pytest
from yarl import URL

from hub.broker.amqp import AmqpBroker
from hub.broker.base import BrokerError, BrokerErrorCode
from hub.broker.testing import (
    BrokerHarness,
    TcpProxy,
    ingress_message,
    next_delivery,
    no_delivery_within,
    unique_names,
)

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

    from hub.broker.base import Broker, OutgoingMessage

RETRYABLE = frozenset({BrokerErrorCode.UNAVAILABLE, BrokerErrorCode.UNCONFIRMED})


async def test_connecting_to_nothing_fails_fast_without_the_password() -> None:
    """A broker that is not there gives ``broker.unavailable``, naming no credential."""
    broker = AmqpBroker("amqp://hub:s3cret-pw@127.0.0.1:1/hub-test", connect_timeout=2.0)
    with pytest.raises(BrokerError) as caught:
        await broker.connect()
    assert caught.value.code is BrokerErrorCode.UNAVAILABLE
    assert "s3cret-pw" not in str(caught.value)


async def test_publishing_before_connecting_fails() -> None:
    """Publishing without a connection raises ``broker.unavailable`` rather than waiting."""
    broker = AmqpBroker("amqp://hub:pw@127.0.0.1:1/hub-test")
    with pytest.raises(BrokerError) as caught:
        await broker.publish(ingress_message(unique_names()))
    assert caught.value.code is BrokerErrorCode.UNAVAILABLE


@pytest.fixture
async def proxy(rabbit: BrokerHarness) -> AsyncIterator[TcpProxy]:
    """A proxy in front of the test RabbitMQ."""
    target = URL(rabbit.url)
    proxy = TcpProxy(target.host or "127.0.0.1", target.port or 5672)
    await proxy.start()
    try:
        yield proxy
    finally:
        await proxy.close()


async def through(rabbit: BrokerHarness, proxy: TcpProxy, confirm_timeout: float) -> Broker:
    """A connection through ``proxy`` with the harness's topology applied."""
    port = await proxy.start()
    url = str(URL(rabbit.url).with_port(port))
    broker = await rabbit.connect(url=url, confirm_timeout=confirm_timeout, reconnect_interval=0.2)
    await broker.apply(rabbit.topology())
    return broker


async def publish_eventually(broker: Broker, message: OutgoingMessage) -> None:
    """Publish, retrying what a reconnection interrupts, for at most 15 seconds."""
    async with asyncio.timeout(15):
        while True:
            try:
                await broker.publish(message)
            except BrokerError as error:
                if error.code not in RETRYABLE:
                    raise
                await asyncio.sleep(0.2)
            else:
                return


@pytest.mark.rabbitmq
async def test_a_confirm_that_cannot_arrive_raises_in_bounded_time(
    rabbit: BrokerHarness, proxy: TcpProxy
) -> None:
    """With the link silent, publish raises ``broker.unconfirmed`` after its timeout, not never."""
    broker = await through(rabbit, proxy, confirm_timeout=0.5)
    proxy.hold()
    started = time.monotonic()
    with pytest.raises(BrokerError) as caught:
        await broker.publish(ingress_message(rabbit.names, user_id=rabbit.user))
    assert caught.value.code is BrokerErrorCode.UNCONFIRMED
    assert time.monotonic() - started < 3
    proxy.release()


@pytest.mark.rabbitmq
async def test_the_connection_recovers_after_a_cut(rabbit: BrokerHarness, proxy: TcpProxy) -> None:
    """After the link is cut, publishing works again and the consumer resumes, redelivering."""
    broker = await through(rabbit, proxy, confirm_timeout=2.0)
    first, second = ingress_message(rabbit.names), ingress_message(rabbit.names)
    await broker.publish(first)
    async with broker.consume(rabbit.names.ingress_queue, prefetch=1) as consumer:
        held = await next_delivery(consumer)
        await proxy.cut()
        await publish_eventually(broker, second)
        again = await next_delivery(consumer, 15)
        assert (again.message_id, again.redelivered) == (first.message_id, True)
        with pytest.raises(BrokerError) as caught:
            await held.ack()
        assert caught.value.code is BrokerErrorCode.STALE_DELIVERY
        await again.ack()
        last = await next_delivery(consumer)
        assert last.message_id == second.message_id
        await last.ack()
        assert await no_delivery_within(consumer)
