"""Operations routes: queue numbers, quarantine browsing (metadata only) and replay."""

from __future__ import annotations

import asyncio
import dataclasses
import os
import uuid
from contextlib import AsyncExitStack
from typing import TYPE_CHECKING, Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient
from quarantined import read_quarantine
from services import amqp_url, dev_script

from hub.broker.amqp import AmqpBroker
from hub.broker.base import IncomingMessage, OutgoingMessage, readable_headers
from hub.broker.memory import MemoryBroker
from hub.broker.testing import delete_topologies, next_delivery, unique_names
from hub.broker.topology import default_topology
from hub.console import operations
from hub.console.base import Role
from hub.console.deps import ConsoleDeps
from hub.console.quarantine import QuarantineIndex
from hub.crypto.envelope import issue_event
from hub.embedded import AGENCIES, RECIPIENTS, hub_on
from hub.worker import WorkerLimits, handle
from schemas.base import new_event_id
from schemas.samples import sample_event

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Awaitable, Callable
    from pathlib import Path

    from hub.broker.base import Broker
    from hub.console.tokens import TokenStore
    from hub.context import HubContext
    from hub.crypto.keys import KeyDirectory, PartyKeyring

Client = TestClient[web.Request, web.Application]
LIMITS = WorkerLimits(prefetch=1, delivery_limit=5)
REPLAY = {"reason": "cause_fixed", "reference": "CHG-42"}


def bearer(tokens: dict[Role, str], role: Role = Role.OPERATOR) -> dict[str, str]:
    """The Authorization header of ``role``'s token."""
    return {"Authorization": f"Bearer {tokens[role]}"}


def quarantined(ctx: HubContext, body: bytes = b"secret-body", **headers: Any) -> OutgoingMessage:
    """A refusal for the quarantine's stream, as the hub's refusals publish it."""
    message_id = str(uuid.uuid4())
    return OutgoingMessage(
        ctx.names.quarantine_log,
        "",
        body,
        message_id,
        content_type="application/octet-stream",
        headers={
            "kind": "refusal",
            "reason": "schema.invalid",
            "decision-id": message_id,
            **headers,
        },
    )


async def test_queues_show_each_inbox_ingress_and_quarantine_by_reason(
    client: Client, hub_ctx: HubContext, tokens: dict[Role, str]
) -> None:
    """Depths per agency inbox, and quarantine counted by reason code."""
    names = hub_ctx.names
    for _ in range(2):
        await hub_ctx.broker.publish(
            OutgoingMessage(names.deliveries, "police", b"x", str(uuid.uuid4()))
        )
    await hub_ctx.broker.publish(quarantined(hub_ctx))
    await hub_ctx.broker.publish(quarantined(hub_ctx, reason="sender.unknown"))
    await hub_ctx.broker.publish(quarantined(hub_ctx, reason="sender.unknown"))
    response = await client.get("/api/queues", headers=bearer(tokens))
    assert response.status == 200
    body = await response.json()
    assert set(body["inboxes"]) == set(RECIPIENTS)
    police = body["inboxes"]["police"]
    assert (police["ready"], police["unacked"], police["consumers"]) == (2, 0, 0)
    assert police["oldest_seconds"] is not None
    assert body["inboxes"]["health"]["ready"] == 0
    assert body["ingress"]["queue"] == names.ingress_queue
    assert body["quarantine"]["ready"] == 3
    assert body["quarantine"]["by_reason"] == {"schema.invalid": 1, "sender.unknown": 2}
    assert body["quarantine"]["complete"] is True


async def test_gauges_are_set_from_the_same_numbers(hub_ctx: HubContext, store: TokenStore) -> None:
    """refresh_queue_gauges sets inbox depth, consumers and quarantine by reason."""
    deps = ConsoleDeps(hub_ctx, store)
    await hub_ctx.broker.publish(
        OutgoingMessage(hub_ctx.names.deliveries, "health", b"x", str(uuid.uuid4()))
    )
    await hub_ctx.broker.publish(quarantined(hub_ctx, reason="key.not_valid"))
    await operations.refresh_queue_gauges(deps)
    text = deps.metrics.exposition().decode()
    assert 'hub_inbox_messages{recipient="health"} 1.0' in text
    assert 'hub_inbox_consumers{recipient="health"} 0.0' in text
    assert 'hub_quarantine_messages{reason="key.not_valid"} 1.0' in text


