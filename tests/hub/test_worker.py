"""A hub worker's consume loop, on memory + SQLite and on a real RabbitMQ + PostgreSQL."""

from __future__ import annotations

import asyncio
import uuid
from contextlib import AsyncExitStack
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from quarantined import quarantined_within
from services import amqp_url, drop_schema, postgres_dsn
from structlog.testing import capture_logs

from hub.broker.amqp import AmqpBroker
from hub.broker.base import OutgoingMessage
from hub.broker.memory import MemoryBroker, MemoryNode
from hub.broker.testing import delete_topologies, next_delivery
from hub.broker.topology import TopologyNames, default_topology
from hub.context import HubContext, build_context
from hub.crypto.envelope import issue_event, open_delivery
from hub.embedded import embedded_hub, embedded_settings
from hub.ledger.service import open_ledger
from hub.ledger.verify import verify_store
from hub.policy.base import PolicyError
from hub.worker import Reloader, WorkerLimits, serve
from schemas.base import new_event_id
from schemas.samples import sample_event

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

    from hub.broker.base import Broker
    from hub.crypto.keys import KeyDirectory, PartyKeyring

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
AGENCIES = ("police", "probation", "health", "advocacy")
LIMITS = WorkerLimits(prefetch=8, delivery_limit=3)


@pytest.fixture(params=["memory", "rabbitmq"])
async def world(
    request: pytest.FixtureRequest,
    tmp_path: Path,
    keyrings: dict[str, PartyKeyring],
    directory: KeyDirectory,
) -> AsyncIterator[tuple[HubContext, Broker]]:
    """A hub context and a publisher connection: memory + SQLite, or RabbitMQ + PostgreSQL."""
    names = TopologyNames(prefix=f"w{uuid.uuid4().hex[:10]}.")
    topology = default_topology(AGENCIES, LIMITS.delivery_limit, names=names)
    async with AsyncExitStack() as stack:
        if request.param == "memory":
            node = MemoryNode()
            hub_broker: Broker = MemoryBroker(node, user="hub")
            publisher: Broker = MemoryBroker(node, user="hub")
            ledger = await open_ledger(f"sqlite:///{tmp_path / 'l.db'}", keyring=keyrings["hub"])
        else:
            url, dsn = amqp_url(), postgres_dsn()
            schema = f"worker_test_{uuid.uuid4().hex[:10]}"
            stack.push_async_callback(drop_schema, dsn, schema)
            stack.push_async_callback(delete_topologies, url, [topology])
            hub_broker, publisher = AmqpBroker(url), AmqpBroker(url)
            ledger = await open_ledger(dsn, keyring=keyrings["hub"], schema=schema)
        stack.push_async_callback(ledger.close)
        for broker in (hub_broker, publisher):
            await broker.connect()
            stack.push_async_callback(broker.close)
        await hub_broker.apply(topology)
        # One broker user in the test vhost: per-agency users and the user_id check
        # against real RabbitMQ permissions come with deploy/rabbitmq's definitions.
        settings = embedded_settings(
            tmp_path, keyrings["hub"], directory,
            topology_prefix=names.prefix, delivery_limit=LIMITS.delivery_limit,
        )  # fmt: skip
        ctx = await build_context(settings, stack, broker=hub_broker, ledger=ledger)
        ctx = replace(ctx, require_user_id=False)
        yield ctx, publisher


async def _publish(
    publisher: Broker, ctx: HubContext, keyrings: dict[str, PartyKeyring], kind: str
) -> uuid.UUID:
    event = sample_event(kind).model_copy(update={"event_id": new_event_id()})
    body = issue_event(event, keyrings[event.author_agency], ctx.directory).encode()
    names = ctx.names
    await publisher.publish(
        OutgoingMessage(names.ingress, event.author_agency, body, str(event.event_id))
    )
    return event.event_id


async def _collect(broker: Broker, queue: str, count: int) -> list[bytes]:
    bodies = []
    async with broker.consume(queue, 50) as consumer:
        for _ in range(count):
            message = await next_delivery(consumer, 20)
            await message.ack()
            bodies.append(message.body)
    return bodies


async def test_worker_delivers_every_event_and_the_ledger_verifies(
    world: tuple[HubContext, Broker], keyrings: dict[str, PartyKeyring]
) -> None:
    """Thirty events through the consume loop reach every entitled inbox; the ledger is intact."""
    ctx, publisher = world
    sent = [await _publish(publisher, ctx, keyrings, "ReferralReceived") for _ in range(30)]
    stop = asyncio.Event()
    worker = asyncio.create_task(serve(ctx, LIMITS, stop))
    try:
        for party in ("probation", "health", "advocacy"):
            bodies = await _collect(publisher, ctx.names.inbox(party), len(sent))
            opened = {
                open_delivery(b.decode(), keyrings[party], ctx.directory).claims.event_id
                for b in bodies
            }
            assert opened == set(sent)
    finally:
        stop.set()
        await asyncio.wait_for(worker, 10)
    assert len(await ctx.ledger.read()) == 3 * len(sent)
    await ctx.ledger.checkpoint_now()
    report = await verify_store(ctx.ledger.store, ctx.directory)
    assert report.intact
    assert report.entries == 3 * len(sent)


