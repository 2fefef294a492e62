"""`hub-adapter AGENCY --config FILE`: an agency's adapter process.

Inbound: native records (``*.json``) dropped into ``input_dir`` are translated and
published through the :class:`~adapters.client.AgencyClient` outbox; a published
record moves to ``input_dir/done/``. A record that cannot be translated moves to
``input_dir/rejected/`` with an ``.error.json`` beside it naming the record, the
field and the reason code: nothing is lost and nothing is half-sent.

An agency whose translator reads CSV exports (a
:class:`~adapters.native.table.TableTranslator`) may also drop ``*.csv`` files, one
record per row. Each row stands alone: the good rows are published and kept in
``done/`` (the whole file when every row was good), the refused rows are kept in
``rejected/`` as a CSV of the header and those rows, with one ``.error.json`` that
lists each row's error by row number and column. A file that cannot be read at all
is set aside whole, like a bad JSON record.

Records may also be posted to ``POST /records`` when ``listen_port`` is set (the
way in for a system in any language, the adapter beside it as a sidecar): the
answer is 202 with the event ids, or 422 with the same error document; a refused
record is kept in ``input_dir/rejected/`` as well when there is an input folder.
The listener serves loopback by default; on any other address it requires the
bearer token of ``listen_token_file``. ``GET /health`` answers 200 while the
adapter's loop runs (``hub-healthcheck adapter``). The contract, as OpenAPI 3.1 with
the agency's record typed: ``docs/adapters/<agency>.records.openapi.json``
(:mod:`adapters.openapi`).

Outbound: every verified delivery is rendered in the agency's native form and
written to ``output_dir`` (one file per decision, written atomically) and/or
posted to ``webhook_url``; refusal notices go to ``output_dir/refusals/``.

Retention: on start and every ``erase_every_seconds`` (an hour), each delivery
whose retention has ended (the delete-by day its obligations set) is erased: the
files this adapter wrote for it that are still in ``output_dir`` are removed, the
SDK forgets it, and a signed erasure receipt goes to the hub
(:meth:`~adapters.client.AgencyClient.erase_due`, ADR 0030). What the agency's
system took from ``output_dir`` or the webhook is its own to erase: the
obligation handed over with it says by when.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hmac
import ipaddress
import json
import re
import uuid
from pathlib import Path  # noqa: TC003 - pydantic resolves annotations at runtime
from typing import TYPE_CHECKING, Annotated, Any, Final

import aiohttp
from aiohttp import web
from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from adapters.base import RecordError
from adapters.client import AgencyClient, RefusedError
from adapters.native.table import TableTranslator, write_table
from adapters.registry import translator_for
from hub import heap, safejson
from hub.broker import BrokerError, make_broker
from hub.crypto import KeyDirectory, load_keyring
from hub.errors import HubError
from hub.logs import get_logger

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence
    from datetime import date

    from adapters.base import ReceivedEvent, Translator
    from adapters.native.table import RowResult, Table
    from schemas.base import CaseEvent

log = get_logger("adapters.runner")
#: Pause before consuming again after the broker dropped the consumer.
RETRY_SECONDS: Final = 1.0
#: A record id a caller may name in ``X-Record-Id``; anything else gets a generated one.
RECORD_ID: Final = re.compile(r"^[A-Za-z0-9._-]{1,80}$")
#: The shortest bearer token the listener accepts.
MIN_TOKEN_LENGTH: Final = 32


class AdapterSettings(BaseSettings):
    """Settings of one adapter process: a TOML file, overridden by ``HUB_ADAPTER_*``."""

    model_config = SettingsConfigDict(env_prefix="HUB_ADAPTER_", extra="forbid", frozen=True)

    keys_dir: Path
    private_keys: Path
    broker_url: SecretStr = SecretStr("memory://")
    state_file: Path
    input_dir: Path | None = None
    output_dir: Path | None = None
    webhook_url: SecretStr | None = None
    listen_port: Annotated[int, Field(ge=1024, le=65535)] | None = None
    listen_host: str = "127.0.0.1"
    #: A file holding the bearer token ``POST /records`` requires; required when
    #: ``listen_host`` is not a loopback address.
    listen_token_file: Path | None = None
    poll_seconds: Annotated[float, Field(gt=0, le=3600)] = 2.0
    #: Seconds between looks for deliveries whose retention has ended (ADR 0030).
    erase_every_seconds: Annotated[float, Field(gt=0, le=86400)] = 3600.0
    log_format: str = "auto"


def write_atomically(path: Path, document: Any) -> None:
    """Write JSON to ``path`` via a temporary file and a rename: readers never see half."""
    write_text_atomically(path, json.dumps(document, indent=2, ensure_ascii=False) + "\n")


def write_text_atomically(path: Path, text: str) -> None:
    """Write text to ``path`` via a temporary file and a rename: readers never see half."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_suffix(".tmp")
    temporary.write_text(text, encoding="utf-8")
    temporary.replace(path)


