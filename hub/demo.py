"""`hub demo`: a fictional stalking case through the adapters and the real pipeline.

The hub runs on its embedded defaults: the in-memory broker and a SQLite ledger in
a temporary folder, with the agreements, parties and safety rules in ``deploy/``.
Given ``--broker URL`` it runs on that RabbitMQ instead, under names of its own
that it deletes afterwards. Each agency's system talks to the hub through its
adapter: native records (POLE documents, HMPPS domain events, FHIR bundles, the
advocate's case record, all under ``adapters/<agency>/samples/``) are translated
and published through the client SDK; the one refused step is published through
the SDK directly. The hub opens, verifies, validates, decides,
records and discloses each event; every recipient verifies what it got and
renders it natively. The timeline shows who received which field groups, which
were withheld, and why; one event an agency is not entitled to send shows a
refusal. It ends with the ledger's verification. All names and data are fictional.

On a terminal the timeline is coloured and a progress bar follows the case; piped,
it is plain text (``NO_COLOR`` is honoured too).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
import uuid
from collections import Counter
from contextlib import AsyncExitStack
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from tempfile import TemporaryDirectory
from typing import TYPE_CHECKING, Final

from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn
from yarl import URL

from adapters.client import AgencyClient, RefusedError
from adapters.registry import translator_for
from hub.broker import (
    AmqpBroker,
    MemoryBroker,
    MemoryNode,
    TopologyNames,
    default_topology,
    delete_topologies,
    next_delivery,
)
from hub.console import LOOPBACK, ConsoleOptions, Role, TokenFile, TokenStore, start_console
from hub.context import build_context
from hub.crypto import KeyDirectory, generate_party_keys
from hub.embedded import AGENCIES, hub_on
from hub.errors import HubError
from hub.ledger import verify_store
from hub.pipeline import process
from hub.settings import load_settings
from schemas.base import GROUP_TITLES
from schemas.samples import CASE as SAMPLE_CASE
from schemas.samples import SUBJECT, VICTIM, sample_event

if TYPE_CHECKING:
    from collections.abc import Callable

    from rich.console import Console

    from hub.broker import Broker
    from hub.context import HubContext
    from hub.ledger import LedgerEntry
    from hub.settings import HubSettings
    from schemas.base import CaseEvent

#: The kept demo's hub settings, in the folder of ``hub demo --keep``.
KEPT_SETTINGS: Final = "hub.toml"
#: The kept demo's console tokens (hashes), made anew by each ``hub demo console``.
KEPT_TOKENS: Final = "console-tokens.json"
SAMPLES: Final = Path(__file__).resolve().parent.parent / "adapters"
#: The case, in order: (sender, native sample file or event type for the SDK directly).
CASE: Final = (
    ("police", "referral.json"),
    ("police", "sdash_screening.json"),
    ("health", "risk_assessment.json"),
    ("police", "case_consultation.json"),
    ("probation", "management_plan_updated.json"),
    ("police", "interim_spo_granted.json"),
    ("advocacy", "safety_plan.json"),
    ("police", "breach.json"),
    ("health", "intervention_update.json"),
    ("police", "case_closed.json"),
    ("health", "VictimSafetyPlanUpdated"),  # not entitled: refused on purpose
)
#: How long a recipient waits for the deliveries the ledger says it is owed.
RECEIVE_SECONDS: Final = 30.0
#: Seconds an agency waits for a delivery beyond what it is owed (none comes).
SETTLE_SECONDS: Final = 0.3
#: Seconds the hub waits for a further receipt once the agencies have received all.
RECEIPT_WAIT_SECONDS: Final = 2.0


class DemoError(HubError):
    """The demo cannot run, for a reason the user can act on (``code``: stable)."""


@dataclass(frozen=True)
class Site:
    """Where the demo's parties meet: the in-memory broker or a RabbitMQ.

    Attributes:
        description: for the timeline; never a password.
        names: the exchange and queue names the demo uses.
        connect: a new, unconnected broker connection for a party.
        shared_user: the one broker user every party shares on RabbitMQ, or ``None``.
        url: the RabbitMQ URL, to delete the demo's names afterwards.
    """

    description: str
    names: TopologyNames
    connect: Callable[[str], Broker]
    shared_user: str | None = None
    url: str = ""


def memory_site() -> Site:
    """The embedded default: one in-memory node, one user per party."""
    node = MemoryNode()
    return Site("in-memory broker", TopologyNames(), lambda party: MemoryBroker(node, user=party))


def rabbitmq_site(url: str) -> Site:
    """A RabbitMQ at ``url``; every party connects as that URL's user.

    Raises:
        DemoError: ``demo.broker_url`` when ``url`` is not an AMQP URL with a host.
    """
    parsed = URL(url)
    if parsed.scheme not in {"amqp", "amqps"} or not parsed.host:
        raise DemoError("demo.broker_url", "--broker takes amqp://user:password@host:port/vhost")
    where = f"RabbitMQ at {parsed.host}:{parsed.port}/{parsed.path.lstrip('/')}"
    names = TopologyNames(prefix=f"demo-{uuid.uuid4().hex[:8]}.")

    def connect(party: str) -> Broker:
        return AmqpBroker(url, name=f"hub-demo-{party}")

    return Site(where, names, connect, shared_user=parsed.user or "guest", url=url)


class Timeline:
    """The demo's output: colour and a progress bar on a terminal, plain text when piped."""

    def __init__(self, console: Console, kept: str = "temporary") -> None:
        """Write to ``console``; rich decides whether it is a terminal.

        ``kept`` says where the ledger is kept ("temporary": nowhere).
        """
        self.console = console
        self.kept = kept

    def say(self, markup: str) -> None:
        """Print one line of rich markup, never wrapped (plain when not a terminal)."""
        self.console.print(markup, highlight=False, soft_wrap=True)

    def progress(self) -> Progress:
        """A progress bar over the case's steps, shown only on a terminal."""
        return Progress(
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            console=self.console,
            transient=True,
            disable=not self.console.is_terminal,
        )

    def intro(self, ctx: HubContext, site: Site) -> None:
        """The agreement, the rules, the broker and the legend of field groups."""
        agreement = ctx.policy.agreements[0]
        self.say(
            f"agreement [bold]{escape(agreement.reference)}[/] ({len(agreement.clauses)} clauses),"
            f" {len(ctx.policy.rules.rules)} safety rules, policy hash {ctx.policy.hash[:16]}"
        )
        user = site.shared_user
        shared = f", every party as broker user {escape(user)}" if user else ""
        self.say(f"broker: {escape(site.description)}{shared}; ledger: SQLite, {self.kept}")
        legend = ", ".join(f"{group.value} {title}" for group, title in GROUP_TITLES.items())
        self.say(f"[dim]field groups: {legend}[/]")

    def step(self, number: int, sender: str, event: CaseEvent, outcome: str, origin: str) -> None:
        """One event and the hub's outcome for it."""
        style = "green" if outcome == "disclosed" else "bold red"
        self.say(
            f"{number:>2}. [bold]{sender:<9}[/] {event.event_type:<24}"
            f" [{style}]{outcome:<20}[/] [dim]{escape(origin)}[/]"
        )

    def disclosure(self, entry: LedgerEntry) -> None:
        """One recipient: the groups it got, the groups withheld, the clause and basis."""
        got = "".join(entry.groups_disclosed) or "-"
        withheld = "".join(entry.groups_withheld) or "-"
        # Every grant, each with the groups it granted (ledger format 2).
        clauses = ", ".join(f"{g.clause} ({''.join(g.groups)})" for g in entry.grants) or ", ".join(
            c.split("#")[-1] for c in entry.clauses
        )
        bases = "; ".join(dict.fromkeys(g.lawful_basis for g in entry.grants)) or (
            entry.lawful_basis or ""
        )
        self.say(
            f"    -> {entry.recipient:<10} gets [green]{got:<6}[/]"
            f" withheld [yellow]{withheld:<6}[/]"
            f" {escape(clauses)}; [dim]{escape(bases)}[/]"
        )

    def verdict(self, intact: bool, detail: str) -> None:  # noqa: FBT001 - the verdict itself
        """The ledger's verification, last."""
        style = "bold green" if intact else "bold red"
        self.say(f"[{style}]ledger {'intact' if intact else 'broken'}[/]{detail}")


