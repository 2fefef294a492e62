"""Frames written in one turn of the loop leave in one write, in order, with nothing kept back."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any, cast

import pytest

from hub.broker import amqp
from hub.broker.frames import BatchedWriter
from hub.broker.testing import BrokerHarness, ingress_message, next_delivery, no_delivery_within

if TYPE_CHECKING:
    from hub.broker.base import IncomingMessage


class RecordingWriter:
    """A stream writer that records what reaches it, and when it was asked to drain or close."""

    def __init__(self) -> None:
        """Nothing recorded yet."""
        self.calls: list[tuple[str, bytes]] = []
        self.transport = object()

    def write(self, data: bytes) -> None:
        """Record a write."""
        self.calls.append(("write", data))

    async def drain(self) -> None:
        """Record a drain."""
        self.calls.append(("drain", b""))

    def close(self) -> None:
        """Record a close."""
        self.calls.append(("close", b""))

    def write_eof(self) -> None:
        """Record the end of the stream."""
        self.calls.append(("eof", b""))

    def can_write_eof(self) -> bool:
        """A TCP stream can."""
        return True

    def is_closing(self) -> bool:
        """Never closing."""
        return False

    async def wait_closed(self) -> None:
        """Record the wait."""
        self.calls.append(("closed", b""))

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        """A peer name only."""
        return {"peername": ("127.0.0.1", 5672)}.get(name, default)


def batched() -> tuple[BatchedWriter, RecordingWriter]:
    """A batched writer over a recording one."""
    inner = RecordingWriter()
    return BatchedWriter(cast("asyncio.StreamWriter", inner)), inner


async def test_writes_in_one_turn_leave_together_at_the_next() -> None:
    """Three writes, nothing sent until the loop turns, then one write of all three in order."""
    writer, inner = batched()
    for frame in (b"method", b"header", b"body"):
        writer.write(frame)
    assert inner.calls == []
    await asyncio.sleep(0)
    assert inner.calls == [("write", b"methodheaderbody")]
    writer.write(b"ack")
    await asyncio.sleep(0)
    assert inner.calls[1:] == [("write", b"ack")]
    await asyncio.sleep(0)
    assert len(inner.calls) == 2


@pytest.mark.parametrize(
    ("act", "last"),
    [("drain", "drain"), ("close", "close"), ("write_eof", "eof")],
)
async def test_drain_close_and_eof_send_what_is_kept_first(act: str, last: str) -> None:
    """What was written goes out before the drain, the close or the end of the stream."""
    writer, inner = batched()
    writer.write(b"heartbeat")
    writer.write(b"close-ok")
    outcome = getattr(writer, act)()
    if asyncio.iscoroutine(outcome):
        await outcome
    assert inner.calls == [("write", b"heartbeatclose-ok"), (last, b"")]
    await asyncio.sleep(0)
    assert len(inner.calls) == 2


async def test_the_rest_is_the_wrapped_writers() -> None:
    """Closing state, end of stream and extra info come from the writer underneath."""
    writer, inner = batched()
    assert writer.can_write_eof()
    assert not writer.is_closing()
    assert writer.get_extra_info("peername") == ("127.0.0.1", 5672)
    assert writer.get_extra_info("socket", "none") == "none"
    assert writer.transport is cast("asyncio.StreamWriter", inner).transport
    await writer.wait_closed()
    assert inner.calls == [("closed", b"")]


class WriteCount:
    """How many frames and how many writes went through every :class:`BatchedWriter`."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        """Count from now on, until the test ends."""
        self.frames = 0
        self.writes = 0
        write, flush = BatchedWriter.write, BatchedWriter.flush

        def counted_write(writer: BatchedWriter, data: bytes) -> None:
            self.frames += 1
            write(writer, data)

        def counted_flush(writer: BatchedWriter) -> None:
            if writer._kept:
                self.writes += 1
            flush(writer)

        monkeypatch.setattr(BatchedWriter, "write", counted_write)
        monkeypatch.setattr(BatchedWriter, "flush", counted_flush)


@pytest.mark.rabbitmq
async def test_concurrent_publishes_and_acks_share_writes_and_all_arrive(
    rabbit: BrokerHarness, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Twelve publishes at once take fewer writes than frames, and so do their acks.

    Each publish is confirmed and delivered intact, and once acked never comes back.
    """
    count = WriteCount(monkeypatch)
    broker = await rabbit.connect()
    await broker.apply(rabbit.topology())
    messages = [ingress_message(rabbit.names, user_id=rabbit.user) for _ in range(12)]
    count.frames = count.writes = 0
    await asyncio.gather(*(broker.publish(m) for m in messages))
    assert count.frames >= len(messages)
    assert 0 < count.writes < count.frames
    async with broker.consume(rabbit.names.ingress_queue, prefetch=12) as consumer:
        held: list[IncomingMessage] = [await next_delivery(consumer) for _ in messages]
        assert {(d.message_id, d.body) for d in held} == {(m.message_id, m.body) for m in messages}
        count.frames = count.writes = 0
        await asyncio.gather(*(d.ack() for d in held))
        await asyncio.sleep(0.2)  # the acks leave at the next turn of the loop
        assert 0 < count.writes < count.frames
    async with broker.consume(rabbit.names.ingress_queue, prefetch=12) as again:
        assert await no_delivery_within(again, 1.0)


@pytest.mark.rabbitmq
async def test_with_batching_off_each_frame_is_written_alone(
    rabbit: BrokerHarness, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``BATCHED_WRITES`` off: aiormq's own writer, and publishing works as before."""
    count = WriteCount(monkeypatch)
    monkeypatch.setattr(amqp, "BATCHED_WRITES", False)
    broker = await rabbit.connect()
    await broker.apply(rabbit.topology())
    messages = [ingress_message(rabbit.names, user_id=rabbit.user) for _ in range(4)]
    await asyncio.gather(*(broker.publish(m) for m in messages))
    async with broker.consume(rabbit.names.ingress_queue, prefetch=4) as consumer:
        for _ in messages:
            await (await next_delivery(consumer)).ack()
    assert (count.frames, count.writes) == (0, 0)
