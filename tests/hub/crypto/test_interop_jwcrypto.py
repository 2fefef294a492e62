"""Interoperability with an independent JOSE implementation (jwcrypto).

An agency whose system is not ours must be able to read our deliveries and write
events we accept using an off-the-shelf JOSE library, hashlib and a JSON encoder:
the SD-JWT layer needs nothing more (docs/envelope.md).
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import uuid
from datetime import UTC, datetime
from typing import Any

from jwcrypto import jwe, jwk, jws

from hub.crypto.envelope import DecisionHeader, issue_event, open_ingress, present
from hub.crypto.keys import KeyDirectory, PartyKeyring
from schemas.base import FieldGroup, split_groups
from schemas.registry import parse_event
from schemas.samples import sample_event

Rings = dict[str, PartyKeyring]
NOW = datetime.now(UTC)


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _jwk(ring: PartyKeyring, use: str, *, private: bool) -> jwk.JWK:
    record = next(r for r in ring.keys if r.use == use)
    members = record.to_jwk(private=private)
    return jwk.JWK(**{k: v for k, v in members.items() if k not in ("nbf", "exp")})


def _jws_verify(token: str, key: jwk.JWK) -> dict[str, Any]:
    signed = jws.JWS()
    signed.allowed_algs = ["Ed25519"]
    signed.deserialize(token)
    signed.verify(key)
    claims: dict[str, Any] = json.loads(signed.payload)
    return claims


def test_jwcrypto_opens_and_verifies_our_delivery(keyrings: Rings, directory: KeyDirectory) -> None:
    """The jwcrypto library opens a delivery and verifies signature, digests and key binding."""
    event = sample_event("ReferralReceived")
    issuance = open_ingress(
        issue_event(event, keyrings["police"], directory), keyrings["hub"], directory
    )
    decision = DecisionHeader(uuid.uuid4(), "masip-default", 1, "health")
    envelope = present(issuance, {FieldGroup.A, FieldGroup.B}, decision, keyrings["hub"], directory)

    sealed = jwe.JWE()
    sealed.allowed_algs = ["ECDH-ES+A256KW", "A256GCM"]
    sealed.deserialize(envelope, key=_jwk(keyrings["health"], "enc", private=True))
    header = json.loads(sealed.objects["protected"])
    assert header["decision_id"] == str(decision.decision_id)
    assert header["recipient"] == "health"

    text = sealed.payload.decode()
    *parts, kb = text.split("~")
    token, disclosures = parts[0], parts[1:]
    claims = _jws_verify(token, _jwk(keyrings["police"], "sig", private=False))
    assert claims["iss"] == "police"
    digests = {_b64(hashlib.sha256(d.encode()).digest()) for d in disclosures}
    assert digests <= set(claims["_sd"])
    values = {json.loads(_unb64(d))[1]: json.loads(_unb64(d))[2] for d in disclosures}
    groups = split_groups(event)
    assert values == {"A": groups[FieldGroup.A], "B": groups[FieldGroup.B]}

    holder = jwk.JWK(**claims["cnf"]["jwk"])
    kb_claims = _jws_verify(kb, holder)
    prefix = text[: len(text) - len(kb)]
    assert kb_claims["sd_hash"] == _b64(hashlib.sha256(prefix.encode()).digest())
    assert kb_claims["aud"] == "health"
    assert kb_claims["nonce"] == str(decision.decision_id)


def _jwcrypto_issue(data: dict[str, Any], rings: Rings, directory: KeyDirectory) -> str:
    """Issue and seal an event using only jwcrypto, hashlib and json."""
    signing = _jwk(rings["police"], "sig", private=True)
    hub_sig = directory.valid_keys("hub", "sig", NOW)[0].to_jwk()
    hub_enc = directory.encryption_key("hub", NOW)
    groups = split_groups(parse_event(data))
    disclosures = [
        _b64(json.dumps([_b64(secrets.token_bytes(16)), g.value, v]).encode())
        for g, v in groups.items()
    ]
    claims = {
        "iss": "police",
        "iat": int(NOW.timestamp()),
        "jti": data["event_id"],
        "event_type": data["event_type"],
        "schema_version": data["schema_version"],
        "cnf": {"jwk": {k: hub_sig[k] for k in ("kty", "crv", "x")}},
        "_sd_alg": "sha-256",
        "_sd": sorted(
            [_b64(hashlib.sha256(d.encode()).digest()) for d in disclosures]
            + [
                _b64(hashlib.sha256(secrets.token_bytes(32)).digest())
                for _ in range(8 - len(disclosures))
            ]
        ),
    }
    signed = jws.JWS(json.dumps(claims).encode())
    header = {"alg": "Ed25519", "typ": "case-event+sd-jwt", "kid": signing.thumbprint()}
    signed.add_signature(signing, alg="Ed25519", protected=json.dumps(header))
    text = "~".join([signed.serialize(compact=True), *disclosures]) + "~"
    protected = {"alg": "ECDH-ES+A256KW", "enc": "A256GCM", "kid": hub_enc.kid, "cty": "sd-jwt"}
    sealed = jwe.JWE(text.encode(), protected=json.dumps(protected))
    sealed.add_recipient(
        jwk.JWK(**{k: v for k, v in hub_enc.to_jwk().items() if k not in ("nbf", "exp")})
    )
    compact: str = sealed.serialize(compact=True)
    return compact


def test_we_accept_an_event_issued_with_jwcrypto(keyrings: Rings, directory: KeyDirectory) -> None:
    """An event signed, digested and sealed with jwcrypto opens and validates at the hub."""
    event = sample_event("RiskAssessmentCompleted")
    data = event.model_dump(mode="json") | {"author_agency": "police"}
    issuance = open_ingress(_jwcrypto_issue(data, keyrings, directory), keyrings["hub"], directory)
    assert issuance.claims.issuer == "police"
    assert parse_event(issuance.event_data()) == parse_event(data)
