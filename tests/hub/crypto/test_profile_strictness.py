"""The envelope profile is enforced exactly: every check refuses with its code."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import pytest

from hub.crypto import compact, sdjwt
from hub.crypto.base import EnvelopeError, ErrorCode
from hub.crypto.envelope import (
    DecisionHeader,
    Issuance,
    build_presentation,
    issue_sd_jwt,
    open_delivery,
    open_ingress,
)
from hub.crypto.jwe import seal
from hub.crypto.keys import (
    KeyDirectory,
    KeyFileError,
    KeyRecord,
    PartyKeyring,
    generate_party_keys,
    load_keyring,
    save_keyring,
)
from schemas.base import FieldGroup
from schemas.samples import sample_event

if TYPE_CHECKING:
    from pathlib import Path

Rings = dict[str, PartyKeyring]
NOW = datetime.now(UTC)


def _parts(
    rings: Rings, directory: KeyDirectory
) -> tuple[dict[str, Any], dict[str, Any], list[str]]:
    """Header, claims and disclosures of a good police issuance."""
    hub_sig = directory.valid_keys("hub", "sig", NOW)[0]
    text = issue_sd_jwt(
        sample_event("ReferralReceived"), rings["police"].signing_key(NOW), hub_sig, NOW
    )
    token, disclosures, _ = sdjwt.split_sd_jwt(text)
    header = json.loads(compact.b64url_decode(token.split(".")[0]))
    claims = sdjwt.verify_jwt(token, rings["police"].signing_key(NOW).key)
    return header, claims, disclosures


def _refused(  # noqa: PLR0913 - a builder of one forged message
    rings: Rings,
    directory: KeyDirectory,
    header: dict[str, Any],
    claims: dict[str, Any],
    disclosures: list[str],
    *,
    signer: str = "police",
    tail: str = "",
) -> ErrorCode:
    key = rings[signer].signing_key(NOW)
    token = sdjwt.sign_jwt(
        {k: v for k, v in header.items() if k != "alg"} | {"kid": key.kid}, claims, key.key
    )
    sealed = seal(
        "~".join([token, *disclosures]) + "~" + tail, directory.encryption_key("hub", NOW)
    )
    with pytest.raises(EnvelopeError) as caught:
        open_ingress(sealed, rings["hub"], directory)
    return caught.value.code


def _salted(name: str, value: Any, salt: str = "c2FsdHNhbHRzYWx0c2FsdA") -> str:
    return sdjwt.encode_disclosure(salt, name, value)


CLAIM_CASES: list[tuple[str, Any, ErrorCode]] = [
    ("_sd_alg", "sha-512", ErrorCode.MALFORMED),
    ("_sd", 5, ErrorCode.MALFORMED),
    ("_sd", None, ErrorCode.MALFORMED),
    ("iat", True, ErrorCode.MALFORMED),
    ("schema_version", True, ErrorCode.MALFORMED),
    ("G", {"address": "x"}, ErrorCode.MALFORMED),
    ("extra", {"_sd": ["x" * 43]}, ErrorCode.MALFORMED),
    ("extra", [{"...": "y" * 43}], ErrorCode.MALFORMED),
    ("cnf", "private", ErrorCode.BINDING),
]


@pytest.mark.parametrize(
    ("claim", "value", "code"),
    CLAIM_CASES,
    ids=[f"{c}-{i}" for i, (c, _, _) in enumerate(CLAIM_CASES)],
)
def test_claims_outside_the_profile_are_refused(
    keyrings: Rings, directory: KeyDirectory, claim: str, value: Any, code: ErrorCode
) -> None:
    """Signed claims outside the profile are refused, never interpreted."""
    header, claims, disclosures = _parts(keyrings, directory)
    if value == "private":  # the hub's own cnf key, with a private part attached
        value = {"jwk": claims["cnf"]["jwk"] | {"d": "B" * 43}}
    assert _refused(keyrings, directory, header, claims | {claim: value}, disclosures) is code


def test_repeated_or_missing_digests_are_refused(keyrings: Rings, directory: KeyDirectory) -> None:
    """An _sd with a repeated digest, or fewer than eight, is refused (RFC 9901 section 7.1)."""
    header, claims, disclosures = _parts(keyrings, directory)
    repeated = [*claims["_sd"][:-1], claims["_sd"][0]]
    assert (
        _refused(keyrings, directory, header, claims | {"_sd": repeated}, disclosures)
        is ErrorCode.MALFORMED
    )
    short = claims["_sd"][:-1]
    assert (
        _refused(keyrings, directory, header, claims | {"_sd": short}, disclosures)
        is ErrorCode.MALFORMED
    )


@pytest.mark.parametrize(
    ("disclosure", "code"),
    [
        (_salted("Z", {"a": 1}), ErrorCode.DISCLOSURE),
        (_salted("H", ["not", "an", "object"]), ErrorCode.MALFORMED),
        (_salted("H", {"a": 1}, salt="c2hvcnQ"), ErrorCode.MALFORMED),
    ],
    ids=["not-a-group", "not-an-object", "short-salt"],
)
def test_signed_disclosures_outside_the_profile_are_refused(
    keyrings: Rings, directory: KeyDirectory, disclosure: str, code: ErrorCode
) -> None:
    """A signed disclosure naming no group, holding no object or with a short salt is refused."""
    header, claims, disclosures = _parts(keyrings, directory)
    real = {sdjwt.disclosure_digest(d) for d in disclosures}
    decoy = next(d for d in claims["_sd"] if d not in real)
    digests = [d for d in claims["_sd"] if d != decoy] + [sdjwt.disclosure_digest(disclosure)]
    assert (
        _refused(
            keyrings,
            directory,
            header,
            claims | {"_sd": sorted(digests)},
            [*disclosures, disclosure],
        )
        is code
    )


def test_issuer_header_outside_the_profile_is_refused(
    keyrings: Rings, directory: KeyDirectory
) -> None:
    """An issuer JWT with another typ, or any crit header, is refused."""
    header, claims, disclosures = _parts(keyrings, directory)
    assert (
        _refused(keyrings, directory, header | {"typ": "JWT"}, claims, disclosures)
        is ErrorCode.MALFORMED
    )
    crit = compact.b64url_encode(json.dumps(header | {"crit": ["exp"], "exp": 1}).encode())
    with pytest.raises(EnvelopeError) as caught:
        sdjwt.read_jwt_header(f"{crit}.e30.c2ln")
    assert caught.value.code is ErrorCode.MALFORMED


def test_issuance_with_a_key_binding_is_refused(keyrings: Rings, directory: KeyDirectory) -> None:
    """An issuance carrying a KB-JWT (a presentation replayed into ingress) is refused."""
    header, claims, disclosures = _parts(keyrings, directory)
    tail = sdjwt.sign_jwt({"typ": "kb+jwt"}, {"iat": 1}, keyrings["police"].signing_key(NOW).key)
    assert (
        _refused(keyrings, directory, header, claims, disclosures, tail=tail) is ErrorCode.MALFORMED
    )


def test_the_hub_cannot_issue_events(keyrings: Rings, directory: KeyDirectory) -> None:
    """An event signed with the hub's own key is refused at ingress and at the recipient (P2)."""
    header, claims, disclosures = _parts(keyrings, directory)
    code = _refused(keyrings, directory, header, claims | {"iss": "hub"}, disclosures, signer="hub")
    assert code is ErrorCode.SIGNATURE
    hub_key = keyrings["hub"].signing_key(NOW)
    token = sdjwt.sign_jwt(
        {"typ": "case-event+sd-jwt", "kid": hub_key.kid}, claims | {"iss": "hub"}, hub_key.key
    )
    forged = Issuance(
        claims=open_ingress_claims(keyrings, directory),
        issuer_jwt=token,
        disclosures={FieldGroup(sdjwt.decode_disclosure(d)[1] or "A"): d for d in disclosures},
        groups={},
    )
    decision = DecisionHeader(uuid.uuid4(), "masip", 1, "health")
    text = build_presentation(forged, {FieldGroup.A}, decision, hub_key, NOW)
    sealed = seal(text, directory.encryption_key("health", NOW), decision.as_header())
    with pytest.raises(EnvelopeError) as caught:
        open_delivery(sealed, keyrings["health"], directory)
    assert caught.value.code is ErrorCode.SIGNATURE


