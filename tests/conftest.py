"""Shared fixtures: the keys of a small partnership and a key directory over them."""

from __future__ import annotations

from contextlib import AsyncExitStack
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

import pytest
from feeding import Feeding, feeding_hub
from services import wait_for_stops

from hub.crypto.keys import KeyDirectory, PartyKeyring, generate_party_keys

if TYPE_CHECKING:
    from collections.abc import AsyncIterator
    from pathlib import Path

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


@pytest.fixture
async def feeding(
    tmp_path: Path, keyrings: dict[str, PartyKeyring], directory: KeyDirectory
) -> AsyncIterator[Feeding]:
    """A fresh hub that feeds the evaluation, on a fresh memory node (tests/feeding.py)."""
    async with AsyncExitStack() as stack:
        yield await feeding_hub(stack, tmp_path, keyrings, directory)


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """Wait for the scenarios' services stopping in the background; fail if one would not."""
    del exitstatus
    problems = wait_for_stops()
    if problems:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
        reporter = session.config.pluginmanager.get_plugin("terminalreporter")
        for problem in problems:
            if reporter is not None:
                reporter.write_line(f"error services.stop: {problem}", red=True)
