r"""Keyed pseudonyms: the ledger names cases and people only through an HMAC.

``Pseudonymizer(key).case("MASIP-2026-000123")`` is ``c_`` and the base64url
HMAC-SHA256 of ``case\x00MASIP-2026-000123`` under the ledger key; ``person`` does
the same with ``p_`` and ``person\x00``, and ``content`` with ``d_`` and
``content\x00`` over an event's canonical JSON. The domain prefix keeps a case and a person
with the same reference apart. Without the key nobody can turn a pseudonym back
into a reference or test a guess; with it, an IG officer answering a subject
access request computes the pseudonym of one person and finds every entry about
them. The key is a file of its own (mode 0600), apart from the hub's signing keys.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
import secrets
from typing import TYPE_CHECKING, Final

from hub.ledger.base import ErrorCode, LedgerError

if TYPE_CHECKING:
    from collections.abc import Iterable
    from pathlib import Path

#: Key length in bytes: the HMAC-SHA256 block-safe size recommended by RFC 2104.
KEY_BYTES: Final = 32
_CASE: Final = b"case\x00"
_PERSON: Final = b"person\x00"
_CONTENT: Final = b"content\x00"


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


class Pseudonymizer:
    """Turns case and person references into stable keyed pseudonyms."""

    def __init__(self, key: bytes) -> None:
        """Hold ``key`` (at least 32 bytes).

        Raises:
            LedgerError: ``ledger.key_invalid`` for a key shorter than 32 bytes.
        """
        if len(key) < KEY_BYTES:
            raise LedgerError(ErrorCode.KEY_INVALID, f"ledger key must be {KEY_BYTES} bytes")
        self._key = key

    def __repr__(self) -> str:
        """Name the class, never the key."""
        return "Pseudonymizer(<key withheld>)"

    def _mac(self, domain: bytes, reference: str) -> str:
        return _b64url(hmac.new(self._key, domain + reference.encode(), hashlib.sha256).digest())

    def case(self, reference: str) -> str:
        """Return the pseudonym (``c_...``) of a case reference."""
        return "c_" + self._mac(_CASE, reference)

    def person(self, reference: str) -> str:
        """Return the pseudonym (``p_...``) of a person reference."""
        return "p_" + self._mac(_PERSON, reference)

    def persons(self, references: Iterable[str]) -> tuple[str, ...]:
        """Return the sorted, distinct pseudonyms of several person references."""
        return tuple(sorted({self.person(reference) for reference in references}))

    def content(self, canonical_json: str) -> str:
        """Return the keyed digest (``d_...``) of an event's canonical JSON.

        One event, however often it is signed and however its disclosures are
        salted, has one digest; another content under the same event id has
        another. Keyed, so a recipient who knows some of an event's groups cannot
        test guesses at the groups it was not given.
        """
        return "d_" + self._mac(_CONTENT, canonical_json)


def generate_ledger_key(path: Path) -> bytes:
    """Create a new ledger key file (mode 0600); never overwrite one.

    Returns:
        The new key.

    Raises:
        LedgerError: ``ledger.key_invalid`` when the file already exists.
    """
    key = secrets.token_bytes(KEY_BYTES)
    try:
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        raise LedgerError(ErrorCode.KEY_INVALID, f"{path.name} exists; not overwritten") from None
    os.fchmod(descriptor, 0o600)
    with os.fdopen(descriptor, "w", encoding="ascii") as handle:
        handle.write(_b64url(key) + "\n")
    return key


def load_ledger_key(path: Path) -> bytes:
    """Read the ledger key: one line of base64url, in a file only its owner can read.

    Raises:
        LedgerError: ``ledger.key_invalid`` for a file group or others can read, or
            one that does not hold a 32-byte base64url key.
        OSError: the file cannot be read.
    """
    if path.stat().st_mode & 0o077:
        raise LedgerError(ErrorCode.KEY_INVALID, f"{path.name}: a key file must be mode 0600")
    text = path.read_text(encoding="ascii", errors="replace").strip()
    try:
        key = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError):
        raise LedgerError(ErrorCode.KEY_INVALID, f"{path.name}: not base64url") from None
    if len(key) != KEY_BYTES or _b64url(key) != text:
        raise LedgerError(ErrorCode.KEY_INVALID, f"{path.name}: not a {KEY_BYTES}-byte key")
    return key
