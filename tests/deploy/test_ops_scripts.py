"""The operations scripts of deploy/ops/ against real SQLite, PostgreSQL and RabbitMQ.

Ledger backups are restored and verified; a tampered backup must fail the restore.
Key rotation runs on a temporary key folder. Revocation runs on the test RabbitMQ
with a throwaway user (never the admin). The rolling upgrade runs against a
stand-in ``docker`` that records what it is asked to do. Cases that need a service
skip without it, or fail under ``HUB_REQUIRE_SERVICES=1`` (tests/services.py).
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import re
import secrets
import sqlite3
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import aio_pika
import asyncpg
import pytest
from aio_pika.exceptions import ProbableAuthenticationError
from entry_drafts import disclosure
from services import amqp_url, postgres_dsn
from yarl import URL

from hub.broker.definitions import password_hash
from hub.crypto.keys import KeyDirectory, save_keyring
from hub.ledger.checkpoints import CheckpointPolicy
from hub.ledger.service import Ledger, LedgerConfig, open_ledger

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Iterator

    from hub.crypto.keys import PartyKeyring
    from hub.ledger.entries import EntryDraft

ROOT = Path(__file__).resolve().parents[2]
OPS = ROOT / "deploy" / "ops"
RABBITMQ_VARIABLE = "HUB_TEST_RABBITMQ_DIR"
SCRIPT_TIMEOUT = 180
ENTRIES = 10
CONFIG = LedgerConfig(checkpoints=CheckpointPolicy(every_entries=4, every_seconds=3600))


def run_script(name: str, *args: str | Path, env: dict[str, str] | None = None) -> Any:
    """Run ``deploy/ops/<name>`` with ``args``; return the finished process."""
    return subprocess.run(  # noqa: S603 - our own script, arguments made by the test
        [str(OPS / name), *map(str, args)],
        capture_output=True,
        text=True,
        timeout=SCRIPT_TIMEOUT,
        check=False,
        env={**os.environ, **(env or {})},
    )


def draft() -> EntryDraft:
    """A disclosure draft with a fresh decision id."""
    return disclosure()


async def fill(ledger: Ledger, count: int = ENTRIES) -> None:
    """Append ``count`` entries, one at a time, so that checkpoints fall every four."""
    for _ in range(count):
        await ledger.append([draft()])


def manifest(backup: Path) -> dict[str, str]:
    """The key=value lines of a backup's MANIFEST."""
    lines = (backup / "MANIFEST").read_text().splitlines()
    return dict(line.split("=", 1) for line in lines if "=" in line)


def reseal(backup: Path, name: str) -> None:
    """Rewrite the MANIFEST's checksum after editing ``name``, as a careful forger would."""
    digest = hashlib.sha256((backup / name).read_bytes()).hexdigest()
    text = (backup / "MANIFEST").read_text()
    (backup / "MANIFEST").write_text(re.sub(r"sha256=\w+", f"sha256={digest}", text))


@pytest.fixture
def public_keys(tmp_path: Path, keyrings: dict[str, PartyKeyring]) -> Path:
    """A folder with the hub's public JWK Set only."""
    folder = tmp_path / "keys"
    save_keyring(keyrings["hub"], folder)
    (folder / "hub.private.jwks.json").unlink()
    return folder


# --- SQLite ----------------------------------------------------------------------------


@pytest.fixture
async def sqlite_ledger(
    tmp_path: Path, keyrings: dict[str, PartyKeyring]
) -> AsyncIterator[tuple[Path, Ledger]]:
    """A live SQLite ledger (WAL) of ten entries with checkpoints at 4 and 8, still open."""
    path = tmp_path / "live" / "ledger.db"
    path.parent.mkdir()
    ledger = await open_ledger(f"sqlite:///{path}", keyring=keyrings["hub"], config=CONFIG)
    await fill(ledger)
    yield path, ledger
    await ledger.close()


async def restore(backup: Path, keys: Path, url: str) -> Any:
    """Run restore-ledger.sh from ``backup`` into the ledger at ``url``; the process."""
    return await asyncio.to_thread(
        run_script, "restore-ledger.sh", "--backup", backup, "--keys", keys,
        env={"HUB_LEDGER_URL": url},
    )  # fmt: skip


