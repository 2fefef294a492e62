"""One socket write per turn of the event loop for an AMQP connection.

aiormq hands the socket one write per frame set: each publish, each ack, each
confirm-mode frame is a ``send`` of its own, and on loopback each ``send`` wakes
RabbitMQ. :class:`CoalescingTransportFactory` (aiormq's ``transport_factory``
hook) gives the connection a :class:`CoalescingStreamWriter`, which keeps what
is written during one turn of the loop and hands it to the transport at the
start of the next, in one write, in the order written. Nothing is dropped or
reordered: closing and ``write_eof`` hand over what is kept first, and the
transport's own flow control still applies (``drain`` waits while it is paused).
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

from aiormq.connection import TransportFactory
from aiormq.exceptions import AMQPConnectionError

if TYPE_CHECKING:
    from yarl import URL

#: Hand over at once, without waiting for the turn to end, past this many bytes kept.
FLUSH_AT = 256 * 1024


class CoalescingStreamWriter(asyncio.StreamWriter):
    """A stream writer that hands one turn's writes to the transport together."""

    def __init__(
        self,
        transport: asyncio.WriteTransport,
        protocol: asyncio.StreamReaderProtocol,
        reader: asyncio.StreamReader,
        loop: asyncio.AbstractEventLoop,
    ) -> None:
        """Wrap ``transport`` as :class:`asyncio.StreamWriter` does."""
        super().__init__(transport, protocol, reader, loop)
        self._kept: list[bytes] = []
        self._kept_bytes = 0
        self._handing_over = False
        self._turns = loop

    @property
    def kept(self) -> int:
        """How many writes wait for the next hand-over."""
        return len(self._kept)

    def write(self, data: bytes | bytearray | memoryview) -> None:
        """Keep ``data`` for the write at the start of the next turn."""
        if not data:
            return
        self._kept.append(bytes(data))
        self._kept_bytes += len(data)
        if self._kept_bytes >= FLUSH_AT:
            self.hand_over()
        elif not self._handing_over:
            self._handing_over = True
            self._turns.call_soon(self.hand_over)

    def writelines(self, data: Any) -> None:
        """Keep each of ``data`` in turn."""
        for part in data:
            self.write(part)

    def hand_over(self) -> None:
        """Write everything kept to the transport now, in one write."""
        self._handing_over = False
        if not self._kept:
            return
        data = self._kept[0] if len(self._kept) == 1 else b"".join(self._kept)
        self._kept.clear()
        self._kept_bytes = 0
        if not self.transport.is_closing():
            self.transport.write(data)

    def write_eof(self) -> None:
        """Hand over what is kept, then half-close."""
        self.hand_over()
        super().write_eof()

    def close(self) -> None:
        """Hand over what is kept, then close (the transport sends its buffer first)."""
        self.hand_over()
        super().close()


class CoalescingTransportFactory(TransportFactory):
    """aiormq's TCP and TLS connections, written through a :class:`CoalescingStreamWriter`."""

    async def create(
        self, url: URL, **kwargs: Any
    ) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        """Open the connection as :func:`asyncio.open_connection` does, with TLS for ``amqps``.

        Raises:
            AMQPConnectionError: the connection could not be made.
        """
        if url.host is None or url.port is None:
            raise AMQPConnectionError("the broker URL names no host or port")
        provider = kwargs.pop("ssl_context_provider", None)
        ssl = await provider.get_context() if url.scheme == "amqps" and provider else None
        loop = asyncio.get_running_loop()
        reader = asyncio.StreamReader(loop=loop)
        protocol = asyncio.StreamReaderProtocol(reader, loop=loop)
        try:
            transport, _ = await loop.create_connection(
                lambda: protocol, url.host, url.port, ssl=ssl, **kwargs
            )
        except OSError as error:
            raise AMQPConnectionError(*error.args) from error
        return reader, CoalescingStreamWriter(transport, protocol, reader, loop)
