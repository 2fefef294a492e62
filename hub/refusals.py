"""Refusals (ARCHITECTURE section 8): record, quarantine whole, tell the sender.

A refused message is recorded in the ledger first (P4), then published whole to
the quarantine exchange with its reason code in the headers (it can be replayed
later, say once a key is registered), keeping the ``message_id`` its sender gave
it, then the sender gets a signed notice naming the code, the event id when known,
that message id and the SHA-256 of the message's bytes, so the sender can tell
which message failed even when nothing in it could be read; for an event that
fails its schema, the notice also says where (a JSON Pointer of the schema's own
names, :func:`hub.events.field_of`) and the error type, never the value. The
sender is the broker-authenticated AMQP user (never an unverified claim inside the
message), so a forged message cannot make the hub send notices to a party that did
not send it.
"""

from __future__ import annotations

import hashlib
import re
import uuid
from typing import TYPE_CHECKING, Any, Final, Protocol, TypeVar

from hub.broker import UUID_PATTERN, OutgoingMessage
from hub.crypto import EnvelopeError, RefusalNotice, seal_notice
from hub.errors import HubError, RefusalCode
from hub.ledger import EntryDraft
from hub.logs import get_logger
from schemas.parties import PARTY_ID

if TYPE_CHECKING:
    from collections.abc import Callable

    from hub.broker import IncomingMessage
    from hub.context import HubContext
    from hub.events import FieldAt

log = get_logger("hub.refusals")
S = TypeVar("S", bound="Signed")
REFUSAL_NAMESPACE: Final = uuid.UUID("8b7f5c2e-9d1a-4c36-b0e4-2f6a9c3d5e81")


class Refusal(HubError):  # noqa: N818 - a refusal is an outcome, not a fault
    """An ingress message the hub will not deliver, with its stable reason code.

    Raises:
        ValueError: ``code`` is not a :class:`~hub.errors.RefusalCode`.
    """

    def __init__(  # noqa: PLR0913 - each is one id or code the refusal is recorded with
        self,
        code: RefusalCode | str,
        event_id: uuid.UUID | None = None,
        sender: str | None = None,
        event_type: str | None = None,
        recipient: str | None = None,
        *,
        field: FieldAt | None = None,
    ) -> None:
        """Make a refusal; every argument is an id or a code, never content.

        ``recipient`` names the party a rejected delivery was for (``delivery.rejected``);
        ``field`` where an event fails its schema (``schema.invalid``).
        """
        super().__init__(RefusalCode(code), "message refused")
        self.code: RefusalCode = RefusalCode(code)
        self.event_id = event_id
        self.sender = sender
        self.event_type = event_type
        self.recipient = recipient if recipient and PARTY_ID.match(recipient) else None
        self.field = field


class Signed(Protocol):
    """What a signed notice or receipt says of its signer, once opened."""

    @property
    def sender(self) -> str:
        """The party whose key signed it."""
        ...


def opened_signed(ctx: HubContext, message: IncomingMessage, open_: Callable[[str], S]) -> S:
    """A signed notice or receipt ``message`` carries, opened by ``open_``, its signer checked.

    The body must fit the envelope limit and be ASCII; the signer must be the broker
    user who published it (or a user trusted to relay signatures: ADR 0010).

    Raises:
        Refusal: ``payload.too_large``, ``envelope.malformed``, the envelope's own
            code, or ``sender.mismatch``.
    """
    if len(message.body) > ctx.max_envelope_bytes:
        raise Refusal(RefusalCode.PAYLOAD_TOO_LARGE)
    try:
        signed = open_(message.body.decode("ascii"))
    except UnicodeDecodeError:
        raise Refusal(RefusalCode.ENVELOPE_MALFORMED) from None
    except EnvelopeError as error:
        raise Refusal(error.code.value) from None
    if message.user_id != signed.sender and not ctx.trusts_signature_alone(message.user_id):
        raise Refusal(RefusalCode.SENDER_MISMATCH, sender=signed.sender)
    return signed


_EVENT_TYPE: Final = re.compile(r"^[A-Z][A-Za-z0-9]{0,63}$")


def _event_type(refusal: Refusal) -> str | None:
    """A signed but uncatalogued event type may be any text: keep it only if id-shaped."""
    value = refusal.event_type
    return value if value is not None and _EVENT_TYPE.match(value) else None


def _kept_id(message_id: str | None) -> str | None:
    """The sender's message id, if the broker's allow-list lets the hub publish it."""
    return message_id if message_id is not None and UUID_PATTERN.match(message_id) else None


