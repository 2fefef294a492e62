"""What recipients owe the ledger: deliveries not receipted, erasures overdue (ADR 0029, 0030).

The embedded hub and real agency clients: advocacy publishes, police signs its
receipts at once, health's wait on ingress until the hub takes them, and probation
runs no adapter at all.
"""

from __future__ import annotations

from contextlib import AsyncExitStack
from datetime import timedelta
from typing import TYPE_CHECKING

import pytest
from owing import hub_steps, keep_waiting, publish_plans, started_clients

from hub.broker.memory import MemoryNode
from hub.embedded import embedded_hub
from hub.ledger import duties
from hub.ledger.duties import Duties

if TYPE_CHECKING:
    from collections.abc import AsyncIterator
    from pathlib import Path

    from adapters.client import AgencyClient
    from hub.context import HubContext
    from hub.crypto.keys import KeyDirectory, PartyKeyring


class World:
    """The embedded hub, three clients and the ledger's duties."""

    def __init__(self, ctx: HubContext, clients: dict[str, AgencyClient]) -> None:
        """Hold the parts."""
        self.ctx, self.clients = ctx, clients
        self.duties = Duties(ctx.ledger.store)

    async def hub_steps(self, count: int) -> list[str]:
        """Let the hub process ``count`` ingress messages."""
        return await hub_steps(self.ctx, count)

    async def publish(self, count: int) -> None:
        """Advocacy publishes ``count`` safety plans; the hub discloses each."""
        await publish_plans(self.ctx, self.clients["advocacy"], count)

    async def owed(self) -> dict[str, int]:
        """Deliveries awaiting receipts, per recipient."""
        recipients = ("police", "health", "probation", "advocacy")
        return {a.recipient: a.count for a in await self.duties.awaiting_receipts(recipients)}


@pytest.fixture
async def world(
    tmp_path: Path, keyrings: dict[str, PartyKeyring], directory: KeyDirectory
) -> AsyncIterator[World]:
    """The embedded hub with clients for advocacy, police and health."""
    node = MemoryNode()
    async with AsyncExitStack() as stack:
        ctx = await embedded_hub(stack, tmp_path, keyrings["hub"], directory, node)
        parties = ("advocacy", "police", "health")
        clients = await started_clients(stack, node, keyrings, directory, tmp_path, parties)
        yield World(ctx, clients)


async def test_deliveries_not_receipted_are_counted_per_recipient_from_the_first_receipt(
    world: World,
) -> None:
    """Probation signs nothing, health's receipts wait, police's are recorded: who owes what."""
    await world.publish(1)
    assert await world.owed() == {}  # nobody signs receipts yet: nothing is expected
    await keep_waiting(world.clients["police"])
    assert await world.hub_steps(1) == ["receipted"]  # the ledger's first receipt
    await world.publish(2)
    assert await world.owed() == {"police": 2, "health": 2, "probation": 2}
    await keep_waiting(world.clients["police"])
    await keep_waiting(world.clients["health"])
    assert await world.owed() == {"police": 2, "health": 2, "probation": 2}  # not yet recorded
    assert sorted(await world.hub_steps(2)) == ["receipted", "receipted"]
    assert await world.owed() == {"probation": 2}
    (probation,) = await world.duties.awaiting_receipts(["probation"])
    entries = await world.ctx.ledger.read(0, None)
    first = min(e.recorded_at for e in entries if e.recipient == "probation" and e.seq > 3)
    assert (probation.oldest, probation.at_least) == (first, False)


async def test_a_count_past_the_budget_says_it_is_a_lower_bound(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """One refresh reads at most its budget; the rest is read by the next."""
    await world.publish(1)
    await keep_waiting(world.clients["police"])
    assert await world.hub_steps(1) == ["receipted"]
    await world.publish(3)
    monkeypatch.setattr(duties, "PAGE", 1)
    limited = Duties(world.ctx.ledger.store, budget=2)
    (owed,) = await limited.awaiting_receipts(["probation"])
    assert (owed.count, owed.at_least) == (2, True)


async def test_erasures_are_overdue_the_day_after_the_acknowledged_retention_end(
    world: World,
) -> None:
    """Police acknowledged a delete-by day; the day after, until it erases, it owes them."""
    await world.publish(2)
    received = await keep_waiting(world.clients["police"])
    assert await world.hub_steps(1) == ["receipted"]
    until = received[0].retain_until
    assert until is not None
    assert await world.duties.overdue_erasures(until) == []  # the last day to erase on
    (owed,) = await world.duties.overdue_erasures(until + timedelta(days=1))
    assert (owed.recipient, owed.count, owed.earliest, owed.at_least) == ("police", 2, until, False)
    assert await world.clients["police"].erase_due(today=until) == 2
    assert await world.duties.overdue_erasures(until + timedelta(days=1)) != []  # not recorded
    assert await world.hub_steps(1) == ["erased"]
    assert await world.duties.overdue_erasures(until + timedelta(days=30)) == []


async def test_a_receipt_recorded_late_for_a_day_already_passed_is_found(world: World) -> None:
    """A day read as clear is read again when a receipt recorded since acknowledges it."""
    await world.publish(1)
    police = world.clients["police"]
    (to_police,) = await keep_waiting(police)
    assert await world.hub_steps(1) == ["receipted"]
    assert to_police.retain_until is not None
    assert await police.erase_due(today=to_police.retain_until) == 1
    assert await world.hub_steps(1) == ["erased"]
    far = to_police.retain_until + timedelta(days=400 * 30)
    assert await world.duties.overdue_erasures(far) == []  # every day until then read as clear
    (to_health,) = await keep_waiting(world.clients["health"])
    assert await world.hub_steps(1) == ["receipted"]  # health's receipt, recorded late
    (owed,) = await world.duties.overdue_erasures(far)
    assert (owed.recipient, owed.earliest) == ("health", to_health.retain_until)
