"""Evaluation records: the hub signs what it derived, and seals it to the evaluator.

An evaluation record is the hub's own derivation from an event (ADR 0022), so no
agency's signature covers it: the hub signs it. The record travels as a JWT signed
by the hub (``typ: evaluation-record+jwt``) whose claims are ``iss`` (the hub),
``aud`` (the evaluator), ``iat``, ``decision_id`` (the ledger entry that recorded
the disclosure) and ``record`` (the record's JSON object), inside a JWE to the
evaluator (``cty: JWT``). The evaluator keeps the signed JWT beside the record, so
anyone it shows a record to can check, against the hub's published key, that the
hub issued it under that decision. The format is in docs/envelope.md.

The other way, a *release notice* tells each area hub what the evaluator let out
of its store (ADR 0024): a JWT signed by the evaluator (``typ:
evaluation-release+jwt``) with ``iss`` (the evaluator), ``aud`` (the hub), ``iat``
and ``release`` (what was asked, the rule, the output's SHA-256), sealed to the hub.
The hub records it in its ledger.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import TYPE_CHECKING, Any, NamedTuple

from hub.crypto.base import (
    ERASURE_TYP,
    MAX_CLOCK_SKEW_SECONDS,
    MAX_RECEIPT_ITEMS,
    NOTICE_CTY,
    RECEIPT_TYP,
    RECORD_TYP,
    RELEASE_TYP,
    EnvelopeError,
    ErrorCode,
)
from hub.crypto.jwe import unseal
from hub.crypto.notice import seal_signed, verified_claims

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

    from hub.crypto.keys import KeyDirectory, PartyKeyring


@dataclass(frozen=True)
class SignedRecord:
    """An evaluation record as its evaluator opened it.

    Attributes:
        decision_id: the ledger entry that recorded the disclosure.
        issued_at: when the hub signed it.
        record: the record's fields, as JSON values (``schemas.evaluation``
            validates them).
        token: the hub-signed JWT, for keeping and checking again
            (:func:`verify_record`).
    """

    decision_id: uuid.UUID
    issued_at: datetime
    record: dict[str, Any]
    token: str


def seal_record(  # noqa: PLR0913, PLR0917 - the record, its decision, its parties' keys
    record: Mapping[str, Any],
    decision_id: uuid.UUID,
    recipient: str,
    issued_at: datetime,
    keyring: PartyKeyring,
    directory: KeyDirectory,
) -> str:
    """Sign ``record`` as the hub, for ``decision_id``, and seal it to ``recipient``.

    Raises:
        EnvelopeError: ``key.not_valid`` when the hub or the recipient lacks a key.
    """
    claims = {
        "aud": recipient,
        "iat": int(issued_at.timestamp()),
        "decision_id": str(decision_id),
        "record": dict(record),
    }
    return seal_signed(RECORD_TYP, claims, keyring, recipient, issued_at, directory)


def _issued(claims: dict[str, Any], me: str, at: datetime) -> datetime:
    """When ``claims`` say they were issued, checked against ``me`` and ``at``.

    Raises:
        EnvelopeError: ``envelope.binding`` for claims addressed to another party,
            ``clock.skew`` for an ``iat`` in the future, ``envelope.malformed``
            for one that is not a time.
    """
    if claims.get("aud") != me:
        raise EnvelopeError(ErrorCode.BINDING, "addressed to another party")
    try:
        issued = datetime.fromtimestamp(claims["iat"], tz=UTC)
    except (KeyError, TypeError, ValueError, OverflowError):
        raise EnvelopeError(ErrorCode.MALFORMED, "iat is not a time") from None
    if issued.timestamp() > at.timestamp() + MAX_CLOCK_SKEW_SECONDS:
        raise EnvelopeError(ErrorCode.CLOCK_SKEW, "iat lies in the future")
    return issued


def verify_record(
    token: str, directory: KeyDirectory, *, me: str, hub: str = "hub", at: datetime
) -> SignedRecord:
    """Check a hub-signed evaluation record JWT addressed to ``me``.

    Raises:
        EnvelopeError: ``envelope.malformed`` for a token or claims of the wrong
            shape, ``signature.invalid`` for one the hub did not sign,
            ``envelope.binding`` for one addressed to another party,
            ``clock.skew`` for one issued in the future.
    """
    _, claims = verified_claims(token, RECORD_TYP, directory, at, signer=hub)
    issued = _issued(claims, me, at)
    record = claims.get("record")
    try:
        decision_id = uuid.UUID(claims["decision_id"])
    except (KeyError, TypeError, ValueError, AttributeError):
        raise EnvelopeError(ErrorCode.MALFORMED, "record claims incomplete") from None
    if not isinstance(record, dict):
        raise EnvelopeError(ErrorCode.MALFORMED, "record is not an object")
    return SignedRecord(decision_id, issued, record, token)


def open_record(
    envelope: str,
    keyring: PartyKeyring,
    directory: KeyDirectory,
    *,
    hub: str = "hub",
    now: datetime | None = None,
) -> SignedRecord:
    """Open and verify an evaluation record as its evaluator.

    Raises:
        EnvelopeError: with the code of the first check that fails.
    """
    at = now or datetime.now(UTC)
    _, token = unseal(envelope, keyring, at, cty=NOTICE_CTY)
    return verify_record(token, directory, me=keyring.party, hub=hub, at=at)


@dataclass(frozen=True)
class ReleaseNotice:
    """A release notice as a hub opened it: who signed it, when, and what it says."""

    sender: str
    issued_at: datetime
    release: dict[str, Any]


def seal_release(
    release: Mapping[str, Any],
    issued_at: datetime,
    keyring: PartyKeyring,
    directory: KeyDirectory,
    hub: str,
) -> str:
    """Sign ``release`` as the evaluator ``keyring`` belongs to and seal it to ``hub``.

    Raises:
        EnvelopeError: ``key.not_valid`` when the evaluator or the hub lacks a key.
    """
    claims = {"aud": hub, "iat": int(issued_at.timestamp()), "release": dict(release)}
    return seal_signed(RELEASE_TYP, claims, keyring, hub, issued_at, directory)


def open_release(
    envelope: str, keyring: PartyKeyring, directory: KeyDirectory, *, now: datetime
) -> ReleaseNotice:
    """Open a release notice as the hub ``keyring`` belongs to; check who signed it.

    The signer is the party whose key signed the JWT, and must be its ``iss``.

    Raises:
        EnvelopeError: ``envelope.malformed`` for a notice of the wrong shape,
            ``signature.invalid`` for a signature or issuer that does not hold,
            ``envelope.binding`` for one addressed to another hub, ``clock.skew``
            for one issued in the future, and any error of opening the JWE.
    """
    _, token = unseal(envelope, keyring, now, cty=NOTICE_CTY)
    sender, claims = verified_claims(token, RELEASE_TYP, directory, now)
    issued = _issued(claims, keyring.party, now)
    release = claims.get("release")
    if not isinstance(release, dict):
        raise EnvelopeError(ErrorCode.MALFORMED, "release is not an object")
    return ReleaseNotice(sender, issued, release)


class ReceiptItem(NamedTuple):
    """One delivery a receipt covers.

    Attributes:
        decision_id: the delivery's decision.
        digest: SHA-256 (hex) of the message body the recipient received.
        until: the retention end the delivery's obligations set (a ``delete``
            duty), which the recipient acknowledges; None when they set none.
    """

    decision_id: uuid.UUID
    digest: str
    until: date | None = None


@dataclass(frozen=True)
class Receipt:
    """A recipient's receipt as the hub opened it.

    Attributes:
        sender: the recipient that signed it.
        receipt_id: its id (``jti``), one per receipt.
        signed_at: when it was signed (``iat``).
        items: each delivery it covers.
        token: the recipient's compact JWS, kept in the ledger as signed.
        erasure: an erasure receipt (``erasure-receipt+jwt``): the recipient
            erased what it kept of these deliveries; otherwise a delivery
            receipt (``delivery-receipt+jwt``): it verified and kept them.
    """

    sender: str
    receipt_id: uuid.UUID
    signed_at: datetime
    items: tuple[ReceiptItem, ...]
    token: str
    erasure: bool = False


def seal_receipt(  # noqa: PLR0913, PLR0917 - what is receipted, when, by whom, to which hub
    receipt_id: uuid.UUID,
    items: Sequence[ReceiptItem],
    signed_at: datetime,
    keyring: PartyKeyring,
    directory: KeyDirectory,
    hub: str,
    *,
    erasure: bool = False,
) -> str:
    """Sign a receipt for ``items`` as the recipient ``keyring`` belongs to; seal it to ``hub``.

    An erasure receipt with ``erasure``, a delivery receipt without.

    Raises:
        EnvelopeError: ``key.not_valid`` when the recipient or the hub lacks a key.
    """
    claims = {
        "aud": hub,
        "iat": int(signed_at.timestamp()),
        "jti": str(receipt_id),
        "receipts": [_item_claim(item) for item in items],
    }
    return seal_signed(_typ(erasure), claims, keyring, hub, signed_at, directory)


def _item_claim(item: ReceiptItem) -> dict[str, str]:
    claim = {"decision_id": str(item.decision_id), "digest": item.digest}
    if item.until is not None:
        claim["until"] = item.until.isoformat()
    return claim


def _until(value: Any) -> date:
    if not isinstance(value, str) or not re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
        raise ValueError(value)
    return date.fromisoformat(value)


def _items(value: Any) -> tuple[ReceiptItem, ...]:
    """A receipt's items, checked: 1 to 256, each a decision id and a hex SHA-256, no repeat."""
    if not isinstance(value, list) or not 0 < len(value) <= MAX_RECEIPT_ITEMS:
        raise EnvelopeError(ErrorCode.MALFORMED, "receipts is not a list of 1 to 256 items")
    items = []
    for item in value:
        if not isinstance(item, dict) or not {"decision_id", "digest"} <= set(item) <= {
            "decision_id",
            "digest",
            "until",
        }:
            raise EnvelopeError(ErrorCode.MALFORMED, "a receipt item has other members")
        digest = item["digest"]
        if not isinstance(digest, str) or not re.fullmatch(r"[0-9a-f]{64}", digest):
            raise EnvelopeError(ErrorCode.MALFORMED, "a receipt item's digest is not SHA-256")
        try:
            decision_id = uuid.UUID(str(item["decision_id"]))
        except ValueError:
            raise EnvelopeError(ErrorCode.MALFORMED, "a receipt item's decision_id") from None
        try:
            until = None if "until" not in item else _until(item["until"])
        except ValueError:
            raise EnvelopeError(ErrorCode.MALFORMED, "a receipt item's until") from None
        items.append(ReceiptItem(decision_id, digest, until))
    if len({i.decision_id for i in items}) != len(items):
        raise EnvelopeError(ErrorCode.MALFORMED, "a delivery is receipted twice")
    return tuple(items)


