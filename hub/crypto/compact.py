"""The profile's compact JWS and JWE on ``cryptography``'s primitives (ADR 0031).

The envelope uses one algorithm of each kind, fixed: Ed25519 JWS (RFC 7515, RFC
8037) and ECDH-ES+A256KW over X25519 with A256GCM (RFC 7516, RFC 7518 sections
4.6 and 5.3). Done here directly, each costs what its primitives cost; a general
JOSE library spends about as much again in its own Python choosing algorithms
and keys that this profile never varies.

The wire format is the one joserfc writes: a JWS signed here is byte for byte the
token joserfc signs (Ed25519 is deterministic), and the tests open and verify
every token both ways against joserfc and jwcrypto. The checks that joserfc made
are kept, with the same refusal codes: the JWS header goes through joserfc's own
registry check (registered members of the right types, no unsupported member), the
size limits are joserfc's, and every failure of the JWE's key agreement, key
unwrap or authenticated decryption is ``envelope.undecryptable``. The callers
check the protected headers against this profile's allow-list before they get
here (:func:`hub.crypto.sdjwt.read_jwt` and :func:`hub.crypto.jwe.read_header`).
"""

from __future__ import annotations

import binascii
import json
import os
import re
import struct
from typing import TYPE_CHECKING, Any, Final

from cryptography.exceptions import InvalidSignature, InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.concatkdf import ConcatKDFHash
from cryptography.hazmat.primitives.keywrap import InvalidUnwrap, aes_key_unwrap, aes_key_wrap
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from joserfc import jws
from joserfc.errors import JoseError

from hub.crypto.base import KEY_ALG, SIGNING_ALG, EnvelopeError, ErrorCode

if TYPE_CHECKING:
    from collections.abc import Mapping

    from joserfc.jwk import OKPKey

#: joserfc's registry for this profile: its header checks and size limits are ours.
JWS_REGISTRY: Final = jws.JWSRegistry(algorithms=[SIGNING_ALG])
#: Sizes fixed by the profile: a 256-bit CEK wrapped (RFC 3394: 8 bytes more), a
#: 96-bit GCM nonce and a 128-bit tag.
CEK_BYTES: Final = 32
WRAPPED_CEK_BYTES: Final = CEK_BYTES + 8
IV_BYTES: Final = 12
TAG_BYTES: Final = 16
#: joserfc's limit on a JWE's protected header segment, in characters.
MAX_JWE_HEADER_CHARS: Final = 1024
#: RFC 7518 section 4.6.2's OtherInfo for this profile: AlgorithmID, empty
#: PartyUInfo and PartyVInfo (no ``apu``, ``apv``), and SuppPubInfo (256 bits).
_KDF_OTHER_INFO: Final = (
    struct.pack(">I", len(KEY_ALG))
    + KEY_ALG.encode("ascii")
    + struct.pack(">I", 0)
    + struct.pack(">I", 0)
    + struct.pack(">I", CEK_BYTES * 8)
)


_B64URL: Final = re.compile(r"[A-Za-z0-9_-]*")
#: base64url to the standard alphabet, which binascii reads, and back.
_TO_STANDARD: Final = bytes.maketrans(b"-_", b"+/")
_TO_URL: Final = bytes.maketrans(b"+/", b"-_")
#: Each base64url character's six-bit value.
_SEXTETS: Final = {
    c: i for i, c in enumerate("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")
}
#: By length modulo 4: the last character's bits that encode nothing (none at 0)...
_STRAY_BITS: Final = {2: 0b001111, 3: 0b000011}
#: ...and the padding binascii wants.
_PADDING: Final = {0: b"", 2: b"==", 3: b"="}


def b64url_encode(data: bytes) -> str:
    """Base64url without padding (RFC 7515 section 2)."""
    return binascii.b2a_base64(data, newline=False).translate(_TO_URL).rstrip(b"=").decode("ascii")


def b64url_decode(text: str) -> bytes:
    """Decode base64url without padding, refusing any other alphabet.

    Raises:
        EnvelopeError: ``envelope.malformed``.
    """
    tail = len(text) % 4
    if tail == 1 or not _B64URL.fullmatch(text):
        raise EnvelopeError(ErrorCode.MALFORMED, "not base64url")
    # Refuse non-canonical encodings (stray bits in the last character): one byte
    # string must have exactly one encoding, or a changed token could still verify.
    if tail and _SEXTETS[text[-1]] & _STRAY_BITS[tail]:
        raise EnvelopeError(ErrorCode.MALFORMED, "not canonical base64url")
    try:
        return binascii.a2b_base64(
            text.encode("ascii").translate(_TO_STANDARD) + _PADDING[tail], strict_mode=True
        )
    except binascii.Error:
        raise EnvelopeError(ErrorCode.MALFORMED, "not base64url") from None


def encode_header(header: Mapping[str, Any]) -> str:
    """A protected header as joserfc writes it: compact, ASCII-escaped JSON, base64url."""
    text = json.dumps(dict(header), ensure_ascii=True, separators=(",", ":"))
    return b64url_encode(text.encode("ascii"))


