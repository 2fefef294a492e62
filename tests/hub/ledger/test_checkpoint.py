"""Signed checkpoints (hub.crypto.checkpoint): signing, verifying and every refusal."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from hub.crypto.base import EnvelopeError, ErrorCode
from hub.crypto.checkpoint import CHECKPOINT_TYP, sign_checkpoint, verify_checkpoint
from hub.crypto.compact import b64url_encode
from hub.crypto.keys import KeyDirectory, PartyKeyring, generate_party_keys
from hub.crypto.sdjwt import sign_jwt
from hub.ledger.checkpoints import claimed_size

NOW = datetime.now(UTC)


def _claims(**changes: Any) -> dict[str, Any]:
    claims: dict[str, Any] = {
        "tree_size": 10,
        "root_hash": "ab" * 32,
        "last_entry_hash": "cd" * 32,
        "time": int(NOW.timestamp()),
        "ledger_id": "0b6f3bd4-2c38-4a4c-9d1e-7f3f5a4b2c10",
    }
    claims.update(changes)
    return claims


def _refused(token: str, directory: KeyDirectory, **options: Any) -> ErrorCode:
    with pytest.raises(EnvelopeError) as caught:
        verify_checkpoint(token, directory, **options)
    return caught.value.code


def test_round_trip(keyrings: dict[str, PartyKeyring], directory: KeyDirectory) -> None:
    """A checkpoint signed with the hub's key verifies and returns its members."""
    token = sign_checkpoint(_claims(), keyrings["hub"].signing_key(NOW))
    assert verify_checkpoint(token, directory) == _claims()
    assert claimed_size(token) == 10


def test_header_is_ed25519_typed_and_names_the_key(keyrings: dict[str, PartyKeyring]) -> None:
    """The JWS header is alg Ed25519, typ ledger-checkpoint+jwt and the signing kid."""
    from hub.crypto.sdjwt import read_jwt_header  # noqa: PLC0415

    key = keyrings["hub"].signing_key(NOW)
    header = read_jwt_header(sign_checkpoint(_claims(), key))
    assert header == {"alg": "Ed25519", "typ": CHECKPOINT_TYP, "kid": key.kid}


def test_another_partys_key_is_refused(
    keyrings: dict[str, PartyKeyring], directory: KeyDirectory
) -> None:
    """A checkpoint signed by police (a known key, not the hub's) is sender.unknown."""
    token = sign_checkpoint(_claims(), keyrings["police"].signing_key(NOW))
    assert _refused(token, directory) is ErrorCode.SENDER_UNKNOWN


def test_wrong_key_under_the_hubs_kid_is_refused(
    keyrings: dict[str, PartyKeyring], directory: KeyDirectory
) -> None:
    """A signature by another key that claims the hub's kid is signature.invalid."""
    hub_kid = keyrings["hub"].signing_key(NOW).kid
    other = keyrings["police"].signing_key(NOW).key
    token = sign_jwt({"typ": CHECKPOINT_TYP, "kid": hub_kid}, _claims(), other)
    assert _refused(token, directory) is ErrorCode.SIGNATURE


def test_alg_none_and_wrong_typ_are_refused(
    keyrings: dict[str, PartyKeyring], directory: KeyDirectory
) -> None:
    """An alg of none is algorithm.not_allowed; a JWS of another typ is envelope.malformed."""
    token = sign_checkpoint(_claims(), keyrings["hub"].signing_key(NOW))
    _, payload, _ = token.split(".")
    none_header = b64url_encode(b'{"alg":"none","typ":"ledger-checkpoint+jwt"}')
    assert _refused(f"{none_header}.{payload}.", directory) is ErrorCode.ALGORITHM
    key = keyrings["hub"].signing_key(NOW)
    other_typ = sign_jwt({"typ": "kb+jwt", "kid": key.kid}, _claims(), key.key)
    assert _refused(other_typ, directory) is ErrorCode.MALFORMED


@pytest.mark.parametrize(
    "claims",
    [
        _claims(extra="x"),
        _claims(tree_size=-1),
        _claims(tree_size=True),
        _claims(root_hash="AB" * 32),
        _claims(time="2026-01-01"),
        _claims(ledger_id="has spaces"),
        {k: v for k, v in _claims().items() if k != "last_entry_hash"},
    ],
    ids=["extra", "negative", "bool", "upper-hex", "time-text", "ledger-id", "missing"],
)
def test_malformed_checkpoints_are_refused(
    keyrings: dict[str, PartyKeyring], directory: KeyDirectory, claims: dict[str, Any]
) -> None:
    """Neither signing nor verifying accepts anything but the five well-formed members."""
    key = keyrings["hub"].signing_key(NOW)
    with pytest.raises(EnvelopeError) as caught:
        sign_checkpoint(claims, key)
    assert caught.value.code is ErrorCode.MALFORMED
    token = sign_jwt({"typ": CHECKPOINT_TYP, "kid": key.kid}, claims, key.key)
    assert _refused(token, directory) is ErrorCode.MALFORMED


def test_old_checkpoint_verifies_after_its_key_expired() -> None:
    """A checkpoint made while a key was valid still verifies after that key expired."""
    old = generate_party_keys("hub", NOW - timedelta(days=400), timedelta(days=365))
    directory = KeyDirectory.of(old)
    made = NOW - timedelta(days=300)
    token = sign_checkpoint(_claims(time=int(made.timestamp())), old.signing_key(made))
    assert verify_checkpoint(token, directory)["tree_size"] == 10
    assert directory.valid_keys("hub", "sig", NOW) == []


def test_checkpoint_outside_its_keys_validity_is_refused() -> None:
    """A checkpoint dated after its key expired (a back- or forward-dated forgery) is refused."""
    old = generate_party_keys("hub", NOW - timedelta(days=400), timedelta(days=365))
    made = NOW - timedelta(days=300)
    key = old.signing_key(made)
    with pytest.raises(EnvelopeError) as caught:
        sign_checkpoint(_claims(), key)
    assert caught.value.code is ErrorCode.KEY_NOT_VALID
    token = sign_jwt({"typ": CHECKPOINT_TYP, "kid": key.kid}, _claims(), key.key)
    assert _refused(token, KeyDirectory.of(old)) is ErrorCode.KEY_NOT_VALID


def test_future_checkpoint_is_refused(
    keyrings: dict[str, PartyKeyring], directory: KeyDirectory
) -> None:
    """A checkpoint dated more than the allowed skew ahead of the verifier is clock.skew."""
    later = _claims(time=int((NOW + timedelta(hours=1)).timestamp()))
    token = sign_checkpoint(later, keyrings["hub"].signing_key(NOW))
    assert _refused(token, directory) is ErrorCode.CLOCK_SKEW
    assert (
        verify_checkpoint(token, directory, now=NOW + timedelta(hours=2))["time"] == later["time"]
    )


def test_encryption_key_cannot_sign(keyrings: dict[str, PartyKeyring]) -> None:
    """Only a signing key may sign a checkpoint."""
    enc = next(k for k in keyrings["hub"].keys if k.use == "enc")
    with pytest.raises(EnvelopeError) as caught:
        sign_checkpoint(_claims(), enc)
    assert caught.value.code is ErrorCode.KEY_NOT_VALID


@pytest.mark.parametrize("token", ["", "a.b", "a.!!!.c", "a.W10.c"])
def test_claimed_size_of_garbage_is_zero(token: str) -> None:
    """Reading the unverified size of something that is not a checkpoint gives 0."""
    assert claimed_size(token) == 0
