"""Party keys: generation, JWK files, the keyring a party holds and the directory all share.

Each party (an agency, or the hub itself) holds an Ed25519 signing key and an X25519
encryption key, published as a JWK Set with ``kid`` (the RFC 7638 thumbprint),
``use``, ``alg`` and two validity members, ``nbf`` and ``exp`` (seconds since the
epoch; unknown to RFC 7517, which tells readers to ignore members they do not
understand). A party may hold several valid keys at once: a new key is published
before the old one expires, so a message sealed or signed during rotation still
opens (ADR 0002).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import cached_property
from typing import TYPE_CHECKING, Any, Final, Literal

from joserfc.errors import JoseError
from joserfc.jwk import OKPKey

from hub import safejson
from hub.crypto.base import KEY_ALG, SIGNING_ALG, EnvelopeError, ErrorCode
from hub.errors import HubError
from schemas.parties import PARTY_ID

if TYPE_CHECKING:
    from pathlib import Path

KeyUse = Literal["sig", "enc"]

_CURVES: Final[dict[str, Literal["Ed25519", "X25519"]]] = {"sig": "Ed25519", "enc": "X25519"}
_ALGS: Final[dict[str, str]] = {"sig": SIGNING_ALG, "enc": KEY_ALG}
_VALIDITY_MEMBERS: Final = ("nbf", "exp")
DEFAULT_VALIDITY: Final = timedelta(days=365)
PUBLIC_SUFFIX: Final = ".jwks.json"
#: Validity bounds beyond this (year 2286) are mistakes, and overflow datetime on some systems.
MAX_EPOCH: Final = 10**10
PRIVATE_SUFFIX: Final = ".private.jwks.json"


class KeyFileError(HubError, ValueError):
    """A key file is unreadable, inconsistent or unsafe (``keys.unreadable``)."""

    def __init__(self, detail: str) -> None:
        """Say which file or key is wrong, never its material."""
        super().__init__("keys.unreadable", detail)


@dataclass(frozen=True)
class KeyRecord:
    """One key of one party with its validity window."""

    party: str
    use: KeyUse
    not_before: datetime
    not_after: datetime
    key: OKPKey = field(repr=False)

    @cached_property
    def kid(self) -> str:
        """The key id: the RFC 7638 thumbprint of the public key.

        Computed once per record: the hub looks keys up by id several times per
        message, and a thumbprint costs a canonical JSON and a SHA-256 each time.
        The record is frozen and its key never changes, so the cached id holds.
        """
        return str(self.key.thumbprint())

    @cached_property
    def public_x(self) -> str:
        """The public key's ``x`` member (base64url), computed once like :attr:`kid`."""
        return str(self.key.as_dict(private=False)["x"])

    def valid_at(self, at: datetime) -> bool:
        """Whether the key may be used at ``at``."""
        return self.not_before <= at < self.not_after

    def public(self) -> KeyRecord:
        """Return the same record without private material."""
        public_key = OKPKey.import_key(self.key.as_dict(private=False))
        return KeyRecord(self.party, self.use, self.not_before, self.not_after, public_key)

    def to_jwk(self, *, private: bool = False) -> dict[str, Any]:
        """Return the JWK, with ``kid``, ``use``, ``alg``, ``nbf`` and ``exp``."""
        jwk: dict[str, Any] = dict(self.key.as_dict(private=private))
        jwk.update(
            kid=self.kid,
            use=self.use,
            alg=_ALGS[self.use],
            nbf=int(self.not_before.timestamp()),
            exp=int(self.not_after.timestamp()),
        )
        return jwk

    @classmethod
    def from_jwk(cls, party: str, jwk: dict[str, Any]) -> KeyRecord:
        """Read one JWK of ``party``, checking curve, use, algorithm and key id.

        Raises:
            KeyFileError: the JWK is not an allowed key of this project.
        """
        use = jwk.get("use")
        if use not in _CURVES or jwk.get("kty") != "OKP" or jwk.get("crv") != _CURVES[use]:
            raise KeyFileError("key is not an Ed25519 signing or X25519 encryption JWK")
        if jwk.get("alg") != _ALGS[use]:
            raise KeyFileError("key algorithm is not allowed for its use")
        nbf, exp = (jwk.get(m) for m in _VALIDITY_MEMBERS)
        if not all(type(t) is int and 0 <= t < MAX_EPOCH for t in (nbf, exp)):
            raise KeyFileError("nbf and exp must be whole seconds since the epoch")
        material = {k: v for k, v in jwk.items() if k not in (*_VALIDITY_MEMBERS, "kid")}
        try:
            key = OKPKey.import_key(material)
        except (KeyError, TypeError, ValueError, JoseError) as error:
            raise KeyFileError(f"key is incomplete: {type(error).__name__}") from None
        record = cls(party, use, _from_epoch(nbf), _from_epoch(exp), key)  # type: ignore[arg-type]
        if jwk.get("kid") != record.kid:
            raise KeyFileError("kid is not the RFC 7638 thumbprint of the key")
        return record


