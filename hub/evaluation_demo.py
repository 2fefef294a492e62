"""``hub evaluation-demo``: three area hubs feed the evaluator, which writes its report.

The fictional cohort of :mod:`schemas.cohorts` (three areas, one per intervention
model, two years) flows as signed case events through three real hubs on one
in-memory broker, each with its own ledger, its own names and its own area in
the evaluation feed, all sharing one linkage key. Each agency's events go to the
hub of the area the case is in (a case that moves goes on at the other area's hub
under the same references, as the regional link carries it). The evaluator
receives the records each hub signs, keeps them in its DuckDB store, and writes
the released report, which it announces to every hub: each records the release in
its ledger. Every hub's ledger is then verified.

For the demo the three hubs share one key pair and party id (``hub``); a
deployment gives each area's hub its own.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from contextlib import AsyncExitStack
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from tempfile import TemporaryDirectory
from typing import TYPE_CHECKING, Final

from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from adapters.evaluator.announce import announce, release_of
from adapters.evaluator.inbox import Inbox
from adapters.evaluator.release import ReleaseRule
from adapters.evaluator.report import evaluate, write_report
from adapters.evaluator.store import Store
from hub.broker import MemoryBroker, MemoryNode, OutgoingMessage, TopologyNames, next_delivery
from hub.crypto import KeyDirectory, generate_party_keys, issue_event, save_directory
from hub.embedded import AGENCIES, hub_on
from hub.errors import HubError
from hub.evaluation import Area, Feed, LinkageKey
from hub.ledger import verify_store
from hub.pipeline import process
from schemas.cohorts import AREAS, cohort

if TYPE_CHECKING:
    from rich.console import Console

    from hub.broker import Consumer
    from hub.context import HubContext
    from hub.crypto import PartyKeyring
    from schemas.cohorts import Placed

#: Seconds the evaluator waits for more records before it stops receiving.
IDLE_SECONDS: Final = 1.0


@dataclass
class DemoRun:
    """What the run did: outcomes per hub, records kept, ledgers verified."""

    events: int = 0
    outcomes: Counter[str] = field(default_factory=Counter)
    kept: int = 0
    ledgers: dict[str, str] = field(default_factory=dict)
    releases: dict[str, str] = field(default_factory=dict)
    seconds: float = 0.0


async def _hubs(
    stack: AsyncExitStack,
    node: MemoryNode,
    workdir: Path,
    directory: KeyDirectory,
    rings: dict[str, PartyKeyring],
) -> dict[str, HubContext]:
    key = LinkageKey.generate()
    hubs = {}
    for area in AREAS:
        folder = workdir / area.id
        folder.mkdir()
        broker = await stack.enter_async_context(MemoryBroker(node, user="hub"))
        names = TopologyNames(f"{area.id}.")
        ctx = await hub_on(stack, folder, rings["hub"], directory, broker, names)
        hubs[area.id] = replace(ctx, evaluation=Feed(Area(area.id, area.model), key))
    return hubs


async def _play(  # noqa: PLR0913, PLR0917 - the hubs and the parties' connections
    placed: list[Placed],
    hubs: dict[str, HubContext],
    senders: dict[str, MemoryBroker],
    consumers: dict[str, Consumer],
    rings: dict[str, PartyKeyring],
    progress: Progress,
) -> Counter[str]:
    outcomes: Counter[str] = Counter()
    task = progress.add_task("cases' events through the three hubs", total=len(placed))
    directory = next(iter(hubs.values())).directory
    for item in placed:
        ctx, author = hubs[item.area], item.event.author_agency
        envelope = issue_event(item.event, rings[author], directory).encode("ascii")
        message = OutgoingMessage(
            ctx.names.ingress, author, envelope, str(item.event.event_id), user_id=author
        )
        await senders[author].publish(message)
        outcomes[await process(ctx, await next_delivery(consumers[item.area], 30.0))] += 1
        progress.advance(task)
    return outcomes


async def _run(out: Path, workdir: Path, scale: float, seed: int, console: Console) -> DemoRun:
    started = time.monotonic()
    result = DemoRun()
    rings = {p: generate_party_keys(p) for p in ("hub", *AGENCIES, "evaluator")}
    directory = KeyDirectory.of(*rings.values())
    save_directory(directory, out / "keys")  # public keys: `hub-evaluation verify --keys`
    placed = cohort(scale=scale, seed=seed)
    result.events = len(placed)
    node = MemoryNode()
    store = Store(out / "evaluation.duckdb")
    try:
        async with AsyncExitStack() as stack:
            hubs = await _hubs(stack, node, workdir, directory, rings)
            senders = {
                a: await stack.enter_async_context(MemoryBroker(node, user=a)) for a in AGENCIES
            }
            consumers = {
                area: await stack.enter_async_context(
                    ctx.broker.consume(ctx.names.ingress_queue, 1)
                )
                for area, ctx in hubs.items()
            }
            columns = (
                TextColumn("{task.description}"),
                BarColumn(),
                MofNCompleteColumn(),
                TimeElapsedColumn(),
            )
            with Progress(*columns, console=console, transient=False) as progress:
                result.outcomes = await _play(placed, hubs, senders, consumers, rings, progress)
            evaluator = await stack.enter_async_context(MemoryBroker(node, user="evaluator"))
            for ctx in hubs.values():
                inbox = Inbox(rings["evaluator"], directory, evaluator, store, ctx.names)
                result.kept += (await inbox.run(idle=IDLE_SECONDS)).kept
            as_of = (datetime.now(UTC) - timedelta(days=1)).date()
            write_report(evaluate(store, as_of, ReleaseRule()), out)
            release = release_of(out)
            for area, ctx in hubs.items():
                await announce(release, rings["evaluator"], directory, evaluator, ctx.names, "hub")
                result.releases[area] = await process(
                    ctx, await next_delivery(consumers[area], 30.0)
                )
            for area, ctx in hubs.items():
                await ctx.ledger.checkpoint_now()
                report = await verify_store(ctx.ledger.store, directory)
                result.ledgers[area] = (
                    f"{report.entries} entries, intact"
                    if report.intact
                    else f"BROKEN: {report.code}"
                )
    finally:
        store.close()
    result.seconds = time.monotonic() - started
    return result


def run(console: Console, out: Path, *, scale: float = 1.0, seed: int = 2026) -> int:
    """Run the three-area evaluation demo and write its report to ``out``.

    Raises:
        HubError: ``demo.folder_not_empty`` when ``out`` holds anything.
    """
    if not 0 < scale <= 1:
        raise HubError("usage.invalid", "--scale: a share of the cohort, above 0 and at most 1")
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise HubError("demo.folder_not_empty", f"{out} is not an empty folder; choose a new one")
    out.mkdir(parents=True, exist_ok=True)
    with TemporaryDirectory(prefix="hub-evaluation-demo-") as workdir:
        result = asyncio.run(_run(out, Path(workdir), scale, seed, console))
    outcomes = ", ".join(f"{n} {o}" for o, n in sorted(result.outcomes.items()))
    console.print(f"{result.events} events through three area hubs: {outcomes}")
    for area, verdict in result.ledgers.items():
        recorded = result.releases.get(area)
        console.print(f"  {area} hub ledger: {verdict}; the report's release: {recorded}")
    console.print(f"the evaluator kept {result.kept} signed evaluation records")
    console.print(f"report: {out / 'index.html'} (in {result.seconds:.0f} s)", soft_wrap=True)
    console.print(
        f"check every record's hub signature: hub-evaluation verify --store"
        f" {out / 'evaluation.duckdb'} --keys {out / 'keys'}",
        soft_wrap=True,
        highlight=False,
    )
    intact = all(v.endswith("intact") for v in result.ledgers.values())
    disclosed = result.outcomes.get("disclosed", 0) == result.events
    released = set(result.releases.values()) == {"released"}
    return 0 if intact and disclosed and released and result.kept else 1
