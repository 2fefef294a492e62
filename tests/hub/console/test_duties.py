"""What the agencies owe the ledger, as the console shows it: receipts and erasures per agency.

The embedded hub, real agency clients (police signs its receipts, probation runs
no adapter) and the console with a clock the test moves.
"""

from __future__ import annotations

from contextlib import AsyncExitStack
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

import pytest
from owing import hub_steps, keep_waiting, publish_plans, started_clients

from hub.broker.memory import MemoryBroker
from hub.console.base import Role
from hub.console.deps import ConsoleDeps
from hub.console.duties import look

from .test_pages import signed_in

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Awaitable, Callable
    from pathlib import Path

    from adapters.base import ReceivedEvent
    from adapters.client import AgencyClient
    from hub.console.tokens import TokenStore
    from hub.context import HubContext
    from hub.crypto.keys import KeyDirectory, PartyKeyring

    from .conftest import Client


class Scene:
    """The hub, advocacy and police clients, and the console's clock."""

    def __init__(self, ctx: HubContext, clients: dict[str, AgencyClient]) -> None:
        """Hold the parts; the clock starts now."""
        self.ctx, self.clients = ctx, clients
        self.now = [datetime.now(UTC)]

    async def steps(self, count: int) -> list[str]:
        """Let the hub process ``count`` ingress messages."""
        return await hub_steps(self.ctx, count)

    async def publish(self, count: int) -> None:
        """Advocacy publishes ``count`` safety plans, each disclosed."""
        await publish_plans(self.ctx, self.clients["advocacy"], count)

    async def police_keeps(self) -> list[ReceivedEvent]:
        """Police's adapter takes what waits for it, keeps it and signs for it."""
        return await keep_waiting(self.clients["police"])


@pytest.fixture
async def scene(
    hub_ctx: HubContext, tmp_path: Path, keyrings: dict[str, PartyKeyring], directory: KeyDirectory
) -> AsyncIterator[Scene]:
    """Clients for advocacy and police on the embedded hub's node."""
    assert isinstance(hub_ctx.broker, MemoryBroker)
    node = hub_ctx.broker.node
    async with AsyncExitStack() as stack:
        parties = ("advocacy", "police")
        clients = await started_clients(stack, node, keyrings, directory, tmp_path, parties)
        yield Scene(hub_ctx, clients)


@pytest.fixture
async def console(
    scene: Scene, store: TokenStore, serve: Callable[[ConsoleDeps], Awaitable[Client]]
) -> tuple[Client, ConsoleDeps]:
    """The console on the scene's hub, on the scene's clock."""
    deps = ConsoleDeps(scene.ctx, store, clock=lambda: scene.now[0])
    return await serve(deps), deps


def _bearer(tokens: dict[Role, str], role: Role) -> dict[str, str]:
    return {"Authorization": f"Bearer {tokens[role]}"}


async def test_deliveries_not_signed_for_are_listed_with_the_oldest_age(
    scene: Scene, console: tuple[Client, ConsoleDeps], tokens: dict[Role, str]
) -> None:
    """Probation signs nothing: it owes every delivery since receipts began, oldest first."""
    client, _ = console
    await scene.publish(1)
    await scene.police_keeps()
    assert await scene.steps(1) == ["receipted"]
    await scene.publish(2)
    await scene.police_keeps()
    assert await scene.steps(1) == ["receipted"]
    scene.now[0] += timedelta(minutes=20)
    response = await client.get("/api/duties", headers=_bearer(tokens, Role.OPERATOR))
    assert response.status == 200
    body = await response.json()
    owing = {row["recipient"]: row for row in body["receipts"]}
    assert set(owing) == {"health", "probation"}  # police signed for all of it
    assert owing["probation"]["count"] == 2
    assert owing["probation"]["age_seconds"] >= 19 * 60
    assert body["erasures"] == []
    metrics = await (await client.get("/metrics", headers=_bearer(tokens, Role.OPERATOR))).text()
    assert 'hub_receipts_awaiting{recipient="probation"} 2.0' in metrics
    assert 'hub_receipts_awaiting{recipient="police"} 0.0' in metrics
    await signed_in(client, tokens[Role.OPERATOR])
    page = await (await client.get("/")).text()
    assert "Owed by the agencies" in page
    assert "receipts.overdue" in page


async def test_erasures_past_the_acknowledged_day_are_shown_to_the_ig_officer(
    scene: Scene, console: tuple[Client, ConsoleDeps], tokens: dict[Role, str]
) -> None:
    """The day after police's delete-by day, until it erases, the ledger page says so."""
    client, deps = console
    await scene.publish(2)
    received = await scene.police_keeps()
    assert await scene.steps(1) == ["receipted"]
    until = received[0].retain_until
    assert until is not None
    scene.now[0] = datetime(until.year, until.month, until.day, 12, tzinfo=UTC) + timedelta(days=1)
    response = await client.get("/api/duties", headers=_bearer(tokens, Role.IG_OFFICER))
    [row] = (await response.json())["erasures"]
    assert (row["recipient"], row["count"], row["earliest"], row["days_overdue"]) == (
        "police",
        2,
        until.isoformat(),
        1,
    )
    await signed_in(client, tokens[Role.IG_OFFICER])
    page = await (await client.get("/ledger")).text()
    assert "Erasures overdue" in page
    assert f"{until.day} {until:%B %Y} (1 day ago)" in page
    assert await scene.clients["police"].erase_due(today=until) == 2
    assert await scene.steps(1) == ["erased"]
    view = await look(deps, reuse=0.0)
    assert view.erasures == []


async def test_a_ledger_that_cannot_be_read_gives_a_coded_503(
    console: tuple[Client, ConsoleDeps], tokens: dict[Role, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """No traceback and no guess: the ledger's code."""
    client, deps = console
    from hub.ledger import ErrorCode, LedgerError  # noqa: PLC0415 - the one test needing them

    async def down(_: object) -> list[object]:
        raise LedgerError(ErrorCode.UNAVAILABLE, "test: database down")

    monkeypatch.setattr(deps.owed.duties, "awaiting_receipts", down)
    response = await client.get("/api/duties", headers=_bearer(tokens, Role.OPERATOR))
    assert (response.status, await response.json()) == (503, {"code": "ledger.unavailable"})
