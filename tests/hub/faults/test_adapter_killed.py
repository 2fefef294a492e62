"""Issue 5 (d): an adapter killed with SIGKILL mid-consume, then restarted."""

from __future__ import annotations

import asyncio
import signal
import sys
import uuid
from collections import Counter
from pathlib import Path
from typing import TYPE_CHECKING

from scenarios import covered, delivered_to, erase_all
from services import postgres_dsn
from structlog.testing import capture_logs

from adapters.client import AgencyClient
from hub.broker.amqp import AmqpBroker
from hub.ledger import chain

from .conftest import (
    AGENCIES,
    Inbox,
    Partnership,
    assert_each_once,
    assert_ledger,
    by_author,
    drain,
    environment,
    publish_all,
    queue_depth,
    running,
    wait_for,
)

if TYPE_CHECKING:
    from hub.ledger.base import LedgerStore

EVENTS = 60
DIE_AFTER = 7
READER = Path(__file__).with_name("inbox_reader.py")
ERASER = Path(__file__).with_name("eraser.py")


async def receipted(store: LedgerStore, party: str) -> set[uuid.UUID]:
    """The events whose delivery to ``party`` a receipt in the ledger covers."""
    entries = [chain.parse(row) for row in await store.read(0, None)]
    covered = {i.decision_id for e in entries if e.receipt for i in e.receipt.items}
    return {
        e.event_id
        for e in entries
        if e.recipient == party
        and e.kind == "disclosure"
        and e.decision_id in covered
        and e.event_id is not None
    }


async def read_until_killed(p: Partnership, party: str, state: Path, record: Path) -> int:
    """Run the inbox reader as a process of its own; return its exit status."""
    reader = await asyncio.create_subprocess_exec(
        sys.executable, str(READER), str(p.keys_folder()), party, str(state), str(record),
        str(DIE_AFTER),
        stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL, env=environment(FAULTS_BROKER_URL=p.url(party)),
    )  # fmt: skip
    try:
        return await asyncio.wait_for(reader.wait(), 120)
    except TimeoutError:
        reader.kill()
        await reader.wait()
        raise AssertionError("the inbox reader did not die on cue within 120 s") from None


async def erase_until_killed(p: Partnership, party: str, state: Path) -> int:
    """Run the eraser as a process of its own; return its exit status."""
    eraser = await asyncio.create_subprocess_exec(
        sys.executable, str(ERASER), str(p.keys_folder()), party, str(state),
        stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL, env=environment(FAULTS_BROKER_URL=p.url(party)),
    )  # fmt: skip
    try:
        return await asyncio.wait_for(eraser.wait(), 120)
    except TimeoutError:
        eraser.kill()
        await eraser.wait()
        raise AssertionError("the eraser did not die on cue within 120 s") from None


async def test_adapter_killed_mid_consume_gets_the_rest_and_recognises_the_repeat(
    partnership: Partnership,
) -> None:
    """Unacked deliveries come again; the one remembered but unacked is recognised, not re-given."""
    p = partnership
    events = p.events(EVENTS)
    recipients = p.recipients(events)
    party = Counter(r for parties in recipients.values() for r in parties).most_common(1)[0][0]
    expected = {event_id for event_id, parties in recipients.items() if party in parties}
    ctx = await p.hub(await p.ledger(postgres_dsn()))
    publishers = {author: await p.client(author) for author in AGENCIES}
    sent: Counter[str] = Counter()
    async with running(ctx):
        for author, mine in by_author(events).items():
            await publish_all(publishers[author], mine, sent)

        async def all_in_the_inbox() -> bool:
            return await queue_depth(p.url("hub"), p.names.inbox(party)) == len(expected)

        await wait_for(f"{len(expected)} deliveries in the {party} inbox", all_in_the_inbox, 120)

    state, record = p.folder / "reader.db", p.folder / "reader.log"
    assert await read_until_killed(p, party, state, record) == -signal.SIGKILL
    handled = [uuid.UUID(line) for line in record.read_text().split()]
    # It dies at the first commit of seen records that covers the DIE_AFTER-th: the
    # records are committed in groups, so a few more may have been handled by then.
    assert len(handled) == len(set(handled)) >= DIE_AFTER

    broker = AmqpBroker(p.url(party))
    restarted = await p.stack.enter_async_context(
        AgencyClient(p.keyrings[party], p.directory, broker, state)
    )
    rest = Inbox(party, expected - set(handled))
    with capture_logs() as logs:
        await drain(restarted, rest)
    assert_each_once(rest)  # the prefetched, unacked deliveries came again; nothing handled did
    recognised = [uuid.UUID(e["event_id"]) for e in logs if e["event"] == "delivery.duplicate"]
    assert handled[-1] in recognised  # remembered, then killed before the ack
    assert set(recognised) <= set(handled)
    assert restarted.duplicates == len(recognised)
    # Every delivery it kept, before the kill and after, is signed for: the receipts
    # the killed process had stored go out on the restart, and the hub records each once.
    async with running(ctx):

        async def all_receipted() -> bool:
            return await receipted(ctx.ledger.store, party) == expected

        await wait_for(f"every delivery to {party} receipted", all_receipted, 60)
    # Retention ends: an eraser is killed with its erasure receipt sealed and stored
    # but not yet published; the next start sends it, and the hub records it once.
    await restarted.close()
    assert await erase_until_killed(p, party, state) == -signal.SIGKILL
    again = await p.stack.enter_async_context(
        AgencyClient(p.keyrings[party], p.directory, AmqpBroker(p.url(party)), state)
    )
    await erase_all(again)
    async with running(ctx):

        async def all_erased() -> bool:
            entries = [chain.parse(row) for row in await ctx.ledger.store.read(0, None)]
            mine = {d for d, to in await delivered_to(ctx.ledger.store) if to == party}
            return covered(entries, "erased") == mine

        await wait_for(f"every delivery to {party} erased and signed for", all_erased, 60)
    await ctx.ledger.checkpoint_now()
    await assert_ledger(ctx.ledger.store, p.directory, recipients)
