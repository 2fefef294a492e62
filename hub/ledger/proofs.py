"""The proof of one disclosure, checkable offline (C2SP ``tlog-proof``; ADR 0027).

An agency, or a data subject's IG officer, can be given one entry of the ledger
and a proof that it is in the tree a checkpoint note signed, and that the partner
witnesses cosigned that note, without the rest of the ledger:

    c2sp.org/tlog-proof@v1
    extra <base64 of the entry's stored body: its canonical JSON>
    index 612
    <one base64 hash a line: the RFC 9162 inclusion proof>

    <the checkpoint note, with the hub's signature and the witnesses' cosignatures>

The entry travels in ``extra``: the leaf is ``SHA-256(0x00 || body)``. Its people
are the ledger's pseudonyms, which nothing in the proof can turn back into anyone.
The checker reads the entry, hashes it, follows the inclusion proof to the note's
root, and checks the note's signature under the hub's keys and, given a witness
policy, its cosignatures against the quorum. ``deploy/audit/verify_ledger.py
--proof`` checks a proof the same way without the hub's code.
"""

from __future__ import annotations

import base64
import binascii
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final

from hub.crypto import Checkpoint, NoteError, log_verifiers, open_note
from hub.errors import HubError
from hub.ledger import chain
from hub.ledger.base import StoredEntry
from hub.ledger.merkle import HASH_BYTES, inclusion_proof, verify_inclusion

if TYPE_CHECKING:
    import uuid

    from hub.crypto import KeyDirectory, WitnessPolicy
    from hub.ledger.base import LedgerStore, StoredCheckpoint
    from hub.ledger.entries import LedgerEntry

HEADER: Final = "c2sp.org/tlog-proof@v1"
_INDEX: Final = re.compile(r"^index (0|[1-9][0-9]{0,19})$")
#: An inclusion proof in a tree of at most 2^64 leaves has at most 64 hashes.
MAX_PROOF_HASHES: Final = 64
_PAGE: Final = 1000


class ProofError(HubError):
    """A proof that cannot be made or does not hold.

    Codes: ``proof.no_entry`` (no entry under that decision id), ``proof.no_checkpoint``
    (no checkpoint note covers it yet), ``proof.malformed``, ``proof.not_included``
    (the path does not lead to the note's root), ``proof.unsigned`` (the note is not
    signed by a hub key), ``proof.unwitnessed`` (the policy's quorum did not cosign).
    """


@dataclass(frozen=True)
class ProvenEntry:
    """What a proof that holds shows: the entry, its position, the tree and its witnesses."""

    entry: LedgerEntry
    index: int
    tree_size: int
    origin: str
    witnesses: tuple[str, ...]


def _covering(checkpoints: list[StoredCheckpoint], seq: int) -> StoredCheckpoint | None:
    """The newest checkpoint note covering position ``seq`` (the most cosignatures)."""
    noted = [c for c in checkpoints if c.note is not None and c.tree_size > seq]
    return noted[-1] if noted else None


async def disclosure_proof(store: LedgerStore, decision_id: uuid.UUID) -> str:
    """The tlog-proof of the entry recorded under ``decision_id``.

    Raises:
        ProofError: ``proof.no_entry`` or ``proof.no_checkpoint``.
        LedgerError: the store cannot be read.
    """
    row = await store.find_decision(decision_id)
    if row is None:
        raise ProofError("proof.no_entry", "no entry is recorded under that decision id")
    checkpoint = _covering(await store.checkpoints(), row.seq)
    if checkpoint is None or checkpoint.cosigned_note is None:
        raise ProofError("proof.no_checkpoint", f"no checkpoint note covers entry {row.seq} yet")
    hashes: list[bytes] = []
    while len(hashes) < checkpoint.tree_size:
        rows = await store.scan(len(hashes), _PAGE)
        if not rows:
            break
        hashes.extend(chain.leaf_of(r.body) for r in rows)
    path = inclusion_proof(row.seq, hashes[: checkpoint.tree_size])
    lines = [
        HEADER,
        "extra " + base64.b64encode(row.body.encode("utf-8")).decode(),
        f"index {row.seq}",
        *(base64.b64encode(p).decode() for p in path),
    ]
    return "\n".join(lines) + "\n\n" + checkpoint.cosigned_note


@dataclass(frozen=True)
class _Parts:
    body: str
    index: int
    path: tuple[bytes, ...]
    note: str


def _parse(text: str) -> _Parts:
    """Split a proof into its entry, index, path and note.

    Raises:
        ProofError: ``proof.malformed``.
    """
    malformed = ProofError("proof.malformed", "not a C2SP tlog-proof of a ledger entry")
    head, separator, note = text.partition("\n\n")
    lines = head.split("\n")
    if not separator or len(lines) < 3 or lines[0] != HEADER or not lines[1].startswith("extra "):  # noqa: PLR2004
        raise malformed
    match = _INDEX.fullmatch(lines[2])
    if match is None or len(lines) - 3 > MAX_PROOF_HASHES:
        raise malformed
    try:
        body = base64.b64decode(lines[1][len("extra ") :], validate=True).decode("utf-8")
        path = tuple(base64.b64decode(line, validate=True) for line in lines[3:])
    except (binascii.Error, ValueError):
        raise malformed from None
    if any(len(p) != HASH_BYTES for p in path):
        raise malformed
    return _Parts(body, int(match.group(1)), path, note)


def check_proof(
    text: str, directory: KeyDirectory, *, party: str = "hub", policy: WitnessPolicy | None = None
) -> ProvenEntry:
    """Check a disclosure's proof offline, with the hub's public keys (and a witness policy).

    Raises:
        ProofError: ``proof.malformed``, ``proof.unsigned``, ``proof.not_included``,
            ``proof.unwitnessed``.
    """
    parts = _parse(text)
    try:
        checkpoint = Checkpoint.parse(parts.note[: parts.note.rindex("\n\n") + 1])
    except (ValueError, NoteError):
        raise ProofError("proof.malformed", "the checkpoint is not a note") from None
    logs = log_verifiers(checkpoint.origin, directory.records(party, "sig"))
    witnesses = policy.verifiers if policy is not None else ()
    try:
        opened = open_note(parts.note, [*logs, *witnesses])
    except NoteError as error:
        problem = "sender.unknown" if error.code == "note.unverified" else error.code
        raise ProofError("proof.unsigned", f"the checkpoint note: {problem}") from None
    if not any(v in logs for v in opened.signed_by):
        raise ProofError("proof.unsigned", "the checkpoint note: sender.unknown")
    leaf = chain.leaf_of(parts.body)
    if not verify_inclusion(parts.index, checkpoint.size, leaf, parts.path, checkpoint.root):
        raise ProofError("proof.not_included", f"entry {parts.index} is not in that tree")
    try:
        entry = chain.parse(StoredEntry(parts.index, parts.body, chain.hash_body(parts.body)))
    except HubError:
        raise ProofError(
            "proof.malformed", "the entry is not a ledger entry at its place"
        ) from None
    cosigners: tuple[str, ...] = ()
    if policy is not None:
        if not policy.satisfied(opened.signed_by):
            raise ProofError("proof.unwitnessed", "the witnesses' quorum did not cosign it")
        cosigners = tuple(policy.cosigners(opened.signed_by))
    return ProvenEntry(entry, parts.index, checkpoint.size, checkpoint.origin, cosigners)
