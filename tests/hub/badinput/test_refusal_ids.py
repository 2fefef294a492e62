"""Refusal ids: one ledger entry per bad message and sender, however often it arrives."""

from __future__ import annotations

import uuid
from contextlib import AsyncExitStack
from typing import TYPE_CHECKING

import forge

from hub.broker.base import OutgoingMessage
from hub.broker.memory import MemoryBroker, MemoryNode
from hub.broker.testing import next_delivery
from hub.crypto.notice import open_notice
from hub.embedded import embedded_hub
from hub.pipeline import process

if TYPE_CHECKING:
    from pathlib import Path

    from hub.crypto.keys import PartyKeyring


async def test_same_bad_bytes_from_two_senders_are_two_refusals(
    tmp_path: Path, keyrings: dict[str, PartyKeyring]
) -> None:
    """An empty body from police twice and from health once: two entries, each its sender's."""
    world = forge.make_world(keyrings)
    node = MemoryNode()
    async with AsyncExitStack() as stack:
        ctx = await embedded_hub(stack, tmp_path, world.keyrings["hub"], world.directory, node)
        for user in ("police", "police", "health"):
            async with MemoryBroker(node, user=user) as broker:
                await broker.publish(
                    OutgoingMessage(ctx.names.ingress, user, b"", str(uuid.uuid4()), user_id=user)
                )
            async with ctx.broker.consume(ctx.names.ingress_queue, 1) as consumer:
                assert await process(ctx, await next_delivery(consumer)) == "envelope.malformed"
        entries = await ctx.ledger.read()
        assert sorted(e.provider or "" for e in entries) == ["health", "police"]
        async with ctx.broker.consume(ctx.names.inbox("health"), 10) as consumer:
            notice = await next_delivery(consumer)
        opened = open_notice(notice.body.decode(), world.keyrings["health"], world.directory)
        assert opened.decision_id == next(e.decision_id for e in entries if e.provider == "health")
