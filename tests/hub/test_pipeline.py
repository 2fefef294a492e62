"""The pipeline end to end on the in-memory broker and a SQLite ledger."""

from __future__ import annotations

import asyncio
import hashlib
import json
import shutil
import uuid
from contextlib import AsyncExitStack
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

import pytest
from quarantined import read_quarantine
from scenarios import DEPLOY
from structlog.testing import capture_logs

from hub.broker.base import IncomingMessage, OutgoingMessage
from hub.broker.memory import MemoryBroker, MemoryNode
from hub.broker.testing import next_delivery
from hub.crypto.envelope import issue_event, open_delivery
from hub.crypto.notice import open_notice
from hub.embedded import AGENCIES, embedded_hub
from hub.ledger.base import ErrorCode as LedgerErrorCode
from hub.ledger.base import LedgerError
from hub.ledger.verify import verify_entries
from hub.pipeline import process
from hub.policy.load import load_policy
from schemas.base import new_event_id, split_groups
from schemas.samples import sample_event

if TYPE_CHECKING:
    from collections.abc import AsyncIterator
    from pathlib import Path

    from hub.context import HubContext
    from hub.crypto.keys import KeyDirectory, PartyKeyring
    from schemas.base import CaseEvent


@dataclass
class Hub:
    """A hub worker's context plus the agencies' connections to the same node."""

    ctx: HubContext
    node: MemoryNode
    keyrings: dict[str, PartyKeyring]
    agencies: dict[str, MemoryBroker] = field(default_factory=dict)

    async def publish(self, agency: str, event: CaseEvent, *, user: str | None = None) -> bytes:
        """Issue ``event`` as ``agency`` and publish it over ``user``'s connection."""
        envelope = issue_event(event, self.keyrings[agency], self.ctx.directory).encode()
        await self.send(user or agency, envelope, event.event_id)
        return envelope

    async def send(self, user: str, body: bytes, message_id: uuid.UUID) -> None:
        """Publish raw bytes to ingress over ``user``'s connection."""
        broker = self.agencies[user]
        names = self.ctx.names
        await broker.publish(
            OutgoingMessage(names.ingress, user, body, str(message_id), user_id=user)
        )

    async def step(self) -> str:
        """Consume one ingress message and process it."""
        async with self.ctx.broker.consume(self.ctx.names.ingress_queue, 1) as consumer:
            return await process(self.ctx, await next_delivery(consumer))

    async def drain(self, queue: str) -> list[IncomingMessage]:
        """Take every message waiting in ``queue``, acking each."""
        taken: list[IncomingMessage] = []
        async with self.agencies["police"].consume(queue, 100) as consumer:
            while True:
                try:
                    message = await next_delivery(consumer, 0.05)
                except TimeoutError:
                    return taken
                await message.ack()
                taken.append(message)


@pytest.fixture
async def hub(
    tmp_path: Path, keyrings: dict[str, PartyKeyring], directory: KeyDirectory
) -> AsyncIterator[Hub]:
    """A fresh hub on a fresh memory node with a SQLite ledger."""
    node = MemoryNode()
    async with AsyncExitStack() as stack:
        ctx = await embedded_hub(stack, tmp_path, keyrings["hub"], directory, node)
        result = Hub(ctx, node, keyrings)
        for agency in AGENCIES:
            result.agencies[agency] = await stack.enter_async_context(
                MemoryBroker(node, user=agency)
            )
        yield result


def _fresh(event_type: str) -> CaseEvent:
    return sample_event(event_type).model_copy(update={"event_id": new_event_id()})


async def test_event_reaches_each_entitled_recipient_with_its_groups(hub: Hub) -> None:
    """A safety plan reaches police, probation and health with exactly their groups, verified."""
    event = _fresh("VictimSafetyPlanUpdated")
    await hub.publish("advocacy", event)
    assert await hub.step() == "disclosed"
    expected = {"police": "AEFGH", "probation": "AEF", "health": "AE"}
    groups = split_groups(event)
    for party, letters in expected.items():
        [message] = await hub.drain(hub.ctx.names.inbox(party))
        delivery = open_delivery(message.body.decode(), hub.keyrings[party], hub.ctx.directory)
        assert "".join(sorted(delivery.groups)) == letters
        assert all(delivery.groups[g] == groups[g] for g in delivery.groups)
        assert message.headers["decision-id"] == str(delivery.decision.decision_id)
    assert await hub.drain(hub.ctx.names.inbox("advocacy")) == []
    entries = await hub.ctx.ledger.read()
    assert sorted(e.recipient or "" for e in entries) == ["health", "police", "probation"]
    health = next(e for e in entries if e.recipient == "health")
    assert health.groups_withheld == ("F", "G", "H")
    assert health.clause == "masip-exampleshire@1#advocacy-to-health-core"
    assert health.lawful_basis == "UK GDPR Art 6(1)(e); Art 9(2)(g), DPA 2018 Sch 1 para 18"


