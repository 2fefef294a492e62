"""A case crosses regions: North's police to South's probation over the federation link.

Two real RabbitMQ nodes (``conftest.py``), linked as deploy/regions/ describes (ADR
0010). South's hub worker runs in this process under a test agreement that lets
``north-police`` refer to ``south-probation``; ``north-police`` publishes on North's
broker as its own broker user, so RabbitMQ validates the ``user_id`` that the link
carries and South's hub compares with the signed issuer.
"""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import uuid
from contextlib import AsyncExitStack
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Final

import pytest
from scenarios import quarantined, queue_depth, running, wait_for

from adapters.client import AgencyClient
from adapters.evaluator.inbox import Inbox
from adapters.evaluator.store import Store
from hub.broker.amqp import AmqpBroker
from hub.broker.definitions import DEFAULT_VHOST
from hub.broker.topology import TopologyNames
from hub.context import HubContext, build_context
from hub.crypto.keys import KeyDirectory, PartyKeyring, generate_party_keys
from hub.embedded import embedded_settings
from hub.evaluation import Area, Feed, LinkageKey, minimise
from hub.ledger import chain
from hub.ledger.service import open_ledger
from hub.ledger.verify import verify_store
from schemas.evaluation import InterventionModel
from schemas.samples import sample_event

from .conftest import DEPLOY_REGIONS, Region, upstream_value

if TYPE_CHECKING:
    from collections.abc import AsyncIterator
    from pathlib import Path

    from adapters.base import ReceivedEvent
    from hub.ledger.entries import LedgerEntry
    from schemas.base import CaseEvent

pytestmark = [pytest.mark.slow, pytest.mark.rabbitmq, pytest.mark.timeout(300)]

NAMES: Final = TopologyNames()
KEY_PARTIES: Final = ("hub", "south-hub", "north-police", "south-probation", "evaluator")
#: Seconds an event may take to cross the link and the hub: bounds a hang only.
ARRIVAL_SECONDS: Final = 60.0
#: Silence after the expected delivery before an inbox counts as drained.
QUIET_SECONDS: Final = 2.0

PARTIES_TOML: Final = """
[[party]]
id = "south-hub"
name = "Southshire Case-Event Hub"
kind = "hub"

[[party]]
id = "north-police"
name = "Northshire Police Anti-Stalking Unit"
kind = "police"

[[party]]
id = "south-probation"
name = "Southshire Probation Delivery Unit"
kind = "probation"

[[party]]
id = "evaluator"
name = "National Stalking Intervention Evaluation Unit (fictional)"
kind = "evaluator"
"""

AGREEMENT_TOML: Final = """
kind = "information-sharing-agreement"
id = "north-south-referrals"
version = 1
title = "Northshire to Southshire cross-border stalking referrals (test)"
status = "active"
classification = "OFFICIAL-SENSITIVE"
dpia_reference = "DPIA-TEST-REGIONS"
valid_from = 2026-01-01
valid_until = 2030-12-31
review_date = 2029-01-01

[[parties]]
party = "north-police"
organisation = "Northshire Police"
role = "competent_authority"

[[parties]]
party = "south-probation"
organisation = "Southshire Probation Delivery Unit"
role = "competent_authority"

[[purposes]]
id = "manage-risk"
description = "Manage the risk posed by people subject to supervision."

[[signatories]]
party = "north-police"
name = "A. Test"
position = "Detective Superintendent"
signed_on = 2026-01-01

[[signatories]]
party = "south-probation"
name = "B. Test"
position = "Head of Probation Delivery Unit"
signed_on = 2026-01-01

[[clauses]]
id = "north-police-to-south-probation-referral"
provider = "north-police"
recipient = "south-probation"
event_types = ["ReferralReceived"]
groups = ["A", "B", "C", "E", "F"]
purpose = "manage-risk"
lawful_basis = { regime = "dpa2018_part3", schedule8 = "para 4" }
gateway = "Crime and Disorder Act 1998 s.115"
valid_from = 2026-01-01
valid_until = 2030-12-31
review_date = 2029-01-01
retention = { months = 74, disposal = "secure deletion after review" }
"""


