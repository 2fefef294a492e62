"""Broker behaviours that the hub relies on, run against every broker in the harness."""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import replace
from typing import TYPE_CHECKING

import pytest

from hub.broker.base import BrokerError, BrokerErrorCode, HeaderValue, OutgoingMessage
from hub.broker.testing import ingress_message, next_delivery, no_delivery_within
from hub.broker.topology import QueueType, Topology

if TYPE_CHECKING:
    from collections.abc import Mapping

    from hub.broker.base import Broker
    from hub.broker.testing import BrokerHarness


def event(
    harness: BrokerHarness, party: str = "police", headers: Mapping[str, HeaderValue] | None = None
) -> OutgoingMessage:
    """An ingress message from ``party`` with the connection's user as ``user_id``."""
    return ingress_message(harness.names, party, user_id=harness.user, headers=headers)


async def ready(harness: BrokerHarness, delivery_limit: int = 2) -> tuple[Broker, Topology]:
    """A connection with this test's topology applied."""
    broker = await harness.connect()
    topology = harness.topology(delivery_limit)
    await broker.apply(topology)
    return broker, topology


async def test_topology_applies_twice_and_queues_are_quorum_with_the_limit(
    harness: BrokerHarness,
) -> None:
    """Applying the topology again is a no-op; other queue arguments are refused as conflicts."""
    broker, topology = await ready(harness, delivery_limit=3)
    await broker.apply(topology)
    ingress = topology.queue(harness.names.ingress_queue)
    assert ingress.arguments()["x-queue-type"] == "quorum"
    for changed in (
        replace(ingress, delivery_limit=4),
        replace(ingress, type=QueueType.CLASSIC, delivery_limit=None, dead_letter=None),
    ):
        conflicting = Topology(exchanges=topology.exchanges, queues=(changed,))
        with pytest.raises(BrokerError) as caught:
            await broker.apply(conflicting)
        assert caught.value.code is BrokerErrorCode.TOPOLOGY_CONFLICT
    await broker.apply(topology)


async def test_publish_consume_ack(harness: BrokerHarness) -> None:
    """A confirmed message arrives whole, with its properties, and is gone once acked."""
    broker, _ = await ready(harness)
    sent = event(harness, headers={"event-type": "ReferralReceived", "schema-version": 2})
    await broker.publish(sent)
    async with broker.consume(harness.names.ingress_queue, prefetch=5) as consumer:
        got = await next_delivery(consumer)
        assert (got.body, got.message_id, got.user_id) == (sent.body, sent.message_id, harness.user)
        assert (got.routing_key, got.exchange) == ("police", harness.names.ingress)
        assert {k: got.headers[k] for k in sent.headers} == dict(sent.headers)
        assert (got.redelivered, got.delivery_count) == (False, 0)
        await got.ack()
    async with broker.consume(harness.names.ingress_queue, prefetch=5) as again:
        assert await no_delivery_within(again)


async def test_concurrent_publishes_are_each_confirmed_and_delivered(
    harness: BrokerHarness,
) -> None:
    """Publishes in flight together on one connection are all confirmed and all arrive."""
    broker, _ = await ready(harness)
    sent = [event(harness) for _ in range(20)]
    await asyncio.gather(*(broker.publish(message) for message in sent))
    async with broker.consume(harness.names.ingress_queue, prefetch=20) as consumer:
        got = [await next_delivery(consumer) for _ in sent]
        for message in got:
            await message.ack()
    assert sorted(m.message_id or "" for m in got) == sorted(m.message_id for m in sent)


async def test_unroutable_publish_raises(harness: BrokerHarness) -> None:
    """A message no queue is bound for raises instead of vanishing (mandatory routing)."""
    broker, _ = await ready(harness)
    with pytest.raises(BrokerError) as caught:
        await broker.publish(event(harness, party="probation"))
    assert caught.value.code is BrokerErrorCode.UNROUTABLE
    await broker.publish(event(harness))


