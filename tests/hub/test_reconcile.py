"""Messages dead-lettered from ingress by the delivery limit are taken up, each with a reason."""

from __future__ import annotations

import uuid
from contextlib import AsyncExitStack
from typing import TYPE_CHECKING, Any

import pytest
from quarantined import read_quarantine

from hub import reconcile
from hub.broker.base import OutgoingMessage
from hub.broker.memory import MemoryBroker, MemoryNode
from hub.broker.testing import next_delivery
from hub.crypto.envelope import issue_event, open_delivery
from hub.crypto.notice import open_notice
from hub.embedded import AGENCIES, embedded_hub
from hub.ledger.base import ErrorCode, LedgerError
from schemas.base import new_event_id
from schemas.samples import sample_event

if TYPE_CHECKING:
    from collections.abc import AsyncIterator
    from pathlib import Path

    from hub.broker.base import IncomingMessage
    from hub.context import HubContext
    from hub.crypto.keys import KeyDirectory, PartyKeyring


class World:
    """The embedded hub and the agencies' connections, on one memory node."""

    def __init__(self, ctx: HubContext, keyrings: dict[str, PartyKeyring]) -> None:
        """Hold the parts."""
        self.ctx, self.keyrings = ctx, keyrings
        self.agencies: dict[str, MemoryBroker] = {}

    async def send(self, user: str, body: bytes) -> str:
        """Publish ``body`` to ingress as ``user``; return its message id."""
        message_id = str(uuid.uuid4())
        names = self.ctx.names
        await self.agencies[user].publish(
            OutgoingMessage(names.ingress, user, body, message_id, user_id=user)
        )
        return message_id

    async def outage_spends_the_limit(self) -> int:
        """Take every ingress message and give it back, as killed workers do, until none is left."""
        dead = 0
        for _ in range(50):  # bounded: the limit is a handful of deliveries
            async with self.ctx.broker.consume(self.ctx.names.ingress_queue, 10) as consumer:
                try:
                    message = await next_delivery(consumer, 0.2)
                except TimeoutError:
                    return dead
                await message.reject(requeue=True)
                dead += 1
        raise AssertionError("ingress never emptied")

    async def taken(self, queue: str) -> list[IncomingMessage]:
        """Every message waiting in ``queue``, acked."""
        found: list[IncomingMessage] = []
        async with self.agencies["police"].consume(queue, 50) as consumer:
            while True:
                try:
                    message = await next_delivery(consumer, 0.1)
                except TimeoutError:
                    return found
                await message.ack()
                found.append(message)


@pytest.fixture
async def world(
    tmp_path: Path, keyrings: dict[str, PartyKeyring], directory: KeyDirectory
) -> AsyncIterator[World]:
    """A fresh embedded hub."""
    node = MemoryNode()
    async with AsyncExitStack() as stack:
        ctx = await embedded_hub(stack, tmp_path, keyrings["hub"], directory, node)
        made = World(ctx, keyrings)
        for agency in AGENCIES:
            made.agencies[agency] = await stack.enter_async_context(MemoryBroker(node, user=agency))
        yield made


def _event_body(world: World) -> tuple[uuid.UUID, bytes]:
    event = sample_event("ReferralReceived").model_copy(update={"event_id": new_event_id()})
    return event.event_id, issue_event(
        event, world.keyrings["police"], world.ctx.directory
    ).encode()


async def _browsed(ctx: HubContext) -> list[IncomingMessage]:
    async with ctx.broker.browse(ctx.names.quarantine, 50) as seen:  # type: ignore[attr-defined]
        return list(seen)


