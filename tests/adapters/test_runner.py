"""The adapter process: records in, deliveries out, bad records set aside, nothing lost."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import csv
import io
import json
import shutil
import uuid
from contextlib import AsyncExitStack
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from pydantic import SecretStr

from adapters.base import RecordError
from adapters.cli import main
from adapters.client import AgencyClient
from adapters.registry import translator_for
from adapters.runner import (
    AdapterSettings,
    RecordSink,
    _waiting,
    deliver,
    erasure,
    inbound,
    outbound,
    publish_record,
    records_app,
    run,
)
from hub import heap
from hub.broker.base import BrokerError, BrokerErrorCode, OutgoingMessage
from hub.broker.memory import MemoryBroker, MemoryNode
from hub.broker.testing import next_delivery
from hub.crypto.keys import PRIVATE_SUFFIX, save_keyring
from hub.embedded import embedded_hub
from hub.pipeline import process
from schemas.samples import sample_event

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Mapping
    from datetime import date

    from adapters.base import ReceivedEvent
    from hub.context import HubContext
    from hub.crypto.keys import KeyDirectory, PartyKeyring
    from schemas.base import CaseEvent

NAMESPACE = uuid.UUID("0a4f7d0e-8c1b-4f7e-9a55-3e2c1d0b9f11")


class FakePoliceTranslator:
    """A minimal translator: ``{"ref": ...}`` becomes one referral."""

    agency = "police"

    def to_events(self, record: Mapping[str, Any], *, record_id: str) -> list[CaseEvent]:
        """One referral per record, id derived from ``ref``."""
        if not isinstance(record.get("ref"), str):
            raise RecordError("record.invalid", record_id, "ref", "missing or not text")
        event_id = uuid.uuid5(NAMESPACE, record["ref"])
        return [sample_event("ReferralReceived").model_copy(update={"event_id": event_id})]

    def to_native(self, events: list[CaseEvent]) -> dict[str, Any]:
        """Not used here."""
        return {"events": [str(e.event_id) for e in events]}

    def render_delivery(self, received: ReceivedEvent) -> dict[str, Any]:
        """The delivery's fields, flat."""
        return {"event_id": str(received.event_id), "fields": received.fields()}


@pytest.fixture
async def parts(
    tmp_path: Path, keyrings: dict[str, PartyKeyring], directory: KeyDirectory
) -> AsyncIterator[tuple[HubContext, AgencyClient, AgencyClient]]:
    """The embedded hub, a police client and a probation client."""
    node = MemoryNode()
    async with AsyncExitStack() as stack:
        ctx = await embedded_hub(stack, tmp_path, keyrings["hub"], directory, node)
        police = AgencyClient(
            keyrings["police"], directory, MemoryBroker(node, user="police"), tmp_path / "p.db"
        )
        probation = AgencyClient(
            keyrings["probation"],
            directory,
            MemoryBroker(node, user="probation"),
            tmp_path / "r.db",
        )
        yield (
            ctx,
            await stack.enter_async_context(police),
            await stack.enter_async_context(probation),
        )


async def test_good_record_is_published_and_moved_to_done(
    parts: tuple[HubContext, AgencyClient, AgencyClient], tmp_path: Path
) -> None:
    """A translatable record is published, reaches the hub, and moves to done/."""
    ctx, police, _ = parts
    inbox = tmp_path / "in"
    inbox.mkdir()
    (inbox / "r1.json").write_text(json.dumps({"ref": "EX-1"}))
    assert await publish_record(police, FakePoliceTranslator(), inbox / "r1.json") == 1
    assert (inbox / "done" / "r1.json").exists()
    async with ctx.broker.consume(ctx.names.ingress_queue, 1) as ingress:
        assert await process(ctx, await next_delivery(ingress)) == "disclosed"


