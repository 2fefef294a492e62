"""Console bearer tokens: created once, stored only as SHA-256 hashes in a 0600 file.

A token is ``hubt_`` followed by 32 random bytes (URL-safe base64); the prefix lets
secret scanners and people recognise one. The file keeps each token's name, role,
creation time and hash, never the token: whoever reads the file cannot call the
console. Like the private key files, a token file that group or others can read is
refused. Lookups compare against every stored hash with :func:`hmac.compare_digest`,
so the time taken says nothing about which hash was close.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import re
import secrets
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, Final, Protocol

from hub import safejson
from hub.console.base import ConsoleError, Role

if TYPE_CHECKING:
    from pathlib import Path

TOKEN_PREFIX: Final = "hubt_"  # noqa: S105 - a prefix that marks tokens, not a secret
NAME_PATTERN: Final = re.compile(r"^[a-z][a-z0-9-]{1,31}$")
_HASH: Final = re.compile(r"^[0-9a-f]{64}$")


@dataclass(frozen=True)
class TokenRecord:
    """One stored token: who it is for, what it may do, and its hash."""

    name: str
    role: Role
    created: datetime
    sha256: str


def token_hash(token: str) -> str:
    """The hex SHA-256 of ``token``, as stored."""
    return hashlib.sha256(token.encode()).hexdigest()


def check_name(name: str) -> str:
    """Return ``name`` if it is id-shaped.

    Raises:
        ConsoleError: ``tokens.invalid_name``.
    """
    if not NAME_PATTERN.match(name):
        raise ConsoleError("tokens.invalid_name", "names are 2-32 of a-z, 0-9 and -, from a-z")
    return name


def _record(item: Any) -> TokenRecord:
    try:
        record = TokenRecord(
            check_name(item["name"]),
            Role(item["role"]),
            datetime.fromisoformat(item["created"]),
            item["sha256"],
        )
    except (KeyError, TypeError, ValueError, ConsoleError):
        raise ConsoleError("tokens.unreadable", "an entry is not a token record") from None
    if not isinstance(record.sha256, str) or not _HASH.match(record.sha256):
        raise ConsoleError("tokens.unreadable", f"entry {record.name}: hash is not a SHA-256")
    return record


def _as_json(record: TokenRecord) -> dict[str, str]:
    return {
        "name": record.name,
        "role": record.role.value,
        "created": record.created.isoformat(),
        "sha256": record.sha256,
    }


class TokenSource(Protocol):
    """Where the console finds the current tokens (a file that may change)."""

    def current(self) -> TokenStore:
        """Return the tokens as they are now."""
        ...


class TokenStore:
    """The console's tokens, held in memory and saved to one file."""

    def __init__(self, records: tuple[TokenRecord, ...] = ()) -> None:
        """Hold ``records``.

        Raises:
            ConsoleError: ``tokens.exist`` when a name repeats.
        """
        names = [r.name for r in records]
        if len(set(names)) != len(names):
            raise ConsoleError("tokens.exist", "a token name appears twice")
        self.records = records

    @classmethod
    def load(cls, path: Path) -> TokenStore:
        """Read a token file, or an empty store when there is none yet.

        Raises:
            ConsoleError: ``tokens.unsafe_mode`` for a file group or others can read,
                ``tokens.unreadable`` for one that is not a token file.
        """
        if not path.exists():
            return cls()
        if path.stat().st_mode & 0o077:
            raise ConsoleError("tokens.unsafe_mode", f"{path.name} must have mode 0600")
        try:
            document = safejson.loads(path.read_bytes())
            items = document["tokens"]
        except (ValueError, KeyError, TypeError):
            raise ConsoleError("tokens.unreadable", f"{path.name}: not a token file") from None
        if not isinstance(items, list):
            raise ConsoleError("tokens.unreadable", f"{path.name}: not a token file")
        return cls(tuple(_record(item) for item in items))

    def save(self, path: Path) -> None:
        """Write the store to ``path``, mode 0600, replacing it whole."""
        text = safejson.dumps({"tokens": [_as_json(r) for r in self.records]}) + "\n"
        partial = path.with_name(f".{path.name}.partial")
        descriptor = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        os.fchmod(descriptor, 0o600)
        with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
            handle.write(text)
        partial.replace(path)

    def create(self, name: str, role: Role, at: datetime) -> tuple[TokenStore, str]:
        """Make a fresh token for ``name``.

        Returns:
            The store with the new record, and the token itself (shown once, never stored).

        Raises:
            ConsoleError: ``tokens.invalid_name``, or ``tokens.exist`` for a name in use.
        """
        check_name(name)
        if any(r.name == name for r in self.records):
            raise ConsoleError("tokens.exist", f"a token named {name} exists; revoke it first")
        token = TOKEN_PREFIX + secrets.token_urlsafe(32)
        record = TokenRecord(name, role, at, token_hash(token))
        return TokenStore((*self.records, record)), token

    def revoke(self, name: str) -> TokenStore:
        """Return the store without the token ``name``.

        Raises:
            ConsoleError: ``tokens.not_found``.
        """
        kept = tuple(r for r in self.records if r.name != name)
        if len(kept) == len(self.records):
            raise ConsoleError("tokens.not_found", f"no token named {check_name(name)}")
        return TokenStore(kept)

    def current(self) -> TokenStore:
        """This store (a fixed :class:`TokenSource`, for tests)."""
        return self

    def authenticate(self, token: str) -> TokenRecord | None:
        """Return the record whose hash matches ``token``, or None.

        Every stored hash is compared, in constant time each, whatever matches.
        """
        presented = token_hash(token)
        found = None
        for record in self.records:
            if hmac.compare_digest(record.sha256, presented):
                found = record
        return found


class TokenFile:
    """A token file, re-read when it changes, so a revocation applies without a restart."""

    def __init__(self, path: Path) -> None:
        """Read ``path`` now (see :meth:`TokenStore.load` for errors)."""
        self.path = path
        self._seen = self._stamp()
        self._store = TokenStore.load(path)

    def _stamp(self) -> tuple[int, int, int] | None:
        try:
            status = self.path.stat()
        except FileNotFoundError:
            return None
        return status.st_mtime_ns, status.st_size, status.st_ino

    def current(self) -> TokenStore:
        """The tokens as the file holds them now.

        A file that became unreadable or unsafe leaves no token valid: failing
        closed beats serving on a stale list that may hold a revoked token.
        """
        stamp = self._stamp()
        if stamp != self._seen:
            self._seen = stamp
            try:
                self._store = TokenStore.load(self.path)
            except ConsoleError:
                self._store = TokenStore()
        return self._store