def _from_epoch(seconds: int) -> datetime:
    return datetime.fromtimestamp(seconds, tz=UTC)


def generate_key(party: str, use: KeyUse, not_before: datetime, not_after: datetime) -> KeyRecord:
    """Generate one fresh private key for ``party``."""
    if not_after <= not_before:
        raise ValueError("a key must expire after it becomes valid")
    key = OKPKey.generate_key(_CURVES[use], private=True)
    return KeyRecord(
        party, use, not_before.replace(microsecond=0), not_after.replace(microsecond=0), key
    )


@dataclass(frozen=True)
class PartyKeyring:
    """The private keys one party holds: possibly several of each use during rotation."""

    party: str
    keys: tuple[KeyRecord, ...]

    def signing_key(self, at: datetime) -> KeyRecord:
        """Return the newest signing key valid at ``at``.

        Raises:
            EnvelopeError: ``key.not_valid`` when the party has no valid signing key.
        """
        return self._newest("sig", at)

    def encryption_key(self, kid: str, at: datetime) -> KeyRecord:
        """Return the encryption key named ``kid`` if it is valid at ``at``.

        Raises:
            EnvelopeError: ``envelope.undecryptable`` for a key this party does not
                hold, ``key.not_valid`` for one outside its validity.
        """
        for record in self.keys:
            if record.use == "enc" and record.kid == kid:
                if not record.valid_at(at):
                    raise EnvelopeError(ErrorCode.KEY_NOT_VALID, "recipient key is not valid now")
                return record
        raise EnvelopeError(ErrorCode.UNDECRYPTABLE, "sealed to a key this party does not hold")

    def _newest(self, use: KeyUse, at: datetime) -> KeyRecord:
        valid = [r for r in self.keys if r.use == use and r.valid_at(at)]
        if not valid:
            raise EnvelopeError(ErrorCode.KEY_NOT_VALID, f"party has no valid {use} key now")
        return max(valid, key=lambda r: r.not_before)

    def public_records(self) -> list[KeyRecord]:
        """Return the public half of every key."""
        return [record.public() for record in self.keys]


def generate_party_keys(
    party: str,
    not_before: datetime | None = None,
    validity: timedelta = DEFAULT_VALIDITY,
) -> PartyKeyring:
    """Generate a signing and an encryption key for ``party``.

    Args:
        party: the party id (as in ``agency.<id>.inbox``).
        not_before: when the keys become valid; now if not given.
        validity: how long they stay valid.

    Returns:
        A keyring holding the two new private keys.
    """
    start = not_before or datetime.now(UTC)
    keys = tuple(generate_key(party, use, start, start + validity) for use in ("sig", "enc"))
    return PartyKeyring(party, keys)