async def test_valid_events_parked_by_the_limit_are_delivered_and_bad_ones_refused(
    world: World,
) -> None:
    """An outage spent the limit: valid events reach their recipients; bad bytes get a code."""
    ctx = world.ctx
    events = [_event_body(world) for _ in range(3)]
    for _, body in events:
        await world.send("police", body)
    garbage_id = await world.send("health", b"not an envelope")
    assert await world.outage_spends_the_limit() > 0
    parked = await _browsed(ctx)
    assert len(parked) == 4
    assert all("reason" not in m.headers for m in parked)  # the broker's, not the hub's

    assert await reconcile.sweep(ctx) == 4

    delivered = [
        open_delivery(m.body.decode(), world.keyrings["probation"], ctx.directory).claims.event_id
        for m in await world.taken(ctx.names.inbox("probation"))
    ]
    assert sorted(delivered) == sorted(event_id for event_id, _ in events)
    assert await _browsed(ctx) == []  # the dead letters are all taken up
    back = await read_quarantine(ctx.broker, ctx.names)
    assert [(m.headers.get("kind"), m.headers.get("reason")) for m in back] == [
        ("refusal", "envelope.malformed")
    ], [dict(m.headers) for m in back]
    to_health = await world.taken(ctx.names.inbox("health"))
    [notice] = [m for m in to_health if m.headers.get("kind") == "refusal-notice"]
    opened = open_notice(notice.body.decode(), world.keyrings["health"], ctx.directory)
    assert (opened.code, opened.message_id) == ("envelope.malformed", garbage_id)
    entries = await ctx.ledger.read()
    assert sum(e.kind == "refusal" for e in entries) == 1
    assert {e.event_id for e in entries if e.kind == "disclosure"} == {e for e, _ in events}
    assert await reconcile.sweep(ctx) == 0  # the refusal in quarantine has its reason


