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
- at most ``prefetch`` unsettled deliveries per consumer;
- a consumer going away returns its unsettled deliveries to the head of the queue
  in their order (as RabbitMQ 3.10 quorum queues do when a channel closes);
- queue numbers (:class:`~hub.broker.base.QueueStats`): ready, unacked, consumers,
  the head message's age from its publish time, and publish and deliver rates over
  the last :data:`RATE_WINDOW` seconds; and a browse that takes messages unacked
  and gives them back, in order, as :mod:`hub.broker.amqp` does.

Not modelled: persistence across a process (a node lives as long as its object),
length limits, and the push of deliveries into a consumer's buffer before it asks
(a consumer here takes a message when it iterates, which is still bounded by
``prefetch`` and loses nothing).
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import time
from collections import deque
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Final, Self

from hub.broker.base import (
    READ_LOG_SECONDS,
    BrokerError,
    BrokerErrorCode,
    IncomingMessage,
    Outcome,
    QueueStats,
    readable_headers,
)
from hub.broker.topology import (
    Binding,
    DeadLetterStrategy,
    Exchange,
    ExchangeType,
    Queue,
    QueueType,
    Topology,
)

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Callable, Mapping, Sequence
    from types import TracebackType

    from hub.broker.base import HeaderValue, OutgoingMessage

#: Seconds over which the publish and deliver rates are averaged.
RATE_WINDOW: Final = 5.0
#: Events kept per queue for the rates: enough for 2000 messages a second.
_RATE_EVENTS: Final = 10_000


def _utcnow() -> datetime:
    return datetime.now(UTC)


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
    timestamp: datetime | None = None


def _events() -> deque[float]:
    return deque(maxlen=_RATE_EVENTS)


def _rate(events: deque[float], now: float) -> float:
    while events and events[0] < now - RATE_WINDOW:
        events.popleft()
    return len(events) / RATE_WINDOW


@dataclass(eq=False)
class _MemoryQueue:
    spec: Queue
    ready: deque[_Stored] = field(default_factory=deque)
    consumers: int = 0
    unacked: int = 0
    published: deque[float] = field(default_factory=_events)
    published_total: int = 0
    delivered: deque[float] = field(default_factory=_events)
    #: Dead-lettered at least once but not routable yet: kept, as RabbitMQ keeps them.
    stranded: list[_Stored] = field(default_factory=list)
    #: A stream's messages, by offset: reading takes nothing out.
    log: list[_Stored] = field(default_factory=list)
    waiters: set[asyncio.Future[None]] = field(default_factory=set)

    def wake(self) -> None:
        for waiter in self.waiters:
            if not waiter.done():
                waiter.set_result(None)
        self.waiters.clear()


class MemoryNode:
    """The state of one in-memory broker node, shared by its connections."""

    def __init__(self, clock: Callable[[], datetime] = _utcnow) -> None:
        """Start empty, like a fresh vhost.

        Args:
            clock: the time stamped on published messages (their ``timestamp``).
        """
        self.clock = clock
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
        now = time.monotonic()
        for queue in targets:
            if queue.spec.type is QueueType.STREAM:
                queue.log.append(message)
            else:
                queue.ready.append(message)
            queue.published.append(now)
            queue.published_total += 1
            queue.wake()
        return bool(targets)

    def stats(self, name: str) -> QueueStats:
        """Return the numbers of the queue called ``name``.

        Raises:
            KeyError: there is no such queue.
        """
        queue = self.queues[name]
        if queue.spec.type is QueueType.STREAM:
            return QueueStats(name, len(queue.log), 0, 0, published=queue.published_total)
        head = queue.ready[0].timestamp if queue.ready else None
        oldest = None if head is None else max(0.0, (self.clock() - head).total_seconds())
        now = time.monotonic()
        return QueueStats(
            queue=name,
            ready=len(queue.ready),
            unacked=queue.unacked,
            consumers=queue.consumers,
            oldest_seconds=oldest,
            publish_rate=_rate(queue.published, now),
            deliver_rate=_rate(queue.delivered, now),
            published=queue.published_total,
        )

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


async def _nothing_to_settle(outcome: Outcome) -> None:
    del outcome  # reading a stream takes nothing out: an ack only says it was read


