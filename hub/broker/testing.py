"""Helpers for testing anything that uses a broker (as FastStream ships ``rabbit/testing.py``).

- :class:`BrokerHarness`: connections to one broker under test, in-memory or RabbitMQ,
  with names of its own, and clean-up of everything it declared, so tests can share
  a vhost without meeting.
- :func:`next_delivery` and :func:`no_delivery_within`: waits that always end.
- :class:`TcpProxy`: a loopback proxy a test can hold, cut or take down, to prove
  bounded timeouts and reconnection (after aio-pika's ``tests/test_amqp_robust_proxy.py``),
  in front of RabbitMQ or PostgreSQL alike.

Nothing here is used by the hub at run time.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal

import aio_pika
from yarl import URL

from hub.broker.amqp import AmqpBroker
from hub.broker.base import OutgoingMessage
from hub.broker.memory import MemoryBroker, MemoryNode
from hub.broker.topology import Topology, TopologyNames, default_topology

if TYPE_CHECKING:
    from collections.abc import Mapping

    from hub.broker.base import Broker, Consumer, HeaderValue, IncomingMessage

#: A compact-JWE-shaped body; the broker never looks inside.
SAMPLE_BODY = b"eyJhbGciOiJFQ0RILUVTK0EyNTZLVyJ9.a.b.c.d"


def unique_names() -> TopologyNames:
    """Return names no other test uses."""
    return TopologyNames(prefix=f"t{uuid.uuid4().hex[:10]}.")


@dataclass
class BrokerHarness:
    """Connections to one broker under test, and everything they declared.

    Attributes:
        kind: ``memory`` (a fresh :class:`MemoryNode`) or ``rabbitmq`` (``url``).
        url: the RabbitMQ URL, for ``rabbitmq``.
        names: this harness's own exchange and queue names.
        parties: the agencies of :meth:`topology`.
    """

    kind: Literal["memory", "rabbitmq"]
    url: str = ""
    names: TopologyNames = field(default_factory=unique_names)
    parties: tuple[str, ...] = ("police", "health")
    node: MemoryNode = field(default_factory=MemoryNode)
    brokers: list[Broker] = field(default_factory=list)
    topologies: list[Topology] = field(default_factory=list)

    @property
    def user(self) -> str:
        """The user every connection authenticates as."""
        return "hub" if self.kind == "memory" else URL(self.url).user or ""

    async def connect(
        self,
        *,
        url: str | None = None,
        confirm_timeout: float = 5.0,
        reconnect_interval: float = 1.0,
    ) -> Broker:
        """Open one more connection; the keywords are :class:`AmqpBroker`'s."""
        broker: Broker
        if self.kind == "memory":
            broker = MemoryBroker(self.node, user=self.user)
        else:
            broker = AmqpBroker(
                url or self.url,
                confirm_timeout=confirm_timeout,
                connect_timeout=5.0,
                reconnect_interval=reconnect_interval,
            )
        self.brokers.append(broker)
        await broker.connect()
        return broker

    def topology(self, delivery_limit: int = 2) -> Topology:
        """Return this harness's default topology, remembered for :meth:`cleanup`."""
        topology = default_topology(self.parties, delivery_limit, names=self.names)
        self.topologies.append(topology)
        return topology

    async def cleanup(self) -> None:
        """Close every connection, then delete every queue and exchange declared."""
        for broker in self.brokers:
            await broker.close()
        if self.kind == "rabbitmq" and self.topologies:
            await delete_topologies(self.url, self.topologies)


async def delete_topologies(url: str, topologies: list[Topology]) -> None:
    """Delete the queues and exchanges of ``topologies`` from the RabbitMQ at ``url``."""
    async with await aio_pika.connect(url, timeout=5) as connection:
        channel = await connection.channel()
        for topology in topologies:
            for queue in topology.queues:
                await channel.queue_delete(queue.name)
            for exchange in topology.exchanges:
                await channel.exchange_delete(exchange.name)


