"""The quarantine's log is a stream: read from any offset, as often as wanted, taking nothing."""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING

import pytest

from hub.broker.base import BrokerError, BrokerErrorCode, OutgoingMessage
from hub.broker.topology import QueueType

if TYPE_CHECKING:
    from hub.broker.testing import BrokerHarness


def _marked(harness: BrokerHarness, index: int) -> OutgoingMessage:
    return OutgoingMessage(
        harness.names.quarantine_log,
        "",
        f"fictional-{index}".encode(),
        str(uuid.uuid4()),
        headers={"kind": "refusal", "reason": "schema.invalid"},
    )


async def test_a_stream_is_read_again_and_again_from_any_offset(harness: BrokerHarness) -> None:
    """Reading counts no delivery and takes nothing out; offsets run 0, 1, 2 ... in order."""
    broker = await harness.connect()
    topology = harness.topology()
    assert topology.queue(harness.names.quarantine_log).type is QueueType.STREAM
    await broker.apply(topology)
    sent = [_marked(harness, i) for i in range(3)]
    for message in sent:
        await broker.publish(message)
    last = sent[-1].message_id
    for _ in range(2):
        read = await broker.read_log(  # type: ignore[attr-defined]
            harness.names.quarantine_log, None, lambda m: m.message_id == last
        )
        assert [m.body for m in read] == [b"fictional-0", b"fictional-1", b"fictional-2"]
        assert [m.delivery_count for m in read] == [0, 0, 0]
    offsets = [m.offset for m in read]
    assert offsets == sorted(offsets)
    assert offsets[1:] == [offsets[0] + 1, offsets[0] + 2]
    later = await broker.read_log(  # type: ignore[attr-defined]
        harness.names.quarantine_log, offsets[0], lambda m: m.message_id == last
    )
    assert [m.body for m in later] == [b"fictional-1", b"fictional-2"]
    (one,) = await broker.read_log(  # type: ignore[attr-defined]
        harness.names.quarantine_log, offsets[1] - 1, lambda _: True
    )
    assert one.body == b"fictional-1"
    assert one.headers["reason"] == "schema.invalid"


async def test_a_mark_never_written_ends_the_read_with_an_error(harness: BrokerHarness) -> None:
    """No hang: a read that cannot find its mark fails ``broker.unavailable`` in bounded time."""
    broker = await harness.connect()
    await broker.apply(harness.topology())
    await broker.publish(_marked(harness, 0))
    with pytest.raises(BrokerError) as raised:
        await broker.read_log(  # type: ignore[attr-defined]
            harness.names.quarantine_log, None, lambda _: False, within=2.0
        )
    assert raised.value.code is BrokerErrorCode.UNAVAILABLE
