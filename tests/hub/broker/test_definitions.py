"""deploy/rabbitmq/definitions.json: current, consistent with the topology, least privilege."""

from __future__ import annotations

import base64
import hashlib
import json
import re
from pathlib import Path
from typing import Any

import pytest

from hub.broker.definitions import (
    DOCUMENT,
    HUB_USER,
    NOTHING,
    PARTIES_FILE,
    broker_definitions,
    password_hash,
    read_parties,
    render_definitions,
)
from hub.broker.topology import TopologyNames, default_topology
from hub.cli import main

ROOT = Path(__file__).resolve().parents[3]
#: The default exchange's name in RabbitMQ's permission checks.
DEFAULT_EXCHANGE = "amq.default"


@pytest.fixture(scope="module")
def committed() -> dict[str, Any]:
    """The committed definitions."""
    document: dict[str, Any] = json.loads((ROOT / DOCUMENT).read_text(encoding="utf-8"))
    return document


def _agencies() -> list[str]:
    return sorted(set(read_parties(ROOT / PARTIES_FILE)) - {HUB_USER})


def test_the_committed_definitions_are_current() -> None:
    """definitions.json is what the generator writes from deploy/parties.toml."""
    text = render_definitions(read_parties(ROOT / PARTIES_FILE))
    assert (ROOT / DOCUMENT).read_text(encoding="utf-8") == text, (
        "deploy/rabbitmq/definitions.json is stale: run `hub broker definitions --write`"
    )


def test_the_topology_is_that_of_default_topology(committed: dict[str, Any]) -> None:
    """Exchanges, queues (with their arguments) and bindings are exactly default_topology's."""
    topology = default_topology(_agencies())
    assert {(e["name"], e["type"]) for e in committed["exchanges"]} == {
        (e.name, e.type.value) for e in topology.exchanges
    }
    assert {q["name"]: q["arguments"] for q in committed["queues"]} == {
        q.name: q.arguments() for q in topology.queues
    }
    assert {(b["source"], b["destination"], b["routing_key"]) for b in committed["bindings"]} == {
        (b.exchange, b.queue, b.routing_key) for b in topology.bindings
    }
    assert all(e["durable"] and not e["auto_delete"] for e in committed["exchanges"])
    assert all(q["durable"] and not q["auto_delete"] for q in committed["queues"])


def test_one_user_per_agency_without_password_or_tags(committed: dict[str, Any]) -> None:
    """The hub and each agency have a user, none privileged, none with a usable password."""
    users = {u["name"]: u for u in committed["users"]}
    assert set(users) == {HUB_USER, *_agencies()}
    for user in users.values():
        assert user["tags"] == []  # no administrator, no impersonator
        assert user["password_hash"] == ""


def _matches(pattern: str, names: set[str]) -> set[str]:
    return {name for name in names if re.search(pattern, name)}


def _permissions(committed: dict[str, Any]) -> dict[str, dict[str, str]]:
    assert len({p["vhost"] for p in committed["permissions"]}) == 1
    return {p["user"]: p for p in committed["permissions"]}


def test_an_agency_writes_to_ingress_and_reads_its_inbox_only(committed: dict[str, Any]) -> None:
    """Each agency: configure nothing, write hub.ingress only, read its own inbox only."""
    names = TopologyNames()
    topology = default_topology(_agencies())
    every = {e.name for e in topology.exchanges} | {q.name for q in topology.queues}
    every |= {DEFAULT_EXCHANGE, "agency.other.inbox", "hub.ingress.evil"}
    permissions = _permissions(committed)
    for agency in _agencies():
        granted = permissions[agency]
        assert granted["configure"] == NOTHING
        assert _matches(granted["configure"], every) == set()
        assert _matches(granted["write"], every) == {names.ingress}
        assert _matches(granted["read"], every) == {names.inbox(agency)}


def test_the_hub_configures_reads_and_writes_its_topology_and_nothing_else(
    committed: dict[str, Any],
) -> None:
    """The hub's user may declare, read and write every name of its topology, and no other.

    It writes to hub.ingress to replay a quarantined message as itself (ADR 0009).
    """
    topology = default_topology(_agencies())
    own = {e.name for e in topology.exchanges} | {q.name for q in topology.queues}
    every = own | {DEFAULT_EXCHANGE, "amq.topic"}
    granted = _permissions(committed)[HUB_USER]
    assert _matches(granted["configure"], every) == own
    assert _matches(granted["read"], every) == own
    assert _matches(granted["write"], every) == own


def test_prefixed_names_and_users_for_tests_sharing_a_node() -> None:
    """A prefix renames users and escapes the topology's names in every pattern."""
    names = TopologyNames(prefix="t1.")
    document = broker_definitions(["police"], vhost="v", names=names, user_prefix="x-")
    assert [u["name"] for u in document["users"]] == ["x-hub", "x-police"]
    police = next(p for p in document["permissions"] if p["user"] == "x-police")
    assert police["write"] == r"^t1\.hub\.ingress$"
    assert police["read"] == r"^t1\.agency\.police\.inbox$"
    assert {q["vhost"] for q in document["queues"]} == {"v"}


def test_password_hash_is_rabbitmqs_salted_sha256() -> None:
    """base64(salt || SHA-256(salt || password)) with a 4-byte salt; a fresh salt each time."""
    salt = bytes.fromhex("908dc60a")
    raw = base64.b64decode(password_hash("test12", salt))
    assert raw == salt + hashlib.sha256(salt + b"test12").digest()
    assert password_hash("test12") != password_hash("test12")


def test_the_command_checks_and_prints(capsys: pytest.CaptureFixture[str]) -> None:
    """``hub broker definitions --check`` passes on the committed file; plain prints it."""
    assert main(["broker", "definitions", "--check"]) == 0
    capsys.readouterr()
    assert main(["broker", "definitions", "--vhost", "elsewhere"]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert {v["name"] for v in printed["vhosts"]} == {"elsewhere"}


def test_the_command_reports_a_stale_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """``--check`` with other parties than the committed file's fails definitions.stale."""
    parties = tmp_path / "parties.toml"
    parties.write_text('[[party]]\nid = "police"\n', encoding="utf-8")
    assert main(["broker", "definitions", "--parties", str(parties), "--check"]) == 1
    assert "error definitions.stale" in capsys.readouterr().err