def _events(sender: str, source: str) -> tuple[str, list[CaseEvent]]:
    if source.endswith(".json"):
        record = json.loads((SAMPLES / sender / "samples" / source).read_text())
        return f"{source} (native)", translator_for(sender).to_events(record, record_id=source)
    event = sample_event(source).model_copy(
        update={"event_id": uuid.uuid4(), "author_agency": sender}
    )
    return "via the SDK", [event]


@dataclass
class Owed:
    """What each agency should receive: deliveries by recipient, notices by sender."""

    deliveries: Counter[str]
    notices: Counter[str]


async def _play(
    view: Timeline, ctx: HubContext, clients: dict[str, AgencyClient], owed: Owed
) -> None:
    """Publish each step through its sender's adapter and let the hub process it."""
    with view.progress() as progress:
        task = progress.add_task("the case", total=len(CASE))
        for number, (sender, source) in enumerate(CASE, 1):
            progress.update(task, description=f"step {number}: {sender}", refresh=True)
            origin, events = _events(sender, source)
            async with ctx.broker.consume(ctx.names.ingress_queue, 1) as ingress:
                for event in events:
                    await clients[sender].publish(event)
                    outcome = await process(ctx, await next_delivery(ingress, 30.0))
                    view.step(number, sender, event, outcome, origin)
                    if outcome != "disclosed":
                        owed.notices[sender] += 1
                    for entry in await ctx.ledger.entries_for_event(event.event_id):
                        if entry.recipient:
                            owed.deliveries[entry.recipient] += 1
                            view.disclosure(entry)
            progress.advance(task)


