"""`hub run`: a hub worker, from settings to a consume loop that stops cleanly.

Several workers may consume ``hub.ingress.q`` at once when they share a PostgreSQL
ledger. Each handles up to ``prefetch`` messages concurrently (the ledger's group
commit batches their entries). A message is acked only by the pipeline, after its
ledger entries are committed and every delivery confirmed; on any failure it goes
back to the queue. A message that fails on every attempt is refused as
``message.unprocessable`` on its last allowed delivery (recorded, quarantined,
noticed) rather than silently dead-lettered; if even that fails, the quorum
queue's delivery limit dead-letters it to quarantine.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
from contextlib import AsyncExitStack
from dataclasses import dataclass
from typing import TYPE_CHECKING

from hub.broker.amqp import AmqpBroker
from hub.broker.base import BrokerError
from hub.broker.memory import MemoryBroker
from hub.broker.topology import TopologyNames, default_topology
from hub.crypto.keys import KeyDirectory, load_keyring
from hub.ledger.base import LedgerError
from hub.ledger.checkpoints import CheckpointPolicy
from hub.ledger.pseudonyms import Pseudonymizer, load_ledger_key
from hub.ledger.service import LedgerConfig, open_ledger
from hub.logs import get_logger
from hub.pipeline import HubContext, process
from hub.policy.load import load_policy
from hub.refusals import Refusal, refuse

if TYPE_CHECKING:
    from hub.broker.base import Broker, IncomingMessage
    from hub.settings import HubSettings

log = get_logger("hub.worker")
#: Pause after an infrastructure failure (ledger or broker down) before the next message.
BACKOFF_SECONDS = 1.0


@dataclass(frozen=True)
class WorkerLimits:
    """How a worker consumes."""

    prefetch: int
    delivery_limit: int


def make_broker(url: str) -> Broker:
    """A broker for ``url``: ``memory://`` (single process only) or ``amqp(s)://``."""
    return MemoryBroker() if url.startswith("memory://") else AmqpBroker(url)


async def build_context(settings: HubSettings, stack: AsyncExitStack) -> HubContext:
    """Load keys, policy and ledger key, open ledger and broker, apply the topology."""
    keyring = load_keyring(settings.private_keys)
    directory = KeyDirectory.load(settings.keys_dir)
    policy = load_policy(settings.agreements_dir, settings.parties_file, settings.rules_file)
    pseudonyms = Pseudonymizer(load_ledger_key(settings.ledger_key_file))
    checkpoints = CheckpointPolicy(
        settings.checkpoint_every_entries, settings.checkpoint_every_seconds
    )
    ledger = await open_ledger(
        settings.ledger_url.get_secret_value(), keyring=keyring, config=LedgerConfig(checkpoints)
    )
    stack.push_async_callback(ledger.close)
    broker_url = settings.broker_url.get_secret_value()
    broker = make_broker(broker_url)
    await broker.connect()
    stack.push_async_callback(broker.close)
    names = TopologyNames()
    parties = [p.id for p in policy.rules.parties]
    await broker.apply(default_topology(parties, settings.delivery_limit, names=names))
    return HubContext(
        keyring, directory, policy, ledger, broker, pseudonyms, names,
        settings.max_envelope_bytes, require_user_id=not broker_url.startswith("memory://"),
    )  # fmt: skip


async def handle(ctx: HubContext, message: IncomingMessage, limits: WorkerLimits) -> None:
    """Process one message; on failure, return it to the queue (or refuse it on its last try)."""
    try:
        await process(ctx, message)
    except (LedgerError, BrokerError) as error:
        log.warning("worker.infrastructure", code=error.code.value, message_id=message.message_id)
        await _give_back(message)
        await asyncio.sleep(BACKOFF_SECONDS)
    except Exception as error:  # noqa: BLE001 - any other failure must not lose the message
        # No traceback in the log: it may quote content. The type name is enough to triage.
        log.error("worker.crashed", reason=type(error).__name__, message_id=message.message_id)  # noqa: TRY400
        if message.delivery_count + 1 >= limits.delivery_limit:
            await _refuse_unprocessable(ctx, message)
        else:
            await _give_back(message)


async def _give_back(message: IncomingMessage) -> None:
    with contextlib.suppress(BrokerError):  # a lost channel returns the message anyway
        await message.reject(requeue=True)


async def _refuse_unprocessable(ctx: HubContext, message: IncomingMessage) -> None:
    try:
        await refuse(ctx, message, Refusal("message.unprocessable"))
        await message.ack()
    except Exception as error:  # noqa: BLE001 - the broker's delivery limit is the last resort
        log.error("worker.refusal_failed", reason=type(error).__name__)  # noqa: TRY400
        await _give_back(message)


async def serve(ctx: HubContext, limits: WorkerLimits, stop: asyncio.Event) -> None:
    """Consume ingress until ``stop`` is set, with up to ``prefetch`` messages in flight."""
    slots = asyncio.Semaphore(limits.prefetch)
    async with (
        ctx.broker.consume(ctx.names.ingress_queue, limits.prefetch) as consumer,
        asyncio.TaskGroup() as tasks,
    ):
        stopping = asyncio.ensure_future(stop.wait())
        while not stop.is_set():
            await slots.acquire()
            arrival = asyncio.ensure_future(anext(consumer))
            done, _ = await asyncio.wait({arrival, stopping}, return_when=asyncio.FIRST_COMPLETED)
            if arrival not in done:
                arrival.cancel()
                slots.release()
                break
            message = arrival.result()
            task = tasks.create_task(handle(ctx, message, limits))
            task.add_done_callback(lambda _: slots.release())
        stopping.cancel()


async def run(settings: HubSettings) -> int:
    """Run a worker until SIGINT or SIGTERM; return the exit status."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    async with AsyncExitStack() as stack:
        ctx = await build_context(settings, stack)
        log.info("worker.started", party=ctx.keyring.party, policy_hash=ctx.policy.hash[:16])
        await serve(ctx, WorkerLimits(settings.prefetch, settings.delivery_limit), stop)
    log.info("worker.stopped")
    return 0
