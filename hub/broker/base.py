"""The broker room's protocols, message values and error type.

A :class:`Broker` publishes with publisher confirms and mandatory routing, and
consumes with manual acknowledgements and a bounded prefetch (ARCHITECTURE section
7). Two implementations keep the same semantics: :mod:`hub.broker.amqp` over a real
RabbitMQ and :mod:`hub.broker.memory` for the demo and fast tests.

Everything outside a message body is visible to the broker and its operators, so
an :class:`OutgoingMessage` accepts only properties and headers that carry ids,
types, parties and reason codes (P1): each header key is on an allow-list and each
value matches that key's pattern. Errors never echo a refused value.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, Final, Protocol, Self

from hub.broker.topology import NAME_PATTERN
from hub.errors import HubError
from schemas.parties import PARTY_ID

if TYPE_CHECKING:
    from contextlib import AbstractAsyncContextManager
    from datetime import datetime
    from types import TracebackType

    from hub.broker.topology import Topology


class BrokerErrorCode(enum.StrEnum):
    """Stable reasons a broker operation fails."""

    UNAVAILABLE = "broker.unavailable"
    #: The broker refused the user name or password (AMQP 403 ACCESS_REFUSED).
    LOGIN_REFUSED = "broker.login_refused"
    #: The user may not use the vhost (AMQP 530 NOT_ALLOWED), or it does not exist.
    VHOST_REFUSED = "broker.vhost_refused"
    URL_INVALID = "broker.url_invalid"
    UNROUTABLE = "broker.unroutable"
    NACKED = "broker.nacked"
    UNCONFIRMED = "broker.unconfirmed"
    REFUSED = "broker.refused"
    NOT_FOUND = "broker.not_found"
    TOPOLOGY_CONFLICT = "broker.topology_conflict"
    HEADER_NOT_ALLOWED = "broker.header_not_allowed"
    MESSAGE_INVALID = "broker.message_invalid"
    ALREADY_SETTLED = "broker.already_settled"
    STALE_DELIVERY = "broker.stale_delivery"
    #: No management API is configured for this broker (``broker_management_url``).
    MANAGEMENT_NOT_CONFIGURED = "broker.management_not_configured"
    #: The management API did not answer in time, or answered with something unreadable.
    MANAGEMENT_UNAVAILABLE = "broker.management_unavailable"
    #: The management API refused the credentials (401 or 403).
    MANAGEMENT_REFUSED = "broker.management_refused"


class BrokerError(HubError):
    """A broker operation failed.

    Attributes:
        code: the stable reason code.
        detail: which operation or name failed; never a header value or a body.
    """

    def __init__(self, code: BrokerErrorCode, detail: str) -> None:
        """Make an error with a stable ``code`` and a content-free ``detail``."""
        super().__init__(code, detail)
        self.code: BrokerErrorCode = code


UUID_PATTERN: Final = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
EVENT_TYPE_PATTERN: Final = re.compile(r"^[A-Z][A-Za-z0-9]{0,63}$")
SLUG_PATTERN: Final = re.compile(r"^[a-z][a-z0-9-]{0,63}$")
#: A refusal or broker reason code, e.g. ``schema.unknown_version``.
CODE_PATTERN: Final = re.compile(r"^[a-z][a-z_]{0,31}(\.[a-z][a-z_]{0,31}){1,2}$")
CONTENT_TYPE_PATTERN: Final = re.compile(r"^[a-z]+/[a-z0-9.+-]{1,63}$")
#: A RabbitMQ user name as the hub's deployments name them (``police``, ``hub-admin``).
USER_PATTERN: Final = re.compile(r"^[a-z][a-z0-9._-]{0,63}$")
_DEATH_REASON: Final = re.compile(r"^[a-z_]{1,32}$")
_MAX_INT: Final = 2**31 - 1

#: What a header value must be: a string matching the pattern, or (``int``) a count.
HeaderRule = re.Pattern[str] | type[int]
HeaderValue = str | int

#: Headers a publisher may set: ids, types, parties and reason codes only.
PUBLISH_HEADERS: Final[Mapping[str, HeaderRule]] = MappingProxyType(
    {
        "event-id": UUID_PATTERN,
        "event-type": EVENT_TYPE_PATTERN,
        "schema-version": int,
        "decision-id": UUID_PATTERN,
        "sender": PARTY_ID,
        "recipient": PARTY_ID,
        "agreement-id": SLUG_PATTERN,
        "agreement-version": int,
        "reason": CODE_PATTERN,
        "kind": SLUG_PATTERN,
    }
)
#: Headers RabbitMQ adds that a consumer may read (quorum queues, dead-lettering).
BROKER_HEADERS: Final[Mapping[str, HeaderRule]] = MappingProxyType(
    {
        "x-delivery-count": int,
        "x-first-death-reason": _DEATH_REASON,
        "x-first-death-queue": NAME_PATTERN,
        "x-first-death-exchange": NAME_PATTERN,
        "x-stream-offset": int,
    }
)
#: Seconds a read of a stream may take before it gives up (``broker.unavailable``).
READ_LOG_SECONDS: Final = 10.0
#: Media type of a compact JWE (RFC 7516 section 9.2.1).
JOSE_CONTENT_TYPE: Final = "application/jose"


def header_ok(rule: HeaderRule, value: object) -> bool:
    """Return whether ``value`` satisfies ``rule`` (``bool`` is not a count)."""
    if rule is int:
        return type(value) is int and 0 <= value <= _MAX_INT
    return isinstance(value, str) and isinstance(rule, re.Pattern) and bool(rule.match(value))


def check_headers(headers: Mapping[str, object]) -> dict[str, HeaderValue]:
    """Return ``headers`` as a plain dict if every one may be published.

    Raises:
        BrokerError: ``broker.header_not_allowed``; the detail names an allowed key
            whose value failed, never the value, nor a key that is not allowed.
    """
    checked: dict[str, HeaderValue] = {}
    for key, value in headers.items():
        rule = PUBLISH_HEADERS.get(key)
        if rule is None:
            raise BrokerError(BrokerErrorCode.HEADER_NOT_ALLOWED, "a header key is not allowed")
        if not header_ok(rule, value) or not isinstance(value, str | int):
            raise BrokerError(
                BrokerErrorCode.HEADER_NOT_ALLOWED, f"header {key} has a value outside its pattern"
            )
        checked[key] = value
    return checked


def readable_headers(headers: Mapping[str, object]) -> dict[str, HeaderValue]:
    """Return the headers of a received message that are allowed, dropping the rest.

    A consumer never sees a header a publisher could not have set through
    :class:`OutgoingMessage` (or RabbitMQ set by itself), so nothing it logs from
    headers can be personal data.
    """
    kept: dict[str, HeaderValue] = {}
    for key, value in headers.items():
        rule = PUBLISH_HEADERS.get(key) or BROKER_HEADERS.get(key)
        if rule is not None and header_ok(rule, value) and isinstance(value, str | int):
            kept[key] = value
    return kept


def _invalid(what: str) -> BrokerError:
    return BrokerError(BrokerErrorCode.MESSAGE_INVALID, f"{what} is outside its pattern")


@dataclass(frozen=True)
class OutgoingMessage:
    """A message to publish; always persistent (delivery mode 2).

    Attributes:
        exchange: the exchange to publish to.
        routing_key: a party id, or ``""`` for a fanout exchange.
        body: the payload, a compact JWE.
        message_id: the event id (ingress) or decision id (deliveries), a UUID.
        content_type: the body's media type.
        headers: allow-listed ids, types, parties and reason codes.
        user_id: the AMQP ``user_id`` property; RabbitMQ refuses the publish unless
            it equals the connection's user, so a consumer can trust it.

    Raises:
        BrokerError: ``broker.header_not_allowed`` or ``broker.message_invalid``.
    """

    exchange: str
    routing_key: str
    body: bytes
    message_id: str
    content_type: str = JOSE_CONTENT_TYPE
    headers: Mapping[str, HeaderValue] = field(default_factory=dict)
    user_id: str | None = None

    def __post_init__(self) -> None:
        """Refuse anything outside the allow-lists before it can reach a broker."""
        checks = {
            "exchange": NAME_PATTERN.match(self.exchange),
            "routing_key": self.routing_key == "" or PARTY_ID.match(self.routing_key),
            "message_id": UUID_PATTERN.match(self.message_id),
            "content_type": CONTENT_TYPE_PATTERN.match(self.content_type),
            "user_id": self.user_id is None or USER_PATTERN.match(self.user_id),
            "body": isinstance(self.body, bytes),
        }
        for what, ok in checks.items():
            if not ok:
                raise _invalid(what)
        object.__setattr__(self, "headers", MappingProxyType(check_headers(self.headers)))


class Outcome(enum.Enum):
    """How a consumer settles a delivery."""

    ACK = "ack"
    REQUEUE = "requeue"
    DEAD_LETTER = "dead-letter"


#: Settles one delivery on the broker it came from.
Settle = Callable[[Outcome], Awaitable[None]]


@dataclass(eq=False)
class _Once:
    settle: Settle
    done: bool = False


@dataclass(frozen=True, eq=False)
class IncomingMessage:
    """A delivered message, to be settled exactly once with :meth:`ack` or :meth:`reject`.

    Attributes:
        body: the payload.
        headers: the allow-listed headers (see :func:`readable_headers`).
        message_id: as published.
        user_id: the publishing connection's user, checked by RabbitMQ; ``None``
            when the publisher did not set it.
        routing_key: as published (a party id, or ``""``).
        exchange: the exchange it was published to.
        redelivered: it was delivered before and not acknowledged.
        delivery_count: earlier deliveries, from the quorum queue's
            ``x-delivery-count`` header; 0 when absent.
        persistent: published with delivery mode 2 (kept on disk by the broker).
        timestamp: the AMQP ``timestamp`` property, set by the publisher (the hub
            sets it on every publish); ``None`` when absent.
    """

    body: bytes
    headers: Mapping[str, HeaderValue]
    message_id: str | None
    user_id: str | None
    routing_key: str
    exchange: str
    redelivered: bool
    delivery_count: int
    persistent: bool
    settle: Settle = field(repr=False)
    _once: _Once = field(init=False, repr=False)
    timestamp: datetime | None = None

    def __post_init__(self) -> None:
        """Wrap ``settle`` so that a second settlement raises instead of confusing the broker."""
        object.__setattr__(self, "_once", _Once(self.settle))

    @property
    def offset(self) -> int | None:
        """Its offset in the stream it was read from (``x-stream-offset``); None from a queue."""
        value = self.headers.get("x-stream-offset")
        return value if isinstance(value, int) else None

    async def ack(self) -> None:
        """Acknowledge: the broker forgets the message.

        Raises:
            BrokerError: ``broker.already_settled``, or ``broker.stale_delivery``
                when the consumer's channel is gone (the broker redelivers it).
        """
        await self._finish(Outcome.ACK)

    async def reject(self, *, requeue: bool) -> None:
        """Return the message to its queue (``requeue``) or dead-letter it.

        Requeueing counts as a delivery: past the queue's delivery limit the
        message is dead-lettered instead.

        Raises:
            BrokerError: as for :meth:`ack`.
        """
        await self._finish(Outcome.REQUEUE if requeue else Outcome.DEAD_LETTER)

    async def _finish(self, outcome: Outcome) -> None:
        if self._once.done:
            raise BrokerError(BrokerErrorCode.ALREADY_SETTLED, "delivery already settled")
        self._once.done = True
        await self._once.settle(outcome)


def delivery_count(headers: Mapping[str, object]) -> int:
    """Return a quorum queue's ``x-delivery-count``, 0 when absent or not a count."""
    count = headers.get("x-delivery-count")
    return count if type(count) is int and count >= 0 else 0


