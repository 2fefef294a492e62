"""One turn's writes reach the transport together, in order, and nothing kept is lost."""

from __future__ import annotations

import asyncio

from hub.broker.coalesce import FLUSH_AT, CoalescingStreamWriter


class RecordingTransport(asyncio.Transport):
    """A transport that records what reaches it."""

    def __init__(self) -> None:
        """Open, nothing written."""
        super().__init__()
        self.calls: list[tuple[str, bytes]] = []
        self.closing = False

    def write(self, data: bytes | bytearray | memoryview) -> None:
        """Record one write."""
        self.calls.append(("write", bytes(data)))

    def write_eof(self) -> None:
        """Record the half-close."""
        self.calls.append(("eof", b""))

    def can_write_eof(self) -> bool:
        """It can."""
        return True

    def close(self) -> None:
        """Record the close."""
        self.closing = True
        self.calls.append(("close", b""))

    def is_closing(self) -> bool:
        """Closed or closing."""
        return self.closing


def _writer() -> tuple[CoalescingStreamWriter, RecordingTransport]:
    loop = asyncio.get_running_loop()
    transport = RecordingTransport()
    reader = asyncio.StreamReader(loop=loop)
    protocol = asyncio.StreamReaderProtocol(reader, loop=loop)
    return CoalescingStreamWriter(transport, protocol, reader, loop), transport


async def test_one_turns_writes_reach_the_transport_in_one_write_in_order() -> None:
    """Writes made in one turn go to the transport at the next, joined, in the order made."""
    writer, transport = _writer()
    writer.write(b"publish-1;")
    writer.write(bytearray(b"publish-2;"))
    writer.writelines([b"ack-7;", memoryview(b"publish-3;")])
    writer.write(b"")

    assert transport.calls == []  # kept until the turn ends
    assert writer.kept == 4
    await asyncio.sleep(0)

    assert transport.calls == [("write", b"publish-1;publish-2;ack-7;publish-3;")]
    assert writer.kept == 0
    writer.write(b"next-turn;")
    await asyncio.sleep(0)
    assert transport.calls[1:] == [("write", b"next-turn;")]
    writer.close()


async def test_a_large_write_is_handed_over_at_once() -> None:
    """Past FLUSH_AT bytes kept, everything goes to the transport without waiting."""
    writer, transport = _writer()
    writer.write(b"small;")
    writer.write(b"x" * FLUSH_AT)

    assert transport.calls == [("write", b"small;" + b"x" * FLUSH_AT)]
    await asyncio.sleep(0)
    assert len(transport.calls) == 1  # nothing left for the turn's end
    writer.close()


async def test_closing_and_half_closing_hand_over_what_is_kept_first() -> None:
    """``write_eof`` and ``close`` write what is kept before they act."""
    writer, transport = _writer()
    writer.write(b"connection.close;")
    writer.write_eof()
    assert transport.calls == [("write", b"connection.close;"), ("eof", b"")]

    writer.write(b"last;")
    writer.close()
    assert transport.calls[2:] == [("write", b"last;"), ("close", b"")]
    await asyncio.sleep(0)
    assert len(transport.calls) == 4


async def test_what_is_kept_for_a_transport_that_closed_meanwhile_is_dropped_quietly() -> None:
    """A transport closed within the turn gets no write, and no error is raised."""
    writer, transport = _writer()
    writer.write(b"too-late;")
    transport.closing = True  # the connection went away within the turn
    await asyncio.sleep(0)

    assert transport.calls == []
    assert writer.kept == 0
    writer.close()
