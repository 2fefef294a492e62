"""Bad invocations of ``hub``: each ends in one line with a stable code, the path and the cause.

Never a traceback, never a silent exit 0. Each row sets up what a user might have
got wrong, runs the command in-process and compares the whole error line.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from hub.cli import main

if TYPE_CHECKING:
    from collections.abc import Callable

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
NOT_UTF8 = b'title = "\xff"\n'  # byte 9 is not UTF-8


@dataclass(frozen=True)
class Case:
    """One bad invocation: what to set up in a folder, the command, the error line expected."""

    name: str
    setup: Callable[[Path], None]
    argv: tuple[str, ...]
    error: str


def _nothing(_: Path) -> None:
    pass


def _policy_with_bad_agreement(folder: Path) -> None:
    shutil.copytree(DEPLOY / "agreements", folder / "agreements")
    (folder / "agreements" / "zz-broken.toml").write_bytes(NOT_UTF8)
    for name in ("parties.toml", "rules.toml"):
        shutil.copy(DEPLOY / name, folder / name)


def _bad_file(name: str) -> Callable[[Path], None]:
    def setup(folder: Path) -> None:
        (folder / name).write_bytes(NOT_UTF8)

    return setup


def _a_file(name: str) -> Callable[[Path], None]:
    def setup(folder: Path) -> None:
        (folder / name).write_text("not a folder\n")

    return setup


def _empty_folder(folder: Path) -> None:
    (folder / "keys").mkdir()


def _not_a_ledger(folder: Path) -> None:
    (folder / "ledger.db").write_bytes(b"not a database at all" * 10)
    (folder / "keys").mkdir()


def _bad_policy(folder: Path) -> None:
    (folder / "witnesses.policy").write_text("quorum none\nwitnesses are many\n")


CASES = [
    Case(
        "agreement-not-utf8", _policy_with_bad_agreement,
        ("agreements", "check", "{dir}/agreements"),
        "error policy.invalid: {dir}/agreements/zz-broken.toml: not UTF-8 (byte 9)",
    ),
    Case(
        "parties-not-utf8", _bad_file("parties.toml"),
        ("broker", "definitions", "--parties", "{dir}/parties.toml"),
        "error definitions.invalid: {dir}/parties.toml: not UTF-8 (byte 9)",
    ),
    Case(
        "settings-not-utf8", _bad_file("hub.toml"), ("run", "--config", "{dir}/hub.toml"),
        "error settings.invalid: --config: {dir}/hub.toml: not UTF-8 (byte 9)",
    ),
    Case(
        "keys-list-no-folder", _nothing, ("keys", "list", "{dir}/nosuchdir"),
        "error keys.unreadable: {dir}/nosuchdir is not a folder of JWK Sets",
    ),
    Case(
        "keys-list-a-file", _a_file("passwd"), ("keys", "list", "{dir}/passwd"),
        "error keys.unreadable: {dir}/passwd is not a folder of JWK Sets",
    ),
    Case(
        "keys-list-empty", _empty_folder, ("keys", "list", "{dir}/keys"),
        "error keys.none: no <party>.jwks.json in {dir}/keys",
    ),
    Case(
        "tokens-list-no-file", _nothing, ("tokens", "list", "--file", "{dir}/none.json"),
        "error tokens.unreadable: {dir}/none.json does not exist;"
        " `hub tokens create --file {dir}/none.json` makes it",
    ),
    Case(
        "tokens-revoke-no-file", _nothing,
        ("tokens", "revoke", "--name", "ops-desk", "--file", "{dir}/none.json"),
        "error tokens.unreadable: {dir}/none.json does not exist;"
        " `hub tokens create --file {dir}/none.json` makes it",
    ),
    Case(
        "keys-out-is-a-file", _a_file("out"),
        ("keys", "init", "--party", "police", "--out", "{dir}/out/keys"),
        "error io.failed: {dir}/out/keys: Not a directory",
    ),
    Case(
        "verify-no-ledger", _empty_folder,
        ("audit", "verify", "--ledger", "sqlite:///{dir}/none.db", "--keys", "{dir}/keys"),
        "error ledger.unavailable: open ledger: no ledger file {dir}/none.db",
    ),
    Case(
        "verify-not-a-ledger", _not_a_ledger,
        ("audit", "verify", "--ledger", "sqlite:///{dir}/ledger.db", "--keys", "{dir}/keys"),
        "error ledger.unavailable: read checkpoint: DatabaseError: file is not a database",
    ),
    Case(
        "agreements-file-not-folder", _nothing,
        ("agreements", "check", str(DEPLOY / "agreements" / "masip-exampleshire.toml")),
        f"error policy.unreadable: {DEPLOY / 'agreements' / 'masip-exampleshire.toml'}:"
        " a file: give the folder of the agreements",
    ),
    Case(
        "keys-init-unknown-party", _nothing,
        ("keys", "init", "--party", "nosuch", "--out", "{dir}/keys"),
        f"error keys.unknown_party: nosuch is not a party of {DEPLOY / 'parties.toml'};"
        " add it there first, or name the deployment's parties file with --parties",
    ),
    Case(
        "keys-init-already-expired", _nothing,
        ("keys", "init", "--party", "police", "--out", "{dir}/keys",
         "--not-before", "2019-01-01T00:00:00Z"),
        "error keys.expired: keys from --not-before for 365 days would have expired on"
        " 2020-01-01; give a later --not-before or more --valid-days",
    ),
    Case(
        "witness-policy-bad-line", _bad_policy,
        ("audit", "verify", "--ledger", "sqlite:///{dir}/ledger.db", "--keys", "{dir}/keys",
         "--witness-policy", "{dir}/witnesses.policy"),
        "error policy.invalid: line 2: not a log, witness, group or quorum line",
    ),
    Case(
        "witness-config-missing", _nothing, ("witness", "serve", "--config", "{dir}/none.toml"),
        "error witness.config_invalid: none.toml: FileNotFoundError",
    ),
    Case(
        "witness-key-kept", _a_file("witness.key"),
        ("witness", "keygen", "--name", "witness.police.example", "--out", "{dir}/witness.key"),
        "error witness.key_exists: {dir}/witness.key exists; a witness keeps its key",
    ),
    Case(
        "proof-not-a-proof", _a_file("one.tlog-proof"),
        ("audit", "check-proof", "{dir}/one.tlog-proof", "--keys", str(DEPLOY / "compose")),
        "error proof.malformed: not a C2SP tlog-proof of a ledger entry",
    ),
]  # fmt: skip


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_a_bad_invocation_says_what_and_where(
    case: Case, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Exit status 1 and exactly the expected line on stderr; nothing on stdout."""
    case.setup(tmp_path)
    argv = [arg.replace("{dir}", str(tmp_path)) for arg in case.argv]
    assert main(argv) == 1
    captured = capsys.readouterr()
    assert captured.err.splitlines() == [case.error.replace("{dir}", str(tmp_path))]
    assert "Traceback" not in captured.err