class Consumer(Protocol):
    """Deliveries from one queue (an ``AsyncIterator``); closing it returns the unsettled.

    Spelled out rather than subclassing ``AsyncIterator``: Python 3.11 refuses that
    base for a protocol.
    """

    def __aiter__(self) -> Self:
        """Return the consumer itself."""
        ...

    async def __anext__(self) -> IncomingMessage:
        """Wait for the next delivery.

        Raises:
            StopAsyncIteration: the consumer is closed.
        """
        ...

    def waiting(self) -> int:
        """Deliveries the next :meth:`__anext__` would return without waiting (0 if none).

        A consumer that settles in batches settles when this is 0: nothing more is
        at hand, so holding what it has would only add latency.
        """
        ...

    async def aclose(self) -> None:
        """Stop consuming; unsettled deliveries go back to the queue (redelivered)."""
        ...

    async def __aenter__(self) -> Self:
        """Start consuming."""
        ...

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        """Close, as :meth:`aclose`."""
        ...


class Broker(Protocol):
    """A message broker as the hub uses it (ARCHITECTURE section 7)."""

    @property
    def user(self) -> str:
        """The user this connection authenticates as: what ``user_id`` must equal."""
        ...

    async def connect(self) -> None:
        """Connect.

        Raises:
            BrokerError: ``broker.unavailable``.
        """
        ...

    async def close(self) -> None:
        """Close every consumer and the connection; unsettled deliveries come back."""
        ...

    async def apply(self, topology: Topology) -> None:
        """Declare ``topology``; applying it again changes nothing.

        Raises:
            BrokerError: ``broker.topology_conflict`` when a name exists with other
                arguments or type; ``broker.unavailable``.
        """
        ...

    async def publish(self, message: OutgoingMessage) -> None:
        """Publish persistently and return only once the broker has confirmed it.

        Raises:
            BrokerError: ``broker.unroutable`` (no queue is bound for it),
                ``broker.nacked``, ``broker.unconfirmed`` (no answer in time: it
                may or may not be stored), ``broker.not_found``,
                ``broker.refused`` (e.g. ``user_id`` is not the connection's
                user) or ``broker.unavailable``.
        """
        ...

    def consume(self, queue: str, prefetch: int) -> Consumer:
        """Return a consumer of ``queue`` with at most ``prefetch`` unsettled deliveries.

        Consuming starts on entering the consumer or on its first iteration.

        Raises:
            ValueError: ``prefetch`` is below 1.
        """
        ...