async def _receive(view: Timeline, clients: dict[str, AgencyClient], owed: Owed) -> bool:
    """Every agency verifies and renders what it is owed, natively, within a bound.

    Returns:
        Whether every agency received every delivery and notice it was owed.
    """
    complete = True
    for agency, client in clients.items():
        rendered, notices = 0, 0
        translator = translator_for(agency)
        deadline = time.monotonic() + RECEIVE_SECONDS
        while rendered < owed.deliveries[agency] or notices < owed.notices[agency]:
            try:
                async with asyncio.timeout(max(deadline - time.monotonic(), 0.0)) as waiting:
                    async for received in client.deliveries():
                        translator.render_delivery(received)
                        rendered += 1
                        if rendered >= owed.deliveries[agency] and notices >= owed.notices[agency]:
                            # Ask once more, briefly: asking is what commits and acks (and
                            # so receipts) the last one; none is due, so the wait ends it.
                            waiting.reschedule(asyncio.get_running_loop().time() + SETTLE_SECONDS)
            except RefusedError as refusal:
                view.say(f"{agency} was told: event {refusal.event_id} refused, {refusal.code}")
                notices += 1
            except TimeoutError:
                break
        missing = owed.deliveries[agency] - rendered + owed.notices[agency] - notices
        complete = complete and not missing
        shortfall = f", [bold red]{missing} missing[/]" if missing else ""
        view.say(
            f"{agency:<9} verified and rendered {rendered} deliveries natively,"
            f" {notices} notice(s){shortfall}"
        )
    return complete


async def _record_receipts(view: Timeline, ctx: HubContext, owed: Owed) -> bool:
    """The hub records the receipts the agencies signed for what they kept (ADR 0029).

    Returns:
        Whether every delivery made is signed for.
    """
    recorded = 0
    async with ctx.broker.consume(ctx.names.ingress_queue, 16) as ingress:
        with contextlib.suppress(TimeoutError):
            while True:
                outcome = await process(ctx, await next_delivery(ingress, RECEIPT_WAIT_SECONDS))
                recorded += outcome == "receipted"
    entries = await ctx.ledger.read(0, None)
    signed = Counter(e.recipient for e in entries if e.receipt is not None for _ in e.receipt.items)
    for agency in sorted(owed.deliveries):
        view.say(
            f"{agency:<9} signed for {signed[agency]} of {owed.deliveries[agency]} deliveries"
            " (its own key; recorded in the ledger)"
        )
    view.say(f"the hub recorded {recorded} signed receipt(s): who kept what is on the record")
    return all(signed[a] >= n for a, n in owed.deliveries.items())


async def _walk(view: Timeline, site: Site, workdir: Path) -> int:
    rings = {p: generate_party_keys(p) for p in ("hub", *AGENCIES)}
    directory = KeyDirectory.of(*rings.values())
    owed = Owed(Counter(), Counter())
    async with AsyncExitStack() as stack:
        broker = site.connect("hub")
        await broker.connect()
        stack.push_async_callback(broker.close)
        if site.url:  # connected: the demo's own names go when it ends, however it ends
            topology = default_topology(AGENCIES, names=site.names)
            stack.push_async_callback(delete_topologies, site.url, [topology])
        ctx = await hub_on(
            stack, workdir, rings["hub"], directory, broker, site.names,
            shared_broker_user=site.shared_user,
        )  # fmt: skip
        clients = {
            a: await stack.enter_async_context(
                AgencyClient(
                    rings[a], directory, site.connect(a), workdir / f"{a}.db", names=site.names
                )
            )
            for a in AGENCIES
        }
        view.intro(ctx, site)
        await _play(view, ctx, clients, owed)
        complete = await _receive(view, clients, owed)
        complete = await _record_receipts(view, ctx, owed) and complete
        await ctx.ledger.checkpoint_now()
        report = await verify_store(ctx.ledger.store, directory)
    detail = (
        f": {report.entries} entries, checkpoint at size {report.checkpoint_size}"
        if report.intact
        else f" at entry {report.broken_at}: {report.code}"
    )
    view.verdict(report.intact, detail)
    return 0 if report.intact and complete else 1


