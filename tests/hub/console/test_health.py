"""Readiness, liveness, ledger status and metrics on the embedded hub."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from aiohttp import web
from aiohttp.test_utils import TestClient

from hub.console.base import Role
from hub.console.deps import ConsoleDeps
from hub.console.health import agreements_due, keys_due
from hub.crypto.keys import KeyDirectory, generate_party_keys
from hub.ledger.base import ErrorCode, LedgerError
from hub.metrics import HubMetrics

if TYPE_CHECKING:
    import pytest

    from hub.console.tokens import TokenStore
    from hub.context import HubContext

Client = TestClient[web.Request, web.Application]
Serve = Callable[[ConsoleDeps], Awaitable[Client]]


def bearer(token: str) -> dict[str, str]:
    """The Authorization header for ``token``."""
    return {"Authorization": f"Bearer {token}"}


async def test_ready_when_all_is_well(client: Client, tokens: dict[Role, str]) -> None:
    """Broker, ledger and keys fine: 200 and ready."""
    response = await client.get("/api/ready", headers=bearer(tokens[Role.OPERATOR]))
    body = await response.json()
    assert response.status == 200, body
    assert body["ready"] is True
    assert body["checkpoint"] is None  # a fresh ledger has none yet


async def test_not_ready_when_the_ledger_is_closed(
    client: Client, hub_ctx: HubContext, tokens: dict[Role, str]
) -> None:
    """A closed ledger makes readiness 503 with the ledger's code; liveness stays 200."""
    await hub_ctx.ledger.close()
    response = await client.get("/api/ready", headers=bearer(tokens[Role.OPERATOR]))
    assert response.status == 503
    assert (await response.json())["checks"]["ledger"] == {"ok": False, "code": "ledger.closed"}
    assert (await client.get("/api/health", headers=bearer(tokens[Role.ADMIN]))).status == 200
    status = await client.get("/api/ledger/status", headers=bearer(tokens[Role.IG_OFFICER]))
    assert status.status == 503


async def test_not_ready_when_the_broker_is_gone(
    client: Client, hub_ctx: HubContext, tokens: dict[Role, str]
) -> None:
    """A closed broker connection makes readiness 503."""
    await hub_ctx.broker.close()
    response = await client.get("/api/ready", headers=bearer(tokens[Role.OPERATOR]))
    assert response.status == 503
    assert (await response.json())["checks"]["broker"]["ok"] is False


async def test_keys_coming_due_are_reported_but_still_ready(
    hub_ctx: HubContext, store: TokenStore, tokens: dict[Role, str], serve: Serve
) -> None:
    """20 days before the keys end: still ready (200), and the keys are listed as due."""
    ends = min(r.not_after for r in hub_ctx.keyring.keys)
    client = await serve(ConsoleDeps(hub_ctx, store, clock=lambda: ends - timedelta(days=20)))
    response = await client.get("/api/ready", headers=bearer(tokens[Role.ADMIN]))
    assert response.status == 200
    keys = (await response.json())["checks"]["keys"]
    assert keys["ok"] is True
    assert {"party": "hub", "use": "sig"} in [
        {"party": d["party"], "use": d["use"]} for d in keys["due"]
    ]


async def test_not_ready_once_a_party_has_no_valid_key(
    hub_ctx: HubContext, store: TokenStore, tokens: dict[Role, str], serve: Serve
) -> None:
    """After the keys end nothing can be sealed or checked: readiness is 503 and says which."""
    ends = min(r.not_after for r in hub_ctx.keyring.keys)
    client = await serve(ConsoleDeps(hub_ctx, store, clock=lambda: ends + timedelta(seconds=1)))
    response = await client.get("/api/ready", headers=bearer(tokens[Role.ADMIN]))
    assert response.status == 503
    keys = (await response.json())["checks"]["keys"]
    assert keys["ok"] is False
    assert {"party": "hub", "use": "sig"} in [
        {"party": d["party"], "use": d["use"]} for d in keys["expired"]
    ]


def test_a_rotated_in_key_is_not_due() -> None:
    """A party with a newer key valid beyond the horizon is not listed."""
    start = datetime(2026, 1, 1, tzinfo=UTC)
    old = generate_party_keys("police", start, timedelta(days=40))
    at = start + timedelta(days=20)
    assert len(keys_due(KeyDirectory.of(old), at, timedelta(days=30))) == 2
    new = generate_party_keys("police", start + timedelta(days=10))
    assert keys_due(KeyDirectory.of(old, new), at, timedelta(days=30)) == []


def test_agreements_coming_due(hub_ctx: HubContext) -> None:
    """An active agreement whose review date is within the horizon is listed."""
    agreement = hub_ctx.policy.agreements[0]
    review = datetime.combine(agreement.review_date, datetime.min.time(), UTC)
    due = agreements_due(hub_ctx.policy, review - timedelta(days=10), timedelta(days=30))
    assert {"agreement": agreement.id, "version": agreement.version, "date": "review_date",
            "on": agreement.review_date.isoformat()} in due  # fmt: skip
    early = min(a.review_date for a in hub_ctx.policy.agreements)
    before = datetime.combine(early, datetime.min.time(), UTC) - timedelta(days=100)
    assert agreements_due(hub_ctx.policy, before, timedelta(days=30)) == []


async def test_not_ready_when_the_ledger_cannot_be_written(
    hub_ctx: HubContext, client: Client, tokens: dict[Role, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A ledger that reads but cannot take the write lock makes readiness 503."""

    class LockedOut:
        async def __aenter__(self) -> None:
            raise LedgerError(ErrorCode.UNAVAILABLE, "write: locked")

        async def __aexit__(self, *exc: object) -> None:
            return None

    monkeypatch.setattr(hub_ctx.ledger.store, "write", LockedOut)
    response = await client.get("/api/ready", headers=bearer(tokens[Role.OPERATOR]))
    assert response.status == 503
    assert (await response.json())["checks"]["ledger"] == {
        "ok": False,
        "code": "ledger.unavailable",
    }
    assert await hub_ctx.ledger.size() == 0


async def test_the_writable_probe_records_nothing(hub_ctx: HubContext) -> None:
    """Probing the ledger's writer twice leaves it as it was, and it verifies."""
    await hub_ctx.ledger.probe_writable()
    await hub_ctx.ledger.probe_writable()
    assert await hub_ctx.ledger.size() == 0
    assert await hub_ctx.ledger.read() == []


async def test_ledger_status_verifies(client: Client, tokens: dict[Role, str]) -> None:
    """The IG officer sees an intact ledger and its counts."""
    response = await client.get("/api/ledger/status", headers=bearer(tokens[Role.IG_OFFICER]))
    body = await response.json()
    assert response.status == 200
    assert body["intact"] is True
    assert body["entries"] == 0


def test_registries_are_separate() -> None:
    """Two metric sets never share a registry, so two apps do not collide."""
    first, second = HubMetrics(), HubMetrics()
    first.events_in.inc()
    assert first.registry is not second.registry
    assert b"hub_events_in_total 1.0" in first.exposition()
    assert b"hub_events_in_total 0.0" in second.exposition()
