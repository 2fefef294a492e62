"""Both ends of the traffic: the hub's adapters, or bare aio-pika for the raw relays.

Each side opens one connection per party (the sender and each recipient), like
separate agencies would, and runs every receiver as a task until closed.
"""

from __future__ import annotations

import asyncio
import contextlib
from contextlib import AsyncExitStack
from typing import TYPE_CHECKING, Final, Protocol

import aio_pika

from adapters.client import AgencyClient
from bench.hub_vs_raw.fixture import SENDER, fresh
from bench.hub_vs_raw.traffic import EVENT_HEADER, SENT_HEADER
from hub.broker.amqp import AmqpBroker

if TYPE_CHECKING:
    from pathlib import Path

    from aio_pika.abc import AbstractExchange, AbstractIncomingMessage

    from bench.hub_vs_raw.fixture import Keys
    from bench.hub_vs_raw.traffic import Tracker
    from hub.broker.topology import TopologyNames
    from schemas.base import CaseEvent

CONFIRM_SECONDS: Final = 30.0


class Agencies(Protocol):
    """A sender and K receivers; :meth:`send` publishes event number ``index``."""

    keys: list[str]

    async def send(self, index: int) -> None:
        """Publish event ``index`` and note its publish time in the tracker."""
        ...

    async def aclose(self) -> None:
        """Stop the receivers and close every connection."""
        ...


async def _cancel(tasks: list[asyncio.Task[None]]) -> None:
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)


class HubAgencies:
    """Adapters on the SDK: the sender issues and seals, each recipient opens and verifies."""

    def __init__(self, tracker: Tracker, events: list[CaseEvent]) -> None:
        """Hold the tracker and the events to send (fresh ids, built before the clock)."""
        self.tracker = tracker
        self.events = events
        self.keys = [str(e.event_id) for e in events]
        self._stack = AsyncExitStack()
        self._tasks: list[asyncio.Task[None]] = []
        self._sender: AgencyClient | None = None

    @classmethod
    async def open(  # noqa: PLR0913, PLR0917 - the run's parts, each one
        cls,
        url: str,
        keys: Keys,
        names: TopologyNames,
        recipients: tuple[str, ...],
        tracker: Tracker,
        template: CaseEvent,
        count: int,
        *,
        folder: Path,
        prefetch: int,
        receipts: bool = True,
    ) -> HubAgencies:
        """Connect the sender and every recipient's adapter; start the receivers."""
        side = cls(tracker, [fresh(template) for _ in range(count)])
        try:
            for party in (SENDER, *recipients):
                broker = AmqpBroker(url, confirm_timeout=CONFIRM_SECONDS)
                client = AgencyClient(
                    keys.rings[party], keys.directory, broker, folder / f"{party}.state.db",
                    names=names, prefetch=prefetch, receipts=receipts,
                )  # fmt: skip
                await side._stack.enter_async_context(client)
                if party == SENDER:
                    side._sender = client
                else:
                    side._tasks.append(asyncio.create_task(side._receive(client)))
        except BaseException:
            await side.aclose()
            raise
        return side

    async def _receive(self, client: AgencyClient) -> None:
        async for received in client.deliveries():
            self.tracker.arrived(str(received.event_id))

    async def send(self, index: int) -> None:
        """Hand event ``index`` to the sender's adapter (issue, seal, outbox, publish)."""
        if self._sender is None:
            raise RuntimeError("not open")
        event = self.events[index]
        self.tracker.sent(self.keys[index])
        await self._sender.publish(event)

    async def aclose(self) -> None:
        """Stop receiving and close every adapter."""
        await _cancel(self._tasks)
        await self._stack.aclose()


class RawAgencies:
    """aio-pika alone: opaque bodies of the envelope's size, a publish time in a header."""

    def __init__(self, tracker: Tracker, body: bytes, count: int, prefix: str) -> None:
        """Hold the tracker and the body every event carries."""
        self.tracker = tracker
        self.body = body
        self.keys = [f"{prefix}{i}" for i in range(count)]
        self._stack = AsyncExitStack()
        self._exchange: AbstractExchange | None = None

    @classmethod
    async def open(  # noqa: PLR0913, PLR0917 - the run's parts, each one
        cls,
        url: str,
        names: TopologyNames,
        recipients: tuple[str, ...],
        tracker: Tracker,
        body: bytes,
        count: int,
        *,
        prefetch: int,
    ) -> RawAgencies:
        """Connect the sender and every receiver; start consuming each inbox."""
        side = cls(tracker, body, count, names.prefix)
        try:
            sender = await side._connect(url)
            channel = await sender.channel(publisher_confirms=True, on_return_raises=True)
            side._exchange = await channel.get_exchange(names.ingress, ensure=False)
            for recipient in recipients:
                connection = await side._connect(url)
                inbox = await connection.channel(publisher_confirms=False)
                await inbox.set_qos(prefetch_count=prefetch)
                queue = await inbox.get_queue(names.inbox(recipient), ensure=False)
                await queue.consume(side._receive)
        except BaseException:
            await side.aclose()
            raise
        return side

    async def _connect(self, url: str) -> aio_pika.abc.AbstractConnection:
        connection = await aio_pika.connect(url, timeout=10)
        self._stack.push_async_callback(connection.close)
        return connection

    async def _receive(self, message: AbstractIncomingMessage) -> None:
        key, sent = message.headers.get(EVENT_HEADER), message.headers.get(SENT_HEADER)
        if isinstance(key, str) and isinstance(sent, int):
            self.tracker.arrived(key, sent)
        with contextlib.suppress(aio_pika.exceptions.AMQPError):
            await message.ack()

    async def send(self, index: int) -> None:
        """Publish event ``index`` with confirms, its publish time in a header."""
        if self._exchange is None:
            raise RuntimeError("not open")
        key = self.keys[index]
        sent = self.tracker.sent(key)
        message = aio_pika.Message(
            self.body,
            headers={EVENT_HEADER: key, SENT_HEADER: sent},
            delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
            message_id=key,
        )
        await self._exchange.publish(message, SENDER, mandatory=True, timeout=CONFIRM_SECONDS)

    async def aclose(self) -> None:
        """Close every connection (their consumers go with them)."""
        await self._stack.aclose()
