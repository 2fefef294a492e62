"""Party keys: files, modes, validity windows, rotation and the directory."""

from __future__ import annotations

import json
import stat
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

import pytest

from hub.cli import main
from hub.crypto.base import EnvelopeError, ErrorCode
from hub.crypto.keys import (
    KeyDirectory,
    KeyFileError,
    KeyRecord,
    generate_party_keys,
    load_keyring,
    save_keyring,
)

if TYPE_CHECKING:
    from pathlib import Path

NOW = datetime.now(UTC)


def test_keys_init_writes_private_0600_and_public_without_secrets(tmp_path: Path) -> None:
    """`hub keys init` writes a 0600 private set and a public set with kid, use and validity."""
    assert main(["keys", "init", "--party", "police", "--out", str(tmp_path)]) == 0
    private = tmp_path / "police.private.jwks.json"
    public = tmp_path / "police.jwks.json"
    assert stat.S_IMODE(private.stat().st_mode) == 0o600
    document = json.loads(public.read_text())
    assert document["party"] == "police"
    uses = sorted(jwk["use"] for jwk in document["keys"])
    assert uses == ["enc", "sig"]
    for jwk in document["keys"]:
        assert "d" not in jwk
        assert {"kid", "use", "alg", "nbf", "exp", "kty", "crv", "x"} <= set(jwk)
        assert jwk["exp"] > jwk["nbf"]
    assert all("d" in jwk for jwk in json.loads(private.read_text())["keys"])


def test_keys_init_refuses_to_overwrite_without_add(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A second init for the same party fails with a stable code and keeps the old keys."""
    assert main(["keys", "init", "--party", "police", "--out", str(tmp_path)]) == 0
    before = (tmp_path / "police.private.jwks.json").read_text()
    assert main(["keys", "init", "--party", "police", "--out", str(tmp_path)]) == 1
    assert "error keys.exist" in capsys.readouterr().err
    assert (tmp_path / "police.private.jwks.json").read_text() == before


def test_rotation_keeps_both_keys_valid_during_overlap(tmp_path: Path) -> None:
    """Adding keys keeps the old ones; during the overlap both are valid, newest first."""
    earlier = (NOW - timedelta(days=1)).isoformat()
    first = ["keys", "init", "--party", "health", "--out", str(tmp_path), "--not-before", earlier]
    assert main(first) == 0
    later = (NOW + timedelta(days=30)).isoformat()
    args = ["keys", "init", "--party", "health", "--out", str(tmp_path), "--add"]
    assert main([*args, "--not-before", later]) == 0
    directory = KeyDirectory.load(tmp_path)
    assert len(directory.valid_keys("health", "sig", NOW)) == 1
    overlap = directory.valid_keys("health", "sig", NOW + timedelta(days=60))
    assert len(overlap) == 2
    assert overlap[0].not_before > overlap[1].not_before
    ring = load_keyring(tmp_path / "health.private.jwks.json")
    assert ring.signing_key(NOW + timedelta(days=60)).kid == overlap[0].kid


def test_keys_list_shows_validity(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """`hub keys list` marks keys expired at a time past their validity."""
    assert main(["keys", "init", "--party", "advocacy", "--out", str(tmp_path)]) == 0
    capsys.readouterr()
    future = (NOW + timedelta(days=400)).isoformat()
    assert main(["keys", "list", str(tmp_path), "--at", future]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 2
    assert all(line.endswith(" expired") for line in lines)


def test_private_key_file_readable_by_others_is_refused(tmp_path: Path) -> None:
    """A private key file with group or other permissions is not loaded."""
    private, _ = save_keyring(generate_party_keys("police", NOW - timedelta(days=1)), tmp_path)
    private.chmod(0o644)
    with pytest.raises(KeyFileError, match="0600"):
        load_keyring(private)


def test_validity_window_is_half_open() -> None:
    """A key is valid from not_before up to, not including, not_after."""
    ring = generate_party_keys("police", NOW, timedelta(days=1))
    record = ring.signing_key(NOW)
    assert record.valid_at(record.not_before)
    assert not record.valid_at(record.not_after)
    assert not record.valid_at(record.not_before - timedelta(seconds=1))


def test_keyring_without_valid_signing_key_refuses() -> None:
    """Signing with only expired keys fails with key.not_valid."""
    ring = generate_party_keys("police", NOW - timedelta(days=10), timedelta(days=1))
    with pytest.raises(EnvelopeError) as caught:
        ring.signing_key(NOW)
    assert caught.value.code is ErrorCode.KEY_NOT_VALID


def test_directory_refuses_private_keys_and_duplicate_kids() -> None:
    """The directory holds public keys only, each key id once."""
    ring = generate_party_keys("police", NOW - timedelta(days=1))
    with pytest.raises(KeyFileError, match="public"):
        KeyDirectory(list(ring.keys))
    public = ring.public_records()
    with pytest.raises(KeyFileError, match="twice"):
        KeyDirectory(public + public)


def test_directory_lookup_codes() -> None:
    """Unknown kids are sender.unknown; encryption keys used to sign are key.not_valid."""
    ring = generate_party_keys("police", NOW - timedelta(days=1))
    directory = KeyDirectory.of(ring)
    with pytest.raises(EnvelopeError) as unknown:
        directory.verification_key("no-such-kid", NOW)
    assert unknown.value.code is ErrorCode.SENDER_UNKNOWN
    enc_kid = directory.encryption_key("police", NOW).kid
    with pytest.raises(EnvelopeError) as wrong_use:
        directory.verification_key(enc_kid, NOW)
    assert wrong_use.value.code is ErrorCode.KEY_NOT_VALID


@pytest.mark.parametrize(
    ("member", "value", "message"),
    [
        ("crv", "P-256", "Ed25519 signing"),
        ("alg", "EdDSA", "algorithm"),
        ("kid", "chosen-by-attacker", "thumbprint"),
        ("use", "enc", "Ed25519 signing"),
    ],
)
def test_jwk_checks(member: str, value: str, message: str) -> None:
    """A JWK with the wrong curve, algorithm, use or a kid that is not its thumbprint is refused."""
    jwk = generate_party_keys("police", NOW - timedelta(days=1)).signing_key(NOW).public().to_jwk()
    jwk[member] = value
    with pytest.raises(KeyFileError, match=message):
        KeyRecord.from_jwk("police", jwk)


def test_public_jwk_round_trips() -> None:
    """A public JWK read back is the same key with the same validity."""
    record = generate_party_keys("police", NOW - timedelta(days=1)).signing_key(NOW).public()
    again = KeyRecord.from_jwk("police", record.to_jwk())
    assert again.kid == record.kid
    assert (again.not_before, again.not_after) == (record.not_before, record.not_after)
