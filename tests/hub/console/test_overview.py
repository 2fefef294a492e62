"""The operator's overview: what needs acting on, the last hour drawn, nothing disturbed."""

from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from aiohttp import web
from aiohttp.test_utils import TestClient
from quarantined import read_quarantine

from hub.broker import QueueStats
from hub.broker.base import OutgoingMessage
from hub.console.base import Role
from hub.console.deps import ConsoleDeps
from hub.console.history import QueueHistory
from hub.console.overview import attention, overview

from .test_operations import quarantined
from .test_pages import signed_in

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

    from hub.console.tokens import TokenStore
    from hub.context import HubContext

Client = TestClient[web.Request, web.Application]
QUEUES = [
    ("ingress", "Ingress", "hub.ingress.q"),
    ("inbox", "police", "agency.police.inbox"),
    ("quarantine", "Quarantine", "hub.quarantine.log"),
    ("dead_letters", "Dead letters", "hub.quarantine"),
]


def _ready(**changes: Any) -> dict[str, Any]:
    ready: dict[str, Any] = {
        "ready": True,
        "checks": {
            "broker": {"ok": True, "code": None},
            "ledger": {"ok": True, "code": None},
            "keys": {"ok": True, "expired": [], "due": []},
        },
        "checkpoint": None,
        "agreements_due": [],
        "horizon_days": 30,
    }
    return ready | changes


def _history(**depths: tuple[int, int | None]) -> QueueHistory:
    """A history of one sample per queue: ``label=(messages, consumers)``."""
    history = QueueHistory()
    queue = {label: name for _, label, name in QUEUES}
    history.record(
        {
            queue[label]: QueueStats(queue[label], messages, 0, consumers, published=messages)
            for label, (messages, consumers) in depths.items()
        },
        1000.0,
    )
    return history


def test_all_well_needs_nothing() -> None:
    """A ready hub with its adapters attached and nothing waiting: nothing to act on."""
    history = _history(Ingress=(0, 1), police=(0, 1), Quarantine=(0, None))
    assert attention(_ready(), history, QUEUES, 1000.0) == []


def test_an_adapter_down_with_deliveries_waiting_is_critical_though_the_hub_is_ready() -> None:
    """The report's case: Ready, yet 41 deliveries wait for nobody and 7 are quarantined."""
    history = _history(Ingress=(0, 1), police=(41, 0), Quarantine=(7, None))
    items = attention(_ready(), history, QUEUES, 1000.0)
    assert [(i.severity, i.code, i.subject) for i in items] == [
        ("critical", "inbox.no_consumer", "police"),
        ("warning", "quarantine.waiting", "quarantine"),
    ]
    assert "41 deliveries waiting" in items[0].detail
    assert "7 messages" in items[1].detail


def test_an_old_backlog_warns_then_is_critical() -> None:
    """The backlog alerts' thresholds: 15 minutes warns, an hour is critical."""
    history = _history(police=(3, 1))
    codes = {i.code: i.severity for i in attention(_ready(), history, QUEUES, 1000.0 + 1000)}
    assert codes == {"inbox.backlog_old": "warning"}
    codes = {i.code: i.severity for i in attention(_ready(), history, QUEUES, 1000.0 + 3700)}
    assert codes == {"inbox.backlog_old": "critical"}


def test_a_rising_backlog_and_quarantine_are_named() -> None:
    """Depth that rose at every look for ten minutes."""
    history = QueueHistory(spacing=0.0)
    for minute in range(11):
        history.record(
            {
                "agency.police.inbox": QueueStats(
                    "agency.police.inbox", minute, 0, 1, published=minute
                ),
                "hub.quarantine.log": QueueStats("hub.quarantine.log", minute, 0, None),
            },
            minute * 60.0,
        )
    codes = [i.code for i in attention(_ready(), history, QUEUES, 600.0)]
    assert codes == ["inbox.backlog_growing", "quarantine.growing"]


