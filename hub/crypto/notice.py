"""Refusal notices: the hub tells a sender, signed and sealed, that an event was refused.

A notice names the reason code, the event id (when the envelope could be read that
far), the message id the sender gave the refused message, the SHA-256 of the
refused message's bytes, the decision id of the ledger entry that records the
refusal, and the time; for an event that fails its schema, also where (a JSON
Pointer made of the schema's own names) and the error type; never any content. So a
sender can tell which message failed even when nothing in it could be read. It is a
JWT signed by the hub (``typ: refusal-notice+jwt``) inside a JWE to the sender
(``cty: JWT``), so only the sender reads it and it can prove the hub sent it. The
format is in docs/envelope.md.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Final

from hub.crypto.base import MAX_CLOCK_SKEW_SECONDS, NOTICE_CTY, NOTICE_TYP, EnvelopeError, ErrorCode
from hub.crypto.jwe import seal, unseal
from hub.crypto.sdjwt import read_jwt, sign_jwt

if TYPE_CHECKING:
    from collections.abc import Mapping

    from hub.crypto.keys import KeyDirectory, PartyKeyring

_CODE: Final = re.compile(r"^[a-z][a-z_]{0,31}(\.[a-z][a-z_]{0,31}){1,2}$")
#: A message id a notice repeats: printable id characters only, as the sender set it.
MESSAGE_ID: Final = re.compile(r"^[A-Za-z0-9._:@/+=-]{1,128}$")
_SHA256: Final = re.compile(r"^[0-9a-f]{64}$")
#: Steps a notice's field pointer may have; the catalogue's deepest field is far shallower.
MAX_FIELD_DEPTH: Final = 16
#: A notice's ``field``: a JSON Pointer (RFC 6901) whose steps are snake_case names or
#: array indexes only, so it can hold the schema's names but no text a sender wrote;
#: ``""`` is the event as a whole.
FIELD_POINTER: Final = re.compile(
    rf"^(/([a-z_][a-z0-9_]{{0,63}}|0|[1-9][0-9]{{0,5}})){{0,{MAX_FIELD_DEPTH}}}$"
)
#: A notice's ``field_error``: a validation error type, e.g. ``time_in_future``.
FIELD_ERROR: Final = re.compile(r"^[a-z][a-z0-9_]{0,63}$")


def notice_message_id(value: str | None) -> str | None:
    """The message id a notice may repeat: the sender's own, if it is id-shaped; else None."""
    return value if value is not None and MESSAGE_ID.fullmatch(value) else None


def notice_field(field: str | None, error: str | None) -> tuple[str | None, str | None]:
    """The field pointer and error type a notice may carry: both well-formed, or neither."""
    if field is None or error is None or not FIELD_POINTER.fullmatch(field):
        return None, None
    return field, error if FIELD_ERROR.fullmatch(error) else None


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
    #: Where the event fails its schema: a JSON Pointer into the event (``/order/terms/0``).
    field: str | None = None
    #: How it fails there: the validation error type (``time_in_future``).
    field_error: str | None = None

    def claims(self) -> dict[str, Any]:
        """The JWT claims of the notice."""
        field, field_error = notice_field(self.field, self.field_error)
        return {
            "iss": "hub",
            "aud": self.recipient,
            "iat": int(self.issued_at.timestamp()),
            "code": self.code,
            "decision_id": str(self.decision_id),
            "event_id": str(self.event_id) if self.event_id else None,
            "message_id": notice_message_id(self.message_id),
            "body_sha256": self.body_sha256,
            "field": field,
            "field_error": field_error,
        }


def seal_signed(  # noqa: PLR0913, PLR0917 - what is signed, by whom, for whom, when
    typ: str,
    claims: Mapping[str, Any],
    keyring: PartyKeyring,
    recipient: str,
    at: datetime,
    directory: KeyDirectory,
) -> str:
    """Sign ``claims`` as ``keyring``'s party (its ``iss``), of ``typ``; seal to ``recipient``.

    The one shape of everything a party signs and seals to one other besides events:
    refusal notices, evaluation records and release notices.

    Raises:
        EnvelopeError: ``key.not_valid`` when the signer or the recipient lacks a key.
    """
    key = keyring.signing_key(at)
    token = sign_jwt({"typ": typ, "kid": key.kid}, {**claims, "iss": keyring.party}, key.key)
    return seal(token, directory.encryption_key(recipient, at), cty=NOTICE_CTY)


