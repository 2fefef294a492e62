"""Scenarios with real parties on a real RabbitMQ: shared by the fault and scale tests.

A :class:`RabbitNode` is a node (or a cluster, through one of its nodes) with one
broker user per party; a :class:`Partnership` is the hub and the four agencies of
one scenario on a vhost of its own. Agencies publish with :func:`publish_all` and
read with :func:`drain`; :func:`assert_each_once` and :func:`assert_ledger` check
that every entitled recipient got each event exactly once and that the ledger holds
one entry per decision and verifies. Hub workers run in this process
(:func:`running`) or as real ``hub run`` processes (:func:`write_config`,
:func:`start_worker`, :func:`stop_worker`).

Every party has its own broker user, so RabbitMQ checks each publisher's
``user_id`` and the hub checks it against the signed sender, as in a deployment.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import sys
import uuid
from collections import Counter, defaultdict
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Final
from urllib.parse import quote

import aio_pika
import pytest
from quarantined import read_quarantine
from services import dev_script, drop_schema, import_definitions, postgres_dsn

from adapters.client import AgencyClient
from hub.broker.amqp import AmqpBroker
from hub.broker.base import BrokerError
from hub.broker.definitions import HASHING_ALGORITHM, password_hash
from hub.broker.topology import TopologyNames, default_topology
from hub.context import HubContext, build_context
from hub.crypto.keys import save_keyring
from hub.embedded import embedded_settings
from hub.ledger import chain
from hub.ledger.pseudonyms import generate_ledger_key
from hub.ledger.service import Ledger, open_ledger
from hub.ledger.stores import open_store
from hub.ledger.verify import verify_store
from hub.policy.base import NotEntitledError
from hub.policy.decide import decide
from hub.policy.load import Policy, load_policy
from hub.worker import WorkerLimits, serve
from schemas.base import new_event_id
from schemas.samples import all_samples

if TYPE_CHECKING:
    import signal
    from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Iterator, Sequence

    from adapters.base import ReceivedEvent
    from hub.crypto.keys import KeyDirectory, PartyKeyring
    from hub.ledger.base import LedgerStore
    from hub.ledger.entries import LedgerEntry
    from schemas.base import CaseEvent

ROOT: Final = Path(__file__).resolve().parents[1]
DEPLOY: Final = ROOT / "deploy"
AGENCIES: Final = ("police", "probation", "health", "advocacy")
#: A day past every retention end: erasing up to it erases everything kept.
FAR_DAY: Final = date(9999, 12, 31)
PARTIES: Final = ("hub", *AGENCIES)
#: The `hub` command of this virtualenv, for worker processes.
HUB: Final = Path(sys.executable).parent / "hub"

#: The delivery limit of ingress in these scenarios: low, so a burnt attempt shows.
DELIVERY_LIMIT: Final = 3
#: Seconds a whole stream may take to arrive: bounds a hang, measures nothing.
ARRIVAL_SECONDS: Final = 180.0
#: How the in-process workers consume: retries come quickly, to keep the tests short.
LIMITS: Final = WorkerLimits(16, DELIVERY_LIMIT, retry_first=0.2, retry_most=2.0)
#: Every fault and scale scenario needs both services and takes a while. The timeout
#: bounds a hang on a slow machine; it is not a speed target.
SCENARIO_MARKS: Final = (
    pytest.mark.slow,
    pytest.mark.rabbitmq,
    pytest.mark.postgres,
    pytest.mark.timeout(600),
)
#: Seconds of silence after the last expected delivery before an inbox counts as drained.
QUIET_SECONDS: Final = 1.5


@dataclass
class RabbitNode:
    """The scenarios' own RabbitMQ node, with one user per party."""

    folder: Path
    port: int
    passwords: dict[str, str] = field(default_factory=dict)

    def url(self, party: str, vhost: str, port: int | None = None) -> str:
        """The URL ``party`` connects with, to this node or to a proxy's ``port``."""
        where = f"127.0.0.1:{port or self.port}"
        return f"amqp://{party}:{self.passwords[party]}@{where}/{quote(vhost, safe='')}"

    def start(self) -> None:
        """Start the node (idempotent)."""
        dev_script("rabbitmq.sh", "start", self.folder, self.port)

    def stop(self) -> None:
        """Stop the node: every client connection is closed by the server."""
        dev_script("rabbitmq.sh", "stop", self.folder)

    def add_vhost(self) -> str:
        """Create a fresh vhost where every party may do anything; return its name."""
        vhost = f"faults-{uuid.uuid4().hex[:10]}"
        definitions = {
            "users": [
                {
                    "name": party,
                    "password_hash": password_hash(password),
                    "hashing_algorithm": HASHING_ALGORITHM,
                    "tags": [],
                }
                for party, password in self.passwords.items()
            ],
            "vhosts": [{"name": vhost}],
            "permissions": [
                {"user": p, "vhost": vhost, "configure": ".*", "write": ".*", "read": ".*"}
                for p in self.passwords
            ],
        }
        import_definitions(self.folder, definitions, vhost)
        return vhost

    def delete_vhost(self, vhost: str) -> None:
        """Delete a vhost and everything in it."""
        dev_script("rabbitmq.sh", "ctl", self.folder, "delete_vhost", vhost)