def _reject(path: Path, error: RecordError) -> None:
    rejected = path.parent / "rejected"
    rejected.mkdir(exist_ok=True)
    path.replace(rejected / path.name)
    detail = {
        "code": error.code,
        "record": error.record,
        "field": error.field,
        "problem": error.problem,
    }
    write_atomically(rejected / f"{path.name}.error.json", detail)
    log.warning("record.rejected", code=error.code, reason=error.field)


def read_record(translator: Translator, path: Path) -> list[CaseEvent] | None:
    """Translate one native record file; move a bad one aside and return ``None``."""
    result = _translate(translator, path.read_bytes(), path.name)
    if isinstance(result, RecordError):
        _reject(path, result)
        return None
    return result


def _done(path: Path) -> None:
    done = path.parent / "done"
    done.mkdir(exist_ok=True)
    path.replace(done / path.name)


async def publish_record(client: AgencyClient, translator: Translator, path: Path) -> int:
    """Translate and publish one native record file; return how many events it held.

    A bad record is moved aside with its error; the file is moved to ``done/`` only
    once every event is in the outbox and confirmed. A ``.csv`` file goes to
    :func:`publish_table` when the translator reads CSV.
    """
    if path.suffix == ".csv" and isinstance(translator, TableTranslator):
        return await publish_table(client, translator, path)
    events = await asyncio.to_thread(read_record, translator, path)
    if events is None:
        return 0
    for event in events:
        await client.publish(event)
    await asyncio.to_thread(_done, path)
    return len(events)


def read_table_file(
    translator: TableTranslator, path: Path
) -> tuple[Table, list[RowResult]] | None:
    """Translate a CSV export row by row; set an unreadable file aside and return ``None``."""
    try:
        return translator.table_to_events(path.read_bytes(), file_name=path.name)
    except RecordError as error:
        _reject(path, error)
        return None


def _reject_rows(path: Path, table: Table, refused: list[RowResult]) -> None:
    """Keep the refused rows (with the header) and every row's error in ``rejected/``."""
    errors = [result.error for result in refused if result.error is not None]
    codes = {error.code for error in errors}
    report = {
        "code": codes.pop() if len(codes) == 1 else "record.invalid",
        "record": path.name,
        "field": "(rows)",
        "problem": f"{len(errors)} of {len(table.rows)} rows refused",
        "rows": [_error_body(error) for error in errors],
    }
    rejected = path.parent / "rejected"
    write_text_atomically(
        rejected / path.name, write_table(table.columns, [r.row.values for r in refused])
    )
    write_atomically(rejected / f"{path.name}.error.json", report)
    for result, error in zip(refused, errors, strict=True):
        log.warning("record.rejected", code=error.code, reason=error.field, row=result.row.number)


def _done_rows(path: Path, table: Table, published: list[RowResult], *, partial: bool) -> None:
    """Move a wholly good file to ``done/``; of a partly good one keep only its good rows."""
    if not partial:
        _done(path)
        return
    if published:
        rows = [result.row.values for result in published]
        write_text_atomically(path.parent / "done" / path.name, write_table(table.columns, rows))
    path.unlink()


async def publish_table(client: AgencyClient, translator: TableTranslator, path: Path) -> int:
    """Translate and publish a CSV export row by row; return how many events it held.

    Refused rows are set aside first; the good rows' events are published; only then
    does the file leave the input folder. Read again after a crash, the file gives
    the same events, and the hub recognises the repeats and records nothing new.
    """
    read = await asyncio.to_thread(read_table_file, translator, path)
    if read is None:
        return 0
    table, results = read
    refused = [result for result in results if result.error is not None]
    published = [result for result in results if result.error is None]
    if refused:
        await asyncio.to_thread(_reject_rows, path, table, refused)
    events = [event for result in published for event in result.events]
    for event in events:
        await client.publish(event)
    await asyncio.to_thread(_done_rows, path, table, published, partial=bool(refused))
    return len(events)