def open_ingress_claims(keyrings: Rings, directory: KeyDirectory) -> Any:
    """Claims of a good issuance, to dress a forged one."""
    hub_sig = directory.valid_keys("hub", "sig", NOW)[0]
    text = issue_sd_jwt(
        sample_event("ReferralReceived"), keyrings["police"].signing_key(NOW), hub_sig, NOW
    )
    return open_ingress(
        seal(text, directory.encryption_key("hub", NOW)), keyrings["hub"], directory
    ).claims


def test_agreement_in_the_header_is_bound_by_the_hub(
    keyrings: Rings, directory: KeyDirectory
) -> None:
    """Resealing a presentation under another agreement version fails binding.invalid."""
    issuance = Issuance(open_ingress_claims(keyrings, directory), "", {}, {})
    hub_sig = directory.valid_keys("hub", "sig", NOW)[0]
    text = issue_sd_jwt(
        sample_event("ReferralReceived"), keyrings["police"].signing_key(NOW), hub_sig, NOW
    )
    issuance = open_ingress(
        seal(text, directory.encryption_key("hub", NOW)), keyrings["hub"], directory
    )
    decision = DecisionHeader(uuid.uuid4(), "masip", 1, "health")
    presented = build_presentation(
        issuance, {FieldGroup.A}, decision, keyrings["hub"].signing_key(NOW), NOW
    )
    for other in (
        DecisionHeader(decision.decision_id, "masip", 2, "health"),
        DecisionHeader(decision.decision_id, "other", 1, "health"),
    ):
        sealed = seal(presented, directory.encryption_key("health", NOW), other.as_header())
        with pytest.raises(EnvelopeError) as caught:
            open_delivery(sealed, keyrings["health"], directory)
        assert caught.value.code is ErrorCode.BINDING
    boolean = seal(
        presented,
        directory.encryption_key("health", NOW),
        decision.as_header() | {"agreement_version": True},
    )
    with pytest.raises(EnvelopeError) as caught:
        open_delivery(boolean, keyrings["health"], directory)
    assert caught.value.code is ErrorCode.BINDING