_EXTRA_CLAUSE = """
[[clauses]]
id = "{id}"
provider = "advocacy"
recipient = "health"
event_types = ["VictimSafetyPlanUpdated"]
groups = {groups}
purpose = "protect-victims"
lawful_basis = {{ regime = "uk_gdpr", article6 = "6(1)(d)" }}
gateway = "Crime and Disorder Act 1998 s.115"
valid_from = 2026-04-01
valid_until = 2028-03-31
review_date = 2027-04-01
retention = {{ months = 72, disposal = "secure deletion after review" }}
"""


async def test_the_ledger_keeps_every_grant_and_each_withheld_reason(
    hub: Hub, tmp_path: Path
) -> None:
    """Many clauses on other bases, one overridden by a safety rule: all recorded, none cut."""
    agreements = tmp_path / "agreements"
    shutil.copytree(DEPLOY / "agreements", agreements)
    extra = [
        _EXTRA_CLAUSE.format(
            id=f"advocacy-to-health-long-clause-name-number-{n:02d}", groups='["E"]'
        )
        for n in range(6)
    ]
    extra.append(_EXTRA_CLAUSE.format(id="advocacy-to-health-location", groups='["G"]'))
    agreement = agreements / "masip-exampleshire.toml"
    agreement.write_text(agreement.read_text() + "".join(extra))
    policy = load_policy(agreements, DEPLOY / "parties.toml", DEPLOY / "rules.toml")
    hub.ctx = replace(hub.ctx, policy=policy)
    event = _fresh("VictimSafetyPlanUpdated")
    await hub.publish("advocacy", event)
    assert await hub.step() == "disclosed"
    health = next(e for e in await hub.ctx.ledger.read() if e.recipient == "health")
    assert health.format == 2
    assert len(health.grants) == 7
    assert sum(len(g.reference) for g in health.grants) > 240
    assert {g.lawful_basis for g in health.grants} == {
        "UK GDPR Art 6(1)(e); Art 9(2)(g), DPA 2018 Sch 1 para 18",
        "UK GDPR Art 6(1)(d)",
    }
    assert {g.groups for g in health.grants if g.clause.startswith("advocacy-to-health-long")} == {
        ("E",)
    }
    assert health.clause == "masip-exampleshire@1#advocacy-to-health-core"
    withheld = {w.group: (w.reason, w.rule) for w in health.withheld}
    assert withheld == {
        "F": ("not_granted", None),
        "G": ("safety_rule", "victim-location-never-to-perpetrator-facing"),
        "H": ("not_granted", None),
    }
    roles = {(p.pseudonym, p.role) for p in health.persons}
    pseudonyms = hub.ctx.pseudonyms
    assert roles == {
        (pseudonyms.person(event.victim_ref), "victim"),  # type: ignore[attr-defined]
        (pseudonyms.person(event.subject_ref), "subject"),  # type: ignore[attr-defined]
    }


async def test_trace_sees_each_stage_of_a_disclosed_event_in_order(hub: Hub) -> None:
    """``ctx.trace`` is called once per stage, in order, with the ingress message id."""
    seen: list[tuple[str, str | None]] = []
    hub.ctx = replace(hub.ctx, trace=lambda stage, message_id: seen.append((stage, message_id)))
    event = _fresh("VictimSafetyPlanUpdated")
    await hub.publish("advocacy", event)
    assert await hub.step() == "disclosed"
    stages = ["taken", "accepted", "recorded", "delivered", "acked"]
    assert seen == [(stage, str(event.event_id)) for stage in stages]
    seen.clear()
    await hub.publish("police", _fresh("VictimSafetyPlanUpdated"))  # not police's to send
    assert await hub.step() == "sender.not_entitled"
    assert [stage for stage, _ in seen] == ["taken", "accepted"]