def _waiting(folder: Path, *, tables: bool) -> list[Path]:
    found = list(folder.glob("*.json"))
    if tables:
        found += folder.glob("*.csv")
    return sorted(found)


async def inbound(client: AgencyClient, translator: Translator, folder: Path, every: float) -> None:
    """Publish records from ``folder`` as they appear, oldest name first.

    CSV exports are picked up too when the translator reads them. A publish the
    broker did not confirm leaves its events in the outbox and the file where it is;
    the loop carries on, flushing the outbox, and reads the file again (its event ids
    are stable, so the hub records each event once).
    """
    tables = isinstance(translator, TableTranslator)
    while True:
        try:
            for path in await asyncio.to_thread(_waiting, folder, tables=tables):
                await publish_record(client, translator, path)
            await client.flush()
        except BrokerError as error:
            log.warning("outbox.unconfirmed", code=error.code.value, party=client.party)
        await asyncio.sleep(every)


class RecordSink:
    """What the webhook needs: the client, the translator and where to keep rejects."""

    def __init__(self, client: AgencyClient, translator: Translator, rejected: Path | None) -> None:
        """Hold the parts."""
        self.client, self.translator, self.rejected = client, translator, rejected

    def keep(self, body: bytes, error: RecordError) -> None:
        """Keep a refused record and its error beside the folder's rejects."""
        if self.rejected is None:
            return
        self.rejected.mkdir(parents=True, exist_ok=True)
        name = f"{error.record}.json" if not error.record.endswith(".json") else error.record
        (self.rejected / name).write_bytes(body)
        detail = {
            "code": error.code,
            "record": error.record,
            "field": error.field,
            "problem": error.problem,
        }
        write_atomically(self.rejected / f"{name}.error.json", detail)


RECORDS_KEY: Final = web.AppKey("records", RecordSink)
TOKEN_KEY: Final = web.AppKey("token", str)
#: The largest record ``POST /records`` takes.
MAX_RECORD_BYTES: Final = 1024 * 1024


def _error_body(error: RecordError) -> dict[str, str]:
    return {
        "code": error.code,
        "record": error.record,
        "field": error.field,
        "problem": error.problem,
    }


def _translate(
    translator: Translator, body: bytes, record_id: str
) -> list[CaseEvent] | RecordError:
    try:
        record = safejson.loads(body)
    except safejson.UnsafeJSONError:
        return RecordError("record.invalid", record_id, "(document)", "not valid JSON")
    if not isinstance(record, dict):
        return RecordError("record.invalid", record_id, "(document)", "not an object")
    try:
        return translator.to_events(record, record_id=record_id)
    except RecordError as error:
        return error


def _unauthorised() -> web.Response:
    return web.json_response(
        {"code": "auth.invalid"}, status=401, headers={"WWW-Authenticate": "Bearer"}
    )


async def post_record(request: web.Request) -> web.Response:
    """``POST /records``: translate and publish one native record (JSON body)."""
    token = request.app.get(TOKEN_KEY)
    if token is not None:
        presented = request.headers.get("Authorization", "").removeprefix("Bearer ").strip()
        if not hmac.compare_digest(presented.encode(), token.encode()):
            return _unauthorised()
    sink = request.app[RECORDS_KEY]
    record_id = request.headers.get("X-Record-Id", "")
    if not RECORD_ID.match(record_id):
        record_id = f"webhook-{uuid.uuid4()}"
    body = await request.read()
    result = _translate(sink.translator, body, record_id)
    if isinstance(result, RecordError):
        await asyncio.to_thread(sink.keep, body, result)
        return web.json_response(_error_body(result), status=422)
    events, published = result, True
    for event in events:
        try:
            await sink.client.publish(event)
        except BrokerError as error:  # kept in the outbox, sent when the broker takes it
            log.warning("record.kept_in_outbox", code=error.code.value, record=record_id)
            published = False
    ids = [str(e.event_id) for e in events]
    return web.json_response({"events": ids, "published": published}, status=202)


