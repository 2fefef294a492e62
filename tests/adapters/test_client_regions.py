"""The agency client sending to another region's hub (ADR 0010), on the in-memory broker.

The link itself (exchange federation between two RabbitMQ nodes) is exercised in
``tests/hub/regions/``; here the link's upstream is a queue bound to ``hub.ingress``
with the region's routing key, which is what North's broker routes to it.
"""

from __future__ import annotations

import sqlite3
import uuid
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Final

import pytest

from adapters.client import AgencyClient, region_routing_key
from hub.broker.base import BrokerError, BrokerErrorCode
from hub.broker.memory import MemoryBroker, MemoryNode
from hub.broker.testing import next_delivery
from hub.broker.topology import Binding, Exchange, ExchangeType, Queue, Topology, TopologyNames
from hub.crypto.base import EnvelopeError, ErrorCode
from hub.crypto.envelope import open_ingress
from hub.crypto.keys import KeyDirectory, PartyKeyring, generate_party_keys
from schemas.samples import sample_event

if TYPE_CHECKING:
    from pathlib import Path

    from schemas.base import CaseEvent

NAMES: Final = TopologyNames()
#: Where North's broker routes ``region-south``: the link's upstream, modelled as a queue.
LINK_QUEUE: Final = "region.south.out.q"
PARTIES: Final = ("hub", "south-hub", "north-police")


@pytest.fixture(scope="module")
def rings() -> dict[str, PartyKeyring]:
    """North's hub, South's hub and a North agency."""
    start = datetime.now(UTC) - timedelta(days=1)
    return {party: generate_party_keys(party, start) for party in PARTIES}


@pytest.fixture(scope="module")
def keys(rings: dict[str, PartyKeyring]) -> KeyDirectory:
    """The public keys of all three."""
    return KeyDirectory.of(*rings.values())


def north_topology(*, linked: bool = True) -> Topology:
    """North's ingress for ``north-police``, and (when ``linked``) the link's upstream."""
    queues = [Queue(NAMES.ingress_queue)]
    bindings = [Binding(NAMES.ingress, NAMES.ingress_queue, "north-police")]
    if linked:
        queues.append(Queue(LINK_QUEUE))
        bindings.append(Binding(NAMES.ingress, LINK_QUEUE, region_routing_key("south")))
    return Topology(
        exchanges=(Exchange(NAMES.ingress, ExchangeType.DIRECT),),
        queues=tuple(queues),
        bindings=tuple(bindings),
    )


def client(
    node: MemoryNode, rings: dict[str, PartyKeyring], keys: KeyDirectory, state: Path
) -> AgencyClient:
    """``north-police``'s client, which may send to South's hub ``south-hub``."""
    broker = MemoryBroker(node, user="north-police")
    return AgencyClient(rings["north-police"], keys, broker, state, regions={"south": "south-hub"})


def referral() -> CaseEvent:
    """A fresh referral written by ``north-police``."""
    event = sample_event("ReferralReceived")
    return event.model_copy(update={"event_id": uuid.uuid4(), "author_agency": "north-police"})


async def take(node: MemoryNode, queue: str) -> bytes | None:
    """The body of the next message in ``queue`` (acknowledged), or None if there is none."""
    broker = MemoryBroker(node, user="hub")
    await broker.connect()
    try:
        async with broker.consume(queue, 1) as consumer:
            try:
                message = await next_delivery(consumer, 0.2)
            except TimeoutError:
                return None
            await message.ack()
            return message.body
    finally:
        await broker.close()


async def declared(node: MemoryNode, topology: Topology) -> None:
    """Declare ``topology`` on ``node``."""
    broker = MemoryBroker(node, user="hub")
    await broker.connect()
    await broker.apply(topology)
    await broker.close()


async def test_a_regional_event_is_sealed_to_that_hub_and_routed_to_the_link(
    tmp_path: Path, rings: dict[str, PartyKeyring], keys: KeyDirectory
) -> None:
    """region="south": sealed to south-hub, key region-south; North's ingress gets nothing."""
    node = MemoryNode()
    await declared(node, north_topology())
    event = referral()
    async with client(node, rings, keys, tmp_path / "s.db") as police:
        await police.publish(event, region="south")
        assert await police.pending() == []
    body = await take(node, LINK_QUEUE)
    assert body is not None
    assert await take(node, NAMES.ingress_queue) is None
    opened = open_ingress(body.decode("ascii"), rings["south-hub"], keys)
    assert opened.claims.event_id == event.event_id
    assert opened.claims.issuer == "north-police"
    with pytest.raises(EnvelopeError):  # North's hub holds no key that opens it
        open_ingress(body.decode("ascii"), rings["hub"], keys)


async def test_a_local_event_still_goes_to_this_regions_hub_by_party_id(
    tmp_path: Path, rings: dict[str, PartyKeyring], keys: KeyDirectory
) -> None:
    """Without a region the event is sealed to the local hub and routed by party id."""
    node = MemoryNode()
    await declared(node, north_topology())
    event = referral()
    async with client(node, rings, keys, tmp_path / "s.db") as police:
        await police.publish(event)
    body = await take(node, NAMES.ingress_queue)
    assert body is not None
    assert await take(node, LINK_QUEUE) is None
    assert open_ingress(body.decode("ascii"), rings["hub"], keys).claims.event_id == event.event_id