async def test_a_message_that_fails_even_then_is_refused_unprocessable(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A poison message (the pipeline crashes on it) leaves with message.unprocessable."""
    ctx = world.ctx
    _, body = _event_body(world)
    sent = await world.send("police", body)
    await world.outage_spends_the_limit()

    async def crashes(*_: Any) -> str:
        raise RuntimeError("poison")

    monkeypatch.setattr(reconcile, "process", crashes)
    assert await reconcile.sweep(ctx) == 1
    [back] = await read_quarantine(ctx.broker, ctx.names)
    assert back.headers["reason"] == "message.unprocessable"
    [notice] = await world.taken(ctx.names.inbox("police"))
    opened = open_notice(notice.body.decode(), world.keyrings["police"], ctx.directory)
    assert (opened.code, opened.message_id) == ("message.unprocessable", sent)


async def test_nothing_is_taken_while_the_ledger_cannot_be_written(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The sweep waits for a writable ledger; the parked messages stay, untouched."""
    ctx = world.ctx
    _, body = _event_body(world)
    await world.send("police", body)
    await world.outage_spends_the_limit()

    async def down() -> None:
        raise LedgerError(ErrorCode.UNAVAILABLE, "test: ledger down")

    monkeypatch.setattr(ctx.ledger, "probe_writable", down)
    with pytest.raises(LedgerError):
        await reconcile.sweep(ctx)
    [parked] = await _browsed(ctx)
    assert "reason" not in parked.headers
    assert await ctx.ledger.size() == 0


async def test_a_delivery_its_recipient_rejected_is_recorded_with_a_reason(world: World) -> None:
    """A delivery the recipient's SDK rejected: a refusal entry naming it, and a reason."""
    ctx = world.ctx
    event_id, body = _event_body(world)
    await world.send("police", body)
    async with ctx.broker.consume(ctx.names.ingress_queue, 1) as consumer:
        from hub.pipeline import process  # noqa: PLC0415 - the worker's one step, here by hand

        assert await process(ctx, await next_delivery(consumer)) == "disclosed"
    async with world.agencies["health"].consume(ctx.names.inbox("health"), 1) as inbox:
        delivered = await next_delivery(inbox)
        await delivered.reject(requeue=False)  # as the SDK does with one that does not verify
    [parked] = await _browsed(ctx)
    assert (parked.headers["kind"], "reason" in parked.headers) == ("delivery", False)

    assert await reconcile.sweep(ctx) == 1
    assert await _browsed(ctx) == []
    [back] = await read_quarantine(ctx.broker, ctx.names)
    assert (back.headers["kind"], back.headers["reason"]) == ("refusal", "delivery.rejected")
    [entry] = [e for e in await ctx.ledger.read() if e.kind == "refusal"]
    assert (entry.reason_code, entry.event_id, entry.recipient) == (
        "delivery.rejected",
        event_id,
        "health",
    )
    assert await reconcile.sweep(ctx) == 0


async def test_a_refusal_parked_by_an_older_hub_moves_to_the_stream_whole(world: World) -> None:
    """Before ADR 0020 refusals waited in hub.quarantine; the sweep moves each, once."""
    ctx = world.ctx
    decision = str(uuid.uuid4())
    await ctx.broker.publish(
        OutgoingMessage(
            ctx.names.quarantine, "", b"fictional-refused-bytes", decision,
            content_type="application/octet-stream",
            headers={"kind": "refusal", "reason": "key.not_valid", "decision-id": decision,
                     "sender": "police"},
        )
    )  # fmt: skip
    assert await reconcile.sweep(ctx) == 1
    assert await _browsed(ctx) == []
    [moved] = await read_quarantine(ctx.broker, ctx.names)
    assert (moved.body, moved.message_id) == (b"fictional-refused-bytes", decision)
    assert {k: moved.headers[k] for k in ("kind", "reason", "decision-id", "sender")} == {
        "kind": "refusal", "reason": "key.not_valid", "decision-id": decision, "sender": "police",
    }  # fmt: skip
    assert await reconcile.sweep(ctx) == 0


async def _dead_letter(world: World, message: OutgoingMessage, queue: str) -> None:
    """Publish ``message`` and have ``queue``'s consumer reject it: the broker dead-letters it."""
    await world.ctx.broker.publish(message)
    async with world.ctx.broker.consume(queue, 1) as consumer:
        taken = await next_delivery(consumer)
        await taken.reject(requeue=False)


async def test_a_dead_lettered_replay_is_taken_up_like_a_senders_event(world: World) -> None:
    """An operator's replay that ingress dead-lettered is carried through the pipeline."""
    ctx = world.ctx
    event_id, body = _event_body(world)
    replay = OutgoingMessage(
        ctx.names.ingress, "police", body, str(event_id), user_id=ctx.broker.user,
        headers={"kind": "replay"},
    )  # fmt: skip
    await _dead_letter(world, replay, ctx.names.ingress_queue)
    [parked] = await _browsed(ctx)
    assert parked.headers["kind"] == "replay"
    assert await reconcile.sweep(ctx) == 1
    assert await _browsed(ctx) == []
    delivered = await world.taken(ctx.names.inbox("probation"))
    assert [m.headers["event-id"] for m in delivered] == [str(event_id)]


async def test_a_notice_its_recipient_rejected_is_recorded_for_that_party(world: World) -> None:
    """A refusal notice dead-lettered from the sender's inbox: delivery.rejected, for it."""
    ctx = world.ctx
    decision = str(uuid.uuid4())
    notice = OutgoingMessage(
        ctx.names.deliveries, "police", b"fictional-sealed-notice", decision,
        headers={"kind": "refusal-notice", "reason": "schema.invalid", "decision-id": decision},
    )  # fmt: skip
    await _dead_letter(world, notice, ctx.names.inbox("police"))
    assert await reconcile.sweep(ctx) == 1
    assert await _browsed(ctx) == []
    [back] = await read_quarantine(ctx.broker, ctx.names)
    assert (back.headers["kind"], back.headers["reason"]) == ("refusal", "delivery.rejected")
    [entry] = [e for e in await ctx.ledger.read() if e.kind == "refusal"]
    assert (entry.reason_code, entry.recipient) == ("delivery.rejected", "police")


async def test_anything_else_dead_lettered_leaves_with_a_code(world: World) -> None:
    """A message of no kind the sweep knows is refused message.unprocessable: nothing stays."""
    ctx = world.ctx
    odd = OutgoingMessage(
        ctx.names.quarantine, "", b"fictional", str(uuid.uuid4()), headers={"kind": "odd-one"}
    )
    await ctx.broker.publish(odd)
    assert await reconcile.sweep(ctx) == 1
    assert await _browsed(ctx) == []
    [back] = await read_quarantine(ctx.broker, ctx.names)
    assert back.headers["reason"] == "message.unprocessable"