async def health(_: web.Request) -> web.Response:
    """``GET /health``: the adapter's loop answers (no token; it says nothing else)."""
    return web.json_response({"status": "ok"})


def records_app(sink: RecordSink, token: str | None = None) -> web.Application:
    """The listener: ``POST /records`` (1 MiB at most; ``token`` if given) and ``GET /health``."""
    app = web.Application(client_max_size=MAX_RECORD_BYTES)
    app[RECORDS_KEY] = sink
    if token is not None:
        app[TOKEN_KEY] = token
    app.router.add_post("/records", post_record)
    app.router.add_get("/health", health)
    return app


def listener_token(settings: AdapterSettings) -> str | None:
    """The token the listener requires: none on loopback without a token file.

    Raises:
        HubError: ``settings.invalid`` when the listener is off loopback without a
            token file, or the token file is unreadable or empty.
    """
    if settings.listen_token_file is None:
        if not ipaddress.ip_address(settings.listen_host).is_loopback:
            raise HubError(
                "settings.invalid",
                "listen_token_file: required when listen_host is not a loopback address",
            )
        return None
    path = settings.listen_token_file
    try:
        token = path.read_text(encoding="ascii").strip()
    except (OSError, UnicodeDecodeError) as error:
        raise HubError("settings.invalid", f"listen_token_file: {path}: {error}") from None
    if len(token) < MIN_TOKEN_LENGTH:
        raise HubError(
            "settings.invalid",
            f"listen_token_file: {path}: a token of at least {MIN_TOKEN_LENGTH} characters",
        )
    return token


async def start_listener(
    stack: contextlib.AsyncExitStack, sink: RecordSink, settings: AdapterSettings
) -> str:
    """Serve :func:`records_app` on ``listen_host:listen_port`` until ``stack`` closes.

    Returns:
        The listener's URL.

    Raises:
        HubError: ``settings.invalid`` (see :func:`listener_token`), or
            ``adapter.port_unavailable``.
    """
    token = listener_token(settings)
    runner = web.AppRunner(records_app(sink, token), access_log=None)
    await runner.setup()
    stack.push_async_callback(runner.cleanup)
    site = web.TCPSite(runner, settings.listen_host, settings.listen_port)
    try:
        await site.start()
    except OSError:
        where = f"{settings.listen_host}:{settings.listen_port}"
        raise HubError("adapter.port_unavailable", f"cannot listen on {where}") from None
    host, port = runner.addresses[0][:2]
    url = f"http://{host}:{port}/records"
    log.info("records.listening", listen_url=url, via="bearer" if token else "loopback")
    return url


async def deliver(received: ReceivedEvent, translator: Translator, settings: AdapterSettings,
                  session: aiohttp.ClientSession | None) -> None:  # fmt: skip
    """Render one delivery natively; write it and/or post it, with its obligations.

    The obligations (the ODRL policy the hub signed) are handed over first: in the
    output folder as ``<decision id>.odrl.jsonld`` beside the record, and to a
    webhook as the ``Hub-Obligations`` header (base64url of the same JSON) with
    ``Hub-Retain-Until`` (the delete-by date) when one is set.
    """
    native = translator.render_delivery(received)
    obligations = dict(received.obligations) if received.obligations is not None else None
    if settings.output_dir is not None:
        if obligations is not None:
            rules = settings.output_dir / f"{received.decision_id}.odrl.jsonld"
            await asyncio.to_thread(write_atomically, rules, obligations)
        target = settings.output_dir / f"{received.decision_id}.json"
        await asyncio.to_thread(write_atomically, target, native)
    if session is not None and settings.webhook_url is not None:
        url = settings.webhook_url.get_secret_value()
        headers = {}
        if obligations is not None:
            encoded = json.dumps(obligations, separators=(",", ":")).encode()
            headers["Hub-Obligations"] = base64.urlsafe_b64encode(encoded).decode().rstrip("=")
        if received.retain_until is not None:
            headers["Hub-Retain-Until"] = received.retain_until.isoformat()
        async with session.post(
            url, json=native, headers=headers, timeout=aiohttp.ClientTimeout(total=30)
        ) as response:
            response.raise_for_status()


