"""The hub asks three witnesses on three loopback ports to cosign its checkpoints.

A real ledger (SQLite) signs checkpoint notes; :class:`hub.witnessing.Witnessing`
sends them with consistency proofs; real ``hub witness`` services answer. The
policy asks two of the three.
"""

from __future__ import annotations

import socket
import sqlite3
from contextlib import AsyncExitStack, closing
from dataclasses import replace
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import pytest
from entry_drafts import disclosure

from hub.crypto import (
    COSIGNATURE,
    MLDSA_COSIGNATURE,
    NoteSigner,
    WitnessPolicy,
    log_verifiers,
)
from hub.ledger import CheckpointPolicy, Ledger, LedgerConfig, LogName, open_store, verify_store
from hub.metrics import HubMetrics
from hub.witness import WitnessConfig, WitnessState, start_witness
from hub.witnessing import Witnessing

if TYPE_CHECKING:
    from pathlib import Path

    from hub.crypto import KeyDirectory, PartyKeyring

PREFIX = "hub.exampleshire.example/ledger"
NAMES = ("police", "probation", "health")


def _port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class Partners:
    """Three witnesses that can be stopped and started again on their own ports."""

    def __init__(self, tmp_path: Path) -> None:
        """Make each witness's keys (health has an ML-DSA-44 one as well) and port."""
        self.configs: dict[str, WitnessConfig] = {}
        for name in NAMES:
            kinds = (COSIGNATURE, MLDSA_COSIGNATURE) if name == "health" else (COSIGNATURE,)
            signers = tuple(NoteSigner.generate(f"witness.{name}.example/{k}", k) for k in kinds)
            self.configs[name] = WitnessConfig(
                signers, {}, tmp_path / f"{name}.db", "127.0.0.1", _port()
            )
        self.stacks: dict[str, AsyncExitStack] = {}

    def trust(self, ledger_origin: str, verifiers: tuple[object, ...]) -> None:
        """Have every witness follow the log ``ledger_origin``."""
        for name, config in self.configs.items():
            self.configs[name] = replace(config, logs={ledger_origin: verifiers})  # type: ignore[dict-item]

    async def start(self, name: str) -> None:
        """Serve one witness."""
        stack = AsyncExitStack()
        await start_witness(stack, self.configs[name])
        self.stacks[name] = stack

    async def stop(self, name: str) -> None:
        """Stop one witness (its state stays on disk)."""
        await self.stacks.pop(name).aclose()

    def policy(self) -> WitnessPolicy:
        """Two of the three, each by its first key and URL."""
        lines = [
            f"witness {name} {c.signers[0].verifier} http://127.0.0.1:{c.port}"
            for name, c in self.configs.items()
        ]
        lines += ["group partners 2 police probation health", "quorum partners"]
        return WitnessPolicy.parse("\n".join(lines) + "\n")


@pytest.fixture
async def hub_ledger(tmp_path: Path, keyrings: dict[str, PartyKeyring]) -> Ledger:
    """A ledger that signs a checkpoint every four entries."""
    store = await open_store(f"sqlite:///{tmp_path / 'ledger.db'}")
    config = LedgerConfig(CheckpointPolicy(every_entries=4), origin=PREFIX)
    ledger = Ledger(store, keyring=keyrings["hub"], config=config)
    await ledger.start()
    return ledger


async def _partners(tmp_path: Path, ledger: Ledger, keyring: PartyKeyring) -> Partners:
    origin = LogName(await ledger.store.ledger_id(), PREFIX).origin
    partners = Partners(tmp_path)
    partners.trust(origin, tuple(log_verifiers(origin, keyring.public_records())))
    for name in NAMES:
        await partners.start(name)
    return partners


async def _append(ledger: Ledger, count: int) -> None:
    for _ in range(count):
        await ledger.append([disclosure()])
    await ledger.checkpoint_now()


def _gauge(metrics: HubMetrics, name: str) -> float:
    value = metrics.registry.get_sample_value(name)
    assert value is not None
    return value


class Clock:
    """A clock the test moves."""

    def __init__(self) -> None:
        """Start now."""
        self.now = datetime.now(UTC).timestamp()

    def __call__(self) -> float:
        """The time."""
        return self.now