async def test_publish_to_a_missing_exchange_raises_and_the_broker_recovers(
    harness: BrokerHarness,
) -> None:
    """Publishing to an exchange that does not exist raises ``broker.not_found``, once."""
    broker, _ = await ready(harness)
    with pytest.raises(BrokerError) as caught:
        await broker.publish(replace(event(harness), exchange=f"{harness.names.prefix}nowhere"))
    assert caught.value.code is BrokerErrorCode.NOT_FOUND
    await broker.publish(event(harness))


async def test_user_id_must_be_the_connections_user(harness: BrokerHarness) -> None:
    """A ``user_id`` other than the connection's user is refused by the broker."""
    broker, _ = await ready(harness)
    with pytest.raises(BrokerError) as caught:
        await broker.publish(replace(event(harness), user_id="someone-else"))
    assert caught.value.code is BrokerErrorCode.REFUSED
    await broker.publish(event(harness))


async def test_reject_with_requeue_redelivers_with_a_rising_count(harness: BrokerHarness) -> None:
    """A requeued message comes back marked redelivered, its delivery count one higher."""
    broker, _ = await ready(harness, delivery_limit=5)
    await broker.publish(event(harness))
    async with broker.consume(harness.names.ingress_queue, prefetch=1) as consumer:
        seen = []
        for _ in range(3):
            got = await next_delivery(consumer)
            seen.append((got.redelivered, got.delivery_count))
            await got.reject(requeue=True)
        assert seen == [(False, 0), (True, 1), (True, 2)]
        await (await next_delivery(consumer)).ack()


async def test_past_the_delivery_limit_the_message_is_quarantined(harness: BrokerHarness) -> None:
    """After ``delivery_limit`` returns the message is dead-lettered to quarantine, whole."""
    broker, _ = await ready(harness, delivery_limit=2)
    sent = event(harness)
    await broker.publish(sent)
    async with broker.consume(harness.names.ingress_queue, prefetch=1) as consumer:
        for _ in range(3):
            await (await next_delivery(consumer)).reject(requeue=True)
        assert await no_delivery_within(consumer)
    async with broker.consume(harness.names.quarantine, prefetch=1) as quarantine:
        got = await next_delivery(quarantine)
        assert (got.body, got.message_id) == (sent.body, sent.message_id)
        assert got.headers["x-first-death-reason"] == "delivery_limit"
        assert got.headers["x-first-death-queue"] == harness.names.ingress_queue
        assert got.headers["event-id"] == sent.message_id
        await got.ack()


async def test_reject_without_requeue_quarantines(harness: BrokerHarness) -> None:
    """A message rejected without requeue goes straight to quarantine."""
    broker, _ = await ready(harness)
    await broker.publish(event(harness))
    async with broker.consume(harness.names.ingress_queue, prefetch=1) as consumer:
        await (await next_delivery(consumer)).reject(requeue=False)
    async with broker.consume(harness.names.quarantine, prefetch=1) as quarantine:
        got = await next_delivery(quarantine)
        assert got.headers["x-first-death-reason"] == "rejected"
        await got.ack()


async def test_prefetch_bounds_unsettled_deliveries(harness: BrokerHarness) -> None:
    """A consumer holds at most ``prefetch`` unsettled deliveries; settling one frees a slot."""
    broker, _ = await ready(harness)
    for _ in range(3):
        await broker.publish(event(harness))
    async with broker.consume(harness.names.ingress_queue, prefetch=2) as consumer:
        first, second = await next_delivery(consumer), await next_delivery(consumer)
        assert await no_delivery_within(consumer)
        await first.ack()
        third = await next_delivery(consumer)
        for message in (second, third):
            await message.ack()
        assert len({first.message_id, second.message_id, third.message_id}) == 3


async def test_waiting_counts_deliveries_at_hand(harness: BrokerHarness) -> None:
    """``waiting()`` counts deliveries the consumer can return now, within its prefetch."""
    broker, _ = await ready(harness)
    for _ in range(3):
        await broker.publish(event(harness))
    async with broker.consume(harness.names.ingress_queue, prefetch=2) as consumer:
        first = await next_delivery(consumer)
        # RabbitMQ sends the second one on its own time: look for a bounded while.
        for _ in range(1000):
            if consumer.waiting():
                break
            await asyncio.sleep(0.01)
        assert consumer.waiting() == 1  # the third is beyond the prefetch
        second = await next_delivery(consumer)
        assert consumer.waiting() == 0
        for message in (first, second):
            await message.ack()
        third = await next_delivery(consumer)
        await third.ack()
        assert consumer.waiting() == 0