def test_only_the_recipients_key_expired(keyrings: Rings) -> None:
    """A delivery opened after only the recipient's key expired fails key.not_valid."""
    health = generate_party_keys("health", NOW - timedelta(days=10), timedelta(days=11))
    directory = KeyDirectory.of(*(r for p, r in keyrings.items() if p != "health"), health)
    hub_sig = directory.valid_keys("hub", "sig", NOW)[0]
    text = issue_sd_jwt(
        sample_event("ReferralReceived"), keyrings["police"].signing_key(NOW), hub_sig, NOW
    )
    issuance = open_ingress(
        seal(text, directory.encryption_key("hub", NOW)), keyrings["hub"], directory
    )
    decision = DecisionHeader(uuid.uuid4(), "masip", 1, "health")
    presented = build_presentation(
        issuance, {FieldGroup.A}, decision, keyrings["hub"].signing_key(NOW), NOW
    )
    sealed = seal(presented, directory.encryption_key("health", NOW), decision.as_header())
    later = NOW + timedelta(days=2)
    with pytest.raises(EnvelopeError) as caught:
        open_delivery(sealed, health, directory, now=later)
    assert caught.value.code is ErrorCode.KEY_NOT_VALID


def test_jwe_header_members_and_epk_are_checked(keyrings: Rings, directory: KeyDirectory) -> None:
    """Unknown JWE header members, a foreign epk and non-canonical parts are malformed."""
    hub_sig = directory.valid_keys("hub", "sig", NOW)[0]
    text = issue_sd_jwt(
        sample_event("ReferralReceived"), keyrings["police"].signing_key(NOW), hub_sig, NOW
    )
    envelope = seal(text, directory.encryption_key("hub", NOW))
    parts = envelope.split(".")
    header = json.loads(compact.b64url_decode(parts[0]))
    for changed in (
        header | {"zip": "DEF"},
        header | {"epk": {"kty": "EC", "crv": "P-256", "x": "A" * 43}},
    ):
        forged = ".".join([compact.b64url_encode(json.dumps(changed).encode()), *parts[1:]])
        with pytest.raises(EnvelopeError) as caught:
            open_ingress(forged, keyrings["hub"], directory)
        assert caught.value.code is ErrorCode.MALFORMED
    tag = parts[4]
    last = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_".index(tag[-1])
    noncanonical = (
        tag[:-1] + "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"[last ^ 1]
    )
    with pytest.raises(EnvelopeError) as caught:
        open_ingress(".".join([*parts[:4], noncanonical]), keyrings["hub"], directory)
    assert caught.value.code is ErrorCode.MALFORMED