def refusal_id(body: bytes, user: str | None = None) -> uuid.UUID:
    """The decision id of a refusal: the same message refused twice is one entry.

    The broker user is part of it: the same bad bytes (an empty body, say) from two
    senders are two refusals, each recorded and noticed as its own.
    """
    return uuid.uuid5(REFUSAL_NAMESPACE, f"{hashlib.sha256(body).hexdigest()}|{user or '-'}")


def _notify_party(ctx: HubContext, message: IncomingMessage, refusal: Refusal) -> str | None:
    # The broker-checked user, unless it is the one user every party shares (hub demo).
    broker_user = None if ctx.trusts_signature_alone(message.user_id) else message.user_id
    party = broker_user or refusal.sender
    if (
        party is None
        or party == ctx.keyring.party
        or not ctx.directory.valid_keys(party, "enc", ctx.clock())
    ):
        return None
    return party


def _broker_user(ctx: HubContext, message: IncomingMessage) -> str | None:
    """The broker-checked user of ``message``, when it is an agency's own.

    A message that could not be read names no signed sender; its broker user still
    tells whose it was, which is what a later replay routes it by.
    """
    user = message.user_id
    if user is None or ctx.trusts_signature_alone(user) or not PARTY_ID.match(user):
        return None
    return user


def _headers(
    refusal: Refusal, decision: uuid.UUID, kind: str, sender: str | None
) -> dict[str, Any]:
    headers: dict[str, Any] = {"kind": kind, "reason": refusal.code, "decision-id": str(decision)}
    if refusal.event_id is not None:
        headers["event-id"] = str(refusal.event_id)
    if _event_type(refusal) is not None:
        headers["event-type"] = _event_type(refusal)
    if sender is not None:
        headers["sender"] = sender
    return headers


async def _notify(
    ctx: HubContext, party: str, refusal: Refusal, decision: uuid.UUID, message: IncomingMessage
) -> None:
    notice = RefusalNotice(
        refusal.code,
        decision,
        refusal.event_id,
        party,
        ctx.clock(),
        message_id=message.message_id,
        body_sha256=hashlib.sha256(message.body).hexdigest(),
        field=refusal.field.pointer if refusal.field else None,
        field_error=refusal.field.error if refusal.field else None,
    )
    try:
        sealed = seal_notice(notice, ctx.keyring, ctx.directory)
    except EnvelopeError as error:
        log.warning("notice.not_sent", decision_id=str(decision), code=error.code.value)
        return
    await ctx.broker.publish(
        OutgoingMessage(
            exchange=ctx.names.deliveries,
            routing_key=party,
            body=sealed.encode("ascii"),
            message_id=str(uuid.uuid5(decision, "notice")),
            headers=_headers(refusal, decision, "refusal-notice", party),
        )
    )


async def refuse(ctx: HubContext, message: IncomingMessage, refusal: Refusal) -> None:
    """Record, quarantine and notify one refusal; the caller acks after this returns."""
    decision = refusal_id(message.body, message.user_id)
    party = _notify_party(ctx, message, refusal)
    sender = party or refusal.sender
    draft = EntryDraft(
        kind="refusal",
        decision_id=decision,
        recorded_at=ctx.clock(),
        event_id=refusal.event_id,
        event_type=_event_type(refusal),
        provider=sender,
        recipient=refusal.recipient,
        policy_hash=ctx.policy.hash,
        outcome="refused",
        reason_code=refusal.code,
    )
    with ctx.metrics.ledger_append_seconds.time():
        await ctx.ledger.append([draft])
    ctx.metrics.refusals.labels(code=refusal.code).inc()
    await ctx.broker.publish(
        OutgoingMessage(
            exchange=ctx.names.quarantine_log,
            routing_key="",
            body=message.body,
            # The sender's own id (a UUID, as the SDK's event ids are), so the copy
            # still names its message; the decision id travels in decision-id.
            message_id=_kept_id(message.message_id) or str(decision),
            content_type="application/octet-stream",
            headers=_headers(refusal, decision, "refusal", sender or _broker_user(ctx, message)),
        )
    )
    if party is not None:
        await _notify(ctx, party, refusal, decision, message)
    log.warning(
        "event.refused",
        decision_id=str(decision),
        code=refusal.code,
        sender=sender,
        event_id=str(refusal.event_id) if refusal.event_id else None,
    )
