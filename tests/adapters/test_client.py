"""The agency client SDK against the embedded hub: publish, receive, refuse, never lose."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import io
import sqlite3
import threading
import uuid
from contextlib import AsyncExitStack
from datetime import UTC, date, datetime
from typing import TYPE_CHECKING, Any

import pytest
import rfc8785
from owing import keep_waiting, started_clients
from verifier import load_script

from adapters import client as client_module
from adapters.client import AgencyClient, RefusedError
from hub.broker.base import BrokerError, BrokerErrorCode, OutgoingMessage
from hub.broker.memory import MemoryBroker, MemoryNode
from hub.broker.testing import next_delivery
from hub.cli.audit import render
from hub.crypto import EnvelopeError, ReceiptItem, seal_receipt
from hub.crypto import ErrorCode as EnvelopeErrorCode
from hub.crypto.keys import KeyDirectory, save_keyring
from hub.embedded import embedded_hub
from hub.ledger import EntryDraft, ErrorCode, verify_store, write_export
from hub.pipeline import process
from hub.policy.obligations import add_months
from schemas.base import FieldGroup, split_groups
from schemas.samples import all_samples, sample_event

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Sequence
    from pathlib import Path

    from adapters.base import ReceivedEvent
    from hub.broker.base import IncomingMessage
    from hub.context import HubContext
    from hub.crypto.keys import PartyKeyring
    from schemas.base import CaseEvent


SCRIPT = load_script()


class World:
    """The embedded hub and a client per agency on one memory node."""

    def __init__(self, ctx: HubContext, node: MemoryNode, clients: dict[str, AgencyClient]) -> None:
        """Hold the parts."""
        self.ctx, self.node, self.clients = ctx, node, clients

    async def inbox_counts(self, party: str) -> tuple[int | None, int | None]:
        """``party``'s inbox: messages ready and unacknowledged."""
        assert isinstance(self.ctx.broker, MemoryBroker)
        inbox = self.ctx.names.inbox(party)
        stats = (await self.ctx.broker.queue_stats([inbox]))[inbox]
        return stats.ready, stats.unacked

    async def hub_step(self) -> str:
        """Let the hub process one ingress message."""
        async with self.ctx.broker.consume(self.ctx.names.ingress_queue, 1) as ingress:
            return await process(self.ctx, await next_delivery(ingress))


@pytest.fixture
async def world(
    tmp_path: Path, keyrings: dict[str, PartyKeyring], directory: KeyDirectory
) -> AsyncIterator[World]:
    """The embedded hub with started clients for police, health and advocacy."""
    node = MemoryNode()
    async with AsyncExitStack() as stack:
        ctx = await embedded_hub(stack, tmp_path, keyrings["hub"], directory, node)
        parties = ("police", "health", "advocacy")
        clients = await started_clients(stack, node, keyrings, directory, tmp_path, parties)
        yield World(ctx, node, clients)


def _fresh(event_type: str) -> CaseEvent:
    return sample_event(event_type).model_copy(update={"event_id": uuid.uuid4()})


async def _first(client: AgencyClient) -> ReceivedEvent:
    async with asyncio.timeout(5):
        async for received in client.deliveries():
            return received
    raise AssertionError("inbox closed")


async def test_published_event_arrives_verified_with_its_decision(world: World) -> None:
    """An advocate's safety plan reaches health as groups A and E with the clause's agreement."""
    event = _fresh("VictimSafetyPlanUpdated")
    await world.clients["advocacy"].publish(event)
    assert await world.clients["advocacy"].pending() == []
    assert await world.hub_step() == "disclosed"
    received = await _first(world.clients["health"])
    assert received.event_id == event.event_id
    assert set(received.groups) == {FieldGroup.A, FieldGroup.E}
    assert received.groups[FieldGroup.E] == split_groups(event)[FieldGroup.E]
    assert received.agreement_id == "masip-exampleshire"