async def test_redelivered_message_republishes_without_a_second_entry(hub: Hub) -> None:
    """The same message twice gives the same deliveries again and no new ledger entry."""
    event = _fresh("ReferralReceived")
    envelope = await hub.publish("police", event)
    assert await hub.step() == "disclosed"
    first = await hub.drain(hub.ctx.names.inbox("probation"))
    await hub.send("police", envelope, event.event_id)
    assert await hub.step() == "redelivered"
    second = await hub.drain(hub.ctx.names.inbox("probation"))
    assert [m.message_id for m in first] == [m.message_id for m in second]
    assert len(await hub.ctx.ledger.read()) == 3


async def test_same_event_signed_again_is_the_same_event(hub: Hub) -> None:
    """The same event issued again (fresh salts, other bytes) is recognised, not refused."""
    event = _fresh("ReferralReceived")
    await hub.publish("police", event)
    assert await hub.step() == "disclosed"
    size = await hub.ctx.ledger.size()
    first = await hub.drain(hub.ctx.names.inbox("health"))
    await hub.publish("police", event)  # fresh salts: same event id and content, other bytes
    assert await hub.step() == "redelivered"
    assert await hub.ctx.ledger.size() == size
    again = await hub.drain(hub.ctx.names.inbox("health"))
    assert [m.message_id for m in again] == [m.message_id for m in first]
    assert await read_quarantine(hub.ctx.broker, hub.ctx.names) == []
    assert await hub.drain(hub.ctx.names.inbox("police")) == []


async def test_same_event_id_with_other_content_is_a_replay(hub: Hub) -> None:
    """A second envelope with a used event id and other content is refused and noticed."""
    event = _fresh("ReferralReceived")
    await hub.publish("police", event)
    await hub.step()
    await hub.drain(hub.ctx.names.inbox("police"))
    other = event.model_copy(update={"concerns": "Other concerns under the same event id."})
    await hub.publish("police", other)
    assert await hub.step() == "event.replayed"
    [quarantined] = await read_quarantine(hub.ctx.broker, hub.ctx.names)
    assert quarantined.headers["reason"] == "event.replayed"
    [notice] = await hub.drain(hub.ctx.names.inbox("police"))
    opened = open_notice(notice.body.decode(), hub.keyrings["police"], hub.ctx.directory)
    assert (opened.code, opened.event_id) == ("event.replayed", event.event_id)


async def test_other_content_at_the_same_moment_is_still_a_replay(hub: Hub) -> None:
    """Ten pairs of one event id with two contents, all in flight at once: one of each is sent."""
    pairs = []
    for _ in range(10):
        event = _fresh("ReferralReceived")
        other = event.model_copy(update={"concerns": "Other concerns under the same event id."})
        pairs.append(event.event_id)
        await hub.publish("police", event)
        await hub.publish("police", other)
    async with hub.ctx.broker.consume(hub.ctx.names.ingress_queue, 32) as consumer:
        messages = [await next_delivery(consumer) for _ in range(20)]
        outcomes = await asyncio.gather(*(process(hub.ctx, m) for m in messages))
    assert sorted(outcomes) == ["disclosed"] * 10 + ["event.replayed"] * 10
    health = [
        open_delivery(m.body.decode(), hub.keyrings["health"], hub.ctx.directory)
        for m in await hub.drain(hub.ctx.names.inbox("health"))
    ]
    assert sorted(d.claims.event_id for d in health) == sorted(pairs)
    disclosures = [e for e in await hub.ctx.ledger.read() if e.kind == "disclosure"]
    for event_id in pairs:
        assert len({e.content_digest for e in disclosures if e.event_id == event_id}) == 1


@pytest.mark.parametrize(
    ("body", "code"),
    [
        (b"not a jwe", "envelope.malformed"),
        (b"\xff\xfe", "envelope.malformed"),
        (b"x" * (256 * 1024 + 1), "payload.too_large"),
    ],
    ids=["garbage", "not-ascii", "oversized"],
)
async def test_bad_input_is_refused_recorded_quarantined_and_noticed(
    hub: Hub, body: bytes, code: str
) -> None:
    """Bad bytes are refused: a ledger entry, a quarantined copy and a notice to the sender.

    Nothing in them can be read, so the notice names the message by the id its sender
    gave it and the SHA-256 of its bytes; the quarantined copy keeps that id.
    """
    sent_as = uuid.uuid4()
    await hub.send("health", body, sent_as)
    assert await hub.step() == code
    [entry] = await hub.ctx.ledger.read()
    assert (entry.kind, entry.reason_code, entry.provider) == ("refusal", code, "health")
    [quarantined] = await read_quarantine(hub.ctx.broker, hub.ctx.names)
    assert quarantined.body == body
    assert quarantined.message_id == str(sent_as)
    assert quarantined.headers["decision-id"] == str(entry.decision_id)
    [notice] = await hub.drain(hub.ctx.names.inbox("health"))
    opened = open_notice(notice.body.decode(), hub.keyrings["health"], hub.ctx.directory)
    assert (opened.code, opened.event_id, opened.message_id) == (code, None, str(sent_as))
    assert opened.body_sha256 == hashlib.sha256(body).hexdigest()
    assert opened.decision_id == entry.decision_id