@pytest.mark.parametrize(
    ("content", "field"),
    [('{"name": "Alex Example"}', "ref"), ("not json {", "(document)"), ("[1, 2]", "(document)")],
    ids=["missing-field", "not-json", "not-object"],
)
async def test_bad_record_is_set_aside_with_its_error(
    parts: tuple[HubContext, AgencyClient, AgencyClient], tmp_path: Path, content: str, field: str
) -> None:
    """A bad record moves to rejected/ with an error naming record and field, not the value."""
    _, police, _ = parts
    inbox = tmp_path / "in"
    inbox.mkdir()
    (inbox / "bad.json").write_text(content)
    assert await publish_record(police, FakePoliceTranslator(), inbox / "bad.json") == 0
    assert (inbox / "rejected" / "bad.json").read_text() == content
    error = json.loads((inbox / "rejected" / "bad.json.error.json").read_text())
    assert (error["code"], error["record"], error["field"]) == ("record.invalid", "bad.json", field)
    assert "Alex" not in json.dumps(error)
    assert await police.pending() == []


async def test_delivery_is_written_natively_by_decision(
    parts: tuple[HubContext, AgencyClient, AgencyClient], tmp_path: Path
) -> None:
    """A verified delivery is rendered and written to the output folder under its decision id."""
    ctx, police, probation = parts
    inbox = tmp_path / "in"
    inbox.mkdir()
    (inbox / "r2.json").write_text(json.dumps({"ref": "EX-2"}))
    await publish_record(police, FakePoliceTranslator(), inbox / "r2.json")
    async with ctx.broker.consume(ctx.names.ingress_queue, 1) as ingress:
        await process(ctx, await next_delivery(ingress))
    settings = AdapterSettings(
        keys_dir=tmp_path,
        private_keys=tmp_path / "k",
        state_file=tmp_path / "s.db",
        output_dir=tmp_path / "out",
    )
    async for received in probation.deliveries():
        await deliver(received, FakePoliceTranslator(), settings, None)
        break
    [written] = (tmp_path / "out").glob("*.json")
    assert written.stem == str(received.decision_id)
    assert json.loads(written.read_text())["event_id"] == str(uuid.uuid5(NAMESPACE, "EX-2"))
    [rules] = (tmp_path / "out").glob("*.odrl.jsonld")
    assert rules.name == f"{received.decision_id}.odrl.jsonld"
    assert json.loads(rules.read_text()) == received.obligations


async def erasure_until_empty(
    client: AgencyClient, settings: AdapterSettings, until: date, folder: Path
) -> None:
    """Run the adapter's erasure rounds on ``until`` until ``folder`` is empty (10 s at most).

    A round removes the files before it publishes its erasure receipt, so the round
    stopped here may have stored that receipt without sending it; it is then sent
    as on the adapter's next start (``flush``).
    """
    task = asyncio.create_task(erasure(client, settings, today=lambda: until))
    try:
        for _ in range(500):
            if not await asyncio.to_thread(lambda: list(folder.glob("*"))):
                return
            await asyncio.sleep(0.02)
        raise AssertionError("the output folder was not emptied")
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await client.flush()


async def test_deliveries_past_their_retention_are_erased_from_the_output_folder(
    parts: tuple[HubContext, AgencyClient, AgencyClient], tmp_path: Path
) -> None:
    """On the delete-by day the adapter removes its files and the hub records the erasure."""
    ctx, police, probation = parts
    inbox = tmp_path / "in"
    inbox.mkdir()
    for ref in ("EX-3", "EX-4"):
        (inbox / f"{ref}.json").write_text(json.dumps({"ref": ref}))
        await publish_record(police, FakePoliceTranslator(), inbox / f"{ref}.json")
    async with ctx.broker.consume(ctx.names.ingress_queue, 1) as ingress:
        for _ in range(2):
            assert await process(ctx, await next_delivery(ingress)) == "disclosed"
    settings = AdapterSettings(
        keys_dir=tmp_path,
        private_keys=tmp_path / "k",
        state_file=tmp_path / "s.db",
        output_dir=tmp_path / "out",
        erase_every_seconds=0.05,
    )
    kept: list[ReceivedEvent] = []

    async def take() -> None:
        async for received in probation.deliveries():
            await deliver(received, FakePoliceTranslator(), settings, None)
            kept.append(received)

    for _ in range(10):  # a busy machine may need more than one half-second look
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(take(), 0.5)  # ends the generator: what it kept is committed
        if len(kept) == 2:
            break
    out = tmp_path / "out"
    assert len(list(out.glob("*"))) == 4
    (out / f"{kept[1].decision_id}.json").unlink()  # taken by the agency's system
    until = kept[0].retain_until
    assert until is not None
    await erasure_until_empty(probation, settings, until, out)
    async with ctx.broker.consume(ctx.names.ingress_queue, 1) as ingress:
        outcomes = [await process(ctx, await next_delivery(ingress)) for _ in range(2)]
    assert outcomes == ["receipted", "erased"]
    entries = await ctx.ledger.read(0, None)
    (erased,) = [e for e in entries if e.outcome == "erased"]
    assert erased.receipt is not None
    assert {i.decision_id for i in erased.receipt.items} == {r.decision_id for r in kept}


