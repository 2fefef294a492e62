"""The RabbitMQ topology of ARCHITECTURE section 7, as data.

Exchanges, queues and bindings are frozen values; a :class:`Topology` is a checked
set of them, and a broker's ``apply`` declares it (idempotently) in one place.
:func:`default_topology` is the hub's own topology for a set of parties::

    sender party id ──► hub.ingress (direct) ──► hub.ingress.q (quorum)
                                                   │ delivery limit, then
                                                   ▼ dead-letter (at-least-once)
            hub.quarantine (fanout) ─────────────► hub.quarantine (quorum) ──► workers
                                                   ▲ dead-letter (at-least-once)
    hub ──► hub.deliveries (direct, key = party) ──► agency.<party>.inbox (quorum)
    hub ──► hub.quarantine.log (fanout) ─────────► hub.quarantine.log (stream)

The broker dead-letters to ``hub.quarantine``, which the workers work through; the
hub's refusals go to the stream ``hub.quarantine.log``, which operators read
without taking anything out (ADR 0020).

Queue names and routing keys carry party ids only (P1). The reasons for each
choice are in docs/adr/0005-broker.md.
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Final

from schemas.parties import PARTY_ID

if TYPE_CHECKING:
    from collections.abc import Iterable

#: A party id, as in ``schemas.base.PartyId`` and docs/envelope.md.
#: Exchange and queue names: lower-case words, dots and hyphens; never personal data.
NAME_PATTERN: Final = re.compile(r"^[a-z0-9][a-z0-9.-]{0,126}$")

#: Delivery limit of hub.ingress.q: a message is delivered at most this many + 1 times.
DEFAULT_DELIVERY_LIMIT: Final = 5
#: Delivery limit of the inboxes: higher, because an adapter restarting is not poison.
DEFAULT_INBOX_DELIVERY_LIMIT: Final = 20


class ExchangeType(enum.StrEnum):
    """The AMQP exchange types the hub uses (and the in-memory broker models)."""

    DIRECT = "direct"
    FANOUT = "fanout"


class QueueType(enum.StrEnum):
    """``x-queue-type``: quorum for what is consumed, stream for the quarantine's log.

    Classic only in tests. A stream (RabbitMQ 3.9+) is an append-only, replicated
    log: reading it takes nothing out and counts no delivery.
    """

    QUORUM = "quorum"
    CLASSIC = "classic"
    STREAM = "stream"


#: How long the quarantine's log keeps a refused message (``x-max-age``): a year.
QUARANTINE_MAX_AGE: Final = "1Y"
#: Segment size of a stream: retention drops whole segments, so keep them small
#: enough that a year's limit applies at pilot volumes (RabbitMQ's default is 500 MB).
STREAM_SEGMENT_BYTES: Final = 8 * 1024 * 1024


class DeadLetterStrategy(enum.StrEnum):
    """``x-dead-letter-strategy`` of a quorum queue."""

    AT_LEAST_ONCE = "at-least-once"
    AT_MOST_ONCE = "at-most-once"


@dataclass(frozen=True)
class Exchange:
    """A durable exchange."""

    name: str
    type: ExchangeType


@dataclass(frozen=True)
class DeadLetter:
    """Where a queue's rejected or over-delivered messages go.

    Attributes:
        exchange: the dead-letter exchange (``x-dead-letter-exchange``).
        strategy: at-least-once keeps a message in its queue until the target
            confirms it; it needs ``x-overflow: reject-publish`` (RabbitMQ docs,
            "Dead Lettering", quorum queues), which :meth:`Queue.arguments` adds.
    """

    exchange: str
    strategy: DeadLetterStrategy = DeadLetterStrategy.AT_LEAST_ONCE


@dataclass(frozen=True)
class Queue:
    """A durable queue and the arguments it is declared with.

    Attributes:
        name: the queue name.
        type: quorum (replicated, counts deliveries) or classic.
        delivery_limit: returns after which a message is dead-lettered; ``None``
            for none (quorum queues only).
        dead_letter: where dead-lettered messages go; ``None`` drops them.
        max_age: how long a stream keeps a message (``x-max-age``, e.g. ``1Y``);
            streams only.
    """

    name: str
    type: QueueType = QueueType.QUORUM
    delivery_limit: int | None = None
    dead_letter: DeadLetter | None = None
    max_age: str | None = None

    def arguments(self) -> dict[str, str | int]:
        """Return the ``queue.declare`` arguments; a broker compares them on re-declare."""
        args: dict[str, str | int] = {"x-queue-type": self.type.value}
        if self.type is QueueType.STREAM:
            args["x-stream-max-segment-size-bytes"] = STREAM_SEGMENT_BYTES
            if self.max_age is not None:
                args["x-max-age"] = self.max_age
        if self.delivery_limit is not None:
            args["x-delivery-limit"] = self.delivery_limit
        if self.dead_letter is not None:
            args["x-dead-letter-exchange"] = self.dead_letter.exchange
            if self.type is QueueType.QUORUM:
                args["x-dead-letter-strategy"] = self.dead_letter.strategy.value
                if self.dead_letter.strategy is DeadLetterStrategy.AT_LEAST_ONCE:
                    args["x-overflow"] = "reject-publish"
        return args


@dataclass(frozen=True)
class Binding:
    """Messages published to ``exchange`` with ``routing_key`` go to ``queue``.

    A fanout exchange ignores the key; its bindings use ``""``.
    """

    exchange: str
    queue: str
    routing_key: str = ""


def _check_name(name: str) -> None:
    if not NAME_PATTERN.match(name):
        raise ValueError(f"not a valid exchange or queue name: {name!r}")


@dataclass(frozen=True)
class Topology:
    """Exchanges, queues and the bindings between them, checked for consistency.

    Raises:
        ValueError: a name is invalid or repeated, a binding or dead-letter target
            names an exchange or queue the topology does not declare, a
            delivery limit is set on a classic queue or stream or is below zero,
            or a maximum age on anything but a stream.
    """

    exchanges: tuple[Exchange, ...]
    queues: tuple[Queue, ...]
    bindings: tuple[Binding, ...] = field(default=())

    def __post_init__(self) -> None:
        """Refuse a topology that no broker could apply as written."""
        exchange_names = [e.name for e in self.exchanges]
        queue_names = [q.name for q in self.queues]
        for names in (exchange_names, queue_names):
            for name in names:
                _check_name(name)
            if len(set(names)) != len(names):
                raise ValueError("an exchange or queue name is declared twice")
        for queue in self.queues:
            _check_queue(queue, set(exchange_names))
        for binding in self.bindings:
            if binding.exchange not in exchange_names or binding.queue not in queue_names:
                raise ValueError(f"binding {binding} names an undeclared exchange or queue")

    def exchange(self, name: str) -> Exchange:
        """Return the exchange called ``name``.

        Raises:
            KeyError: there is none.
        """
        for exchange in self.exchanges:
            if exchange.name == name:
                return exchange
        raise KeyError(name)

    def queue(self, name: str) -> Queue:
        """Return the queue called ``name``.

        Raises:
            KeyError: there is none.
        """
        for queue in self.queues:
            if queue.name == name:
                return queue
        raise KeyError(name)


def _check_queue(queue: Queue, exchanges: set[str]) -> None:
    if queue.delivery_limit is not None:
        if queue.type is not QueueType.QUORUM:
            raise ValueError(f"{queue.name}: a delivery limit needs a quorum queue")
        if queue.delivery_limit < 0:
            raise ValueError(f"{queue.name}: the delivery limit must not be negative")
    if queue.dead_letter is not None and queue.dead_letter.exchange not in exchanges:
        raise ValueError(f"{queue.name}: dead-letter exchange is not declared")
    if queue.type is QueueType.STREAM and queue.dead_letter is not None:
        raise ValueError(f"{queue.name}: a stream dead-letters nothing")
    if queue.max_age is not None:
        if queue.type is not QueueType.STREAM:
            raise ValueError(f"{queue.name}: a maximum age needs a stream")
        if not re.fullmatch(r"[1-9][0-9]{0,5}[YMDhms]", queue.max_age):
            raise ValueError(f"{queue.name}: a maximum age is a number and Y, M, D, h, m or s")


@dataclass(frozen=True)
class TopologyNames:
    """The names of the hub's exchanges and queues.

    Attributes:
        prefix: put before every name; ``""`` in a deployment (one vhost each),
            a unique value in tests that share a vhost.
    """

    prefix: str = ""

    @property
    def ingress(self) -> str:
        """The exchange adapters publish events to."""
        return f"{self.prefix}hub.ingress"

    @property
    def ingress_queue(self) -> str:
        """The queue hub workers consume events from."""
        return f"{self.prefix}hub.ingress.q"

    @property
    def deliveries(self) -> str:
        """The exchange the hub publishes deliveries and notices to (key = party id)."""
        return f"{self.prefix}hub.deliveries"

    @property
    def quarantine(self) -> str:
        """The exchange, and the quorum queue, the broker dead-letters to.

        Ingress and every inbox dead-letter here; the workers take each message up
        again (:mod:`hub.reconcile`). The hub's own refusals are kept in
        :attr:`quarantine_log`.
        """
        return f"{self.prefix}hub.quarantine"

    @property
    def quarantine_log(self) -> str:
        """The exchange, and the stream, of the hub's refusals: the quarantine operators see."""
        return f"{self.prefix}hub.quarantine.log"

    def inbox(self, party: str) -> str:
        """Return the inbox queue of ``party``.

        Raises:
            ValueError: ``party`` is not a party id.
        """
        if not PARTY_ID.match(party):
            raise ValueError("not a party id")
        return f"{self.prefix}agency.{party}.inbox"


