"""The holder key named in ``cnf`` must be one of the hub's signing keys valid now."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from hub.crypto.base import EnvelopeError, ErrorCode
from hub.crypto.envelope import issue_sd_jwt, open_ingress
from hub.crypto.jwe import seal
from hub.crypto.keys import KeyDirectory, PartyKeyring, generate_party_keys
from schemas.samples import sample_event

NOW = datetime.now(UTC).replace(microsecond=0)


def _rotated_hub() -> tuple[PartyKeyring, PartyKeyring, PartyKeyring]:
    """The hub's expired keys, its current keys, and both in one keyring."""
    old = generate_party_keys("hub", NOW - timedelta(days=2), timedelta(days=1))
    new = generate_party_keys("hub", NOW - timedelta(hours=1))
    return old, new, PartyKeyring("hub", old.keys + new.keys)


@pytest.mark.parametrize("named", ["current", "expired"])
def test_cnf_must_name_a_currently_valid_hub_key(named: str) -> None:
    """An issuance naming the hub's current key opens; one naming its expired key is refused."""
    old, new, hub = _rotated_hub()
    police = generate_party_keys("police", NOW - timedelta(hours=1))
    directory = KeyDirectory.of(hub, police)
    holder = (new if named == "current" else old).signing_key(
        NOW if named == "current" else NOW - timedelta(days=1, hours=12)
    )
    text = issue_sd_jwt(
        sample_event("ReferralReceived"), police.signing_key(NOW), holder.public(), NOW
    )
    envelope = seal(text, directory.encryption_key("hub", NOW))
    if named == "current":
        assert open_ingress(envelope, hub, directory, now=NOW).claims.issuer == "police"
        return
    with pytest.raises(EnvelopeError) as caught:
        open_ingress(envelope, hub, directory, now=NOW)
    assert caught.value.code is ErrorCode.BINDING
