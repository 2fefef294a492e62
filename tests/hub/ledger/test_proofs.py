"""One disclosure's proof (C2SP tlog-proof): made by the hub, checked offline by both checkers.

A ledger of twelve fictional entries, its newest checkpoint note cosigned by two
of three witnesses. The proof of any entry holds, for the hub's checker and for
``deploy/audit/verify_ledger.py --proof``; any change to any part of it does not.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import io
import subprocess
import sys
import uuid
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

import pytest
from entry_drafts import disclosure

from hub.cli import main
from hub.crypto import COSIGNATURE, MLDSA_COSIGNATURE, KeyDirectory, NoteSigner, WitnessPolicy
from hub.crypto.keys import generate_party_keys, save_keyring
from hub.ledger import (
    CheckpointPolicy,
    Cosignature,
    LedgerConfig,
    ProofError,
    check_proof,
    disclosure_proof,
    open_ledger,
    open_store,
)

from .auditing import SCRIPT

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path


ORIGIN = "hub.exampleshire.example/ledger"
WITNESSES = {
    "police": NoteSigner.generate("witness.police.example", COSIGNATURE),
    "probation": NoteSigner.generate("witness.probation.example", COSIGNATURE),
    "health": NoteSigner.generate("witness.health.example/pq", MLDSA_COSIGNATURE),
}


def _policy_text(rule: str) -> str:
    lines = [f"witness {n} {s.verifier}" for n, s in WITNESSES.items()]
    return (
        "\n".join([*lines, f"group partners {rule} police probation health", "quorum partners"])
        + "\n"
    )


@pytest.fixture
async def ledger_url(tmp_path: Path) -> tuple[str, list[uuid.UUID], Path]:
    """Twelve entries, checkpoints at 4, 8 and 12; size 12 cosigned by police and health."""
    keyring = generate_party_keys("hub", datetime.now(UTC) - timedelta(days=1))
    save_keyring(keyring, tmp_path / "keys")
    (tmp_path / "keys" / "hub.private.jwks.json").unlink()
    url = f"sqlite:///{tmp_path / 'ledger.db'}"
    config = LedgerConfig(
        CheckpointPolicy(every_entries=4), origin="hub.exampleshire.example/ledger"
    )
    ledger = await open_ledger(url, keyring=keyring, config=config)
    drafts = [disclosure() for _ in range(12)]
    for draft in drafts:
        await ledger.append([draft])
    latest = (await ledger.store.checkpoints())[-1]
    assert latest.note is not None
    text = latest.note[: latest.note.index("\n\n") + 1]
    lines = [
        Cosignature(s.name, s.verifier.id, s.signature_line(text, 1_790_000_000))
        for s in (WITNESSES["police"], WITNESSES["health"])
    ]
    await ledger.add_cosignatures(latest.tree_size, lines)
    await ledger.close()
    return url, [d.decision_id for d in drafts], tmp_path / "keys"


def hub(*argv: str) -> tuple[int, str, str]:
    """Run ``hub`` in-process."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        status = main(list(argv))
    return status, out.getvalue(), err.getvalue()


def check(proof: Path, keys: Path, *extra: str) -> tuple[int, str, str]:
    """Run ``hub audit check-proof``."""
    return hub("audit", "check-proof", str(proof), "--keys", str(keys), *extra)