EVALUATION_TOML: Final = """
kind = "information-sharing-agreement"
id = "north-south-evaluation"
version = 1
title = "Cross-border cases in the national evaluation (test)"
status = "active"
classification = "OFFICIAL-SENSITIVE"
dpia_reference = "DPIA-TEST-EVALUATION"
valid_from = 2026-01-01
valid_until = 2030-12-31
review_date = 2029-01-01

[[parties]]
party = "north-police"
organisation = "Northshire Police"
role = "controller"

[[parties]]
party = "evaluator"
organisation = "National Stalking Intervention Evaluation Unit (fictional)"
role = "controller"

[[purposes]]
id = "evaluate-interventions"
description = "Research and statistics on stalking interventions."

[[signatories]]
party = "north-police"
name = "A. Test"
position = "Detective Superintendent"
signed_on = 2026-01-01

[[signatories]]
party = "evaluator"
name = "E. Test"
position = "Head of Evaluation"
signed_on = 2026-01-01

[[clauses]]
id = "north-police-to-evaluator"
provider = "north-police"
recipient = "evaluator"
form = "evaluation_record"
event_types = ["ReferralReceived"]
purpose = "evaluate-interventions"
lawful_basis = { regime = "uk_gdpr", article6 = "6(1)(e)", article10 = true, schedule1 = "para 4" }
gateway = "DPA 2018 s.36(4)"
valid_from = 2026-01-01
valid_until = 2030-12-31
review_date = 2029-01-01
retention = { months = 84, disposal = "secure deletion at the end of the evaluation" }
"""


class Scene:
    """South's hub context and the two agencies' clients, all closed by one stack."""

    def __init__(
        self,
        ctx: HubContext,
        police: AgencyClient,
        probation: AgencyClient,
        rings: dict[str, PartyKeyring],
    ) -> None:
        """Hold the parts, and every party's keys."""
        self.ctx, self.police, self.probation, self.rings = ctx, police, probation, rings

    async def entries(self) -> list[LedgerEntry]:
        """South's ledger entries so far."""
        return [chain.parse(row) for row in await self.ctx.ledger.store.read(0, None)]

    async def entry_for(self, event_id: uuid.UUID) -> LedgerEntry:
        """Wait (bounded) for South's ledger entry about ``event_id``."""
        found: list[LedgerEntry] = []

        async def recorded() -> bool:
            found[:] = [e for e in await self.entries() if e.event_id == event_id]
            return bool(found)

        await wait_for("South's ledger entry", recorded, ARRIVAL_SECONDS)
        (entry,) = found
        return entry


def keyrings() -> dict[str, PartyKeyring]:
    """North's hub, South's hub, a North agency and a South agency."""
    start = datetime.now(UTC) - timedelta(days=1)
    return {party: generate_party_keys(party, start) for party in KEY_PARTIES}


def policy_folder(folder: Path) -> Path:
    """South's test policy, loaded later by the real loaders: parties, rules, one agreement."""
    (folder / "agreements").mkdir(parents=True)
    (folder / "agreements" / "north-south.toml").write_text(AGREEMENT_TOML)
    (folder / "agreements" / "north-south-evaluation.toml").write_text(EVALUATION_TOML)
    (folder / "parties.toml").write_text(PARTIES_TOML)
    shutil.copy(DEPLOY_REGIONS.parent / "rules.toml", folder / "rules.toml")
    return folder


def referral() -> CaseEvent:
    """A fresh referral written by ``north-police``."""
    event = sample_event("ReferralReceived")
    return event.model_copy(update={"event_id": uuid.uuid4(), "author_agency": "north-police"})


