"""RFC 9162 Merkle trees: the published vectors, proofs that verify, and proofs that must not."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from hub.ledger import merkle

VECTORS = json.loads(
    (Path(__file__).parents[2] / "vectors" / "rfc9162" / "vectors.json").read_text()
)
LEAVES = [bytes.fromhex(leaf) for leaf in VECTORS["leaves"]]
HASHES = [merkle.leaf_hash(leaf) for leaf in LEAVES]
ROOTS = [bytes.fromhex(r) for r in VECTORS["roots"]]


def _hashes(proof: list[str]) -> list[bytes]:
    return [bytes.fromhex(p) for p in proof]


def test_hasher_vectors() -> None:
    """Empty tree, empty leaf, one leaf and one node hash as published."""
    hasher = VECTORS["hasher"]
    assert merkle.empty_root().hex() == hasher["empty_root"]
    assert merkle.leaf_hash(b"").hex() == hasher["empty_leaf"]
    assert merkle.leaf_hash(hasher["leaf"]["data"].encode()).hex() == hasher["leaf"]["hash"]
    node = hasher["node"]
    assert merkle.node_hash(node["left"].encode(), node["right"].encode()).hex() == node["hash"]


@pytest.mark.parametrize("size", range(9))
def test_root_of_every_prefix(size: int) -> None:
    """The root of the first n leaves is the published root for n = 0..8."""
    assert merkle.root(LEAVES[:size]) == ROOTS[size]


def test_node_hashes_of_every_complete_subtree() -> None:
    """Every complete subtree of the 8-leaf tree hashes as published."""
    for level, nodes in enumerate(VECTORS["node_hashes"]):
        width = 1 << level
        for index, expected in enumerate(nodes):
            subtree = HASHES[index * width : (index + 1) * width]
            assert merkle.root_from_hashes(subtree).hex() == expected


def test_frontier_tracks_the_root_as_leaves_arrive() -> None:
    """The frontier's root after each append is the published root, and it resumes from storage."""
    frontier = merkle.Frontier()
    for size, leaf in enumerate(HASHES):
        assert frontier.root() == ROOTS[size]
        frontier = merkle.Frontier(frontier.size, frontier.hashes)
        frontier.append(leaf)
    assert frontier.root() == ROOTS[8]
    with pytest.raises(ValueError, match="frontier"):
        merkle.Frontier(3, frontier.hashes)


@pytest.mark.parametrize(
    "vector", VECTORS["inclusion_proofs"], ids=lambda v: f"{v['leaf']}-{v['size']}"
)
def test_inclusion_proof_vectors(vector: dict[str, Any]) -> None:
    """Each published inclusion proof is produced exactly and verifies."""
    index, size = vector["leaf"] - 1, vector["size"]
    proof = merkle.inclusion_proof(index, HASHES[:size])
    assert proof == _hashes(vector["proof"])
    assert merkle.verify_inclusion(index, size, HASHES[index], proof, ROOTS[size])


@pytest.mark.parametrize(
    "vector", VECTORS["consistency_proofs"], ids=lambda v: f"{v['size1']}-{v['size2']}"
)
def test_consistency_proof_vectors(vector: dict[str, Any]) -> None:
    """Each published consistency proof is produced exactly and verifies."""
    size1, size2 = vector["size1"], vector["size2"]
    proof = merkle.consistency_proof(size1, HASHES[:size2])
    assert proof == _hashes(vector["proof"])
    assert merkle.verify_consistency(size1, size2, ROOTS[size1], ROOTS[size2], proof)


def _flipped(proof: list[bytes], position: int) -> list[bytes]:
    changed = list(proof)
    changed[position] = bytes([changed[position][0] ^ 8]) + changed[position][1:]
    return changed