async def backup_sqlite(path: Path, keys: Path, out: Path) -> Path:
    """Back up the ledger at ``path`` into ``out``; return the backup folder."""
    done = await asyncio.to_thread(
        run_script,
        "backup-ledger.sh",
        "--keys",
        keys,
        "--out",
        out,
        env={"HUB_LEDGER_URL": f"sqlite:///{path}"},
    )
    assert done.returncode == 0, done.stderr
    return Path(done.stdout.strip())


async def test_sqlite_backup_of_a_live_ledger_restores_and_verifies(
    sqlite_ledger: tuple[Path, Ledger], public_keys: Path, tmp_path: Path
) -> None:
    """A backup taken while the writer runs restores into a new file that verifies intact."""
    path, ledger = sqlite_ledger
    backup = await backup_sqlite(path, public_keys, tmp_path / "backups")
    recorded = manifest(backup)
    assert recorded["kind"] == "sqlite"
    assert recorded["entries"] == str(ENTRIES)
    assert recorded["checkpoint_size"] == "8"
    assert not list(backup.glob("*-wal"))
    await fill(ledger, 2)  # the live ledger moves on; the backup does not
    target = tmp_path / "restored" / "ledger.db"
    target.parent.mkdir()
    done = await restore(backup, public_keys, f"sqlite:///{target}")
    assert done.returncode == 0, done.stderr
    assert "intact: 10 entries, checkpoint at size 8" in done.stderr
    assert "head matches the backup" in done.stderr
    db = sqlite3.connect(target)
    assert db.execute("SELECT count(*) FROM ledger_entries").fetchone() == (ENTRIES,)
    db.close()


async def test_tampered_sqlite_backup_fails_the_restore(
    sqlite_ledger: tuple[Path, Ledger], public_keys: Path, tmp_path: Path
) -> None:
    """An entry edited in the backup, checksum forged to match, fails verify; nothing is left."""
    path, _ = sqlite_ledger
    backup = await backup_sqlite(path, public_keys, tmp_path / "backups")
    db = sqlite3.connect(backup / "ledger.db")
    db.execute("DROP TRIGGER ledger_entries_no_update")
    db.execute("UPDATE ledger_entries SET body = replace(body, 'health', 'police') WHERE seq = 3")
    db.commit()
    db.close()
    reseal(backup, "ledger.db")
    target = tmp_path / "restored.db"
    done = await restore(backup, public_keys, f"sqlite:///{target}")
    assert done.returncode == 1
    assert "broken at entry 3: ledger.hash_mismatch" in done.stderr
    assert "error restore.not_intact" in done.stderr
    assert not target.exists()
    assert not await asyncio.to_thread(lambda: list(tmp_path.glob(".restored.db*")))


async def test_damaged_backup_fails_its_checksum(
    sqlite_ledger: tuple[Path, Ledger], public_keys: Path, tmp_path: Path
) -> None:
    """A backup file changed after it was written is refused before anything is restored."""
    path, _ = sqlite_ledger
    backup = await backup_sqlite(path, public_keys, tmp_path / "backups")
    with (backup / "ledger.db").open("ab") as handle:
        handle.write(b"\0")
    target = tmp_path / "restored.db"
    done = await restore(backup, public_keys, f"sqlite:///{target}")
    assert done.returncode == 1
    assert "error backup.checksum" in done.stderr
    assert not target.exists()


async def test_restore_compares_the_recorded_head(
    sqlite_ledger: tuple[Path, Ledger], public_keys: Path, tmp_path: Path
) -> None:
    """A restore that verifies but holds fewer entries than the backup recorded fails."""
    path, _ = sqlite_ledger
    backup = await backup_sqlite(path, public_keys, tmp_path / "backups")
    text = (backup / "MANIFEST").read_text()
    (backup / "MANIFEST").write_text(text.replace(f"entries={ENTRIES}", f"entries={ENTRIES + 1}"))
    done = await restore(backup, public_keys, f"sqlite:///{tmp_path / 'restored.db'}")
    assert done.returncode == 1
    assert "error restore.head_mismatch" in done.stderr