def broker(url: str) -> AmqpBroker:
    """A connection with short timeouts (loopback)."""
    return AmqpBroker(url, confirm_timeout=5.0, connect_timeout=10.0, reconnect_interval=0.5)


async def link_bound(north: Region) -> None:
    """Wait until the link has declared its upstream queue in North (it is running)."""

    async def declared() -> bool:
        out = await asyncio.to_thread(north.ctl, "list_queues", "-p", DEFAULT_VHOST, "name")
        return "federation: region.south.out" in out

    await wait_for("the federation link", declared, ARRIVAL_SECONDS)


@contextlib.asynccontextmanager
async def scene(
    regions: tuple[Region, Region], folder: Path, feed: Feed | None = None
) -> AsyncIterator[Scene]:
    """South's hub (SQLite ledger), feeding the evaluation with ``feed``, and the two clients."""
    north, south = regions
    rings = keyrings()
    keys = KeyDirectory.of(*rings.values())
    policy_dir = policy_folder(folder / "policy")
    async with AsyncExitStack() as stack:
        ledger = await open_ledger(f"sqlite:///{folder / 'south.db'}", keyring=rings["south-hub"])
        stack.push_async_callback(ledger.close)
        hub_broker = broker(south.url("hub"))
        await hub_broker.connect()
        stack.push_async_callback(hub_broker.close)
        settings = embedded_settings(
            folder / "south-hub", rings["south-hub"], keys,
            agreements_dir=policy_dir / "agreements", parties_file=policy_dir / "parties.toml",
            rules_file=policy_dir / "rules.toml",
        )  # fmt: skip
        ctx = await build_context(settings, stack, broker=hub_broker, ledger=ledger)
        ctx = replace(ctx, evaluation=feed)
        police = AgencyClient(
            rings["north-police"], keys, broker(north.url("north-police")),
            folder / "north-police.db", regions={"south": "south-hub"},
        )  # fmt: skip
        probation = AgencyClient(
            rings["south-probation"], keys, broker(south.url("south-probation")),
            folder / "south-probation.db", hub="south-hub",
        )  # fmt: skip
        for client in (police, probation):
            await stack.enter_async_context(client)
        yield Scene(ctx, police, probation, rings)


async def publish(client: AgencyClient, event: CaseEvent, region: str | None) -> None:
    """Publish, flushing (bounded) until confirmed: the link may still be binding."""
    with contextlib.suppress(Exception):
        await client.publish(event, region=region)
    async with asyncio.timeout(ARRIVAL_SECONDS):
        while await client.pending():
            await asyncio.sleep(0.5)
            with contextlib.suppress(Exception):
                await client.flush()


async def received(client: AgencyClient, expected: int) -> list[ReceivedEvent]:
    """Every delivery yielded until ``expected`` arrived and then a quiet spell."""
    got: list[ReceivedEvent] = []
    stream = client.deliveries()
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(ARRIVAL_SECONDS):
            while len(got) < expected:
                got.append(await anext(stream))
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(QUIET_SECONDS):
            got.append(await anext(stream))
    await stream.aclose()
    return got


async def test_a_north_referral_reaches_south_probation_and_only_south(
    regions: tuple[Region, Region], tmp_path: Path
) -> None:
    """region="south" crosses the link to South's hub; a local event stays in North."""
    north, south = regions
    await link_bound(north)
    local, crossing = referral(), referral()
    async with scene(regions, tmp_path) as s, running(s.ctx):
        # Local first: had it leaked into the link, it would reach South before the other.
        await publish(s.police, local, None)
        await publish(s.police, crossing, "south")
        got = await received(s.probation, 1)
        entry = await s.entry_for(crossing.event_id)
        entries = await s.entries()
        report = await verify_store(s.ctx.ledger.store, s.ctx.directory)
    (delivery,) = got
    assert delivery.event_id == crossing.event_id
    assert delivery.sender == "north-police"  # signed by North's police, verified in South
    assert delivery.recipient == "south-probation"
    assert delivery.agreement_id == "north-south-referrals"
    assert entry.kind == "disclosure"
    assert (entry.provider, entry.recipient) == ("north-police", "south-probation")
    # The local one never came; South's probation signed for what it kept.
    assert [e.event_id for e in entries if e.kind != "receipt"] == [crossing.event_id]
    receipts = [e.receipt for e in entries if e.receipt is not None]
    assert all(r.items[0].decision_id == entry.decision_id for r in receipts)
    assert report.intact, report.detail
    # North's ingress holds the local event, and only that (no North worker runs).
    assert await queue_depth(north.url("hub"), NAMES.ingress_queue) == 1
    assert await queue_depth(south.url("hub"), NAMES.ingress_queue) == 0