def entitled(policy: Policy, event: CaseEvent) -> frozenset[str] | None:
    """The parties the policy discloses ``event`` to; None if its author may not send it."""
    try:
        decisions = decide(
            event, event.author_agency, policy.agreements, policy.rules, datetime.now(UTC)
        )
    except NotEntitledError:
        return None
    return frozenset(d.recipient for d in decisions.disclosures())


@dataclass
class Partnership:
    """The hub and the four agencies of one scenario, on one vhost.

    Attributes:
        node: the RabbitMQ node.
        vhost: this scenario's vhost.
        keyrings: every party's private keys.
        directory: every party's public keys.
        policy: the default MASIP agreements and safety rules.
        folder: a folder of this test's own.
        stack: closes what this partnership opened.
    """

    node: RabbitNode
    vhost: str
    keyrings: dict[str, PartyKeyring]
    directory: KeyDirectory
    policy: Policy
    folder: Path
    stack: AsyncExitStack
    names: TopologyNames = field(default_factory=TopologyNames)

    def url(self, party: str, port: int | None = None) -> str:
        """``party``'s broker URL in this vhost (through a proxy on ``port``, if given)."""
        return self.node.url(party, self.vhost, port)

    def events(self, count: int) -> list[CaseEvent]:
        """``count`` fresh events cycling through every sample its author may send."""
        samples = [s for s in all_samples() if entitled(self.policy, s) is not None]
        return [
            samples[i % len(samples)].model_copy(update={"event_id": new_event_id()})
            for i in range(count)
        ]

    def recipients(self, events: list[CaseEvent]) -> dict[uuid.UUID, frozenset[str]]:
        """Each event's entitled recipients, from the policy."""
        found = {e.event_id: entitled(self.policy, e) for e in events}
        return {event_id: parties or frozenset() for event_id, parties in found.items()}

    def keys_folder(self) -> Path:
        """Write every party's key files (private ones mode 0600) and a ledger key; return it."""
        folder = self.folder / "keys"
        folder.mkdir(exist_ok=True)
        for keyring in self.keyrings.values():
            save_keyring(keyring, folder)
        if not (folder / "ledger.key").exists():
            generate_ledger_key(folder / "ledger.key")
        return folder

    async def apply_topology(self, port: int | None = None) -> None:
        """Declare the hub's topology, as a worker does when it starts (through ``port``).

        A quorum queue's leader is the node the declaring client is connected to.
        """
        broker = AmqpBroker(self.url("hub", port))
        async with broker:
            await broker.apply(default_topology(AGENCIES, DELIVERY_LIMIT, names=self.names))

    async def client(self, party: str, port: int | None = None) -> AgencyClient:
        """A started client for ``party`` (through a proxy on ``port``), closed at teardown."""
        broker = AmqpBroker(
            self.url(party, port), confirm_timeout=5.0, connect_timeout=5.0, reconnect_interval=0.3
        )
        client = AgencyClient(
            self.keyrings[party], self.directory, broker, self.folder / f"{party}.db"
        )
        return await self.stack.enter_async_context(client)

    async def hub(self, ledger: Ledger, port: int | None = None) -> HubContext:
        """A hub context on ``ledger`` with its own broker connection, closed at teardown."""
        broker = AmqpBroker(
            self.url("hub", port), confirm_timeout=5.0, connect_timeout=5.0, reconnect_interval=0.3
        )
        await broker.connect()
        self.stack.push_async_callback(broker.close)
        await broker.apply(default_topology(AGENCIES, DELIVERY_LIMIT, names=self.names))
        settings = embedded_settings(
            self.folder / "hub",
            self.keyrings["hub"],
            self.directory,
            topology_prefix=self.names.prefix,
            delivery_limit=DELIVERY_LIMIT,
        )
        return await build_context(settings, self.stack, broker=broker, ledger=ledger)

    async def ledger(self, dsn: str) -> Ledger:
        """A ledger in a fresh schema of the PostgreSQL at ``dsn``, dropped at teardown."""
        schema = f"faults_{uuid.uuid4().hex[:12]}"
        self.stack.push_async_callback(drop_schema, dsn, schema)
        ledger = await open_ledger(dsn, keyring=self.keyrings["hub"], schema=schema)
        self.stack.push_async_callback(ledger.close)
        return ledger


