"""A hub refuses at start a ledger whose head is not the one it last wrote, on both stores."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import pytest

from hub import safejson
from hub.ledger import chain
from hub.ledger.base import ErrorCode, LedgerError
from hub.ledger.checkpoints import CheckpointPolicy
from hub.ledger.service import LedgerConfig, open_ledger

if TYPE_CHECKING:
    from collections.abc import Callable

    from hub.ledger.entries import EntryDraft

EVERY_FOUR = LedgerConfig(checkpoints=CheckpointPolicy(every_entries=4, every_seconds=3600))


async def _six(harness: Any, draft: Callable[..., EntryDraft]) -> None:
    """Six entries, appended one by one: a checkpoint at 4, two unsigned after it."""
    ledger = await harness.ledger(EVERY_FOUR)
    for _ in range(6):
        await ledger.append([draft()])
    await ledger.close()


async def _open(harness: Any) -> None:
    ledger = await open_ledger(harness.url, keyring=harness.keyring, schema=harness.schema)
    await ledger.close()


async def test_an_honest_ledger_opens(harness: Any, draft: Callable[..., EntryDraft]) -> None:
    """The head the hub wrote, a tail that chains from the checkpoint: the hub starts."""
    await _six(harness, draft)
    await _open(harness)


async def test_a_chained_entry_beyond_the_head_is_refused_at_start(
    harness: Any, draft: Callable[..., EntryDraft]
) -> None:
    """Someone appended a well-formed, chained entry without the hub: a clear error at start."""
    await _six(harness, draft)
    rows = await harness.rows()
    forged = chain.seal(draft(), 6, rows[-1].entry_hash)
    await harness.rewrite([*rows, forged])
    with pytest.raises(LedgerError) as refused:
        await _open(harness)
    assert refused.value.code is ErrorCode.HEAD_MISMATCH
    assert refused.value.detail.startswith("entry 6 lies beyond the head")


async def test_a_rewritten_unsigned_tail_is_refused_at_start(
    harness: Any, draft: Callable[..., EntryDraft]
) -> None:
    """The last entry replaced (body and hash, link kept): not the entry the hub last wrote."""
    await _six(harness, draft)
    rows = await harness.rows()
    fields = json.loads(rows[5].body)
    fields["recipient"] = "advocacy"
    body = safejson.canonical(fields)
    await harness.put(5, body, chain.hash_body(body))
    with pytest.raises(LedgerError) as refused:
        await _open(harness)
    assert refused.value.code is ErrorCode.HEAD_MISMATCH
    assert "entry 5 is not the one the hub last wrote" in refused.value.detail
