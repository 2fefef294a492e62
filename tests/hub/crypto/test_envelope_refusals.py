"""Envelope refusals by key validity, algorithm, sender, clock and size."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import TYPE_CHECKING

import pytest

from hub.crypto import compact, sdjwt
from hub.crypto.base import MAX_ENVELOPE_CHARS, EnvelopeError, ErrorCode
from hub.crypto.envelope import (
    DecisionHeader,
    issue_event,
    issue_sd_jwt,
    open_delivery,
    open_ingress,
    present,
)
from hub.crypto.jwe import seal
from hub.crypto.keys import KeyDirectory, PartyKeyring, generate_party_keys
from schemas.base import FieldGroup
from schemas.samples import sample_event

if TYPE_CHECKING:
    from collections.abc import Callable

Rings = dict[str, PartyKeyring]
NOW = datetime.now(UTC)
EXPIRED = generate_party_keys("police", NOW - timedelta(days=30), timedelta(days=10))
NOT_YET = generate_party_keys("police", NOW + timedelta(days=1))


def _decision(recipient: str) -> DecisionHeader:
    return DecisionHeader(uuid.uuid4(), "masip-thames-valley", 2, recipient)


def _code(call: Callable[[], object]) -> ErrorCode:
    with pytest.raises(EnvelopeError) as caught:
        call()
    return caught.value.code


def _b64(value: dict[str, object]) -> str:
    return compact.b64url_encode(json.dumps(value).encode())


@pytest.mark.parametrize("police", [EXPIRED, NOT_YET], ids=["expired", "not-yet-valid"])
def test_issuer_key_outside_validity_is_refused(police: PartyKeyring, keyrings: Rings) -> None:
    """An event signed with a key outside its validity window fails key.not_valid."""
    others = [ring for party, ring in keyrings.items() if party != "police"]
    directory = KeyDirectory.of(police, *others)
    signing = police.keys[0]
    hub_sig = directory.valid_keys("hub", "sig", NOW)[0]
    text = issue_sd_jwt(sample_event("ReferralReceived"), signing, hub_sig, NOW)
    sealed = seal(text, directory.encryption_key("hub", NOW))
    assert (
        _code(lambda: open_ingress(sealed, keyrings["hub"], directory)) is ErrorCode.KEY_NOT_VALID
    )


def test_recipient_key_expired_is_refused(keyrings: Rings, directory: KeyDirectory) -> None:
    """A delivery opened after the recipient's key expired fails key.not_valid."""
    issuance = open_ingress(
        issue_event(sample_event("ReferralReceived"), keyrings["police"], directory),
        keyrings["hub"],
        directory,
    )
    envelope = present(issuance, {FieldGroup.A}, _decision("health"), keyrings["hub"], directory)
    later = NOW + timedelta(days=400)
    code = _code(lambda: open_delivery(envelope, keyrings["health"], directory, now=later))
    assert code is ErrorCode.KEY_NOT_VALID


def test_rotation_does_not_strand_messages_in_flight(keyrings: Rings) -> None:
    """An event sealed and signed with old keys still opens once new keys are published."""
    police_old = generate_party_keys("police", NOW - timedelta(days=300), timedelta(days=330))
    hub_old = generate_party_keys("hub", NOW - timedelta(days=300), timedelta(days=330))
    before = KeyDirectory.of(police_old, hub_old, keyrings["health"])
    envelope = issue_event(sample_event("ReferralReceived"), police_old, before)
    police_new = generate_party_keys("police", NOW - timedelta(days=1))
    hub_new = generate_party_keys("hub", NOW - timedelta(days=1))
    hub_both = PartyKeyring("hub", hub_old.keys + hub_new.keys)
    after = KeyDirectory.of(police_old, police_new, hub_both, keyrings["health"])
    assert open_ingress(envelope, hub_both, after).claims.issuer == "police"
    assert after.valid_keys("police", "sig", NOW)[0].kid == police_new.signing_key(NOW).kid


def test_cnf_naming_another_holder_is_refused(keyrings: Rings, directory: KeyDirectory) -> None:
    """An event bound to a key that is not the hub's fails binding.invalid."""
    stranger = generate_party_keys("hub", NOW - timedelta(days=1)).signing_key(NOW).public()
    text = issue_sd_jwt(
        sample_event("ReferralReceived"), keyrings["police"].signing_key(NOW), stranger, NOW
    )
    sealed = seal(text, directory.encryption_key("hub", NOW))
    assert _code(lambda: open_ingress(sealed, keyrings["hub"], directory)) is ErrorCode.BINDING


def test_unsigned_jwt_is_refused(keyrings: Rings, directory: KeyDirectory) -> None:
    """A JWT with alg none fails algorithm.not_allowed before any key is looked up."""
    text = issue_sd_jwt(
        sample_event("ReferralReceived"),
        keyrings["police"].signing_key(NOW),
        directory.valid_keys("hub", "sig", NOW)[0],
        NOW,
    )
    token, disclosures, _ = sdjwt.split_sd_jwt(text)
    _, payload, _ = token.split(".")
    unsigned = ".".join([_b64({"alg": "none", "typ": "case-event+sd-jwt"}), payload, ""])
    sealed = seal("~".join([unsigned, *disclosures]) + "~", directory.encryption_key("hub", NOW))
    assert _code(lambda: open_ingress(sealed, keyrings["hub"], directory)) is ErrorCode.ALGORITHM