def test_keys_list_tells_expired_from_not_yet_valid(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Each key is ``valid``, ``expired`` or ``not yet valid`` at the time asked."""
    keys = str(tmp_path)
    assert main(["keys", "init", "--party", "police", "--out", keys]) == 0
    capsys.readouterr()
    now = datetime.now(UTC)
    states = {}
    for label, at in (("past", now - timedelta(days=1)), ("now", now),
                      ("future", now + timedelta(days=400))):  # fmt: skip
        assert main(["keys", "list", keys, "--at", at.isoformat()]) == 0
        lines = capsys.readouterr().out.splitlines()
        states[label] = {line.split(" ", 4)[4] for line in lines}
    assert states == {"past": {"not yet valid"}, "now": {"valid"}, "future": {"expired"}}


def test_a_token_shown_to_a_closed_pipe_is_still_made(tmp_path: Path) -> None:
    """``hub tokens create ... | head -1``: exit 0, no error, and the token is stored.

    The reading end is closed before the command writes, as when ``head`` has its
    line and is gone: the command's writes then meet a closed pipe.
    """
    file = tmp_path / "tokens.json"
    command = [sys.executable, "-m", "hub.cli", "tokens", "create", "--role", "operator",
               "--name", "ops-desk", "--file", str(file)]  # fmt: skip
    with subprocess.Popen(  # noqa: S603 - our own command, a path of the test's
        command, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    ) as create:
        assert create.stdout is not None
        assert create.stderr is not None
        create.stdout.close()
        status = create.wait(timeout=60)
        said = create.stderr.read()
    assert (status, said) == (0, b"")
    listed = subprocess.run(  # noqa: S603
        [sys.executable, "-m", "hub.cli", "tokens", "list", "--file", str(file)],
        capture_output=True, text=True, timeout=60, check=True,
    )  # fmt: skip
    assert listed.stdout.startswith("ops-desk operator ")
