"""AMQP frames written in one turn of the event loop leave in one write (ADR 0033).

aiormq writes each frame it takes from its queue at once: a publish (method, header
and body frames) or an ack is one ``send`` on the socket, and a wake-up at the
broker, whose cost on RabbitMQ is per read rather than per frame. The hub's
publishes and acks do not wait for their frames to be written
(:mod:`hub.broker.amqp`), so a worker publishing an event's K deliveries, or an
agency acking what it just committed, queues several frames in one turn.

:class:`BatchedTransport` is aiormq's own extension point (``transport_factory``):
it opens the connection as aiormq would, plain or TLS, and hands aiormq a writer
that keeps what is written until the loop's next turn, then writes it as one piece.
The bytes on the wire, their order and every flow-control point stay aiormq's:
``drain``, ``close`` and ``write_eof`` write what is kept first, so a heartbeat, a
connection close or a backed-up socket sees everything before it.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any, cast

from aiormq.connection import TCPTransportFactory, TLSTransportFactory, TransportFactory

if TYPE_CHECKING:
    from yarl import URL


class BatchedWriter:
    """A stream writer whose writes in one turn of the loop leave together."""

    def __init__(self, writer: asyncio.StreamWriter) -> None:
        """Wrap ``writer``; writes go to it at the loop's next turn, or at :meth:`drain`."""
        self._writer = writer
        self._kept: list[bytes] = []
        self._loop = asyncio.get_running_loop()

    @property
    def transport(self) -> asyncio.WriteTransport:
        """The wrapped writer's transport."""
        return self._writer.transport

    def write(self, data: bytes) -> None:
        """Keep ``data``; the first write of a turn asks for a flush at the next."""
        if not self._kept:
            self._loop.call_soon(self.flush)
        self._kept.append(data)

    def flush(self) -> None:
        """Write everything kept, in order, as one piece."""
        if not self._kept:
            return
        data = self._kept[0] if len(self._kept) == 1 else b"".join(self._kept)
        self._kept.clear()
        self._writer.write(data)

    async def drain(self) -> None:
        """Write what is kept, then wait as the wrapped writer's ``drain`` does."""
        self.flush()
        await self._writer.drain()

    def can_write_eof(self) -> bool:
        """As the wrapped writer."""
        return self._writer.can_write_eof()

    def write_eof(self) -> None:
        """Write what is kept, then close the write side."""
        self.flush()
        self._writer.write_eof()

    def is_closing(self) -> bool:
        """As the wrapped writer."""
        return self._writer.is_closing()

    def close(self) -> None:
        """Write what is kept, then close."""
        self.flush()
        self._writer.close()

    async def wait_closed(self) -> None:
        """As the wrapped writer."""
        await self._writer.wait_closed()

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        """As the wrapped writer."""
        return self._writer.get_extra_info(name, default)


class BatchedTransport(TransportFactory):
    """aiormq's plain or TLS connection, by the URL's scheme, with a :class:`BatchedWriter`."""

    async def create(
        self, url: URL, **kwargs: Any
    ) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        """Open the connection as aiormq would and wrap its writer."""
        opener = TLSTransportFactory() if url.scheme == "amqps" else TCPTransportFactory()
        reader, writer = await opener.create(url, **kwargs)
        return reader, cast("asyncio.StreamWriter", BatchedWriter(writer))