def verified_claims(
    token: str, typ: str, directory: KeyDirectory, at: datetime, signer: str | None = None
) -> tuple[str, dict[str, Any]]:
    """Verify a JWS of ``typ`` sealed by :func:`seal_signed`; return its signer and claims.

    The signer is the party whose key verifies it, and must be its ``iss`` (and
    ``signer``, when given).

    Raises:
        EnvelopeError: ``envelope.malformed`` without ``typ`` or ``kid``,
            ``signature.invalid`` for a signature or signer that does not hold, and
            the key directory's errors for an unknown or expired key.
    """
    jwt = read_jwt(token)
    header = jwt.header
    if header.get("typ") != typ or not isinstance(header.get("kid"), str):
        raise EnvelopeError(ErrorCode.MALFORMED, f"{typ} lacks typ or kid")
    key = directory.verification_key(header["kid"], at)
    if signer is not None and key.party != signer:
        raise EnvelopeError(ErrorCode.SIGNATURE, f"{typ} is not signed by {signer}")
    claims = jwt.verify(key.key)
    if claims.get("iss") != key.party:
        raise EnvelopeError(ErrorCode.SIGNATURE, f"{typ} iss is not its signer")
    return key.party, claims


def seal_notice(notice: RefusalNotice, keyring: PartyKeyring, directory: KeyDirectory) -> str:
    """Sign ``notice`` as the hub and seal it to its recipient.

    Raises:
        EnvelopeError: ``key.not_valid`` when the hub or the recipient lacks a key.
    """
    return seal_signed(
        NOTICE_TYP, notice.claims(), keyring, notice.recipient, notice.issued_at, directory
    )


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
            field=claims.get("field"),
            field_error=claims.get("field_error"),
        )
    except (KeyError, TypeError, ValueError, OverflowError):
        raise EnvelopeError(ErrorCode.MALFORMED, "notice claims incomplete") from None
    _check_ids(notice)
    if notice.recipient != me:
        raise EnvelopeError(ErrorCode.BINDING, "notice is addressed to another party")
    if notice.issued_at.timestamp() > at.timestamp() + MAX_CLOCK_SKEW_SECONDS:
        raise EnvelopeError(ErrorCode.CLOCK_SKEW, "notice iat lies in the future")
    return notice


def _matches(value: object, pattern: re.Pattern[str]) -> bool:
    """Whether an optional claim is absent (``None``) or a string of ``pattern``.

    ``fullmatch``: a ``$`` also matches before a final line break, which no id holds.
    """
    return value is None or (isinstance(value, str) and bool(pattern.fullmatch(value)))


def _check_ids(notice: RefusalNotice) -> None:
    """Refuse a notice whose ids or field claims are not of their shape."""
    if not _matches(notice.message_id, MESSAGE_ID):
        raise EnvelopeError(ErrorCode.MALFORMED, "notice message_id is not an id")
    if not _matches(notice.body_sha256, _SHA256):
        raise EnvelopeError(ErrorCode.MALFORMED, "notice body_sha256 is not a SHA-256")
    if not _matches(notice.field, FIELD_POINTER) or not _matches(notice.field_error, FIELD_ERROR):
        raise EnvelopeError(ErrorCode.MALFORMED, "notice field is not a schema path")
    if notice.field is None and notice.field_error is not None:
        raise EnvelopeError(ErrorCode.MALFORMED, "notice field_error names no field")
    if not isinstance(notice.code, str) or not _CODE.match(notice.code):
        raise EnvelopeError(ErrorCode.MALFORMED, "notice code is not a reason code")


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
    _, claims = verified_claims(token, NOTICE_TYP, directory, at, signer=hub)
    return _parse(claims, keyring.party, at)
