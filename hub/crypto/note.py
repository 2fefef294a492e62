"""Signed notes (C2SP ``signed-note``) with Ed25519, and checkpoints (C2SP ``tlog-checkpoint``).

A signed note is UTF-8 text ending in a newline, a blank line, then one or more
signature lines ``— <key name> base64(key ID || signature)``. An Ed25519 key's ID
is the first four bytes of SHA-256(key name || 0x0A || 0x01 || public key); its
verifier key is written ``<name>+<key ID in hex>+base64(0x01 || public key)``.
A checkpoint is a note whose text is the log's origin, its tree size in decimal and
the base64 of its RFC 6962 root hash, one per line, then any extension lines. A
witness cosigns one (C2SP ``tlog-cosignature``, type 0x04) by signing
``cosignature/v1``, a ``time`` line and the checkpoint text, and puts the time in
its signature line before the signature.

An ML-DSA-44 cosigner (type 0x06, which the spec recommends for new deployments)
signs a binary ``cosigned_message`` instead: the label ``subtree/v1``, its own name,
the time, the origin, the range 0 to the size, and the root; it covers no extension
lines. The ledger's checkpoints are written in this format beside their JWS form,
and partner agencies' witnesses cosign them (``hub witness``). The formats are
checked against the specs' examples, golang.org/x/mod's reference vector and
torchwood's ML-DSA-44 checkpoint (tests/hub/crypto/test_note.py).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.asymmetric.mldsa import MLDSA44PrivateKey, MLDSA44PublicKey

from hub.errors import HubError

if TYPE_CHECKING:
    from collections.abc import Iterable

    from hub.crypto.keys import KeyRecord

#: The signature type byte of Ed25519 notes.
ED25519: Final = 0x01
#: The signature type byte of timestamped Ed25519 cosignatures (C2SP tlog-cosignature).
COSIGNATURE: Final = 0x04
#: The signature type byte of timestamped ML-DSA-44 cosignatures (C2SP tlog-cosignature).
MLDSA_COSIGNATURE: Final = 0x06
#: Each type's public key length.
_KEY_BYTES: Final = {ED25519: 32, COSIGNATURE: 32, MLDSA_COSIGNATURE: 1312}
#: A cosignature's blob after its key ID: a u64 timestamp and the signature.
_COSIGNATURE_BYTES: Final = {COSIGNATURE: 8 + 64, MLDSA_COSIGNATURE: 8 + 2420}
_SUBTREE_LABEL: Final = b"subtree/v1\n\x00"
_EMPTY_ROOT: Final = hashlib.sha256(b"").digest()
EM_DASH: Final = "\N{EM DASH}"
#: The most signature lines a note may carry (the spec asks verifiers to accept 16).
MAX_SIGNATURES: Final = 64
MAX_NOTE_BYTES: Final = 1 << 20
_NAME: Final = re.compile(r"^[^\s+]+$")
_SIZE: Final = re.compile(r"^(0|[1-9][0-9]{0,19})$")


class NoteError(HubError):
    """A note, key or checkpoint that is malformed or does not verify.

    Codes: ``note.malformed``, ``note.key_invalid``, ``note.unverified`` (no known key
    signed it), ``note.signature_invalid`` (a known key's signature fails).
    """


def _b64decode(text: str) -> bytes:
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise NoteError("note.malformed", "not standard base64") from None


def key_id(name: str, public: bytes, kind: int = ED25519) -> int:
    """The key ID of the key ``public`` named ``name``, of signature type ``kind``."""
    digest = hashlib.sha256(name.encode() + b"\n" + bytes([kind]) + public).digest()
    return int.from_bytes(digest[:4], "big")


def cosigned_message(text: str, timestamp: int) -> bytes:
    """What an Ed25519 cosigner signs: ``cosignature/v1``, the time, then the note text."""
    return f"cosignature/v1\ntime {timestamp}\n{text}".encode()


def subtree_message(name: str, timestamp: int, text: str) -> bytes:
    """What an ML-DSA-44 cosigner signs for the checkpoint ``text`` (``cosigned_message``).

    The label, the cosigner's name, the time, the log's origin, the range ``0`` to
    the tree size, and the root, each length-prefixed or fixed as the spec lays out.

    Raises:
        NoteError: ``note.malformed`` for text that is not a checkpoint without
            extension lines (this signature covers none), a name or origin longer
            than 255 bytes, or an empty tree whose root is not the empty tree's.
    """
    checkpoint = Checkpoint.parse(text)
    cosigner, origin = name.encode(), checkpoint.origin.encode()
    if checkpoint.extensions or not 0 < len(cosigner) < 256 or not 0 < len(origin) < 256:  # noqa: PLR2004
        raise NoteError("note.malformed", "not a checkpoint an ML-DSA-44 cosignature covers")
    if checkpoint.size == 0 and checkpoint.root != _EMPTY_ROOT:
        raise NoteError("note.malformed", "an empty tree's root is SHA-256 of nothing")
    return b"".join(
        (
            _SUBTREE_LABEL,
            bytes([len(cosigner)]),
            cosigner,
            timestamp.to_bytes(8, "big"),
            bytes([len(origin)]),
            origin,
            (0).to_bytes(8, "big"),
            checkpoint.size.to_bytes(8, "big"),
            checkpoint.root,
        )
    )


def cosignature_time(blob: bytes, kind: int = COSIGNATURE) -> int:
    """The timestamp of a cosignature's blob (after its key ID), of type ``kind``.

    Raises:
        NoteError: ``note.malformed`` for a blob of another length or a time past 2^63 - 1.
    """
    if len(blob) != _COSIGNATURE_BYTES.get(kind) or blob[0] & 0x80:
        raise NoteError("note.malformed", "not a timestamped cosignature")
    return int.from_bytes(blob[:8], "big")


def _message(kind: int, name: str, text: str, timestamp: int) -> bytes:
    """What a signer of type ``kind`` named ``name`` signs for ``text``."""
    if kind == COSIGNATURE:
        return cosigned_message(text, timestamp)
    if kind == MLDSA_COSIGNATURE:
        return subtree_message(name, timestamp, text)
    return text.encode()


@dataclass(frozen=True)
class NoteVerifier:
    """A note verifier: a key name, its key ID, its public key and its type.

    ``kind`` :data:`ED25519` verifies a note's own signature (a log's);
    :data:`COSIGNATURE` (Ed25519) and :data:`MLDSA_COSIGNATURE` (ML-DSA-44) a
    witness's timestamped cosignature of a checkpoint.
    """

    name: str
    id: int
    public: bytes
    kind: int = ED25519

    @classmethod
    def parse(cls, vkey: str) -> NoteVerifier:
        """Read a verifier key ``<name>+<hex ID>+base64(type || key)``.

        Raises:
            NoteError: ``note.key_invalid`` for any other shape, type or ID.
        """
        name, _, rest = vkey.partition("+")
        hex_id, _, material = rest.partition("+")
        try:
            raw = base64.b64decode(material, validate=True)
        except (binascii.Error, ValueError):
            raw = b""
        if (
            not _NAME.fullmatch(name)
            or not re.fullmatch(r"[0-9a-f]{8}", hex_id)
            or not raw
            or len(raw) != 1 + _KEY_BYTES.get(raw[0], -1)
            or key_id(name, raw[1:], raw[0]) != int(hex_id, 16)
        ):
            raise NoteError("note.key_invalid", "not a note or cosigner key of a known type")
        return cls(name, int(hex_id, 16), raw[1:], raw[0])

    def __str__(self) -> str:
        """The verifier key's text."""
        material = base64.b64encode(bytes([self.kind]) + self.public).decode()
        return f"{self.name}+{self.id:08x}+{material}"

    def verify(self, text: str, blob: bytes) -> bool:
        """Whether ``blob`` (after the key ID) is this key's signature of ``text``."""
        try:
            if self.kind == ED25519:
                Ed25519PublicKey.from_public_bytes(self.public).verify(blob, text.encode())
                return True
            message = _message(self.kind, self.name, text, cosignature_time(blob, self.kind))
            if self.kind == COSIGNATURE:
                Ed25519PublicKey.from_public_bytes(self.public).verify(blob[8:], message)
            else:
                MLDSA44PublicKey.from_public_bytes(self.public).verify(blob[8:], message)
        except (InvalidSignature, NoteError):
            return False
        return True


