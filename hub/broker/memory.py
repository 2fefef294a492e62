"""An in-memory broker with the semantics of RabbitMQ 3.10 quorum queues that matter.

For the demo, development and fast tests (ARCHITECTURE section 7; modelled on
FastStream's rabbit ``TestBroker`` and python-tuf's repository simulator). A
:class:`MemoryNode` is the server: exchanges, queues, bindings and messages. Each
:class:`MemoryBroker` is one connection to it, so a test can close a connection and
open another on the same node, as it would with RabbitMQ.

Modelled, and tested against RabbitMQ by the same suite:

- direct and fanout routing by bindings; mandatory publishing (unroutable raises);
- ``user_id`` must equal the connection's user, as RabbitMQ checks it;
- re-declaring a name with other arguments is a conflict;
- manual settlement; a return (reject with requeue, or the consumer going away)
  counts a delivery: the message comes back ``redelivered`` with
  ``x-delivery-count`` one higher, and past the queue's delivery limit it is
  dead-lettered instead, with ``x-first-death-*`` headers;
- at most ``prefetch`` unsettled deliveries per consumer.

Not modelled: persistence across a process (a node lives as long as its object),
length limits, and the push of deliveries into a consumer's buffer before it asks
(a consumer here takes a message when it iterates, which is still bounded by
``prefetch`` and loses nothing).
"""

from __future__ import annotations

import asyncio
import itertools
from collections import deque
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Self

from hub.broker.base import (
    BrokerError,
    BrokerErrorCode,
    IncomingMessage,
    Outcome,
    readable_headers,
)
from hub.broker.topology import (
    Binding,
    DeadLetterStrategy,
    Exchange,
    ExchangeType,
    Queue,
    Topology,
)

if TYPE_CHECKING:
    from collections.abc import Mapping
    from types import TracebackType

    from hub.broker.base import HeaderValue, OutgoingMessage


@dataclass(frozen=True)
class _Stored:
    """One message in one queue."""

    body: bytes
    headers: Mapping[str, HeaderValue]
    message_id: str | None
    user_id: str | None
    routing_key: str
    exchange: str
    delivery_count: int = 0
    redelivered: bool = False


@dataclass(eq=False)
class _MemoryQueue:
    spec: Queue
    ready: deque[_Stored] = field(default_factory=deque)
    #: Dead-lettered at least once but not routable yet: kept, as RabbitMQ keeps them.
    stranded: list[_Stored] = field(default_factory=list)
    waiters: set[asyncio.Future[None]] = field(default_factory=set)

    def wake(self) -> None:
        for waiter in self.waiters:
            if not waiter.done():
                waiter.set_result(None)
        self.waiters.clear()


