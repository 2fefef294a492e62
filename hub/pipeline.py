"""One ingress message through the hub: open, verify, validate, dedupe, decide, record, disclose.

The order is the design (ARCHITECTURE sections 6 to 8):

1. size check, before any decryption;
2. open and verify the envelope (``hub.crypto``); the AMQP ``user_id``, checked by
   the broker, must be the signed issuer;
3. validate the event, group by group (``hub.events``);
4. dedupe by event id: a message seen before, or the same event content signed
   and salted anew, re-publishes its recorded deliveries and records nothing new;
   the same event id with other content is a replay. The ledger settles it under
   its write lock (:meth:`hub.ledger.service.Ledger.record_event`), so two such
   messages at once cannot both be disclosed;
5. decide (``hub.policy``), pure;
6. record every decision in the ledger, committed before anything is published;
7. present and seal to each recipient; publish with confirms;
8. only then ack. Refusals go through :mod:`hub.refusals` and are acked too.

Decision ids are derived from the event id, the hash of the issuer-signed JWT and
the recipient, so a redelivered message finds exactly the entries it made before.
Each entry also records a keyed digest of the event's content, which is the same
however the event was salted: that is what tells the same event from a replay.
"""

from __future__ import annotations

import asyncio
import hashlib
import uuid
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final

from hub.broker import OutgoingMessage
from hub.crypto import (
    DecisionHeader,
    EnvelopeError,
    Issuance,
    open_ingress,
    present,
    seal_record,
)
from hub.errors import HubError, RefusalCode
from hub.evaluation import VICTIM_VIEW
from hub.events import event_from_issuance, field_of
from hub.ledger import (
    EntryDraft,
    ErrorCode,
    EventClaim,
    GrantRecord,
    LedgerError,
    PersonInEvent,
    WithheldGroup,
    canonical,
)
from hub.logs import get_logger
from hub.policy import Disclosure, EvaluationFeed, NotEntitledError
from hub.receipts import ERASURE_KIND, RECEIPT_KIND, obligations_of, record_erasure, record_receipt
from hub.refusals import Refusal, refuse
from hub.releases import RELEASE_KIND, record_release
from schemas.base import PersonRole, persons_of
from schemas.errors import SchemaError

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

    from hub.broker import IncomingMessage
    from hub.context import HubContext
    from hub.ledger import Group, LedgerEntry
    from hub.policy import Decisions, Grant
    from schemas.base import CaseEvent, FieldGroup

log = get_logger("hub.pipeline")
#: Namespace of derived decision ids (a fixed random UUID of this project).
DECISION_NAMESPACE: Final = uuid.UUID("3f0c6b7e-2d4a-4e8e-9a51-6c0f1d2b8e73")
#: The outcome of an entry that records an evaluation record's disclosure (ADR 0022).
EVALUATION_RECORD: Final = "evaluation_record"


@dataclass(frozen=True)
class Accepted:
    """An event that passed every check before the decision.

    Attributes:
        issuance: the opened, verified envelope.
        event: the validated event.
        content_hash: SHA-256 of the issuer-signed JWT (salted: differs each time
            an event is signed), from which decision ids are derived.
        content_digest: the keyed digest of the event's content, the same however
            it was signed and salted (:meth:`Pseudonymizer.content`).
    """

    issuance: Issuance
    event: CaseEvent
    content_hash: str
    content_digest: str

    def same_content(self, entry: LedgerEntry) -> bool:
        """Whether a recorded entry about this event id came from this event's content.

        Format 2 entries carry the content digest. A format 1 entry has none; it
        is the same content only if it came from these very bytes (its decision
        id derives from them), as when a message from before the upgrade is
        redelivered.
        """
        if entry.content_digest is not None:
            return entry.content_digest == self.content_digest
        return entry.decision_id == decision_id(
            self.event.event_id, self.content_hash, entry.recipient
        )


def decision_id(event_id: uuid.UUID, content_hash: str, recipient: str | None) -> uuid.UUID:
    """The decision id for one recipient (or ``None``: nothing disclosed) of one event."""
    return uuid.uuid5(DECISION_NAMESPACE, f"{event_id}|{content_hash}|{recipient or '-'}")


