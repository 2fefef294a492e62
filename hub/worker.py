"""The consume loop of a hub worker, which stops cleanly (`hub run` starts it: `hub.app`).

Several workers may consume ``hub.ingress.q`` at once when they share a PostgreSQL
ledger. Each handles up to ``prefetch`` messages concurrently (the ledger's group
commit batches their entries). A message is acked only by the pipeline, after its
ledger entries are committed and every delivery confirmed.

Two kinds of failure are told apart, because the quorum queue counts every return
of a message towards its delivery limit:

- a *transient* one (the ledger or the broker unreachable, a confirm that did not
  come) says nothing about the message. The worker keeps the message unacked and
  tries it again after a growing pause (capped, with jitter), as long as it takes:
  no delivery without a record, and no delivery attempt burnt. With every slot
  held by a waiting message the worker takes no new ones: it pauses by itself and
  resumes when the ledger or broker is back. If the broker connection dropped
  meanwhile, the broker redelivers the message and settling the stale copy fails
  harmlessly (the pipeline is idempotent by decision id).
- any other failure may be the message's fault. It goes back to the queue, and a
  message that fails on every attempt is refused as ``message.unprocessable`` on
  its last allowed delivery (recorded, quarantined, noticed) rather than silently
  dead-lettered; if even that fails, the quorum queue's delivery limit
  dead-letters it to quarantine.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Final

from hub.broker import BrokerError, BrokerErrorCode
from hub.crypto import KeyDirectory
from hub.errors import RefusalCode
from hub.ledger import ErrorCode, LedgerError
from hub.logs import get_logger
from hub.pipeline import process
from hub.policy import PolicyError, load_policy
from hub.reconcile import keep_sweeping
from hub.refusals import Refusal, refuse

if TYPE_CHECKING:
    from collections.abc import Callable

    from hub.broker import IncomingMessage
    from hub.context import HubContext
    from hub.settings import HubSettings

log = get_logger("hub.worker")
#: Failures that say nothing about the message: the ledger or the broker is unreachable,
#: a confirm did not come in time, the broker refused to store for now (a resource alarm).
TRANSIENT: Final = frozenset(
    {
        ErrorCode.UNAVAILABLE.value,
        ErrorCode.HEAD_MISMATCH.value,
        BrokerErrorCode.UNAVAILABLE.value,
        BrokerErrorCode.UNCONFIRMED.value,
        BrokerErrorCode.NACKED.value,
    }
)


@dataclass(frozen=True)
class WorkerLimits:
    """How a worker consumes, and how it waits out a transient failure.

    Attributes:
        prefetch: messages in flight at once.
        delivery_limit: deliveries of one message before it is refused.
        retry_first: seconds before the first retry of a transient failure.
        retry_most: the longest pause between two retries.
        shutdown_grace: seconds a stopping worker waits for messages in flight
            before it cancels them; a cancelled message was never acked, so the
            broker delivers it again and the pipeline's idempotence absorbs it.
    """

    prefetch: int
    delivery_limit: int
    retry_first: float = 0.5
    retry_most: float = 10.0
    shutdown_grace: float = 20.0

    def pause(self, attempt: int) -> float:
        """Seconds to wait before retry number ``attempt`` (from 1): doubling, capped, jittered."""
        base = min(self.retry_most, self.retry_first * 2.0 ** min(attempt - 1, 30))
        # Jitter keeps several workers from hammering a recovering database in step.
        return base * random.uniform(0.8, 1.0)  # noqa: S311 - timing jitter, not a secret


async def handle(
    ctx: HubContext,
    message: IncomingMessage,
    limits: WorkerLimits,
    stop: asyncio.Event | None = None,
) -> None:
    """Process one message; wait out transient failures; return or refuse it on any other.

    While the ledger or the broker is unreachable the message stays unacked and is
    tried again after :meth:`WorkerLimits.pause`, until it goes through or ``stop``
    is set (then it goes back to the queue).
    """
    ctx.metrics.events_in.inc()
    with ctx.metrics.pipeline_seconds.time():
        await _attempt(ctx, message, limits, stop)


async def _attempt(
    ctx: HubContext,
    message: IncomingMessage,
    limits: WorkerLimits,
    stop: asyncio.Event | None,
) -> None:
    attempt = 0
    while True:
        try:
            await process(ctx, message)
        except (LedgerError, BrokerError) as error:
            code = error.code.value
            if code not in TRANSIENT:
                await _failed(ctx, message, limits, code)
                return
            attempt += 1
            log.warning(
                "worker.retrying", code=code, message_id=message.message_id, attempt=attempt
            )
            if await _stopping(stop, limits.pause(attempt)):
                await _give_back(message)
                return
        except Exception as error:  # noqa: BLE001 - any other failure must not lose the message
            # No traceback in the log: it may quote content. The type name is enough to triage.
            log.error("worker.crashed", reason=type(error).__name__, message_id=message.message_id)  # noqa: TRY400
            await _count_failure(ctx, message, limits)
            return
        else:
            if attempt:
                log.info("worker.recovered", message_id=message.message_id, attempt=attempt)
            return


async def _stopping(stop: asyncio.Event | None, seconds: float) -> bool:
    """Wait ``seconds``; return early, True, when ``stop`` is set."""
    if stop is None:
        await asyncio.sleep(seconds)
        return False
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), seconds)
    return stop.is_set()


async def _failed(
    ctx: HubContext, message: IncomingMessage, limits: WorkerLimits, code: str
) -> None:
    """A ledger or broker failure that waiting will not cure."""
    if code == BrokerErrorCode.STALE_DELIVERY.value:
        # The channel it came on is gone: the broker has requeued it already.
        log.info("worker.stale_delivery", code=code, message_id=message.message_id)
    elif code == ErrorCode.CLOSED.value:  # shutting down
        await _give_back(message)
    else:
        log.error("worker.failed", code=code, message_id=message.message_id)
        await _count_failure(ctx, message, limits)


async def _count_failure(ctx: HubContext, message: IncomingMessage, limits: WorkerLimits) -> None:
    if message.delivery_count + 1 >= limits.delivery_limit:
        await _refuse_unprocessable(ctx, message)
    else:
        await _give_back(message)


async def _give_back(message: IncomingMessage) -> None:
    with contextlib.suppress(BrokerError):  # a lost channel returns the message anyway
        await message.reject(requeue=True)


async def _refuse_unprocessable(ctx: HubContext, message: IncomingMessage) -> None:
    try:
        await refuse(ctx, message, Refusal(RefusalCode.MESSAGE_UNPROCESSABLE))
        await message.ack()
    except Exception as error:  # noqa: BLE001 - the broker's delivery limit is the last resort
        log.error("worker.refusal_failed", reason=type(error).__name__)  # noqa: TRY400
        await _give_back(message)


@dataclass
class Reloader:
    """Policy and keys loaded anew when asked (``hub run`` asks on SIGHUP).

    Revoking an agency or rotating keys edits the agreements, the parties or the key
    folder; a reload makes the edit count from the next message on, without a
    restart. Messages already in flight finish under the context they began with.
    A reload that fails (an agreement that does not validate, a key file that does
    not parse) is logged and the worker carries on with what it had.

    Attributes:
        load: builds the new context from the current one.
        requested: set to ask for a reload before the next message.
    """

    load: Callable[[HubContext], HubContext]
    requested: asyncio.Event = field(default_factory=asyncio.Event)

    def refresh(self, ctx: HubContext) -> HubContext:
        """The context for the next message: reloaded if asked, else ``ctx``."""
        if not self.requested.is_set():
            return ctx
        self.requested.clear()
        try:
            fresh = self.load(ctx)
        except PolicyError as error:
            log.error("worker.reload_failed", code=error.code)  # noqa: TRY400 - no traceback
            return ctx
        except (OSError, ValueError) as error:  # KeyFileError is a ValueError
            reason = type(error).__name__
            log.error("worker.reload_failed", code="keys.unreadable", reason=reason)  # noqa: TRY400
            return ctx
        log.info("worker.reloaded", policy_hash=fresh.policy.hash[:16])
        return fresh


def reload_from(settings: HubSettings) -> Callable[[HubContext], HubContext]:
    """What a reload does: agreements, parties, rules and public keys from ``settings``."""

    def load(ctx: HubContext) -> HubContext:
        policy = load_policy(settings.agreements_dir, settings.parties_file, settings.rules_file)
        return replace(ctx, policy=policy, directory=KeyDirectory.load(settings.keys_dir))

    return load


async def serve(
    ctx: HubContext,
    limits: WorkerLimits,
    stop: asyncio.Event,
    reloader: Reloader | None = None,
) -> None:
    """Consume ingress until ``stop`` is set, with up to ``prefetch`` messages in flight.

    Beside it, messages the broker dead-lettered from ingress to the quarantine are
    taken up again whenever the ledger can be written (:mod:`hub.reconcile`).

    Once stopping, the worker takes no new message and gives those in flight
    ``limits.shutdown_grace`` seconds to finish, then cancels the rest: a call stuck
    on a connection that is going away must not keep the process from stopping.
    With a ``reloader``, each message is handled under the context it gives.
    """
    slots = asyncio.Semaphore(limits.prefetch)
    in_flight: set[asyncio.Task[None]] = set()
    sweeping = asyncio.create_task(keep_sweeping(ctx, stop), name="reconcile")
    async with ctx.broker.consume(ctx.names.ingress_queue, limits.prefetch) as consumer:
        stopping = asyncio.ensure_future(stop.wait())
        try:
            while not stop.is_set():
                await slots.acquire()
                arrival = asyncio.ensure_future(anext(consumer))
                done, _ = await asyncio.wait(
                    {arrival, stopping}, return_when=asyncio.FIRST_COMPLETED
                )
                if arrival not in done:
                    arrival.cancel()
                    slots.release()
                    break
                if reloader is not None:
                    ctx = reloader.refresh(ctx)
                task = asyncio.create_task(handle(ctx, arrival.result(), limits, stop))
                in_flight.add(task)
                task.add_done_callback(in_flight.discard)
                task.add_done_callback(lambda _: slots.release())
        finally:
            stopping.cancel()
            sweeping.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await sweeping
            await _finish(in_flight, limits.shutdown_grace)


async def _finish(tasks: set[asyncio.Task[None]], grace: float) -> None:
    """Let ``tasks`` finish within ``grace`` seconds, then cancel what is left."""
    if not tasks:
        return
    _, late = await asyncio.wait(set(tasks), timeout=grace)
    if late:
        log.warning("worker.cancelled_in_flight", count=len(late))
        for task in late:
            task.cancel()
        await asyncio.gather(*late, return_exceptions=True)
