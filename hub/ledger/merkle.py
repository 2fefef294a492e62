"""The Merkle tree of RFC 9162 section 2.1 over the ledger's leaves: pure functions.

Leaves and nodes are hashed with SHA-256 and distinct prefixes (0x00 for a leaf,
0x01 for a node, section 2.1.1), so a leaf can never pass for a node. Inclusion
proofs (2.1.3) show one entry is in a tree of a given size and root; consistency
proofs (2.1.4) show a tree of one size is a prefix of a larger one, so a
checkpoint a verifier kept last month can be checked against today's without
trusting anything in between. :class:`Frontier` keeps the roots of the perfect
subtrees of a growing tree, enough to compute its root after every append in
O(log n) without re-reading old leaves.

Nothing here does I/O; hashes are raw 32-byte strings.
"""

from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING, Final

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable, Iterable, Sequence

HASH_BYTES: Final = 32
_LEAF: Final = b"\x00"
_NODE: Final = b"\x01"


def leaf_hash(data: bytes) -> bytes:
    """``SHA-256(0x00 || data)``: the hash of one leaf (RFC 9162 section 2.1.1)."""
    return hashlib.sha256(_LEAF + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """``SHA-256(0x01 || left || right)``: the hash of an interior node."""
    return hashlib.sha256(_NODE + left + right).digest()


def empty_root() -> bytes:
    """The root of the empty tree: the hash of the empty string."""
    return hashlib.sha256(b"").digest()


def split_point(n: int) -> int:
    """The largest power of two smaller than ``n`` (for ``n > 1``): where MTH splits."""
    return _split(n)


def _split(n: int) -> int:
    """The largest power of two smaller than ``n`` (for ``n > 1``)."""
    return 1 << ((n - 1).bit_length() - 1)


def root_from_hashes(hashes: Sequence[bytes]) -> bytes:
    """The Merkle Tree Hash of a list of leaf hashes."""
    n = len(hashes)
    if n == 0:
        return empty_root()
    if n == 1:
        return hashes[0]
    k = _split(n)
    return node_hash(root_from_hashes(hashes[:k]), root_from_hashes(hashes[k:]))


def root(leaves: Sequence[bytes]) -> bytes:
    """The Merkle Tree Hash ``MTH(D[n])`` of a list of leaves (RFC 9162 section 2.1.1)."""
    return root_from_hashes([leaf_hash(leaf) for leaf in leaves])


def _path(index: int, hashes: Sequence[bytes]) -> list[bytes]:
    n = len(hashes)
    if n == 1:
        return []
    k = _split(n)
    if index < k:
        return [*_path(index, hashes[:k]), root_from_hashes(hashes[k:])]
    return [*_path(index - k, hashes[k:]), root_from_hashes(hashes[:k])]


def inclusion_proof(index: int, hashes: Sequence[bytes]) -> list[bytes]:
    """The audit path ``PATH(index, D[n])`` of RFC 9162 section 2.1.3.1.

    Args:
        index: the leaf's position, ``0 <= index < len(hashes)``.
        hashes: the leaf hashes of the tree.

    Raises:
        ValueError: the index is outside the tree.
    """
    if not 0 <= index < len(hashes):
        raise ValueError("leaf index outside the tree")
    return _path(index, hashes)


def _subproof(m: int, hashes: Sequence[bytes], *, complete: bool) -> list[bytes]:
    n = len(hashes)
    if m == n:
        return [] if complete else [root_from_hashes(hashes)]
    k = _split(n)
    if m <= k:
        return [*_subproof(m, hashes[:k], complete=complete), root_from_hashes(hashes[k:])]
    return [*_subproof(m - k, hashes[k:], complete=False), root_from_hashes(hashes[:k])]


def consistency_proof(size1: int, hashes: Sequence[bytes]) -> list[bytes]:
    """The consistency proof ``PROOF(size1, D[n])`` of RFC 9162 section 2.1.4.1.

    Args:
        size1: the size of the older tree, ``0 < size1 <= len(hashes)``.
        hashes: the leaf hashes of the newer tree.

    Raises:
        ValueError: ``size1`` is not a size of a non-empty prefix.
    """
    if not 0 < size1 <= len(hashes):
        raise ValueError("older tree size outside the newer tree")
    return _subproof(size1, hashes, complete=True)


async def consistency_proof_by(
    size1: int, size2: int, subtree: Callable[[int, int], Awaitable[bytes]]
) -> list[bytes]:
    """:func:`consistency_proof` of the first ``size2`` leaves, by subtree hashes.

    ``subtree(a, b)`` gives the Merkle Tree Hash of leaves ``a`` to ``b - 1``; it is
    asked only for the subtrees the proof holds, so a caller can keep the hashes of
    large subtrees and read leaves only for small ones (:mod:`hub.ledger.tiles`).

    Raises:
        ValueError: ``size1`` is not a size of a non-empty prefix of ``size2``.
    """
    if not 0 < size1 <= size2:
        raise ValueError("older tree size outside the newer tree")
    return await _subproof_by(size1, 0, size2, subtree, complete=True)


async def _subproof_by(
    m: int, a: int, b: int, subtree: Callable[[int, int], Awaitable[bytes]], *, complete: bool
) -> list[bytes]:
    n = b - a
    if m == n:
        return [] if complete else [await subtree(a, b)]
    k = _split(n)
    if m <= k:
        return [
            *await _subproof_by(m, a, a + k, subtree, complete=complete),
            await subtree(a + k, b),
        ]
    return [*await _subproof_by(m - k, a + k, b, subtree, complete=False), await subtree(a, a + k)]


def _shift_to_set_bit(fn: int, sn: int) -> tuple[int, int]:
    while fn and not fn & 1:
        fn, sn = fn >> 1, sn >> 1
    return fn, sn


def verify_inclusion(
    index: int, size: int, leaf: bytes, proof: Sequence[bytes], root_hash: bytes
) -> bool:
    """Verify an inclusion proof (RFC 9162 section 2.1.3.2).

    Args:
        index: the leaf's position.
        size: the tree size the proof is for.
        leaf: the leaf *hash* (``leaf_hash(data)``).
        proof: the audit path.
        root_hash: the root of the tree of ``size`` leaves.

    Returns:
        Whether the proof shows the leaf at ``index`` in that tree.
    """
    if not 0 <= index < size or any(len(p) != HASH_BYTES for p in proof):
        return False
    fn, sn, r = index, size - 1, leaf
    for p in proof:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            fn, sn = _shift_to_set_bit(fn, sn)
        else:
            r = node_hash(r, p)
        fn, sn = fn >> 1, sn >> 1
    return sn == 0 and r == root_hash


def verify_consistency(
    size1: int, size2: int, root1: bytes, root2: bytes, proof: Sequence[bytes]
) -> bool:
    """Verify a consistency proof (RFC 9162 section 2.1.4.2).

    Trivial cases follow the specification's intent: an empty tree is a prefix of
    every tree (empty proof), and a tree is consistent with itself (equal roots,
    empty proof).

    Returns:
        Whether the tree of ``size1`` leaves with ``root1`` is a prefix of the tree
        of ``size2`` leaves with ``root2``.
    """
    if size1 < 0 or size2 < size1 or any(len(p) != HASH_BYTES for p in proof):
        return False
    if size1 in (0, size2):
        return not proof and (size1 == 0 or root1 == root2)
    if not proof:
        return False
    path = list(proof)
    if size1 & (size1 - 1) == 0:
        path.insert(0, root1)
    fn, sn = size1 - 1, size2 - 1
    while fn & 1:
        fn, sn = fn >> 1, sn >> 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            fr, sr = node_hash(c, fr), node_hash(c, sr)
            fn, sn = _shift_to_set_bit(fn, sn)
        else:
            sr = node_hash(sr, c)
        fn, sn = fn >> 1, sn >> 1
    return fr == root1 and sr == root2 and sn == 0


class Frontier:
    """The roots of the perfect subtrees of a growing tree, largest first.

    A tree of ``n`` leaves is a sequence of perfect subtrees whose sizes are the
    set bits of ``n``; appending a leaf merges equal-sized subtrees, like a binary
    counter. The root folds them from the right (RFC 9162's MTH for any ``n``).
    """

    def __init__(self, size: int = 0, hashes: Iterable[bytes] = ()) -> None:
        """Resume a frontier of ``size`` leaves from its subtree roots.

        Raises:
            ValueError: the number of hashes is not the number of set bits of ``size``.
        """
        self._hashes = list(hashes)
        if size < 0 or len(self._hashes) != size.bit_count():
            raise ValueError("frontier does not match its size")
        self._size = size

    @property
    def size(self) -> int:
        """How many leaves the tree has."""
        return self._size

    @property
    def hashes(self) -> tuple[bytes, ...]:
        """The perfect subtrees' roots, largest first."""
        return tuple(self._hashes)

    def append(self, leaf: bytes) -> None:
        """Add one leaf *hash* at the end."""
        current, size = leaf, self._size
        while size & 1:
            current = node_hash(self._hashes.pop(), current)
            size >>= 1
        self._hashes.append(current)
        self._size += 1

    def root(self) -> bytes:
        """The Merkle Tree Hash of the tree so far."""
        if not self._hashes:
            return empty_root()
        current = self._hashes[-1]
        for left in reversed(self._hashes[:-1]):
            current = node_hash(left, current)
        return current
