"""Messages the broker dead-lettered, taken up again once the hub is healthy.

Ingress and every inbox dead-letter to ``hub.quarantine``, a quorum queue only the
workers read; the hub's own refusals are kept apart, in the stream
``hub.quarantine.log`` that operators look at (ADR 0020).

The quorum queue's delivery limit is there for poison messages, but an outage can
spend it too: a worker killed again and again while its ledger is down returns its
prefetch to the queue each time, and after the limit RabbitMQ dead-letters those
messages to the quarantine with no reason the hub gave, no ledger entry and no
notice, though their senders saw them confirmed. Nothing may reach the quarantine
that way and stay there.

So a worker sweeps the quarantine (:func:`sweep`, at start and every
:data:`SWEEP_SECONDS`), once it can write to its ledger, for messages dead-lettered
from ingress: a sender's event (no ``kind`` header) or an operator's replay
(``kind: replay``). Each is carried
through the pipeline exactly as if it had come from ingress: a valid event is
decided, recorded and delivered, a bad one refused with its code (recorded,
quarantined again with its reason, its sender told), and the dead-lettered copy is
removed either way. One that fails even so, or that has been taken from the
quarantine :data:`MAX_TRIES` times already (it may be what kills the worker), is
refused ``message.unprocessable``: recorded, quarantined with that reason, its sender
told. Several workers may sweep at once: the broker hands each message to one.

A delivery or a refusal notice its recipient rejected (an agency's SDK rejects one
that does not verify, and its inbox dead-letters it here) is recorded too, as a refusal coded
``delivery.rejected`` with the event and the recipient, and put back with that
reason. No notice goes out: the hub wrote the message, and the party that rejected
it is the one it was for.

A refusal found here was parked by a hub from before ADR 0020: the sweep moves it,
whole, to the quarantine's stream. Nothing else is dead-lettered here; should
anything be, it is refused ``message.unprocessable``, so nothing stays.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from typing import TYPE_CHECKING, Final

from hub.broker import PUBLISH_HEADERS, UUID_PATTERN, BrokerError, OutgoingMessage, inspector_of
from hub.errors import RefusalCode
from hub.ledger import LedgerError
from hub.logs import get_logger
from hub.pipeline import process
from hub.refusals import Refusal, refuse
from schemas.parties import PARTY_ID

if TYPE_CHECKING:
    from hub.broker import IncomingMessage
    from hub.context import HubContext

log = get_logger("hub.reconcile")
#: Seconds between two sweeps of the quarantine.
SWEEP_SECONDS: Final = 30.0
#: Most quarantined messages one sweep looks at, from the head. Refusals the hub
#: parked wait there until an operator replays them, and a dead-lettered message
#: arrives behind them: a sweep must see past them (the console browses as far).
BATCH: Final = 1000
#: Takings from the quarantine (any browse counts one) after which a dead-lettered
#: message is refused rather than carried through the pipeline again.
MAX_TRIES: Final = 10
UNPROCESSABLE: Final = RefusalCode.MESSAGE_UNPROCESSABLE
#: What the sweep logs for a refusal it moved to the quarantine's stream.
MOVED: Final = "quarantine.moved"
REJECTED: Final = RefusalCode.DELIVERY_REJECTED


def dead_lettered_from_ingress(message: IncomingMessage, ingress_queue: str) -> bool:
    """Whether ``message`` was dead-lettered from ingress: a sender's event, or a replay."""
    headers = message.headers
    from_ingress = headers.get("x-first-death-queue") == ingress_queue
    return from_ingress and headers.get("kind") in {None, "replay"}


def rejected_delivery(message: IncomingMessage) -> bool:
    """Whether ``message`` is a delivery or notice of the hub's that an inbox dead-lettered."""
    headers = message.headers
    kind = headers.get("kind")
    return kind in {"delivery", "refusal-notice"} and "x-first-death-queue" in headers