def accept(ctx: HubContext, message: IncomingMessage) -> Accepted:
    """Steps 1 to 3: size, envelope, sender and schema.

    Raises:
        Refusal: with the reason code of the first failed check.
    """
    if len(message.body) > ctx.max_envelope_bytes:
        raise Refusal(RefusalCode.PAYLOAD_TOO_LARGE)
    try:
        issuance = open_ingress(
            message.body.decode("ascii"), ctx.keyring, ctx.directory, now=ctx.clock()
        )
    except UnicodeDecodeError:
        raise Refusal(RefusalCode.ENVELOPE_MALFORMED) from None
    except EnvelopeError as error:
        raise Refusal(error.code.value) from None
    claims = issuance.claims
    if message.user_id != claims.issuer and not ctx.trusts_signature_alone(message.user_id):
        raise Refusal(
            RefusalCode.SENDER_MISMATCH, event_id=claims.event_id, event_type=claims.event_type
        )
    try:
        event = event_from_issuance(issuance)
    except SchemaError as error:
        field = field_of(error, claims.event_type, claims.schema_version)
        raise Refusal(
            error.code, claims.event_id, claims.issuer, claims.event_type, field=field
        ) from None
    except EnvelopeError as error:
        raise Refusal(str(error.code), claims.event_id, claims.issuer, claims.event_type) from None
    content_hash = hashlib.sha256(issuance.issuer_jwt.encode("ascii")).hexdigest()
    digest = ctx.pseudonyms.content(canonical(event.model_dump(mode="json")))
    return Accepted(issuance, event, content_hash, digest)


def _letters(groups: frozenset[FieldGroup]) -> tuple[Group, ...]:
    return tuple(g.value for g in sorted(groups))


def _grants(disclosure: Disclosure) -> tuple[GrantRecord, ...]:
    """Every clause that granted something, with the groups it granted here."""
    return tuple(
        GrantRecord(
            agreement_id=g.agreement_id,
            agreement_version=g.agreement_version,
            clause=g.clause_id,
            purpose=g.purpose,
            lawful_basis=g.lawful_basis,
            groups=_letters(g.groups & disclosure.disclosed),
        )
        for g in disclosure.grants
    )


def _withheld(disclosure: Disclosure) -> tuple[WithheldGroup, ...]:
    """Each withheld group with its reason: a safety rule that overrode a grant, or none."""
    reasons = []
    for group in sorted(disclosure.withheld):
        rules = sorted(rule for rule, groups in disclosure.blocked_by.items() if group in groups)
        if rules:
            reasons.append(WithheldGroup(group=group.value, reason="safety_rule", rule=rules[0]))
        else:
            reasons.append(WithheldGroup(group=group.value, reason="not_granted"))
    return tuple(reasons)


def _common(
    ctx: HubContext, accepted: Accepted, persons_in: list[tuple[str, PersonRole]] | None = None
) -> dict[str, Any]:
    """The fields every entry about one event shares (``persons_in``: all the event's)."""
    event = accepted.event
    persons = tuple(
        PersonInEvent(pseudonym=ctx.pseudonyms.person(ref), role=role.value)
        for ref, role in (persons_of(event) if persons_in is None else persons_in)
    )
    return {
        "kind": "disclosure",
        "recorded_at": ctx.clock(),
        "event_id": event.event_id,
        "event_type": event.event_type,
        "case_pseudonym": ctx.pseudonyms.case(event.case_reference),
        "person_pseudonyms": tuple(p.pseudonym for p in persons),
        "persons": persons,
        "provider": event.author_agency,
        "policy_hash": ctx.policy.hash,
        "content_digest": accepted.content_digest,
    }


def _evaluated(event: CaseEvent) -> list[tuple[str, PersonRole]]:
    """The people whose data an event's evaluation record holds, pseudonymised.

    The person who stalks (the subject), or for a victim's own view the victims
    whose view it is: the ledger names them (by its pseudonyms) so their subject
    access reports can say so, though the record itself names nobody.
    """
    subject = getattr(event, "subject_ref", None)
    if event.event_type == VICTIM_VIEW:
        return [(ref, role) for ref, role in persons_of(event) if role is PersonRole.VICTIM]
    return [
        (r, role) for r, role in persons_of(event) if r == subject and role is PersonRole.SUBJECT
    ]


def _justified_by(grant: Grant) -> dict[str, Any]:
    """An entry's top-level justification: the clause that names its agreement (s.62)."""
    return {
        "agreement_id": grant.agreement_id,
        "agreement_version": grant.agreement_version,
        "clause": grant.reference,
        "purpose": grant.purpose,
        "lawful_basis": grant.lawful_basis,
    }


def _evaluation_drafts(
    ctx: HubContext, accepted: Accepted, feeds: tuple[EvaluationFeed, ...]
) -> list[EntryDraft]:
    """One entry per evaluator fed: the clause, and no group (the record is derived)."""
    event = accepted.event
    common = _common(ctx, accepted, _evaluated(event))
    return [
        EntryDraft(
            **common,
            **_justified_by(feed.grant),
            decision_id=decision_id(event.event_id, accepted.content_hash, feed.recipient),
            recipient=feed.recipient,
            outcome=EVALUATION_RECORD,
        )
        for feed in feeds
    ]