def _inclusion_probes(index: int, size: int, proof: list[bytes]) -> list[tuple[Any, ...]]:
    root, leaf = ROOTS[size], HASHES[index]
    probes: list[tuple[Any, ...]] = [
        (index + 1, size, leaf, proof, root),
        (index ^ 2, size, leaf, proof, root),
        (index, size * 2, leaf, proof, root),
        (index, size // 2, leaf, proof, root),
        (index, size, merkle.leaf_hash(b"wrong"), proof, root),
        (index, size, leaf, proof, merkle.empty_root()),
        (index, size, leaf, [*proof, root], root),
        (index, size, leaf, [root, *proof], root),
        (index, size, leaf, [*proof, b""], root),
    ]
    probes += [(index, size, leaf, _flipped(proof, i), root) for i in range(len(proof))]
    if proof:
        probes.append((index, size, leaf, proof[:-1], root))
    return probes


@pytest.mark.parametrize("vector", VECTORS["inclusion_proofs"][1:], ids=lambda v: str(v["leaf"]))
def test_altered_inclusion_proofs_fail(vector: dict[str, Any]) -> None:
    """A wrong index, size, leaf or root, or a flipped, added or missing hash never verifies."""
    index, size = vector["leaf"] - 1, vector["size"]
    for probe in _inclusion_probes(index, size, _hashes(vector["proof"])):
        assert not merkle.verify_inclusion(*probe), probe[:2]


@pytest.mark.parametrize(
    "vector", VECTORS["consistency_proofs"][1:], ids=lambda v: f"{v['size1']}-{v['size2']}"
)
def test_altered_consistency_proofs_fail(vector: dict[str, Any]) -> None:
    """Wrong sizes or roots, swapped roots, and flipped, added or missing hashes never verify."""
    size1, size2 = vector["size1"], vector["size2"]
    proof, root1, root2 = _hashes(vector["proof"]), ROOTS[size1], ROOTS[size2]
    probes = [
        (size1 - 1, size2, root1, root2, proof),
        (size1 + 1, size2, root1, root2, proof),
        (size1, size2 * 2, root1, root2, proof),
        (size1, size2, merkle.empty_root(), root2, proof),
        (size1, size2, root2, root1, proof),
        (size1, size2, root1, root2, []),
        (size1, size2, root1, root2, [*proof, root2]),
        (size1, size2, root1, root2, [root1, *proof]),
        (size1, size2, root1, root2, proof[:-1]),
        *((size1, size2, root1, root2, _flipped(proof, i)) for i in range(len(proof))),
    ]
    for probe in probes:
        assert not merkle.verify_consistency(*probe), probe[:2]


def test_trivial_consistency() -> None:
    """The empty tree precedes any tree; a tree is consistent with itself only by its own root."""
    assert merkle.verify_consistency(0, 5, merkle.empty_root(), ROOTS[5], [])
    assert merkle.verify_consistency(3, 3, ROOTS[3], ROOTS[3], [])
    assert not merkle.verify_consistency(3, 3, ROOTS[3], ROOTS[4], [])
    assert not merkle.verify_consistency(3, 3, ROOTS[3], ROOTS[3], [ROOTS[3]])
    assert not merkle.verify_consistency(4, 3, ROOTS[4], ROOTS[3], [])


def test_proofs_for_every_leaf_and_prefix_of_larger_trees() -> None:
    """Every inclusion and consistency proof in trees of up to 33 leaves verifies."""
    for size in range(1, 34):
        hashes = [merkle.leaf_hash(size.to_bytes(2, "big") + bytes([i])) for i in range(size)]
        root = merkle.root_from_hashes(hashes)
        for index in range(size):
            proof = merkle.inclusion_proof(index, hashes)
            assert merkle.verify_inclusion(index, size, hashes[index], proof, root)
        for size1 in range(1, size + 1):
            old = merkle.root_from_hashes(hashes[:size1])
            proof = merkle.consistency_proof(size1, hashes)
            assert merkle.verify_consistency(size1, size, old, root, proof)


def test_proof_arguments_outside_the_tree_are_refused() -> None:
    """Asking for a proof of a leaf or prefix the tree does not have raises ValueError."""
    with pytest.raises(ValueError, match="outside"):
        merkle.inclusion_proof(8, HASHES)
    with pytest.raises(ValueError, match="outside"):
        merkle.consistency_proof(0, HASHES)
    assert not merkle.verify_inclusion(0, 0, HASHES[0], [], ROOTS[0])