async def test_outbox_survives_a_crash_before_the_confirm(
    world: World,
    tmp_path: Path,
    keyrings: dict[str, PartyKeyring],
    directory: KeyDirectory,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """An event whose publish never got its confirm is re-published by the next process."""
    police = world.clients["police"]

    async def lost(_: OutgoingMessage) -> None:
        raise BrokerError(BrokerErrorCode.UNCONFIRMED, "test: connection lost before the confirm")

    monkeypatch.setattr(police._broker, "publish", lost)
    event = _fresh("ReferralReceived")
    with pytest.raises(BrokerError):
        await police.publish(event)
    monkeypatch.undo()
    await police.close()  # the process dies
    restarted = AgencyClient(
        keyrings["police"],
        directory,
        MemoryBroker(world.node, user="police"),
        tmp_path / "police.db",
    )
    async with restarted:
        assert await restarted.pending() == []
        assert await world.hub_step() == "disclosed"
    received = await _first(world.clients["health"])
    assert received.event_id == event.event_id


async def test_the_same_event_published_again_while_waiting_resends_its_bytes(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A re-read record published before its confirm resends the sealed bytes, not new ones."""
    police = world.clients["police"]
    sent: list[bytes] = []

    async def lost(message: OutgoingMessage) -> None:
        sent.append(message.body)
        raise BrokerError(BrokerErrorCode.UNCONFIRMED, "test: no confirm")

    monkeypatch.setattr(police._broker, "publish", lost)
    event = _fresh("ReferralReceived")
    for _ in range(2):
        with pytest.raises(BrokerError):
            await police.publish(event)
    assert len(sent) == 2
    assert sent[0] == sent[1]
    other = event.model_copy(update={"concerns": "Other concerns under the same event id."})
    with pytest.raises(BrokerError):
        await police.publish(other)
    assert sent[2] != sent[0]
    assert await police.pending() == [str(event.event_id)]


async def test_the_same_event_published_again_after_its_confirm_is_no_replay(
    world: World,
) -> None:
    """Published, confirmed, then read again: sealed anew, and the hub still knows it."""
    police = world.clients["police"]
    event = _fresh("ReferralReceived")
    await police.publish(event)
    assert await world.hub_step() == "disclosed"
    await police.publish(event)
    assert await world.hub_step() == "redelivered"
    health = world.clients["health"]
    received = await keep_waiting(health, 0.3)
    assert [r.event_id for r in received] == [event.event_id]
    assert health.duplicates == 1  # the deliveries published again, recognised by event id
    assert await keep_waiting(police, 0.2) == []  # no refusal notice


async def test_redelivered_event_is_yielded_once(world: World) -> None:
    """The same event delivered twice (hub redelivery) reaches the application once."""
    event = _fresh("ReferralReceived")
    police = world.clients["police"]
    await police.publish(event)
    assert await world.hub_step() == "disclosed"
    async with world.ctx.broker.consume(world.ctx.names.inbox("health"), 10) as inbox:
        first = await next_delivery(inbox)
        body = first.body
        await first.reject(requeue=True)
    await world.ctx.broker.publish(
        OutgoingMessage(
            world.ctx.names.deliveries,
            "health",
            body,
            str(uuid.uuid4()),
            headers={"kind": "delivery"},
        )
    )
    seen = [received.event_id for received in await keep_waiting(world.clients["health"], 1)]
    assert seen == [event.event_id]


async def test_refusal_notice_is_raised_as_a_typed_error(world: World) -> None:
    """An event the agency was not entitled to send comes back as RefusedError with its code."""
    event = _fresh("VictimSafetyPlanUpdated").model_copy(update={"author_agency": "health"})
    await world.clients["health"].publish(event)
    assert await world.hub_step() == "sender.not_entitled"
    with pytest.raises(RefusedError) as caught:
        await _first(world.clients["health"])
    assert (caught.value.code, caught.value.event_id) == ("sender.not_entitled", event.event_id)


async def test_refused_error_names_the_field_and_not_its_value(world: World) -> None:
    """An event with a bad optional date comes back naming ``/behaviour_began_on`` and why."""
    far = date(2999, 1, 1)
    event = _fresh("ReferralReceived").model_copy(update={"behaviour_began_on": far})
    await world.clients["police"].publish(event)
    assert await world.hub_step() == "schema.invalid"
    with pytest.raises(RefusedError) as caught:
        await _first(world.clients["police"])
    refused = caught.value
    assert (refused.field, refused.field_error) == ("/behaviour_began_on", "date_too_far_ahead")
    assert refused.event_id == event.event_id
    assert "2999" not in str(refused)


async def test_delivery_that_does_not_verify_goes_to_quarantine(world: World) -> None:
    """A forged delivery in the inbox is rejected to quarantine and never yielded."""
    await world.ctx.broker.publish(
        OutgoingMessage(
            world.ctx.names.deliveries, "health", b"eyJ.forged.x.y.z", str(uuid.uuid4())
        )
    )
    assert await keep_waiting(world.clients["health"], 0.5) == []
    async with world.ctx.broker.consume(world.ctx.names.quarantine, 1) as quarantine:
        assert (await next_delivery(quarantine)).body == b"eyJ.forged.x.y.z"


async def test_an_agency_publishes_only_its_own_events(world: World) -> None:
    """Publishing an event authored by another agency is refused before anything is sent."""
    with pytest.raises(ValueError, match="own events"):
        await world.clients["police"].publish(_fresh("VictimSafetyPlanUpdated"))


async def test_state_file_commits_durably_through_a_write_ahead_log(world: World) -> None:
    """The outbox and seen records commit to a WAL with a full fsync on every commit."""
    for client in world.clients.values():
        assert await client.state.pragma("journal_mode") == "wal"
        assert await client.state.pragma("synchronous") == 2  # FULL: durable at each commit


async def test_state_file_commits_on_the_loops_thread(world: World) -> None:
    """A commit runs inline, on the loop's thread (ADR 0013), and the outbox empties."""
    police = world.clients["police"]
    threads: list[int] = []

    def traced(statement: str) -> None:
        if statement.strip().upper() == "COMMIT":
            threads.append(threading.get_ident())

    police.state.connection.set_trace_callback(traced)
    await police.publish(_fresh("ReferralReceived"))
    await police.publish(_fresh("ReferralReceived"))
    assert threads == [threading.get_ident()] * 2
    assert await police.pending() == []


def _committed(state: Path, query: str, key: str) -> bool:
    """Whether ``query`` finds ``key`` through a connection of its own: committed rows only."""
    with contextlib.closing(sqlite3.connect(state)) as other:
        return other.execute(query, (key,)).fetchone() is not None


def _count_commits(client: AgencyClient) -> list[str]:
    """Record the commits of ``client``'s state file from now on, as SQLite runs them."""
    commits: list[str] = []

    def traced(statement: str) -> None:
        if statement.strip().upper() == "COMMIT":
            commits.append(statement)

    client.state.connection.set_trace_callback(traced)
    return commits


async def test_concurrent_publishes_share_commits_and_each_row_is_durable_first(
    world: World, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every outbox row is committed before its publish; concurrent publishes share commits."""
    police = world.clients["police"]
    publish = police._broker.publish
    unseen: list[str] = []

    async def checked(message: OutgoingMessage) -> None:
        query = "SELECT 1 FROM outbox WHERE event_id = ?"
        if not _committed(tmp_path / "police.db", query, message.message_id):
            unseen.append(message.message_id)
        await publish(message)

    monkeypatch.setattr(police._broker, "publish", checked)
    commits = _count_commits(police)
    events = [_fresh("ReferralReceived") for _ in range(12)]
    await asyncio.gather(*(police.publish(event) for event in events))
    assert unseen == []
    assert 1 <= len(commits) < len(events)
    assert await police.pending() == []


async def test_seen_records_are_committed_before_their_deliveries_are_acknowledged(
    world: World, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Deliveries handled back to back are remembered in one commit, then acknowledged."""
    events = [_fresh("ReferralReceived") for _ in range(6)]
    for event in events:
        await world.clients["police"].publish(event)
        assert await world.hub_step() == "disclosed"
    health = world.clients["health"]
    acked_unseen: list[str] = []
    settle = client_module._settle

    async def checked(message: IncomingMessage) -> None:
        event_id = str(message.headers.get("event-id"))
        if not _committed(
            tmp_path / "health.db", "SELECT 1 FROM seen WHERE event_id = ?", event_id
        ):
            acked_unseen.append(event_id)
        await settle(message)

    monkeypatch.setattr(client_module, "_settle", checked)
    commits = _count_commits(health)
    received = await keep_waiting(health, 0.5)
    assert [r.event_id for r in received] == [e.event_id for e in events]
    assert acked_unseen == []
    assert 1 <= len(commits) < len(events)
    assert await world.inbox_counts("health") == (0, 0)


async def test_deliveries_handled_before_the_caller_stops_are_settled(world: World) -> None:
    """A caller that stops asking leaves the deliveries it handled remembered and acked."""
    events = [_fresh("ReferralReceived") for _ in range(4)]
    for event in events:
        await world.clients["police"].publish(event)
        assert await world.hub_step() == "disclosed"
    health = world.clients["health"]
    taken: list[uuid.UUID] = []
    deliveries = health.deliveries()
    async for received in deliveries:
        taken.append(received.event_id)
        if len(taken) == 3:  # the third is not handled: the caller never asks again
            break
    await deliveries.aclose()
    assert await world.inbox_counts("health") == (2, 0)
    again = [r.event_id for r in await keep_waiting(health, 0.5)]
    assert again == [events[2].event_id, events[3].event_id]


async def test_an_outbox_from_before_content_digests_is_migrated_and_flushed(
    world: World, tmp_path: Path, keyrings: dict[str, PartyKeyring], directory: KeyDirectory
) -> None:
    """An outbox row without a content digest is published as it was, and the file upgraded."""
    state = tmp_path / "older.db"
    with sqlite3.connect(state) as old:
        old.execute(
            "CREATE TABLE outbox (event_id TEXT NOT NULL, routing_key TEXT NOT NULL,"
            " body BLOB NOT NULL, PRIMARY KEY (event_id, routing_key))"
        )
        old.execute("INSERT INTO outbox VALUES (?, 'police', ?)", (str(uuid.uuid4()), b"sealed"))
    old.close()
    broker = MemoryBroker(world.node, user="police")
    async with AgencyClient(keyrings["police"], directory, broker, state) as police:
        assert await police.pending() == []
        event = _fresh("ReferralReceived")
        await police.publish(event)
    with sqlite3.connect(state) as upgraded:
        columns = [row[1] for row in upgraded.execute("PRAGMA table_info(outbox)")]
    upgraded.close()
    assert columns == ["event_id", "routing_key", "body", "content"]
    assert await world.hub_step() == "envelope.malformed"  # b"sealed", flushed as it was
    assert await world.hub_step() == "disclosed"


async def test_each_delivery_hands_over_its_purpose_and_delete_by_date(world: World) -> None:
    """The SDK gives the agency the obligations the hub signed: purpose, no onward, date."""
    event = _fresh("VictimSafetyPlanUpdated")
    await world.clients["advocacy"].publish(event)
    assert await world.hub_step() == "disclosed"
    received = await _first(world.clients["health"])
    assert received.obligations is not None
    assert received.obligations["uid"] == f"urn:uuid:{received.decision_id}"
    assert received.obligations["prohibition"] == [{"action": "distribute"}]
    assert received.purposes
    (entry,) = [
        e
        for e in await world.ctx.ledger.entries_for_event(event.event_id)
        if e.recipient == "health"
    ]
    retention = next(
        c.retention.months
        for a in world.ctx.policy.agreements
        for c in a.clauses
        if c.id == entry.grants[0].clause
    )
    assert received.retain_until == add_months(entry.recorded_at.astimezone(UTC).date(), retention)


# --- Signed receipts (issue 23, item 5) --------------------------------------------------


async def _disclosed_to_health(world: World, count: int) -> list[ReceivedEvent]:
    """``count`` safety plans disclosed to health, received and kept by its client."""
    for _ in range(count):
        await world.clients["advocacy"].publish(_fresh("VictimSafetyPlanUpdated"))
        assert await world.hub_step() == "disclosed"
    return await keep_waiting(world.clients["health"], 0.5)


async def _send_signed(
    client: AgencyClient,
    item: ReceiptItem,
    *,
    erasure: bool = False,
    kind: str | None = None,
) -> None:
    """Sign a receipt of one ``item`` as ``client``'s agency and publish it with AMQP ``kind``.

    ``kind`` defaults to the one of the receipt's type.
    """
    body = seal_receipt(
        uuid.uuid4(), [item], datetime.now(UTC), client._keyring, client._directory, "hub",
        erasure=erasure,
    )  # fmt: skip
    kind = kind or ("erasure-receipt" if erasure else "delivery-receipt")
    await client._send_receipt(str(uuid.uuid4()), body.encode(), kind)


async def test_kept_deliveries_are_receipted_in_one_signed_receipt_the_ledger_records(
    world: World, directory: KeyDirectory
) -> None:
    """Three deliveries kept, one receipt: their decisions and the digests of what arrived."""
    sent = {}
    original = world.ctx.broker.publish

    async def keep(message: OutgoingMessage) -> None:
        if message.headers.get("kind") == "delivery":
            sent[message.message_id] = hashlib.sha256(message.body).hexdigest()
        await original(message)

    world.ctx.broker.publish = keep  # type: ignore[method-assign]
    received = await _disclosed_to_health(world, 3)
    assert len(received) == 3
    assert await world.hub_step() == "receipted"
    entries = await world.ctx.ledger.read(0, None)
    (entry,) = [e for e in entries if e.kind == "receipt"]
    assert entry.recipient == "health"
    assert entry.receipt is not None
    assert {str(i.decision_id): i.digest for i in entry.receipt.items} == {
        str(r.decision_id): sent[str(r.decision_id)] for r in received
    }
    report = await verify_store(world.ctx.ledger.store, directory)
    assert report.intact
    out = io.StringIO()
    await write_export(world.ctx.ledger.store, out)
    keys = {
        r.kid: SCRIPT.HubKey(r.key.public_key, 0, 10**10) for r in directory.records("hub", "sig")
    }
    verdict = SCRIPT.read_export(out.getvalue().splitlines(keepends=True), [], keys, 2e9)
    assert (verdict.code, verdict.entries) == (None, report.entries)


async def test_a_receipt_sent_twice_is_recorded_once(world: World) -> None:
    """The same receipt, published again (its confirm lost), adds no second entry."""
    await _disclosed_to_health(world, 1)
    health = world.clients["health"]
    assert await health.state.query("SELECT receipt_id FROM receipts") == []  # confirmed
    assert await world.hub_step() == "receipted"
    entries = [e for e in await world.ctx.ledger.read(0, None) if e.kind == "receipt"]
    assert entries[0].receipt is not None
    # Publish the recorded receipt's sealed body once more, as a lost confirm would.
    sealed = seal_receipt(
        entries[0].receipt.receipt_id,
        [ReceiptItem(i.decision_id, i.digest, i.until) for i in entries[0].receipt.items],
        entries[0].receipt.signed_at,
        health._keyring,
        health._directory,
        "hub",
    )
    await health._send_receipt(
        str(entries[0].receipt.receipt_id), sealed.encode(), "delivery-receipt"
    )
    assert await world.hub_step() == "receipted"
    assert len([e for e in await world.ctx.ledger.read(0, None) if e.kind == "receipt"]) == 1


async def test_a_receipt_for_a_delivery_made_to_another_is_refused(world: World) -> None:
    """Advocacy cannot sign for what health received: ``receipt.not_delivered``."""
    received = await _disclosed_to_health(world, 1)
    assert await world.hub_step() == "receipted"
    advocacy = world.clients["advocacy"]
    item = ReceiptItem(received[0].decision_id, "0" * 64, received[0].retain_until)
    await _send_signed(advocacy, item)
    assert await world.hub_step() == "receipt.not_delivered"


async def test_a_receipt_acknowledges_each_deliverys_retention_end(world: World) -> None:
    """Each item carries the delete-by day the delivery's obligations set, as the hub set it."""
    received = await _disclosed_to_health(world, 2)
    assert await world.hub_step() == "receipted"
    (entry,) = [e for e in await world.ctx.ledger.read(0, None) if e.kind == "receipt"]
    assert entry.receipt is not None
    assert {i.decision_id: i.until for i in entry.receipt.items} == {
        r.decision_id: r.retain_until for r in received
    }
    assert all(r.retain_until is not None for r in received)


async def test_a_receipt_with_another_retention_end_is_refused(world: World) -> None:
    """A recipient cannot sign itself a longer retention: ``receipt.retention_mismatch``."""
    received = await _disclosed_to_health(world, 1)
    assert await world.hub_step() == "receipted"
    health = world.clients["health"]
    until = received[0].retain_until
    assert until is not None
    for later in (date.fromordinal(until.toordinal() + 1), None):
        await _send_signed(health, ReceiptItem(received[0].decision_id, "0" * 64, later))
        assert await world.hub_step() == "receipt.retention_mismatch"


# --- Retention that ends: erasure receipts (issue 23, item 7) ------------------------------


async def _rows(client: AgencyClient, table: str) -> int:
    [(count,)] = await client.state.query(f"SELECT COUNT(*) FROM {table}")  # noqa: S608 - names
    assert isinstance(count, int)
    return count


async def test_deliveries_are_erased_at_their_retention_end_with_a_signed_erasure_receipt(
    world: World, directory: KeyDirectory
) -> None:
    """On the delete-by day the SDK forgets the delivery and signs for it; the ledger records it."""
    received = await _disclosed_to_health(world, 2)
    assert await world.hub_step() == "receipted"
    health = world.clients["health"]
    until = received[0].retain_until
    assert until is not None
    asked: list[uuid.UUID] = []

    async def erase(ids: Sequence[uuid.UUID]) -> None:
        asked.extend(ids)

    the_day_before = date.fromordinal(until.toordinal() - 1)
    assert await health.erase_due(today=the_day_before, erase=erase) == 0
    assert (asked, await _rows(health, "seen"), await _rows(health, "retained")) == ([], 2, 2)
    assert await health.erase_due(today=until, erase=erase) == 2
    assert sorted(asked) == sorted(r.decision_id for r in received)
    assert (await _rows(health, "seen"), await _rows(health, "retained")) == (0, 0)
    assert await _rows(health, "receipts") == 0  # confirmed
    assert await world.hub_step() == "erased"
    entries = await world.ctx.ledger.read(0, None)
    (erasure,) = [e for e in entries if e.outcome == "erased"]
    assert (erasure.kind, erasure.recipient) == ("receipt", "health")
    assert erasure.receipt is not None
    (receipt,) = [e for e in entries if e.outcome == "receipted"]
    assert receipt.receipt is not None
    assert {(i.decision_id, i.digest) for i in erasure.receipt.items} == {
        (i.decision_id, i.digest) for i in receipt.receipt.items
    }
    assert await health.erase_due(today=until) == 0  # nothing twice
    report = await verify_store(world.ctx.ledger.store, directory)
    assert report.intact
    out = io.StringIO()
    await write_export(world.ctx.ledger.store, out)
    keys = {
        r.kid: SCRIPT.HubKey(r.key.public_key, 0, 10**10) for r in directory.records("hub", "sig")
    }
    verdict = SCRIPT.read_export(out.getvalue().splitlines(keepends=True), [], keys, 2e9)
    assert (verdict.code, verdict.entries) == (None, report.entries)


async def test_an_erasure_receipt_the_broker_did_not_confirm_is_sent_on_start(
    world: World,
    tmp_path: Path,
    keyrings: dict[str, PartyKeyring],
    directory: KeyDirectory,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Erased and signed, then the confirm is lost: the next process sends it; recorded once."""
    received = await _disclosed_to_health(world, 1)
    assert await world.hub_step() == "receipted"
    health = world.clients["health"]
    until = received[0].retain_until
    assert until is not None

    async def lost(_: OutgoingMessage) -> None:
        raise BrokerError(BrokerErrorCode.UNCONFIRMED, "test: connection lost before the confirm")

    monkeypatch.setattr(health._broker, "publish", lost)
    with pytest.raises(BrokerError):
        await health.erase_due(today=until)
    monkeypatch.undo()
    assert (await _rows(health, "seen"), await _rows(health, "receipts")) == (0, 1)
    await health.close()  # the process dies
    broker = MemoryBroker(world.node, user="health")
    restarted = AgencyClient(keyrings["health"], directory, broker, tmp_path / "health.db")
    async with restarted:
        assert await _rows(restarted, "receipts") == 0
        assert await restarted.erase_due(today=until) == 0
    assert await world.hub_step() == "erased"
    entries = await world.ctx.ledger.read(0, None)
    assert [e.outcome for e in entries if e.kind == "receipt"] == ["receipted", "erased"]


async def test_an_erasure_receipt_for_anothers_delivery_is_refused(world: World) -> None:
    """Advocacy cannot say it erased what health received: ``receipt.not_delivered``."""
    received = await _disclosed_to_health(world, 1)
    assert await world.hub_step() == "receipted"
    advocacy = world.clients["advocacy"]
    await _send_signed(advocacy, ReceiptItem(received[0].decision_id, "0" * 64), erasure=True)
    assert await world.hub_step() == "receipt.not_delivered"


async def test_a_delivery_receipt_sent_as_an_erasure_is_refused(world: World) -> None:
    """The AMQP kind names the receipt's type: a delivery receipt is no erasure."""
    received = await _disclosed_to_health(world, 1)
    assert await world.hub_step() == "receipted"
    health = world.clients["health"]
    item = ReceiptItem(received[0].decision_id, "0" * 64, received[0].retain_until)
    await _send_signed(health, item, kind="erasure-receipt")
    assert await world.hub_step() == "envelope.malformed"


async def test_a_state_file_from_before_retention_ends_is_migrated(
    world: World, tmp_path: Path, keyrings: dict[str, PartyKeyring], directory: KeyDirectory
) -> None:
    """Receipt rows from before ``until`` and ``kind`` are kept and sent as delivery receipts."""
    received = await _disclosed_to_health(world, 1)
    assert await world.hub_step() == "receipted"
    health = world.clients["health"]
    sealed = seal_receipt(
        uuid.uuid4(),
        [ReceiptItem(received[0].decision_id, "ab" * 32, received[0].retain_until)],
        datetime.now(UTC),
        health._keyring,
        health._directory,
        "hub",
    )
    state = tmp_path / "older-health.db"
    with sqlite3.connect(state) as old:
        old.execute("CREATE TABLE unreceipted (decision_id TEXT PRIMARY KEY, digest TEXT NOT NULL)")
        old.execute("CREATE TABLE receipts (receipt_id TEXT PRIMARY KEY, body BLOB NOT NULL)")
        old.execute("INSERT INTO receipts VALUES (?, ?)", (str(uuid.uuid4()), sealed.encode()))
    old.close()
    broker = MemoryBroker(world.node, user="health")
    async with AgencyClient(keyrings["health"], directory, broker, state) as upgraded:
        assert await _rows(upgraded, "receipts") == 0  # sent on start
    assert await world.hub_step() == "receipted"


# --- Receipts checked again by the audit, with the parties' keys ------------------------


async def test_the_audit_checks_each_receipt_with_its_recipients_key(
    world: World, keyrings: dict[str, PartyKeyring], directory: KeyDirectory
) -> None:
    """Every receipt's signature holds; with the hub's keys alone they are counted unchecked."""
    received = await _disclosed_to_health(world, 2)
    assert await world.hub_step() == "receipted"
    until = received[0].retain_until
    assert until is not None
    assert await world.clients["health"].erase_due(today=until) == 2
    assert await world.hub_step() == "erased"
    report = await verify_store(world.ctx.ledger.store, directory)
    assert (report.intact, report.receipts, report.receipts_unchecked) == (True, 2, ())
    assert "receipts: 2 signed by their recipients, each checked" in render(report)
    assert await _script_lines(world, directory, with_parties=True) == render(report)
    hub_only = KeyDirectory.of(keyrings["hub"])
    report = await verify_store(world.ctx.ledger.store, hub_only)
    unchecked = (("health", 2),)
    assert (report.intact, report.receipts, report.receipts_unchecked) == (True, 0, unchecked)
    assert await _script_lines(world, directory, with_parties=False) == render(report)


def _script_keys(directory: KeyDirectory, parties: list[str]) -> dict[str, object]:
    """Signing keys as the independent script holds them, by kid."""
    return {
        r.kid: SCRIPT.HubKey(
            r.key.public_key, int(r.not_before.timestamp()), int(r.not_after.timestamp())
        )
        for party in parties
        for r in directory.records(party, "sig")
    }


async def _script_lines(world: World, directory: KeyDirectory, *, with_parties: bool) -> list[str]:
    """What deploy/audit/verify_ledger.py prints for the export, with or without party keys."""
    out = io.StringIO()
    await write_export(world.ctx.ledger.store, out)
    hub = _script_keys(directory, ["hub"])
    others = sorted(directory.parties() - {"hub"}) if with_parties else []
    signing = {
        kid: (party, key)
        for party in others
        for kid, key in _script_keys(directory, [party]).items()
    }
    parties = SCRIPT.load_party_keys([], hub)
    parties = SCRIPT.PartyKeys({**parties.signing, **signing}, parties.kids | set(signing))
    lines = out.getvalue().splitlines(keepends=True)
    verdict = SCRIPT.read_export(lines, [], hub, 2e9, None, parties)
    return list(SCRIPT.render(verdict))


@pytest.mark.parametrize("forgery", ["digest", "recipient", "erased"])
async def test_a_receipt_the_recipient_did_not_sign_breaks_the_audit(
    world: World, directory: KeyDirectory, forgery: str
) -> None:
    """A receipt entry the hub wrote itself, reusing a real signature, is found."""
    await _disclosed_to_health(world, 1)
    assert await world.hub_step() == "receipted"
    entries = await world.ctx.ledger.read(0, None)
    (real,) = [e for e in entries if e.kind == "receipt"]
    assert real.receipt is not None
    record = real.receipt
    if forgery == "digest":
        items = tuple(i.model_copy(update={"digest": "0" * 64}) for i in record.items)
        record = record.model_copy(update={"items": items})
    draft = EntryDraft(
        kind="receipt",
        decision_id=uuid.uuid4(),
        recorded_at=datetime.now(UTC),
        recipient="advocacy" if forgery == "recipient" else "health",
        outcome="erased" if forgery == "erased" else "receipted",
        receipt=record,
    )
    [forged] = await world.ctx.ledger.append([draft])
    report = await verify_store(world.ctx.ledger.store, directory)
    assert (report.code, report.broken_at) == (ErrorCode.RECEIPT_INVALID, forged.seq)
    assert await _script_lines(world, directory, with_parties=True) == render(report)


async def test_the_script_reads_party_key_files_and_checks_their_receipts(
    world: World,
    keyrings: dict[str, PartyKeyring],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """``verify_ledger.py --party-keys health.jwks.json``: health's receipts are checked."""
    await _disclosed_to_health(world, 1)
    assert await world.hub_step() == "receipted"
    keys = tmp_path / "public"
    keys.mkdir()
    paths = {party: save_keyring(keyrings[party], keys)[1] for party in ("hub", "health")}
    export = tmp_path / "ledger.jsonl"
    with export.open("w", encoding="utf-8", newline="\n") as handle:
        await write_export(world.ctx.ledger.store, handle)
    base = [str(export), "--keys", str(paths["hub"])]
    assert SCRIPT.main([*base, "--party-keys", str(paths["health"])]) == 0
    assert "receipts: 1 signed by their recipients, each checked" in capsys.readouterr().out
    assert SCRIPT.main(base) == 0
    assert "1 receipt of health not checked" in capsys.readouterr().out
    assert SCRIPT.main([*base, "--party-keys", str(tmp_path / "none.json")]) == 2
    assert "error keys.unreadable" in capsys.readouterr().err


async def test_one_receipt_covers_many_acknowledged_groups(
    world: World, tmp_path: Path, keyrings: dict[str, PartyKeyring], directory: KeyDirectory
) -> None:
    """Twelve deliveries acknowledged two at a time, one receipt: not one per group."""
    await world.clients["health"].close()
    broker = MemoryBroker(world.node, user="health")
    health = AgencyClient(
        keyrings["health"], directory, broker, tmp_path / "health-2.db", prefetch=4,
        receipt_seconds=60.0,
    )  # fmt: skip
    async with health:
        world.clients["health"] = health
        received = await _disclosed_to_health(world, 12)
    assert len(received) == 12
    assert await world.hub_step() == "receipted"
    (entry,) = [e for e in await world.ctx.ledger.read(0, None) if e.kind == "receipt"]
    assert entry.receipt is not None
    assert len(entry.receipt.items) == 12


async def test_a_receipt_waits_at_most_its_seconds_while_deliveries_go_on(
    world: World, tmp_path: Path, keyrings: dict[str, PartyKeyring], directory: KeyDirectory
) -> None:
    """A client that keeps consuming still signs within ``receipt_seconds``."""
    await world.clients["health"].close()
    broker = MemoryBroker(world.node, user="health")
    health = AgencyClient(
        keyrings["health"], directory, broker, tmp_path / "health-3.db", receipt_seconds=0.2
    )
    async with health:
        got: list[ReceivedEvent] = []

        async def consume() -> None:
            async for received in health.deliveries():
                got.append(received)  # noqa: PERF401 - kept as it arrives

        consumer = asyncio.create_task(consume())
        try:
            for _ in range(2):
                await world.clients["advocacy"].publish(_fresh("VictimSafetyPlanUpdated"))
                assert await world.hub_step() == "disclosed"
            assert await world.hub_step() == "receipted"  # while the consumer still runs
            assert not consumer.done()
        finally:
            consumer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await consumer
    (entry,) = [e for e in await world.ctx.ledger.read(0, None) if e.kind == "receipt"]
    assert entry.receipt is not None
    assert {i.decision_id for i in entry.receipt.items} == {r.decision_id for r in got}


async def test_the_receipt_timer_outlives_a_failure_and_signs_later(
    world: World,
    tmp_path: Path,
    keyrings: dict[str, PartyKeyring],
    directory: KeyDirectory,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A receipt that cannot be sealed once (a key problem) is sealed at the next turn."""
    await world.clients["health"].close()
    broker = MemoryBroker(world.node, user="health")
    health = AgencyClient(
        keyrings["health"], directory, broker, tmp_path / "health-4.db", receipt_seconds=0.2
    )
    failures = [EnvelopeError(EnvelopeErrorCode.KEY_NOT_VALID, "test: no valid key, once")]
    sealing = seal_receipt

    def seal_once_failing(*args: Any, **kwargs: Any) -> str:
        if failures:
            raise failures.pop()
        return sealing(*args, **kwargs)

    monkeypatch.setattr(client_module, "seal_receipt", seal_once_failing)
    async with health:
        consumer = asyncio.create_task(keep_waiting(health, 30.0))
        try:
            await world.clients["advocacy"].publish(_fresh("VictimSafetyPlanUpdated"))
            assert await world.hub_step() == "disclosed"
            assert await world.hub_step() == "receipted"
        finally:
            consumer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await consumer
    assert failures == []


def test_an_events_digest_is_the_rfc8785_digest_it_always_was() -> None:
    """The outbox's event digest, now from the fast canonical JSON, is the RFC 8785 one.

    State files written before keep digests that compare equal.
    """
    for event in all_samples():
        data = event.model_dump(mode="json")
        expected = hashlib.sha256(rfc8785.dumps(data)).hexdigest()
        assert client_module._content(event) == expected


@pytest.mark.parametrize(("wait", "groups"), [(0.5, [2]), (0.0, [1, 1])])
async def test_a_delivery_that_comes_while_the_group_waits_joins_its_commit(
    world: World, monkeypatch: pytest.MonkeyPatch, wait: float, groups: list[int]
) -> None:
    """With nothing at hand the recipient waits before it commits: what comes meanwhile joins."""
    monkeypatch.setattr(client_module, "GROUP_WAIT_SECONDS", wait)
    for _ in range(2):
        await world.clients["police"].publish(_fresh("ReferralReceived"))
    assert await world.hub_step() == "disclosed"  # the second waits on ingress
    health = world.clients["health"]
    sizes: list[int] = []
    settle = AgencyClient._settle_remembered

    async def counted(self: AgencyClient, handled: list[Any], *args: Any, **kwargs: Any) -> None:
        if handled:
            sizes.append(len(handled))
        await settle(self, handled, *args, **kwargs)

    monkeypatch.setattr(AgencyClient, "_settle_remembered", counted)

    async def second_later() -> None:
        await asyncio.sleep(0.05)  # while the first delivery's group waits, if it does
        assert await world.hub_step() == "disclosed"

    later = asyncio.create_task(second_later())
    received = await keep_waiting(health, 1.5)
    await later
    assert len(received) == 2
    assert sizes == groups
    assert await world.inbox_counts("health") == (0, 0)