def load_default_policy() -> Policy:
    """The default MASIP agreements and safety rules of ``deploy/``."""
    return load_policy(DEPLOY / "agreements", DEPLOY / "parties.toml", DEPLOY / "rules.toml")


async def publish_all(
    client: AgencyClient,
    events: list[CaseEvent],
    sent: Counter[str],
    seconds: float = ARRIVAL_SECONDS,
    pause: float = 0.0,
) -> None:
    """Publish ``events`` one by one, riding out broker failures; end with an empty outbox.

    A publish the broker does not confirm stays in the outbox (that is the client's
    promise); the publisher goes on, and flushes the outbox until it is empty.
    ``sent[party]`` counts the publish calls that returned; the flush at the end
    takes at most ``seconds``. ``pause`` seconds between two publishes spread the
    stream out in time.
    """
    for event in events:
        try:
            await client.publish(event)
        except BrokerError:
            await asyncio.sleep(0.2)
        else:
            sent[client.party] += 1
        if pause:
            await asyncio.sleep(pause)
    async with asyncio.timeout(seconds):
        while await client.pending():
            with contextlib.suppress(BrokerError):
                await client.flush()
            await asyncio.sleep(0.2)


@dataclass
class Inbox:
    """What one agency's application was given, in order, and what it held at the time."""

    party: str
    expected: set[uuid.UUID]
    got: list[uuid.UUID] = field(default_factory=list)
    decisions: list[uuid.UUID] = field(default_factory=list)

    def complete(self) -> bool:
        """Whether every expected event has been yielded."""
        return self.expected <= set(self.got)


def expected_inboxes(recipients: dict[uuid.UUID, frozenset[str]]) -> dict[str, Inbox]:
    """One :class:`Inbox` per agency, expecting the events ``recipients`` sends it."""
    return {
        party: Inbox(party, {e for e, parties in recipients.items() if party in parties})
        for party in AGENCIES
    }


@contextlib.contextmanager
def private_postgres(folder: Path, port: int) -> Iterator[str]:
    """A PostgreSQL of a scenario folder's own in ``folder``; its DSN; stopped after.

    Skips, or fails under ``HUB_REQUIRE_SERVICES``, like the shared services do.
    """
    postgres_dsn()
    folder.parent.mkdir(exist_ok=True)
    dsn = dev_script("postgres.sh", "start", folder, port)
    try:
        yield dsn
    finally:
        dev_script("postgres.sh", "stop", folder)


async def drain(
    client: AgencyClient,
    inbox: Inbox,
    check: Callable[[ReceivedEvent], Awaitable[None]] | None = None,
    seconds: float = ARRIVAL_SECONDS,
) -> None:
    """Consume ``client``'s inbox until every expected event arrived and then a quiet spell.

    The quiet spell acknowledges the last delivery (the client acks one when asked
    for the next) and shows that nothing more is yielded. ``check`` sees each
    delivery while the application holds it.

    Raises:
        AssertionError: the events did not all arrive within ``seconds``.
    """
    stream = client.deliveries()
    try:
        async with asyncio.timeout(seconds):
            while not inbox.complete():
                received = await anext(stream)
                inbox.got.append(received.event_id)
                inbox.decisions.append(received.decision_id)
                if check is not None:
                    await check(received)
    except TimeoutError:
        missing = len(inbox.expected - set(inbox.got))
        raise AssertionError(f"{inbox.party}: {missing} events never arrived") from None
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(QUIET_SECONDS):
            received = await anext(stream)
            inbox.got.append(received.event_id)
    await stream.aclose()


def assert_each_once(inbox: Inbox) -> None:
    """Every expected event reached the application exactly once, and nothing else did."""
    repeated = [event_id for event_id, n in Counter(inbox.got).items() if n > 1]
    assert not repeated, f"{inbox.party}: {len(repeated)} events yielded twice"
    assert set(inbox.got) == inbox.expected, f"{inbox.party}: unexpected events yielded"


