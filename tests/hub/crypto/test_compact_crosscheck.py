"""The envelope's JWS and JWE on the primitives, checked against two JOSE libraries (ADR 0031).

joserfc (which the hub used before) and jwcrypto are independent implementations:
what :mod:`hub.crypto.compact` writes, both read; what both write, it reads. A JWS
is deterministic, so ours must be joserfc's token byte for byte.
"""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from joserfc import jwe as joserfc_jwe
from joserfc import jws as joserfc_jws
from joserfc.registry import HeaderParameter
from json_values import json_objects
from jwcrypto import jwe as jwcrypto_jwe
from jwcrypto import jwk as jwcrypto_jwk
from jwcrypto import jws as jwcrypto_jws

from hub import safejson
from hub.crypto import compact, jwe, sdjwt
from hub.crypto.base import EnvelopeError, ErrorCode
from hub.crypto.keys import KeyRecord, PartyKeyring, generate_party_keys

NOW = datetime.now(UTC)
RING = generate_party_keys("health", NOW - timedelta(days=1))
SIGNING = RING.signing_key(NOW)
SEALING = next(k for k in RING.keys if k.use == "enc")
HEADER_TEXT = st.text(st.characters(codec="utf-8", exclude_categories=["Cs"]), max_size=24)
JSON_SCALARS = st.none() | st.booleans() | st.integers(-(2**53), 2**53) | HEADER_TEXT
CLAIMS = json_objects(HEADER_TEXT, JSON_SCALARS, max_size=8)
#: Plaintexts: never empty (an SD-JWT is not, and jwcrypto reads no empty ciphertext).
ASCII = st.text(st.characters(min_codepoint=0x20, max_codepoint=0x7E), min_size=1, max_size=600)
#: joserfc's JWS, allowing this profile's one algorithm.
JWS_REGISTRY = joserfc_jws.JWSRegistry(algorithms=["Ed25519"])
#: joserfc, told of the delivery header's members as the hub told it before ADR 0031.
JWE_REGISTRY = joserfc_jwe.JWERegistry(
    header_registry={
        name: HeaderParameter(name, "int" if name == "agreement_version" else "str")
        for name in jwe.DELIVERY_HEADER
    },
    algorithms=["ECDH-ES+A256KW", "A256GCM"],
)
EXAMPLES = settings(max_examples=60, suppress_health_check=[HealthCheck.too_slow], deadline=None)


def _jwcrypto_key(record: KeyRecord, *, private: bool) -> jwcrypto_jwk.JWK:
    members = record.to_jwk(private=private)
    return jwcrypto_jwk.JWK(**{k: v for k, v in members.items() if k not in ("nbf", "exp")})


def _delivery_header(decision: uuid.UUID, version: int) -> dict[str, Any]:
    return {
        "alg": "ECDH-ES+A256KW",
        "enc": "A256GCM",
        "kid": SEALING.kid,
        "cty": "sd-jwt",
        "decision_id": str(decision),
        "agreement_id": "masip-default",
        "agreement_version": version,
        "recipient": "health",
    }


@EXAMPLES
@given(claims=CLAIMS, typ=HEADER_TEXT)
def test_our_jws_is_joserfcs_byte_for_byte_and_both_read_each_other(
    claims: dict[str, Any], typ: str
) -> None:
    """The same header, claims and key give joserfc's token; each verifies the other's."""
    header = {"alg": "Ed25519", "typ": typ, "kid": SIGNING.kid}
    payload = safejson.dumps(claims).encode("utf-8")
    ours = compact.sign(header, payload, SIGNING.key)
    theirs = joserfc_jws.serialize_compact(header, payload, SIGNING.key, registry=JWS_REGISTRY)
    assert ours == theirs
    assert (
        joserfc_jws.deserialize_compact(ours, SIGNING.key, registry=JWS_REGISTRY).payload == payload
    )
    assert sdjwt.verify_jwt(theirs, SIGNING.key) == json.loads(payload)


@EXAMPLES
@given(claims=CLAIMS)
def test_jwcrypto_verifies_our_jws(claims: dict[str, Any]) -> None:
    """An independent library verifies what we sign, and finds the same claims."""
    token = sdjwt.sign_jwt({"typ": "kb+jwt"}, claims, SIGNING.key)
    signed = jwcrypto_jws.JWS()
    signed.allowed_algs = ["Ed25519"]
    signed.deserialize(token)
    signed.verify(_jwcrypto_key(SIGNING, private=False))
    assert json.loads(signed.payload) == claims


def test_a_signature_by_another_key_or_over_other_bytes_is_refused() -> None:
    """Verification is real: another party's key, or one changed payload byte, fails."""
    token = sdjwt.sign_jwt({"typ": "kb+jwt"}, {"aud": "police"}, SIGNING.key)
    other = generate_party_keys("police", NOW - timedelta(days=1)).signing_key(NOW)
    with pytest.raises(EnvelopeError) as caught:
        sdjwt.verify_jwt(token, other.key)
    assert caught.value.code is ErrorCode.SIGNATURE
    head, _, signature = token.split(".")
    other_claims = compact.b64url_encode(b'{"aud":"probation"}')
    forged = f"{head}.{other_claims}.{signature}"
    with pytest.raises(EnvelopeError) as caught:
        sdjwt.verify_jwt(forged, SIGNING.key)
    assert caught.value.code is ErrorCode.SIGNATURE


