"""The hash chain: canonical bytes of an entry, its hash, and the link to the one before.

An entry's *body* is the RFC 8785 canonical JSON of every field but ``entry_hash``
(``seq`` and ``prev_hash`` included). ``entry_hash`` is the hex SHA-256 of the body;
``prev_hash`` is the previous entry's ``entry_hash``, or 64 zeros for the first.
The body is also the entry's leaf in the Merkle tree (:mod:`hub.ledger.merkle`):
one set of bytes, hashed two ways. Canonical JSON means any implementation, in any
language, that parses an entry and serialises it by RFC 8785 gets the same bytes,
so a verifier needs no Python and no trust in how the hub wrote them.
"""

from __future__ import annotations

import hashlib
from typing import Any

from pydantic import ValidationError

from hub import safejson
from hub.ledger.base import ErrorCode, LedgerError, NewEntry, StoredEntry
from hub.ledger.entries import EntryDraft, LedgerEntry
from hub.ledger.merkle import leaf_hash
from hub.safejson import canonical


def hash_body(body: str) -> str:
    """The hex SHA-256 of an entry body: the entry's ``entry_hash``."""
    return hashlib.sha256(body.encode("utf-8")).hexdigest()


def body_of(entry: LedgerEntry) -> str:
    """The canonical body of a committed entry (every field but ``entry_hash``)."""
    return canonical(entry.model_dump(mode="json", exclude={"entry_hash"}))


def leaf_of(body: str) -> bytes:
    """The Merkle leaf hash of an entry body."""
    return leaf_hash(body.encode("utf-8"))


def seal(draft: EntryDraft, seq: int, prev_hash: str) -> NewEntry:
    """Give ``draft`` its place: sequence number, link to the previous entry, hash.

    Returns:
        The row to insert: position, canonical body, hash and the indexed ids.
    """
    return seal_entry(draft, seq, prev_hash)[0]


def seal_entry(draft: EntryDraft, seq: int, prev_hash: str) -> tuple[NewEntry, LedgerEntry]:
    """Seal ``draft`` (:func:`seal`) and return its committed entry beside the row.

    The entry is built from the draft's validated fields rather than parsed back
    from the body the writer has just produced: :func:`parse` would re-hash,
    re-parse and re-serialise bytes this function made a moment ago, and
    validating the fields again would check what the draft checked. Reads from
    a store still go through :func:`parse`.
    """
    # Only the draft's own fields: a committed entry passed in again must not
    # smuggle its old place (seq, hashes) into the new body.
    own = draft.model_dump(mode="json", include=set(EntryDraft.model_fields))
    sealed = {**own, "seq": seq, "prev_hash": prev_hash}
    body = canonical(sealed)
    row = NewEntry(seq, body, hash_body(body), draft.decision_id, draft.event_id, sealed)
    # The draft's fields were validated when it was made, and the three added here
    # are this function's own: validating them all again would only cost time.
    fields: dict[str, Any] = draft.draft_fields()
    entry = LedgerEntry.model_construct(
        **fields, seq=seq, prev_hash=prev_hash, entry_hash=row.entry_hash
    )
    return row, entry


def parse(stored: StoredEntry) -> LedgerEntry:
    """Check a stored row and parse it into an entry.

    Raises:
        LedgerError: ``ledger.hash_mismatch`` when the body does not hash to the
            stored ``entry_hash``; ``ledger.entry_malformed`` when the body is not
            the canonical JSON of a valid entry at this row's position.
    """
    if hash_body(stored.body) != stored.entry_hash:
        raise LedgerError(ErrorCode.HASH_MISMATCH, f"entry {stored.seq} does not match its hash")
    try:
        fields = safejson.loads(stored.body)
        if isinstance(fields, dict):
            # Format 1 bodies carry no format field; their bytes stay as written.
            fields.setdefault("format", 1)
        entry = LedgerEntry.model_validate({**fields, "entry_hash": stored.entry_hash})
    except (ValueError, TypeError, ValidationError):
        # ValidationError is a ValueError; named for the reader. Its text may quote
        # the value, so it is not passed on.
        raise LedgerError(ErrorCode.ENTRY_MALFORMED, f"entry {stored.seq} is not valid") from None
    if body_of(entry) != stored.body:
        raise LedgerError(ErrorCode.ENTRY_MALFORMED, f"entry {stored.seq} is not canonical")
    return entry


def stored_of(entry: LedgerEntry) -> StoredEntry:
    """The row form of an entry, as a store would hold it."""
    return StoredEntry(entry.seq, body_of(entry), entry.entry_hash)