@dataclass(frozen=True)
class NoteSigner:
    """A note signer or a witness's cosigner, by ``kind``.

    :data:`ED25519` signs notes; :data:`COSIGNATURE` (Ed25519) and
    :data:`MLDSA_COSIGNATURE` (ML-DSA-44) cosign checkpoints as of a time.
    """

    name: str
    private: Ed25519PrivateKey | MLDSA44PrivateKey
    kind: int = ED25519

    @classmethod
    def parse(cls, skey: str) -> NoteSigner:
        """Read a signer key ``PRIVATE+KEY+<name>+<hex ID>+base64(type || seed)``.

        The seed is 32 bytes for every type: Ed25519's private key, or ML-DSA-44's
        seed (FIPS 204's ``xi``).

        Raises:
            NoteError: ``note.key_invalid`` for any other shape, or an ID that is
                not the key's.
        """
        parts = skey.split("+", 4)
        if len(parts) != 5 or parts[:2] != ["PRIVATE", "KEY"]:  # noqa: PLR2004 - the fields
            raise NoteError("note.key_invalid", "not a note signer key")
        _, _, name, hex_id, material = parts
        raw = _b64decode(material)
        if len(raw) != 33 or raw[0] not in _KEY_BYTES or not _NAME.fullmatch(name):  # noqa: PLR2004
            raise NoteError("note.key_invalid", "not a note signer key of a known type")
        private: Ed25519PrivateKey | MLDSA44PrivateKey
        if raw[0] == MLDSA_COSIGNATURE:
            private = MLDSA44PrivateKey.from_seed_bytes(raw[1:])
        else:
            private = Ed25519PrivateKey.from_private_bytes(raw[1:])
        signer = cls(name, private, raw[0])
        if f"{signer.verifier.id:08x}" != hex_id:
            raise NoteError("note.key_invalid", "the key ID is not the key's")
        return signer

    @classmethod
    def generate(cls, name: str, kind: int = ED25519) -> NoteSigner:
        """A new signer named ``name`` of type ``kind``.

        Raises:
            NoteError: ``note.key_invalid`` for a name with spaces or ``+``, or an
                unknown type.
        """
        if not _NAME.fullmatch(name) or kind not in _KEY_BYTES:
            raise NoteError("note.key_invalid", "not a key name, or not a known type")
        if kind == MLDSA_COSIGNATURE:
            return cls(name, MLDSA44PrivateKey.generate(), kind)
        return cls(name, Ed25519PrivateKey.generate(), kind)

    def __str__(self) -> str:
        """The signer key's text (secret: for the key file only)."""
        material = base64.b64encode(bytes([self.kind]) + self.private.private_bytes_raw()).decode()
        return f"PRIVATE+KEY+{self.name}+{self.verifier.id:08x}+{material}"

    @property
    def verifier(self) -> NoteVerifier:
        """The verifier of this signer."""
        public = self.private.public_key().public_bytes_raw()
        return NoteVerifier(self.name, key_id(self.name, public, self.kind), public, self.kind)

    def signature_line(self, text: str, timestamp: int | None = None) -> str:
        """The note's signature line for ``text`` (ending in a newline).

        A cosigner signs ``text`` as of ``timestamp`` (POSIX seconds).

        Raises:
            NoteError: ``note.malformed`` for a cosignature without a timestamp in
                0 to 2^63 - 1.
        """
        if self.kind == ED25519:
            blob = self.private.sign(text.encode())
        else:
            if timestamp is None or not 0 <= timestamp < 1 << 63:
                raise NoteError("note.malformed", "a cosignature needs its time")
            message = _message(self.kind, self.name, text, timestamp)
            blob = timestamp.to_bytes(8, "big") + self.private.sign(message)
        line = self.verifier.id.to_bytes(4, "big") + blob
        return f"{EM_DASH} {self.name} {base64.b64encode(line).decode()}\n"


