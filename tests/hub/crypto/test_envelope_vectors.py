"""Our own envelope vectors: the code reproduces them byte for byte and opens them."""

from __future__ import annotations

import json
import uuid
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from hub.crypto import sdjwt
from hub.crypto.base import EnvelopeError, ErrorCode
from hub.crypto.envelope import (
    DecisionHeader,
    build_presentation,
    issue_sd_jwt,
    open_delivery,
    open_ingress,
)
from hub.crypto.keys import KeyDirectory, KeyRecord, PartyKeyring
from schemas.base import FieldGroup, split_groups
from schemas.registry import parse_event

VECTORS: dict[str, Any] = json.loads(
    (Path(__file__).parents[2] / "vectors" / "envelope" / "vectors.json").read_text()
)


def _ring(party: str) -> PartyKeyring:
    return PartyKeyring(party, tuple(KeyRecord.from_jwk(party, j) for j in VECTORS["keys"][party]))


RINGS = {party: _ring(party) for party in VECTORS["keys"]}
DIRECTORY = KeyDirectory.of(*RINGS.values())
ISSUED_AT = datetime.fromisoformat(VECTORS["issued_at"])
OPENED_AT = datetime.fromisoformat(VECTORS["opened_at"])
PRESENTED_AT = datetime.fromisoformat(VECTORS["presented_at"])
DECISION = DecisionHeader(
    uuid.UUID(VECTORS["decision"]["decision_id"]),
    VECTORS["decision"]["agreement_id"],
    VECTORS["decision"]["agreement_version"],
    VECTORS["decision"]["recipient"],
)


def test_issuance_is_reproduced_exactly() -> None:
    """Fixed keys, salts and time give exactly the published SD-JWT issuance."""
    salts = iter(VECTORS["salts"])
    text = issue_sd_jwt(
        parse_event(VECTORS["event"]),
        RINGS["police"].signing_key(ISSUED_AT),
        RINGS["hub"].signing_key(ISSUED_AT).public(),
        ISSUED_AT,
        lambda: next(salts),
    )
    assert text == VECTORS["issuance"]


def test_disclosures_hold_the_event_groups() -> None:
    """Each published disclosure decodes to one group of the event, salted in order."""
    _, disclosures, _ = sdjwt.split_sd_jwt(VECTORS["issuance"])
    groups = split_groups(parse_event(VECTORS["event"]))
    decoded = [sdjwt.decode_disclosure(d) for d in disclosures]
    assert [salt for salt, _, _ in decoded] == VECTORS["salts"][: len(decoded)]
    assert {name: value for _, name, value in decoded} == {g.value: v for g, v in groups.items()}


def test_jwe_to_hub_opens_to_the_issuance() -> None:
    """The published JWE to the hub opens, verifies and holds the published issuance."""
    issuance = open_ingress(VECTORS["jwe_to_hub"], RINGS["hub"], DIRECTORY, now=OPENED_AT)
    token, disclosures, _ = sdjwt.split_sd_jwt(VECTORS["issuance"])
    assert issuance.issuer_jwt == token
    assert list(issuance.disclosures.values()) == disclosures


def test_presentation_is_reproduced_exactly() -> None:
    """The hub's presentation with its Key Binding JWT reproduces byte for byte."""
    issuance = open_ingress(VECTORS["jwe_to_hub"], RINGS["hub"], DIRECTORY, now=OPENED_AT)
    granted = [FieldGroup(g) for g in VECTORS["granted"]]
    hub_key = RINGS["hub"].signing_key(PRESENTED_AT)
    text = build_presentation(issuance, granted, DECISION, hub_key, PRESENTED_AT)
    assert text == VECTORS["presentation"]


def test_jwe_to_recipient_verifies_end_to_end() -> None:
    """The published delivery opens at the recipient with exactly the granted groups."""
    delivery = open_delivery(VECTORS["jwe_to_health"], RINGS["health"], DIRECTORY, now=OPENED_AT)
    groups = split_groups(parse_event(VECTORS["event"]))
    assert delivery.decision == DECISION
    assert delivery.groups == {FieldGroup(g): groups[FieldGroup(g)] for g in VECTORS["granted"]}


@pytest.mark.parametrize("name", ["jwe_to_hub", "jwe_to_health"])
def test_vectors_do_not_open_after_the_keys_expire(name: str) -> None:
    """The same vectors are refused once the test keys have expired."""
    later = datetime.fromisoformat("2036-06-01T00:00:00+00:00")
    ring = RINGS["hub" if name == "jwe_to_hub" else "health"]
    opener = open_ingress if name == "jwe_to_hub" else open_delivery
    with pytest.raises(EnvelopeError) as caught:
        opener(VECTORS[name], ring, DIRECTORY, now=later)
    assert caught.value.code is ErrorCode.KEY_NOT_VALID