async def test_browse_shows_metadata_only_and_leaves_everything_in_place(
    client: Client, hub_ctx: HubContext, tokens: dict[Role, str]
) -> None:
    """The answer holds ids, codes and sizes, never the body; the queue is unchanged."""
    event_id = str(uuid.uuid4())
    sent = [
        quarantined(hub_ctx, b"SECRET-ADDRESS-1", sender="police", **{"event-id": event_id}),
        quarantined(hub_ctx, b"SECRET-ADDRESS-2"),
        quarantined(hub_ctx, b"SECRET-ADDRESS-3"),
    ]
    for message in sent:
        await hub_ctx.broker.publish(message)
    for _ in range(2):
        response = await client.get("/api/quarantine?limit=2", headers=bearer(tokens))
        assert response.status == 200
        text = await response.text()
        assert "SECRET" not in text
        shown = (await response.json())["messages"]
        assert [m["message_id"] for m in shown] == [m.message_id for m in sent[:2]]
        assert [m["quarantine_id"] for m in shown] == [m.message_id for m in sent[:2]]
    first = shown[0]
    assert first["reason"] == "schema.invalid"
    assert first["refusal_id"] == sent[0].message_id
    assert first["sender"] == "police"
    assert first["event_id"] == event_id
    assert first["size_bytes"] == len(b"SECRET-ADDRESS-1")
    assert first["queued_at"] is not None
    assert set(first) == {
        "quarantine_id", "message_id", "reason", "refusal_id", "event_id", "event_type",
        "sender", "queued_at", "size_bytes", "origin_exchange", "origin_queue", "routing_key",
    }  # fmt: skip
    kept = await read_quarantine(hub_ctx.broker, hub_ctx.names)
    assert [m.message_id for m in kept] == [m.message_id for m in sent]
    assert [m.delivery_count for m in kept] == [0, 0, 0]  # looking counts nothing


@pytest.mark.parametrize("query", ["limit=0", "limit=101", "limit=abc", "limit=-1", "limit=1e2"])
async def test_bad_limit_is_400(client: Client, tokens: dict[Role, str], query: str) -> None:
    """A limit outside 1..100 is a 400 console.bad_request."""
    response = await client.get(f"/api/quarantine?{query}", headers=bearer(tokens))
    assert response.status == 400
    assert (await response.json())["code"] == "console.bad_request"


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/api/quarantine/not-a-uuid/replay", REPLAY),
        (f"/api/quarantine/{uuid.uuid4()}/replay", {"reason": "because I said so"}),
        (f"/api/quarantine/{uuid.uuid4()}/replay", {"reason": "cause_fixed", "reference": "a b"}),
        (f"/api/quarantine/{uuid.uuid4()}/replay", {"reason": "cause_fixed", "x": 1}),
        (f"/api/quarantine/{uuid.uuid4()}/replay", ["cause_fixed"]),
        (f"/api/quarantine/{uuid.uuid4()}/replay", None),
    ],
)
async def test_bad_replay_requests_are_400(
    client: Client, tokens: dict[Role, str], path: str, body: object
) -> None:
    """A malformed id, a reason off the list, a bad reference or extra keys are 400s."""
    response = await client.post(path, json=body, headers=bearer(tokens))
    assert response.status == 400
    assert (await response.json())["code"] == "console.bad_request"


async def test_replay_of_an_unknown_id_is_404(client: Client, tokens: dict[Role, str]) -> None:
    """A message id not in quarantine is 404 quarantine.not_found."""
    response = await client.post(
        f"/api/quarantine/{uuid.uuid4()}/replay", json=REPLAY, headers=bearer(tokens)
    )
    assert response.status == 404
    assert (await response.json())["code"] == "quarantine.not_found"


async def test_a_replay_in_progress_is_409(
    client: Client, hub_ctx: HubContext, tokens: dict[Role, str]
) -> None:
    """A second replay of a message already being replayed is 409, and nothing moves."""
    message = quarantined(hub_ctx, sender="police")
    await hub_ctx.broker.publish(message)
    operations._state(hub_ctx).replaying.add(message.message_id)
    response = await client.post(
        f"/api/quarantine/{message.message_id}/replay", json=REPLAY, headers=bearer(tokens)
    )
    assert response.status == 409
    assert (await response.json())["code"] == "quarantine.replay_in_progress"
    assert len(await read_quarantine(hub_ctx.broker, hub_ctx.names)) == 1


