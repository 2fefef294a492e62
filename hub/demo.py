"""`hub demo`: a fictional stalking case through the real pipeline, in one process.

The hub runs on its embedded defaults: the in-memory broker and a SQLite ledger in
a temporary folder, with the agreements, parties and safety rules in ``deploy/``.
Four agencies publish events of one fictional case; the hub opens, verifies,
validates, decides, records and discloses each one; every recipient verifies what
it got. The timeline shows who received which field groups, which were withheld,
and why; one event an agency is not entitled to send shows a refusal. It ends with
the ledger's verification. All names and data are fictional.
"""

from __future__ import annotations

import asyncio
import uuid
from contextlib import AsyncExitStack
from pathlib import Path
from tempfile import TemporaryDirectory
from typing import TYPE_CHECKING

from hub.broker.base import OutgoingMessage
from hub.broker.memory import MemoryBroker, MemoryNode
from hub.broker.testing import next_delivery
from hub.crypto.envelope import issue_event, open_delivery
from hub.crypto.keys import KeyDirectory, generate_party_keys
from hub.crypto.notice import open_notice
from hub.embedded import AGENCIES, embedded_hub
from hub.ledger.verify import verify_store
from hub.pipeline import process
from schemas.samples import sample_event

if TYPE_CHECKING:
    from collections.abc import Callable

    from hub.broker.topology import TopologyNames
    from hub.crypto.keys import PartyKeyring
    from hub.ledger.entries import LedgerEntry
    from schemas.base import CaseEvent

#: The case, in order: (sender, event type). The last one is refused on purpose.
CASE = (
    ("police", "ReferralReceived"),
    ("police", "ScreeningCompleted"),
    ("health", "RiskAssessmentCompleted"),
    ("police", "CaseConsultationHeld"),
    ("police", "ManagementPlanAgreed"),
    ("police", "OrderEvent"),
    ("advocacy", "VictimSafetyPlanUpdated"),
    ("police", "BreachReported"),
    ("health", "InterventionUpdated"),
    ("police", "CaseClosed"),
    ("health", "VictimSafetyPlanUpdated"),
)


def _event(sender: str, event_type: str) -> CaseEvent:
    event = sample_event(event_type)
    return event.model_copy(update={"event_id": uuid.uuid4(), "author_agency": sender})


def _line(entry: LedgerEntry) -> str:
    got = "".join(entry.groups_disclosed) or "-"
    withheld = "".join(entry.groups_withheld) or "-"
    clauses = ",".join(c.split("#")[-1] for c in (entry.clause or "").split(";"))
    return (
        f"    -> {entry.recipient:<10} gets {got:<6} withheld {withheld:<6}"
        f" clause {clauses}; {entry.lawful_basis}"
    )


async def _walk(say: Callable[[str], object], workdir: Path) -> int:
    rings = {p: generate_party_keys(p) for p in ("hub", *AGENCIES)}
    directory = KeyDirectory.of(*rings.values())
    node = MemoryNode()
    async with AsyncExitStack() as stack:
        ctx = await embedded_hub(stack, workdir, rings["hub"], directory, node)
        policy, ledger, names = ctx.policy, ctx.ledger, ctx.names
        clients = {a: await stack.enter_async_context(MemoryBroker(node, user=a)) for a in AGENCIES}
        agreement = policy.agreements[0]
        say(
            f"agreement {agreement.reference} ({len(agreement.clauses)} clauses), "
            f"{len(policy.rules.rules)} safety rules, policy hash {policy.hash[:16]}"
        )
        async with ctx.broker.consume(names.ingress_queue, 1) as ingress:
            for number, (sender, event_type) in enumerate(CASE, 1):
                event = _event(sender, event_type)
                body = issue_event(event, rings[sender], directory).encode()
                message = OutgoingMessage(
                    names.ingress, sender, body, str(event.event_id), user_id=sender
                )
                await clients[sender].publish(message)
                outcome = await process(ctx, await next_delivery(ingress))
                say(f"{number:>2}. {sender:<9} {event_type:<24} {outcome}")
                for entry in await ledger.entries_for_event(event.event_id):
                    if entry.recipient:
                        say(_line(entry))
        await _verify_inboxes(say, clients, rings, directory, names)
        await ledger.checkpoint_now()
        report = await verify_store(ledger.store, directory)
    verdict = "intact" if report.intact else f"broken at entry {report.broken_at}: {report.code}"
    say(f"ledger {verdict}: {report.entries} entries, checkpoint at size {report.checkpoint_size}")
    return 0 if report.intact else 1


async def _verify_inboxes(
    say: Callable[[str], object],
    clients: dict[str, MemoryBroker],
    rings: dict[str, PartyKeyring],
    directory: KeyDirectory,
    names: TopologyNames,
) -> None:
    for agency, broker in clients.items():
        deliveries = notices = 0
        async with broker.consume(names.inbox(agency), 100) as inbox:
            while True:
                try:
                    message = await next_delivery(inbox, 0.05)
                except TimeoutError:
                    break
                text = message.body.decode()
                if message.headers.get("kind") == "refusal-notice":
                    notice = open_notice(text, rings[agency], directory)
                    say(f"{agency} was told: event {notice.event_id} refused, {notice.code}")
                    notices += 1
                else:
                    open_delivery(text, rings[agency], directory)
                    deliveries += 1
                await message.ack()
        say(f"{agency:<9} verified {deliveries} deliveries end to end, {notices} notice(s)")


def run(say: Callable[[str], object]) -> int:
    """Run the walk-through, writing lines with ``say``; return the exit status."""
    with TemporaryDirectory(prefix="hub-demo-") as workdir:
        return asyncio.run(_walk(say, Path(workdir)))
