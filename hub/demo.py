"""`hub demo`: a fictional stalking case through the adapters and the real pipeline.

The hub runs on its embedded defaults: the in-memory broker and a SQLite ledger in
a temporary folder, with the agreements, parties and safety rules in ``deploy/``.
Each agency's system talks to the hub through its adapter: native records (POLE
documents, HMPPS domain events, FHIR bundles, the advocate's case record, all
under ``adapters/<agency>/samples/``) are translated and published through the
client SDK; the two steps no translator covers yet are published through the SDK
directly. The hub opens, verifies, validates, decides, records and discloses each
event; every recipient verifies what it got and renders it natively. The timeline
shows who received which field groups, which were withheld, and why; one event an
agency is not entitled to send shows a refusal. It ends with the ledger's
verification. All names and data are fictional.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from contextlib import AsyncExitStack
from pathlib import Path
from tempfile import TemporaryDirectory
from typing import TYPE_CHECKING

from adapters.client import AgencyClient, RefusedError
from adapters.registry import translator_for
from hub.broker.memory import MemoryBroker, MemoryNode
from hub.broker.testing import next_delivery
from hub.crypto.keys import KeyDirectory, generate_party_keys
from hub.embedded import AGENCIES, embedded_hub
from hub.ledger.verify import verify_store
from hub.pipeline import HubContext, process
from schemas.samples import sample_event

if TYPE_CHECKING:
    from collections.abc import Callable

    from hub.ledger.entries import LedgerEntry
    from schemas.base import CaseEvent

SAMPLES = Path(__file__).resolve().parent.parent / "adapters"
#: The case, in order: (sender, native sample file or event type for the SDK directly).
CASE = (
    ("police", "referral.json"),
    ("police", "sdash_screening.json"),
    ("health", "risk_assessment.json"),
    ("police", "CaseConsultationHeld"),
    ("probation", "management_plan_updated.json"),
    ("police", "interim_spo_granted.json"),
    ("advocacy", "safety_plan.json"),
    ("police", "breach.json"),
    ("health", "intervention_update.json"),
    ("police", "CaseClosed"),
    ("health", "VictimSafetyPlanUpdated"),  # not entitled: refused on purpose
)


def _events(sender: str, source: str) -> tuple[str, list[CaseEvent]]:
    if source.endswith(".json"):
        record = json.loads((SAMPLES / sender / "samples" / source).read_text())
        return f"{source} (native)", translator_for(sender).to_events(record, record_id=source)
    event = sample_event(source).model_copy(
        update={"event_id": uuid.uuid4(), "author_agency": sender}
    )
    return "via the SDK", [event]


def _line(entry: LedgerEntry) -> str:
    got = "".join(entry.groups_disclosed) or "-"
    withheld = "".join(entry.groups_withheld) or "-"
    clauses = ",".join(c.split("#")[-1] for c in (entry.clause or "").split(";"))
    return (
        f"    -> {entry.recipient:<10} gets {got:<6} withheld {withheld:<6}"
        f" clause {clauses}; {entry.lawful_basis}"
    )


async def _step(  # noqa: PLR0913, PLR0917 - one step of the case, with its context
    say: Callable[[str], object],
    ctx: HubContext,
    clients: dict[str, AgencyClient],
    number: int,
    sender: str,
    source: str,
) -> None:
    origin, events = _events(sender, source)
    async with ctx.broker.consume(ctx.names.ingress_queue, 1) as ingress:
        for event in events:
            await clients[sender].publish(event)
            outcome = await process(ctx, await next_delivery(ingress))
            say(f"{number:>2}. {sender:<9} {event.event_type:<24} {outcome:<20} {origin}")
            for entry in await ctx.ledger.entries_for_event(event.event_id):
                if entry.recipient:
                    say(_line(entry))


async def _receive(say: Callable[[str], object], clients: dict[str, AgencyClient]) -> None:
    """Every agency verifies and renders what it received, natively."""
    for agency, client in clients.items():
        rendered, notices = 0, 0
        translator = translator_for(agency)
        while True:
            try:
                async with asyncio.timeout(0.2):
                    async for received in client.deliveries():
                        translator.render_delivery(received)
                        rendered += 1
            except RefusedError as refusal:
                say(f"{agency} was told: event {refusal.event_id} refused, {refusal.code}")
                notices += 1
                continue
            except TimeoutError:
                break
        say(
            f"{agency:<9} verified and rendered {rendered} deliveries natively, {notices} notice(s)"
        )


async def _walk(say: Callable[[str], object], workdir: Path) -> int:
    rings = {p: generate_party_keys(p) for p in ("hub", *AGENCIES)}
    directory = KeyDirectory.of(*rings.values())
    node = MemoryNode()
    async with AsyncExitStack() as stack:
        ctx = await embedded_hub(stack, workdir, rings["hub"], directory, node)
        clients = {
            a: await stack.enter_async_context(
                AgencyClient(rings[a], directory, MemoryBroker(node, user=a), workdir / f"{a}.db")
            )
            for a in AGENCIES
        }
        agreement = ctx.policy.agreements[0]
        say(
            f"agreement {agreement.reference} ({len(agreement.clauses)} clauses), "
            f"{len(ctx.policy.rules.rules)} safety rules, policy hash {ctx.policy.hash[:16]}"
        )
        for number, (sender, source) in enumerate(CASE, 1):
            await _step(say, ctx, clients, number, sender, source)
        await _receive(say, clients)
        await ctx.ledger.checkpoint_now()
        report = await verify_store(ctx.ledger.store, directory)
    verdict = "intact" if report.intact else f"broken at entry {report.broken_at}: {report.code}"
    say(f"ledger {verdict}: {report.entries} entries, checkpoint at size {report.checkpoint_size}")
    return 0 if report.intact else 1


def run(say: Callable[[str], object]) -> int:
    """Run the walk-through, writing lines with ``say``; return the exit status."""
    with TemporaryDirectory(prefix="hub-demo-") as workdir:
        return asyncio.run(_walk(say, Path(workdir)))