async def test_sender_not_entitled_is_refused(hub: Hub) -> None:
    """Health may not provide a safety plan: refused sender.not_entitled, nothing delivered."""
    event = _fresh("VictimSafetyPlanUpdated").model_copy(update={"author_agency": "health"})
    await hub.publish("health", event)
    assert await hub.step() == "sender.not_entitled"
    for party in ("police", "probation", "advocacy"):
        assert await hub.drain(hub.ctx.names.inbox(party)) == []


async def test_amqp_user_must_be_the_signed_sender(hub: Hub) -> None:
    """An event signed by police but published by advocacy's user is refused sender.mismatch."""
    event = _fresh("ReferralReceived")
    await hub.publish("police", event, user="advocacy")
    assert await hub.step() == "sender.mismatch"
    [notice] = await hub.drain(hub.ctx.names.inbox("advocacy"))
    assert (
        open_notice(notice.body.decode(), hub.keyrings["advocacy"], hub.ctx.directory).code
        == "sender.mismatch"
    )
    assert await hub.drain(hub.ctx.names.inbox("police")) == []


async def test_a_message_without_user_id_is_refused_and_noticed_to_nobody(hub: Hub) -> None:
    """Without ``user_id`` no sender is authenticated: refused and quarantined, no notice at all."""
    event = _fresh("ReferralReceived")
    body = issue_event(event, hub.keyrings["police"], hub.ctx.directory).encode()
    await hub.agencies["police"].publish(
        OutgoingMessage(hub.ctx.names.ingress, "police", body, str(event.event_id))
    )
    assert await hub.step() == "sender.mismatch"
    [entry] = await hub.ctx.ledger.read()
    assert (entry.reason_code, entry.provider) == ("sender.mismatch", None)
    [quarantined] = await read_quarantine(hub.ctx.broker, hub.ctx.names)
    assert quarantined.headers["reason"] == "sender.mismatch"
    for party in AGENCIES:
        assert await hub.drain(hub.ctx.names.inbox(party)) == []


async def test_ledger_verifies_and_logs_carry_no_personal_data(hub: Hub) -> None:
    """After a run of events the ledger verifies, and no log line holds any event value."""
    events = [
        _fresh(t)
        for t in ("ReferralReceived", "ScreeningCompleted", "OrderEvent", "BreachReported")
    ]
    events.append(_fresh("VictimSafetyPlanUpdated"))
    with capture_logs() as logs:
        for event in events:
            await hub.publish(event.author_agency, event)
            assert await hub.step() == "disclosed"
    rendered = json.dumps(logs, default=str)
    allowed = set(AGENCIES) | {e.event_type for e in events} | {str(e.event_id) for e in events}
    for event in events:
        for value in _strings(event.model_dump(mode="json")):
            if len(value) >= 4 and value not in allowed:
                assert value not in rendered
    assert [line["event"] for line in logs].count("event.disclosed") == len(events)
    checkpoint = await hub.ctx.ledger.checkpoint_now()
    assert checkpoint is not None
    entries = await hub.ctx.ledger.read()
    report = verify_entries(entries, [checkpoint.token], hub.ctx.directory)
    assert report.intact
    assert report.checkpoint_size == len(entries)


def _strings(value: Any) -> list[str]:
    if isinstance(value, dict):
        return [s for v in value.values() for s in _strings(v)]
    if isinstance(value, list):
        return [s for v in value for s in _strings(v)]
    return [value] if isinstance(value, str) else []