def ingress_message(
    names: TopologyNames,
    party: str = "police",
    *,
    user_id: str | None = None,
    headers: Mapping[str, HeaderValue] | None = None,
) -> OutgoingMessage:
    """Return an ingress message from ``party`` with a fresh event id and ``headers``."""
    event_id = str(uuid.uuid4())
    return OutgoingMessage(
        exchange=names.ingress,
        routing_key=party,
        body=SAMPLE_BODY,
        message_id=event_id,
        headers={"event-id": event_id, "sender": party, **(headers or {})},
        user_id=user_id,
    )


async def next_delivery(consumer: Consumer, seconds: float = 5.0) -> IncomingMessage:
    """Return the next delivery, or raise :class:`TimeoutError` after ``seconds``."""
    async with asyncio.timeout(seconds):
        return await anext(consumer)


async def no_delivery_within(consumer: Consumer, seconds: float = 0.5) -> bool:
    """Return True when no delivery arrives within ``seconds``."""
    try:
        await next_delivery(consumer, seconds)
    except TimeoutError:
        return True
    return False


class TcpProxy:
    """Forwards ``127.0.0.1:<port>`` to ``host:port``; a test can hold, cut or take it down."""

    def __init__(self, host: str, port: int) -> None:
        """Prepare a proxy to ``host:port``; :meth:`start` opens it."""
        self._target = (host, port)
        self._server: asyncio.Server | None = None
        self._flowing = asyncio.Event()
        self._flowing.set()
        self._down = False
        self._links: set[asyncio.StreamWriter] = set()
        self._pumps: set[asyncio.Task[None]] = set()

    async def start(self) -> int:
        """Listen on a free loopback port (once) and return it."""
        if self._server is None:
            self._server = await asyncio.start_server(self._accept, "127.0.0.1", 0)
        port: int = self._server.sockets[0].getsockname()[1]
        return port

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if self._down:
            writer.close()
            return
        try:
            up_reader, up_writer = await asyncio.open_connection(*self._target)
        except OSError:  # the target is down too: the client sees its connection closed
            writer.close()
            return
        self._links.update((writer, up_writer))
        for source, sink in ((reader, up_writer), (up_reader, writer)):
            pump = asyncio.create_task(self._pump(source, sink))
            self._pumps.add(pump)
            pump.add_done_callback(self._pumps.discard)

    async def _pump(self, source: asyncio.StreamReader, sink: asyncio.StreamWriter) -> None:
        with contextlib.suppress(ConnectionError, OSError):
            while data := await source.read(65536):
                await self._flowing.wait()
                sink.write(data)
                await sink.drain()
        sink.close()

    def hold(self) -> None:
        """Stop forwarding: bytes wait in the proxy until :meth:`release`."""
        self._flowing.clear()

    def release(self) -> None:
        """Forward again."""
        self._flowing.set()

    async def go_down(self) -> None:
        """Drop every connection and close each new one at once, until :meth:`come_up`.

        To a client this is a server that went away: what was open breaks, and
        every attempt to reconnect fails.
        """
        self._down = True
        await self.cut()

    def come_up(self) -> None:
        """Accept and forward connections again."""
        self._down = False

    async def cut(self) -> None:
        """Drop every connection through the proxy, as a failing network would."""
        for pump in list(self._pumps):
            pump.cancel()
        await asyncio.gather(*self._pumps, return_exceptions=True)
        links, self._links = self._links, set()
        for writer in links:
            writer.close()
        for writer in links:
            with contextlib.suppress(ConnectionError, OSError):
                await writer.wait_closed()

    async def close(self) -> None:
        """Stop listening and drop every connection."""
        self.release()
        self.come_up()
        if self._server is not None:
            self._server.close()
        await self.cut()
        if self._server is not None:
            await self._server.wait_closed()