def remove_outputs(output_dir: Path, decision_ids: Sequence[uuid.UUID]) -> int:
    """Remove the files :func:`deliver` wrote for ``decision_ids`` that are still there; how many.

    A file already gone (taken by the agency's system, or removed before a crash)
    is no error: the call may be repeated.
    """
    removed = 0
    for decision_id in decision_ids:
        for name in (f"{decision_id}.json", f"{decision_id}.odrl.jsonld"):
            with contextlib.suppress(FileNotFoundError):
                (output_dir / name).unlink()
                removed += 1
    return removed


async def erasure(
    client: AgencyClient, settings: AdapterSettings, today: Callable[[], date] | None = None
) -> None:
    """Erase what has reached its retention end, on start and every ``erase_every_seconds``.

    A broker that does not confirm an erasure receipt leaves it stored in the
    state file: it is sent with the next round, or on start. ``today`` gives the
    day to erase up to (today in UTC by default).
    """
    output_dir = settings.output_dir

    async def erase(decision_ids: Sequence[uuid.UUID]) -> None:
        if output_dir is not None:
            await asyncio.to_thread(remove_outputs, output_dir, decision_ids)

    while True:
        try:
            await client.erase_due(today=None if today is None else today(), erase=erase)
        except BrokerError as error:
            log.warning("erasure.receipt_not_sent", code=error.code.value, party=client.party)
        except OSError as error:
            log.warning("erasure.failed", reason=type(error).__name__, party=client.party)
        await asyncio.sleep(settings.erase_every_seconds)


async def outbound(client: AgencyClient, translator: Translator, settings: AdapterSettings) -> None:
    """Render every delivery; record refusal notices; never stop on a notice.

    A broker failure ends the current consumer, not the loop: unacknowledged
    deliveries come again and are recognised by event id. So does a delivery the
    agency's system did not take (the webhook answered an error or not at all, the
    output folder could not be written): it is not acknowledged, and comes again
    after a pause.
    """
    async with contextlib.AsyncExitStack() as stack:
        session = None
        if settings.webhook_url is not None:
            session = await stack.enter_async_context(aiohttp.ClientSession())
        while True:
            try:
                async with contextlib.aclosing(client.deliveries()) as deliveries:
                    async for received in deliveries:
                        await deliver(received, translator, settings, session)
            except (aiohttp.ClientError, OSError, TimeoutError) as error:
                log.warning("delivery.not_handed_over", reason=type(error).__name__)
                await asyncio.sleep(RETRY_SECONDS)
            except RefusedError as refusal:
                if settings.output_dir is not None:
                    notice = {"code": refusal.code, "event_id": str(refusal.event_id)}
                    write_atomically(
                        settings.output_dir / "refusals" / f"{refusal.decision_id}.json", notice
                    )
            except BrokerError as error:
                log.warning("deliveries.interrupted", code=error.code.value, party=client.party)
                await asyncio.sleep(RETRY_SECONDS)


async def run(
    agency: str, settings: AdapterSettings, stop: asyncio.Event, *, settle: bool = False
) -> int:
    """Run the adapter until ``stop`` is set.

    With ``settle`` (the ``hub-adapter`` process), the start-up heap is frozen out of
    later garbage collections once the client has started (:func:`hub.heap.settle`).
    """
    translator = translator_for(agency)
    keyring = load_keyring(settings.private_keys)
    directory = KeyDirectory.load(settings.keys_dir)
    broker = make_broker(settings.broker_url.get_secret_value())
    listener_token(settings)  # a listener off loopback without a token: refused before starting
    async with (
        AgencyClient(keyring, directory, broker, settings.state_file) as client,
        contextlib.AsyncExitStack() as stack,
    ):
        if settings.listen_port is not None:
            rejected = settings.input_dir / "rejected" if settings.input_dir else None
            await start_listener(stack, RecordSink(client, translator, rejected), settings)
        if settle:
            heap.settle()
        tasks = [
            asyncio.create_task(outbound(client, translator, settings)),
            asyncio.create_task(erasure(client, settings)),
        ]
        if settings.input_dir is not None:
            tasks.append(
                asyncio.create_task(
                    inbound(client, translator, settings.input_dir, settings.poll_seconds)
                )
            )
        await stop.wait()
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    return 0