def sign_note(text: str, signers: Iterable[NoteSigner]) -> str:
    """``text`` signed by each of ``signers``, as a C2SP signed note.

    Raises:
        NoteError: ``note.malformed`` for text that is not a note's text.
    """
    _check_text(text)
    lines = [signer.signature_line(text) for signer in signers]
    if not lines:
        raise NoteError("note.malformed", "a note needs a signature")
    return text + "\n" + "".join(lines)


def _check_text(text: str) -> None:
    if not text.endswith("\n") or any(c < " " and c != "\n" for c in text):
        raise NoteError("note.malformed", "note text ends in a newline and holds no control")


@dataclass(frozen=True)
class OpenedNote:
    """A note whose signatures were checked: its text and who verifiably signed it."""

    text: str
    signed_by: tuple[NoteVerifier, ...]


def _split(note: str | bytes) -> tuple[str, list[str]]:
    """A note's text and its signature lines.

    Raises:
        NoteError: ``note.malformed``.
    """
    data = note.encode() if isinstance(note, str) else note
    if len(data) > MAX_NOTE_BYTES:
        raise NoteError("note.malformed", "note too large")
    try:
        decoded = data.decode("utf-8")
    except UnicodeDecodeError:
        raise NoteError("note.malformed", "note is not UTF-8") from None
    split = decoded.rfind("\n\n")
    if split < 0 or not decoded.endswith("\n"):
        raise NoteError("note.malformed", "no blank line before the signatures")
    text, block = decoded[: split + 1], decoded[split + 2 :]
    _check_text(text)
    lines = block[:-1].split("\n")
    if len(lines) > MAX_SIGNATURES:
        raise NoteError("note.malformed", "too many signatures")
    return text, lines


