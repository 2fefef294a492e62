"""Consistency proofs from tiles give exactly the proofs from every leaf (RFC 9162 2.1.4)."""

from __future__ import annotations

import random

import pytest

from hub.ledger.base import StoredEntry
from hub.ledger.chain import leaf_of
from hub.ledger.merkle import consistency_proof, root_from_hashes, verify_consistency
from hub.ledger.tiles import TreeTiles


class Rows:
    """A store's reads over made-up bodies, counting the rows read."""

    def __init__(self, count: int) -> None:
        """Bodies ``entry 0`` to ``entry count-1``."""
        self.bodies = [f'{{"entry":{i}}}' for i in range(count)]
        self.read_rows = 0

    def _rows(self, start: int, stop: int) -> list[StoredEntry]:
        rows = [
            StoredEntry(i, self.bodies[i], "") for i in range(start, min(stop, len(self.bodies)))
        ]
        self.read_rows += len(rows)
        return rows

    async def scan(self, start: int, limit: int) -> list[StoredEntry]:
        """Up to ``limit`` rows from ``start``."""
        return self._rows(start, start + limit)

    async def read(self, start: int, stop: int | None) -> list[StoredEntry]:
        """Rows ``start`` to ``stop - 1``."""
        return self._rows(start, len(self.bodies) if stop is None else stop)


@pytest.mark.parametrize("tile", [1, 2, 4, 8])
async def test_every_proof_of_a_small_tree_is_the_leaves_proof(tile: int) -> None:
    """All pairs of sizes up to 43 (a partial last tile), tiles of 1 to 8: the same proofs."""
    rows = Rows(43)
    tiles = TreeTiles(rows, tile)
    await tiles.catch_up(43)
    leaves = [leaf_of(body) for body in rows.bodies]
    for size2 in range(1, 44):
        assert await tiles.subtree(0, size2) == root_from_hashes(leaves[:size2])
        for size1 in range(1, size2 + 1):
            expected = consistency_proof(size1, leaves[:size2])
            assert await tiles.consistency_proof(size1, size2) == expected, (size1, size2)


async def test_a_large_tree_is_proven_from_tiles_and_a_few_rows() -> None:
    """256-leaf tiles over 5,000 entries: same proofs, and a proof reads at most two tiles."""
    rows = Rows(5_000)
    tiles = TreeTiles(rows)
    await tiles.catch_up(5_000)
    leaves = [leaf_of(body) for body in rows.bodies]
    choose = random.Random(23)  # noqa: S311 - test sizes, not secrets
    for _ in range(60):
        size2 = choose.randint(1, 5_000)
        size1 = choose.randint(1, size2)
        rows.read_rows = 0
        proof = await tiles.consistency_proof(size1, size2)
        assert proof == consistency_proof(size1, leaves[:size2])
        assert rows.read_rows <= 2 * 256
        old, new = root_from_hashes(leaves[:size1]), root_from_hashes(leaves[:size2])
        assert verify_consistency(size1, size2, old, new, proof)


async def test_catching_up_reads_only_new_rows_and_refuses_what_is_not_covered() -> None:
    """A second catch-up reads the new rows alone; a size beyond the cover is refused."""
    rows = Rows(700)
    tiles = TreeTiles(rows)
    await tiles.catch_up(600)
    assert (tiles.size, rows.read_rows) == (600, 600)
    await tiles.catch_up(700)
    assert (tiles.size, rows.read_rows) == (700, 700)
    with pytest.raises(ValueError, match="beyond"):
        await tiles.consistency_proof(1, 701)
    with pytest.raises(ValueError, match="older tree"):
        await tiles.consistency_proof(0, 700)
    with pytest.raises(ValueError, match="power of two"):
        TreeTiles(rows, 3)