def _write_private(path: Path, text: str) -> None:
    flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC
    descriptor = os.open(path, flags, 0o600)
    os.fchmod(descriptor, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
        handle.write(text)


def _jwks_text(party: str, records: list[KeyRecord], *, private: bool) -> str:
    document = {"party": party, "keys": [r.to_jwk(private=private) for r in records]}
    return safejson.dumps(document) + "\n"


def save_keyring(keyring: PartyKeyring, directory: Path) -> tuple[Path, Path]:
    """Write the private JWK Set (mode 0600) and the public JWK Set of a party.

    Returns:
        The paths of the private and the public file.
    """
    directory.mkdir(parents=True, exist_ok=True)
    private_path = directory / f"{keyring.party}{PRIVATE_SUFFIX}"
    public_path = directory / f"{keyring.party}{PUBLIC_SUFFIX}"
    _write_private(private_path, _jwks_text(keyring.party, list(keyring.keys), private=True))
    public_path.write_text(_jwks_text(keyring.party, keyring.public_records(), private=False))
    return private_path, public_path


def save_directory(directory: KeyDirectory, folder: Path) -> list[Path]:
    """Write every party's public JWK Set of ``directory`` into ``folder``.

    Returns:
        The paths written, one per party.
    """
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for party in sorted(directory.parties()):
        records = directory.records(party, "sig") + directory.records(party, "enc")
        path = folder / f"{party}{PUBLIC_SUFFIX}"
        path.write_text(_jwks_text(party, records, private=False))
        written.append(path)
    return written


def _read_jwks(path: Path) -> tuple[str, list[dict[str, Any]]]:
    try:
        document = safejson.loads(path.read_bytes())
        party, keys = document["party"], document["keys"]
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise KeyFileError(f"{path.name}: not a party JWK Set ({type(error).__name__})") from None
    if not isinstance(party, str) or not isinstance(keys, list):
        raise KeyFileError(f"{path.name}: not a party JWK Set")
    # The file name says whose keys these are, and must agree with the content: a
    # file cannot lend its keys to another party (the hub above all).
    expected = path.name.removesuffix(PRIVATE_SUFFIX).removesuffix(PUBLIC_SUFFIX)
    if not PARTY_ID.match(party) or party != expected:
        raise KeyFileError(f"{path.name}: party is not the one the file is named for")
    return party, keys


def load_keyring(path: Path) -> PartyKeyring:
    """Read a party's private JWK Set, refusing a file others can read.

    Raises:
        KeyFileError: the file is readable by group or others, or is not a key set.
    """
    if path.stat().st_mode & 0o077:
        raise KeyFileError(f"{path.name}: private key file must have mode 0600")
    party, keys = _read_jwks(path)
    records = tuple(KeyRecord.from_jwk(party, jwk) for jwk in keys)
    if any(not r.key.is_private for r in records):
        raise KeyFileError(f"{path.name}: a key in the private set has no private part")
    return PartyKeyring(party, records)


def add_keys(directory: Path, fresh: PartyKeyring) -> PartyKeyring:
    """Add freshly generated keys to a party's existing key files (rotation)."""
    existing = directory / f"{fresh.party}{PRIVATE_SUFFIX}"
    keys = load_keyring(existing).keys if existing.exists() else ()
    merged = PartyKeyring(fresh.party, keys + fresh.keys)
    save_keyring(merged, directory)
    return merged


class KeyDirectory:
    """The public keys of every party, answering which keys are valid when."""

    def __init__(self, records: list[KeyRecord]) -> None:
        """Index ``records`` by key id.

        Raises:
            KeyFileError: a key id appears twice or a record holds private material.
        """
        self._by_kid: dict[str, KeyRecord] = {}
        for record in records:
            if record.key.is_private:
                raise KeyFileError("the key directory holds public keys only")
            if record.kid in self._by_kid:
                raise KeyFileError("a key id appears twice in the directory")
            self._by_kid[record.kid] = record

    @classmethod
    def load(cls, directory: Path) -> KeyDirectory:
        """Load every public ``<party>.jwks.json`` in ``directory``."""
        records: list[KeyRecord] = []
        for path in sorted(directory.glob(f"*{PUBLIC_SUFFIX}")):
            if path.name.endswith(PRIVATE_SUFFIX):
                continue
            party, keys = _read_jwks(path)
            records.extend(KeyRecord.from_jwk(party, jwk) for jwk in keys)
        return cls(records)

    @classmethod
    def of(cls, *keyrings: PartyKeyring) -> KeyDirectory:
        """Build a directory from the public halves of ``keyrings``."""
        return cls([record for ring in keyrings for record in ring.public_records()])

    def parties(self) -> set[str]:
        """Return every party that has at least one key."""
        return {record.party for record in self._by_kid.values()}

    def records(self, party: str, use: KeyUse) -> list[KeyRecord]:
        """Return every key of ``party`` for ``use``, valid or not, oldest first."""
        found = [r for r in self._by_kid.values() if r.party == party and r.use == use]
        return sorted(found, key=lambda r: r.not_before)

    def valid_keys(self, party: str, use: KeyUse, at: datetime) -> list[KeyRecord]:
        """Return the keys of ``party`` for ``use`` valid at ``at``, newest first."""
        valid = [
            r for r in self._by_kid.values() if r.party == party and r.use == use and r.valid_at(at)
        ]
        return sorted(valid, key=lambda r: r.not_before, reverse=True)

    def encryption_key(self, party: str, at: datetime) -> KeyRecord:
        """Return the newest encryption key of ``party`` valid at ``at``.

        Raises:
            EnvelopeError: ``key.not_valid`` when the party has none.
        """
        valid = self.valid_keys(party, "enc", at)
        if not valid:
            raise EnvelopeError(ErrorCode.KEY_NOT_VALID, "recipient has no valid encryption key")
        return valid[0]

    def verification_key(self, kid: str, at: datetime) -> KeyRecord:
        """Return the signing key ``kid`` if it is valid at ``at``.

        Raises:
            EnvelopeError: ``sender.unknown`` for an unknown kid, ``key.not_valid``
                for a key of the wrong use or outside its validity.
        """
        record = self._by_kid.get(kid)
        if record is None:
            raise EnvelopeError(ErrorCode.SENDER_UNKNOWN, "signing key is not in the directory")
        if record.use != "sig" or not record.valid_at(at):
            raise EnvelopeError(ErrorCode.KEY_NOT_VALID, "signing key is not valid now")
        return record