async def test_restore_refuses_an_existing_ledger(
    sqlite_ledger: tuple[Path, Ledger], public_keys: Path, tmp_path: Path
) -> None:
    """A restore never writes over a ledger that exists."""
    path, _ = sqlite_ledger
    backup = await backup_sqlite(path, public_keys, tmp_path / "backups")
    before = path.read_bytes()
    done = await restore(backup, public_keys, f"sqlite:///{path}")
    assert done.returncode == 1
    assert "error restore.target_exists" in done.stderr
    assert path.read_bytes() == before


# --- PostgreSQL ------------------------------------------------------------------------


@pytest.fixture
async def scratch_databases() -> AsyncIterator[tuple[str, str]]:
    """Two empty scratch databases on the test server (source, target), dropped after."""
    dsn = postgres_dsn()
    names = [f"ops_{role}_{secrets.token_hex(4)}" for role in ("src", "dst")]
    admin = await asyncpg.connect(dsn)
    try:
        for name in names:
            await admin.execute(f'CREATE DATABASE "{name}"')
        yield tuple(str(URL(dsn).with_path(f"/{name}")) for name in names)  # type: ignore[misc]
    finally:
        for name in names:
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


async def backup_postgres(url: str, keys: Path, out: Path, *options: str) -> Path:
    """Back up the PostgreSQL ledger at ``url``; return the backup folder."""
    done = await asyncio.to_thread(
        run_script,
        "backup-ledger.sh",
        "--keys",
        keys,
        "--out",
        out,
        *options,
        env={"HUB_LEDGER_URL": url},
    )
    assert done.returncode == 0, done.stderr
    return Path(done.stdout.strip())


@pytest.mark.postgres
async def test_postgres_backup_restores_into_an_empty_database(
    scratch_databases: tuple[str, str],
    keyrings: dict[str, PartyKeyring],
    public_keys: Path,
    tmp_path: Path,
) -> None:
    """pg_dump of the ledger tables restores into an empty database and verifies intact."""
    source, target = scratch_databases
    ledger = await open_ledger(source, keyring=keyrings["hub"], config=CONFIG)
    try:
        await fill(ledger)
        backup = await backup_postgres(source, public_keys, tmp_path / "backups")
        await fill(ledger, 3)
    finally:
        await ledger.close()
    recorded = manifest(backup)
    assert (recorded["kind"], recorded["entries"], recorded["checkpoint_size"]) == (
        "postgresql",
        str(ENTRIES),
        "8",
    )
    done = await restore(backup, public_keys, target)
    assert done.returncode == 0, done.stderr
    assert "intact: 10 entries, checkpoint at size 8" in done.stderr
    connection = await asyncpg.connect(target)
    try:
        assert await connection.fetchval("SELECT count(*) FROM ledger_entries") == ENTRIES
        with pytest.raises(asyncpg.RaiseError, match="append-only"):
            await connection.execute("DELETE FROM ledger_entries WHERE seq = 0")
    finally:
        await connection.close()
    again = await restore(backup, public_keys, target)
    assert again.returncode == 1
    assert "error restore.target_not_empty" in again.stderr


@pytest.mark.postgres
async def test_tampered_postgres_backup_fails_the_restore(
    scratch_databases: tuple[str, str],
    keyrings: dict[str, PartyKeyring],
    public_keys: Path,
    tmp_path: Path,
) -> None:
    """An entry edited inside the dump, checksum forged to match, fails the restore's verify."""
    source, target = scratch_databases
    ledger = await open_ledger(source, keyring=keyrings["hub"], config=CONFIG)
    try:
        await fill(ledger)
    finally:
        await ledger.close()
    backup = await backup_postgres(source, public_keys, tmp_path / "backups", "--compress", "0")
    dump = (backup / "ledger.dump").read_bytes()
    original = b'"purpose":"assess-and-treat"'
    assert dump.count(original) == 2 * ENTRIES  # the primary clause and its grant
    (backup / "ledger.dump").write_bytes(dump.replace(original, b'"purpose":"assess-and-trick"', 1))
    reseal(backup, "ledger.dump")
    done = await restore(backup, public_keys, target)
    assert done.returncode == 1
    assert "ledger.hash_mismatch" in done.stderr
    assert "error restore.not_intact" in done.stderr


# --- RabbitMQ: revocation ---------------------------------------------------------------


