"""Write the envelope test vectors in this folder: `python tests/vectors/envelope/make_vectors.py`.

Run it only when the format changes on purpose: it makes new keys, so every
vector changes. The test `tests/hub/crypto/test_envelope_vectors.py` then checks
that the code reproduces the deterministic parts (the SD-JWT issuance and the
presentation: Ed25519 signatures are deterministic and the salts are fixed) and
opens the JWEs, whose ephemeral keys and IVs are random by design.
"""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from hub.crypto.envelope import (
    DecisionHeader,
    build_presentation,
    issue_sd_jwt,
    open_ingress,
)
from hub.crypto.jwe import seal
from hub.crypto.keys import KeyDirectory, generate_party_keys
from schemas.base import FieldGroup
from schemas.samples import sample_event

HERE = Path(__file__).resolve().parent
VALID_FROM = datetime(2026, 1, 1, tzinfo=UTC)
VALIDITY = timedelta(days=3653)
ISSUED_AT = datetime(2026, 5, 4, 10, 30, tzinfo=UTC)
PRESENTED_AT = datetime(2026, 5, 4, 10, 30, 5, tzinfo=UTC)
OPENED_AT = datetime(2026, 5, 4, 10, 31, tzinfo=UTC)
SALTS = [f"vector-salt-{n:02d}-AAAAAAAAAAAA"[:22] for n in range(16)]
DECISION = DecisionHeader(
    uuid.UUID("7d1f3c2a-5b6e-4f70-8a91-b2c3d4e5f607"), "masip-example", 1, "health"
)
GRANTED = (FieldGroup.A, FieldGroup.B)


def build() -> dict[str, Any]:
    """Make keys and every vector; return the document to write."""
    rings = {p: generate_party_keys(p, VALID_FROM, VALIDITY) for p in ("hub", "police", "health")}
    directory = KeyDirectory.of(*rings.values())
    event = sample_event("ReferralReceived", 1)
    salts = iter(SALTS)
    hub_sig = rings["hub"].signing_key(ISSUED_AT)
    issuance_text = issue_sd_jwt(
        event,
        rings["police"].signing_key(ISSUED_AT),
        hub_sig.public(),
        ISSUED_AT,
        lambda: next(salts),
    )
    jwe_to_hub = seal(issuance_text, directory.encryption_key("hub", ISSUED_AT))
    issuance = open_ingress(jwe_to_hub, rings["hub"], directory, now=OPENED_AT)
    presentation = build_presentation(issuance, GRANTED, DECISION, hub_sig, PRESENTED_AT)
    jwe_to_health = seal(
        presentation, directory.encryption_key("health", PRESENTED_AT), DECISION.as_header()
    )
    return {
        "about": "Envelope test vectors; see docs/envelope.md. Keys are test keys only.",
        "keys": {p: [r.to_jwk(private=True) for r in ring.keys] for p, ring in rings.items()},
        "event": event.model_dump(mode="json"),
        "salts": SALTS,
        "issued_at": ISSUED_AT.isoformat(),
        "presented_at": PRESENTED_AT.isoformat(),
        "opened_at": OPENED_AT.isoformat(),
        "decision": DECISION.as_header(),
        "granted": [g.value for g in GRANTED],
        "issuance": issuance_text,
        "presentation": presentation,
        "jwe_to_hub": jwe_to_hub,
        "jwe_to_health": jwe_to_health,
    }


if __name__ == "__main__":
    (HERE / "vectors.json").write_text(json.dumps(build(), indent=2, ensure_ascii=False) + "\n")