def test_readiness_failures_and_what_comes_due_are_listed_most_severe_first() -> None:
    """Ledger down, a key with none valid, a key and an agreement coming due."""
    checks = _ready()["checks"] | {
        "ledger": {"ok": False, "code": "ledger.unavailable"},
        "keys": {
            "ok": False,
            "expired": [{"party": "health", "use": "enc", "not_after": None}],
            "due": [
                {"party": "health", "use": "enc", "not_after": None},
                {"party": "police", "use": "sig", "not_after": "2027-01-02T00:00:00+00:00"},
            ],
        },
    }
    due = [{"agreement": "dsa-1", "version": 2, "date": "review_date", "on": "2027-01-01"}]
    ready = _ready(ready=False, checks=checks, agreements_due=due)
    items = attention(ready, QueueHistory(), QUEUES, 0.0, queues_code="broker.unavailable")
    assert [(i.severity, i.code) for i in items] == [
        ("critical", "ledger.down"),
        ("critical", "key.none_valid"),
        ("warning", "key.expiring"),
        ("warning", "agreement.due"),
        ("warning", "queues.unknown"),
    ]
    assert "2027-01-02" in items[2].detail


async def test_the_overview_page_shows_the_stalled_agency_and_refreshes_itself(
    serve: Callable[[ConsoleDeps], Awaitable[Client]],
    hub_ctx: HubContext,
    store: TokenStore,
    tokens: dict[Role, str],
) -> None:
    """41 deliveries for police with no adapter, 7 quarantined: the page says so, and links."""
    names = hub_ctx.names
    for _ in range(41):
        await hub_ctx.broker.publish(
            OutgoingMessage(names.deliveries, "police", b"fictional", str(uuid.uuid4()))
        )
    for _ in range(7):
        await hub_ctx.broker.publish(quarantined(hub_ctx))
    links = (("Grafana dashboard", "https://grafana.example.internal/d/hub"),)
    client = await serve(ConsoleDeps(hub_ctx, store, links=links))
    await signed_in(client, tokens[Role.OPERATOR])
    html = await (await client.get("/")).text()
    assert "Critical" in html
    assert "inbox.no_consumer" in html
    assert "41 deliveries waiting" in html
    assert "quarantine.waiting" in html
    assert '<meta http-equiv="refresh" content="30">' in html
    assert 'href="https://grafana.example.internal/d/hub"' in html
    assert "<polyline" in html  # the last hour, drawn


async def test_looking_at_the_overview_leaves_the_quarantine_untouched(
    hub_ctx: HubContext, store: TokenStore
) -> None:
    """The overview reads counts only: the quarantined messages' delivery counts stay 0."""
    await hub_ctx.broker.publish(quarantined(hub_ctx))
    deps = ConsoleDeps(hub_ctx, store, clock=lambda: datetime(2026, 12, 6, tzinfo=UTC))
    for _ in range(3):
        found = await overview(replace(deps))
        assert found["status"] == "attention"
    seen = await read_quarantine(hub_ctx.broker, hub_ctx.names)
    assert len(seen) == 1


def test_dead_letters_that_stay_say_the_workers_are_not_taking_them_up() -> None:
    """Dead letters swept within two minutes say nothing; ones that stay are named."""
    history = QueueHistory(spacing=0.0)
    for second in (0, 60, 150):
        history.record({"hub.quarantine": QueueStats("hub.quarantine", 2, 0, None)}, second)
    codes = [i.code for i in attention(_ready(), history, QUEUES, 150.0)]
    assert codes == ["dead_letters.waiting"]
    swept = QueueHistory(spacing=0.0)
    for second, depth in ((0, 2), (60, 0), (150, 2)):
        swept.record({"hub.quarantine": QueueStats("hub.quarantine", depth, 0, None)}, second)
    assert attention(_ready(), swept, QUEUES, 150.0) == []
