"""Signed ledger checkpoints: a compact JWS by the hub over the ledger's tree head.

A checkpoint is ``{tree_size, root_hash, last_entry_hash, time, ledger_id}``:
after ``tree_size`` entries the RFC 9162 Merkle root was ``root_hash`` and the last
entry's hash ``last_entry_hash``, at ``time`` (seconds since the epoch). The hub
signs it with its Ed25519 signing key:

    header:  {"alg": "Ed25519", "typ": "ledger-checkpoint+jwt", "kid": "<hub sig kid>"}

Anyone holding the hub's public JWK Set can check it. Unlike an envelope (ADR
0002), a checkpoint is checked against the key's validity at the checkpoint's own
``time``, not now: an audit next year must still accept this year's checkpoints
after the key that signed them has expired (ADR 0004).
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, Final

from hub.crypto.base import MAX_CLOCK_SKEW_SECONDS, EnvelopeError, ErrorCode
from hub.crypto.sdjwt import read_jwt, sign_jwt

if TYPE_CHECKING:
    from collections.abc import Mapping

    from hub.crypto.keys import KeyDirectory, KeyRecord

CHECKPOINT_TYP: Final = "ledger-checkpoint+jwt"
CHECKPOINT_CLAIMS: Final = frozenset(
    {"tree_size", "root_hash", "last_entry_hash", "time", "ledger_id"}
)
_HEX_HASH: Final = re.compile(r"[0-9a-f]{64}")
_LEDGER_ID: Final = re.compile(r"[A-Za-z0-9._:-]{1,128}")
_MAX_SIZE: Final = 2**53


def _check_claims(claims: Mapping[str, Any]) -> None:
    """Raise ``envelope.malformed`` unless ``claims`` is exactly a well-formed checkpoint."""
    if set(claims) != CHECKPOINT_CLAIMS:
        raise EnvelopeError(ErrorCode.MALFORMED, "checkpoint members are not the expected set")
    for name in ("tree_size", "time"):
        value = claims[name]
        if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value < _MAX_SIZE:
            raise EnvelopeError(ErrorCode.MALFORMED, f"checkpoint {name} is not a count")
    for name in ("root_hash", "last_entry_hash"):
        if not isinstance(claims[name], str) or not _HEX_HASH.fullmatch(claims[name]):
            raise EnvelopeError(ErrorCode.MALFORMED, f"checkpoint {name} is not a hex SHA-256")
    ledger_id = claims["ledger_id"]
    if not isinstance(ledger_id, str) or not _LEDGER_ID.fullmatch(ledger_id):
        raise EnvelopeError(ErrorCode.MALFORMED, "checkpoint ledger_id is not an id")


def _at(claims: Mapping[str, Any]) -> datetime:
    return datetime.fromtimestamp(claims["time"], tz=UTC)


def sign_checkpoint(checkpoint: Mapping[str, Any], key: KeyRecord) -> str:
    """Sign a checkpoint with the hub's signing key.

    Args:
        checkpoint: exactly ``tree_size``, ``root_hash``, ``last_entry_hash``,
            ``time`` and ``ledger_id``.
        key: a private Ed25519 signing key, valid at the checkpoint's ``time``.

    Returns:
        The compact JWS.

    Raises:
        EnvelopeError: ``envelope.malformed`` for a malformed checkpoint,
            ``key.not_valid`` for a key that is not a signing key valid then.
    """
    _check_claims(checkpoint)
    if key.use != "sig" or not key.key.is_private or not key.valid_at(_at(checkpoint)):
        raise EnvelopeError(ErrorCode.KEY_NOT_VALID, "checkpoint key is not a valid signing key")
    return sign_jwt({"typ": CHECKPOINT_TYP, "kid": key.kid}, dict(checkpoint), key.key)


def _signing_key(directory: KeyDirectory, party: str, kid: Any) -> KeyRecord:
    for record in directory.records(party, "sig"):
        if record.kid == kid:
            return record
    raise EnvelopeError(ErrorCode.SENDER_UNKNOWN, f"checkpoint key is not a {party} signing key")


def verify_checkpoint(
    token: str, directory: KeyDirectory, party: str = "hub", *, now: datetime | None = None
) -> dict[str, Any]:
    """Verify a signed checkpoint and return its members.

    Args:
        token: the compact JWS.
        directory: public keys; ``kid`` must name a signing key of ``party``.
        party: the party whose checkpoints these are.
        now: the verifier's clock, for the future-time check; the real clock if None.

    Returns:
        The checkpoint: ``tree_size``, ``root_hash``, ``last_entry_hash``, ``time``,
        ``ledger_id``.

    Raises:
        EnvelopeError: ``envelope.malformed`` (not a checkpoint), ``algorithm.not_allowed``
            (any ``alg`` but Ed25519), ``sender.unknown`` (``kid`` not a signing key of
            ``party``), ``signature.invalid``, ``key.not_valid`` (the key was not valid
            at the checkpoint's ``time``), ``clock.skew`` (``time`` in the future).
    """
    jwt = read_jwt(token)
    header = jwt.header
    if header.get("typ") != CHECKPOINT_TYP:
        raise EnvelopeError(ErrorCode.MALFORMED, "JWS typ is not ledger-checkpoint+jwt")
    record = _signing_key(directory, party, header.get("kid"))
    claims = jwt.verify(record.key)
    _check_claims(claims)
    moment = _at(claims)
    if moment > (now or datetime.now(UTC)) + timedelta(seconds=MAX_CLOCK_SKEW_SECONDS):
        raise EnvelopeError(ErrorCode.CLOCK_SKEW, "checkpoint time is in the future")
    if not record.valid_at(moment):
        raise EnvelopeError(ErrorCode.KEY_NOT_VALID, "checkpoint key was not valid at its time")
    return claims
