"""Verifying a ledger with public keys only: intact, or the first entry that breaks.

:class:`LedgerVerifier` is a state machine that does no I/O: feed it the stored
rows in order and it checks, for each one, that it sits at the next position,
that its body hashes to its ``entry_hash`` and is the canonical JSON of a valid
entry claiming that position, that its ``prev_hash`` is the hash before it, and,
when a store is read, that the columns and search index rows the hub finds
entries by say what the body says.
It grows the Merkle tree as it goes, and at each checkpoint's size compares the
root and last entry hash with what the hub signed. :func:`verify_store` does the
reading around it.

Where a break is named:

- a row that is missing, out of place, altered or unlinked, or whose stored
  ``decision_id``, ``event_id`` or search index rows differ from its body: that
  row's position;
- a checkpoint that does not match, or whose signature does not verify: the first
  entry after the last checkpoint that did (the break lies between the two);
- a checkpoint covering more entries than exist: the first missing position.

Without a checkpoint, someone with write access to the store could rewrite the
chain from some entry onwards; checkpoints kept outside the hub (``--checkpoint``)
or published elsewhere take that away.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final

from hub.crypto import (
    Checkpoint,
    EnvelopeError,
    NoteError,
    log_verifiers,
    open_note,
    verify_checkpoint,
    verify_receipt,
)
from hub.crypto import ErrorCode as EnvelopeErrorCode
from hub.ledger import chain
from hub.ledger.base import ErrorCode, LedgerError, StoredEntry
from hub.ledger.checkpoints import claimed_size
from hub.ledger.entries import GENESIS_HASH
from hub.ledger.merkle import Frontier
from hub.ledger.search import column_problem

if TYPE_CHECKING:
    from collections.abc import Iterable, Sequence
    from datetime import datetime

    from hub.crypto import KeyDirectory, WitnessPolicy
    from hub.ledger.base import LedgerStore, StoredColumns
    from hub.ledger.entries import LedgerEntry


@dataclass(frozen=True)
class VerifyReport:
    """What verification found.

    Attributes:
        entries: how many entries were checked before stopping (all, when intact).
        checkpoint_size: the largest tree size confirmed by a valid checkpoint.
        checkpoints: how many checkpoints (JWS) verified and matched.
        broken_at: the position named as the first break, None when intact.
        code: the reason code of the break, None when intact.
        detail: a one-line explanation naming positions, never content.
        witnessed_size: with a witness policy, the largest tree size a checkpoint
            note cosigned by a quorum confirmed (0: none); None without a policy.
        witnesses: the policy names of the witnesses who cosigned that checkpoint.
        notes: how many checkpoint notes (C2SP) verified and matched.
        receipts: how many receipt entries' signatures (the recipients' own) were
            checked against the parties' public keys and found to say what the
            entry records.
        receipts_unchecked: the parties whose receipts could not be checked because
            the keys given hold none of theirs, with how many receipts each.
    """

    entries: int
    checkpoint_size: int
    checkpoints: int
    broken_at: int | None = None
    code: ErrorCode | None = None
    detail: str = ""
    witnessed_size: int | None = None
    witnesses: tuple[str, ...] = ()
    notes: int = 0
    receipts: int = 0
    receipts_unchecked: tuple[tuple[str, int], ...] = ()

    @property
    def intact(self) -> bool:
        """Whether no break was found."""
        return self.code is None


class Unread:
    """The columns beside a row were not read: they are not checked."""


UNREAD: Final = Unread()


#: The detail of ``ledger.receipt_invalid`` (deploy/audit/verify_ledger.py says the same).
RECEIPT_BROKEN: Final = "the recipient's signed receipt does not hold or says otherwise"
#: A checkpoint signed by a key the key set does not hold (``hub.crypto``'s code).
SENDER_UNKNOWN: Final = "sender.unknown"
#: Why no checkpoint verified, when none did for want of the signing key: the wrong key
#: set is far likelier than every checkpoint forged, but the verdict stays "not intact".
KEYS_MISMATCH_DETAIL: Final = (
    "no checkpoint is signed by a hub key of the keys given: give this hub's public keys"
    " (if they are, every checkpoint is forged)"
)


@dataclass(frozen=True)
class _Checkpoint:
    size: int
    claims: dict[str, Any] | None
    problem: str
    #: For a note: the policy names of the witnesses who cosigned it, if a quorum did.
    witnessed_by: tuple[str, ...] | None = None


def is_note(checkpoint: str) -> bool:
    """Whether a kept checkpoint is a C2SP note (lines) rather than a compact JWS."""
    return "\n" in checkpoint


def _origin_ledger(origin: str) -> str:
    return origin.rsplit("/", 1)[-1]


def check_note(
    note: str, directory: KeyDirectory, party: str, policy: WitnessPolicy | None
) -> _Checkpoint:
    """Verify a checkpoint note: the hub's signature under its origin, and the witnesses'.

    The note is the hub's if one of ``party``'s signing keys, named by the note's
    origin, signed it. With ``policy``, every cosignature of a policy witness must
    verify, and the note counts as witnessed when they meet the quorum.
    """
    try:
        text = note[: note.rindex("\n\n") + 1] if "\n\n" in note else note
        checkpoint = Checkpoint.parse(text)
    except NoteError:
        return _Checkpoint(0, None, "note.malformed")
    origin = checkpoint.origin
    logs = log_verifiers(origin, directory.records(party, "sig"))
    witnesses = policy.verifiers if policy is not None else ()
    try:
        opened = open_note(note, [*logs, *witnesses])
    except NoteError as error:
        unknown = error.code == "note.unverified"
        return _Checkpoint(checkpoint.size, None, SENDER_UNKNOWN if unknown else error.code)
    if not any(v in logs for v in opened.signed_by):
        return _Checkpoint(checkpoint.size, None, SENDER_UNKNOWN)
    claims = {
        "tree_size": checkpoint.size,
        "root_hash": checkpoint.root.hex(),
        "ledger_id": _origin_ledger(origin),
    }
    witnessed = None
    if policy is not None and policy.satisfied(opened.signed_by):
        witnessed = tuple(policy.cosigners(opened.signed_by))
    return _Checkpoint(checkpoint.size, claims, "", witnessed)


class LedgerVerifier:
    """Checks rows one by one against the chain and the signed checkpoints; no I/O."""

    def __init__(  # noqa: PLR0913 - the trust anchors and options an audit gives, by name
        self,
        checkpoints: Iterable[str],
        directory: KeyDirectory,
        *,
        party: str = "hub",
        ledger_id: str | None = None,
        now: datetime | None = None,
        policy: WitnessPolicy | None = None,
    ) -> None:
        """Verify every checkpoint's signature and queue it at its tree size.

        Args:
            checkpoints: compact JWS checkpoints and C2SP checkpoint notes (with any
                witnesses' cosignatures), from the store or kept elsewhere.
            directory: public keys; checkpoints must be signed by ``party``.
            party: whose checkpoints these are.
            ledger_id: the ledger's id; checkpoints of another ledger are invalid.
                If None, the first valid checkpoint's id is taken.
            now: the verifier's clock (for checkpoints dated in the future).
            policy: a witness policy: notes cosigned by its quorum are reported as
                witnessed, and a policy witness's cosignature that fails breaks.
        """
        self._pending = sorted(
            (
                check_note(t, directory, party, policy)
                if is_note(t)
                else self._check_signature(t, directory, party, now)
                for t in checkpoints
            ),
            key=lambda c: c.size,
        )
        self._policy = policy
        self._directory = directory
        self._receipts = 0
        self._unchecked: dict[str, int] = {}
        self._witnessed = 0
        self._notes = 0
        self._witnesses: tuple[str, ...] = ()
        self._ledger_id = ledger_id
        self._frontier = Frontier()
        self._last = GENESIS_HASH
        self._confirmed = 0
        self._matched = 0
        self._report: VerifyReport | None = None
        if self._pending and all(c.problem == SENDER_UNKNOWN for c in self._pending):
            self._break(0, ErrorCode.KEYS_MISMATCH, KEYS_MISMATCH_DETAIL)
        self._settle()

    @staticmethod
    def _check_signature(
        token: str, directory: KeyDirectory, party: str, now: datetime | None
    ) -> _Checkpoint:
        try:
            claims = verify_checkpoint(token, directory, party, now=now)
        except EnvelopeError as error:
            return _Checkpoint(claimed_size(token), None, error.code.value)
        return _Checkpoint(claims["tree_size"], claims, "")

    @property
    def size(self) -> int:
        """How many entries have been checked."""
        return self._frontier.size

    def _break(self, at: int, code: ErrorCode, detail: str) -> bool:
        self._report = VerifyReport(
            self.size,
            self._confirmed,
            self._matched,
            at,
            code,
            detail,
            receipts=self._receipts,
            receipts_unchecked=tuple(sorted(self._unchecked.items())),
        )
        return False

    def _intact(self) -> VerifyReport:
        witnessed = None if self._policy is None else self._witnessed
        return VerifyReport(
            self.size,
            self._confirmed,
            self._matched,
            witnessed_size=witnessed,
            witnesses=self._witnesses,
            notes=self._notes,
            receipts=self._receipts,
            receipts_unchecked=tuple(sorted(self._unchecked.items())),
        )

    def feed(self, row: StoredEntry, columns: StoredColumns | Unread | None = UNREAD) -> bool:
        """Check the next stored row, and the columns stored beside it when given.

        Args:
            row: the next row, in position order.
            columns: the row's stored ``decision_id`` and ``event_id`` and its search
                index rows (None: the store has none); :data:`UNREAD` (a bare list
                of rows, such as an export of version 1) skips that check.

        Returns:
            False once a break has been found (further rows are ignored).
        """
        if self._report is not None:
            return False
        problem = self._problem(row, columns)
        if problem is not None:
            return self._break(self.size, problem.code, problem.detail)
        self._frontier.append(chain.leaf_of(row.body))
        self._last = row.entry_hash
        return self._settle()

    def _problem(
        self, row: StoredEntry, columns: StoredColumns | Unread | None
    ) -> LedgerError | None:
        """What breaks at ``row``, checked in order: place, hash and body, link, columns."""
        at = self.size
        if row.seq != at:
            word = "missing" if row.seq > at else "repeated or out of order"
            return LedgerError(ErrorCode.SEQUENCE_GAP, f"entry {at} is {word}")
        try:
            entry = chain.parse(row)
        except LedgerError as error:
            return error
        if entry.seq != at:
            return LedgerError(ErrorCode.SEQUENCE_GAP, f"entry {at} claims position {entry.seq}")
        if entry.prev_hash != self._last:
            return LedgerError(ErrorCode.CHAIN_BROKEN, f"entry {at} does not link to {at - 1}")
        problem = None if isinstance(columns, Unread) else column_problem(entry, columns)
        return problem or self._receipt_problem(entry)

    def _receipt_problem(self, entry: LedgerEntry) -> LedgerError | None:
        """Whether a receipt entry's recipient signed what it records (with its keys, if given).

        The receipt is the recipient's statement, checked with the recipient's key
        as valid when it signed: a hub cannot record a receipt nobody signed. A
        party the keys hold no key of is counted, not broken: an auditor may hold
        only the hub's keys.
        """
        record = entry.receipt
        if record is None:
            return None
        broken = LedgerError(ErrorCode.RECEIPT_INVALID, f"entry {entry.seq}: {RECEIPT_BROKEN}")
        try:
            receipt = verify_receipt(
                record.signed,
                self._directory,
                at=record.signed_at,
                erasure=entry.outcome == "erased",
            )
        except EnvelopeError as error:
            if error.code is not EnvelopeErrorCode.SENDER_UNKNOWN:
                return broken
            party = entry.recipient or "?"
            self._unchecked[party] = self._unchecked.get(party, 0) + 1
            return None
        signed = {(i.decision_id, i.digest, i.until) for i in receipt.items}
        held = {(i.decision_id, i.digest, i.until) for i in record.items}
        if (
            receipt.sender != entry.recipient
            or receipt.receipt_id != record.receipt_id
            or receipt.signed_at != record.signed_at
            or signed != held
        ):
            return broken
        self._receipts += 1
        return None

    def _settle(self) -> bool:
        """Check every checkpoint whose size has been reached."""
        while self._pending and self._pending[0].size <= self.size and self._report is None:
            self._check_tree(self._pending.pop(0))
        return self._report is None

    def _check_tree(self, checkpoint: _Checkpoint) -> None:
        where = f"checkpoint at size {checkpoint.size}"
        claims = checkpoint.claims
        if claims is None:
            self._break(
                self._confirmed, ErrorCode.CHECKPOINT_INVALID, f"{where}: {checkpoint.problem}"
            )
            return
        if self._ledger_id is None:
            self._ledger_id = claims["ledger_id"]
        if claims["ledger_id"] != self._ledger_id:
            self._break(self._confirmed, ErrorCode.CHECKPOINT_INVALID, f"{where}: another ledger")
            return
        root = self._frontier.root().hex()
        if claims["root_hash"] != root or claims.get("last_entry_hash", self._last) != self._last:
            self._break(self._confirmed, ErrorCode.CHECKPOINT_MISMATCH, f"{where}: entries differ")
            return
        self._confirmed = max(self._confirmed, checkpoint.size)
        if "last_entry_hash" in claims:
            self._matched += 1
        else:
            self._notes += 1
        if checkpoint.witnessed_by is not None and checkpoint.size >= self._witnessed:
            self._witnessed, self._witnesses = checkpoint.size, checkpoint.witnessed_by

    def finish(self) -> VerifyReport:
        """Close the walk: a checkpoint beyond the last entry means entries are missing."""
        if self._report is None and self._pending:
            checkpoint = self._pending[0]
            if checkpoint.claims is None:
                problem = f"checkpoint at size {checkpoint.size}: {checkpoint.problem}"
                self._break(self._confirmed, ErrorCode.CHECKPOINT_INVALID, problem)
            else:
                detail = f"checkpoint covers {checkpoint.size} entries; {self.size} present"
                self._break(self.size, ErrorCode.CHECKPOINT_MISMATCH, detail)
        return self._report or self._intact()


def verify_ledger(
    rows: Iterable[StoredEntry],
    checkpoints: Iterable[str],
    directory: KeyDirectory,
    **options: Any,
) -> VerifyReport:
    """Verify stored rows, in order, against signed checkpoints (pure; no I/O).

    Args:
        rows: every stored row, in sequence order.
        checkpoints: compact JWS checkpoints.
        directory: public keys of the hub.
        **options: ``party``, ``ledger_id`` and ``now``, as for :class:`LedgerVerifier`.
    """
    verifier = LedgerVerifier(checkpoints, directory, **options)
    for row in rows:
        if not verifier.feed(row):
            break
    return verifier.finish()


def verify_entries(
    entries: Sequence[LedgerEntry],
    checkpoints: Iterable[str],
    directory: KeyDirectory,
    **options: Any,
) -> VerifyReport:
    """Verify parsed entries (serialised back to rows) as :func:`verify_ledger` does."""
    return verify_ledger((chain.stored_of(e) for e in entries), checkpoints, directory, **options)


async def verify_store(  # noqa: PLR0913 - as LedgerVerifier, plus the store and page size
    store: LedgerStore,
    directory: KeyDirectory,
    *,
    extra_checkpoints: Sequence[str] = (),
    page: int = 1000,
    now: datetime | None = None,
    policy: WitnessPolicy | None = None,
) -> VerifyReport:
    """Read a store page by page and verify it with public keys only.

    Args:
        store: an open store (read-only is enough).
        directory: public keys of the hub.
        extra_checkpoints: checkpoints kept outside the store (JWS or notes, such
            as a witness's latest cosigned checkpoint), checked as well.
        page: rows read per query.
        now: the verifier's clock.
        policy: a witness policy (see :class:`LedgerVerifier`).

    Raises:
        LedgerError: ``ledger.unavailable`` when the store cannot be read.
    """
    stored = await store.checkpoints()
    kept = [c.token for c in stored] + [c.cosigned_note for c in stored if c.cosigned_note]
    verifier = LedgerVerifier(
        [*kept, *extra_checkpoints],
        directory,
        ledger_id=await store.ledger_id(),
        now=now,
        policy=policy,
    )
    start = 0
    while rows := await store.scan(start, page):
        columns = await store.columns(rows[0].seq, rows[-1].seq + 1)
        if not all(verifier.feed(row, columns.get(row.seq)) for row in rows):
            break
        start = rows[-1].seq + 1
    return verifier.finish()
