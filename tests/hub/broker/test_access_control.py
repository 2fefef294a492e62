"""Broker access control: the generated definitions, imported into a real RabbitMQ.

Each module run imports :func:`~hub.broker.definitions.broker_definitions` into a
vhost of its own, with users of its own (a unique prefix, known passwords), on the
node in ``HUB_TEST_RABBITMQ_DIR`` (``deploy/dev/rabbitmq.sh start DIR PORT``), and
deletes them afterwards. Every refusal is RabbitMQ's own: ACCESS_REFUSED (403) for a
permission, PRECONDITION_FAILED (406) for a forged ``user_id``.

The hub's second check, that the AMQP ``user_id`` is the signed issuer, is
``tests/hub/test_pipeline.py::test_amqp_user_must_be_the_signed_sender`` (and
``test_without_a_shared_user_any_other_user_mismatches``); the case of no
``user_id`` at all is here, on the in-memory broker.
"""

from __future__ import annotations

import asyncio
import functools
import json
import os
import secrets
import uuid
from contextlib import AsyncExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import aio_pika
import pytest
from aio_pika.exceptions import ChannelPreconditionFailed, ProbableAuthenticationError
from aiormq.exceptions import ChannelAccessRefused
from services import dev_script
from yarl import URL

from hub.broker.amqp import AmqpBroker
from hub.broker.base import OutgoingMessage
from hub.broker.definitions import HUB_USER, broker_definitions
from hub.broker.memory import MemoryBroker, MemoryNode
from hub.broker.testing import SAMPLE_BODY, ingress_message, next_delivery
from hub.broker.topology import TopologyNames, default_topology
from hub.crypto.envelope import issue_event
from hub.embedded import embedded_hub
from hub.pipeline import process
from schemas.base import new_event_id
from schemas.samples import sample_event

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable, Iterator

    from aio_pika.abc import AbstractChannel, AbstractIncomingMessage

    from hub.crypto.keys import KeyDirectory, PartyKeyring

ROOT = Path(__file__).resolve().parents[3]
DIR_VARIABLE = "HUB_TEST_RABBITMQ_DIR"
AGENCIES = ("police", "health", "advocacy")
#: An agency whose user keeps the committed definitions' empty hash: no login.
LOCKED = "advocacy"
NAMES = TopologyNames()


def rabbitmq_dir() -> Path:
    """The folder of the test node, or skip (fail under ``HUB_REQUIRE_SERVICES=1``)."""
    value = os.environ.get(DIR_VARIABLE, "")
    if not value:
        reason = f"access-control tests need {DIR_VARIABLE} (deploy/dev/rabbitmq.sh start DIR)"
        if os.environ.get("HUB_REQUIRE_SERVICES") == "1":
            pytest.fail(f"HUB_REQUIRE_SERVICES=1 but {reason}")
        pytest.skip(reason)
    return Path(value)


script = functools.partial(dev_script, "rabbitmq.sh")


@dataclass(frozen=True)
class AclNode:
    """A vhost holding the generated definitions, and how to log in as each user."""

    base: URL
    vhost: str
    prefix: str
    passwords: dict[str, str]

    def url(self, party: str, password: str | None = None) -> str:
        """The AMQP URL of ``party``'s broker user."""
        user = f"{self.prefix}{party}"
        secret = self.passwords.get(user, "") if password is None else password
        return str(self.base.with_user(user).with_password(secret).with_path(f"/{self.vhost}"))

    def user(self, party: str) -> str:
        """The broker user name of ``party``."""
        return f"{self.prefix}{party}"


@pytest.fixture(scope="module")
def acl(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AclNode]:
    """The definitions for :data:`AGENCIES` in a fresh vhost, deleted afterwards."""
    folder = rabbitmq_dir()
    run = uuid.uuid4().hex[:10]
    prefix, vhost = f"t{run}-", f"acl-{run}"
    users = [f"{prefix}{party}" for party in (HUB_USER, *AGENCIES)]
    passwords = {user: secrets.token_hex(16) for user in users if user != f"{prefix}{LOCKED}"}
    document = broker_definitions(AGENCIES, vhost=vhost, user_prefix=prefix, passwords=passwords)
    file = tmp_path_factory.mktemp("acl") / "definitions.json"
    file.write_text(json.dumps(document), encoding="utf-8")
    script("import", folder, file)
    try:
        yield AclNode(URL(script("url", folder)), vhost, prefix, passwords)
    finally:
        script("ctl", folder, "delete_vhost", vhost)
        for user in users:
            script("ctl", folder, "delete_user", user)