def _signature(line: str) -> tuple[str, bytes]:
    """A signature line's key name and its key ID and signature bytes.

    Raises:
        NoteError: ``note.malformed``.
    """
    prefix, _, rest = line.partition(" ")
    name, _, encoded = rest.partition(" ")
    if prefix != EM_DASH or not _NAME.fullmatch(name) or " " in encoded:
        raise NoteError("note.malformed", "a signature line is malformed")
    blob = _b64decode(encoded)
    if len(blob) < 5:  # noqa: PLR2004 - a key ID and at least one byte
        raise NoteError("note.malformed", "a signature is too short")
    return name, blob


def open_note(note: str | bytes, verifiers: Iterable[NoteVerifier]) -> OpenedNote:
    """Check ``note`` against the known ``verifiers``, as C2SP signed-note says.

    Signatures of unknown keys (name and ID) are ignored; a known key's signature
    that fails rejects the note, and so does a note no known key signed.

    Raises:
        NoteError: ``note.malformed``, ``note.signature_invalid`` or ``note.unverified``.
    """
    text, lines = _split(note)
    known = {(v.name, v.id): v for v in verifiers}
    signed: list[NoteVerifier] = []
    for line in lines:
        name, blob = _signature(line)
        verifier = known.get((name, int.from_bytes(blob[:4], "big")))
        if verifier is None:
            continue
        if not verifier.verify(text, blob[4:]):
            raise NoteError("note.signature_invalid", f"the signature of {name} does not verify")
        if verifier not in signed:
            signed.append(verifier)
    if not signed:
        raise NoteError("note.unverified", "no known key signed the note")
    return OpenedNote(text, tuple(signed))


@dataclass(frozen=True)
class Checkpoint:
    """A log's checkpoint (C2SP tlog-checkpoint): origin, tree size, root hash, extensions."""

    origin: str
    size: int
    root: bytes
    extensions: tuple[str, ...] = ()

    def text(self) -> str:
        """The checkpoint as note text."""
        lines = [self.origin, str(self.size), base64.b64encode(self.root).decode()]
        return "\n".join([*lines, *self.extensions]) + "\n"

    @classmethod
    def parse(cls, text: str) -> Checkpoint:
        """Read a checkpoint's note text.

        Raises:
            NoteError: ``note.malformed`` for anything but an origin line, a decimal
                size without leading zeros, a base64 32-byte root and non-empty
                extension lines.
        """
        _check_text(text)
        lines = text[:-1].split("\n")
        if len(lines) < 3 or not lines[0] or not _SIZE.fullmatch(lines[1]):  # noqa: PLR2004
            raise NoteError("note.malformed", "not a checkpoint's origin, size and root")
        root = _b64decode(lines[2])
        if len(root) != 32 or any(not line for line in lines[3:]):  # noqa: PLR2004 - SHA-256
            raise NoteError("note.malformed", "not a checkpoint's root hash or extensions")
        return cls(lines[0], int(lines[1]), root, tuple(lines[3:]))


def log_signer(origin: str, key: KeyRecord) -> NoteSigner:
    """The note signer of a party's Ed25519 signing ``key``, named by the log's ``origin``.

    Raises:
        NoteError: ``note.key_invalid`` for a key without its private half.
    """
    private = key.key.private_key
    if not isinstance(private, Ed25519PrivateKey):
        raise NoteError("note.key_invalid", "a log signs with a private Ed25519 key")
    return NoteSigner(origin, private, ED25519)


def log_verifiers(origin: str, keys: Iterable[KeyRecord]) -> list[NoteVerifier]:
    """The note verifiers of a party's signing ``keys``, named by the log's ``origin``."""
    publics = (k.key.public_key.public_bytes_raw() for k in keys)
    return [NoteVerifier(origin, key_id(origin, raw), raw, ED25519) for raw in publics]