@dataclass(frozen=True)
class QueueStats:
    """How one queue is doing, as an operator reads it: the same numbers on both brokers.

    Attributes:
        queue: the queue name.
        ready: messages waiting to be delivered; ``None`` when the broker has not
            reported yet (RabbitMQ's statistics arrive every few seconds).
        unacked: messages delivered and not yet settled; ``None`` likewise.
        consumers: consumers attached; ``None`` likewise.
        oldest_seconds: age of the message at the head of the queue, from its
            ``timestamp`` property; ``None`` when empty or not reported (RabbitMQ
            3.10 reports it for classic queues only).
        publish_rate: messages per second coming in, recently; ``None`` if unknown.
        deliver_rate: messages per second handed out, recently; ``None`` if unknown.
        published: messages ever published into the queue since the broker's
            statistics began (a node restart begins them again); ``None`` if
            unknown. With the depth it dates the oldest message on any queue type
            (:mod:`hub.console.history`).
    """

    queue: str
    ready: int | None
    unacked: int | None
    consumers: int | None
    oldest_seconds: float | None = None
    publish_rate: float | None = None
    deliver_rate: float | None = None
    published: int | None = None

    def as_json(self) -> dict[str, str | int | float | None]:
        """The numbers as a JSON object (the console's queue view)."""
        return {
            "queue": self.queue,
            "ready": self.ready,
            "unacked": self.unacked,
            "consumers": self.consumers,
            "oldest_seconds": self.oldest_seconds,
            "publish_rate": self.publish_rate,
            "deliver_rate": self.deliver_rate,
            "published": self.published,
        }


