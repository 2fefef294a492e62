"""Verification against a real store: intact, then each kind of tampering by direct SQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import pytest

from hub.crypto.checkpoint import sign_checkpoint
from hub.crypto.keys import KeyDirectory, generate_party_keys
from hub.ledger import chain
from hub.ledger.base import ErrorCode, Head, StoredEntry
from hub.ledger.checkpoints import CheckpointPolicy, tree_head
from hub.ledger.merkle import Frontier
from hub.ledger.service import LedgerConfig
from hub.ledger.verify import VerifyReport, verify_store

if TYPE_CHECKING:
    from collections.abc import Callable

    from hub.ledger.entries import EntryDraft

EVERY_FOUR = LedgerConfig(checkpoints=CheckpointPolicy(every_entries=4, every_seconds=3600))


@pytest.fixture
async def ten(harness: Any, draft: Callable[..., EntryDraft]) -> Any:
    """Ten entries appended one by one: checkpoints at 4 and 8, and 10 on close."""
    ledger = await harness.ledger(EVERY_FOUR)
    for _ in range(10):
        await ledger.append([draft()])
    await ledger.close()
    return harness


async def _verify(harness: Any, directory: KeyDirectory, **options: Any) -> VerifyReport:
    return await verify_store(await harness.store(read_only=True), directory, **options)


def _altered(row: StoredEntry, old: str, new: str) -> str:
    assert old in row.body
    return row.body.replace(old, new)


async def test_untouched_ledger_is_intact(ten: Any, directory: KeyDirectory) -> None:
    """An untouched ledger verifies intact, every checkpoint and its note matched."""
    report = await _verify(ten, directory)
    assert report == VerifyReport(entries=10, checkpoint_size=10, checkpoints=3, notes=3)
    assert report.intact


async def test_changed_entry_is_named(ten: Any, directory: KeyDirectory) -> None:
    """An entry whose body was edited breaks at that entry with ledger.hash_mismatch."""
    row = (await ten.rows())[5]
    await ten.put(5, _altered(row, '"disclosed"', '"refused"'), row.entry_hash)
    report = await _verify(ten, directory)
    assert (report.broken_at, report.code) == (5, ErrorCode.HASH_MISMATCH)
    assert report.entries == 5


async def test_changed_and_rehashed_entry_breaks_the_link(
    ten: Any, directory: KeyDirectory
) -> None:
    """An edited entry with a recomputed hash breaks the chain at the entry after it."""
    row = (await ten.rows())[5]
    body = _altered(row, '"disclosed"', '"refused"')
    await ten.put(5, body, chain.hash_body(body))
    report = await _verify(ten, directory)
    assert (report.broken_at, report.code) == (6, ErrorCode.CHAIN_BROKEN)


async def test_rehashed_last_entry_is_caught_by_the_checkpoint(
    ten: Any, directory: KeyDirectory
) -> None:
    """Re-hashing the last entry passes the chain but not the signed checkpoint after 8."""
    row = (await ten.rows())[9]
    body = _altered(row, '"disclosed"', '"refused"')
    await ten.put(9, body, chain.hash_body(body))
    report = await _verify(ten, directory)
    assert (report.broken_at, report.code) == (8, ErrorCode.CHECKPOINT_MISMATCH)
    assert report.checkpoint_size == 8


async def test_deleted_entry_is_named(ten: Any, directory: KeyDirectory) -> None:
    """A deleted entry is named by its position with ledger.sequence_gap."""
    await ten.sql("DELETE FROM ledger_entries WHERE seq = 3")
    report = await _verify(ten, directory)
    assert (report.broken_at, report.code) == (3, ErrorCode.SEQUENCE_GAP)


async def test_deleted_tail_is_caught_by_the_checkpoint(ten: Any, directory: KeyDirectory) -> None:
    """Deleting the newest entry leaves a checkpoint covering more than there is."""
    await ten.sql("DELETE FROM ledger_entries WHERE seq = 9")
    report = await _verify(ten, directory)
    assert (report.broken_at, report.code) == (9, ErrorCode.CHECKPOINT_MISMATCH)


async def test_reordered_entries_are_named(ten: Any, directory: KeyDirectory) -> None:
    """Two entries swapped in place break at the first of them."""
    rows = await ten.rows()
    await ten.put(4, rows[5].body, rows[5].entry_hash)
    await ten.put(5, rows[4].body, rows[4].entry_hash)
    report = await _verify(ten, directory)
    assert (report.broken_at, report.code) == (4, ErrorCode.SEQUENCE_GAP)


async def test_inserted_entry_breaks_the_chain_after_it(
    ten: Any, directory: KeyDirectory, draft: Callable[..., EntryDraft]
) -> None:
    """A well-formed entry forged in at 5 leaves entry 6 (the old 5) out of place."""
    rows = await ten.rows()
    forged = chain.seal(draft(), 5, rows[4].entry_hash)
    shifted = [StoredEntry(r.seq + 1, r.body, r.entry_hash) for r in rows[5:]]
    await ten.rewrite([*rows[:5], forged, *shifted])
    report = await _verify(ten, directory)
    assert (report.broken_at, report.code) == (6, ErrorCode.SEQUENCE_GAP)


async def test_checkpoint_signed_with_another_key_is_rejected(
    ten: Any, directory: KeyDirectory
) -> None:
    """A checkpoint signed by a key that is not the hub's is ledger.checkpoint_invalid."""
    rows = await ten.rows()
    frontier = Frontier()
    for row in rows[:6]:
        frontier.append(chain.leaf_of(row.body))
    head = Head(6, rows[5].entry_hash, tuple(h.hex() for h in frontier.hashes))
    store = await ten.store(read_only=True)
    claims = tree_head(head, await store.ledger_id(), datetime.now(UTC))
    impostor = generate_party_keys("hub", datetime.now(UTC) - timedelta(days=1))
    token = sign_checkpoint(claims, impostor.signing_key(datetime.now(UTC)))
    report = await verify_store(store, directory, extra_checkpoints=[token])
    assert (report.broken_at, report.code) == (4, ErrorCode.CHECKPOINT_INVALID)
    assert "sender.unknown" in report.detail
    honest = sign_checkpoint(claims, ten.keyring.signing_key(datetime.now(UTC)))
    assert (await verify_store(store, directory, extra_checkpoints=[honest])).intact


async def test_checkpoint_of_another_ledger_is_rejected(ten: Any, directory: KeyDirectory) -> None:
    """A validly signed checkpoint naming another ledger id does not count for this one."""
    rows = await ten.rows()
    frontier = Frontier()
    for row in rows[:2]:
        frontier.append(chain.leaf_of(row.body))
    head = Head(2, rows[1].entry_hash, tuple(h.hex() for h in frontier.hashes))
    claims = tree_head(head, "some-other-ledger", datetime.now(UTC))
    token = sign_checkpoint(claims, ten.keyring.signing_key(datetime.now(UTC)))
    report = await _verify(ten, directory, extra_checkpoints=[token])
    assert (report.broken_at, report.code) == (0, ErrorCode.CHECKPOINT_INVALID)


async def test_verification_needs_only_public_keys(ten: Any, directory: KeyDirectory) -> None:
    """The directory used holds no private key, yet checkpoints verify."""
    hub_public = KeyDirectory(directory.records("hub", "sig"))
    assert (await _verify(ten, hub_public)).intact
