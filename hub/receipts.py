"""Signed receipts: what each recipient verified and kept, and later erased, in the hub's ledger.

After an agency's adapter has verified a delivery and committed its record of it,
it signs a delivery receipt (``delivery-receipt+jwt``): the receipt's id, and for
each delivery it covers the decision id, the SHA-256 of the message body it
received and the retention end the delivery's obligations set (``until``), which
the recipient thereby acknowledges. One receipt covers many deliveries (up to
256), so receipts do not double the message count. It is sealed to the hub and
published on ingress (AMQP ``kind: delivery-receipt``) as the agency's own broker
user. When a delivery's retention ends, the adapter erases what it kept of it and
signs an erasure receipt (``erasure-receipt+jwt``, AMQP ``kind:
erasure-receipt``) of the same shape (ADR 0030).

The hub opens it, checks that the broker user who sent it is its signer, that
every decision it names is a delivery the hub made to that signer, and on a
delivery receipt that each ``until`` is the retention end the hub set (from the
recorded grants and the agreements it holds), then records a ``receipt`` entry
(outcome ``receipted`` or ``erased``) holding the items and the signed JWS itself,
so the agency's signature can be checked by anyone with its public key. The
entry's decision id derives from the signer and the receipt id: a receipt that
comes twice is recorded once, and another receipt under a used id is refused
``event.replayed``. A receipt that fails a check is refused like any ingress
message (:mod:`hub.refusals`).
"""

from __future__ import annotations

import uuid
from datetime import UTC, date
from typing import TYPE_CHECKING, Any, Final

from hub.crypto import open_receipt
from hub.errors import RefusalCode
from hub.ledger import EntryDraft, ErrorCode, LedgerError, ReceiptRecord, ReceivedItem
from hub.logs import get_logger
from hub.policy import Decided, Granted, delivery_obligations, retention_end
from hub.refusals import Refusal, opened_signed

if TYPE_CHECKING:
    from hub.broker import IncomingMessage
    from hub.context import HubContext
    from hub.crypto import Receipt
    from hub.ledger import LedgerEntry
    from hub.policy import Policy

log = get_logger("hub.receipts")
#: The AMQP ``kind`` of a delivery receipt.
RECEIPT_KIND: Final = "delivery-receipt"
#: The AMQP ``kind`` of an erasure receipt.
ERASURE_KIND: Final = "erasure-receipt"
#: Namespace of receipt decision ids (a fixed random UUID of this project).
RECEIPT_NAMESPACE: Final = uuid.UUID("0f8c2d4e-91b7-4c3a-8e5d-6a2b7c9d1e43")


def decided(entry: LedgerEntry) -> Decided:
    """A recorded disclosure, as far as its obligations go."""
    grants = [
        Granted(g.agreement_id, g.agreement_version, g.clause, g.purpose) for g in entry.grants
    ]
    return Decided(
        entry.decision_id,
        entry.provider or "",
        entry.recipient or "",
        grants,
        entry.recorded_at.astimezone(UTC).date(),
    )


def obligations_of(policy: Policy, entry: LedgerEntry) -> dict[str, Any]:
    """The ODRL obligations a disclosure's delivery carries, from its recorded grants."""
    return delivery_obligations(policy, decided(entry))


def until_of(policy: Policy, entry: LedgerEntry) -> date | None:
    """The day a disclosure's retention ends, from its recorded grants; None when unknown."""
    ends = retention_end(policy, decided(entry))
    return None if ends is None else ends[0]


def _opened(ctx: HubContext, message: IncomingMessage, *, erasure: bool) -> Receipt:
    """The receipt, opened and its signer checked against the broker user.

    Raises:
        Refusal: with the code of the first check that fails.
    """
    return opened_signed(
        ctx,
        message,
        lambda text: open_receipt(
            text, ctx.keyring, ctx.directory, now=ctx.clock(), erasure=erasure
        ),
    )


async def _check_delivered(ctx: HubContext, receipt: Receipt) -> None:
    """Every decision the receipt names is a delivery the hub made to its signer.

    On a delivery receipt, each item's ``until`` is also the retention end the
    delivery's obligations set, where the hub still holds the agreement that set
    it (one withdrawn since is not second-guessed).

    Raises:
        Refusal: ``receipt.not_delivered`` naming the first that is not a delivery,
            ``receipt.retention_mismatch`` for the first retention end that differs.
    """
    try:
        entries = await ctx.ledger.decisions([item.decision_id for item in receipt.items])
    except LedgerError as error:
        if error.code in {ErrorCode.UNAVAILABLE, ErrorCode.CLOSED}:
            raise  # waited out by the worker, as for any message
        entries = {}  # a row that does not hold: no delivery to sign for
    for item in receipt.items:
        entry = entries.get(item.decision_id)
        if (
            entry is None
            or entry.kind != "disclosure"
            or entry.outcome != "disclosed"
            or entry.recipient != receipt.sender
        ):
            raise Refusal(RefusalCode.RECEIPT_NOT_DELIVERED, sender=receipt.sender)
        if receipt.erasure:
            continue
        until = until_of(ctx.policy, entry)
        if until is not None and item.until != until:
            raise Refusal(RefusalCode.RECEIPT_RETENTION_MISMATCH, sender=receipt.sender)


async def record_receipt(
    ctx: HubContext, message: IncomingMessage, *, erasure: bool = False
) -> LedgerEntry:
    """Record the receipt ``message`` carries (steps as in the module docstring).

    An erasure receipt with ``erasure``, a delivery receipt without.

    Raises:
        Refusal: the receipt fails a check; the caller refuses and acks it.
    """
    receipt = _opened(ctx, message, erasure=erasure)
    await _check_delivered(ctx, receipt)
    record = ReceiptRecord(
        receipt_id=receipt.receipt_id,
        signed_at=receipt.signed_at,
        items=tuple(
            ReceivedItem(decision_id=i.decision_id, digest=i.digest, until=i.until)
            for i in receipt.items
        ),
        signed=receipt.token,
    )
    draft = EntryDraft(
        kind="receipt",
        decision_id=uuid.uuid5(RECEIPT_NAMESPACE, f"{receipt.sender}|{receipt.receipt_id}"),
        recorded_at=ctx.clock(),
        recipient=receipt.sender,
        policy_hash=ctx.policy.hash,
        outcome="erased" if erasure else "receipted",
        receipt=record,
    )
    with ctx.metrics.ledger_append_seconds.time():
        [entry] = await ctx.ledger.append([draft])
    if entry.receipt != record:  # the same receipt id, recorded before for other deliveries
        raise Refusal(RefusalCode.EVENT_REPLAYED, sender=receipt.sender)
    log.info(
        "erasure.recorded" if erasure else "receipt.recorded",
        sender=receipt.sender,
        count=len(record.items),
        decision_id=str(entry.decision_id),
    )
    return entry


async def record_erasure(ctx: HubContext, message: IncomingMessage) -> LedgerEntry:
    """Record the erasure receipt ``message`` carries (:func:`record_receipt`)."""
    return await record_receipt(ctx, message, erasure=True)