async def test_a_message_without_sender_is_not_replayable(
    client: Client, hub_ctx: HubContext, tokens: dict[Role, str]
) -> None:
    """Nothing names the sender: 409 quarantine.not_replayable, and the message stays."""
    message = quarantined(hub_ctx)
    await hub_ctx.broker.publish(message)
    response = await client.post(
        f"/api/quarantine/{message.message_id}/replay", json=REPLAY, headers=bearer(tokens)
    )
    assert response.status == 409
    seen = await read_quarantine(hub_ctx.broker, hub_ctx.names)
    assert [m.message_id for m in seen] == [message.message_id]


# --- end to end: refused, quarantined, cause fixed, replayed, delivered -----------------


@pytest.fixture(params=["memory", "rabbitmq"])
async def ops_hub(
    request: pytest.FixtureRequest,
    tmp_path: Path,
    keyrings: dict[str, PartyKeyring],
    directory: KeyDirectory,
    hub_ctx: HubContext,
) -> AsyncIterator[tuple[HubContext, Broker, str]]:
    """A hub context, an agency publisher and the user it publishes as."""
    if request.param == "memory":
        assert isinstance(hub_ctx.broker, MemoryBroker)
        async with MemoryBroker(hub_ctx.broker.node, user="police") as police:
            yield hub_ctx, police, "police"
        return
    url = amqp_url()
    folder = os.environ.get("HUB_TEST_RABBITMQ_DIR") or pytest.skip("needs HUB_TEST_RABBITMQ_DIR")
    management = dev_script("rabbitmq.sh", "management-url", folder, timeout=30)
    names = unique_names()
    async with AsyncExitStack() as stack:
        stack.push_async_callback(delete_topologies, url, [default_topology(AGENCIES, names=names)])
        hub_broker = await stack.enter_async_context(AmqpBroker(url, management_url=management))
        publisher = await stack.enter_async_context(AmqpBroker(url))
        (tmp_path / "rabbit").mkdir()
        ctx = await hub_on(
            stack, tmp_path / "rabbit", keyrings["hub"], directory, hub_broker, names
        )
        yield ctx, publisher, publisher.user


async def _step(ctx: HubContext) -> None:
    """Take one ingress message and run it through the worker's handling."""
    async with ctx.broker.consume(ctx.names.ingress_queue, 1) as consumer:
        message = await next_delivery(consumer, 10)
        await handle(ctx, message, LIMITS)


async def test_replay_after_the_cause_is_fixed_delivers_and_is_recorded(
    ops_hub: tuple[HubContext, Broker, str],
    keyrings: dict[str, PartyKeyring],
    store: TokenStore,
    tokens: dict[Role, str],
    serve: Callable[[ConsoleDeps], Awaitable[Client]],
) -> None:
    """Refused for want of an agreement, then replayed with it: delivered, and in the ledger."""
    ctx, publisher, user = ops_hub
    event = sample_event("ReferralReceived").model_copy(update={"event_id": new_event_id()})
    body = issue_event(event, keyrings["police"], ctx.directory).encode()
    await publisher.publish(
        OutgoingMessage(ctx.names.ingress, "police", body, str(event.event_id), user_id=user)
    )
    await _step(dataclasses.replace(ctx, policy=dataclasses.replace(ctx.policy, agreements=())))
    client = await serve(ConsoleDeps(ctx, store))
    response = await client.get("/api/quarantine", headers=bearer(tokens))
    [held] = (await response.json())["messages"]
    assert held["reason"] == "sender.not_entitled"
    assert held["event_id"] == str(event.event_id)
    assert held["sender"] == "police"

    assert held["message_id"] == str(event.event_id)  # the sender's own id, kept
    unfixed = dataclasses.replace(ctx, policy=dataclasses.replace(ctx.policy, agreements=()))
    path = f"/api/quarantine/{held['quarantine_id']}/replay"
    stepping = asyncio.create_task(_step(unfixed))  # replayed before the cause is fixed
    response = await client.post(path, json=REPLAY, headers=bearer(tokens))
    await stepping
    assert response.status == 200, await response.text()
    assert await response.json() == {
        "quarantine_id": held["quarantine_id"],
        "replayed": True,
        "removed": True,
        "next": {"outcome": "refused", "code": "sender.not_entitled"},
    }
    response = await client.get("/api/quarantine", headers=bearer(tokens))
    [held] = (await response.json())["messages"]  # straight back, under a new refusal id
    path = f"/api/quarantine/{held['quarantine_id']}/replay"
    stepping = asyncio.create_task(_step(ctx))  # the cause is fixed: agreements are back
    response = await client.post(path, json=REPLAY, headers=bearer(tokens))
    await stepping
    assert (await response.json())["next"] == {"outcome": "recorded", "code": None}

    async with ctx.broker.consume(ctx.names.inbox("probation"), 5) as consumer:
        delivered = await next_delivery(consumer, 10)
        await delivered.ack()
    assert delivered.headers["event-id"] == str(event.event_id)
    entries = await ctx.ledger.entries_for_event(event.event_id)
    replays = [e for e in entries if e.outcome == "quarantine.replayed"]
    assert len(replays) == 2
    replayed = replays[-1]
    assert replayed.kind == "consultation"
    assert replayed.actor == "operator"
    assert [r.reason_code for r in replays] == ["sender.not_entitled"] * 2
    assert replayed.purpose == "cause_fixed #CHG-42"
    assert any(e.kind == "disclosure" for e in entries)
    assert await read_quarantine(ctx.broker, ctx.names) == []
    again = await client.post(path, json=REPLAY, headers=bearer(tokens))
    assert again.status == 404


