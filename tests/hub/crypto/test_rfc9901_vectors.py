"""The SD-JWT helpers against the examples published in RFC 9901.

The vectors (tests/vectors/rfc9901/examples.json) are copied from the RFC's text;
README.md beside them says where each value comes from.
"""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import pytest
from joserfc import jws
from joserfc.jwk import ECKey

from hub.crypto.sdjwt import (
    decode_disclosure,
    digests_in,
    disclosure_digest,
    sd_hash,
    split_sd_jwt,
)

VECTORS: dict[str, Any] = json.loads(
    (Path(__file__).parents[2] / "vectors" / "rfc9901" / "examples.json").read_text(
        encoding="utf-8"
    )
)
DISCLOSURES: list[dict[str, Any]] = VECTORS["disclosures"]
VARIANTS: list[dict[str, Any]] = VECTORS["encoding_variants"]
MAIN: dict[str, Any] = VECTORS["main_example"]


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _jwt_payload(token: str) -> dict[str, Any]:
    payload: dict[str, Any] = json.loads(_unb64(token.split(".")[1]))
    return payload


def _expected(contents: str) -> tuple[str, str | None, Any]:
    parts = json.loads(contents)
    if len(parts) == 2:
        return parts[0], None, parts[1]
    return parts[0], parts[1], parts[2]


def _without_kb(presentation: str) -> str:
    return presentation[: presentation.rindex("~") + 1]


@pytest.mark.parametrize("vector", DISCLOSURES, ids=lambda v: v["section"])
def test_published_disclosure_decodes_to_its_contents(vector: dict[str, Any]) -> None:
    """Each section 4.2 and 5.1 disclosure decodes to the salt, name and value the RFC prints."""
    assert decode_disclosure(vector["disclosure"]) == _expected(vector["contents"])


@pytest.mark.parametrize("vector", DISCLOSURES, ids=lambda v: v["section"])
def test_published_disclosure_hashes_to_its_digest(vector: dict[str, Any]) -> None:
    """Each section 4.2 and 5.1 disclosure hashes to the digest the RFC prints."""
    assert disclosure_digest(vector["disclosure"]) == vector["digest"]


@pytest.mark.parametrize("variant", VARIANTS, ids=lambda v: v["description"])
def test_other_json_encoding_has_same_value_and_other_digest(variant: dict[str, Any]) -> None:
    """A section 4.2.1 re-encoding of the Möbius disclosure decodes alike but hashes differently."""
    original = next(d for d in DISCLOSURES if d["digest"] == variant["same_value_as_digest"])
    assert decode_disclosure(variant["disclosure"]) == _expected(original["contents"])
    assert disclosure_digest(variant["disclosure"]) != original["digest"]


@pytest.mark.parametrize("vector", MAIN["disclosures"], ids=lambda v: v["digest"])
def test_main_example_disclosure_decodes_and_hashes(vector: dict[str, Any]) -> None:
    """Each section 5.1 disclosure yields its claim name and value and hashes to its digest."""
    _, name, value = decode_disclosure(vector["disclosure"])
    assert (name, value) == (vector["claim"], vector["value"])
    assert disclosure_digest(vector["disclosure"]) == vector["digest"]


def test_main_example_digests_are_exactly_those_in_the_issuer_payload() -> None:
    """The section 5.1 payload's `_sd` and array digests are exactly the disclosures' digests."""
    payload = _jwt_payload(MAIN["issuer_signed_jwt"])
    expected = {disclosure_digest(d["disclosure"]) for d in MAIN["disclosures"]}
    assert len(expected) == 10
    assert digests_in(payload) == expected


def test_split_issued_sd_jwt() -> None:
    """The section 5.1 SD-JWT splits into the issuer-signed JWT, all disclosures and no KB-JWT."""
    jwt, disclosures, kb_jwt = split_sd_jwt(MAIN["sd_jwt"])
    assert jwt == MAIN["issuer_signed_jwt"]
    assert disclosures == [d["disclosure"] for d in MAIN["disclosures"]]
    assert kb_jwt is None


def test_split_presentation() -> None:
    """The section 5.2 SD-JWT+KB splits into the JWT, four issued disclosures and the KB-JWT."""
    jwt, disclosures, kb_jwt = split_sd_jwt(MAIN["presentation"])
    assert jwt == MAIN["issuer_signed_jwt"]
    assert kb_jwt == MAIN["kb_jwt"]
    assert len(disclosures) == 4
    assert set(disclosures) <= {d["disclosure"] for d in MAIN["disclosures"]}


def test_sd_hash_of_presentation_matches_kb_jwt() -> None:
    """The sd_hash over the section 5.2 presentation up to its last tilde is the KB-JWT's claim."""
    expected = _jwt_payload(MAIN["kb_jwt"])["sd_hash"]
    assert expected == MAIN["sd_hash"]
    assert sd_hash(_without_kb(MAIN["presentation"])) == expected


def test_issuer_signature_verifies_with_appendix_key() -> None:
    """The issuer-signed JWT's ES256 signature verifies with the appendix A.5 public key."""
    key = ECKey.import_key(MAIN["issuer_jwk"])
    token = jws.deserialize_compact(MAIN["issuer_signed_jwt"], key, algorithms=["ES256"])
    assert json.loads(token.payload) == _jwt_payload(MAIN["issuer_signed_jwt"])


def test_kb_jwt_signature_verifies_with_cnf_key() -> None:
    """The KB-JWT's ES256 signature verifies with the holder key in the payload's `cnf` claim."""
    assert _jwt_payload(MAIN["issuer_signed_jwt"])["cnf"]["jwk"] == MAIN["holder_jwk"]
    key = ECKey.import_key(MAIN["holder_jwk"])
    token = jws.deserialize_compact(MAIN["kb_jwt"], key, algorithms=["ES256"])
    assert json.loads(token.payload)["sd_hash"] == MAIN["sd_hash"]