def default_topology(
    parties: Iterable[str],
    delivery_limit: int = DEFAULT_DELIVERY_LIMIT,
    *,
    inbox_delivery_limit: int = DEFAULT_INBOX_DELIVERY_LIMIT,
    names: TopologyNames | None = None,
) -> Topology:
    """Return the hub's topology for ``parties`` (ARCHITECTURE section 7).

    Args:
        parties: the agencies' party ids; each gets an inbox and may publish to
            ingress with its id as routing key. ``hub`` itself is left out.
        delivery_limit: returns of an ingress message before it is quarantined.
        inbox_delivery_limit: returns of a delivery before it is quarantined.
        names: the names to use; the deployment's names by default.

    Returns:
        The topology; applying it twice changes nothing.

    Raises:
        ValueError: a party id is invalid, or a limit is negative.
    """
    n = names or TopologyNames()
    agencies = sorted({p for p in parties if p != "hub"})
    quarantined = DeadLetter(n.quarantine)
    inboxes = [n.inbox(party) for party in agencies]
    return Topology(
        exchanges=(
            Exchange(n.ingress, ExchangeType.DIRECT),
            Exchange(n.deliveries, ExchangeType.DIRECT),
            Exchange(n.quarantine, ExchangeType.FANOUT),
            Exchange(n.quarantine_log, ExchangeType.FANOUT),
        ),
        queues=(
            Queue(n.ingress_queue, delivery_limit=delivery_limit, dead_letter=quarantined),
            *(
                Queue(i, delivery_limit=inbox_delivery_limit, dead_letter=quarantined)
                for i in inboxes
            ),
            Queue(n.quarantine),
            Queue(n.quarantine_log, QueueType.STREAM, max_age=QUARANTINE_MAX_AGE),
        ),
        bindings=(
            *(Binding(n.ingress, n.ingress_queue, party) for party in agencies),
            *(Binding(n.deliveries, i, party) for party, i in zip(agencies, inboxes, strict=True)),
            Binding(n.quarantine, n.quarantine),
            Binding(n.quarantine_log, n.quarantine_log),
        ),
    )
