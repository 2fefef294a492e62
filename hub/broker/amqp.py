"""The broker over a real RabbitMQ, with aio-pika.

One robust connection (``connect_robust``): when the link drops it reconnects and
reopens its channels, re-applies their QoS and restarts their consumers by itself.
Publishing uses one channel with publisher confirms and ``mandatory``; each consumer
has its own channel, so its ``prefetch`` (``basic.qos``) is its own and closing it
returns exactly its unsettled deliveries. Declarations use a short-lived channel, so
a conflict (which closes the channel it happens on) touches nothing else. A publish
waits for its confirm but not for its frame to be written, nor does an ack, so the
frames queued in one turn of the loop leave in one write (:mod:`hub.broker.frames`,
ADR 0033).

Across a reconnect: a publish whose confirm had not arrived when the link dropped
fails (aio-pika does not replay it), and the broker may or may not have stored it.
:meth:`AmqpBroker.publish` therefore raises :class:`BrokerError` instead of
returning, and it never waits longer than ``confirm_timeout`` in all, reconnecting
included. The caller keeps the message and publishes again: the adapter from its
outbox, the hub by not acknowledging the ingress message. A duplicate is harmless,
being recognised by its event or decision id (P5). Deliveries that were unsettled
when the link dropped come back redelivered; settling the stale copy raises
``broker.stale_delivery``.

With ``failover`` endpoints (the other nodes of a cluster), each connection attempt,
the first and every reconnect, goes to the next endpoint in turn, so a client whose
node stops carries on through another node of the cluster. The user, password,
vhost and options stay those of ``url``.

Every publish carries the AMQP ``timestamp`` property, so that queue views can
tell the age of a waiting message. Queue numbers come from the management HTTP
API (:mod:`hub.broker.management`) when a ``management_url`` is given; a browse
takes messages with ``basic.get`` on a channel of its own and closing that channel
gives them back, in their order, to the head of the queue (measured on 3.10
quorum queues; a ``basic.nack`` with requeue would put them at the tail).
"""

from __future__ import annotations

import asyncio
import contextlib
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Final, Self, cast

import aio_pika
import aiormq
from aio_pika import exceptions as amqp_errors
from aiormq import exceptions as aiormq_errors
from aiormq.exceptions import ChannelAccessRefused
from yarl import URL

from hub.broker.base import (
    READ_LOG_SECONDS,
    BrokerError,
    BrokerErrorCode,
    IncomingMessage,
    Outcome,
    delivery_count,
    readable_headers,
)
from hub.broker.frames import BatchedTransport
from hub.broker.management import ManagementClient

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Callable, Sequence
    from types import TracebackType

    from aio_pika.abc import AbstractChannel, AbstractIncomingMessage, AbstractRobustConnection

    from hub.broker.base import OutgoingMessage, QueueStats
    from hub.broker.topology import Topology


#: Frames written in one turn of the event loop leave in one write (:mod:`hub.broker.frames`).
BATCHED_WRITES: Final = True


class FailoverConnection(aio_pika.RobustConnection):
    """A robust connection that tries the nodes of a cluster in turn.

    aio-pika's connection reads its ``url`` once per connection attempt (its
    reconnect loop calls ``Connection.connect``, which dials ``self.url``). Here
    each read of ``url`` after the first gives the next endpoint, so an attempt
    that fails, or a link that drops, moves on to another node.
    """

    endpoints: tuple[URL, ...] = ()
    _turn: int = 0
    _current: URL | None = None

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        """As aio-pika's, with frames written in one turn of the loop sent together."""
        super().__init__(*args, **kwargs)
        if BATCHED_WRITES:
            # Passed through to aiormq's connection at every attempt (hub.broker.frames).
            self.kwargs["transport_factory"] = BatchedTransport()

    def _next_url(self) -> URL:
        """The endpoint for the next connection attempt (the first, then each in turn)."""
        endpoint = self.endpoints[self._turn % len(self.endpoints)]
        self._turn += 1
        self._current = endpoint
        return endpoint

    def _set_url(self, value: URL) -> None:
        # Connection.__init__ sets the url it was given; rotation starts from it.
        others = tuple(e for e in self.endpoints if e != value)
        self.endpoints = (value, *others)

    url = property(_next_url, _set_url)

    def __str__(self) -> str:
        """The endpoint last dialled, without its password; reading it does not rotate."""
        current = self._current or self.endpoints[0]
        return str(current.with_password("******") if current.password else current)


