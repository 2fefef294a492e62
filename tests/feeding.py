"""A hub that feeds the evaluation, on a fresh memory node, with every party's connection."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from hub.broker import MemoryBroker, MemoryNode, OutgoingMessage, next_delivery
from hub.crypto import issue_event
from hub.embedded import RECIPIENTS, embedded_hub
from hub.evaluation import Area, Feed, LinkageKey
from hub.pipeline import process
from schemas.evaluation import InterventionModel

if TYPE_CHECKING:
    from contextlib import AsyncExitStack
    from pathlib import Path

    from hub.broker import IncomingMessage
    from hub.context import HubContext
    from hub.crypto import KeyDirectory, PartyKeyring
    from schemas.base import CaseEvent

AREA = Area("exampleshire", InterventionModel.THREAT_ASSESSMENT_CENTRE)
KEY = LinkageKey(b"L" * 32)
EVALUATOR = "evaluator"


@dataclass
class Feeding:
    """A hub that feeds the evaluation, and every party's connection to its node."""

    ctx: HubContext
    keyrings: dict[str, PartyKeyring]
    parties: dict[str, MemoryBroker]

    async def send(self, event: CaseEvent, sender: str | None = None) -> str:
        """Issue ``event`` as its author (or ``sender``), publish it, and process it."""
        author = sender or event.author_agency
        envelope = issue_event(event, self.keyrings[author], self.ctx.directory).encode()
        names = self.ctx.names
        message = OutgoingMessage(
            names.ingress, author, envelope, str(uuid.uuid4()), user_id=author
        )
        await self.parties[author].publish(message)
        async with self.ctx.broker.consume(names.ingress_queue, 1) as consumer:
            return await process(self.ctx, await next_delivery(consumer))

    async def inbox(self, party: str) -> list[IncomingMessage]:
        """Take every message waiting in ``party``'s inbox, acking each."""
        taken: list[IncomingMessage] = []
        async with self.parties[party].consume(self.ctx.names.inbox(party), 100) as consumer:
            while True:
                try:
                    message = await next_delivery(consumer, 0.02)
                except TimeoutError:
                    return taken
                await message.ack()
                taken.append(message)


async def feeding_hub(
    stack: AsyncExitStack, workdir: Path, keyrings: dict[str, PartyKeyring], directory: KeyDirectory
) -> Feeding:
    """A hub on a fresh memory node that feeds ``AREA``; ``stack`` closes it."""
    node = MemoryNode()
    ctx = await embedded_hub(stack, workdir, keyrings["hub"], directory, node)
    ctx = replace(ctx, evaluation=Feed(AREA, KEY))
    parties = {p: await stack.enter_async_context(MemoryBroker(node, user=p)) for p in RECIPIENTS}
    return Feeding(ctx, keyrings, parties)