def script(proof: Path, keys: Path, *extra: str) -> tuple[int, str, str]:
    """Run the standalone checker."""
    done = subprocess.run(  # noqa: S603 - our own script, fixed arguments
        [
            sys.executable,
            str(SCRIPT),
            "--keys",
            str(keys / "hub.jwks.json"),
            "--proof",
            str(proof),
            *extra,
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert "Traceback" not in done.stderr
    return done.returncode, done.stdout, done.stderr


async def _proof_of(url: str, decision: uuid.UUID) -> str:
    store = await open_store(url, read_only=True)
    try:
        return await disclosure_proof(store, decision)
    finally:
        await store.close()


async def test_every_entrys_proof_holds_offline(
    ledger_url: tuple[str, list[uuid.UUID], Path],
) -> None:
    """Each of the twelve entries is proven in the tree of size 12, witnessed by a quorum."""
    url, decisions, keys = ledger_url
    hub_keys = KeyDirectory.load(keys)
    policy = WitnessPolicy.parse(_policy_text("2"))
    for index, decision in enumerate(decisions):
        proven = check_proof(await _proof_of(url, decision), hub_keys, policy=policy)
        assert (proven.index, proven.tree_size, proven.entry.decision_id) == (index, 12, decision)
        assert proven.witnesses == ("police", "health")


async def test_the_command_writes_a_proof_both_checkers_read_alike(
    ledger_url: tuple[str, list[uuid.UUID], Path], tmp_path: Path
) -> None:
    """``hub audit proof`` then ``hub audit check-proof`` and the script print the same."""
    url, decisions, keys = ledger_url
    out = tmp_path / "entry-5.tlog-proof"
    status, said, err = await asyncio.to_thread(
        hub, "audit", "proof", "--ledger", url, "--decision", str(decisions[5]), "--out", str(out)
    )
    assert (status, said, err) == (0, f"wrote the proof of entry 5 to {out}\n", "")
    policy = tmp_path / "witnesses.policy"
    policy.write_text(_policy_text("2"))
    by_hub = hub(
        "audit", "check-proof", str(out), "--keys", str(keys), "--witness-policy", str(policy)
    )
    by_script = script(out, keys, "--witness-policy", str(policy))
    assert by_hub == by_script
    assert by_hub[0] == 0
    lines = by_hub[1].splitlines()
    assert lines[0].startswith(
        f"included: entry 5 (disclosure, decision {decisions[5]}) in the checkpoint of size 12"
    )
    assert lines[1] == "witnessed: cosigned by police, health"
    assert "person" not in by_hub[1]


def _swap(text: str, old: str, new: str) -> str:
    assert old in text
    return text.replace(old, new, 1)


def _flip_base64(line: str, at: int) -> str:
    data = bytearray(base64.b64decode(line))
    data[at % len(data)] ^= 1
    return base64.b64encode(bytes(data)).decode()


def _change_line(text: str, number: int, at: int = 3) -> str:
    lines = text.split("\n")
    head, _, encoded = lines[number].rpartition(" ")
    lines[number] = (head + " " if head else "") + _flip_base64(encoded, at)
    return "\n".join(lines)


def _note_line(text: str, prefix: str) -> int:
    return next(n for n, line in enumerate(text.split("\n")) if line.startswith(prefix))


def _change_signature(text: str, name: str, at: int) -> str:
    return _change_line(text, _note_line(text, f"\N{EM DASH} {name}"), at)


def _drop_line(text: str) -> str:
    return "\n".join(line for n, line in enumerate(text.split("\n")) if n != 3)


def _drop_health(text: str) -> str:
    lines = text.split("\n")
    return "\n".join(x for x in lines if not x.startswith("\N{EM DASH} witness.health"))


CHANGES: dict[str, tuple[Callable[[str], str], str]] = {
    "the entry": (lambda t: _change_line(t, 1, 40), "proof.not_included"),
    "the index": (lambda t: _swap(t, "index 5\n", "index 6\n"), "proof.not_included"),
    "a proof hash": (lambda t: _change_line(t, 3), "proof.not_included"),
    "a proof hash dropped": (_drop_line, "proof.not_included"),
    "the tree size": (lambda t: _swap(t, "\n12\n", "\n13\n"), "proof.unsigned"),
    "the root": (
        lambda t: _change_line(t, _note_line(t, "hub.exampleshire") + 2),
        "proof.unsigned",
    ),
    "the hub's signature": (
        lambda t: _change_line(t, _note_line(t, "\N{EM DASH} hub."), 10),
        "proof.unsigned",
    ),
    "a cosignature": (
        lambda t: _change_line(t, _note_line(t, "\N{EM DASH} witness.police"), 20),
        "proof.unsigned",
    ),
    "a cosignature dropped": (_drop_health, "proof.unwitnessed"),
}


@pytest.mark.parametrize("change", list(CHANGES))
async def test_a_proof_changed_anywhere_does_not_hold(
    change: str, ledger_url: tuple[str, list[uuid.UUID], Path], tmp_path: Path
) -> None:
    """Both checkers refuse it with the same words; the untouched proof holds."""
    url, decisions, keys = ledger_url
    honest = await _proof_of(url, decisions[5])
    alter, code = CHANGES[change]
    policy = tmp_path / "witnesses.policy"
    policy.write_text(_policy_text("2"))
    path = tmp_path / "changed.tlog-proof"
    path.write_text(alter(honest))
    by_hub = hub(
        "audit", "check-proof", str(path), "--keys", str(keys), "--witness-policy", str(policy)
    )
    by_script = script(path, keys, "--witness-policy", str(policy))
    assert by_hub[:2] == by_script[:2]
    assert by_hub[0] == 1
    assert by_hub[1].startswith(f"not proven: {code}:")
    path.write_text(honest)
    assert script(path, keys, "--witness-policy", str(policy))[0] == 0


async def test_no_proof_without_an_entry_or_a_note(
    tmp_path: Path, ledger_url: tuple[str, list[uuid.UUID], Path]
) -> None:
    """An unknown decision is ``proof.no_entry``; a malformed file is an input error."""
    url, _, keys = ledger_url
    with pytest.raises(ProofError) as raised:
        await _proof_of(url, uuid.uuid4())
    assert raised.value.code == "proof.no_entry"
    path = tmp_path / "bad.tlog-proof"
    path.write_text("c2sp.org/tlog-proof@v1\nindex x\n\nnothing\n")
    assert hub("audit", "check-proof", str(path), "--keys", str(keys))[2].startswith(
        "error proof.malformed:"
    )
    assert script(path, keys)[0] == 2