class QueueInspector(Protocol):
    """What an operator may ask a broker besides moving messages: numbers, and a look.

    Both brokers implement it next to :class:`Broker`; it is apart from it because a
    broker that only moves messages (an adapter's) needs none of it.
    """

    async def queue_stats(self, queues: Sequence[str]) -> dict[str, QueueStats]:
        """Return the numbers of each of ``queues`` that exists, by name.

        Raises:
            BrokerError: ``broker.management_not_configured``,
                ``broker.management_unavailable``, ``broker.management_refused``
                or ``broker.unavailable``.
        """
        ...

    async def read_log(
        self,
        queue: str,
        after: int | None,
        until: Callable[[IncomingMessage], bool],
        *,
        within: float = READ_LOG_SECONDS,
    ) -> list[IncomingMessage]:
        """Read the stream ``queue`` from the message after offset ``after`` (or its first).

        Reading takes nothing out of the stream and counts no delivery. It stops
        after the first message for which ``until`` is true, which it includes;
        each message's offset is :attr:`IncomingMessage.offset`.

        Raises:
            BrokerError: ``broker.not_found``, or ``broker.unavailable`` when the
                broker fails or ``until`` finds nothing within ``within`` seconds.
        """
        ...

    def browse(
        self, queue: str, limit: int
    ) -> AbstractAsyncContextManager[Sequence[IncomingMessage]]:
        """Take up to ``limit`` messages from the head of ``queue``, unacknowledged.

        Inside the block a message may be settled (acked out of the queue). On
        leaving it every unsettled message goes back to the head of the queue, in
        its order; on a quorum queue that counts one delivery each (so browse only
        a queue without a delivery limit, such as quarantine).

        Raises:
            BrokerError: ``broker.not_found`` or ``broker.unavailable``.
            ValueError: ``limit`` is below 1.
        """
        ...


def inspector_of(broker: Any) -> QueueInspector | None:
    """``broker``'s way to count and look into queues, if it has one (an adapter's has none)."""
    if hasattr(broker, "queue_stats") and hasattr(broker, "browse"):
        inspector: QueueInspector = broker
        return inspector
    return None