def _drafts(ctx: HubContext, accepted: Accepted, decisions: Decisions) -> list[EntryDraft]:
    event, common = accepted.event, _common(ctx, accepted)
    disclosures = decisions.disclosures()
    evaluations = _evaluation_drafts(ctx, accepted, decisions.evaluations)
    if not disclosures and not evaluations:
        did = decision_id(event.event_id, accepted.content_hash, None)
        return [EntryDraft(**common, decision_id=did, outcome="nothing_disclosed")]
    return evaluations + [
        EntryDraft(
            **common,
            **_justified_by(d.primary),
            decision_id=decision_id(event.event_id, accepted.content_hash, d.recipient),
            recipient=d.recipient,
            groups_disclosed=_letters(d.disclosed),
            groups_withheld=_letters(d.withheld),
            grants=_grants(d),
            withheld=_withheld(d),
            outcome="disclosed",
        )
        for d in disclosures
    ]


def _evaluation_message(ctx: HubContext, accepted: Accepted, entry: LedgerEntry) -> OutgoingMessage:
    """The evaluation record an entry recorded, signed by the hub and sealed to the evaluator.

    Derived again from the event on a redelivery: the same record (the linkage key
    and the event make it), signed anew.

    Raises:
        EvaluationUnfedError: the hub recorded the disclosure but feeds no evaluator now.
    """
    if ctx.evaluation is None or entry.recipient is None:
        raise EvaluationUnfedError
    record = ctx.evaluation.record(accepted.event).model_dump(mode="json")
    sealed = seal_record(
        record, entry.decision_id, entry.recipient, ctx.clock(), ctx.keyring, ctx.directory
    )
    return OutgoingMessage(
        exchange=ctx.names.deliveries,
        routing_key=entry.recipient,
        body=sealed.encode("ascii"),
        message_id=str(entry.decision_id),
        # No event id, no sender: the evaluator learns neither (ADR 0022).
        headers={
            "kind": "evaluation-record",
            "decision-id": str(entry.decision_id),
            "recipient": entry.recipient,
            "agreement-id": entry.agreement_id or "",
            "agreement-version": entry.agreement_version or 1,
        },
    )


class EvaluationUnfedError(HubError):
    """A recorded evaluation disclosure, and a hub that no longer feeds the evaluation.

    The settings lost ``linkage_key_file`` (or its area) after the entry was
    recorded: the record cannot be derived, so the message waits (unacked) for the
    settings to be put back rather than being acked undelivered.
    """

    def __init__(self) -> None:
        """Name the setting to restore."""
        super().__init__(
            "evaluation.unfed",
            "an evaluation record was recorded but the hub has no linkage_key_file now",
        )


async def _publish_deliveries(
    ctx: HubContext, accepted: Accepted, entries: list[LedgerEntry]
) -> None:
    claims = accepted.issuance.claims
    publishes = []
    for entry in entries:
        if entry.outcome == EVALUATION_RECORD:
            publishes.append(ctx.broker.publish(_evaluation_message(ctx, accepted, entry)))
            continue
        if entry.outcome != "disclosed" or entry.recipient is None:
            continue
        header = DecisionHeader(
            entry.decision_id,
            entry.agreement_id or "",
            entry.agreement_version or 1,
            entry.recipient,
            obligations_of(ctx.policy, entry),
        )
        groups: set[FieldGroup] = {
            g for g in accepted.issuance.groups if g.value in entry.groups_disclosed
        }
        sealed = present(
            accepted.issuance, groups, header, ctx.keyring, ctx.directory, now=ctx.clock()
        )
        message = OutgoingMessage(
            exchange=ctx.names.deliveries,
            routing_key=entry.recipient,
            body=sealed.encode("ascii"),
            message_id=str(entry.decision_id),
            headers={
                "kind": "delivery",
                "event-id": str(claims.event_id),
                "event-type": claims.event_type,
                "decision-id": str(entry.decision_id),
                "sender": claims.issuer,
                "recipient": entry.recipient,
                "agreement-id": header.agreement_id,
                "agreement-version": header.agreement_version,
            },
        )
        publishes.append(ctx.broker.publish(message))
    await asyncio.gather(*publishes)
    for entry in entries:
        if entry.outcome in {"disclosed", EVALUATION_RECORD} and entry.recipient is not None:
            ctx.metrics.deliveries.labels(recipient=entry.recipient).inc()