async def _take_up(ctx: HubContext, message: IncomingMessage) -> str:
    """Carry one dead-lettered message through the pipeline, or refuse it as unprocessable.

    Raises:
        LedgerError: the ledger failed (the message goes back to the quarantine).
        BrokerError: the broker failed (likewise).
    """
    if message.delivery_count >= MAX_TRIES:
        await refuse(ctx, message, Refusal(UNPROCESSABLE))
        await message.ack()
        return UNPROCESSABLE
    try:
        return await process(ctx, message)
    except (LedgerError, BrokerError):
        raise
    except Exception as error:  # noqa: BLE001 - whatever it is, it gets a reason
        log.error("reconcile.failed", reason=type(error).__name__, message_id=message.message_id)  # noqa: TRY400
        await refuse(ctx, message, Refusal(UNPROCESSABLE))
        await message.ack()
        return UNPROCESSABLE


async def sweep(ctx: HubContext) -> int:
    """Take up every dead-lettered ingress message among the quarantine's first :data:`BATCH`.

    Returns:
        How many were taken up.

    Raises:
        LedgerError: the ledger cannot be written (nothing was taken).
        BrokerError: the broker failed; what was not settled stays in quarantine.
    """
    inspector = inspector_of(ctx.broker)
    if inspector is None:
        return 0
    await ctx.ledger.probe_writable()
    taken = 0
    async with inspector.browse(ctx.names.quarantine, BATCH) as seen:
        for message in seen:
            if dead_lettered_from_ingress(message, ctx.names.ingress_queue):
                outcome = await _take_up(ctx, message)
            elif rejected_delivery(message):
                outcome = await _record_rejection(ctx, message)
            elif message.headers.get("kind") == "refusal":
                outcome = await _move_to_log(ctx, message)
            else:  # nothing else is dead-lettered here; should it be, it leaves with a code
                await refuse(ctx, message, Refusal(UNPROCESSABLE))
                await message.ack()
                outcome = UNPROCESSABLE
            taken += 1
            log.info("reconcile.taken_up", message_id=message.message_id, code=outcome)
    return taken


async def _move_to_log(ctx: HubContext, message: IncomingMessage) -> str:
    """Move a refusal a hub before ADR 0020 parked in this queue to the quarantine's stream.

    It was recorded when it was refused; it moves whole, headers and id kept, and
    leaves this queue only once the stream has confirmed it.
    """
    await ctx.broker.publish(
        OutgoingMessage(
            exchange=ctx.names.quarantine_log,
            routing_key=message.routing_key,
            body=message.body,
            message_id=message.message_id or str(uuid.uuid4()),
            content_type="application/octet-stream",
            headers={k: v for k, v in message.headers.items() if k in PUBLISH_HEADERS},
        )
    )
    await message.ack()
    return MOVED


async def _record_rejection(ctx: HubContext, message: IncomingMessage) -> str:
    """Record a delivery its recipient rejected, and quarantine it again with that reason."""
    event = message.headers.get("event-id")
    recipient = message.headers.get("recipient")
    if recipient is None and PARTY_ID.match(message.routing_key):
        recipient = message.routing_key  # a notice: routed by the party it was for
    refusal = Refusal(
        REJECTED,
        event_id=uuid.UUID(event) if isinstance(event, str) and UUID_PATTERN.match(event) else None,
        event_type=_text(message.headers.get("event-type")),
        recipient=_text(recipient),
    )
    await refuse(ctx, message, refusal)
    await message.ack()
    return REJECTED


def _text(value: object) -> str | None:
    return value if isinstance(value, str) else None


async def keep_sweeping(ctx: HubContext, stop: asyncio.Event, every: float = SWEEP_SECONDS) -> None:
    """Sweep now and every ``every`` seconds until ``stop`` is set; failures are waited out."""
    while not stop.is_set():
        try:
            await sweep(ctx)
        except (LedgerError, BrokerError) as error:
            log.warning("reconcile.waiting", code=error.code.value)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), every)