async def _refused(url: str, operation: Callable[[AbstractChannel], Awaitable[Any]]) -> Exception:
    """Run ``operation`` on a fresh channel of ``url``; return what the broker raised."""
    async with await aio_pika.connect(url, timeout=5) as connection:
        channel = await connection.channel()
        try:
            async with asyncio.timeout(5):
                await operation(channel)
        except (ChannelAccessRefused, ChannelPreconditionFailed) as error:
            return error
    pytest.fail("the broker allowed it")


async def _ignore(message: AbstractIncomingMessage) -> None:
    del message


def _message(user_id: str | None) -> aio_pika.Message:
    return aio_pika.Message(SAMPLE_BODY, user_id=user_id, message_id=str(uuid.uuid4()))


async def _publish(channel: AbstractChannel, exchange: str, key: str, user_id: str | None) -> None:
    target = await channel.get_exchange(exchange, ensure=False)
    await target.publish(_message(user_id), key)


rabbitmq = pytest.mark.rabbitmq


@rabbitmq
async def test_an_agency_publishes_to_ingress_as_itself_and_the_hub_receives_it(
    acl: AclNode,
) -> None:
    """Police's user publishes to hub.ingress with its own user_id; the hub reads it there."""
    async with AmqpBroker(acl.url("police")) as police, AmqpBroker(acl.url(HUB_USER)) as hub:
        await police.publish(ingress_message(NAMES, "police", user_id=acl.user("police")))
        async with hub.consume(NAMES.ingress_queue, 1) as consumer:
            delivery = await next_delivery(consumer)
            await delivery.ack()
    assert delivery.user_id == acl.user("police")
    assert delivery.routing_key == "police"


@rabbitmq
async def test_an_agency_consumes_its_own_inbox(acl: AclNode) -> None:
    """A delivery the hub publishes to police reaches police's user through its inbox."""
    async with AmqpBroker(acl.url(HUB_USER)) as hub, AmqpBroker(acl.url("police")) as police:
        message_id = str(uuid.uuid4())
        await hub.publish(OutgoingMessage(NAMES.deliveries, "police", SAMPLE_BODY, message_id))
        async with police.consume(NAMES.inbox("police"), 1) as consumer:
            delivery = await next_delivery(consumer)
            await delivery.ack()
    assert delivery.message_id == message_id


@rabbitmq
async def test_an_agency_cannot_consume_another_agencys_inbox(acl: AclNode) -> None:
    """Police's user consuming health's inbox is ACCESS_REFUSED."""

    async def consume(channel: AbstractChannel) -> None:
        queue = await channel.get_queue(NAMES.inbox("health"), ensure=False)
        await queue.consume(_ignore)

    assert isinstance(await _refused(acl.url("police"), consume), ChannelAccessRefused)


@rabbitmq
async def test_an_agency_cannot_get_from_another_agencys_inbox(acl: AclNode) -> None:
    """Police's user taking one message (basic.get) from health's inbox is ACCESS_REFUSED."""

    async def get(channel: AbstractChannel) -> None:
        queue = await channel.get_queue(NAMES.inbox("health"), ensure=False)
        await queue.get(fail=False)

    assert isinstance(await _refused(acl.url("police"), get), ChannelAccessRefused)


@rabbitmq
@pytest.mark.parametrize(
    ("exchange", "key"),
    [
        (NAMES.deliveries, "health"),  # the hub's route into an inbox
        (NAMES.deliveries, "police"),  # not even into its own
        ("", NAMES.inbox("health")),  # the default exchange, straight into a queue
        (NAMES.quarantine, ""),
    ],
)
async def test_an_agency_cannot_publish_into_any_inbox(
    acl: AclNode, exchange: str, key: str
) -> None:
    """Police's user may write to hub.ingress only: any other exchange is ACCESS_REFUSED."""

    async def publish(channel: AbstractChannel) -> None:
        if exchange:
            await _publish(channel, exchange, key, acl.user("police"))
        else:
            await channel.default_exchange.publish(_message(acl.user("police")), key)

    assert isinstance(await _refused(acl.url("police"), publish), ChannelAccessRefused)