async def assert_ledger(
    store: LedgerStore, directory: KeyDirectory, recipients: dict[uuid.UUID, frozenset[str]]
) -> None:
    """One entry per event and recipient (one ``nothing_disclosed`` if none); it verifies.

    Receipts and erasure receipts the recipients signed meanwhile are entries too:
    none may cover a delivery twice, or one that was not made.
    """
    recorded = [chain.parse(row) for row in await store.read(0, None)]
    receipts = [e for e in recorded if e.kind == "receipt"]
    entries = [e for e in recorded if e.kind != "receipt"]
    delivered = {e.decision_id for e in entries if e.outcome == "disclosed"}
    for outcome in ("receipted", "erased"):
        covered = Counter(
            i.decision_id for e in receipts if e.receipt and e.outcome == outcome
            for i in e.receipt.items
        )  # fmt: skip
        assert all(n == 1 for n in covered.values()), f"a delivery was {outcome} twice"
        assert set(covered) <= delivered, f"{outcome}: a delivery that was not made"
    per_pair = Counter((e.event_id, e.recipient) for e in entries)
    twice = [pair for pair, n in per_pair.items() if n > 1]
    assert not twice, f"{len(twice)} (event, recipient) pairs recorded more than once"
    assert {e.kind for e in entries} == {"disclosure"}, "a refusal was recorded"
    expected: set[tuple[uuid.UUID, str | None]] = {
        (event_id, r) for event_id, parties in recipients.items() for r in parties
    }
    expected |= {(event_id, None) for event_id, parties in recipients.items() if not parties}
    assert set(per_pair) == expected
    report = await verify_store(store, directory)
    assert report.intact, report.detail
    assert report.entries == len(recorded)
    assert len(entries) == len(expected)


async def delivered_to(store: LedgerStore) -> set[tuple[uuid.UUID, str]]:
    """Every delivery the ledger records: its decision id and recipient."""
    entries = [chain.parse(row) for row in await store.read(0, None)]
    return {
        (e.decision_id, e.recipient)
        for e in entries
        if e.kind == "disclosure" and e.outcome == "disclosed" and e.recipient is not None
    }


def covered(entries: Iterable[LedgerEntry], outcome: str) -> set[uuid.UUID]:
    """The decisions the receipt entries of ``outcome`` (``receipted``, ``erased``) cover."""
    return {
        i.decision_id for e in entries if e.receipt and e.outcome == outcome
        for i in e.receipt.items
    }  # fmt: skip


async def erase_all(client: AgencyClient, seconds: float = 60.0) -> None:
    """Erase every delivery ``client`` keeps, as if every retention had ended.

    Retried while the broker does not confirm: the erasure receipts sealed and
    stored meanwhile go out with the retry.
    """
    async with asyncio.timeout(seconds):
        while True:
            try:
                await client.erase_due(today=FAR_DAY)
            except BrokerError:
                await asyncio.sleep(0.3)
                continue
            return


async def assert_stored_ledger(
    dsn: str, directory: KeyDirectory, recipients: dict[uuid.UUID, frozenset[str]]
) -> None:
    """:func:`assert_ledger` on the ledger at ``dsn``, opened read-only for the check."""
    store = await open_store(dsn, read_only=True)
    try:
        await assert_ledger(store, directory, recipients)
    finally:
        await store.close()


def mark_scenarios(items: list[pytest.Item], folder: Path, *, fast: Sequence[str] = ()) -> None:
    """Mark the test files directly in ``folder`` (but the ``fast`` ones) with SCENARIO_MARKS."""
    for item in items:
        if item.path.parent == folder and item.path.name not in fast:
            for mark in SCENARIO_MARKS:
                item.add_marker(mark)


async def wait_for(what: str, check: Callable[[], Awaitable[bool]], seconds: float) -> None:
    """Poll ``check`` every 0.1 s until it holds; fail naming ``what`` after ``seconds``."""
    try:
        async with asyncio.timeout(seconds):
            while not await check():  # noqa: ASYNC110 - polls another process or database
                await asyncio.sleep(0.1)
    except TimeoutError:
        raise AssertionError(f"{what}: not within {seconds} s") from None


def environment(**extra: str) -> dict[str, str]:
    """The environment for a subprocess: this one, no HUB_* settings, plus ``extra``."""
    kept = {k: v for k, v in os.environ.items() if not k.startswith("HUB_")}
    return kept | extra