def rabbitmq_dir() -> Path:
    """The test RabbitMQ node's folder, or skip (fail under HUB_REQUIRE_SERVICES=1)."""
    amqp_url()  # the same skip-or-fail rule, and the node must be on loopback
    value = os.environ.get(RABBITMQ_VARIABLE, "")
    if not value:
        reason = f"revocation tests need {RABBITMQ_VARIABLE} (deploy/dev/rabbitmq.sh's DIR)"
        if os.environ.get("HUB_REQUIRE_SERVICES") == "1":
            pytest.fail(reason)
        pytest.skip(reason)
    return Path(value)


def make_broker_user(node: Path, work: Path, *, tags: list[str]) -> tuple[str, str]:
    """Create a throwaway user on the test vhost by importing definitions; return it."""
    name, password = f"ops-test-{secrets.token_hex(4)}", secrets.token_hex(16)
    vhost = URL(amqp_url()).path.lstrip("/")
    document = {
        "users": [
            {
                "name": name,
                "password_hash": password_hash(password),
                "hashing_algorithm": "rabbit_password_hashing_sha256",
                "tags": tags,
            }
        ],
        "permissions": [
            {"user": name, "vhost": vhost, "configure": "^$", "write": "^$", "read": "^$"}
        ],
    }
    definitions = work / "user.json"
    definitions.write_text(json.dumps(document))
    done = subprocess.run(  # noqa: S603 - our own script, fixed arguments
        [str(ROOT / "deploy" / "dev" / "rabbitmq.sh"), "import", str(node), str(definitions)],
        capture_output=True,
        text=True,
        timeout=SCRIPT_TIMEOUT,
        check=False,
    )
    definitions.unlink()
    assert done.returncode == 0, done.stderr
    return name, password


def delete_broker_user(node: Path, name: str) -> None:
    """Remove a throwaway user if it is still there."""
    subprocess.run(  # noqa: S603 - our own script, fixed arguments
        [str(ROOT / "deploy" / "dev" / "rabbitmq.sh"), "ctl", str(node), "delete_user", name],
        capture_output=True,
        timeout=SCRIPT_TIMEOUT,
        check=False,
    )


@pytest.fixture
def agency_user(tmp_path: Path) -> Iterator[tuple[Path, str, str]]:
    """A throwaway broker user standing for an agency: (node folder, name, password)."""
    node = rabbitmq_dir()
    name, password = make_broker_user(node, tmp_path, tags=[])
    yield node, name, password
    delete_broker_user(node, name)


def as_user(name: str, password: str) -> str:
    """The test broker's URL with another user's credentials."""
    return str(URL(amqp_url()).with_user(name).with_password(password))


@pytest.mark.rabbitmq
async def test_revoke_closes_the_connection_and_refuses_a_new_one(
    agency_user: tuple[Path, str, str], tmp_path: Path
) -> None:
    """Revocation closes the agency's open connection at once and it cannot log in again."""
    node, name, password = agency_user
    # Both connections are closed here: aio-pika closes a forgotten one from
    # ``__del__``, which after the test's loop has gone warns of a coroutine never awaited.
    connection = aio_pika.Connection(URL(as_user(name, password)))
    again = aio_pika.Connection(URL(as_user(name, password)))
    try:
        await connection.connect(timeout=10)
        closed = asyncio.Event()
        reasons: list[str] = []

        def on_close(_: object, reason: BaseException | None = None) -> None:
            reasons.append(str(reason))
            closed.set()

        connection.close_callbacks.add(on_close)
        channel = await connection.channel()
        keys = tmp_path / "public"
        keys.mkdir()
        (keys / f"{name}.jwks.json").write_text("{}")
        done = await asyncio.to_thread(
            run_script, "revoke-agency.sh", name, "--rabbitmq-dir", node, "--keys-dir", keys,
            "--yes",
        )  # fmt: skip
        assert done.returncode == 0, done.stderr
        assert password not in done.stdout + done.stderr
        await asyncio.wait_for(closed.wait(), timeout=15)
        assert "CONNECTION_FORCED" in reasons[0]
        assert channel.is_closed
        with pytest.raises(ProbableAuthenticationError):
            await again.connect(timeout=10)
    finally:
        for each in (connection, again):
            await each.close()
    assert not (keys / f"{name}.jwks.json").exists()
    assert len(list((keys / "revoked").iterdir())) == 1


