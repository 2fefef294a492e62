"""The whole bad-input corpus through one running hub worker, good events interleaved.

One run per backend (module fixture): every corpus message, with a good police
referral after every few, is published to ingress and consumed by
``hub.worker.serve``; a final good event shows the hub still serves. Each corpus
entry is then its own test id, asserting what the run left behind: the ledger
entry with the code, the quarantined copy with the reason header, the signed
notice to the sender, and nothing delivered.
"""

from __future__ import annotations

import asyncio
import re
import uuid
from contextlib import AsyncExitStack
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import forge
import pytest
from bad_messages import CORPUS, HUB_CODES, BadMessage
from quarantined import read_quarantine
from services import amqp_url, drop_schema, postgres_dsn
from structlog.testing import capture_logs
from yarl import URL

from hub.broker.amqp import AmqpBroker
from hub.broker.base import OutgoingMessage
from hub.broker.memory import MemoryBroker, MemoryNode
from hub.broker.testing import delete_topologies, next_delivery
from hub.broker.topology import TopologyNames, default_topology
from hub.context import HubContext, build_context
from hub.crypto.notice import open_notice
from hub.embedded import embedded_hub, embedded_settings
from hub.ledger.service import open_ledger
from hub.ledger.verify import verify_entries
from hub.refusals import refusal_id
from hub.worker import WorkerLimits, serve

if TYPE_CHECKING:
    from collections.abc import Mapping, MutableMapping

    from forge import World

    from hub.broker.base import Broker, IncomingMessage
    from hub.crypto.keys import PartyKeyring
    from hub.ledger.entries import LedgerEntry

ROOT = Path(__file__).resolve().parents[3]
#: A good event after every this many bad ones.
GOOD_EVERY = 3
#: Recipients of a police referral under the default agreements.
REFERRAL_RECIPIENTS = ("probation", "health", "advocacy")
USERS = (*forge.AGENCIES, "intruder")


@dataclass
class Run:
    """What one pass of the corpus through a hub left behind."""

    bodies: dict[str, bytes] = field(default_factory=dict)
    decisions: dict[str, uuid.UUID] = field(default_factory=dict)
    good_ids: set[str] = field(default_factory=set)
    refusals: dict[uuid.UUID, LedgerEntry] = field(default_factory=dict)
    quarantined: list[IncomingMessage] = field(default_factory=list)
    inboxes: dict[str, list[IncomingMessage]] = field(default_factory=dict)
    notices: dict[uuid.UUID, tuple[str, str]] = field(default_factory=dict)
    crashes: list[MutableMapping[str, Any]] = field(default_factory=list)
    running_at_end: bool = False
    ledger_intact: bool = False


@pytest.fixture(scope="module")
def world(keyrings: dict[str, PartyKeyring]) -> World:
    """The parties' keys plus the expired, future and unknown keys the corpus needs."""
    return forge.make_world(keyrings)


async def _drain(broker: Broker, queue: str, idle: float) -> list[IncomingMessage]:
    taken: list[IncomingMessage] = []
    async with broker.consume(queue, 100) as consumer:
        while True:
            try:
                message = await next_delivery(consumer, idle)
            except TimeoutError:
                return taken
            await message.ack()
            taken.append(message)


async def _until_delivered(broker: Broker, queue: str, event_id: str) -> list[IncomingMessage]:
    """Take deliveries from ``queue`` until the one of ``event_id`` arrives."""
    taken: list[IncomingMessage] = []
    async with broker.consume(queue, 100) as consumer:
        while not any(m.headers.get("event-id") == event_id for m in taken):
            message = await next_delivery(consumer, 60)
            await message.ack()
            taken.append(message)
    return taken


class Sender:
    """Publishes corpus and good messages over each user's own connection."""

    def __init__(self, ctx: HubContext, brokers: Mapping[str, Broker], shared: str | None) -> None:
        """``shared``: the one broker user every message goes over (RabbitMQ test vhost)."""
        self.ctx, self.brokers, self.shared = ctx, brokers, shared

    async def send(self, user: str, body: bytes) -> str:
        """Publish ``body`` to ingress as ``user`` (or as the shared user); return the user."""
        # A user with no binding of its own (the intruder) can only try an agency's key.
        key = user if user in forge.AGENCIES else "police"
        user = self.shared or user
        await self.brokers[user].publish(
            OutgoingMessage(self.ctx.names.ingress, key, body, str(uuid.uuid4()), user_id=user)
        )
        return user

    async def good(self, world: World, run: Run) -> str:
        """Publish a good police referral; return its event id."""
        event = forge.fresh()
        run.good_ids.add(str(event.event_id))
        await self.send("police", forge.good(world, event))
        return str(event.event_id)