async def disclose(
    ctx: HubContext, accepted: Accepted, message_id: str | None = None
) -> tuple[list[LedgerEntry], bool]:
    """Steps 4 to 7 for an accepted event (``message_id`` only labels ``ctx.trace`` calls).

    Returns:
        The ledger entries the deliveries rest on, and whether they were recorded
        before (a redelivery).

    Raises:
        Refusal: ``event.replayed`` or ``sender.not_entitled``.
    """
    event = accepted.event
    replayed = Refusal(
        RefusalCode.EVENT_REPLAYED, event.event_id, event.author_agency, event.event_type
    )
    # A first look outside the write lock spares a redelivery the decision; the
    # ledger's own check under the lock (record_event) is the one that holds.
    recorded = [
        e for e in await ctx.ledger.entries_for_event(event.event_id) if e.kind == "disclosure"
    ]
    seen = bool(recorded)
    if seen and not all(accepted.same_content(e) for e in recorded):
        raise replayed
    if not seen:
        try:
            decisions = ctx.decisions.decide(event, event.author_agency, ctx.clock())
        except NotEntitledError as error:
            raise Refusal(
                error.code, event.event_id, event.author_agency, event.event_type
            ) from None
        drafts = _drafts(ctx, accepted, decisions)
        claim = EventClaim(event.event_id, accepted.same_content)
        try:
            with ctx.metrics.ledger_append_seconds.time():
                recorded, seen = await ctx.ledger.record_event(drafts, claim)
        except LedgerError as error:
            if error.code is ErrorCode.EVENT_CONFLICT:
                raise replayed from None
            raise
        if not seen:
            for entry in recorded:
                ctx.metrics.decisions.labels(outcome=entry.outcome).inc()
    if ctx.trace is not None:
        ctx.trace("recorded", message_id)
    await _publish_deliveries(ctx, accepted, recorded)
    if ctx.trace is not None:
        ctx.trace("delivered", message_id)
    return recorded, seen


#: Ingress messages that are no events, by AMQP ``kind``: how each is recorded, and
#: the outcome :func:`process` returns once it is.
_RECORDED: Final[
    dict[str, tuple[Callable[[HubContext, IncomingMessage], Awaitable[object]], str]]
] = {
    RELEASE_KIND: (record_release, "released"),  # an evaluator's release (hub.releases)
    RECEIPT_KIND: (record_receipt, "receipted"),  # a recipient's receipt (hub.receipts)
    ERASURE_KIND: (record_erasure, "erased"),  # a recipient's erasure receipt (hub.receipts)
}


async def _record(ctx: HubContext, message: IncomingMessage, kind: str) -> str:
    """Record a release notice or a receipt, or refuse it; then ack."""
    record, outcome = _RECORDED[kind]
    try:
        await record(ctx, message)
    except Refusal as refusal:
        await refuse(ctx, message, refusal)
        await message.ack()
        return refusal.code
    await message.ack()
    return outcome


async def process(ctx: HubContext, message: IncomingMessage) -> str:
    """Carry one ingress message through every step and ack it.

    Returns:
        ``disclosed``, ``redelivered``, ``released`` (an evaluator's release
        notice, recorded), ``receipted`` (a recipient's receipt, recorded),
        ``erased`` (a recipient's erasure receipt, recorded) or the refusal code.

    Raises:
        Exception: anything unexpected propagates with the message unacked. A
            ledger or broker that is down (``ledger.unavailable``,
            ``broker.unavailable``...) is waited out by :func:`hub.worker.handle`,
            which tries the message again; nothing was published without its
            entry, and a second try finds the entries already recorded.
    """
    trace = ctx.trace
    if trace is not None:
        trace("taken", message.message_id)
    kind = message.headers.get("kind")
    if isinstance(kind, str) and kind in _RECORDED:
        return await _record(ctx, message, kind)
    try:
        accepted = accept(ctx, message)
        if trace is not None:
            trace("accepted", message.message_id)
        entries, seen = await disclose(ctx, accepted, message.message_id)
    except Refusal as refusal:
        await refuse(ctx, message, refusal)
        await message.ack()
        return refusal.code
    await message.ack()
    if trace is not None:
        trace("acked", message.message_id)
    log.info(
        "event.redelivered" if seen else "event.disclosed",
        event_id=str(accepted.event.event_id),
        event_type=accepted.event.event_type,
        sender=accepted.event.author_agency,
        recipients=[e.recipient for e in entries if e.recipient],
    )
    return "redelivered" if seen else "disclosed"