async def test_a_failed_publish_leaves_the_message_in_quarantine_unrecorded(
    hub_ctx: HubContext, store: TokenStore, tokens: dict[Role, str],
    serve: Callable[[ConsoleDeps], Awaitable[Client]],
) -> None:  # fmt: skip
    """Ingress refuses the publish (no binding): 503, nothing recorded, message kept."""
    message = quarantined(hub_ctx, sender="nobody-bound")
    await hub_ctx.broker.publish(message)
    client = await serve(ConsoleDeps(hub_ctx, store))
    before = len(await hub_ctx.ledger.read())
    response = await client.post(
        f"/api/quarantine/{message.message_id}/replay", json=REPLAY, headers=bearer(tokens)
    )
    assert response.status == 503
    assert (await response.json())["code"] == "broker.unroutable"
    assert len(await hub_ctx.ledger.read()) == before
    seen = await read_quarantine(hub_ctx.broker, hub_ctx.names)
    assert [m.message_id for m in seen] == [message.message_id]
    await asyncio.sleep(0)


async def _settled(outcome: Any) -> None:
    del outcome


DECISION = "0b6e7c1d-2f4a-4e3b-8c9d-1a2b3c4d5e6f"


def _read(message_id: str | None, headers: dict[str, Any]) -> IncomingMessage:
    """A message as a reader of the stream gets it: only allowed headers survive."""
    return IncomingMessage(
        b"x", readable_headers({**headers, "x-stream-offset": 7}), message_id, "hub", "",
        "hub.quarantine.log", redelivered=False, delivery_count=0, persistent=True,
        settle=_settled,
    )  # fmt: skip


@pytest.mark.parametrize(
    ("message_id", "headers", "shown", "replay_by"),
    [
        ("../x", {"kind": "refusal", "decision-id": DECISION}, "../x", DECISION),
        ("a b\n<script>", {"kind": "refusal", "decision-id": DECISION}, None, DECISION),
        ("MSG-7", {"kind": "refusal", "decision-id": "../0b6e7c1d"}, None, None),
        ("MSG-8", {"x-first-death-reason": "delivery_limit"}, None, None),
    ],
    ids=["refusal-of-odd-id", "not-an-id", "odd-decision-id", "no-decision"],
)  # fmt: skip
def test_a_quarantined_message_is_replayed_only_by_an_id_the_hub_wrote(
    message_id: str, headers: dict[str, Any], shown: str | None, replay_by: str | None
) -> None:
    """A sender's id is shown (as text) only if id-shaped; parked by only a hub-written UUID."""
    index = QuarantineIndex()
    index.take(_read(message_id, headers))
    if replay_by is None:
        assert index.parked() == []
        return
    [parked] = index.parked()
    found = operations.metadata(parked)
    assert (found["message_id"], found["quarantine_id"]) == (shown, replay_by)


def test_a_resolved_mark_unparks_the_oldest_copy_only() -> None:
    """The same bytes refused twice park twice; one replay's mark unparks one."""
    decision = DECISION
    index = QuarantineIndex()
    for offset in (3, 5):
        index.take(
            dataclasses.replace(
                _read("m", {"kind": "refusal", "decision-id": decision}),
                headers={"kind": "refusal", "decision-id": decision, "x-stream-offset": offset},
            )
        )
    index.take(_read("mark", {"kind": "resolved", "decision-id": decision}))
    assert [p.offset for p in index.parked()] == [5]
    assert index.cursor == 7
