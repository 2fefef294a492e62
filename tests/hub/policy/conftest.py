"""Fixtures for policy tests: the deployment's own parties, rules and agreements."""

from __future__ import annotations

from pathlib import Path

import pytest

from hub.policy.load import Policy, load_policy

DEPLOY = Path(__file__).resolve().parents[3] / "deploy"


@pytest.fixture(scope="session")
def policy() -> Policy:
    """The default MASIP policy shipped in deploy/."""
    return load_policy(DEPLOY / "agreements", DEPLOY / "parties.toml", DEPLOY / "rules.toml")