@pytest.mark.rabbitmq
def test_revoke_refuses_an_administrator(tmp_path: Path) -> None:
    """A user tagged administrator is never deleted, whatever its name."""
    node = rabbitmq_dir()
    name, password = make_broker_user(node, tmp_path, tags=["administrator"])
    try:
        done = run_script("revoke-agency.sh", name, "--rabbitmq-dir", node, "--yes")
        assert done.returncode == 1
        assert "error revoke.refused" in done.stderr
        listing = subprocess.run(  # noqa: S603 - our own script, fixed arguments
            [str(ROOT / "deploy" / "dev" / "rabbitmq.sh"), "ctl", str(node), "list_users"],
            capture_output=True,
            text=True,
            timeout=SCRIPT_TIMEOUT,
            check=True,
        )
        assert name in listing.stdout
    finally:
        delete_broker_user(node, name)
    del password


def test_revoke_refuses_the_hub() -> None:
    """The hub's own broker user cannot be revoked with this script."""
    done = run_script("revoke-agency.sh", "hub", "--rabbitmqctl", "/nonexistent", "--yes")
    assert done.returncode == 1
    assert "error revoke.refused" in done.stderr


def test_revoke_drops_the_user_from_boot_definitions(tmp_path: Path) -> None:
    """The boot definitions lose the agency's user and permissions, and keep the rest."""
    boot = tmp_path / "definitions.json"
    boot.write_text(
        json.dumps(
            {
                "users": [{"name": "hub"}, {"name": "probation"}],
                "permissions": [{"user": "hub"}, {"user": "probation"}],
                "queues": [{"name": "agency.probation.inbox"}],
            }
        )
    )
    boot.chmod(0o600)
    fake = tmp_path / "rabbitmqctl"
    fake.write_text('#!/bin/sh\n[ "$2" = list_users ] && echo "probation\t[]"\nexit 0\n')
    fake.chmod(0o755)
    done = run_script(
        "revoke-agency.sh", "probation", "--rabbitmqctl", fake, "--boot-definitions", boot, "--yes"
    )
    assert done.returncode == 0, done.stderr
    document = json.loads(boot.read_text())
    assert document["users"] == [{"name": "hub"}]
    assert document["permissions"] == [{"user": "hub"}]
    assert document["queues"] == [{"name": "agency.probation.inbox"}]
    assert boot.stat().st_mode & 0o777 == 0o600


# --- Key rotation ------------------------------------------------------------------------


