"""SD-JWT (RFC 9901) with one disclosure per field group, and the compact JWS under it.

The issuer (an agency) signs a JWT whose ``_sd`` array holds the digests of its
disclosures, one per field group (claim names ``A`` to ``H``), padded with decoy
digests to a fixed count so a reader cannot tell which groups an event had. The
holder (the hub) presents a subset of those disclosures with a Key Binding JWT
(RFC 9901 section 4.3). Functions here are pure: no I/O, no clock, no randomness
except the salts, which callers may inject to reproduce test vectors.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Final

from joserfc.errors import JoseError
from joserfc.jwk import OKPKey

from hub import safejson
from hub.crypto import compact
from hub.crypto.base import SD_ALG, SIGNING_ALG, EnvelopeError, ErrorCode
from hub.crypto.compact import b64url_decode, b64url_encode

#: Claim names of disclosures: the field groups.
GROUP_NAMES: Final = frozenset("ABCDEFGH")
#: Digests in every `_sd` array: real ones plus decoys (RFC 9901 section 4.2.5).
SD_DIGEST_COUNT: Final = len(GROUP_NAMES)
#: Salt length in bytes: 128 bits, as RFC 9901 section 9.3 recommends.
SALT_BYTES: Final = 16


Salt = Callable[[], str]


def random_salt() -> str:
    """Return a fresh 128-bit salt, base64url encoded."""
    return b64url_encode(secrets.token_bytes(SALT_BYTES))


def encode_disclosure(salt: str, name: str, value: Any) -> str:
    """Encode an object-property disclosure ``[salt, name, value]`` (RFC 9901 section 4.2.1)."""
    return b64url_encode(safejson.dumps([salt, name, value]).encode("utf-8"))


def decode_disclosure(disclosure: str) -> tuple[str, str | None, Any]:
    """Decode a disclosure into ``(salt, claim name or None for an array element, value)``.

    Raises:
        EnvelopeError: ``envelope.malformed`` when it is not a disclosure.
    """
    raw = b64url_decode(disclosure)
    try:
        parts = safejson.loads(raw)
    except ValueError:
        parts = None  # raised below, outside the handler: no chained error quoting content
    if parts is None:
        raise EnvelopeError(ErrorCode.MALFORMED, "disclosure is not JSON")
    if not isinstance(parts, list) or len(parts) not in (2, 3):
        raise EnvelopeError(ErrorCode.MALFORMED, "disclosure is not a 2- or 3-element array")
    if not all(isinstance(p, str) for p in parts[:-1]):
        raise EnvelopeError(ErrorCode.MALFORMED, "disclosure salt or name is not a string")
    if len(parts) == 2:  # noqa: PLR2004 - an array-element disclosure has two elements
        return parts[0], None, parts[1]
    return parts[0], parts[1], parts[2]


def disclosure_digest(disclosure: str) -> str:
    """The base64url SHA-256 digest over the ASCII disclosure (RFC 9901 section 4.2.3)."""
    return b64url_encode(hashlib.sha256(disclosure.encode("ascii")).digest())


def sd_hash(text_without_kb: str) -> str:
    """The ``sd_hash`` of a presentation: SHA-256 over everything up to the last ``~``."""
    return b64url_encode(hashlib.sha256(text_without_kb.encode("ascii")).digest())


def split_sd_jwt(text: str) -> tuple[str, list[str], str | None]:
    """Split ``<jwt>~<d1>~...~<dn>~[<kb-jwt>]`` into its parts.

    Raises:
        EnvelopeError: ``envelope.malformed`` when the text is not an SD-JWT.
    """
    parts = text.split("~")
    if len(parts) < 2 or not parts[0]:  # noqa: PLR2004 - a JWT and a (possibly empty) KB part
        raise EnvelopeError(ErrorCode.MALFORMED, "not an SD-JWT")
    disclosures = parts[1:-1]
    if any(not d for d in disclosures):
        raise EnvelopeError(ErrorCode.MALFORMED, "empty disclosure")
    return parts[0], disclosures, parts[-1] or None


def digests_in(payload: Mapping[str, Any]) -> set[str]:
    """Every digest in ``_sd`` arrays and ``{"...": digest}`` array entries, recursively."""
    found: set[str] = set()
    stack: list[Any] = [payload]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            sd = node.get("_sd", [])
            found.update(d for d in sd if isinstance(d, str))
            stack.extend(v for k, v in node.items() if k != "_sd")
        elif isinstance(node, list):
            for item in node:
                if isinstance(item, dict) and set(item) == {"..."}:
                    found.add(item["..."])
                else:
                    stack.append(item)
    return found


_DIGEST: Final = re.compile(r"^[A-Za-z0-9_-]{43}$")


def _nested_sd(value: Any) -> bool:
    """Whether ``_sd`` or ``...`` appears anywhere inside ``value``."""
    stack: list[Any] = [value]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            if "_sd" in node or "..." in node:
                return True
            stack.extend(node.values())
        elif isinstance(node, list):
            stack.extend(node)
    return False


def signed_digests(claims: Mapping[str, Any]) -> frozenset[str]:
    """The digests of this profile: exactly one top-level ``_sd`` of unique SHA-256 digests.

    RFC 9901 allows nested and array disclosures; this profile has one disclosure per
    group at the top level, so anything else is refused rather than interpreted
    (section 7.1: repeated digests MUST be rejected).

    Raises:
        EnvelopeError: ``envelope.malformed``.
    """
    sd = claims.get("_sd")
    if not isinstance(sd, list) or len(sd) != SD_DIGEST_COUNT:
        raise EnvelopeError(ErrorCode.MALFORMED, f"_sd is not a list of {SD_DIGEST_COUNT}")
    if not all(isinstance(d, str) and _DIGEST.match(d) for d in sd) or len(set(sd)) != len(sd):
        raise EnvelopeError(ErrorCode.MALFORMED, "_sd holds other than unique SHA-256 digests")
    if _nested_sd({k: v for k, v in claims.items() if k != "_sd"}):
        raise EnvelopeError(ErrorCode.MALFORMED, "selective disclosure outside the top-level _sd")
    if not GROUP_NAMES.isdisjoint(claims):
        raise EnvelopeError(ErrorCode.MALFORMED, "a field group appears as a plain claim")
    return frozenset(sd)


def make_disclosures(groups: Mapping[str, Any], salt: Salt) -> dict[str, str]:
    """Make one disclosure per group, in group order."""
    unknown = set(groups) - GROUP_NAMES
    if unknown:
        raise ValueError(f"not field groups: {sorted(unknown)}")
    return {name: encode_disclosure(salt(), name, groups[name]) for name in sorted(groups)}


def sd_digests(disclosures: Mapping[str, str], salt: Salt) -> list[str]:
    """Digests of ``disclosures`` padded with decoys to ``SD_DIGEST_COUNT``, sorted."""
    digests = [disclosure_digest(d) for d in disclosures.values()]
    while len(digests) < SD_DIGEST_COUNT:
        digests.append(disclosure_digest(salt()))
    return sorted(digests)


def sign_jwt(header: Mapping[str, Any], claims: Mapping[str, Any], key: OKPKey) -> str:
    """Sign ``claims`` as a compact JWS with alg ``Ed25519``."""
    protected = {"alg": SIGNING_ALG, **header}
    return compact.sign(protected, safejson.dumps(dict(claims)).encode("utf-8"), key)


@dataclass(frozen=True)
class Jwt:
    """A compact JWS parsed once: its checked header, and what verifying it needs.

    Attributes:
        header: the protected header, whose ``alg`` is ``Ed25519``.
        signing_input: the header and payload segments as signed.
        payload: the payload's bytes (not yet trusted).
        signature: the signature's bytes.
    """

    header: dict[str, Any]
    signing_input: str
    payload: bytes
    signature: bytes

    def verify(self, key: OKPKey) -> dict[str, Any]:
        """Verify the signature with ``key`` and return the claims.

        Raises:
            EnvelopeError: ``signature.invalid`` for a bad signature or a header
                joserfc's registry refuses, ``envelope.malformed`` for claims that
                are not a JSON object.
        """
        compact.check_jws_header(self.header, self.signing_input.partition(".")[0])
        payload_chars = len(self.signing_input) - self.signing_input.index(".") - 1
        compact.verify(self.signing_input, self.signature, payload_chars, key)
        try:
            claims = safejson.loads(self.payload)
        except ValueError:
            claims = None  # raised below, outside the handler: no chained error quoting content
        if not isinstance(claims, dict):
            raise EnvelopeError(ErrorCode.MALFORMED, "JWT claims are not an object")
        return claims


def read_jwt(token: str) -> Jwt:
    """Parse a compact JWS without verifying it; check the algorithm.

    Raises:
        EnvelopeError: ``envelope.malformed`` for a broken token, ``algorithm.not_allowed``
            for any ``alg`` but ``Ed25519`` (``none`` included).
    """
    parts = token.split(".")
    if len(parts) != 3:  # noqa: PLR2004 - header, payload, signature
        raise EnvelopeError(ErrorCode.MALFORMED, "JWS is not three parts")
    payload, signature = b64url_decode(parts[1]), b64url_decode(parts[2])
    try:
        header = safejson.loads(b64url_decode(parts[0]))
    except ValueError:
        raise EnvelopeError(ErrorCode.MALFORMED, "JWS header is not JSON") from None
    if not isinstance(header, dict):
        raise EnvelopeError(ErrorCode.MALFORMED, "JWS header is not an object")
    if header.get("alg") != SIGNING_ALG:
        raise EnvelopeError(ErrorCode.ALGORITHM, "JWS alg is not Ed25519")
    if "crit" in header:
        raise EnvelopeError(ErrorCode.MALFORMED, "JWS crit header is not supported")
    return Jwt(header, token[: len(parts[0]) + len(parts[1]) + 1], payload, signature)


def read_jwt_header(token: str) -> dict[str, Any]:
    """The checked protected header of a compact JWS, unverified (:func:`read_jwt`)."""
    return read_jwt(token).header


def verify_jwt(token: str, key: OKPKey) -> dict[str, Any]:
    """Verify a compact JWS with ``key`` and return its claims (:meth:`Jwt.verify`).

    Raises:
        EnvelopeError: as :func:`read_jwt` and :meth:`Jwt.verify`.
    """
    return read_jwt(token).verify(key)


def match_disclosures(
    claims: Mapping[str, Any], disclosures: list[str]
) -> dict[str, tuple[str, Any]]:
    """Check every disclosure against the signed digests.

    Returns:
        group name -> (disclosure text, disclosed value), in the order received.

    Raises:
        EnvelopeError: ``disclosure.mismatch`` for a disclosure whose digest is not
            signed, a repeated group or a name that is not a group.
    """
    if claims.get("_sd_alg") != SD_ALG:
        raise EnvelopeError(ErrorCode.MALFORMED, "_sd_alg is not sha-256")
    signed = signed_digests(claims)
    groups: dict[str, tuple[str, Any]] = {}
    for position, disclosure in enumerate(disclosures):
        if disclosure_digest(disclosure) not in signed:
            raise EnvelopeError(ErrorCode.DISCLOSURE, f"disclosure {position} is not signed")
        salt, name, value = decode_disclosure(disclosure)
        if len(b64url_decode(salt)) < SALT_BYTES:
            raise EnvelopeError(ErrorCode.MALFORMED, f"disclosure {position} salt too short")
        if name not in GROUP_NAMES or name in groups:
            raise EnvelopeError(ErrorCode.DISCLOSURE, f"disclosure {position} names no new group")
        if not isinstance(value, dict):
            raise EnvelopeError(ErrorCode.MALFORMED, f"disclosure {position} is not an object")
        groups[name] = (disclosure, value)
    return groups


def public_jwk(key: OKPKey) -> dict[str, Any]:
    """The minimal public JWK of ``key`` with its thumbprint as ``kid`` (for ``cnf``)."""
    jwk = {k: v for k, v in key.as_dict(private=False).items() if k in ("kty", "crv", "x")}
    jwk["kid"] = str(key.thumbprint())
    return jwk


def public_jwk_x(jwk: Any) -> str:
    """Check that a ``cnf`` JWK has the shape of an Ed25519 public key; return its ``x``.

    ``kty``, ``crv`` and ``x`` are the members RFC 7638 hashes into the key id, so
    two such JWKs with one ``x`` name the same key.

    Raises:
        EnvelopeError: ``binding.invalid`` for anything but an Ed25519 public JWK.
    """
    if not isinstance(jwk, dict) or jwk.get("kty") != "OKP" or jwk.get("crv") != "Ed25519":
        raise EnvelopeError(ErrorCode.BINDING, "cnf key is not an Ed25519 public key")
    if "d" in jwk:
        raise EnvelopeError(ErrorCode.BINDING, "cnf key carries private material")
    x = jwk.get("x")
    if not isinstance(x, str):
        raise EnvelopeError(ErrorCode.BINDING, "cnf key is not an Ed25519 public key")
    return x


def import_public_jwk(jwk: Any) -> OKPKey:
    """Import an Ed25519 public JWK from a ``cnf`` claim.

    Raises:
        EnvelopeError: ``binding.invalid`` for anything but an Ed25519 public key.
    """
    x = public_jwk_x(jwk)
    try:
        return OKPKey.import_key({"kty": "OKP", "crv": "Ed25519", "x": x})
    except (KeyError, JoseError, ValueError):
        raise EnvelopeError(ErrorCode.BINDING, "cnf key is not an Ed25519 public key") from None
