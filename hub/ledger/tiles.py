"""The ledger's Merkle tree kept as tiles: proofs for a large ledger in little memory.

A witness round (:mod:`hub.witnessing`) proves each new checkpoint consistent with
the one a witness cosigned last (RFC 9162 section 2.1.4). Keeping every leaf hash
for that costs 32 bytes an entry: a third of a gigabyte for ten million entries.
:class:`TreeTiles` keeps instead the hash of each complete tile of :data:`TILE`
leaves (32 bytes per 256 entries) and the leaves after the last complete tile. A
proof needs the hashes of O(log n) subtrees: those of whole tiles come from the
tile hashes, and a subtree inside one tile (at most a few per proof) from its
leaves, read again from the store. The idea is the C2SP tlog-tiles layout's, kept
in memory rather than served.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Final, Protocol

from hub.ledger.chain import leaf_of
from hub.ledger.merkle import consistency_proof_by, node_hash, root_from_hashes, split_point

if TYPE_CHECKING:
    from hub.ledger.base import StoredEntry

#: Leaves per tile (C2SP tlog-tiles uses 256, height 8).
TILE: Final = 256
#: Rows read per page while catching up.
_PAGE: Final = 1000


class Rows(Protocol):
    """What tiles read of a store (:class:`~hub.ledger.base.LedgerStore` has both)."""

    async def scan(self, start: int, limit: int) -> list[StoredEntry]:
        """Up to ``limit`` rows from ``start``, in order."""
        ...

    async def read(self, start: int, stop: int | None) -> list[StoredEntry]:
        """The rows ``start <= seq < stop``, in order."""
        ...


class TreeTiles:
    """The tile hashes of a ledger's first :attr:`size` leaves, and the leaves after them."""

    def __init__(self, store: Rows, tile: int = TILE) -> None:
        """Read ``store``; ``tile`` must be a power of two (smaller ones only in tests)."""
        if tile < 1 or tile & (tile - 1):
            raise ValueError("a tile is a power of two of leaves")
        self._store, self._tile = store, tile
        self._tiles: list[bytes] = []
        self._tail: list[bytes] = []

    @property
    def size(self) -> int:
        """How many leaves are covered."""
        return len(self._tiles) * self._tile + len(self._tail)

    async def catch_up(self, size: int) -> None:
        """Cover the ledger's first ``size`` leaves, reading only rows not read before.

        Raises:
            LedgerError: the store cannot be read.
        """
        while self.size < size:
            rows = await self._store.scan(self.size, min(_PAGE, size - self.size))
            if not rows:
                return
            for row in rows:
                self._tail.append(leaf_of(row.body))
                if len(self._tail) == self._tile:
                    self._tiles.append(root_from_hashes(self._tail))
                    self._tail = []

    async def subtree(self, a: int, b: int) -> bytes:
        """The Merkle Tree Hash of leaves ``a`` to ``b - 1`` (``0 <= a < b <= size``).

        Called with the subtrees of RFC 9162's decompositions, which start at a
        multiple of their largest power of two: one no larger than a tile lies
        within one tile.

        Raises:
            ValueError: a range outside what is covered.
            LedgerError: the store cannot be read.
        """
        if not 0 <= a < b <= self.size:
            raise ValueError("subtree outside the covered leaves")
        tile, n = self._tile, b - a
        whole = len(self._tiles) * tile
        if a % tile == 0 and n % tile == 0 and b <= whole:
            # c whole tiles: MTH splits at tile boundaries, so it is MTH of their hashes.
            return root_from_hashes(self._tiles[a // tile : b // tile])
        if n > tile:
            k = split_point(n)
            return node_hash(await self.subtree(a, a + k), await self.subtree(a + k, b))
        return root_from_hashes(await self._leaves(a, b))

    async def _leaves(self, a: int, b: int) -> list[bytes]:
        whole = len(self._tiles) * self._tile
        if a >= whole:
            return self._tail[a - whole : b - whole]
        rows = await self._store.read(a, b)
        if [row.seq for row in rows] != list(range(a, b)):
            raise ValueError("the store does not hold those entries")
        return [leaf_of(row.body) for row in rows]

    async def consistency_proof(self, size1: int, size2: int) -> list[bytes]:
        """The consistency proof from ``size1`` to ``size2`` (RFC 9162 section 2.1.4.1).

        Raises:
            ValueError: sizes outside ``0 < size1 <= size2 <= size``.
            LedgerError: the store cannot be read.
        """
        if size2 > self.size:
            raise ValueError("newer tree size beyond the covered leaves")
        return await consistency_proof_by(size1, size2, self.subtree)