def test_a_header_joserfc_refused_is_still_refused() -> None:
    """Joserfc's registry checks stay: an unregistered member, or a ``kid`` that is no string."""
    assert sdjwt.verify_jwt(compact.sign({"alg": "Ed25519"}, b"{}", SIGNING.key), SIGNING.key) == {}
    for header in ({"alg": "Ed25519", "zip": "DEF"}, {"alg": "Ed25519", "kid": 7}):
        forged = compact.sign(header, b"{}", SIGNING.key)  # signed, with a header refused
        with pytest.raises(EnvelopeError) as caught:
            sdjwt.verify_jwt(forged, SIGNING.key)
        assert caught.value.code is ErrorCode.SIGNATURE


@EXAMPLES
@given(plaintext=ASCII, version=st.integers(1, 99))
def test_both_libraries_open_our_jwe(plaintext: str, version: int) -> None:
    """What we seal, joserfc and jwcrypto decrypt to the same text and header."""
    decision = uuid.uuid4()
    extra = {
        k: v for k, v in _delivery_header(decision, version).items() if k in jwe.DELIVERY_HEADER
    }
    sealed = jwe.seal(plaintext, SEALING.public(), extra)
    opened = joserfc_jwe.decrypt_compact(sealed, SEALING.key, registry=JWE_REGISTRY)
    assert opened.plaintext == plaintext.encode("ascii")
    assert opened.protected["decision_id"] == str(decision)
    theirs = jwcrypto_jwe.JWE()
    theirs.allowed_algs = ["ECDH-ES+A256KW", "A256GCM"]
    theirs.deserialize(sealed, key=_jwcrypto_key(SEALING, private=True))
    assert theirs.payload == plaintext.encode("ascii")


@EXAMPLES
@given(plaintext=ASCII, version=st.integers(1, 99))
def test_we_open_what_both_libraries_seal(plaintext: str, version: int) -> None:
    """What joserfc and jwcrypto seal to us, we decrypt, header and text."""
    header = _delivery_header(uuid.uuid4(), version)
    ring = PartyKeyring("health", RING.keys)
    by_joserfc = joserfc_jwe.encrypt_compact(
        dict(header), plaintext.encode("ascii"), SEALING.public().key, registry=JWE_REGISTRY
    )
    by_jwcrypto = jwcrypto_jwe.JWE(plaintext.encode("ascii"), protected=json.dumps(header))
    by_jwcrypto.add_recipient(_jwcrypto_key(SEALING, private=False))
    for sealed in (by_joserfc, by_jwcrypto.serialize(compact=True)):
        opened_header, text = jwe.unseal(sealed, ring, NOW)
        assert text == plaintext
        assert opened_header["decision_id"] == header["decision_id"]
        assert opened_header["agreement_version"] == version


def _resealed(header: dict[str, Any], plaintext: str = "x~") -> str:
    """A JWE sealed to our key with exactly ``header`` (no profile check on the way)."""
    base = {k: v for k, v in header.items() if k != "epk"}
    return compact.encrypt(base, plaintext.encode("ascii"), SEALING.public().key)


@pytest.mark.parametrize(
    ("member", "value"),
    [("agreement_version", "1"), ("recipient", 7), ("decision_id", None), ("typ", 1)],
)
def test_a_header_member_of_the_wrong_type_is_undecryptable(member: str, value: Any) -> None:
    """As joserfc's header registry refused it, before the key was used."""
    header = {**_delivery_header(uuid.uuid4(), 1), member: value}
    with pytest.raises(EnvelopeError) as caught:
        jwe.unseal(_resealed(header), PartyKeyring("health", RING.keys), NOW)
    assert caught.value.code is ErrorCode.UNDECRYPTABLE


def test_a_low_order_ephemeral_key_or_a_changed_part_is_undecryptable() -> None:
    """An all-zero shared secret is refused, and so is any change to key, IV, text or tag."""
    ring = PartyKeyring("health", RING.keys)
    sealed = _resealed(_delivery_header(uuid.uuid4(), 1), "a presentation~")
    head, *rest = sealed.split(".")
    header = json.loads(compact.b64url_decode(head))
    header["epk"]["x"] = compact.b64url_encode(bytes(32))  # u = 0: a point of small order
    zeroed = ".".join([compact.encode_header(header), *rest])
    cases = [zeroed]
    for index in range(1, 5):
        parts = sealed.split(".")
        raw = bytearray(compact.b64url_decode(parts[index]))
        raw[0] ^= 1
        parts[index] = compact.b64url_encode(bytes(raw))
        cases.append(".".join(parts))
    for case in cases:
        with pytest.raises(EnvelopeError) as caught:
            jwe.unseal(case, ring, NOW)
        assert caught.value.code is ErrorCode.UNDECRYPTABLE
    assert jwe.unseal(sealed, ring, NOW)[1] == "a presentation~"