async def _publish_all(sender: Sender, world: World, cases: list[BadMessage], run: Run) -> str:
    for index, case in enumerate(cases, start=1):
        built = case.build(world)
        run.bodies[case.name] = built.body
        for body in built.prelude:
            run.good_ids.add(forge.event_id_of(world, body))
            await sender.send(built.user, body)
        user = await sender.send(built.user, built.body)
        run.decisions[case.name] = refusal_id(built.body, user)
        if index % GOOD_EVERY == 0:
            await sender.good(world, run)
    return await sender.good(world, run)


async def run_corpus(  # noqa: PLR0913 - the hub and its world, each one
    ctx: HubContext,
    brokers: Mapping[str, Broker],
    world: World,
    cases: list[BadMessage],
    *,
    shared: str | None = None,
    idle: float = 0.2,
) -> Run:
    """Send ``cases`` and good events through one worker and collect what it left."""
    run, stop = Run(), asyncio.Event()
    reader = brokers[shared or "police"]
    with capture_logs() as logs:
        worker = asyncio.create_task(serve(ctx, WorkerLimits(prefetch=1, delivery_limit=5), stop))
        last = await _publish_all(Sender(ctx, brokers, shared), world, cases, run)
        seen = await _until_delivered(reader, ctx.names.inbox("probation"), last)
        run.running_at_end = not worker.done()
        stop.set()
        await worker
    run.crashes = [line for line in logs if line["event"].startswith("worker.")]
    run.inboxes["probation"] = seen + await _drain(reader, ctx.names.inbox("probation"), idle)
    for party in ("police", "health", "advocacy"):
        run.inboxes[party] = await _drain(reader, ctx.names.inbox(party), idle)
    run.quarantined = await read_quarantine(ctx.broker, ctx.names)
    entries = await ctx.ledger.read()
    run.refusals = {e.decision_id: e for e in entries if e.kind == "refusal"}
    checkpoint = await ctx.ledger.checkpoint_now()
    tokens = [checkpoint.token] if checkpoint else []
    run.ledger_intact = verify_entries(await ctx.ledger.read(), tokens, ctx.directory).intact
    if shared is None:
        _open_notices(run, world)
    return run


def _open_notices(run: Run, world: World) -> None:
    for party, messages in run.inboxes.items():
        for message in messages:
            if message.headers.get("kind") == "refusal-notice":
                notice = open_notice(message.body.decode(), world.keyrings[party], world.directory)
                run.notices[notice.decision_id] = (party, notice.code)


async def _memory_run(world: World, workdir: Path) -> Run:
    node = MemoryNode()
    async with AsyncExitStack() as stack:
        ctx = await embedded_hub(stack, workdir, world.keyrings["hub"], world.directory, node)
        brokers: dict[str, Broker] = {
            user: await stack.enter_async_context(MemoryBroker(node, user=user)) for user in USERS
        }
        return await run_corpus(ctx, brokers, world, CORPUS)


@pytest.fixture(scope="module")
def memory_run(world: World, tmp_path_factory: pytest.TempPathFactory) -> Run:
    """The whole corpus through one hub on the memory broker and a SQLite ledger."""
    return asyncio.run(_memory_run(world, tmp_path_factory.mktemp("corpus")))


@pytest.mark.parametrize("case", CORPUS, ids=[case.name for case in CORPUS])
def test_bad_message_is_refused_recorded_quarantined_and_noticed(
    case: BadMessage, memory_run: Run
) -> None:
    """The message is refused with its code: ledger entry, quarantined copy, notice to sender."""
    body, decision = memory_run.bodies[case.name], memory_run.decisions[case.name]
    entry = memory_run.refusals.get(decision)
    assert entry is not None, "no refusal recorded"
    assert (entry.reason_code, entry.outcome) == (case.code, "refused")
    [copy] = [m for m in memory_run.quarantined if m.body == body]
    assert copy.headers["reason"] == case.code
    assert copy.headers["decision-id"] == str(decision)
    assert memory_run.notices.get(decision) == ((case.told, case.code) if case.told else None)