def sign(header: Mapping[str, Any], payload: bytes, key: OKPKey) -> str:
    """A compact JWS over ``payload`` with an Ed25519 private ``key``; ``header`` names ``alg``."""
    private = key.private_key
    if not isinstance(private, Ed25519PrivateKey) or header.get("alg") != SIGNING_ALG:
        raise ValueError("an Ed25519 private key and alg are required to sign")
    signing_input = f"{encode_header(header)}.{b64url_encode(payload)}"
    signature = private.sign(signing_input.encode("ascii"))
    return f"{signing_input}.{b64url_encode(signature)}"


def check_jws_header(header: dict[str, Any], segment: str) -> None:
    """The checks joserfc made of a JWS header: sizes, ``crit``, registered members and types.

    Raises:
        EnvelopeError: ``signature.invalid``, as joserfc's refusal was mapped before.
    """
    try:
        JWS_REGISTRY.validate_header_size(segment.encode("ascii"))
        JWS_REGISTRY.check_header(header)
    except JoseError:
        raise EnvelopeError(ErrorCode.SIGNATURE, "JWS header is not allowed") from None


def verify(signing_input: str, signature: bytes, payload_chars: int, key: OKPKey) -> None:
    """Check an Ed25519 ``signature`` over ``signing_input`` with ``key``'s public half.

    Raises:
        EnvelopeError: ``signature.invalid``.
    """
    if (
        payload_chars > JWS_REGISTRY.max_payload_length
        or len(signature) > JWS_REGISTRY.max_signature_length
    ):
        raise EnvelopeError(ErrorCode.SIGNATURE, "JWS exceeds the size limits")
    public = key.public_key
    if not isinstance(public, Ed25519PublicKey):
        raise EnvelopeError(ErrorCode.SIGNATURE, "JWS key is not an Ed25519 key")
    try:
        public.verify(signature, signing_input.encode("ascii"))
    except InvalidSignature:
        raise EnvelopeError(ErrorCode.SIGNATURE, "JWS signature does not verify") from None


def _key_encryption_key(shared: bytes) -> bytes:
    return ConcatKDFHash(hashes.SHA256(), CEK_BYTES, _KDF_OTHER_INFO).derive(shared)


def encrypt(header: Mapping[str, Any], plaintext: bytes, recipient: OKPKey) -> str:
    """A compact JWE of ``plaintext`` to an X25519 public key; ``header`` without ``epk``."""
    public = recipient.public_key
    if not isinstance(public, X25519PublicKey):
        raise TypeError("the recipient key is not X25519")
    ephemeral = X25519PrivateKey.generate()
    epk = ephemeral.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    protected = {**header, "epk": {"crv": "X25519", "x": b64url_encode(epk), "kty": "OKP"}}
    header_segment = encode_header(protected)
    cek = AESGCM.generate_key(bit_length=CEK_BYTES * 8)
    wrapped = aes_key_wrap(_key_encryption_key(ephemeral.exchange(public)), cek)
    iv = os.urandom(IV_BYTES)
    sealed = AESGCM(cek).encrypt(iv, plaintext, header_segment.encode("ascii"))
    ciphertext, tag = sealed[:-TAG_BYTES], sealed[-TAG_BYTES:]
    return ".".join(
        (
            header_segment,
            b64url_encode(wrapped),
            b64url_encode(iv),
            b64url_encode(ciphertext),
            b64url_encode(tag),
        )
    )


def decrypt(header_segment: str, parts: list[bytes], epk: bytes, key: OKPKey) -> bytes:
    """Decrypt a compact JWE with an X25519 private key.

    Args:
        header_segment: the protected header as sent (the additional data).
        parts: the encrypted key, IV, ciphertext and tag, decoded.
        epk: the header's ephemeral public key, decoded.
        key: the recipient's private key.

    The caller has checked the header against the profile.

    Raises:
        EnvelopeError: ``envelope.undecryptable`` for any failure.
    """
    private = key.private_key
    if not isinstance(private, X25519PrivateKey) or len(header_segment) > MAX_JWE_HEADER_CHARS:
        raise EnvelopeError(ErrorCode.UNDECRYPTABLE, "JWE does not decrypt")
    wrapped, iv, ciphertext, tag = parts
    if (len(wrapped), len(iv), len(tag)) != (WRAPPED_CEK_BYTES, IV_BYTES, TAG_BYTES):
        raise EnvelopeError(ErrorCode.UNDECRYPTABLE, "JWE does not decrypt")
    try:
        shared = private.exchange(X25519PublicKey.from_public_bytes(epk))
        cek = aes_key_unwrap(_key_encryption_key(shared), wrapped)
        return AESGCM(cek).decrypt(iv, ciphertext + tag, header_segment.encode("ascii"))
    except (InvalidUnwrap, InvalidTag, ValueError):
        # A low-order ephemeral key (an all-zero secret), a wrong key, any tampering.
        raise EnvelopeError(ErrorCode.UNDECRYPTABLE, "JWE does not decrypt") from None