def hub_command(*args: str | Path) -> str:
    """Run the ``hub`` command; return its output or fail."""
    done = subprocess.run(  # noqa: S603 - the project's own command, arguments from the test
        [str(ROOT / ".venv" / "bin" / "hub"), *map(str, args)],
        capture_output=True,
        text=True,
        timeout=SCRIPT_TIMEOUT,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


@pytest.fixture
def party_keys(tmp_path: Path) -> tuple[Path, Path]:
    """Probation's key folder, keys valid from yesterday for a year, and a public folder."""
    private, public = tmp_path / "probation", tmp_path / "public"
    public.mkdir()
    start = (datetime.now(UTC) - timedelta(days=1)).replace(microsecond=0).isoformat()
    hub_command("keys", "init", "--party", "probation", "--out", private, "--not-before", start)
    (public / "probation.jwks.json").write_bytes((private / "probation.jwks.json").read_bytes())
    return private, public


def test_rotation_adds_a_published_key_valid_alongside_the_old(
    party_keys: tuple[Path, Path],
) -> None:
    """The new keys are published, not used before the lead time, then valid with the old."""
    private, public = party_keys
    old = KeyDirectory.load(public).records("probation", "enc")
    done = run_script("rotate-keys.sh", "probation", "--dir", private, "--publish", public)
    assert done.returncode == 0, done.stderr
    directory = KeyDirectory.load(public)
    records = directory.records("probation", "enc")
    assert len(records) == 2
    assert records[0].kid == old[0].kid
    new = records[1]
    now = datetime.now(UTC)
    assert directory.encryption_key("probation", now).kid == old[0].kid
    overlap = now + timedelta(days=2)
    valid = {r.kid for r in directory.valid_keys("probation", "enc", overlap)}
    assert valid == {old[0].kid, new.kid}
    assert directory.encryption_key("probation", overlap).kid == new.kid
    assert len(directory.valid_keys("probation", "sig", overlap)) == 2
    listed = hub_command("keys", "list", public, "--at", overlap.isoformat())
    assert f"probation enc {new.kid}" in listed
    assert listed.count(" valid\n") == 4
    assert (private / "probation.private.jwks.json").stat().st_mode & 0o777 == 0o600
    published = json.loads((public / "probation.jwks.json").read_text())["keys"]
    assert len(published) == 4
    assert all("d" not in key for key in published)


def test_rotation_refuses_a_too_short_overlap(party_keys: tuple[Path, Path]) -> None:
    """Keys that would expire too soon after the new ones start are not rotated this way."""
    private, public = party_keys
    before = (public / "probation.jwks.json").read_bytes()
    done = run_script(
        "rotate-keys.sh",
        "probation",
        "--dir",
        private,
        "--publish",
        public,
        "--lead-hours",
        str(350 * 24),
    )
    assert done.returncode == 1
    assert "error keys.overlap_too_short" in done.stderr
    assert (public / "probation.jwks.json").read_bytes() == before


# --- Rolling upgrade -----------------------------------------------------------------------

FAKE_DOCKER = """#!/usr/bin/env bash
# A stand-in for docker: records each call; never ready again once FAIL_AFTER_UP restarted.
echo "$*" >>"$DOCKER_LOG"
args=" $* "
case "$args" in
  *" config --services "*) printf 'rabbitmq\\npostgres\\nhub-worker-2\\nhub-worker-1\\nconsole\\n';;
  *" exec -T ${FAIL_AFTER_UP:-none} "*)
    grep -q "up -d --no-deps --force-recreate ${FAIL_AFTER_UP}" "$DOCKER_LOG" && exit 1;;
esac
exit 0
"""


@pytest.fixture
def fake_docker(tmp_path: Path) -> dict[str, str]:
    """A ``docker`` on PATH that logs its calls; the environment to run scripts with."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "docker").write_text(FAKE_DOCKER)
    (bin_dir / "docker").chmod(0o755)
    compose = tmp_path / "docker-compose.yml"
    compose.write_text("services: {}\n")
    return {
        "PATH": f"{bin_dir}:{os.environ['PATH']}",
        "DOCKER_LOG": str(tmp_path / "docker.log"),
        "COMPOSE": str(compose),
        "ROLLING_POLL_SECONDS": "0.1",
    }


def calls(env: dict[str, str]) -> list[str]:
    """What the stand-in docker was asked, without the compose file option."""
    lines = Path(env["DOCKER_LOG"]).read_text().splitlines()
    return [line.replace(f"compose -f {env['COMPOSE']} ", "") for line in lines]


def test_rolling_upgrade_goes_one_service_at_a_time(fake_docker: dict[str, str]) -> None:
    """Every service is checked ready, the image built once, then each stopped, started, ready."""
    done = run_script("rolling-upgrade.sh", "--compose", fake_docker["COMPOSE"], env=fake_docker)
    assert done.returncode == 0, done.stderr
    ready = "hub-healthcheck console --url https://127.0.0.1:8443/api/ready"
    services = ("hub-worker-1", "hub-worker-2", "console")
    rolled = [
        step
        for service in services
        for step in (
            f"stop -t 30 {service}",
            f"up -d --no-deps --force-recreate {service}",
            f"exec -T {service} {ready}",
        )
    ]
    assert calls(fake_docker) == [
        "config --services",
        *(f"exec -T {service} {ready}" for service in services),
        "build hub-worker-1 hub-worker-2 console",
        *rolled,
    ]


def test_rolling_upgrade_stops_at_a_worker_that_is_not_ready(fake_docker: dict[str, str]) -> None:
    """A worker that does not become ready stops the roll; the services after it are untouched."""
    env = {**fake_docker, "FAIL_AFTER_UP": "hub-worker-2"}
    done = run_script(
        "rolling-upgrade.sh",
        "--compose",
        env["COMPOSE"],
        "--restart-only",
        "--ready-timeout",
        "1",
        env=env,
    )
    assert done.returncode == 1
    assert "error upgrade.not_ready: hub-worker-2 not ready" in done.stderr
    made = calls(env)
    assert "up -d --no-deps --force-recreate hub-worker-2" in made
    assert not any(line.startswith("build") for line in made)
    assert not any(line.endswith(("stop -t 30 console", "recreate console")) for line in made)


# --- Adding an agency ------------------------------------------------------------------------


def node_ctl(node: Path, *args: str) -> None:
    """Run rabbitmqctl on the test node; fail on error."""
    done = subprocess.run(  # noqa: S603 - our own script, fixed arguments
        [str(ROOT / "deploy" / "dev" / "rabbitmq.sh"), "ctl", str(node), *args],
        capture_output=True,
        text=True,
        timeout=SCRIPT_TIMEOUT,
        check=False,
    )
    assert done.returncode == 0, done.stderr


@pytest.fixture
def scratch_vhost() -> Iterator[tuple[Path, str]]:
    """A vhost of its own on the test node, so the topology touches no other test."""
    node = rabbitmq_dir()
    vhost = f"ops-test-{secrets.token_hex(4)}"
    node_ctl(node, "add_vhost", vhost)
    yield node, vhost
    node_ctl(node, "delete_vhost", vhost)


@pytest.mark.rabbitmq
async def test_add_agency_makes_keys_certificate_user_and_token(
    scratch_vhost: tuple[Path, str], tmp_path: Path
) -> None:
    """The new agency gets keys, a certificate, a broker user that can log in, and a token."""
    node, vhost = scratch_vhost
    party = f"ops-new-{secrets.token_hex(3)}"
    parties = tmp_path / "parties.toml"
    parties.write_text(
        "".join(
            f'[[party]]\nid = "{p}"\nname = "Test {p}"\nkind = "{k}"\n\n'
            for p, k in (("hub", "hub"), ("police", "police"), (party, "advocacy"))
        )
    )
    secrets_dir = tmp_path / "secrets"
    hub_command("tls", "init", "--out", secrets_dir / "tls")
    options = ("--rabbitmq-dir", node, "--vhost", vhost, "--parties", parties)
    try:
        done = await asyncio.to_thread(
            run_script,
            "add-agency.sh",
            party,
            *options,
            "--secrets",
            secrets_dir,
            "--console-role",
            "operator",
            "--console-name",
            "ops-test-person",
        )
        assert done.returncode == 0, done.stderr
        password_file = secrets_dir / "passwords" / f"broker-{party}.password"
        password = password_file.read_text().strip()
        assert password not in done.stdout + done.stderr
        assert password_file.stat().st_mode & 0o777 == 0o600
        token = secrets_dir / "tokens" / "ops-test-person.token"
        assert token.stat().st_mode & 0o777 == 0o600
        assert token.read_text().strip() not in done.stdout + done.stderr
        assert (secrets_dir / "tls" / "clients" / f"{party}.pem").is_file()
        assert party in KeyDirectory.load(secrets_dir / "keys" / "public").parties()
        assert "agreements check" in done.stderr
        url = URL(amqp_url()).with_user(party).with_password(password).with_path(f"/{vhost}")
        connection = await aio_pika.connect(str(url), timeout=10)
        try:
            channel = await connection.channel()
            await channel.get_queue(f"agency.{party}.inbox", ensure=True)
        finally:
            await connection.close()
        again = await asyncio.to_thread(
            run_script, "add-agency.sh", party, *options, "--secrets", secrets_dir
        )
        assert again.returncode == 0, again.stderr
        assert password_file.read_text().strip() == password
    finally:
        delete_broker_user(node, party)


def test_add_agency_wants_the_party_listed_first(tmp_path: Path) -> None:
    """An id missing from the parties file stops the script with the block to add."""
    parties = tmp_path / "parties.toml"
    parties.write_text('[[party]]\nid = "hub"\nname = "Hub"\nkind = "hub"\n')
    done = run_script(
        "add-agency.sh",
        "newcomer",
        "--rabbitmqctl",
        "/nonexistent",
        "--parties",
        parties,
        "--secrets",
        tmp_path / "secrets",
    )
    assert done.returncode == 1
    assert "error party.unknown" in done.stderr
    assert 'id = "newcomer"' in done.stderr
    assert not (tmp_path / "secrets").exists()
