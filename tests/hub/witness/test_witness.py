"""``hub witness`` over HTTP on loopback: every answer C2SP tlog-witness defines, and evidence.

Each witness listens on its own port of 127.0.0.1 with its own state file. A log
(signed notes over an RFC 9162 tree of fictional leaves) asks them to cosign.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
from contextlib import AsyncExitStack
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import aiohttp
import pytest

from hub.crypto import (
    COSIGNATURE,
    ED25519,
    MLDSA_COSIGNATURE,
    Checkpoint,
    NoteError,
    NoteSigner,
    open_note,
    sign_note,
)
from hub.ledger import consistency_proof
from hub.ledger.merkle import leaf_hash, root_from_hashes
from hub.witness import WitnessConfig, WitnessState, start_witness

if TYPE_CHECKING:
    from collections.abc import AsyncIterator
    from pathlib import Path

ORIGIN = "hub.exampleshire.example/ledger/00000000-0000-4000-8000-000000000000"
LOG = NoteSigner.generate(ORIGIN, ED25519)
LEAVES = [leaf_hash(f"fictional entry {n}".encode()) for n in range(40)]


def note(size: int, *, signer: NoteSigner = LOG, leaves: list[bytes] = LEAVES) -> str:
    """The log's signed checkpoint of its first ``size`` leaves."""
    text = Checkpoint(ORIGIN, size, root_from_hashes(leaves[:size])).text()
    return sign_note(text, [signer])


def body(
    old: int, size: int, *, proof: list[bytes] | None = None, signed: str | None = None
) -> str:
    """An add-checkpoint request from ``old`` to ``size``, with the true proof by default."""
    if proof is None:
        proof = consistency_proof(old, LEAVES[:size]) if 0 < old < size else []
    lines = "".join(base64.b64encode(p).decode() + "\n" for p in proof)
    return f"old {old}\n{lines}\n{signed or note(size)}"


@dataclass
class Running:
    """One witness served on loopback: its URL, keys and state file."""

    url: str
    signers: tuple[NoteSigner, ...]
    config: WitnessConfig

    async def post(self, text: str | bytes) -> tuple[int, str, str]:
        """POST an add-checkpoint body; the status, the body and its content type."""
        async with (
            aiohttp.ClientSession() as session,
            session.post(self.url + "add-checkpoint", data=text) as answer,
        ):
            return answer.status, await answer.text(), answer.content_type

    async def get(self, path: str) -> tuple[int, str]:
        """GET a page of the witness."""
        async with aiohttp.ClientSession() as session, session.get(self.url + path) as answer:
            return answer.status, await answer.text()


def _config(tmp_path: Path, name: str, kinds: tuple[int, ...]) -> WitnessConfig:
    signers = tuple(NoteSigner.generate(f"witness.{name}.example/{k}", k) for k in kinds)
    return WitnessConfig(
        signers, {ORIGIN: (LOG.verifier,)}, tmp_path / f"{name}.db", "127.0.0.1", 0
    )


@pytest.fixture
async def witnesses(tmp_path: Path) -> AsyncIterator[dict[str, Running]]:
    """Three witnesses on three ports: two Ed25519 cosigners, one with an ML-DSA-44 key too."""
    kinds = {
        "police": (COSIGNATURE,),
        "probation": (COSIGNATURE,),
        "health": (COSIGNATURE, MLDSA_COSIGNATURE),
    }
    async with AsyncExitStack() as stack:
        running = {}
        for name, types in kinds.items():
            config = _config(tmp_path, name, types)
            url = await start_witness(stack, config)
            running[name] = Running(url, config.signers, config)
        yield running


async def test_three_witnesses_on_three_ports_cosign_and_extend(
    witnesses: dict[str, Running],
) -> None:
    """Each cosigns size 5 from nothing, then 17 from 5 with a proof; both verify as notes."""
    ports = {w.url for w in witnesses.values()}
    assert len(ports) == 3
    for witness in witnesses.values():
        for old, size in ((0, 5), (5, 17)):
            status, lines, _ = await witness.post(body(old, size))
            assert status == 200, lines
            opened = open_note(
                note(size) + lines, [LOG.verifier, *(s.verifier for s in witness.signers)]
            )
            assert set(opened.signed_by) == {LOG.verifier, *(s.verifier for s in witness.signers)}
        origin_hash = hashlib.sha256(ORIGIN.encode()).hexdigest()
        status, kept = await witness.get(f"{origin_hash}/checkpoint")
        assert status == 200
        assert Checkpoint.parse(open_note(kept, [LOG.verifier]).text).size == 17
        assert len(open_note(kept, [s.verifier for s in witness.signers]).signed_by) == len(
            witness.signers
        )


async def test_the_ml_dsa_cosignature_covers_the_timestamp_and_the_tree(
    witnesses: dict[str, Running],
) -> None:
    """The ML-DSA-44 line verifies; moved onto another tree head it does not."""
    health = witnesses["health"]
    _, lines, _ = await health.post(body(0, 8))
    pq = next(s for s in health.signers if s.kind == MLDSA_COSIGNATURE)
    line = next(x for x in lines.splitlines() if x.split(" ")[1] == pq.name)
    assert open_note(note(8) + line + "\n", [pq.verifier]).signed_by == (pq.verifier,)
    with pytest.raises(NoteError):
        open_note(note(9) + line + "\n", [pq.verifier])


OTHER = NoteSigner.generate(ORIGIN, ED25519)


def _changed_signature(signed: str) -> str:
    head, _, line = signed.rstrip("\n").rpartition(" ")
    blob = bytearray(base64.b64decode(line))
    blob[10] ^= 1
    return f"{head} {base64.b64encode(bytes(blob)).decode()}\n"