def endpoints(url: str, failover: Sequence[str]) -> tuple[URL, ...]:
    """``url`` first, then the same URL on each ``host:port`` of ``failover`` (pure).

    Raises:
        BrokerError: ``broker.url_invalid`` for a failover entry that is not host:port.
    """
    first = URL(url)
    found = [first]
    for entry in failover:
        host, _, port = entry.rpartition(":")
        if not host or not port.isdigit() or not 0 < int(port) < 65536:  # noqa: PLR2004
            raise BrokerError(BrokerErrorCode.URL_INVALID, "failover entries are host:port")
        found.append(first.with_host(host).with_port(int(port)))
    return tuple(found)


#: Seconds a publish may take, confirm included, before it raises ``broker.unconfirmed``.
DEFAULT_CONFIRM_TIMEOUT: Final = 10.0
#: Seconds to connect, or to declare a topology, before ``broker.unavailable``.
DEFAULT_CONNECT_TIMEOUT: Final = 10.0
#: Messages of a stream a reader holds unacked at once (a stream consumer needs a prefetch).
STREAM_PREFETCH: Final = 256


def _error(error: BaseException, name: str) -> BrokerError:
    """Translate an aio-pika / aiormq failure into a stable code (never its text)."""
    match error:
        case amqp_errors.PublishError():
            return BrokerError(BrokerErrorCode.UNROUTABLE, f"no queue bound on {name}")
        case amqp_errors.DeliveryError():
            return BrokerError(BrokerErrorCode.NACKED, f"the broker refused to store for {name}")
        case TimeoutError():
            return BrokerError(BrokerErrorCode.UNCONFIRMED, f"no answer in time for {name}")
        case amqp_errors.ChannelNotFoundEntity():
            return BrokerError(BrokerErrorCode.NOT_FOUND, f"no exchange or queue {name}")
        case amqp_errors.ChannelPreconditionFailed() | ChannelAccessRefused():
            return BrokerError(
                BrokerErrorCode.REFUSED, f"the broker refused an operation on {name}"
            )
        case _:
            return _refused_at_login(error, name) or BrokerError(
                BrokerErrorCode.UNAVAILABLE, f"the broker is unreachable ({name})"
            )


def _refused_at_login(error: BaseException, name: str) -> BrokerError | None:
    """A broker that answered but refused the URL's user, password or vhost."""
    if isinstance(
        error, aiormq_errors.AuthenticationError | aiormq_errors.ProbableAuthenticationError
    ):
        detail = f"the broker refused the URL's user name or password ({name})"
        return BrokerError(BrokerErrorCode.LOGIN_REFUSED, detail)
    # RabbitMQ closes the connection instead of opening the vhost (530 NOT_ALLOWED: no
    # such vhost, or no permission on it); aiormq reports the unexpected close frame.
    vhost = isinstance(error, aiormq_errors.ConnectionNotAllowed) or (
        isinstance(error, aiormq_errors.InvalidFrameError) and "Connection.Close" in str(error)
    )
    if vhost:
        detail = f"the broker refused the user the URL's vhost, or it does not exist ({name})"
        return BrokerError(BrokerErrorCode.VHOST_REFUSED, detail)
    return None


#: What a broker operation may raise: AMQP errors, socket errors, closed channels.
_FAILURES: Final = (*amqp_errors.CONNECTION_EXCEPTIONS, TimeoutError)