def test_decrypting_with_a_signing_key_id_is_refused(
    keyrings: Rings, directory: KeyDirectory
) -> None:
    """A JWE naming the hub's signing key as its kid does not decrypt."""
    hub_sig = directory.valid_keys("hub", "sig", NOW)[0]
    text = issue_sd_jwt(
        sample_event("ReferralReceived"), keyrings["police"].signing_key(NOW), hub_sig, NOW
    )
    parts = seal(text, directory.encryption_key("hub", NOW)).split(".")
    header = json.loads(compact.b64url_decode(parts[0])) | {"kid": hub_sig.kid}
    forged = ".".join([compact.b64url_encode(json.dumps(header).encode()), *parts[1:]])
    with pytest.raises(EnvelopeError) as caught:
        open_ingress(forged, keyrings["hub"], directory)
    assert caught.value.code is ErrorCode.UNDECRYPTABLE


def test_key_files_cannot_lend_keys_to_another_party(tmp_path: Path) -> None:
    """A public key file naming another party than its file name is refused."""
    _, public = save_keyring(generate_party_keys("health"), tmp_path)
    public.rename(tmp_path / "hub.jwks.json")
    with pytest.raises(KeyFileError, match="named for"):
        KeyDirectory.load(tmp_path)


@pytest.mark.parametrize("value", [True, "1767225600", 1e30, 10**19, -1])
def test_key_validity_must_be_whole_seconds(value: object) -> None:
    """Nbf and exp that are not sane whole seconds are refused with KeyFileError."""
    jwk = generate_party_keys("police").keys[0].public().to_jwk()
    with pytest.raises(KeyFileError, match="whole seconds"):
        KeyRecord.from_jwk("police", jwk | {"exp": value})


def test_private_key_set_with_a_public_key_is_refused(tmp_path: Path) -> None:
    """A private key set holding a key without its private part is refused."""
    ring = generate_party_keys("police")
    keys = [ring.keys[0].public().to_jwk(), ring.keys[1].to_jwk(private=True)]
    private = tmp_path / "police.private.jwks.json"
    private.write_text(json.dumps({"party": "police", "keys": keys}))
    private.chmod(0o600)
    with pytest.raises(KeyFileError, match="no private part"):
        load_keyring(private)


@pytest.mark.parametrize("text", ["abc=", "ab+/", "ab c", "a"])
def test_only_unpadded_base64url_is_read(text: str) -> None:
    """Padding, the standard alphabet, spaces and impossible lengths are malformed."""
    with pytest.raises(EnvelopeError) as caught:
        compact.b64url_decode(text)
    assert caught.value.code is ErrorCode.MALFORMED


def test_every_jws_part_must_be_base64url() -> None:
    """A JWS whose payload or signature part is not base64url is malformed before verification."""
    header = compact.b64url_encode(b'{"alg":"Ed25519"}')
    for token in (f"{header}.!!.c2ln", f"{header}.e30.!!"):
        with pytest.raises(EnvelopeError) as caught:
            sdjwt.read_jwt_header(token)
        assert caught.value.code is ErrorCode.MALFORMED


def test_non_ascii_plaintext_is_malformed(keyrings: Rings, directory: KeyDirectory) -> None:
    """A JWE to the hub whose plaintext is not ASCII is refused, not a decoding crash."""
    from jwcrypto import jwe, jwk  # noqa: PLC0415 - an independent sealer

    hub_enc = directory.encryption_key("hub", NOW)
    protected = {"alg": "ECDH-ES+A256KW", "enc": "A256GCM", "kid": hub_enc.kid, "cty": "sd-jwt"}
    sealed = jwe.JWE("Zoë~".encode(), protected=json.dumps(protected))
    sealed.add_recipient(
        jwk.JWK(**{k: v for k, v in hub_enc.to_jwk().items() if k not in ("nbf", "exp")})
    )
    with pytest.raises(EnvelopeError) as caught:
        open_ingress(sealed.serialize(compact=True), keyrings["hub"], directory)
    assert caught.value.code is ErrorCode.MALFORMED
