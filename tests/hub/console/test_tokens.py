"""`hub tokens`: a token shown once, only its hash stored, in a file others cannot read."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import pytest

from hub.cli import main
from hub.console.base import ConsoleError, Role
from hub.console.tokens import TOKEN_PREFIX, TokenFile, TokenStore, token_hash

if TYPE_CHECKING:
    from pathlib import Path


def _create(path: Path, name: str, capsys: pytest.CaptureFixture[str]) -> str:
    assert (
        main(["tokens", "create", "--role", "operator", "--name", name, "--file", str(path)]) == 0
    )
    return capsys.readouterr().out.splitlines()[0]


def test_create_prints_once_and_stores_the_hash_only(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The token is printed; the 0600 file holds its SHA-256, name, role and time."""
    path = tmp_path / "tokens.json"
    token = _create(path, "grafana", capsys)
    assert token.startswith(TOKEN_PREFIX)
    assert path.stat().st_mode & 0o777 == 0o600
    text = path.read_text()
    assert token not in text
    [entry] = json.loads(text)["tokens"]
    assert entry["sha256"] == token_hash(token)
    assert (entry["name"], entry["role"]) == ("grafana", "operator")


def test_list_shows_no_hashes_and_revoke_removes(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """``list`` names names, roles and times; ``revoke`` removes one token."""
    path = tmp_path / "tokens.json"
    token = _create(path, "grafana", capsys)
    _create(path, "on-call", capsys)
    assert main(["tokens", "list", "--file", str(path)]) == 0
    listed = capsys.readouterr().out
    assert "grafana operator" in listed
    assert "on-call operator" in listed
    assert token_hash(token) not in listed
    assert token not in listed
    assert main(["tokens", "revoke", "--name", "grafana", "--file", str(path)]) == 0
    assert TokenStore.load(path).authenticate(token) is None
    assert [r.name for r in TokenStore.load(path).records] == ["on-call"]


def test_refuses_a_file_others_can_read(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A token file readable by group or others is refused, as private key files are."""
    path = tmp_path / "tokens.json"
    _create(path, "grafana", capsys)
    path.chmod(0o644)
    assert main(["tokens", "list", "--file", str(path)]) == 1
    assert (
        capsys.readouterr().err.strip()
        == "error tokens.unsafe_mode: tokens.json must have mode 0600"
    )
    with pytest.raises(ConsoleError, match=r"tokens\.unsafe_mode"):
        TokenFile(path)


@pytest.mark.parametrize("name", ["A", "x", "has space", "-lead", "a" * 33, "../etc"])
def test_names_must_be_ids(tmp_path: Path, capsys: pytest.CaptureFixture[str], name: str) -> None:
    """Token names are id-shaped: 2-32 of a-z, 0-9 and -, starting a-z."""
    path = tmp_path / "tokens.json"
    argv = ["tokens", "create", "--role", "admin", f"--name={name}", "--file", str(path)]
    assert main(argv) == 1
    assert capsys.readouterr().err.startswith("error tokens.invalid_name:")
    assert not path.exists()


def test_duplicate_and_unknown_names(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A name in use cannot be created again; an unknown one cannot be revoked."""
    path = tmp_path / "tokens.json"
    _create(path, "grafana", capsys)
    argv = ["tokens", "create", "--role", "admin", "--name", "grafana", "--file", str(path)]
    assert main(argv) == 1
    assert capsys.readouterr().err.startswith("error tokens.exist:")
    assert main(["tokens", "revoke", "--name", "nobody", "--file", str(path)]) == 1
    assert capsys.readouterr().err.startswith("error tokens.not_found:")


def test_token_file_follows_revocation(tmp_path: Path) -> None:
    """A served token file is re-read when it changes: a revoked token stops at once."""
    path = tmp_path / "tokens.json"
    store, token = TokenStore().create("grafana", Role.OPERATOR, datetime.now(UTC))
    store.save(path)
    source = TokenFile(path)
    assert source.current().authenticate(token) is not None
    store.revoke("grafana").save(path)
    assert source.current().authenticate(token) is None


def test_tampered_token_file_fails_closed(tmp_path: Path) -> None:
    """A token file that turns unreadable while served leaves no token valid."""
    path = tmp_path / "tokens.json"
    store, token = TokenStore().create("grafana", Role.OPERATOR, datetime.now(UTC))
    store.save(path)
    source = TokenFile(path)
    path.write_text("not json")
    assert source.current().authenticate(token) is None