class AmqpBroker:
    """A :class:`~hub.broker.base.Broker` over RabbitMQ (aio-pika ``RobustConnection``)."""

    def __init__(  # noqa: PLR0913 - connection settings, each with its default
        self,
        url: str,
        *,
        confirm_timeout: float = DEFAULT_CONFIRM_TIMEOUT,
        connect_timeout: float = DEFAULT_CONNECT_TIMEOUT,
        reconnect_interval: float = 1.0,
        name: str = "case-event-hub",
        management_url: str | None = None,
        failover: Sequence[str] = (),
    ) -> None:
        """Prepare a connection to ``url``; :meth:`connect` opens it.

        Args:
            url: ``amqp://user:password@host:port/vhost``; never logged.
            confirm_timeout: the longest a :meth:`publish` waits, confirm included.
            connect_timeout: the longest :meth:`connect` and :meth:`apply` wait.
            reconnect_interval: seconds between reconnection attempts.
            name: the connection name RabbitMQ shows its operators.
            management_url: ``http://user:password@host:port`` of the node's
                management API, for :meth:`queue_stats`; never logged.
            failover: ``host:port`` of the cluster's other nodes, tried in turn.

        Raises:
            BrokerError: ``broker.url_invalid`` for a malformed failover entry.
        """
        self._url = url
        self._endpoints = endpoints(url, failover)
        parsed = URL(url)
        self.user = parsed.user or "guest"
        vhost = parsed.path[1:] or "/"
        self._management = (
            ManagementClient(management_url, vhost, timeout=connect_timeout)
            if management_url
            else None
        )
        self.confirm_timeout = confirm_timeout
        self.connect_timeout = connect_timeout
        self._reconnect_interval = reconnect_interval
        self._name = name
        self._connection: AbstractRobustConnection | None = None
        self._publisher: AbstractChannel | None = None
        self._publisher_lock = asyncio.Lock()
        self._consumers: set[AmqpConsumer] = set()

    async def connect(self) -> None:
        """Open the robust connection (idempotent).

        Raises:
            BrokerError: ``broker.unavailable``.
        """
        if self._connection is not None and not self._connection.is_closed:
            return
        try:
            self._connection = await self._connect_any()
        except _FAILURES as error:
            raise _error(error, "connect") from error

    async def _connect_any(self) -> AbstractRobustConnection:
        """Connect to the first endpoint that answers; the connection then rotates."""
        failure: BaseException | None = None
        for turn in range(len(self._endpoints)):
            try:
                connection = await aio_pika.connect_robust(
                    self._endpoints[turn],
                    timeout=self.connect_timeout,
                    reconnect_interval=self._reconnect_interval,
                    client_properties={"connection_name": self._name},
                    connection_class=FailoverConnection,
                )
            except _FAILURES as error:
                failure = error
                continue
            if isinstance(connection, FailoverConnection):
                rest = self._endpoints[turn + 1 :] + self._endpoints[:turn]
                connection.endpoints = (self._endpoints[turn], *rest)
                connection._turn = 1  # noqa: SLF001 - the next attempt goes to the next node
            return connection
        assert failure is not None  # noqa: S101 - the loop ran at least once
        raise failure

    async def close(self) -> None:
        """Close every consumer (their unsettled deliveries come back) and the connection."""
        for consumer in list(self._consumers):
            await consumer.aclose()
        if self._management is not None:
            await self._management.close()
        connection, self._connection, self._publisher = self._connection, None, None
        if connection is not None:
            await connection.close()

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

    def _live(self) -> AbstractRobustConnection:
        if self._connection is None or self._connection.is_closed:
            raise BrokerError(BrokerErrorCode.UNAVAILABLE, "connection is not open")
        return self._connection

    async def apply(self, topology: Topology) -> None:
        """Declare ``topology``: durable exchanges and queues with their arguments, bindings.

        Declaring what exists with the same arguments changes nothing.

        Raises:
            BrokerError: ``broker.topology_conflict`` when a name exists with other
                arguments or type; ``broker.unavailable``.
        """
        connection = self._live()
        try:
            async with (
                asyncio.timeout(self.connect_timeout),
                connection.channel(publisher_confirms=False) as channel,
            ):
                await _declare(channel, topology)
        except amqp_errors.ChannelPreconditionFailed as error:
            raise BrokerError(
                BrokerErrorCode.TOPOLOGY_CONFLICT, "a name exists with other arguments"
            ) from error
        except _FAILURES as error:
            raise _error(error, "apply") from error

    async def publish(self, message: OutgoingMessage) -> None:
        """Publish persistently and return once RabbitMQ has confirmed it.

        Raises:
            BrokerError: ``broker.unroutable``, ``broker.nacked``,
                ``broker.unconfirmed`` (no confirm within ``confirm_timeout``; the
                message may or may not be stored), ``broker.not_found``,
                ``broker.refused`` or ``broker.unavailable``.
        """
        connection = self._live()
        amqp_message = aio_pika.Message(
            message.body,
            headers=dict(message.headers),
            content_type=message.content_type,
            delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
            message_id=message.message_id,
            user_id=message.user_id,
            timestamp=datetime.now(UTC),
        )
        try:
            async with asyncio.timeout(self.confirm_timeout):
                channel = await self._publish_channel(connection)
                underlay = cast("aiormq.Channel", await channel.get_underlay_channel())
                # aio-pika's Exchange.publish, without waiting for the frame to be
                # written before the next publish may queue its own (hub.broker.frames);
                # the confirm is what this waits for, as before.
                await underlay.basic_publish(
                    amqp_message.body,
                    exchange=message.exchange,
                    routing_key=message.routing_key,
                    properties=amqp_message.properties,
                    mandatory=True,
                    wait=not BATCHED_WRITES,
                )
        except _FAILURES as error:
            if not isinstance(error, amqp_errors.DeliveryError):
                # A channel error (404, 406) closes the channel; the next publish opens
                # a fresh one rather than racing the robust channel's own reopening.
                await self._drop_publish_channel()
            raise _error(error, message.exchange) from error

    async def _publish_channel(self, connection: AbstractRobustConnection) -> AbstractChannel:
        async with self._publisher_lock:  # concurrent publishes share one channel
            if self._publisher is None or self._publisher.is_closed:
                self._publisher = await connection.channel(
                    publisher_confirms=True, on_return_raises=True
                )
            return self._publisher

    async def _drop_publish_channel(self) -> None:
        channel, self._publisher = self._publisher, None
        if channel is not None and not channel.is_closed:
            # Bounded too: over a silent link the close would wait for its answer.
            with contextlib.suppress(*_FAILURES):
                async with asyncio.timeout(self.confirm_timeout):
                    await channel.close()

    def consume(self, queue: str, prefetch: int) -> AmqpConsumer:
        """Return a consumer of ``queue`` on its own channel with ``basic.qos(prefetch)``.

        Raises:
            ValueError: ``prefetch`` is below 1.
        """
        if prefetch < 1:
            raise ValueError("prefetch must be at least 1")
        return AmqpConsumer(self, queue, prefetch)

    async def queue_stats(self, queues: Sequence[str]) -> dict[str, QueueStats]:
        """Return the numbers of each of ``queues`` that exists, from the management API.

        Raises:
            BrokerError: ``broker.management_not_configured`` (no ``management_url``),
                ``broker.management_unavailable``, ``broker.management_refused``.
        """
        if self._management is None:
            raise BrokerError(
                BrokerErrorCode.MANAGEMENT_NOT_CONFIGURED, "no management API is configured"
            )
        return await self._management.queue_stats(queues)

    @contextlib.asynccontextmanager
    async def browse(self, queue: str, limit: int) -> AsyncIterator[Sequence[IncomingMessage]]:
        """Take up to ``limit`` messages from the head of ``queue`` with ``basic.get``.

        They stay unacknowledged on a channel of their own; closing it on leaving
        gives back every one not settled inside the block, to the head, in order.

        Raises:
            BrokerError: ``broker.not_found`` or ``broker.unavailable``.
            ValueError: ``limit`` is below 1.
        """
        if limit < 1:
            raise ValueError("limit must be at least 1")
        connection = self._live()
        channel: AbstractChannel | None = None
        try:
            async with asyncio.timeout(self.connect_timeout):
                channel = await connection.channel(publisher_confirms=False)
                source = await channel.get_queue(queue, ensure=True)
                taken: list[IncomingMessage] = []
                while len(taken) < limit:
                    got = await source.get(no_ack=False, fail=False)
                    if got is None:
                        break
                    taken.append(_incoming(got))
        except _FAILURES as error:
            await _close_quietly(channel, self.connect_timeout)
            raise _error(error, queue) from error
        try:
            yield taken
        finally:
            await _close_quietly(channel, self.connect_timeout)

    async def read_log(
        self,
        queue: str,
        after: int | None,
        until: Callable[[IncomingMessage], bool],
        *,
        within: float = READ_LOG_SECONDS,
    ) -> list[IncomingMessage]:
        """Read the stream ``queue`` after offset ``after`` until ``until`` holds (inclusive).

        A consumer of its own channel reads from ``x-stream-offset`` (the first
        message when ``after`` is None) and acks each message, which only grants
        credit for more: a stream keeps every message and counts no delivery.

        Raises:
            BrokerError: ``broker.not_found``, or ``broker.unavailable`` when the
                broker fails or ``until`` finds nothing within ``within`` seconds.
        """
        channel: AbstractChannel | None = None
        arrived: asyncio.Queue[AbstractIncomingMessage] = asyncio.Queue()
        read: list[IncomingMessage] = []
        try:
            async with asyncio.timeout(within):
                channel = await self._open_consumer_channel(STREAM_PREFETCH)
                source = await channel.get_queue(queue, ensure=True)
                start: int | str = "first" if after is None else after + 1
                await source.consume(arrived.put, arguments={"x-stream-offset": start})
                while True:
                    raw = await arrived.get()
                    await raw.ack()
                    message = _incoming(raw)
                    read.append(message)
                    if until(message):
                        return read
        except TimeoutError:
            raise BrokerError(
                BrokerErrorCode.UNAVAILABLE, f"{queue} was not read to its mark in time"
            ) from None
        except _FAILURES as error:
            raise _error(error, queue) from error
        finally:
            await _close_quietly(channel, self.connect_timeout)

    async def _open_consumer_channel(self, prefetch: int) -> AbstractChannel:
        channel = await self._live().channel(publisher_confirms=False)
        await channel.set_qos(prefetch_count=prefetch)
        return channel


