"""Shared fixtures: the keys of a small partnership and a key directory over them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from hub.crypto.keys import KeyDirectory, PartyKeyring, generate_party_keys

PARTIES = ("hub", "police", "probation", "health", "advocacy", "evaluator")


@pytest.fixture(scope="session")
def keyrings() -> dict[str, PartyKeyring]:
    """One keyring per party, valid from a day ago for a year."""
    start = datetime.now(UTC) - timedelta(days=1)
    return {party: generate_party_keys(party, start) for party in PARTIES}


@pytest.fixture(scope="session")
def directory(keyrings: dict[str, PartyKeyring]) -> KeyDirectory:
    """The public keys of every party."""
    return KeyDirectory.of(*keyrings.values())
