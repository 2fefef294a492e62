"""``hub audit verify`` on a SQLite ledger: intact, broken, and user errors without tracebacks."""

from __future__ import annotations

import asyncio
import sqlite3
from typing import TYPE_CHECKING

import pytest

from hub.cli import main
from hub.crypto.keys import PartyKeyring, save_keyring
from hub.ledger.checkpoints import CheckpointPolicy
from hub.ledger.service import LedgerConfig, open_ledger

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path

    from hub.ledger.entries import EntryDraft


def run(argv: list[str]) -> int:
    """Run ``hub`` in-process: user errors on one line of stderr."""
    return main(argv)


@pytest.fixture
def ledger_file(
    tmp_path: Path, keyrings: dict[str, PartyKeyring], draft: Callable[..., EntryDraft]
) -> Path:
    """A SQLite ledger of ten entries, checkpoints at 4, 8 and 10."""
    path = tmp_path / "ledger.db"
    config = LedgerConfig(checkpoints=CheckpointPolicy(every_entries=4, every_seconds=3600))

    async def fill() -> None:
        ledger = await open_ledger(f"sqlite:///{path}", keyring=keyrings["hub"], config=config)
        for _ in range(10):
            await ledger.append([draft()])
        await ledger.close()

    asyncio.run(fill())
    return path


@pytest.fixture
def public_keys(tmp_path: Path, keyrings: dict[str, PartyKeyring]) -> Path:
    """A folder with the hub's key files (the verifier reads only the public one)."""
    folder = tmp_path / "keys"
    save_keyring(keyrings["hub"], folder)
    (folder / "hub.private.jwks.json").unlink()
    return folder


def test_intact_ledger(
    ledger_file: Path, public_keys: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """An untouched ledger prints the entry count and checkpoint size and exits 0."""
    assert (
        run(["audit", "verify", "--ledger", f"sqlite:///{ledger_file}", "--keys", str(public_keys)])
        == 0
    )
    assert capsys.readouterr().out == "intact: 10 entries, checkpoint at size 10\n"


def test_broken_ledger(
    ledger_file: Path, public_keys: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """An edited entry prints the first broken seq and its code and exits 1."""
    db = sqlite3.connect(ledger_file)
    db.execute("DROP TRIGGER ledger_entries_no_update")
    db.execute(
        "UPDATE ledger_entries SET body = replace(body, '\"health\"', '\"advocacy\"') WHERE seq = 6"
    )
    db.commit()
    db.close()
    assert (
        run(["audit", "verify", "--ledger", f"sqlite:///{ledger_file}", "--keys", str(public_keys)])
        == 1
    )
    out = capsys.readouterr().out
    assert out.splitlines()[0] == "broken at entry 6: ledger.hash_mismatch"
    assert "Traceback" not in out


def test_checkpoint_kept_elsewhere_is_checked(
    ledger_file: Path, public_keys: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A checkpoint saved outside the hub is checked as well; a forged one breaks."""
    saved = tmp_path / "checkpoint.jws"
    db = sqlite3.connect(ledger_file)
    [(token,)] = db.execute("SELECT token FROM ledger_checkpoints WHERE tree_size = 8").fetchall()
    db.close()
    saved.write_text(token + "\n")
    url = f"sqlite:///{ledger_file}"
    assert (
        run(
            [
                "audit",
                "verify",
                "--ledger",
                url,
                "--keys",
                str(public_keys),
                "--checkpoint",
                str(saved),
            ]
        )
        == 0
    )
    head, payload, signature = token.split(".")
    other = "A" if signature[10] != "A" else "B"
    saved.write_text(f"{head}.{payload}.{signature[:10]}{other}{signature[11:]}")
    assert (
        run(
            [
                "audit",
                "verify",
                "--ledger",
                url,
                "--keys",
                str(public_keys),
                "--checkpoint",
                str(saved),
            ]
        )
        == 1
    )
    assert "ledger.checkpoint_invalid" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("url", "code"),
    [("mysql://x", "ledger.url_invalid"), ("sqlite:///{tmp}/missing.db", "ledger.unavailable")],
)
def test_user_errors_are_one_line(
    url: str, code: str, tmp_path: Path, public_keys: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A bad URL or a missing ledger ends in one error line with a stable code."""
    assert (
        run(["audit", "verify", "--ledger", url.format(tmp=tmp_path), "--keys", str(public_keys)])
        == 1
    )
    err = capsys.readouterr().err
    assert err.startswith(f"error {code}: ")
    assert "Traceback" not in err
    assert not (tmp_path / "missing.db").exists()
