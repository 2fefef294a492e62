"""Refusal notices: the hub tells a sender, signed and sealed, that an event was refused.

A notice names the reason code, the event id (when the envelope could be read that
far), the message id the sender gave the refused message, the SHA-256 of the
refused message's bytes, the decision id of the ledger entry that records the
refusal, and the time; never any content. So a sender can tell which message
failed even when nothing in it could be read. It is a JWT signed by the hub
(``typ: refusal-notice+jwt``) inside a JWE to the sender (``cty: JWT``), so only the
sender reads it and it can prove the hub sent it. The format is in docs/envelope.md.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Final

from hub.crypto.base import MAX_CLOCK_SKEW_SECONDS, NOTICE_CTY, NOTICE_TYP, EnvelopeError, ErrorCode
from hub.crypto.jwe import seal, unseal
from hub.crypto.sdjwt import read_jwt_header, sign_jwt, verify_jwt

if TYPE_CHECKING:
    from hub.crypto.keys import KeyDirectory, PartyKeyring

_CODE: Final = re.compile(r"^[a-z][a-z_]{0,31}(\.[a-z][a-z_]{0,31}){1,2}$")
#: A message id a notice repeats: printable id characters only, as the sender set it.
MESSAGE_ID: Final = re.compile(r"^[A-Za-z0-9._:@/+=-]{1,128}$")
_SHA256: Final = re.compile(r"^[0-9a-f]{64}$")


def notice_message_id(value: str | None) -> str | None:
    """The message id a notice may repeat: the sender's own, if it is id-shaped; else None."""
    return value if value is not None and MESSAGE_ID.match(value) else None


@dataclass(frozen=True)
class RefusalNotice:
    """What a sender learns about a refused event."""

    code: str
    decision_id: uuid.UUID
    event_id: uuid.UUID | None
    recipient: str
    issued_at: datetime
    #: The AMQP ``message_id`` the sender published the refused message with.
    message_id: str | None = None
    #: The hex SHA-256 of the refused message's body, as the hub received it.
    body_sha256: str | None = None

    def claims(self) -> dict[str, Any]:
        """The JWT claims of the notice."""
        return {
            "iss": "hub",
            "aud": self.recipient,
            "iat": int(self.issued_at.timestamp()),
            "code": self.code,
            "decision_id": str(self.decision_id),
            "event_id": str(self.event_id) if self.event_id else None,
            "message_id": notice_message_id(self.message_id),
            "body_sha256": self.body_sha256,
        }


def seal_notice(notice: RefusalNotice, keyring: PartyKeyring, directory: KeyDirectory) -> str:
    """Sign ``notice`` as the hub and seal it to its recipient.

    Raises:
        EnvelopeError: ``key.not_valid`` when the hub or the recipient lacks a key.
    """
    key = keyring.signing_key(notice.issued_at)
    claims = dict(notice.claims(), iss=keyring.party)
    token = sign_jwt({"typ": NOTICE_TYP, "kid": key.kid}, claims, key.key)
    recipient_key = directory.encryption_key(notice.recipient, notice.issued_at)
    return seal(token, recipient_key, cty=NOTICE_CTY)


def _parse(claims: dict[str, Any], me: str, at: datetime) -> RefusalNotice:
    try:
        notice = RefusalNotice(
            code=claims["code"],
            decision_id=uuid.UUID(claims["decision_id"]),
            event_id=uuid.UUID(claims["event_id"]) if claims["event_id"] else None,
            recipient=claims["aud"],
            issued_at=datetime.fromtimestamp(claims["iat"], tz=UTC),
            # Notices from before these claims lack them.
            message_id=claims.get("message_id"),
            body_sha256=claims.get("body_sha256"),
        )
    except (KeyError, TypeError, ValueError, OverflowError):
        raise EnvelopeError(ErrorCode.MALFORMED, "notice claims incomplete") from None
    if notice.message_id is not None and (
        not isinstance(notice.message_id, str) or not MESSAGE_ID.match(notice.message_id)
    ):
        raise EnvelopeError(ErrorCode.MALFORMED, "notice message_id is not an id")
    if notice.body_sha256 is not None and (
        not isinstance(notice.body_sha256, str) or not _SHA256.match(notice.body_sha256)
    ):
        raise EnvelopeError(ErrorCode.MALFORMED, "notice body_sha256 is not a SHA-256")
    if not isinstance(notice.code, str) or not _CODE.match(notice.code):
        raise EnvelopeError(ErrorCode.MALFORMED, "notice code is not a reason code")
    if notice.recipient != me:
        raise EnvelopeError(ErrorCode.BINDING, "notice is addressed to another party")
    if notice.issued_at.timestamp() > at.timestamp() + MAX_CLOCK_SKEW_SECONDS:
        raise EnvelopeError(ErrorCode.CLOCK_SKEW, "notice iat lies in the future")
    return notice


def open_notice(
    envelope: str,
    keyring: PartyKeyring,
    directory: KeyDirectory,
    *,
    hub: str = "hub",
    now: datetime | None = None,
) -> RefusalNotice:
    """Open and verify a refusal notice as its recipient.

    Raises:
        EnvelopeError: with the code of the first check that fails.
    """
    at = now or datetime.now(UTC)
    _, token = unseal(envelope, keyring, at, cty=NOTICE_CTY)
    header = read_jwt_header(token)
    if header.get("typ") != NOTICE_TYP or not isinstance(header.get("kid"), str):
        raise EnvelopeError(ErrorCode.MALFORMED, "notice lacks typ or kid")
    key = directory.verification_key(header["kid"], at)
    if key.party != hub:
        raise EnvelopeError(ErrorCode.SIGNATURE, "notice is not signed by the hub")
    claims = verify_jwt(token, key.key)
    if claims.get("iss") != hub:
        raise EnvelopeError(ErrorCode.SIGNATURE, "notice iss is not the hub")
    return _parse(claims, keyring.party, at)