@rabbitmq
@pytest.mark.parametrize(
    "operation",
    ["declare_queue", "declare_exchange", "delete_inbox", "delete_exchange", "bind", "purge"],
)
async def test_an_agency_cannot_declare_delete_or_bind(acl: AclNode, operation: str) -> None:
    """Police's user has no configure right, and no write right on queues: each is refused."""
    own = f"agency.{acl.prefix}.mine"
    steps: dict[str, Callable[[AbstractChannel], Awaitable[Any]]] = {
        "declare_queue": lambda c: c.declare_queue(own, durable=True),
        "declare_exchange": lambda c: c.declare_exchange(own, durable=True),
        "delete_inbox": lambda c: c.queue_delete(NAMES.inbox("police")),
        "delete_exchange": lambda c: c.exchange_delete(NAMES.ingress),
        "bind": lambda c: _bind(c, NAMES.inbox("police"), NAMES.ingress, "health"),
        "purge": lambda c: _purge(c, NAMES.inbox("health")),
    }
    assert isinstance(await _refused(acl.url("police"), steps[operation]), ChannelAccessRefused)


async def _bind(channel: AbstractChannel, queue: str, exchange: str, key: str) -> None:
    await (await channel.get_queue(queue, ensure=False)).bind(exchange, key)


async def _purge(channel: AbstractChannel, queue: str) -> None:
    await (await channel.get_queue(queue, ensure=False)).purge()


@rabbitmq
async def test_an_agency_cannot_publish_under_another_agencys_name(acl: AclNode) -> None:
    """Police's user publishing with health's user_id is PRECONDITION_FAILED by the broker."""

    async def forge(channel: AbstractChannel) -> None:
        await _publish(channel, NAMES.ingress, "health", acl.user("health"))

    assert isinstance(await _refused(acl.url("police"), forge), ChannelPreconditionFailed)


@rabbitmq
async def test_the_hub_replays_to_ingress_as_itself_and_never_as_a_sender(
    acl: AclNode,
) -> None:
    """The hub's user publishes to hub.ingress as itself (a replay), never as an agency."""
    async with AmqpBroker(acl.url(HUB_USER)) as hub:
        await hub.publish(ingress_message(NAMES, "police", user_id=acl.user(HUB_USER)))
        async with hub.consume(NAMES.ingress_queue, 1) as consumer:
            replayed = await next_delivery(consumer)
            await replayed.ack()
    assert replayed.user_id == acl.user(HUB_USER)

    async def pose(channel: AbstractChannel) -> None:
        await _publish(channel, NAMES.ingress, "police", acl.user("police"))

    assert isinstance(await _refused(acl.url(HUB_USER), pose), ChannelPreconditionFailed)


@rabbitmq
async def test_the_hub_applies_its_topology_over_the_definitions(acl: AclNode) -> None:
    """The hub's user re-declares the imported topology unchanged: no argument conflict."""
    async with AmqpBroker(acl.url(HUB_USER)) as hub:
        await hub.apply(default_topology(AGENCIES))


@rabbitmq
async def test_a_wrong_password_and_an_unset_password_cannot_log_in(acl: AclNode) -> None:
    """Login fails with a wrong password, and for a user left with the empty hash."""
    guess = secrets.token_hex(16)
    for url in (acl.url("police", password=guess), acl.url(LOCKED, password=guess)):
        with pytest.raises(ProbableAuthenticationError):
            await aio_pika.connect(url, timeout=5)


async def test_a_message_without_user_id_is_refused_by_the_hub(
    tmp_path: Path, keyrings: dict[str, PartyKeyring], directory: KeyDirectory
) -> None:
    """RabbitMQ accepts a publish without user_id; the hub then refuses it sender.mismatch."""
    node = MemoryNode()
    async with AsyncExitStack() as stack:
        ctx = await embedded_hub(stack, tmp_path, keyrings["hub"], directory, node)
        event = sample_event("ReferralReceived").model_copy(update={"event_id": new_event_id()})
        body = issue_event(event, keyrings["police"], directory).encode()
        police = await stack.enter_async_context(MemoryBroker(node, user="police"))
        await police.publish(
            OutgoingMessage(ctx.names.ingress, "police", body, str(event.event_id), user_id=None)
        )
        async with ctx.broker.consume(ctx.names.ingress_queue, 1) as consumer:
            assert await process(ctx, await next_delivery(consumer)) == "sender.mismatch"