async def test_message_that_always_crashes_is_refused_after_the_delivery_limit(
    world: tuple[HubContext, Broker],
    keyrings: dict[str, PartyKeyring],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A message the pipeline crashes on every time ends refused, recorded and quarantined."""
    ctx, publisher = world
    attempts = 0

    async def crash(_: HubContext, __: object) -> str:
        nonlocal attempts
        attempts += 1
        raise RuntimeError

    monkeypatch.setattr("hub.worker.process", crash)
    event_id = await _publish(publisher, ctx, keyrings, "ReferralReceived")
    stop = asyncio.Event()
    worker = asyncio.create_task(serve(ctx, LIMITS, stop))
    try:
        [quarantined] = [m.body for m in await quarantined_within(ctx.broker, ctx.names, 1)]
    finally:
        stop.set()
        await asyncio.wait_for(worker, 10)
    assert attempts == LIMITS.delivery_limit
    [entry] = await ctx.ledger.read()
    assert (entry.kind, entry.reason_code) == ("refusal", "message.unprocessable")
    assert quarantined.startswith(b"eyJ")
    assert entry.event_id is None  # refused before the envelope was opened: nothing is known
    assert event_id not in {e.event_id for e in await ctx.ledger.read()}


async def test_a_stuck_message_cannot_keep_the_worker_from_stopping(
    tmp_path: Path,
    keyrings: dict[str, PartyKeyring],
    directory: KeyDirectory,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Past its shutdown grace a stopping worker cancels what is in flight, unacked."""
    started = asyncio.Event()

    async def stuck(_: HubContext, __: object) -> str:
        started.set()
        await asyncio.Event().wait()  # a call on a connection that never answers
        return "disclosed"

    monkeypatch.setattr("hub.worker.process", stuck)
    message_id = str(uuid.uuid4())
    node = MemoryNode()
    async with AsyncExitStack() as stack:
        ctx = await embedded_hub(stack, tmp_path, keyrings["hub"], directory, node)
        async with MemoryBroker(node, user="police") as police:
            await police.publish(
                OutgoingMessage(ctx.names.ingress, "police", b"x", message_id, user_id="police")
            )
        stop = asyncio.Event()
        limits = WorkerLimits(prefetch=2, delivery_limit=5, shutdown_grace=0.2)
        worker = asyncio.create_task(serve(ctx, limits, stop))
        async with asyncio.timeout(10):
            await started.wait()
            stop.set()
            await worker  # returns: the stuck call was cancelled after the grace
        async with ctx.broker.consume(ctx.names.ingress_queue, 1) as ingress:
            again = await next_delivery(ingress)  # never acked: it comes back
            assert again.message_id == message_id
            await again.ack()


async def test_a_reload_applies_from_the_next_message(
    world: tuple[HubContext, Broker], keyrings: dict[str, PartyKeyring]
) -> None:
    """After a reload that drops every agreement, the next referral is refused, not disclosed."""
    ctx, publisher = world
    reloader = Reloader(lambda old: replace(old, policy=replace(old.policy, agreements=())))
    stop = asyncio.Event()
    worker = asyncio.create_task(serve(ctx, LIMITS, stop, reloader))
    try:
        first = await _publish(publisher, ctx, keyrings, "ReferralReceived")
        [body] = await _collect(publisher, ctx.names.inbox("probation"), 1)
        opened = open_delivery(body.decode(), keyrings["probation"], ctx.directory)
        assert opened.claims.event_id == first
        reloader.requested.set()
        second = await _publish(publisher, ctx, keyrings, "ReferralReceived")
        [quarantined] = [m.body for m in await quarantined_within(ctx.broker, ctx.names, 1)]
    finally:
        stop.set()
        await asyncio.wait_for(worker, 10)
    assert quarantined.startswith(b"eyJ")
    refusals = [e for e in await ctx.ledger.read() if e.kind == "refusal"]
    assert [(e.event_id, e.reason_code) for e in refusals] == [(second, "sender.not_entitled")]


def test_a_failed_reload_keeps_the_old_policy(
    world: tuple[HubContext, Broker],
) -> None:
    """A reload whose agreements do not load is logged; the worker keeps what it had."""
    ctx, _ = world

    def broken(_: HubContext) -> HubContext:
        raise PolicyError("policy.invalid", "agreements/x.toml", "does not validate")

    reloader = Reloader(broken)
    assert reloader.refresh(ctx) is ctx  # nothing asked: nothing loaded
    reloader.requested.set()
    with capture_logs() as logs:
        assert reloader.refresh(ctx) is ctx
    assert [(e["event"], e["code"]) for e in logs] == [("worker.reload_failed", "policy.invalid")]
    assert not reloader.requested.is_set()