@pytest.mark.parametrize(
    "header",
    [
        {"alg": "dir", "enc": "A256GCM"},
        {"alg": "RSA-OAEP", "enc": "A256GCM"},
        {"alg": "ECDH-ES+A256KW", "enc": "A128CBC-HS256"},
        {"alg": "none", "enc": "A256GCM"},
        {"alg": "PBES2-HS256+A128KW", "enc": "A256GCM"},
    ],
)
def test_unlisted_jwe_algorithms_are_refused(
    header: dict[str, object], keyrings: Rings, directory: KeyDirectory
) -> None:
    """A JWE with any key or content algorithm off the allow-list fails algorithm.not_allowed."""
    envelope = issue_event(sample_event("ReferralReceived"), keyrings["police"], directory)
    parts = envelope.split(".")
    parts[0] = _b64({**header, "kid": "x", "cty": "sd-jwt"})
    assert (
        _code(lambda: open_ingress(".".join(parts), keyrings["hub"], directory))
        is ErrorCode.ALGORITHM
    )


def test_unknown_signing_key_is_sender_unknown(keyrings: Rings, directory: KeyDirectory) -> None:
    """An event signed by a key no party published fails sender.unknown."""
    stranger = generate_party_keys("police", NOW - timedelta(days=1))
    hub_sig = directory.valid_keys("hub", "sig", NOW)[0]
    text = issue_sd_jwt(sample_event("ReferralReceived"), stranger.signing_key(NOW), hub_sig, NOW)
    sealed = seal(text, directory.encryption_key("hub", NOW))
    assert (
        _code(lambda: open_ingress(sealed, keyrings["hub"], directory)) is ErrorCode.SENDER_UNKNOWN
    )


def test_future_issue_time_is_clock_skew(keyrings: Rings, directory: KeyDirectory) -> None:
    """An event issued more than the allowed skew in the future fails clock.skew."""
    envelope = issue_event(
        sample_event("ReferralReceived"),
        keyrings["police"],
        directory,
        now=NOW + timedelta(hours=1),
    )
    assert (
        _code(lambda: open_ingress(envelope, keyrings["hub"], directory, now=NOW))
        is ErrorCode.CLOCK_SKEW
    )


@pytest.mark.parametrize(
    ("envelope", "code"),
    [
        ("", ErrorCode.MALFORMED),
        ("a.b.c", ErrorCode.MALFORMED),
        ("x" * (MAX_ENVELOPE_CHARS + 1), ErrorCode.TOO_LARGE),
        ("!!!!.a.b.c.d", ErrorCode.MALFORMED),
        (_b64({"alg": "ECDH-ES+A256KW"}) + "....", ErrorCode.ALGORITHM),
    ],
    ids=["empty", "three-parts", "oversized", "not-base64url", "no-enc"],
)
def test_broken_envelopes_are_refused(
    envelope: str, code: ErrorCode, keyrings: Rings, directory: KeyDirectory
) -> None:
    """Envelopes that are not compact JWEs fail with a code and no traceback of their own."""
    assert _code(lambda: open_ingress(envelope, keyrings["hub"], directory)) is code


def test_truncated_envelope_is_refused(keyrings: Rings, directory: KeyDirectory) -> None:
    """Every truncation of a good envelope is refused with a code."""
    envelope = issue_event(sample_event("ReferralReceived"), keyrings["police"], directory)
    for length in range(0, len(envelope), max(1, len(envelope) // 97)):
        code = _code(partial(open_ingress, envelope[:length], keyrings["hub"], directory))
        assert code in {ErrorCode.MALFORMED, ErrorCode.UNDECRYPTABLE, ErrorCode.ALGORITHM}


def test_error_messages_carry_no_content(keyrings: Rings, directory: KeyDirectory) -> None:
    """Refusal messages name parts and codes, never disclosed values."""
    event = sample_event("VictimSafetyPlanUpdated")
    text = issue_sd_jwt(
        event,
        keyrings["advocacy"].signing_key(NOW),
        directory.valid_keys("hub", "sig", NOW)[0],
        NOW,
    )
    token, disclosures, _ = sdjwt.split_sd_jwt(text)
    salt, name, value = sdjwt.decode_disclosure(disclosures[-1])
    altered = sdjwt.encode_disclosure(salt, name or "", value)
    sealed = seal(
        "~".join([token, *disclosures[:-1], altered + "x"]) + "~",
        directory.encryption_key("hub", NOW),
    )
    with pytest.raises(EnvelopeError) as caught:
        open_ingress(sealed, keyrings["hub"], directory)
    for fragment in json.dumps(value).split('"'):
        if len(fragment) > 3:
            assert fragment not in str(caught.value)