async def _close_quietly(channel: AbstractChannel | None, seconds: float) -> None:
    """Close ``channel`` within ``seconds``; RabbitMQ requeues its unsettled deliveries."""
    if channel is None or channel.is_closed:
        return
    with contextlib.suppress(*_FAILURES):
        async with asyncio.timeout(seconds):
            await channel.close()


async def _declare(channel: AbstractChannel, topology: Topology) -> None:
    for exchange in topology.exchanges:
        await channel.declare_exchange(exchange.name, exchange.type.value, durable=True)
    queues = {}
    for queue in topology.queues:
        queues[queue.name] = await channel.declare_queue(
            queue.name, durable=True, arguments=dict(queue.arguments())
        )
    for binding in topology.bindings:
        await queues[binding.queue].bind(binding.exchange, binding.routing_key)


def _incoming(message: AbstractIncomingMessage) -> IncomingMessage:
    raw_headers: dict[str, Any] = dict(message.headers)

    async def settle(outcome: Outcome) -> None:
        try:
            if outcome is Outcome.ACK and BATCHED_WRITES and message.delivery_tag is not None:
                # aio-pika's ack, without waiting for the frame to be written: acks
                # settled together leave in one write (hub.broker.frames).
                await message.channel.basic_ack(message.delivery_tag, wait=False)
            elif outcome is Outcome.ACK:
                await message.ack()
            else:
                await message.reject(requeue=outcome is Outcome.REQUEUE)
        except _FAILURES as error:
            raise BrokerError(
                BrokerErrorCode.STALE_DELIVERY, "the delivery's channel is gone"
            ) from error

    return IncomingMessage(
        body=message.body,
        headers=readable_headers(raw_headers),
        message_id=message.message_id,
        user_id=message.user_id,
        routing_key=message.routing_key or "",
        exchange=message.exchange or "",
        redelivered=bool(message.redelivered),
        delivery_count=delivery_count(raw_headers),
        persistent=message.delivery_mode == aio_pika.DeliveryMode.PERSISTENT,
        settle=settle,
        timestamp=_aware(message.timestamp),
    )


