"""Release notices: what the evaluator let out of its store, recorded in the hub's ledger.

The evaluator publishes each release's notice to every area hub whose records it
used (AMQP ``kind: evaluation-release``, on the hub's ingress, as its own broker
user). The hub opens it, checks that a party of kind ``evaluator`` that this hub
feeds signed it, and that the broker user who sent it is that party, then records
a ``release`` entry (ADR 0024): what was asked, the rule or privacy mechanism and
the SHA-256 of the output. The entry's decision id derives from the release id and
the evaluator, so a notice that comes twice is recorded once (and one that reuses a
release id for other figures is refused, ``event.replayed``). A notice that fails
any check is refused like any ingress message (:mod:`hub.refusals`): recorded,
quarantined, and the sender told.
"""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING, Final

from pydantic import ValidationError

from hub.crypto import open_release
from hub.errors import RefusalCode
from hub.ledger import EntryDraft, ReleaseRecord
from hub.logs import get_logger
from hub.policy import PartyKind
from hub.refusals import Refusal, opened_signed

if TYPE_CHECKING:
    from hub.broker import IncomingMessage
    from hub.context import HubContext
    from hub.ledger import LedgerEntry

log = get_logger("hub.releases")
#: The AMQP ``kind`` of a release notice.
RELEASE_KIND: Final = "evaluation-release"
#: Namespace of release decision ids (a fixed random UUID of this project).
RELEASE_NAMESPACE: Final = uuid.UUID("5d0b9e3a-7c21-4f6e-8a4d-3e9f1c7b2a60")


def _opened(ctx: HubContext, message: IncomingMessage) -> tuple[str, ReleaseRecord]:
    """The evaluator that signed the notice and what it released.

    Raises:
        Refusal: with the code of the first check that fails.
    """
    notice = opened_signed(
        ctx,
        message,
        lambda text: open_release(text, ctx.keyring, ctx.directory, now=ctx.clock()),
    )
    party = ctx.policy.rules.party(notice.sender)
    if ctx.evaluation is None or party is None or party.kind is not PartyKind.EVALUATOR:
        raise Refusal(RefusalCode.SENDER_NOT_ENTITLED, sender=notice.sender)
    try:
        return notice.sender, ReleaseRecord.model_validate(notice.release)
    except ValidationError:
        raise Refusal(RefusalCode.SCHEMA_INVALID, sender=notice.sender) from None


async def record_release(ctx: HubContext, message: IncomingMessage) -> LedgerEntry:
    """Record the release ``message`` announces (steps as in the module docstring).

    Raises:
        Refusal: the notice fails a check; the caller refuses and acks it.
    """
    sender, release = _opened(ctx, message)
    draft = EntryDraft(
        kind="release",
        decision_id=uuid.uuid5(RELEASE_NAMESPACE, f"{sender}|{release.release_id}"),
        recorded_at=ctx.clock(),
        provider=sender,
        policy_hash=ctx.policy.hash,
        outcome="released",
        release=release,
    )
    with ctx.metrics.ledger_append_seconds.time():
        [entry] = await ctx.ledger.append([draft])
    if entry.release != release:  # the same release id, announced before as another release
        raise Refusal(RefusalCode.EVENT_REPLAYED, sender=sender)
    log.info(
        "release.recorded",
        release_id=str(release.release_id),
        sender=sender,
        tables=len(release.tables),
        decision_id=str(entry.decision_id),
    )
    return entry