def test_corpus_holds_forty_distinct_bad_messages(memory_run: Run) -> None:
    """The corpus has at least 40 entries with distinct names and distinct bodies."""
    assert len(CORPUS) >= 40
    assert len({case.name for case in CORPUS}) == len(CORPUS)
    assert len(set(memory_run.bodies.values())) == len(CORPUS)


def test_corpus_covers_the_issue_list() -> None:
    """Every kind of bad message the issue names has at least one corpus entry."""
    names = " ".join(case.name for case in CORPUS)
    for kind in (
        "truncated", "jwe-alg", "alg-none", "wrong-key", "bit-flip-jwe-header",
        "bit-flip-encrypted-key", "bit-flip-iv", "bit-flip-ciphertext", "bit-flip-tag",
        "oversized", "deep-nesting", "huge-integer", "unicode", "unknown-schema-version",
        "missing-field", "extra-field", "replay", "future", "unknown-sender",
        "not-entitled", "disclosure-from-another-event",
    ):  # fmt: skip
        assert kind in names, kind


def test_every_refusal_code_is_documented() -> None:
    """Each code the corpus expects is in the refusal tables of docs/envelope.md or schemas.md."""
    documented = set()
    for doc in ("envelope.md", "schemas.md"):
        text = (ROOT / "docs" / doc).read_text()
        documented |= set(re.findall(r"^\| `([a-z_]+\.[a-z_]+)` \|", text, re.MULTILINE))
    assert {case.code for case in CORPUS} | HUB_CODES <= documented


def test_interleaved_good_events_are_all_delivered(memory_run: Run) -> None:
    """Every good event reaches each recipient, and nothing else is delivered."""
    for party in REFERRAL_RECIPIENTS:
        delivered = {
            m.headers["event-id"]
            for m in memory_run.inboxes[party]
            if m.headers.get("kind") == "delivery"
        }
        assert delivered == memory_run.good_ids, party
    assert all(m.headers.get("kind") != "delivery" for m in memory_run.inboxes["police"])
    assert len(memory_run.good_ids) > len(CORPUS) // GOOD_EVERY


def test_hub_keeps_running_and_the_ledger_verifies(memory_run: Run) -> None:
    """The worker never crashed, still served the last good event, and the ledger is intact."""
    assert memory_run.crashes == []
    assert memory_run.running_at_end
    assert memory_run.ledger_intact
    assert len(memory_run.refusals) == len(CORPUS)
    assert len(memory_run.quarantined) == len(CORPUS)


@pytest.mark.rabbitmq
@pytest.mark.postgres
async def test_corpus_on_rabbitmq_and_postgresql(world: World, tmp_path: Path) -> None:
    """The corpus on a real RabbitMQ and PostgreSQL ledger: the same codes, copies and entries.

    The test vhost has one broker user, so every message goes over it as the hub
    demo's shared user; cases about the broker user itself run on the memory broker.
    """
    url, dsn = amqp_url(), postgres_dsn()
    cases = [case for case in CORPUS if not case.own_users]
    names = TopologyNames(prefix=f"bad{uuid.uuid4().hex[:8]}.")
    schema = f"badinput_{uuid.uuid4().hex[:10]}"
    user = URL(url).user or ""
    async with AsyncExitStack() as stack:
        stack.push_async_callback(drop_schema, dsn, schema)
        topology = default_topology(forge.AGENCIES, names=names)
        stack.push_async_callback(delete_topologies, url, [topology])
        hub_broker, client = AmqpBroker(url), AmqpBroker(url)
        for broker in (hub_broker, client):
            await broker.connect()
            stack.push_async_callback(broker.close)
        await hub_broker.apply(topology)
        ledger = await open_ledger(dsn, keyring=world.keyrings["hub"], schema=schema)
        stack.push_async_callback(ledger.close)
        settings = embedded_settings(
            tmp_path, world.keyrings["hub"], world.directory, topology_prefix=names.prefix
        )
        ctx = await build_context(settings, stack, broker=hub_broker, ledger=ledger)
        ctx = replace(ctx, shared_broker_user=user)
        run = await run_corpus(ctx, {user: client}, world, cases, shared=user, idle=1.0)
    assert run.crashes == []
    assert run.running_at_end
    assert run.ledger_intact
    for case in cases:
        assert run.refusals[run.decisions[case.name]].reason_code == case.code, case.name
    reasons = {m.headers["decision-id"]: m.headers["reason"] for m in run.quarantined}
    assert reasons == {str(run.decisions[c.name]): c.code for c in cases}