async def test_without_trust_user_id_south_refuses_the_event_as_sender_mismatch(
    regions: tuple[Region, Region], tmp_path: Path
) -> None:
    """Untrusted, the link drops the user_id: South refuses, records, delivers nothing."""
    north, south = regions
    south.ctl(
        "set_parameter", "-p", DEFAULT_VHOST, "federation-upstream", "north",
        upstream_value(north, trust_user_id=False),
    )  # fmt: skip
    try:
        await link_bound(north)
        crossing = referral()
        async with scene(regions, tmp_path) as s, running(s.ctx):
            await publish(s.police, crossing, "south")
            entry = await s.entry_for(crossing.event_id)
            got = await received(s.probation, 0)
        assert entry.kind == "refusal"
        assert entry.reason_code == "sender.mismatch"
        assert got == []
        assert await quarantined(south.url("hub"), NAMES) == 1
    finally:
        south.ctl(
            "set_parameter", "-p", DEFAULT_VHOST, "federation-upstream", "north",
            upstream_value(north, trust_user_id=True),
        )  # fmt: skip


async def test_a_case_that_crosses_the_link_is_one_evaluation_case_in_both_areas(
    regions: tuple[Region, Region], tmp_path: Path
) -> None:
    """South's hub feeds the evaluator the crossing referral; its pseudonyms are North's.

    North's hub derives, under the areas' one linkage key, the record of the case's
    own referral there; the case then crosses the link under the same references,
    and South's hub, in another area, names the same case and person on the same
    timeline. The evaluator receives South's record over South's broker, signed by
    South's hub.
    """
    north, south = regions
    await link_bound(north)
    key = LinkageKey.generate()
    at_home = referral()
    later = at_home.occurred_at + timedelta(days=9)
    crossing = referral().model_copy(update={"occurred_at": later, "recorded_at": later})
    in_north = minimise(at_home, Area("northshire", InterventionModel.ANTI_STALKING_UNIT), key)
    feed = Feed(Area("southshire", InterventionModel.THREAT_ASSESSMENT_CENTRE), key)
    async with scene(regions, tmp_path, feed) as s, running(s.ctx):
        await publish(s.police, crossing, "south")
        await received(s.probation, 1)
        evaluator = broker(south.url("evaluator"))
        await evaluator.connect()
        try:
            with Store(None) as store:
                inbox = Inbox(
                    s.rings["evaluator"], s.ctx.directory, evaluator, store, hub="south-hub"
                )
                tally = await inbox.run(idle=QUIET_SECONDS)
                [record] = list(store.records())
        finally:
            await evaluator.close()
        entries = await s.entries()
    assert tally.rejected == {}
    assert (record.area, in_north.area) == ("southshire", "northshire")
    assert (record.case, record.person) == (in_north.case, in_north.person)
    assert record.case_day is not None
    assert in_north.case_day is not None
    assert record.case_day - in_north.case_day == 9
    [fed] = [e for e in entries if e.recipient == "evaluator"]
    assert fed.outcome == "evaluation_record"
    assert fed.clause == "north-south-evaluation@1#north-police-to-evaluator"