def _read(message: _Stored, offset: int) -> IncomingMessage:
    """A message of a stream as a reader gets it, with its offset."""
    return IncomingMessage(
        body=message.body,
        headers={**readable_headers(message.headers), "x-stream-offset": offset},
        message_id=message.message_id,
        user_id=message.user_id,
        routing_key=message.routing_key,
        exchange=message.exchange,
        redelivered=False,
        delivery_count=0,
        persistent=True,
        settle=_nothing_to_settle,
        timestamp=message.timestamp,
    )


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
            timestamp=self.node.clock(),
        )
        if not self.node.enqueue(stored):
            raise BrokerError(BrokerErrorCode.UNROUTABLE, f"no queue bound on {message.exchange}")

    async def queue_stats(self, queues: Sequence[str]) -> dict[str, QueueStats]:
        """Return the numbers of each of ``queues`` that exists, by name.

        Raises:
            BrokerError: ``broker.unavailable``.
        """
        self._check_open()
        return {name: self.node.stats(name) for name in queues if name in self.node.queues}

    @contextlib.asynccontextmanager
    async def browse(self, queue: str, limit: int) -> AsyncIterator[Sequence[IncomingMessage]]:
        """Take up to ``limit`` messages from the head of ``queue``, unacknowledged.

        On leaving, every one not settled inside the block goes back to the head,
        in order, one delivery counted each (as on RabbitMQ; see :mod:`hub.broker.amqp`).

        Raises:
            BrokerError: ``broker.not_found`` or ``broker.unavailable``.
            ValueError: ``limit`` is below 1.
        """
        if limit < 1:
            raise ValueError("limit must be at least 1")
        async with MemoryConsumer(self, queue, limit, counted=False) as getter:
            yield getter.take_ready(limit)

    async def read_log(
        self,
        queue: str,
        after: int | None,
        until: Callable[[IncomingMessage], bool],
        *,
        within: float = READ_LOG_SECONDS,
    ) -> list[IncomingMessage]:
        """Read the stream ``queue`` after offset ``after`` until ``until`` holds (inclusive).

        The node's log is complete when this is called, so ``within`` is not waited:
        a log that ends before ``until`` holds fails at once, as RabbitMQ would after it.

        Raises:
            BrokerError: ``broker.not_found`` (no such stream) or ``broker.unavailable``.
        """
        del within
        self._check_open()
        found = self.node.queues.get(queue)
        if found is None or found.spec.type is not QueueType.STREAM:
            raise BrokerError(BrokerErrorCode.NOT_FOUND, f"no stream {queue}")
        read: list[IncomingMessage] = []
        for offset in range(0 if after is None else after + 1, len(found.log)):
            message = _read(found.log[offset], offset)
            read.append(message)
            if until(message):
                return read
        raise BrokerError(BrokerErrorCode.UNAVAILABLE, f"{queue} ended before the mark looked for")

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
        if found.spec.type is QueueType.STREAM:
            raise BrokerError(BrokerErrorCode.REFUSED, "a stream is read with read_log")
        self._consumers.add(consumer)
        if consumer.counted:
            found.consumers += 1
        return found

    def _detach(self, consumer: MemoryConsumer) -> None:
        if consumer in self._consumers and consumer.counted:
            found = self.node.queues.get(consumer.queue_name)
            if found is not None:
                found.consumers -= 1
        self._consumers.discard(consumer)


class MemoryConsumer:
    """Deliveries from one queue of a :class:`MemoryBroker`."""

    _tags = itertools.count(1)

    def __init__(
        self, broker: MemoryBroker, queue: str, prefetch: int, *, counted: bool = True
    ) -> None:
        """Prepare to consume ``queue``; consuming starts on entry or first iteration.

        ``counted``: whether it shows in the queue's consumers (a browse, like
        ``basic.get``, does not).
        """
        self._broker = broker
        self.queue_name = queue
        self.prefetch = prefetch
        self.counted = counted
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

    def waiting(self) -> int:
        """Messages ready in the queue that fit under ``prefetch`` now."""
        if self._closed or self._queue is None:
            return 0
        return min(len(self._queue.ready), max(0, self.prefetch - len(self._unsettled)))

    def take_ready(self, limit: int) -> list[IncomingMessage]:
        """Take up to ``limit`` messages waiting now, without waiting (``basic.get``)."""
        queue = self._start()
        taken: list[IncomingMessage] = []
        while queue.ready and len(taken) < limit and not self._closed:
            taken.append(self._deliver(queue.ready.popleft()))
        return taken

    def _deliver(self, message: _Stored) -> IncomingMessage:
        tag = next(self._tags)
        self._unsettled[tag] = message
        if self._queue is not None:
            self._queue.unacked += 1
            self._queue.delivered.append(time.monotonic())

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
            timestamp=message.timestamp,
        )

    async def _settle(self, tag: int, outcome: Outcome) -> None:
        message = self._unsettled.pop(tag, None)
        if message is None or self._queue is None:
            raise BrokerError(BrokerErrorCode.STALE_DELIVERY, "the consumer is closed")
        self._queue.unacked -= 1
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
            self._queue.unacked -= len(unsettled)
            # Each goes back to the head: the last first, so the first ends up first.
            for message in reversed(unsettled.values()):
                self._broker.node.give_back(self._queue, message)
            self._queue.wake()