async def test_an_unknown_region_or_a_hub_without_keys_writes_nothing(
    tmp_path: Path, rings: dict[str, PartyKeyring], keys: KeyDirectory
) -> None:
    """A region with no configured hub, or a hub with no keys, fails before the outbox."""
    node = MemoryNode()
    await declared(node, north_topology())
    broker = MemoryBroker(node, user="north-police")
    regions = {"south": "south-hub", "east": "east-hub"}  # east-hub has no keys
    state = tmp_path / "s.db"
    async with AgencyClient(rings["north-police"], keys, broker, state, regions=regions) as police:
        with pytest.raises(ValueError, match="region"):
            await police.publish(referral(), region="west")
        with pytest.raises(EnvelopeError) as caught:
            await police.publish(referral(), region="east")
        assert caught.value.code is ErrorCode.KEY_NOT_VALID
        assert await police.pending() == []


@pytest.mark.parametrize(
    "regions",
    [{"South": "south-hub"}, {"region.south": "south-hub"}, {"s" * 26: "south-hub"}],
)
def test_region_names_must_make_a_valid_routing_key(
    tmp_path: Path, rings: dict[str, PartyKeyring], keys: KeyDirectory, regions: dict[str, str]
) -> None:
    """A region name that would not be a valid routing key is refused at construction."""
    broker = MemoryBroker(MemoryNode(), user="north-police")
    with pytest.raises(ValueError, match="region"):
        AgencyClient(rings["north-police"], keys, broker, tmp_path / "s.db", regions=regions)


def test_a_region_cannot_name_this_regions_own_hub(
    tmp_path: Path, rings: dict[str, PartyKeyring], keys: KeyDirectory
) -> None:
    """Sealing a "regional" event to the local hub would send it where no one can open it."""
    broker = MemoryBroker(MemoryNode(), user="north-police")
    with pytest.raises(ValueError, match="hub"):
        AgencyClient(
            rings["north-police"], keys, broker, tmp_path / "s.db", regions={"west": "hub"}
        )


async def test_an_unrouted_regional_event_stays_and_is_flushed_to_the_link_later(
    tmp_path: Path, rings: dict[str, PartyKeyring], keys: KeyDirectory
) -> None:
    """Before the link binds, the broker returns it; a later flush routes it to the link only."""
    node = MemoryNode()
    await declared(node, north_topology(linked=False))
    event = referral()
    state = tmp_path / "s.db"
    async with client(node, rings, keys, state) as police:
        with pytest.raises(BrokerError) as caught:
            await police.publish(event, region="south")
        assert caught.value.code is BrokerErrorCode.UNROUTABLE
        assert await police.pending() == [str(event.event_id)]
    await declared(node, north_topology())
    async with client(node, rings, keys, state) as police:  # start() flushes
        assert await police.pending() == []
    body = await take(node, LINK_QUEUE)
    assert body is not None
    assert open_ingress(body.decode("ascii"), rings["south-hub"], keys).claims.event_id == (
        event.event_id
    )
    assert await take(node, NAMES.ingress_queue) is None


async def test_one_event_may_wait_for_the_local_hub_and_a_region_at_once(
    tmp_path: Path, rings: dict[str, PartyKeyring], keys: KeyDirectory
) -> None:
    """The outbox keys rows by event and routing key: neither copy replaces the other."""
    node = MemoryNode()
    await declared(node, north_topology())
    broker = MemoryBroker(node, user="north-police")
    event = referral()
    regions = {"south": "south-hub"}
    police = AgencyClient(rings["north-police"], keys, broker, tmp_path / "s.db", regions=regions)
    async with police:
        await broker.close()  # the broker is gone: neither copy is confirmed
        for region in (None, "south"):
            with pytest.raises(BrokerError):
                await police.publish(event, region=region)
        assert await police.pending() == [str(event.event_id)] * 2
        await broker.connect()
        assert await police.flush() == 2
    local, linked = await take(node, NAMES.ingress_queue), await take(node, LINK_QUEUE)
    assert local is not None
    assert linked is not None
    assert open_ingress(local.decode("ascii"), rings["hub"], keys).claims.event_id == event.event_id
    assert open_ingress(linked.decode("ascii"), rings["south-hub"], keys).claims.event_id == (
        event.event_id
    )


async def test_an_outbox_written_before_regions_is_migrated_and_flushed_locally(
    tmp_path: Path, rings: dict[str, PartyKeyring], keys: KeyDirectory
) -> None:
    """Rows of the old outbox (no routing key) are local events, published by party id."""
    node = MemoryNode()
    await declared(node, north_topology())
    state = tmp_path / "old.db"
    with sqlite3.connect(state) as old:
        old.execute("CREATE TABLE outbox (event_id TEXT PRIMARY KEY, body BLOB NOT NULL)")
        old.execute("INSERT INTO outbox VALUES (?, ?)", (str(uuid.uuid4()), b"sealed-body"))
    old.close()
    async with client(node, rings, keys, state) as police:
        assert await police.pending() == []
    assert await take(node, NAMES.ingress_queue) == b"sealed-body"
    assert await take(node, LINK_QUEUE) is None