class MemoryNode:
    """The state of one in-memory broker node, shared by its connections."""

    def __init__(self) -> None:
        """Start empty, like a fresh vhost."""
        self.exchanges: dict[str, Exchange] = {}
        self.queues: dict[str, _MemoryQueue] = {}
        self.bindings: set[Binding] = set()

    def declare(self, topology: Topology) -> None:
        """Declare every exchange, queue and binding of ``topology``.

        Raises:
            BrokerError: ``broker.topology_conflict``.
        """
        for exchange in topology.exchanges:
            known = self.exchanges.setdefault(exchange.name, exchange)
            if known != exchange:
                raise _conflict(exchange.name)
        for queue in topology.queues:
            known_queue = self.queues.setdefault(queue.name, _MemoryQueue(queue))
            if known_queue.spec.arguments() != queue.arguments():
                raise _conflict(queue.name)
        self.bindings.update(topology.bindings)
        for memory_queue in self.queues.values():
            stranded, memory_queue.stranded = memory_queue.stranded, []
            for message in stranded:
                self._dead_letter(memory_queue, message, "")

    def route(self, exchange_name: str, routing_key: str) -> list[_MemoryQueue]:
        """Return the queues a message published to ``exchange_name`` reaches.

        Raises:
            BrokerError: ``broker.not_found`` when there is no such exchange.
        """
        exchange = self.exchanges.get(exchange_name)
        if exchange is None:
            raise BrokerError(BrokerErrorCode.NOT_FOUND, f"no exchange {exchange_name}")
        fanout = exchange.type is ExchangeType.FANOUT
        names = sorted(
            b.queue
            for b in self.bindings
            if b.exchange == exchange_name and (fanout or b.routing_key == routing_key)
        )
        return [self.queues[name] for name in names]

    def enqueue(self, message: _Stored) -> bool:
        """Put ``message`` in every queue its exchange routes it to; False if none."""
        targets = self.route(message.exchange, message.routing_key)
        for queue in targets:
            queue.ready.append(message)
            queue.wake()
        return bool(targets)

    def give_back(self, queue: _MemoryQueue, message: _Stored) -> None:
        """Return an unsettled delivery: one more delivery counted, or dead-lettered."""
        returned = replace(message, delivery_count=message.delivery_count + 1, redelivered=True)
        limit = queue.spec.delivery_limit
        if limit is not None and returned.delivery_count > limit:
            self._dead_letter(queue, message, "delivery_limit")
            return
        # RabbitMQ 3.10 quorum queues return a message near the head of the queue.
        queue.ready.appendleft(returned)
        queue.wake()

    def reject(self, queue: _MemoryQueue, message: _Stored) -> None:
        """Dead-letter a delivery its consumer rejected without requeue."""
        self._dead_letter(queue, message, "rejected")

    def _dead_letter(self, queue: _MemoryQueue, message: _Stored, reason: str) -> None:
        target = queue.spec.dead_letter
        if target is None:
            return
        headers = dict(message.headers)
        if reason and "x-first-death-reason" not in headers:
            headers["x-first-death-reason"] = reason
            headers["x-first-death-queue"] = queue.spec.name
            headers["x-first-death-exchange"] = message.exchange
        dead = replace(message, headers=headers, delivery_count=0, redelivered=False)
        routed = (
            self.route(target.exchange, dead.routing_key)
            if target.exchange in self.exchanges
            else []
        )
        for goal in routed:
            goal.ready.append(dead)
            goal.wake()
        if not routed and target.strategy is DeadLetterStrategy.AT_LEAST_ONCE:
            queue.stranded.append(dead)


def _conflict(name: str) -> BrokerError:
    return BrokerError(BrokerErrorCode.TOPOLOGY_CONFLICT, f"{name} exists with other arguments")


class MemoryBroker:
    """One connection to a :class:`MemoryNode`; a :class:`~hub.broker.base.Broker`."""

    def __init__(self, node: MemoryNode | None = None, *, user: str = "hub") -> None:
        """Make a connection, not yet open.

        Args:
            node: the node to connect to; a new, empty one by default.
            user: the connection's user, which ``user_id`` must equal when set.
        """
        self.node = node if node is not None else MemoryNode()
        self.user = user
        self._open = False
        self._consumers: set[MemoryConsumer] = set()

    async def connect(self) -> None:
        """Open the connection (idempotent)."""
        self._open = True

    async def close(self) -> None:
        """Close every consumer, returning their unsettled deliveries, then the connection."""
        for consumer in list(self._consumers):
            await consumer.aclose()
        self._open = False

    async def __aenter__(self) -> Self:
        """Connect."""
        await self.connect()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        """Close."""
        await self.close()

    def _check_open(self) -> None:
        if not self._open:
            raise BrokerError(BrokerErrorCode.UNAVAILABLE, "connection is not open")

    async def apply(self, topology: Topology) -> None:
        """Declare ``topology`` on the node; applying it again changes nothing.

        Raises:
            BrokerError: ``broker.topology_conflict`` or ``broker.unavailable``.
        """
        self._check_open()
        self.node.declare(topology)

    async def publish(self, message: OutgoingMessage) -> None:
        """Route ``message`` to its queues; once this returns it is "confirmed".

        Raises:
            BrokerError: ``broker.unavailable``, ``broker.not_found``,
                ``broker.refused`` (``user_id`` is not this connection's user) or
                ``broker.unroutable``.
        """
        self._check_open()
        if message.user_id is not None and message.user_id != self.user:
            raise BrokerError(BrokerErrorCode.REFUSED, "user_id is not the connection's user")
        stored = _Stored(
            message.body,
            dict(message.headers),
            message.message_id,
            message.user_id,
            message.routing_key,
            message.exchange,
        )
        if not self.node.enqueue(stored):
            raise BrokerError(BrokerErrorCode.UNROUTABLE, f"no queue bound on {message.exchange}")

    def consume(self, queue: str, prefetch: int) -> MemoryConsumer:
        """Return a consumer of ``queue`` with at most ``prefetch`` unsettled deliveries.

        Raises:
            ValueError: ``prefetch`` is below 1.
        """
        if prefetch < 1:
            raise ValueError("prefetch must be at least 1")
        return MemoryConsumer(self, queue, prefetch)

    def _attach(self, consumer: MemoryConsumer) -> _MemoryQueue:
        self._check_open()
        found = self.node.queues.get(consumer.queue_name)
        if found is None:
            raise BrokerError(BrokerErrorCode.NOT_FOUND, f"no queue {consumer.queue_name}")
        self._consumers.add(consumer)
        return found

    def _detach(self, consumer: MemoryConsumer) -> None:
        self._consumers.discard(consumer)


