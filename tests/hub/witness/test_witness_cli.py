"""``hub witness keygen|serve`` and ``hub audit log-key`` as an operator runs them."""

from __future__ import annotations

import asyncio
import contextlib
import io
import os
import signal
import socket
import subprocess
import sys
import time
import tomllib
import urllib.request
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from entry_drafts import disclosure

from hub.cli import main
from hub.crypto import (
    COSIGNATURE,
    MLDSA_COSIGNATURE,
    NoteSigner,
    NoteVerifier,
    generate_party_keys,
    open_note,
    save_keyring,
)
from hub.ledger import LedgerConfig, open_ledger, open_store
from hub.witness import WitnessConfig, WitnessConfigError

from .test_witness import LOG, ORIGIN, body, note

ROOT = Path(__file__).resolve().parents[3]


def hub(*argv: str) -> tuple[int, str, str]:
    """Run the ``hub`` command in-process."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        status = main(list(argv))
    return status, out.getvalue(), err.getvalue()


def test_keygen_writes_a_private_key_file_and_prints_its_verifier(tmp_path: Path) -> None:
    """The key file is the owner's alone; a second keygen never overwrites it."""
    for flag, kind in (([], COSIGNATURE), (["--ml-dsa"], MLDSA_COSIGNATURE)):
        out = tmp_path / f"w{kind}.key"
        status, printed, err = hub(
            "witness", "keygen", "--name", "witness.police.example", *flag, "--out", str(out)
        )
        assert (status, err) == (0, "")
        signer = NoteSigner.parse(out.read_text().strip())
        assert signer.kind == kind
        assert NoteVerifier.parse(printed.strip()) == signer.verifier
        assert out.stat().st_mode & 0o777 == 0o600
        again = hub("witness", "keygen", "--name", "x.example", "--out", str(out))
        assert again[0] == 1
        assert again[2].startswith("error witness.key_exists:")
        assert NoteSigner.parse(out.read_text().strip()).verifier == signer.verifier


@pytest.mark.parametrize(
    ("document", "named"),
    [
        ({"keys": [], "logs": ["x"], "state": "s.db"}, "keys and logs"),
        ({"keys": ["w.key"], "logs": ["not a vkey"], "state": "s.db"}, "logs[0]"),
        ({"keys": ["missing.key"], "logs": [str(LOG.verifier)], "state": "s.db"}, "keys[0]"),
        ({"keys": ["log.key"], "logs": [str(LOG.verifier)], "state": "s.db"}, "keys[0]"),
        ({"keys": ["w.key"], "logs": [str(LOG.verifier)], "state": "s.db", "port": 70000}, "port"),
        ({"keys": ["w.key"], "logs": [str(LOG.verifier)]}, "state"),
        ({"keys": ["w.key"], "logs": [str(LOG.verifier)], "state": "s.db", "extra": 1}, "unknown"),
    ],
)
def test_a_bad_configuration_names_the_setting_not_the_key(
    document: dict[str, object], named: str, tmp_path: Path
) -> None:
    """``witness.config_invalid`` with the setting; a key's material never appears."""
    (tmp_path / "w.key").write_text(f"{NoteSigner.generate('w.example', COSIGNATURE)}\n")
    (tmp_path / "log.key").write_text(f"{LOG}\n")
    with pytest.raises(WitnessConfigError) as raised:
        WitnessConfig.of(document, tmp_path)
    assert raised.value.code == "witness.config_invalid"
    assert named in str(raised.value.detail)
    assert "PRIVATE" not in str(raised.value.detail)


def test_the_example_configuration_reads_but_for_its_key_files() -> None:
    """deploy/witness.example.toml holds every setting, and a log key that parses."""
    example = ROOT / "deploy" / "witness.example.toml"
    document = tomllib.loads(example.read_text())
    assert set(document) == {"keys", "state", "host", "port", "logs"}
    with pytest.raises(WitnessConfigError) as raised:
        WitnessConfig.load(example)
    assert "keys[0]" in str(raised.value.detail)  # the example ships no private key


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_serve_runs_until_sigterm_and_cosigns(tmp_path: Path) -> None:
    """The command a partner runs: it listens, cosigns, and stops cleanly on SIGTERM."""
    key = tmp_path / "w.key"
    status, vkey, _ = hub(
        "witness", "keygen", "--name", "witness.police.example", "--out", str(key)
    )
    assert status == 0
    port = _free_port()
    (tmp_path / "witness.toml").write_text(
        f'keys = ["w.key"]\nstate = "witness.db"\nhost = "127.0.0.1"\nport = {port}\n'
        f'logs = ["{LOG.verifier}"]\n'
    )
    process = subprocess.Popen(  # noqa: S603 - our own command, fixed arguments
        [
            sys.executable,
            "-m",
            "hub.cli",
            "witness",
            "serve",
            "--config",
            str(tmp_path / "witness.toml"),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    try:
        url = f"http://127.0.0.1:{port}/"
        for _ in range(100):
            with contextlib.suppress(OSError):
                urllib.request.urlopen(url, timeout=1).close()
                break
            time.sleep(0.1)
        request = urllib.request.Request(url + "add-checkpoint", data=body(0, 5).encode())  # noqa: S310
        with urllib.request.urlopen(request, timeout=5) as answer:  # noqa: S310 - loopback
            lines = answer.read().decode()
        verifier = NoteVerifier.parse(vkey.strip())
        assert open_note(note(5) + lines, [verifier]).signed_by == (verifier,)
    finally:
        process.send_signal(signal.SIGTERM)
        out, err = process.communicate(timeout=20)
    assert process.returncode == 0
    assert f"witness at {url}" in out
    assert "Traceback" not in err
    assert ORIGIN in err  # the log line names the origin it cosigned, nothing else


async def test_log_key_prints_the_vkey_that_verifies_the_ledgers_notes(tmp_path: Path) -> None:
    """One vkey per hub signing key, named by ``<ledger_origin>/<ledger id>``."""
    keyring = generate_party_keys("hub", datetime.now(UTC) - timedelta(days=1))
    save_keyring(keyring, tmp_path / "keys")
    (tmp_path / "keys" / "hub.private.jwks.json").unlink()
    url = f"sqlite:///{tmp_path / 'ledger.db'}"
    config = LedgerConfig(origin="hub.exampleshire.example/ledger")
    ledger = await open_ledger(url, keyring=keyring, config=config)
    await ledger.append([disclosure()])
    await ledger.close()
    status, printed, err = await asyncio.to_thread(
        hub,
        *("audit", "log-key", "--ledger", url, "--keys", str(tmp_path / "keys")),
        *("--origin", "hub.exampleshire.example/ledger"),
    )
    assert (status, err) == (0, "")
    verifier = NoteVerifier.parse(printed.strip())
    store = await open_store(url, read_only=True)
    try:
        (checkpoint,) = await store.checkpoints()
        ledger_id = await store.ledger_id()
    finally:
        await store.close()
    assert verifier.name == f"hub.exampleshire.example/ledger/{ledger_id}"
    assert checkpoint.note is not None
    assert open_note(checkpoint.note, [verifier]).signed_by == (verifier,)