def _aware(stamp: datetime | None) -> datetime | None:
    """The AMQP timestamp (whole seconds, no zone) as an aware UTC time."""
    if stamp is None:
        return None
    return stamp if stamp.tzinfo is not None else stamp.replace(tzinfo=UTC)


class AmqpConsumer:
    """Deliveries from one queue, on a channel of their own."""

    def __init__(self, broker: AmqpBroker, queue: str, prefetch: int) -> None:
        """Prepare to consume ``queue``; consuming starts on entry or first iteration."""
        self._broker = broker
        self.queue_name = queue
        self.prefetch = prefetch
        self._channel: AbstractChannel | None = None
        self._buffer: asyncio.Queue[AbstractIncomingMessage | None] = asyncio.Queue()
        self._closed = False

    async def __aenter__(self) -> Self:
        """Start consuming.

        Raises:
            BrokerError: ``broker.not_found`` or ``broker.unavailable``.
        """
        await self._start()
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

    async def _start(self) -> None:
        if self._channel is not None or self._closed:
            return
        try:
            async with asyncio.timeout(self._broker.connect_timeout):
                self._channel = await self._broker._open_consumer_channel(self.prefetch)  # noqa: SLF001
                queue = await self._channel.get_queue(self.queue_name, ensure=True)
                await queue.consume(self._buffer.put, no_ack=False)
        except _FAILURES as error:
            await self.aclose()
            raise _error(error, self.queue_name) from error
        self._broker._consumers.add(self)  # noqa: SLF001 (one room, two classes)

    async def __anext__(self) -> IncomingMessage:
        """Wait for the next delivery; RabbitMQ sends at most ``prefetch`` unsettled.

        Raises:
            StopAsyncIteration: the consumer is closed.
        """
        await self._start()
        message = None if self._closed else await self._buffer.get()
        if message is None:
            self._buffer.put_nowait(None)
            raise StopAsyncIteration
        return _incoming(message)

    def waiting(self) -> int:
        """Deliveries received from RabbitMQ and not taken yet."""
        return 0 if self._closed else self._buffer.qsize()

    async def aclose(self) -> None:
        """Close the channel: RabbitMQ requeues every unsettled delivery (idempotent)."""
        if self._closed:
            return
        self._closed = True
        self._broker._consumers.discard(self)  # noqa: SLF001 (one room, two classes)
        self._buffer.put_nowait(None)
        channel, self._channel = self._channel, None
        if channel is not None and not channel.is_closed:
            # The broker requeues a closed channel's deliveries, however it closes.
            with contextlib.suppress(*_FAILURES):
                await channel.close()