ANSWERS: dict[str, tuple[Any, int, str]] = {
    "unknown origin": (
        lambda: body(
            0, 3, signed=sign_note(Checkpoint("elsewhere.example/log", 3, LEAVES[0]).text(), [LOG])
        ),
        404,
        "witness.unknown_log",
    ),
    "a trusted key's signature fails": (
        lambda: body(0, 3, signed=_changed_signature(note(3))),
        403,
        "witness.not_signed",
    ),
    "no trusted key signed": (
        lambda: body(0, 3, signed=note(3, signer=OTHER)),
        403,
        "witness.not_signed",
    ),
    "old size above the checkpoint's": (lambda: body(4, 3), 400, "witness.old_above_size"),
    "not a request": (lambda: "old 0\nnot base64!\n\n" + note(3), 400, "witness.malformed"),
    "no blank line": (lambda: "old 0\n" + note(3).replace("\n\n", "\n"), 400, "witness.malformed"),
    "leading zero": (lambda: body(0, 3).replace("old 0", "old 00"), 400, "witness.malformed"),
    "64 proof lines": (lambda: body(0, 3, proof=[LEAVES[0]] * 64), 400, "witness.malformed"),
    "a proof from nothing": (lambda: body(0, 3, proof=[LEAVES[0]]), 422, "witness.bad_proof"),
    "an empty tree's root": (
        lambda: body(0, 0, signed=sign_note(Checkpoint(ORIGIN, 0, LEAVES[0]).text(), [LOG])),
        422,
        "witness.bad_root",
    ),
}


@pytest.mark.parametrize("case", list(ANSWERS))
async def test_each_refusal_has_the_specs_status_and_a_stable_code(
    case: str, witnesses: dict[str, Running]
) -> None:
    """Nothing is cosigned; the witness still cosigns a good request afterwards."""
    make, status, code = ANSWERS[case]
    police = witnesses["police"]
    answer, text, _ = await police.post(make())
    assert (answer, text.split(":")[0]) == (status, code)
    assert (await police.post(body(0, 3)))[0] == 200


async def test_a_stale_old_size_is_told_the_cosigned_size(witnesses: dict[str, Running]) -> None:
    """409 Conflict with the size it cosigned, as text/x.tlog.size; the client can retry."""
    probation = witnesses["probation"]
    assert (await probation.post(body(0, 6)))[0] == 200
    assert await probation.post(body(0, 9)) == (409, "6\n", "text/x.tlog.size")
    assert await probation.post(body(3, 9)) == (409, "6\n", "text/x.tlog.size")
    assert (await probation.post(body(6, 9)))[0] == 200


async def test_a_forked_history_is_refused_and_kept_as_evidence(
    witnesses: dict[str, Running],
) -> None:
    """A rewritten tree, a second root for one size and a shrunk tree: refused and kept."""
    police = witnesses["police"]
    assert (await police.post(body(0, 10)))[0] == 200
    forked = [*LEAVES[:4], leaf_hash(b"rewritten entry 4"), *LEAVES[5:]]
    rewritten = note(12, leaves=forked)
    proof = consistency_proof(10, forked[:12])
    status, text, _ = await police.post(body(10, 12, proof=proof, signed=rewritten))
    assert (status, text.split(":")[0]) == (422, "witness.inconsistent")
    status, text, _ = await police.post(body(10, 10, signed=note(10, leaves=forked)))
    assert (status, text.split(":")[0]) == (422, "witness.inconsistent")
    status, text, _ = await police.post(body(10, 8))
    assert (status, text.split(":")[0]) == (400, "witness.old_above_size")
    status, page = await police.get("status")
    assert status == 200
    evidence = __import__("json").loads(page)["evidence"]
    assert [(e["kind"], e["cosigned_size"], e["tree_size"]) for e in evidence] == [
        ("inconsistent", 10, 12),
        ("inconsistent", 10, 10),
        ("shrunk", 10, 8),
    ]
    assert rewritten in evidence[0]["request"]
    status, html = await police.get("")
    assert "second history" in html
    assert "does not extend the cosigned tree" in html
    _, metrics = await police.get("metrics")
    assert "hub_witness_evidence 3.0" in metrics
    assert (await police.post(body(10, 12)))[0] == 200  # the true history still extends


async def test_two_racing_requests_from_one_size_are_cosigned_once(
    witnesses: dict[str, Running],
) -> None:
    """Of two requests checked against size 4, one is cosigned and the other told 409."""
    health = witnesses["health"]
    assert (await health.post(body(0, 4)))[0] == 200
    for _ in range(5):
        state = health.config.state
        size = WitnessState(state).latest(ORIGIN)
        assert size is not None
        old = size.size
        answers = await asyncio.gather(
            health.post(body(old, old + 2)), health.post(body(old, old + 3))
        )
        assert sorted(a[0] for a in answers) == [200, 409]


async def test_the_cosigned_size_survives_a_restart(tmp_path: Path) -> None:
    """A witness restarted on the same state file still holds the size it cosigned."""
    config = _config(tmp_path, "advocacy", (COSIGNATURE,))
    async with AsyncExitStack() as stack:
        running = Running(await start_witness(stack, config), config.signers, config)
        assert (await running.post(body(0, 7)))[0] == 200
    async with AsyncExitStack() as stack:
        running = Running(await start_witness(stack, config), config.signers, config)
        assert await running.post(body(0, 9)) == (409, "7\n", "text/x.tlog.size")


async def test_a_request_past_64_kib_is_refused_unread(witnesses: dict[str, Running]) -> None:
    """No checkpoint needs more: 413, and the witness goes on."""
    police = witnesses["police"]
    status, _, _ = await police.post(b"old 0\n" + b"A" * (65 * 1024))
    assert status == 413
    assert (await police.post(body(0, 3)))[0] == 200