async def queue_depth(url: str, queue: str) -> int:
    """Messages ready in ``queue`` (not counting those delivered and unacknowledged)."""
    async with await aio_pika.connect(url, timeout=10) as connection:
        channel = await connection.channel()
        declared = await channel.declare_queue(queue, passive=True)
        count = declared.declaration_result.message_count
        return int(count or 0)


async def quarantined(url: str, names: TopologyNames) -> int:
    """How many refusals are parked in the quarantine's stream (read as the hub at ``url``)."""
    async with AmqpBroker(url) as broker:
        return len(await read_quarantine(broker, names))


@contextlib.asynccontextmanager
async def running(ctx: HubContext, limits: WorkerLimits = LIMITS) -> AsyncIterator[None]:
    """A hub worker (``hub.worker.serve``) consuming in this process until the block ends."""
    stop = asyncio.Event()
    worker = asyncio.create_task(serve(ctx, limits, stop))
    try:
        yield
    finally:
        stop.set()
        async with asyncio.timeout(60):
            await worker


def by_author(events: list[CaseEvent]) -> dict[str, list[CaseEvent]]:
    """The events grouped by the agency that publishes them."""
    grouped: dict[str, list[CaseEvent]] = defaultdict(list)
    for event in events:
        grouped[event.author_agency].append(event)
    return grouped


def write_config(
    partnership: Partnership, ledger_url: str, prefetch: int = 32, name: str = "hub.toml"
) -> Path:
    """A settings file shaped as deploy/hub.example.toml; the broker URL goes in the environment."""
    keys = partnership.keys_folder()
    settings = {
        "party": "hub",
        "keys_dir": keys,
        "private_keys": keys / "hub.private.jwks.json",
        "ledger_key_file": keys / "ledger.key",
        "ledger_url": ledger_url,
        "agreements_dir": DEPLOY / "agreements",
        "parties_file": DEPLOY / "parties.toml",
        "rules_file": DEPLOY / "rules.toml",
        "prefetch": prefetch,
        "delivery_limit": DELIVERY_LIMIT,
        "max_envelope_bytes": 262144,
        "checkpoint_every_entries": 1000,
        "checkpoint_every_seconds": 60,
        "log_format": "json",
        "log_level": "INFO",
    }
    lines = [
        f"{key} = {json.dumps(str(value) if isinstance(value, Path) else value)}"
        for key, value in settings.items()
    ]
    path = partnership.folder / name
    path.write_text("\n".join(lines) + "\n")
    return path


async def start_worker(
    config: Path, broker_url: str, log: Path, failover: Sequence[str] = ()
) -> asyncio.subprocess.Process:
    """Start `hub run --config` with its output in ``log``; ``failover`` names other nodes."""
    extra = {"HUB_BROKER_FAILOVER": json.dumps(list(failover))} if failover else {}
    with log.open("ab") as out:
        return await asyncio.create_subprocess_exec(
            HUB, "run", "--config", str(config),
            stdin=asyncio.subprocess.DEVNULL, stdout=out, stderr=out,
            env=environment(HUB_BROKER_URL=broker_url, **extra),
        )  # fmt: skip


async def stop_worker(worker: asyncio.subprocess.Process, how: signal.Signals) -> int:
    """Send ``how`` and wait (bounded) for the worker to end; return its exit status."""
    worker.send_signal(how)
    try:
        return await asyncio.wait_for(worker.wait(), 60)
    except TimeoutError:
        worker.kill()
        await worker.wait()
        raise AssertionError(f"the worker did not end within 60 s of {how.name}") from None


async def kill_workers(workers: list[asyncio.subprocess.Process]) -> None:
    """Kill every worker process still running (after a failure) and reap it."""
    for worker in workers:
        if worker.returncode is None:
            worker.kill()
            await worker.wait()


def logged_count(log: Path, *events: str) -> int:
    """How many lines of any of ``events`` a worker logged (JSON lines)."""
    count = 0
    for line in log.read_text().splitlines():
        with contextlib.suppress(ValueError):
            count += json.loads(line).get("event") in events
    return count


def logged_events(log: Path, event: str) -> list[uuid.UUID]:
    """The event ids of every ``event`` line a worker logged (JSON lines)."""
    found = []
    for line in log.read_text().splitlines():
        with contextlib.suppress(ValueError):
            record = json.loads(line)
            if record.get("event") == event:
                found.append(uuid.UUID(record["event_id"]))
    return found
