"""When and how the ledger writes signed checkpoints of its Merkle tree.

A checkpoint is written inside a write transaction, under the store's write lock,
so it describes a head no other writer can move while it is signed. Whichever
worker's transaction finds the head ``every_entries`` past the last checkpoint, or
finds unsigned entries ``every_seconds`` after its own last checkpoint, writes the
next one; the check under the lock keeps workers from writing two for one size.

Each checkpoint is written twice, signed by the same key (ADR 0026): as the compact
JWS older ledgers hold, and as a C2SP signed note (``tlog-checkpoint``): the origin
``<ledger_origin>/<ledger id>``, the tree size and the base64 RFC 9162 root, with
an Ed25519 note signature whose key name is the origin. Witnesses cosign the note.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from hub import safejson
from hub.crypto import Checkpoint, log_signer, sign_checkpoint, sign_note
from hub.ledger.base import StoredCheckpoint
from hub.ledger.merkle import Frontier

if TYPE_CHECKING:
    from datetime import datetime

    from hub.crypto import KeyRecord, PartyKeyring
    from hub.ledger.base import Head, LedgerTransaction


@dataclass(frozen=True)
class CheckpointPolicy:
    """How often to checkpoint: after so many new entries, or so many seconds."""

    every_entries: int = 1000
    every_seconds: float = 60.0

    def __post_init__(self) -> None:
        """Refuse intervals that would never or always fire.

        Raises:
            ValueError: a non-positive interval.
        """
        if self.every_entries < 1 or self.every_seconds <= 0:
            raise ValueError("checkpoint intervals must be positive")


def tree_head(head: Head, ledger_id: str, at: datetime) -> dict[str, Any]:
    """The checkpoint members for ``head``: size, root, last entry hash, time, ledger id."""
    frontier = Frontier(head.size, (bytes.fromhex(h) for h in head.frontier))
    return {
        "tree_size": head.size,
        "root_hash": frontier.root().hex(),
        "last_entry_hash": head.last_entry_hash,
        "time": int(at.timestamp()),
        "ledger_id": ledger_id,
    }


#: The origin's first part when a deployment names none (``ledger_origin``).
DEFAULT_ORIGIN = "case-event-hub.invalid/ledger"


@dataclass(frozen=True)
class LogName:
    """What names a ledger in its checkpoints: its id (JWS) and its origin (notes)."""

    ledger_id: str
    prefix: str = DEFAULT_ORIGIN

    @property
    def origin(self) -> str:
        """The notes' origin line: ``<prefix>/<ledger id>``."""
        return f"{self.prefix}/{self.ledger_id}"


def checkpoint_note(head: Head, origin: str, key: KeyRecord) -> str:
    """The C2SP checkpoint of ``head`` under ``origin``, signed by ``key``."""
    frontier = Frontier(head.size, (bytes.fromhex(h) for h in head.frontier))
    text = Checkpoint(origin, head.size, frontier.root()).text()
    return sign_note(text, [log_signer(origin, key)])


async def write_checkpoint(
    tx: LedgerTransaction, keyring: PartyKeyring, name: LogName, at: datetime, *, min_new: int
) -> StoredCheckpoint | None:
    """Sign and store a checkpoint if at least ``min_new`` entries are not yet covered.

    It is stored as a JWS naming ``name.ledger_id`` and as a note under ``name.origin``.

    Returns:
        The new checkpoint, or None when none was due.

    Raises:
        EnvelopeError: ``key.not_valid`` when the hub has no signing key valid at ``at``.
    """
    head = await tx.head()
    latest = await tx.latest_checkpoint()
    covered = latest.tree_size if latest is not None else 0
    if head.size - covered < max(min_new, 1):
        return None
    key = keyring.signing_key(at)
    token = sign_checkpoint(tree_head(head, name.ledger_id, at), key)
    note = checkpoint_note(head, name.origin, key)
    checkpoint = StoredCheckpoint(head.size, token, note)
    await tx.add_checkpoint(checkpoint)
    return checkpoint


def claimed_size(token: str) -> int:
    """The ``tree_size`` a checkpoint *claims*, read without verifying it.

    Only for placing a checkpoint that failed verification in the report; never
    for trusting one. Unreadable tokens claim 0.
    """
    try:
        payload = token.split(".")[1]
        claims = safejson.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
        size = claims["tree_size"]
    except (IndexError, ValueError, binascii.Error, KeyError, TypeError):
        return 0
    return size if isinstance(size, int) and not isinstance(size, bool) and size >= 0 else 0
