"""The relay under test, in a process of its own: the hub worker, raw aio-pika, or FastStream.

``python -m bench.hub_vs_raw.child CONFIG`` reads its settings from the JSON file
CONFIG (mode 0600: it holds the broker URL, which never goes on a command line),
starts consuming the ingress queue, and prints one JSON line per command read
on standard input:

- at start-up, ``{"ready": true, ...usage}`` once it consumes;
- ``usage``: its CPU seconds (user + system, every thread) and peak RSS so far,
  and its longest garbage-collection pause since the last ``usage``;
- ``stop`` (or end of input): it stops consuming, lets messages in flight
  finish, prints its usage a last time and exits.

So the parent reads the relay's own CPU time and memory from ``getrusage``,
apart from the load generator and the receivers.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import json
import os
import sys
from contextlib import AsyncExitStack
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

import aio_pika

from bench.hub_vs_raw.own_usage import say, usage

if TYPE_CHECKING:
    from aio_pika.abc import AbstractIncomingMessage

CONFIRM_SECONDS: Final = 30.0
STOP_GRACE: Final = 20.0


async def _commands(stop: asyncio.Event) -> None:
    """Answer ``usage`` until ``stop`` or end of input, then set ``stop``."""
    while True:
        line = await asyncio.to_thread(sys.stdin.readline)
        command = line.strip()
        if command == "usage":
            say(usage())
        elif command == "stop" or not line:
            stop.set()
            return


async def run_raw(config: dict[str, Any], stop: asyncio.Event, stack: AsyncExitStack) -> None:
    """Relay with aio-pika alone: consume, publish to each inbox with confirms, then ack."""
    connection = await aio_pika.connect_robust(config["url"], timeout=10)
    stack.push_async_callback(connection.close)
    consumer = await connection.channel(publisher_confirms=False)
    await consumer.set_qos(prefetch_count=config["prefetch"])
    publisher = await connection.channel(publisher_confirms=True, on_return_raises=True)
    exchange = await publisher.get_exchange(config["deliveries"], ensure=False)
    queue = await consumer.get_queue(config["ingress_queue"], ensure=False)
    targets: list[str] = config["recipients"]
    in_flight: set[asyncio.Task[Any]] = set()

    async def relay(message: AbstractIncomingMessage) -> None:
        me = asyncio.current_task()
        if me is not None:  # aiormq runs each delivery's callback as a task
            in_flight.add(me)
            me.add_done_callback(in_flight.discard)
        out = aio_pika.Message(
            message.body,
            headers=message.headers,
            delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
            message_id=message.message_id,
        )
        await asyncio.gather(
            *(
                exchange.publish(out, target, mandatory=True, timeout=CONFIRM_SECONDS)
                for target in targets
            )
        )
        await message.ack()

    tag = await queue.consume(relay)
    say({"ready": True, **usage()})
    await stop.wait()
    await queue.cancel(tag)
    if in_flight:
        await asyncio.wait(set(in_flight), timeout=STOP_GRACE)


async def run_faststream(
    config: dict[str, Any], stop: asyncio.Event, stack: AsyncExitStack
) -> None:
    """The same relay as a FastStream subscriber: what a team would otherwise write.

    FastStream is an optional dependency (the ``bench`` extra), so it is imported
    here, at run time; its handler is called once per delivery, up to the channel's
    prefetch at once, and acked once the handler returns (``AckPolicy.ACK``).
    """
    faststream: Any = importlib.import_module("faststream")
    rabbit: Any = importlib.import_module("faststream.rabbit")
    targets: list[str] = config["recipients"]
    broker = rabbit.RabbitBroker(
        config["url"],
        default_channel=rabbit.Channel(prefetch_count=config["prefetch"]),
        graceful_timeout=STOP_GRACE,
        logger=None,
    )
    queue = rabbit.RabbitQueue(
        config["ingress_queue"], queue_type=rabbit.QueueType.QUORUM, declare=False
    )
    exchange = rabbit.RabbitExchange(config["deliveries"], declare=False)

    async def relay(body: bytes, message: Any = faststream.Context()) -> None:  # noqa: B008 - FastStream's injection idiom
        await asyncio.gather(
            *(
                broker.publish(
                    body,
                    exchange=exchange,
                    routing_key=target,
                    headers=message.headers,
                    message_id=message.message_id,
                    persist=True,
                    timeout=CONFIRM_SECONDS,
                )
                for target in targets
            )
        )

    broker.subscriber(queue, ack_policy=faststream.AckPolicy.ACK, no_reply=True)(relay)
    await broker.start()
    stack.push_async_callback(broker.stop)
    say({"ready": True, **usage()})
    await stop.wait()


async def _hub(config: dict[str, Any], stop: asyncio.Event, stack: AsyncExitStack) -> None:
    # Imported here: a raw relay's process must not carry the hub's modules.
    module: Any = importlib.import_module("bench.hub_vs_raw.child_hub")
    await module.run(config, stop, stack)


RELAYS: Final = {"hub": _hub, "raw": run_raw, "faststream": run_faststream}


async def main(config: dict[str, Any]) -> None:
    """Run the relay ``config`` names until told to stop; print its usage last."""
    stop = asyncio.Event()
    commands = asyncio.create_task(_commands(stop))
    async with AsyncExitStack() as stack:
        await RELAYS[config["kind"]](config, stop, stack)
    say({"stopped": True, **usage()})
    commands.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await commands


if __name__ == "__main__":
    asyncio.run(main(json.loads(Path(sys.argv[1]).read_text())))
    # The stdin reader thread may still block on readline: leave without waiting for it.
    os._exit(0)