async def test_three_witnesses_cosign_and_a_quorum_failure_delays_and_alerts(
    tmp_path: Path, hub_ledger: Ledger, keyrings: dict[str, PartyKeyring], directory: KeyDirectory
) -> None:
    """Cosigned by all; with one down still witnessed; with two down the checkpoint waits.

    The age the alert fires on grows while it waits; nothing is lost, and once the
    witnesses are back the waiting checkpoint is cosigned with a proof from the
    size each had cosigned.
    """
    partners = await _partners(tmp_path, hub_ledger, keyrings["hub"])
    metrics, clock = HubMetrics(), Clock()
    witnessing = Witnessing(hub_ledger, partners.policy(), metrics, clock=clock)
    try:
        await _append(hub_ledger, 10)
        await witnessing.round()
        assert [v.status for v in witnessing.views.values()] == ["200"] * 3
        assert _gauge(metrics, "hub_ledger_witnessed_size") == 10
        assert _gauge(metrics, "hub_ledger_unwitnessed_seconds") == 0

        await partners.stop("health")
        await _append(hub_ledger, 5)
        await witnessing.round()
        assert _gauge(metrics, "hub_ledger_witnessed_size") == 15
        assert witnessing.views["health"].status == "unreachable"

        await partners.stop("probation")
        await _append(hub_ledger, 3)
        clock.now += 600
        await witnessing.round()
        assert _gauge(metrics, "hub_ledger_witnessed_size") == 15
        assert _gauge(metrics, "hub_ledger_unwitnessed_seconds") >= 590
        report = await verify_store(hub_ledger.store, directory, policy=partners.policy())
        assert (report.intact, report.entries, report.witnessed_size) == (True, 18, 15)

        await partners.start("probation")
        await partners.start("health")
        await _append(hub_ledger, 2)
        await witnessing.round()
        assert [v.status for v in witnessing.views.values()] == ["200"] * 3
        assert {v.cosigned_size for v in witnessing.views.values()} == {20}
        assert _gauge(metrics, "hub_ledger_unwitnessed_seconds") == 0
        report = await verify_store(hub_ledger.store, directory, policy=partners.policy())
        assert (report.witnessed_size, report.witnesses) == (20, ("police", "probation", "health"))
        answers = metrics.exposition().decode()
        assert 'hub_ledger_witness_answers_total{status="unreachable",witness="health"}' in answers
    finally:
        for name in list(partners.stacks):
            await partners.stop(name)
        await hub_ledger.close()


async def test_a_rewritten_ledger_is_refused_by_the_witnesses_and_shown_as_a_fork(
    tmp_path: Path, hub_ledger: Ledger, keyrings: dict[str, PartyKeyring]
) -> None:
    """A copy of the ledger that goes on differently, under the hub's own key, is refused.

    The operator copies the database after 8 entries and appends other entries to
    the copy, re-signing its checkpoints with the hub's key. The witnesses, having
    cosigned the true history past that point, answer 422; the hub's view marks a
    fork and the witnesses keep the evidence.
    """
    partners = await _partners(tmp_path, hub_ledger, keyrings["hub"])
    try:
        await _append(hub_ledger, 8)
        with (
            closing(sqlite3.connect(tmp_path / "ledger.db")) as source,
            closing(sqlite3.connect(tmp_path / "rewritten.db")) as copy,
        ):
            source.backup(copy)  # the operator's copy of the database at 8 entries
        await _append(hub_ledger, 4)
        honest = Witnessing(hub_ledger, partners.policy(), HubMetrics())
        await honest.round()
        assert {v.cosigned_size for v in honest.views.values()} == {12}

        store = await open_store(f"sqlite:///{tmp_path / 'rewritten.db'}")
        config = LedgerConfig(CheckpointPolicy(every_entries=4), origin=PREFIX)
        rewritten = Ledger(store, keyring=keyrings["hub"], config=config)
        await rewritten.start()
        await _append(rewritten, 6)
        forked = Witnessing(rewritten, partners.policy(), HubMetrics())
        await forked.round()
        views = [v.as_json() for v in forked.views.values()]
        assert [(v["status"], v["code"], v["fork"]) for v in views] == [
            ("422", "witness.inconsistent", True)
        ] * 3
        assert not forked.witnessed((await rewritten.store.checkpoints())[-1])
        await rewritten.close()
    finally:
        for name in list(partners.stacks):
            await partners.stop(name)
        await hub_ledger.close()
    evidence = []
    for witness in partners.configs.values():
        state = WitnessState(witness.state)
        evidence.append([(e.kind, e.cosigned_size, e.size) for e in state.evidence()])
        state.close()
    assert evidence == [[("inconsistent", 12, 14)]] * 3