def test_command_line_errors_are_named(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A missing config, a bad setting and an unknown agency each give a coded error."""
    assert main(["police", "--config", str(tmp_path / "none.toml")]) == 1
    assert "error settings.invalid: --config" in capsys.readouterr().err
    config = tmp_path / "a.toml"
    config.write_text(
        'keys_dir = "k"\nprivate_keys = "k/p.json"\nstate_file = "s.db"\npoll_seconds = 0\n'
    )
    assert main(["police", "--config", str(config)]) == 1
    assert "error settings.invalid: poll_seconds" in capsys.readouterr().err
    config.write_text('keys_dir = "k"\nprivate_keys = "k/p.json"\nstate_file = "s.db"\n')
    assert main(["coastguard", "--config", str(config)]) == 1
    assert "error adapter.unknown" in capsys.readouterr().err


@pytest.mark.parametrize("settle", [True, False])
async def test_the_adapter_process_settles_its_heap_once_started(
    tmp_path: Path,
    keyrings: dict[str, PartyKeyring],
    monkeypatch: pytest.MonkeyPatch,
    settle: bool,  # noqa: FBT001 - the parameter
) -> None:
    """`hub-adapter` freezes its start-up heap out of later collections; other callers do not."""
    for ring in keyrings.values():
        save_keyring(ring, tmp_path / "keys")
    settled: list[bool] = []

    def settle_here() -> int:
        settled.append(True)
        return 1

    monkeypatch.setattr(heap, "settle", settle_here)
    settings = AdapterSettings(
        keys_dir=tmp_path / "keys",
        private_keys=tmp_path / "keys" / f"police{PRIVATE_SUFFIX}",
        state_file=tmp_path / "state.db",
    )
    stop = asyncio.Event()
    stop.set()

    assert await run("police", settings, stop, settle=settle) == 0

    assert settled == ([True] if settle else [])


async def test_webhook_accepts_good_records_and_explains_bad_ones(
    parts: tuple[HubContext, AgencyClient, AgencyClient], tmp_path: Path
) -> None:
    """POST /records answers 202 with event ids, or 422 naming record and field; keeps rejects."""
    _, police, _ = parts
    app = records_app(RecordSink(police, FakePoliceTranslator(), tmp_path / "rejected"))
    async with TestClient(TestServer(app, host="127.0.0.1")) as http:
        good = await http.post("/records", json={"ref": "EX-3"}, headers={"X-Record-Id": "rec-3"})
        assert good.status == 202
        assert (await good.json())["events"] == [str(uuid.uuid5(NAMESPACE, "EX-3"))]
        bad = await http.post(
            "/records", json={"name": "Alex Example"}, headers={"X-Record-Id": "rec-4"}
        )
        assert bad.status == 422
        body = await bad.json()
        assert (body["code"], body["record"], body["field"]) == ("record.invalid", "rec-4", "ref")
        assert "Alex" not in json.dumps(body)
    assert json.loads((tmp_path / "rejected" / "rec-4.json").read_text()) == {
        "name": "Alex Example"
    }


ADVOCACY_SAMPLES = Path(__file__).resolve().parents[2] / "adapters" / "advocacy" / "samples"


@pytest.fixture
async def advocacy(
    tmp_path: Path, keyrings: dict[str, PartyKeyring], directory: KeyDirectory
) -> AsyncIterator[tuple[HubContext, AgencyClient]]:
    """The embedded hub and an advocacy client."""
    node = MemoryNode()
    async with AsyncExitStack() as stack:
        ctx = await embedded_hub(stack, tmp_path, keyrings["hub"], directory, node)
        client = AgencyClient(
            keyrings["advocacy"], directory, MemoryBroker(node, user="advocacy"), tmp_path / "a.db"
        )
        yield ctx, await stack.enter_async_context(client)


async def _ingress_outcomes(ctx: HubContext, count: int) -> list[str]:
    async with ctx.broker.consume(ctx.names.ingress_queue, count) as ingress:
        return [await process(ctx, await next_delivery(ingress)) for _ in range(count)]


async def test_csv_export_rows_are_published_and_the_file_moved_to_done(
    advocacy: tuple[HubContext, AgencyClient], tmp_path: Path
) -> None:
    """Every row of a good CSV export is one event at the hub; the file moves to done/ as is."""
    ctx, client = advocacy
    inbox = tmp_path / "in"
    inbox.mkdir()
    shutil.copy(ADVOCACY_SAMPLES / "case_records.csv", inbox / "export.csv")
    assert _waiting(inbox, tables=True) == [inbox / "export.csv"]
    assert await publish_record(client, translator_for("advocacy"), inbox / "export.csv") == 3
    assert await _ingress_outcomes(ctx, 3) == ["disclosed"] * 3
    done = (inbox / "done" / "export.csv").read_bytes()
    assert done == (ADVOCACY_SAMPLES / "case_records.csv").read_bytes()
    assert not (inbox / "export.csv").exists()
    assert not (inbox / "rejected").exists()


async def test_csv_bad_rows_are_set_aside_and_the_rest_published(
    advocacy: tuple[HubContext, AgencyClient], tmp_path: Path
) -> None:
    """Good rows go through; bad rows land in rejected/ with the header and a per-row report."""
    ctx, client = advocacy
    inbox = tmp_path / "in"
    inbox.mkdir()
    sample = ADVOCACY_SAMPLES / "bad" / "case_records_two_bad_rows.csv"
    shutil.copy(sample, inbox / "mixed.csv")
    original = list(csv.reader(io.StringIO(sample.read_text(encoding="utf-8"), newline="")))
    assert await publish_record(client, translator_for("advocacy"), inbox / "mixed.csv") == 1
    assert await _ingress_outcomes(ctx, 1) == ["disclosed"]
    assert await client.pending() == []
    assert not (inbox / "mixed.csv").exists()

    def rows(path: Path) -> list[list[str]]:
        return list(csv.reader(io.StringIO(path.read_text(encoding="utf-8"), newline="")))

    assert rows(inbox / "done" / "mixed.csv") == original[:2]
    assert rows(inbox / "rejected" / "mixed.csv") == [original[0], *original[2:]]
    report = json.loads((inbox / "rejected" / "mixed.csv.error.json").read_text())
    assert (report["code"], report["record"], report["field"]) == (
        "record.invalid",
        "mixed.csv",
        "(rows)",
    )
    assert [(r["record"], r["field"]) for r in report["rows"]] == [
        ("mixed.csv row 3", "safeAddressPostcode"),
        ("mixed.csv row 4", "safetyPlanMeasures"),
    ]
    for secret in ("EX1 1AA!", "Alex", "07700 900123", "phone_and_device_check"):
        assert secret not in json.dumps(report)


async def test_unreadable_csv_is_set_aside_whole(
    advocacy: tuple[HubContext, AgencyClient], tmp_path: Path
) -> None:
    """A CSV whose header cannot be read moves to rejected/ whole, with one error."""
    _, client = advocacy
    inbox = tmp_path / "in"
    inbox.mkdir()
    content = "recordType,recordId,Alex Example\nreferral,R1,x\n"
    (inbox / "odd.csv").write_text(content)
    assert await publish_record(client, translator_for("advocacy"), inbox / "odd.csv") == 0
    assert (inbox / "rejected" / "odd.csv").read_text() == content
    error = json.loads((inbox / "rejected" / "odd.csv.error.json").read_text())
    assert (error["code"], error["record"]) == ("record.invalid", "odd.csv")
    assert "Alex" not in json.dumps(error)
    assert await client.pending() == []


def test_csv_files_wait_only_for_translators_that_read_them(tmp_path: Path) -> None:
    """A .csv file is picked up for a CSV-reading adapter and left alone for the others."""
    (tmp_path / "b.json").write_text("{}")
    (tmp_path / "a.csv").write_text("")
    assert _waiting(tmp_path, tables=True) == [tmp_path / "a.csv", tmp_path / "b.json"]
    assert _waiting(tmp_path, tables=False) == [tmp_path / "b.json"]


class FlakyBroker(MemoryBroker):
    """A connection whose first ``failures`` publishes are not confirmed."""

    def __init__(self, node: MemoryNode, user: str, failures: int) -> None:
        """Fail the first ``failures`` publishes with ``broker.unconfirmed``."""
        super().__init__(node, user=user)
        self.failures = failures

    async def publish(self, message: OutgoingMessage) -> None:
        """Refuse while failures remain, then publish."""
        if self.failures > 0:
            self.failures -= 1
            raise BrokerError(BrokerErrorCode.UNCONFIRMED, "publish")
        await super().publish(message)


async def test_an_unconfirmed_publish_does_not_stop_the_folder(
    tmp_path: Path, keyrings: dict[str, PartyKeyring], directory: KeyDirectory
) -> None:
    """The inbound loop outlives a publish the broker did not confirm; the record arrives once."""
    node = MemoryNode()
    inbox = tmp_path / "in"
    inbox.mkdir()
    (inbox / "r1.json").write_text(json.dumps({"ref": "EX-FLAKY"}))
    async with AsyncExitStack() as stack:
        ctx = await embedded_hub(stack, tmp_path, keyrings["hub"], directory, node)
        broker = FlakyBroker(node, "police", failures=2)
        police = await stack.enter_async_context(
            AgencyClient(keyrings["police"], directory, broker, tmp_path / "p.db")
        )
        task = asyncio.create_task(inbound(police, FakePoliceTranslator(), inbox, 0.01))
        try:
            for _ in range(500):  # bounded: 5 s at most
                if (inbox / "done" / "r1.json").exists() and not await police.pending():
                    break
                await asyncio.sleep(0.01)
            assert not task.done(), "the inbound loop stopped"
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        assert broker.failures == 0
        assert (inbox / "done" / "r1.json").exists()
        assert await police.pending() == []
        outcomes = []
        async with ctx.broker.consume(ctx.names.ingress_queue, 10) as ingress:
            while True:
                try:
                    outcomes.append(await process(ctx, await next_delivery(ingress, 0.2)))
                except TimeoutError:
                    break
        assert outcomes == ["disclosed"]
        assert len(await ctx.ledger.entries_for_event(uuid.uuid5(NAMESPACE, "EX-FLAKY"))) >= 1


async def test_a_webhook_that_fails_gets_the_delivery_again(
    parts: tuple[HubContext, AgencyClient, AgencyClient], tmp_path: Path
) -> None:
    """A 500 from the agency's webhook does not stop the adapter: the delivery comes again."""
    ctx, police, probation = parts
    answers = [500, 200]
    posted: list[str] = []
    both = asyncio.Event()

    headers: list[tuple[str, str]] = []

    async def webhook(request: web.Request) -> web.Response:
        posted.append((await request.json())["event_id"])
        headers.append((request.headers["Hub-Obligations"], request.headers["Hub-Retain-Until"]))
        if not answers[1:]:
            both.set()
        return web.Response(status=answers.pop(0))

    app = web.Application()
    app.router.add_post("/deliveries", webhook)
    inbox = tmp_path / "in"
    inbox.mkdir()
    (inbox / "r9.json").write_text(json.dumps({"ref": "EX-9"}))
    await publish_record(police, FakePoliceTranslator(), inbox / "r9.json")
    async with ctx.broker.consume(ctx.names.ingress_queue, 1) as ingress:
        await process(ctx, await next_delivery(ingress))
    async with TestServer(app, host="127.0.0.1") as server:
        settings = AdapterSettings(
            keys_dir=tmp_path, private_keys=tmp_path / "k", state_file=tmp_path / "s.db",
            webhook_url=SecretStr(str(server.make_url("/deliveries"))),
        )  # fmt: skip
        task = asyncio.create_task(outbound(probation, FakePoliceTranslator(), settings))
        try:
            async with asyncio.timeout(30):
                await both.wait()
            await asyncio.sleep(0.1)  # the 200 reaches the adapter; it goes on
            assert not task.done()
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
    event_id = str(uuid.uuid5(NAMESPACE, "EX-9"))
    assert posted == [event_id, event_id]
    assert answers == []
    encoded, until = headers[-1]
    obligations = json.loads(base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4)))
    assert obligations["prohibition"] == [{"action": "distribute"}]
    assert obligations["obligation"][0]["constraint"][0]["rightOperand"]["@value"] == until
