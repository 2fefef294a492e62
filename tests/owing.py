"""Helpers of the tests of what agencies owe (receipts, erasures).

The hub takes ingress, advocacy publishes, an agency's adapter keeps what waits
for it, and so signs for it.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from typing import TYPE_CHECKING

from adapters.client import AgencyClient
from hub.broker.memory import MemoryBroker
from hub.broker.testing import next_delivery
from hub.pipeline import process
from schemas.samples import sample_event

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence
    from contextlib import AsyncExitStack
    from pathlib import Path

    from adapters.base import ReceivedEvent
    from hub.broker.memory import MemoryNode
    from hub.context import HubContext
    from hub.crypto.keys import KeyDirectory, PartyKeyring


async def started_clients(  # noqa: PLR0913, PLR0917 - the parts every client is made of
    stack: AsyncExitStack,
    node: MemoryNode,
    keyrings: Mapping[str, PartyKeyring],
    directory: KeyDirectory,
    folder: Path,
    parties: Sequence[str],
) -> dict[str, AgencyClient]:
    """A started client per party on the memory ``node``, each with its state in ``folder``."""
    clients = {}
    for party in parties:
        broker = MemoryBroker(node, user=party)
        client = AgencyClient(keyrings[party], directory, broker, folder / f"{party}.db")
        clients[party] = await stack.enter_async_context(client)
    return clients


async def hub_steps(ctx: HubContext, count: int) -> list[str]:
    """Let the hub process ``count`` ingress messages; their outcomes."""
    async with ctx.broker.consume(ctx.names.ingress_queue, count) as ingress:
        return [await process(ctx, await next_delivery(ingress)) for _ in range(count)]


async def publish_plans(ctx: HubContext, advocacy: AgencyClient, count: int) -> None:
    """Advocacy publishes ``count`` fresh safety plans; the hub discloses each."""
    for _ in range(count):
        event = sample_event("VictimSafetyPlanUpdated").model_copy(
            update={"event_id": uuid.uuid4()}
        )
        await advocacy.publish(event)
        assert await hub_steps(ctx, 1) == ["disclosed"]


async def keep_waiting(client: AgencyClient, seconds: float = 0.5) -> list[ReceivedEvent]:
    """Every delivery waiting for ``client``, kept (the end of the wait settles them)."""
    got: list[ReceivedEvent] = []

    async def take() -> None:
        async for received in client.deliveries():
            got.append(received)  # noqa: PERF401 - kept as it arrives: the wait is cancelled

    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(take(), seconds)
    return got
