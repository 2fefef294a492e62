"""A witness's configuration: its keys, the logs it follows, where it keeps state and listens.

A TOML file (``deploy/witness.example.toml``)::

    keys = ["police-witness.key", "police-witness-pq.key"]   # note signer keys (skeys)
    state = "witness.db"
    host = "127.0.0.1"
    port = 7380
    logs = ["hub.exampleshire.example/ledger/4e1c...+a1b2c3d4+AUg..."]  # the hubs' vkeys

Paths are relative to the file. Each key is a C2SP note signer key of type 0x04
(Ed25519 cosignature) or 0x06 (ML-DSA-44 cosignature), made by ``hub witness
keygen``. Each log is the vkey ``hub audit log-key`` prints: its key name is the
log's origin, so a log is known by its origin and trusted by its keys.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeGuard

from hub.crypto import COSIGNATURE, ED25519, MLDSA_COSIGNATURE, NoteError, NoteSigner, NoteVerifier
from hub.errors import HubError

if TYPE_CHECKING:
    from pathlib import Path


class WitnessConfigError(HubError):
    """A configuration that cannot be used: ``witness.config_invalid`` naming the setting."""


@dataclass(frozen=True)
class WitnessConfig:
    """What ``hub witness serve`` needs."""

    signers: tuple[NoteSigner, ...]
    logs: dict[str, tuple[NoteVerifier, ...]]
    state: Path
    host: str = "127.0.0.1"
    port: int = 7380

    @classmethod
    def load(cls, path: Path) -> WitnessConfig:
        """Read and check a configuration file.

        Raises:
            WitnessConfigError: ``witness.config_invalid``, naming the setting, never
                a key's material.
        """
        try:
            document = tomllib.loads(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as error:
            raise WitnessConfigError(
                "witness.config_invalid", f"{path.name}: {type(error).__name__}"
            ) from None
        return cls.of(document, path.parent)

    @classmethod
    def of(cls, document: dict[str, Any], folder: Path) -> WitnessConfig:
        """Check a parsed configuration; relative paths are under ``folder``.

        Raises:
            WitnessConfigError: ``witness.config_invalid``.
        """
        unknown = set(document) - {"keys", "state", "host", "port", "logs"}
        if unknown:
            raise WitnessConfigError("witness.config_invalid", f"unknown: {sorted(unknown)}")
        keys, logs = document.get("keys"), document.get("logs")
        if not _strings(keys) or not _strings(logs):
            raise WitnessConfigError("witness.config_invalid", "keys and logs are lists of text")
        host, port, state = (
            document.get("host", "127.0.0.1"),
            document.get("port", 7380),
            document.get("state"),
        )
        if not isinstance(host, str) or type(port) is not int or not 0 <= port < 1 << 16:
            raise WitnessConfigError("witness.config_invalid", "host is text, port 0 to 65535")
        if not isinstance(state, str):
            raise WitnessConfigError("witness.config_invalid", "state names the state file")
        signers = tuple(_signer(folder / key, n) for n, key in enumerate(keys))
        trusted: dict[str, list[NoteVerifier]] = {}
        for n, vkey in enumerate(logs):
            verifier = _log_key(vkey, n)
            trusted.setdefault(verifier.name, []).append(verifier)
        return cls(
            signers,
            {origin: tuple(v) for origin, v in trusted.items()},
            folder / state,
            host,
            port,
        )


def _strings(value: object) -> TypeGuard[list[str]]:
    return isinstance(value, list) and bool(value) and all(isinstance(v, str) for v in value)


def _signer(path: Path, n: int) -> NoteSigner:
    try:
        signer = NoteSigner.parse(path.read_text(encoding="ascii").strip())
    except (OSError, UnicodeDecodeError, NoteError):
        raise WitnessConfigError(
            "witness.config_invalid", f"keys[{n}]: not a readable note signer key file"
        ) from None
    if signer.kind not in (COSIGNATURE, MLDSA_COSIGNATURE):
        raise WitnessConfigError(
            "witness.config_invalid", f"keys[{n}]: a witness key cosigns (type 0x04 or 0x06)"
        )
    return signer


def _log_key(vkey: str, n: int) -> NoteVerifier:
    try:
        verifier = NoteVerifier.parse(vkey)
    except NoteError:
        raise WitnessConfigError("witness.config_invalid", f"logs[{n}]: not a vkey") from None
    if verifier.kind != ED25519:
        raise WitnessConfigError("witness.config_invalid", f"logs[{n}]: not an Ed25519 log key")
    return verifier