async def test_nothing_is_delivered_when_the_ledger_cannot_record(
    hub: Hub, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With the ledger down, nothing is published, the message is not acked, and it comes back."""

    async def unavailable(*_: object) -> None:
        raise LedgerError(LedgerErrorCode.UNAVAILABLE, "test: ledger down")

    event = _fresh("ReferralReceived")
    await hub.publish("police", event)
    monkeypatch.setattr(hub.ctx.ledger, "record_event", unavailable)
    with pytest.raises(LedgerError):
        await hub.step()
    for party in ("probation", "health", "advocacy"):
        assert await hub.drain(hub.ctx.names.inbox(party)) == []
    monkeypatch.undo()
    assert await hub.step() == "disclosed"
    assert len(await hub.drain(hub.ctx.names.inbox("probation"))) == 1


async def test_size_limit_applies_before_opening(hub: Hub) -> None:
    """A good envelope over the worker's configured size limit is refused payload.too_large."""
    hub.ctx = replace(hub.ctx, max_envelope_bytes=1024)
    event = _fresh("ReferralReceived")
    envelope = await hub.publish("police", event)
    assert len(envelope) > 1024
    assert await hub.step() == "payload.too_large"


async def _as_user(hub: Hub, broker: MemoryBroker, agency: str, event: CaseEvent) -> None:
    """Publish ``event`` signed by ``agency`` over another user's connection ``broker``."""
    body = issue_event(event, hub.keyrings[agency], hub.ctx.directory).encode()
    names = hub.ctx.names
    message_id = str(event.event_id)
    await broker.publish(
        OutgoingMessage(names.ingress, agency, body, message_id, user_id=broker.user)
    )


async def test_shared_demo_user_rests_on_the_signature_alone(hub: Hub) -> None:
    """With ``shared_broker_user``, that user's messages pass on their signature.

    Refusal notices go to the signed sender, not to the shared user.
    """
    hub.ctx = replace(hub.ctx, shared_broker_user="demo-shared")
    async with MemoryBroker(hub.node, user="demo-shared") as shared:
        await _as_user(hub, shared, "police", _fresh("ReferralReceived"))
        assert await hub.step() == "disclosed"
        await _as_user(hub, shared, "health", _fresh("VictimSafetyPlanUpdated"))
        assert await hub.step() == "sender.not_entitled"
    assert len(await hub.drain(hub.ctx.names.inbox("probation"))) == 1
    health = await hub.drain(hub.ctx.names.inbox("health"))
    [notice] = [m for m in health if m.headers.get("kind") == "refusal-notice"]
    told = open_notice(notice.body.decode(), hub.keyrings["health"], hub.ctx.directory)
    assert told.code == "sender.not_entitled"


async def test_shared_demo_user_does_not_excuse_another_user(hub: Hub) -> None:
    """Naming a shared user trusts that user only: another agency's user still mismatches."""
    hub.ctx = replace(hub.ctx, shared_broker_user="demo-shared")
    await hub.publish("police", _fresh("ReferralReceived"), user="advocacy")
    assert await hub.step() == "sender.mismatch"


async def test_without_a_shared_user_any_other_user_mismatches(hub: Hub) -> None:
    """In a deployment (no shared user) a user that is not the signed sender is refused."""
    async with MemoryBroker(hub.node, user="demo-shared") as shared:
        await _as_user(hub, shared, "police", _fresh("ReferralReceived"))
        assert await hub.step() == "sender.mismatch"
    assert await hub.drain(hub.ctx.names.inbox("probation")) == []


async def test_the_hubs_own_user_replays_on_the_signature_alone(hub: Hub) -> None:
    """The hub's own broker user (replaying a quarantined message) rests on the signature.

    The replayed envelope is still checked as its signer's: a health-signed safety
    plan replayed by the hub is refused sender.not_entitled, noticed to health.
    """
    async with MemoryBroker(hub.node, user=hub.ctx.broker.user) as own:
        await _as_user(hub, own, "police", _fresh("ReferralReceived"))
        assert await hub.step() == "disclosed"
        await _as_user(hub, own, "health", _fresh("VictimSafetyPlanUpdated"))
        assert await hub.step() == "sender.not_entitled"
    assert len(await hub.drain(hub.ctx.names.inbox("probation"))) == 1
    health = await hub.drain(hub.ctx.names.inbox("health"))
    [notice] = [m for m in health if m.headers.get("kind") == "refusal-notice"]
    told = open_notice(notice.body.decode(), hub.keyrings["health"], hub.ctx.directory)
    assert told.code == "sender.not_entitled"
