"""A witness never cosigns a history that does not extend what it cosigned (property test).

Hypothesis plays a log against one witness (its logic and its state file, no HTTP):
honest checkpoints that grow the tree, rewritten ones that change an entry the
witness has already covered, and requests from a stale size. Whatever the order,
every cosigned checkpoint is a checkpoint of the one honest tree, the stored size
never shrinks, and every rewritten one is refused and kept as evidence.
"""

from __future__ import annotations

import base64
import tempfile
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from hub.crypto import COSIGNATURE, ED25519, Checkpoint, NoteSigner, sign_note
from hub.ledger import consistency_proof
from hub.ledger.merkle import leaf_hash, root_from_hashes
from hub.witness import CheckpointRefusedError, Witness, WitnessConfig, WitnessState

ORIGIN = "hub.exampleshire.example/ledger/00000000-0000-4000-8000-00000000abcd"
LOG = NoteSigner.generate(ORIGIN, ED25519)
COSIGNER = NoteSigner.generate("witness.police.example", COSIGNATURE)
HONEST = [leaf_hash(f"fictional entry {n}".encode()) for n in range(200)]

#: (kind, amount): "grow" by amount, "rewrite" the entry amount places back, "stale" size.
STEPS = st.lists(
    st.tuples(st.sampled_from(["grow", "rewrite", "stale"]), st.integers(1, 17)),
    min_size=1,
    max_size=25,
)


def _request(old: int, leaves: list[bytes]) -> bytes:
    size = len(leaves)
    proof = consistency_proof(old, leaves) if 0 < old < size else []
    text = Checkpoint(ORIGIN, size, root_from_hashes(leaves)).text()
    lines = "".join(base64.b64encode(p).decode() + "\n" for p in proof)
    return f"old {old}\n{lines}\n{sign_note(text, [LOG])}".encode()


@settings(max_examples=60, deadline=None)
@given(STEPS)
def test_only_extensions_of_the_one_history_are_ever_cosigned(steps: list[tuple[str, int]]) -> None:
    """Cosigned: honest roots only, sizes never shrink; rewritten: refused and kept."""
    with tempfile.TemporaryDirectory() as folder:
        config = WitnessConfig((COSIGNER,), {ORIGIN: (LOG.verifier,)}, Path(folder) / "w.db")
        state = WitnessState(config.state)
        witness = Witness(config, state)
        rewrites, statuses = 0, []
        for kind, amount in steps:
            latest = state.latest(ORIGIN)
            held = latest.size if latest is not None else 0
            if kind == "grow":
                size = min(held + amount, len(HONEST))
                leaves, old = HONEST[:size], held
            elif kind == "rewrite" and held > 0:
                at = max(0, held - amount)
                size = min(held + amount, len(HONEST))
                leaves = [*HONEST[:at], leaf_hash(b"rewritten"), *HONEST[at + 1 : size]]
                old = held
                rewrites += 1
            else:
                leaves, old = HONEST[: held + 1], held + amount  # a stale or wrong old size
            try:
                witness.add_checkpoint(_request(old, leaves))
            except CheckpointRefusedError as refusal:
                statuses.append(refusal.status)
                after = state.latest(ORIGIN)
                assert (after.size if after else 0) == held  # nothing moved
                continue
            after = state.latest(ORIGIN)
            assert after is not None
            assert after.size >= held
            assert after.root == root_from_hashes(HONEST[: after.size])  # the one history
            statuses.append(200)
        assert set(statuses) <= {200, 400, 409, 422}
        assert [e.kind for e in state.evidence()] == ["inconsistent"] * rewrites
        state.close()
