"""/metrics counts what the pipeline did: events, decisions, deliveries, refusals, latency."""

from __future__ import annotations

from contextlib import AsyncExitStack
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import pytest
from prometheus_client.parser import text_string_to_metric_families

from hub.broker.base import OutgoingMessage
from hub.broker.memory import MemoryBroker, MemoryNode
from hub.broker.testing import next_delivery
from hub.console.base import Role
from hub.console.deps import ConsoleDeps
from hub.crypto.envelope import issue_event
from hub.embedded import embedded_hub
from hub.worker import WorkerLimits, handle
from schemas.base import new_event_id
from schemas.samples import sample_event

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Awaitable, Callable
    from pathlib import Path

    from aiohttp import web
    from aiohttp.test_utils import TestClient

    from hub.console.tokens import TokenStore
    from hub.context import HubContext
    from hub.crypto.keys import KeyDirectory, PartyKeyring

    Client = TestClient[web.Request, web.Application]
    Serve = Callable[[ConsoleDeps], Awaitable[Client]]


@pytest.fixture
async def busy_hub(
    tmp_path: Path, keyrings: dict[str, PartyKeyring], directory: KeyDirectory
) -> AsyncIterator[HubContext]:
    """The embedded hub after one good event from police and one unreadable message."""
    node = MemoryNode()
    async with AsyncExitStack() as stack:
        ctx = await embedded_hub(stack, tmp_path, keyrings["hub"], directory, node)
        police = await stack.enter_async_context(MemoryBroker(node, user="police"))
        event = sample_event("ReferralReceived").model_copy(update={"event_id": new_event_id()})
        good = issue_event(event, keyrings["police"], directory).encode()
        for body, message_id in (
            (good, str(event.event_id)),
            (b"not an envelope", str(new_event_id())),
        ):
            await police.publish(
                OutgoingMessage(ctx.names.ingress, "police", body, message_id, user_id="police")
            )
        async with ctx.broker.consume(ctx.names.ingress_queue, 2) as consumer:
            for _ in range(2):
                await handle(
                    ctx, await next_delivery(consumer), WorkerLimits(prefetch=2, delivery_limit=5)
                )
        await ctx.ledger.checkpoint_now()
        yield ctx


def _samples(text: str) -> dict[tuple[str, tuple[tuple[str, str | None], ...]], float]:
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


async def test_metrics_count_the_pipelines_work(
    busy_hub: HubContext, store: TokenStore, tokens: dict[Role, str], serve: Serve
) -> None:
    """Two messages in: one disclosed to each entitled recipient, one refused, both timed."""
    entries = await busy_hub.ledger.read()
    disclosed = [e for e in entries if e.outcome == "disclosed"]
    assert disclosed, "the sample referral is disclosed to someone"
    client = await serve(ConsoleDeps(busy_hub, store))
    response = await client.get(
        "/metrics", headers={"Authorization": f"Bearer {tokens[Role.OPERATOR]}"}
    )
    assert response.status == 200
    assert response.headers["Content-Type"].startswith("text/plain")
    samples = _samples(await response.text())
    assert samples["hub_events_in_total", ()] == 2.0
    assert samples["hub_refusals_total", (("code", "envelope.malformed"),)] == 1.0
    assert samples["hub_decisions_total", (("outcome", "disclosed"),)] == len(disclosed)
    for entry in disclosed:
        assert samples["hub_deliveries_total", (("recipient", entry.recipient),)] == 1.0
    assert samples["hub_pipeline_seconds_count", ()] == 2.0
    assert samples["hub_ledger_append_seconds_count", ()] == 2.0


async def test_gauges_are_read_at_scrape_time(
    busy_hub: HubContext, store: TokenStore, tokens: dict[Role, str], serve: Serve
) -> None:
    """Checkpoint age, key expiry and agreement review come from the hub at each scrape."""
    later = datetime.now(UTC).replace(microsecond=0)
    client = await serve(ConsoleDeps(busy_hub, store, clock=lambda: later))
    response = await client.get(
        "/metrics", headers={"Authorization": f"Bearer {tokens[Role.ADMIN]}"}
    )
    samples = _samples(await response.text())
    assert 0 <= samples["hub_ledger_checkpoint_age_seconds", ()] < 60
    for agreement in busy_hub.policy.agreements:
        review = datetime.combine(agreement.review_date, datetime.min.time(), tzinfo=UTC)
        key = ("hub_agreement_review_seconds", (("agreement", agreement.id),))
        if agreement.status.value == "active":
            assert samples[key] == (review - later).total_seconds()
    police_sig = samples["hub_key_expiry_seconds", (("party", "police"), ("use", "sig"))]
    valid = busy_hub.directory.valid_keys("police", "sig", later)
    assert police_sig == (max(r.not_after for r in valid) - later).total_seconds()
