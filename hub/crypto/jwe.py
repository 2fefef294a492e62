"""Compact JWE (RFC 7516) sealed with ECDH-ES+A256KW over X25519 and A256GCM, nothing else.

The protected header is parsed and checked against the allow-list before any key
is touched, so ``alg: none``, ``dir``, RSA, password-based or unknown algorithms
and unknown header parameters are refused up front (RFC 8725 section 3.1).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Final

from hub import safejson
from hub.crypto import compact
from hub.crypto.base import (
    CONTENT_ALG,
    KEY_ALG,
    MAX_ENVELOPE_CHARS,
    NOTICE_CTY,
    SD_JWT_CTY,
    EnvelopeError,
    ErrorCode,
)
from hub.crypto.compact import b64url_decode

if TYPE_CHECKING:
    from collections.abc import Mapping
    from datetime import datetime

    from hub.crypto.keys import KeyRecord, PartyKeyring

#: Protected header members the hub adds to a delivery (docs/envelope.md).
DELIVERY_HEADER: Final = frozenset(
    {"decision_id", "agreement_id", "agreement_version", "recipient"}
)
#: Content types of what we seal: SD-JWT events and JWT refusal notices.
CONTENT_TYPES: Final = frozenset({SD_JWT_CTY, NOTICE_CTY})
_STANDARD_MEMBERS: Final = frozenset({"alg", "enc", "kid", "cty", "epk", "typ"})
_ALLOWED_MEMBERS: Final = _STANDARD_MEMBERS | DELIVERY_HEADER
#: The type of each optional member, as joserfc's header registry checked them.
_MEMBER_TYPES: Final[dict[str, type]] = {
    "typ": str,
    "decision_id": str,
    "agreement_id": str,
    "agreement_version": int,
    "recipient": str,
}
#: base64url length of a 32-byte X25519 public key.
X25519_PUBLIC_CHARS: Final = 43


def seal(
    plaintext: str,
    recipient: KeyRecord,
    extra: Mapping[str, Any] | None = None,
    cty: str = SD_JWT_CTY,
) -> str:
    """Encrypt ``plaintext`` to one recipient's X25519 key.

    Args:
        plaintext: the SD-JWT text.
        recipient: the recipient's public encryption key.
        extra: further protected header members (delivery header), authenticated
            as additional data.
        cty: the content type: ``sd-jwt`` for events, ``JWT`` for notices.

    Returns:
        The compact JWE.
    """
    header = {"alg": KEY_ALG, "enc": CONTENT_ALG, "kid": recipient.kid, "cty": cty}
    header.update(extra or {})
    return compact.encrypt(header, plaintext.encode("ascii"), recipient.key)


def read_header(envelope: str) -> dict[str, Any]:
    """Parse and check the protected header of a compact JWE without decrypting.

    Raises:
        EnvelopeError: ``payload.too_large``, ``envelope.malformed`` or
            ``algorithm.not_allowed``.
    """
    return _read(envelope)[0]


def _read(envelope: str) -> tuple[dict[str, Any], list[bytes]]:
    """The checked header, and the four other parts decoded (:func:`read_header`)."""
    if len(envelope) > MAX_ENVELOPE_CHARS:
        raise EnvelopeError(ErrorCode.TOO_LARGE, f"envelope exceeds {MAX_ENVELOPE_CHARS} chars")
    parts = envelope.split(".")
    if len(parts) != 5:  # noqa: PLR2004 - compact JWE has five parts
        raise EnvelopeError(ErrorCode.MALFORMED, "JWE is not five parts")
    decoded = [b64url_decode(part) for part in parts[1:]]
    try:
        header = safejson.loads(b64url_decode(parts[0]))
    except ValueError:
        raise EnvelopeError(ErrorCode.MALFORMED, "JWE header is not JSON") from None
    if not isinstance(header, dict):
        raise EnvelopeError(ErrorCode.MALFORMED, "JWE header is not an object")
    if header.get("alg") != KEY_ALG or header.get("enc") != CONTENT_ALG:
        raise EnvelopeError(ErrorCode.ALGORITHM, "JWE alg or enc is not allowed")
    if not set(header) <= _ALLOWED_MEMBERS:
        raise EnvelopeError(ErrorCode.MALFORMED, "JWE header has unknown members")
    if header.get("cty") not in CONTENT_TYPES or not isinstance(header.get("kid"), str):
        raise EnvelopeError(ErrorCode.MALFORMED, "JWE header lacks kid or a known cty")
    _check_epk(header.get("epk"))
    return header, decoded


def _check_epk(epk: Any) -> None:
    """The ephemeral key must be a bare X25519 public key (RFC 8037 section 3.2)."""
    if (
        not isinstance(epk, dict)
        or set(epk) != {"kty", "crv", "x"}
        or (epk["kty"], epk["crv"]) != ("OKP", "X25519")
        or not isinstance(epk["x"], str)
        or len(epk["x"]) != X25519_PUBLIC_CHARS
    ):
        raise EnvelopeError(ErrorCode.MALFORMED, "JWE epk is not an X25519 public key")


def unseal(
    envelope: str, keyring: PartyKeyring, at: datetime, cty: str = SD_JWT_CTY
) -> tuple[dict[str, Any], str]:
    """Decrypt a compact JWE sealed to one of ``keyring``'s encryption keys.

    Returns:
        The protected header and the plaintext.

    Raises:
        EnvelopeError: any header error of :func:`read_header`, ``key.not_valid``
            for a key outside its validity, ``envelope.undecryptable`` otherwise.
    """
    header, decoded = _read(envelope)
    if header["cty"] != cty:
        raise EnvelopeError(ErrorCode.MALFORMED, f"JWE cty is not {cty}")
    key = keyring.encryption_key(header["kid"], at)
    if not all(isinstance(header.get(m, kind()), kind) for m, kind in _MEMBER_TYPES.items()):
        # What joserfc's header registry refused before the key was touched.
        raise EnvelopeError(ErrorCode.UNDECRYPTABLE, "JWE header member has the wrong type")
    epk = b64url_decode(header["epk"]["x"])
    segment = envelope[: envelope.index(".")]
    plaintext = compact.decrypt(segment, decoded, epk, key.key)
    if not plaintext.isascii():
        raise EnvelopeError(ErrorCode.MALFORMED, "JWE plaintext is not an SD-JWT")
    return header, plaintext.decode("ascii")
