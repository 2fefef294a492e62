"""Signed receipts: what each recipient verified and kept, recorded in the hub's ledger.

After an agency's adapter has verified a delivery and committed its record of it,
it signs a receipt (``delivery-receipt+jwt``): the receipt's id, and for each
delivery it covers the decision id and the SHA-256 of the message body it
received. One receipt covers many deliveries (up to 256), so receipts do not
double the message count. It is sealed to the hub and published on ingress (AMQP
``kind: delivery-receipt``) as the agency's own broker user.

The hub opens it, checks that the broker user who sent it is its signer and that
every decision it names is a delivery the hub made to that signer, then records a
``receipt`` entry holding the items and the signed JWS itself, so the agency's
signature can be checked by anyone with its public key. The entry's decision id
derives from the signer and the receipt id: a receipt that comes twice is
recorded once, and another receipt under a used id is refused ``event.replayed``.
A receipt that fails a check is refused like any ingress message
(:mod:`hub.refusals`).
"""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING, Final

from hub.crypto import EnvelopeError, open_receipt
from hub.errors import RefusalCode
from hub.ledger import EntryDraft, ErrorCode, LedgerError, ReceiptRecord, ReceivedItem
from hub.logs import get_logger
from hub.refusals import Refusal

if TYPE_CHECKING:
    from hub.broker import IncomingMessage
    from hub.context import HubContext
    from hub.crypto import Receipt
    from hub.ledger import LedgerEntry

log = get_logger("hub.receipts")
#: The AMQP ``kind`` of a receipt.
RECEIPT_KIND: Final = "delivery-receipt"
#: Namespace of receipt decision ids (a fixed random UUID of this project).
RECEIPT_NAMESPACE: Final = uuid.UUID("0f8c2d4e-91b7-4c3a-8e5d-6a2b7c9d1e43")


def _opened(ctx: HubContext, message: IncomingMessage) -> Receipt:
    """The receipt, opened and its signer checked against the broker user.

    Raises:
        Refusal: with the code of the first check that fails.
    """
    if len(message.body) > ctx.max_envelope_bytes:
        raise Refusal(RefusalCode.PAYLOAD_TOO_LARGE)
    try:
        receipt = open_receipt(
            message.body.decode("ascii"), ctx.keyring, ctx.directory, now=ctx.clock()
        )
    except UnicodeDecodeError:
        raise Refusal(RefusalCode.ENVELOPE_MALFORMED) from None
    except EnvelopeError as error:
        raise Refusal(error.code.value) from None
    if message.user_id != receipt.sender and not ctx.trusts_signature_alone(message.user_id):
        raise Refusal(RefusalCode.SENDER_MISMATCH, sender=receipt.sender)
    return receipt


async def _check_delivered(ctx: HubContext, receipt: Receipt) -> None:
    """Every decision the receipt names is a delivery the hub made to its signer.

    Raises:
        Refusal: ``receipt.not_delivered`` naming the first that is not.
    """
    for decision_id, _ in receipt.items:
        try:
            entry = await ctx.ledger.decision(decision_id)
        except LedgerError as error:
            if error.code in {ErrorCode.UNAVAILABLE, ErrorCode.CLOSED}:
                raise  # waited out by the worker, as for any message
            entry = None
        if (
            entry is None
            or entry.kind != "disclosure"
            or entry.outcome != "disclosed"
            or entry.recipient != receipt.sender
        ):
            raise Refusal(RefusalCode.RECEIPT_NOT_DELIVERED, sender=receipt.sender)


async def record_receipt(ctx: HubContext, message: IncomingMessage) -> LedgerEntry:
    """Record the receipt ``message`` carries (steps as in the module docstring).

    Raises:
        Refusal: the receipt fails a check; the caller refuses and acks it.
    """
    receipt = _opened(ctx, message)
    await _check_delivered(ctx, receipt)
    record = ReceiptRecord(
        receipt_id=receipt.receipt_id,
        signed_at=receipt.signed_at,
        items=tuple(ReceivedItem(decision_id=d, digest=h) for d, h in receipt.items),
        signed=receipt.token,
    )
    draft = EntryDraft(
        kind="receipt",
        decision_id=uuid.uuid5(RECEIPT_NAMESPACE, f"{receipt.sender}|{receipt.receipt_id}"),
        recorded_at=ctx.clock(),
        recipient=receipt.sender,
        policy_hash=ctx.policy.hash,
        outcome="receipted",
        receipt=record,
    )
    with ctx.metrics.ledger_append_seconds.time():
        [entry] = await ctx.ledger.append([draft])
    if entry.receipt != record:  # the same receipt id, recorded before for other deliveries
        raise Refusal(RefusalCode.EVENT_REPLAYED, sender=receipt.sender)
    log.info(
        "receipt.recorded",
        sender=receipt.sender,
        count=len(record.items),
        decision_id=str(entry.decision_id),
    )
    return entry