async def test_unacked_messages_come_back_when_the_connection_closes(
    harness: BrokerHarness,
) -> None:
    """Deliveries left unsettled by a connection that closes are redelivered to another."""
    broker, _ = await ready(harness)
    sent = event(harness)
    await broker.publish(sent)
    consumer = broker.consume(harness.names.ingress_queue, prefetch=1)
    held = await next_delivery(consumer)
    await broker.close()
    with pytest.raises(BrokerError) as caught:
        await held.ack()
    assert caught.value.code is BrokerErrorCode.STALE_DELIVERY
    other = await harness.connect()
    async with other.consume(harness.names.ingress_queue, prefetch=1) as again:
        got = await next_delivery(again)
        assert (got.message_id, got.redelivered, got.delivery_count) == (sent.message_id, True, 1)
        await got.ack()


async def test_closing_a_consumer_returns_its_deliveries(harness: BrokerHarness) -> None:
    """A consumer closed with a delivery unsettled gives it back to the queue."""
    broker, _ = await ready(harness)
    await broker.publish(event(harness))
    async with broker.consume(harness.names.ingress_queue, prefetch=1) as consumer:
        await next_delivery(consumer)
    with pytest.raises(StopAsyncIteration):
        await anext(consumer)
    async with broker.consume(harness.names.ingress_queue, prefetch=1) as again:
        got = await next_delivery(again)
        assert got.redelivered
        await got.ack()


async def test_a_confirmed_message_survives_its_connection(harness: BrokerHarness) -> None:
    """A persistent, confirmed message is there for a connection opened after the first closed."""
    broker, _ = await ready(harness)
    sent = event(harness)
    await broker.publish(sent)
    await broker.close()
    reopened = await harness.connect()
    async with reopened.consume(harness.names.ingress_queue, prefetch=1) as consumer:
        got = await next_delivery(consumer)
        assert (got.message_id, got.redelivered, got.persistent) == (sent.message_id, False, True)
        await got.ack()


async def test_deliveries_reach_only_the_recipients_inbox(harness: BrokerHarness) -> None:
    """The deliveries exchange routes by party id to that party's inbox alone."""
    broker, _ = await ready(harness)
    decision = str(uuid.uuid4())
    await broker.publish(
        OutgoingMessage(
            exchange=harness.names.deliveries,
            routing_key="health",
            body=b"jwe",
            message_id=decision,
            headers={"decision-id": decision, "recipient": "health"},
        )
    )
    async with broker.consume(harness.names.inbox("police"), prefetch=1) as police:
        assert await no_delivery_within(police)
    async with broker.consume(harness.names.inbox("health"), prefetch=1) as health:
        got = await next_delivery(health)
        assert (got.message_id, got.user_id) == (decision, None)
        await got.ack()


async def test_settling_twice_raises(harness: BrokerHarness) -> None:
    """A delivery is settled once; a second ack or reject raises."""
    broker, _ = await ready(harness)
    await broker.publish(event(harness))
    async with broker.consume(harness.names.ingress_queue, prefetch=1) as consumer:
        got = await next_delivery(consumer)
        await got.ack()
        with pytest.raises(BrokerError) as caught:
            await got.reject(requeue=True)
        assert caught.value.code is BrokerErrorCode.ALREADY_SETTLED


async def test_consuming_a_missing_queue_raises(harness: BrokerHarness) -> None:
    """Consuming a queue that does not exist raises ``broker.not_found``."""
    broker, _ = await ready(harness)
    consumer = broker.consume(f"{harness.names.prefix}missing", prefetch=1)
    with pytest.raises(BrokerError) as caught:
        await next_delivery(consumer)
    assert caught.value.code is BrokerErrorCode.NOT_FOUND
    await consumer.aclose()