def play(console: Console, site: Site, keep: Path | None = None) -> int:
    """Play the case at ``site`` onto ``console``; return the exit status.

    With ``keep``, the hub's keys, its ledger and settings to open the console on
    them (:data:`KEPT_SETTINGS`) stay in that folder, which must be new or empty.

    Raises:
        DemoError: ``demo.folder_not_empty``.
        hub.broker.base.BrokerError: the broker cannot be reached.
    """
    if keep is None:
        with TemporaryDirectory(prefix="hub-demo-") as workdir:
            return asyncio.run(_walk(Timeline(console), site, Path(workdir)))
    if keep.exists() and (not keep.is_dir() or any(keep.iterdir())):
        raise DemoError("demo.folder_not_empty", f"{keep} is not an empty folder; choose a new one")
    keep.mkdir(parents=True, exist_ok=True)
    status = asyncio.run(_walk(Timeline(console, f"kept in {escape(str(keep))}"), site, keep))
    write_kept_settings(keep)
    console.print(f"kept in {escape(str(keep))}: open the console on it with", soft_wrap=True)
    console.print(f"  hub demo console {escape(str(keep))}", soft_wrap=True, highlight=False)
    return status


def run(console: Console, broker_url: str | None = None, keep: Path | None = None) -> int:
    """Play the case on the in-memory broker, or on the RabbitMQ at ``broker_url``.

    Raises:
        DemoError: the broker URL is not usable, or ``keep`` is not a new folder.
        hub.broker.base.BrokerError: the broker cannot be reached.
    """
    return play(console, rabbitmq_site(broker_url) if broker_url else memory_site(), keep)


def write_kept_settings(folder: Path) -> Path:
    """Write the hub settings of a kept demo: its keys, ledger key and SQLite ledger.

    Paths are relative to the file, so the folder may move; the broker is a fresh
    in-memory one (the console's queue pages show it empty).
    """
    settings = {
        "party": "hub",
        "keys_dir": "keys",
        "private_keys": "keys/hub.private.jwks.json",  # pragma: allowlist secret - a path
        "ledger_key_file": "ledger.key",
        "ledger_url": f"sqlite:///{(folder / 'ledger.db').resolve()}",
        "broker_url": "memory://",
    }
    path = folder / KEPT_SETTINGS
    path.write_text(
        "# Settings of the hub of a kept demo (`hub demo --keep`); `hub demo console` reads them.\n"
        + "".join(f"{key} = {json.dumps(value)}\n" for key, value in settings.items())
    )
    return path


def kept_settings(folder: Path) -> HubSettings:
    """The settings of the demo kept in ``folder``.

    Raises:
        DemoError: ``demo.not_kept`` when ``folder`` holds no kept demo.
        SettingsError: a setting of the file is wrong.
    """
    path = folder / KEPT_SETTINGS
    if not path.is_file():
        raise DemoError(
            "demo.not_kept", f"{path} does not exist; run `hub demo --keep {folder}` first"
        )
    return load_settings(path, environment=False)  # never a deployment's ledger or keys


def sign_in_tokens(folder: Path, now: datetime) -> tuple[Path, dict[Role, str]]:
    """Make a new console token for each role, replacing those of the last start.

    Returns:
        The token file (mode 0600, hashes only) and each role's token, to be shown once.
    """
    store, tokens = TokenStore(), {}
    for role in Role:
        store, tokens[role] = store.create(f"demo-{role.value.replace('_', '-')}", role, now)
    path = folder / KEPT_TOKENS
    store.save(path)
    return path, tokens


async def serve_kept(
    folder: Path, port: int, show: Callable[[str], None], stop: asyncio.Event
) -> int:
    """Serve the console on the demo kept in ``folder`` until ``stop``; ``show`` its sign-in.

    The console listens on 127.0.0.1 only, over plain HTTP; ``show`` receives its
    URL, a new token per role and what to look for.
    """
    settings = kept_settings(folder)
    tokens_file, tokens = sign_in_tokens(folder, datetime.now(UTC))
    options = ConsoleOptions(TokenFile(tokens_file), LOOPBACK, port, None)
    async with AsyncExitStack() as stack:
        ctx = await build_context(settings, stack)
        url = await start_console(stack, ctx, options)
        show(f"console: {url}")
        show("sign in with one of these tokens (new at every start, shown once):")
        for role, token in tokens.items():
            show(f"  {role.value:<10} {token}")
        show(f"the demo's case: {SAMPLE_CASE}; its victim {VICTIM}, its subject {SUBJECT}")
        show("stop with Ctrl-C")
        await stop.wait()
    return 0