def _receipt(
    token: str, typ: str, directory: KeyDirectory, at: datetime, hub: str | None = None
) -> Receipt:
    """The receipt ``token`` holds, its signature checked with its signer's key valid ``at``.

    With ``hub``, it must be addressed to that hub and not issued after ``at``.
    """
    sender, claims = verified_claims(token, typ, directory, at)
    if hub is not None:
        _issued(claims, hub, at)
    try:
        receipt_id = uuid.UUID(str(claims.get("jti")))
        signed_at = datetime.fromtimestamp(claims["iat"], tz=UTC)
    except (KeyError, TypeError, ValueError, OverflowError):
        raise EnvelopeError(ErrorCode.MALFORMED, "a receipt's jti or iat") from None
    items = _items(claims.get("receipts"))
    return Receipt(sender, receipt_id, signed_at, items, token, erasure=typ == ERASURE_TYP)


def _typ(erasure: bool) -> str:  # noqa: FBT001 - one flag, named at every call
    return ERASURE_TYP if erasure else RECEIPT_TYP


def open_receipt(
    envelope: str,
    keyring: PartyKeyring,
    directory: KeyDirectory,
    *,
    now: datetime,
    erasure: bool = False,
) -> Receipt:
    """Open a receipt as the hub ``keyring`` belongs to; check who signed it and its shape.

    An erasure receipt with ``erasure``, a delivery receipt without.

    Raises:
        EnvelopeError: as :func:`open_release`.
    """
    _, token = unseal(envelope, keyring, now, cty=NOTICE_CTY)
    return _receipt(token, _typ(erasure), directory, now, keyring.party)


def verify_receipt(
    token: str, directory: KeyDirectory, *, at: datetime, erasure: bool = False
) -> Receipt:
    """Check a receipt's JWS as the ledger keeps it, with its signer's key valid ``at``.

    Anyone with the parties' public keys can do this (``hub audit verify --keys``):
    the receipt is the recipient's own statement, not the hub's. ``at`` is when it
    was signed; ``erasure`` expects an erasure receipt.

    Raises:
        EnvelopeError: ``signature.invalid`` when the signature or signer does not
            hold, ``envelope.malformed`` for a receipt of the wrong shape, and the
            key directory's errors for a key unknown or not valid then.
    """
    return _receipt(token, _typ(erasure), directory, at)