class MemoryConsumer:
    """Deliveries from one queue of a :class:`MemoryBroker`."""

    _tags = itertools.count(1)

    def __init__(self, broker: MemoryBroker, queue: str, prefetch: int) -> None:
        """Prepare to consume ``queue``; consuming starts on entry or first iteration."""
        self._broker = broker
        self.queue_name = queue
        self.prefetch = prefetch
        self._queue: _MemoryQueue | None = None
        self._unsettled: dict[int, _Stored] = {}
        self._closed = False

    async def __aenter__(self) -> Self:
        """Start consuming.

        Raises:
            BrokerError: ``broker.not_found`` or ``broker.unavailable``.
        """
        self._start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        """Close, as :meth:`aclose`."""
        await self.aclose()

    def __aiter__(self) -> Self:
        """Return this consumer."""
        return self

    def _start(self) -> _MemoryQueue:
        if self._queue is None:
            self._queue = self._broker._attach(self)  # noqa: SLF001 (one room, two classes)
        return self._queue

    async def __anext__(self) -> IncomingMessage:
        """Wait for the next delivery while fewer than ``prefetch`` are unsettled.

        Raises:
            StopAsyncIteration: the consumer is closed.
        """
        queue = self._start()
        while True:
            if self._closed:
                raise StopAsyncIteration
            if len(self._unsettled) < self.prefetch and queue.ready:
                return self._deliver(queue.ready.popleft())
            waiter = asyncio.get_running_loop().create_future()
            queue.waiters.add(waiter)
            try:
                await waiter
            finally:
                queue.waiters.discard(waiter)

    def _deliver(self, message: _Stored) -> IncomingMessage:
        tag = next(self._tags)
        self._unsettled[tag] = message

        async def settle(outcome: Outcome) -> None:
            await self._settle(tag, outcome)

        return IncomingMessage(
            body=message.body,
            headers={
                **readable_headers(message.headers),
                "x-delivery-count": message.delivery_count,
            },
            message_id=message.message_id,
            user_id=message.user_id,
            routing_key=message.routing_key,
            exchange=message.exchange,
            redelivered=message.redelivered,
            delivery_count=message.delivery_count,
            persistent=True,
            settle=settle,
        )

    async def _settle(self, tag: int, outcome: Outcome) -> None:
        message = self._unsettled.pop(tag, None)
        if message is None or self._queue is None:
            raise BrokerError(BrokerErrorCode.STALE_DELIVERY, "the consumer is closed")
        if outcome is Outcome.REQUEUE:
            self._broker.node.give_back(self._queue, message)
        elif outcome is Outcome.DEAD_LETTER:
            self._broker.node.reject(self._queue, message)
        self._queue.wake()

    async def aclose(self) -> None:
        """Stop consuming; unsettled deliveries return to the queue (idempotent)."""
        if self._closed:
            return
        self._closed = True
        self._broker._detach(self)  # noqa: SLF001 (one room, two classes)
        unsettled, self._unsettled = self._unsettled, {}
        if self._queue is not None:
            for message in unsettled.values():
                self._broker.node.give_back(self._queue, message)
            self._queue.wake()
