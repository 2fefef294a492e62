"""Operations: queue numbers, the quarantine (metadata only) and replay.

Queue numbers come from the broker's :class:`~hub.broker.base.QueueInspector`:
RabbitMQ's management API, or the memory node's own counts. The quarantine is the
stream ``hub.quarantine.log`` of the hub's refusals (:mod:`hub.console.quarantine`):
each look reads what is new since the last into this console's index, which takes
nothing out of the stream and counts no delivery, so looking never changes it. A
look shows metadata only: ids, codes, parties, sizes and times from an allow-list
of headers, never a body. A replay reads the one refusal's bytes again, publishes
them to ingress, records the replay and marks the refusal resolved.

Looks and replays of one console process take turns on one lock.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import time
import uuid
import weakref
from dataclasses import dataclass, field, replace
from datetime import datetime  # noqa: TC003 - a dataclass field's type
from typing import TYPE_CHECKING, Any, Final

from aiohttp import web

from hub.broker import BrokerError, OutgoingMessage, QueueStats, inspector_of
from hub.console.base import OPERATIONS, Param, Route
from hub.console.deps import deps_of, principal
from hub.console.history import SAMPLE_SECONDS
from hub.console.quarantine import RESOLVED, SYNC, Parked, QuarantineIndex, is_mark, mark
from hub.crypto import notice_message_id
from hub.errors import HubError
from hub.ledger import EntryDraft, LedgerError
from hub.logs import get_logger
from hub.refusals import refusal_id
from schemas.parties import PARTY_ID

if TYPE_CHECKING:
    from collections.abc import Mapping

    from aiohttp.typedefs import Handler

    from hub.broker import IncomingMessage, QueueInspector
    from hub.console.deps import ConsoleDeps
    from hub.context import HubContext

log = get_logger("hub.console.operations")

#: Most quarantined messages one browse request may read.
MAX_BROWSE: Final = 100
DEFAULT_BROWSE: Final = 50
#: Seconds a look at the quarantine may reuse what the console last read, by who asks:
#: a person (the pages and the API), the metrics scrape, the background sampler. A
#: replay always reads to the end first.
LOOK_SECONDS: Final = 5.0
SCRAPE_SECONDS: Final = 60.0
SAMPLE_SYNC_SECONDS: Final = 300.0
#: Why an operator replays: a fixed list, so the ledger holds no free text.
REPLAY_REASONS: Final = frozenset(
    {"cause_fixed", "key_registered", "agreement_activated", "schema_loaded", "hub_fixed"}
)
REFERENCE_PATTERN: Final = re.compile(r"^[A-Za-z0-9-]{1,32}$")
_UUID: Final = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
_MAX_BODY: Final = 1024
#: How long a replay's answer waits to say what became of the message, and how often
#: it looks in the ledger meanwhile.
FOLLOW_SECONDS: Final = 3.0
FOLLOW_STEP: Final = 0.2
#: Headers of a quarantined message shown to operators: ids, codes and parties only.
SHOWN_HEADERS: Final = (
    "event-id",
    "event-type",
    "decision-id",
    "sender",
    "reason",
    "kind",
    "x-first-death-reason",
    "x-first-death-queue",
    "x-first-death-exchange",
)


class OperationsError(HubError):
    """A request the operations routes answer with an error: status and stable code."""

    def __init__(self, status: int, code: str, detail: str) -> None:
        """Make an error; ``detail`` names what failed, never a value the user sent."""
        super().__init__(code, detail)
        self.status = status

    def response(self) -> web.Response:
        """The JSON answer ``{"code", "detail"}``."""
        return web.json_response({"code": self.code, "detail": self.detail}, status=self.status)


@dataclass(eq=False)
class _QuarantineState:
    """Per broker connection: the lock, replays in flight, and what was read of the stream."""

    lock: asyncio.Lock
    replaying: set[str]
    index: QuarantineIndex = field(default_factory=QuarantineIndex)


_STATES: Final[weakref.WeakKeyDictionary[object, _QuarantineState]] = weakref.WeakKeyDictionary()


def _state(ctx: HubContext) -> _QuarantineState:
    state = _STATES.get(ctx.broker)
    if state is None:
        state = _STATES[ctx.broker] = _QuarantineState(asyncio.Lock(), set())
    return state


def _inspector(ctx: HubContext) -> QueueInspector:
    inspector = inspector_of(ctx.broker)
    if inspector is None:
        raise OperationsError(503, "broker.management_not_configured", "broker cannot be inspected")
    return inspector


def _broker_failed(error: BrokerError) -> OperationsError:
    log.warning("console.broker_failed", code=error.code.value)
    return OperationsError(503, error.code.value, error.detail)


def reason_of(headers: Mapping[str, object]) -> str:
    """The reason a message is in quarantine, as a bounded code (pure).

    The hub's refusals carry ``reason``; a message the broker dead-lettered carries
    ``x-first-death-reason`` (``delivery_limit``, ``rejected``...), shown as
    ``deadletter.<reason>``; anything else is ``unknown``.
    """
    reason = headers.get("reason")
    if isinstance(reason, str):
        return reason
    death = headers.get("x-first-death-reason")
    return f"deadletter.{death}" if isinstance(death, str) else "unknown"


def sender_of(headers: Mapping[str, object]) -> str | None:
    """The sender party a refusal names, if any (pure): its ``sender`` header."""
    sender = headers.get("sender")
    return sender if isinstance(sender, str) and PARTY_ID.match(sender) else None


def metadata(parked: Parked) -> dict[str, Any]:
    """What a look shows of one quarantined refusal: never its body (pure).

    ``message_id`` is the id the sender published it with, shown only when it is
    id-shaped; ``quarantine_id`` is the one to replay it by (the refusal's id).
    """
    headers = {k: parked.headers[k] for k in SHOWN_HEADERS if k in parked.headers}
    return {
        "quarantine_id": parked.quarantine_id,
        "message_id": notice_message_id(parked.message_id),
        "reason": reason_of(parked.headers),
        "refusal_id": parked.quarantine_id if headers.get("kind") == "refusal" else None,
        "event_id": headers.get("event-id"),
        "event_type": headers.get("event-type"),
        "sender": sender_of(parked.headers),
        "queued_at": parked.queued_at.isoformat() if parked.queued_at else None,
        "size_bytes": parked.size_bytes,
        "origin_exchange": headers.get("x-first-death-exchange"),
        "origin_queue": headers.get("x-first-death-queue"),
        "routing_key": parked.routing_key or None,
    }


def _agencies(ctx: HubContext) -> list[str]:
    return sorted(p.id for p in ctx.policy.rules.parties if p.id != ctx.keyring.party)


async def _read_to_now(deps: ConsoleDeps, state: _QuarantineState) -> QuarantineIndex:
    """Write a sync mark and read the stream up to it; the caller holds ``state.lock``."""
    ctx, index = deps.hub, state.index
    inspector = _inspector(ctx)
    sync = str(uuid.uuid4())
    try:
        await ctx.broker.publish(mark(ctx.names, SYNC, sync))
        read = await inspector.read_log(
            ctx.names.quarantine_log, index.cursor, lambda m: is_mark(m, SYNC, sync)
        )
    except BrokerError as error:
        raise _broker_failed(error) from error
    for message in read:
        index.take(message)
    index.synced_at = time.monotonic()
    return index


async def quarantine_index(deps: ConsoleDeps, reuse: float = LOOK_SECONDS) -> QuarantineIndex:
    """The quarantine as this console has read it, read to now unless read within ``reuse`` s.

    Raises:
        OperationsError: 503 when the broker cannot be inspected or read.
    """
    state = _state(deps.hub)
    index = state.index
    if index.synced_at is not None and time.monotonic() - index.synced_at < reuse:
        return index
    async with state.lock:
        return await _read_to_now(deps, state)


def _oldest(index: QuarantineIndex, at: datetime) -> float | None:
    parked = index.parked()
    if not parked:
        return 0.0
    first = parked[0].queued_at
    return None if first is None else max(0.0, (at - first).total_seconds())


def _quarantine_stats(ctx: HubContext, index: QuarantineIndex, at: datetime) -> QueueStats:
    """The quarantine's numbers as a queue's: what is parked, not what the stream holds."""
    return QueueStats(
        ctx.names.quarantine_log,
        ready=len(index),
        unacked=0,
        consumers=None,
        oldest_seconds=_oldest(index, at),
    )


async def _stats(
    deps: ConsoleDeps, reuse: float = LOOK_SECONDS
) -> tuple[dict[str, QueueStats], QuarantineIndex]:
    """Every watched queue's numbers (the quarantine's from its index), and the index.

    Each look is also a sample of the console's history.

    Raises:
        OperationsError: 503 when the broker cannot be inspected or read.
    """
    ctx = deps.hub
    names = ctx.names
    wanted = [names.ingress_queue, names.quarantine, *map(names.inbox, _agencies(ctx))]
    try:
        stats = await _inspector(ctx).queue_stats(wanted)
    except BrokerError as error:
        raise _broker_failed(error) from error
    index = await quarantine_index(deps, reuse)
    stats[names.quarantine_log] = _quarantine_stats(ctx, index, deps.clock())
    deps.history.record(stats, deps.clock().timestamp())
    return stats, index


def watched_queues(ctx: HubContext) -> list[tuple[str, str, str]]:
    """The queues an operator watches, as ``(kind, label, queue)``: ingress, inboxes, quarantine.

    ``dead_letters`` is the queue the broker dead-letters to, which the workers
    empty (:mod:`hub.reconcile`); ``quarantine`` is the hub's refusals.
    """
    names = ctx.names
    inboxes = [("inbox", party, names.inbox(party)) for party in _agencies(ctx)]
    return [
        ("ingress", "Ingress", names.ingress_queue),
        *inboxes,
        ("quarantine", "Quarantine", names.quarantine_log),
        ("dead_letters", "Dead letters", names.quarantine),
    ]


async def sample_queues(deps: ConsoleDeps, reuse: float = SAMPLE_SYNC_SECONDS) -> None:
    """Add one sample of every watched queue to the console's history (counts only).

    Raises:
        OperationsError: 503 when the broker cannot be inspected.
    """
    await _stats(deps, reuse)


async def keep_sampling(deps: ConsoleDeps, every: float = SAMPLE_SECONDS) -> None:
    """Sample the queues every ``every`` seconds until cancelled; a failed look is skipped."""
    while True:
        with contextlib.suppress(OperationsError):
            await sample_queues(deps)
        await asyncio.sleep(every)


async def queue_report(deps: ConsoleDeps) -> dict[str, Any]:
    """Every agency inbox, ingress, the dead letters and the quarantine: numbers and reasons.

    ``oldest_seconds`` is the age of the oldest message waiting, at least, from the
    console's history where the broker reports no head timestamp (quorum queues:
    :mod:`hub.console.history`); ``growing`` says the depth has risen over ten
    minutes. The quarantine's numbers are its parked refusals, counted by reason.

    Raises:
        OperationsError: 503 when the broker cannot be inspected.
    """
    stats, index = await _stats(deps)
    names, history, now = deps.hub.names, deps.history, deps.clock()
    at = now.timestamp()

    def view(queue: str) -> dict[str, Any] | None:
        found = stats.get(queue)
        if found is None:
            return None
        return found.as_json() | {
            "oldest_seconds": history.oldest_seconds(queue, at),
            "growing": history.growing(queue, at),
        }

    quarantine = (view(names.quarantine_log) or {}) | {
        "oldest_seconds": _oldest(index, now),
        "growing": history.growing(names.quarantine_log, at),
        "by_reason": index.by_reason(),
        "counted": len(index),
        "complete": True,
    }
    return {
        "ingress": view(names.ingress_queue),
        "inboxes": {p: view(names.inbox(p)) for p in _agencies(deps.hub)},
        "quarantine": quarantine,
        "dead_letters": view(names.quarantine),
    }


async def queues(request: web.Request) -> web.Response:
    """``GET /api/queues``: the numbers of :func:`queue_report`; 503 explained."""
    try:
        return web.json_response(await queue_report(deps_of(request)))
    except OperationsError as error:
        return error.response()


def _limit(request: web.Request) -> int:
    if set(request.query) - {"limit"}:
        raise OperationsError(400, "console.bad_request", "only limit may be given")
    raw = request.query.get("limit", str(DEFAULT_BROWSE))
    if not re.fullmatch(r"[0-9]{1,3}", raw) or not 1 <= int(raw) <= MAX_BROWSE:
        raise OperationsError(
            400, "console.bad_request", f"limit must be a whole number from 1 to {MAX_BROWSE}"
        )
    return int(raw)


async def browse_quarantine(deps: ConsoleDeps, limit: int) -> list[dict[str, Any]]:
    """Up to ``limit`` quarantined refusals, oldest first, metadata only; nothing moves.

    Raises:
        OperationsError: 503 when the broker cannot be inspected or read.
    """
    index = await quarantine_index(deps)
    return [metadata(parked) for parked in index.parked()[:limit]]


async def quarantine(request: web.Request) -> web.Response:
    """``GET /api/quarantine``: the metadata of :func:`browse_quarantine` and the limit."""
    try:
        limit = _limit(request)
        shown = await browse_quarantine(deps_of(request), limit)
    except OperationsError as error:
        return error.response()
    return web.json_response({"messages": shown, "limit": limit})


@dataclass(frozen=True)
class ReplayRequest:
    """A checked replay request: the message (its quarantine id), why, and a reference."""

    quarantine_id: str
    reason: str
    reference: str | None


def is_message_id(text: str) -> bool:
    """Whether ``text`` is an id as the hub writes them: a lower-case UUID (pure)."""
    return _UUID.match(text) is not None


def _quarantine_id(text: str) -> str:
    if not is_message_id(text):
        raise OperationsError(400, "console.bad_request", "a quarantine id is a lower-case UUID")
    return text


def parse_replay(quarantine: str, reason: object, reference: object) -> ReplayRequest:
    """Check a replay request: the quarantine id, a reason from the list, an optional reference.

    Raises:
        OperationsError: 400 ``console.bad_request``; the detail never repeats the value.
    """
    _quarantine_id(quarantine)
    if not isinstance(reason, str) or reason not in REPLAY_REASONS:
        allowed = ", ".join(sorted(REPLAY_REASONS))
        raise OperationsError(400, "console.bad_request", f"reason must be one of {allowed}")
    if reference is not None and not (
        isinstance(reference, str) and REFERENCE_PATTERN.match(reference)
    ):
        raise OperationsError(400, "console.bad_request", "reference must match [A-Za-z0-9-]{1,32}")
    return ReplayRequest(quarantine, reason, reference)


async def _replay_request(request: web.Request) -> ReplayRequest:
    quarantine = _quarantine_id(request.match_info["quarantine_id"])
    if request.content_length is not None and request.content_length > _MAX_BODY:
        raise OperationsError(400, "console.bad_request", "body too large")
    try:
        body = await request.json() if request.can_read_body else None
    except ValueError:
        body = None
    if not isinstance(body, dict) or set(body) - {"reason", "reference"}:
        raise OperationsError(
            400, "console.bad_request", 'body must be {"reason": ..., "reference": ...}'
        )
    return parse_replay(quarantine, body.get("reason"), body.get("reference"))


def _replayed(ctx: HubContext, message: IncomingMessage, sender: str) -> OutgoingMessage:
    event_id = message.headers.get("event-id")
    return OutgoingMessage(
        exchange=ctx.names.ingress,
        routing_key=sender,
        body=message.body,
        message_id=event_id if isinstance(event_id, str) else str(message.message_id),
        user_id=ctx.broker.user,
        headers={"kind": "replay"},
    )


def _record(
    deps: ConsoleDeps, message: IncomingMessage, ask: ReplayRequest, actor: str
) -> EntryDraft:
    event_id = message.headers.get("event-id")
    purpose = ask.reason if ask.reference is None else f"{ask.reason} #{ask.reference}"
    return EntryDraft(
        kind="consultation",
        decision_id=uuid.uuid4(),
        recorded_at=deps.clock(),
        event_id=uuid.UUID(event_id) if isinstance(event_id, str) else None,
        provider=sender_of(message.headers),
        outcome="quarantine.replayed",
        reason_code=reason_of(message.headers),
        purpose=purpose,
        actor=actor,
    )


async def _bytes_of(ctx: HubContext, parked: Parked) -> IncomingMessage:
    """The refusal ``parked`` as it was published, read again from the stream.

    Raises:
        OperationsError: 404 when the stream no longer keeps it (past its retention);
            503 when the broker fails.
    """
    try:
        (message,) = await _inspector(ctx).read_log(
            ctx.names.quarantine_log, parked.offset - 1, lambda _: True
        )
    except BrokerError as error:
        raise _broker_failed(error) from error
    if (
        message.offset != parked.offset
        or message.headers.get("decision-id") != parked.quarantine_id
    ):
        raise OperationsError(404, "quarantine.not_found", "the quarantine no longer keeps it")
    return message


async def replay_message(deps: ConsoleDeps, ask: ReplayRequest, actor: str) -> Replayed:
    """Replay one quarantined refusal: publish to ingress, record, then mark it resolved.

    The steps, and what each failure leaves:

    1. Read the quarantine to now, find the refusal and read its bytes again.
    2. Publish the message's exact body to ``hub.ingress`` as the hub's own broker
       user (ADR 0009), routed by its sender, and wait for the broker's confirm.
       If that fails nothing was recorded and the refusal stays parked; an
       unconfirmed publish may still have been stored, so trying again may
       deliver it twice.
    3. Record a ``consultation`` entry (``quarantine.replayed``, the operator's
       token name, the original refusal code) in the ledger. If that fails the
       refusal stays parked, though it was already replayed; trying again replays
       it once more and records it.
    4. Publish a ``resolved`` mark for it to the quarantine's stream. If that
       fails the refusal stays parked, replayed and recorded; the answer says
       ``removed: false`` and a later replay repeats it and records it again.

    At worst a replay is repeated. The pipeline takes that: its decision ids derive
    from the event, so a second pass finds its entries recorded and republishes
    the same deliveries, which adapters dedupe by event id (P5). Nothing is lost:
    the refusal leaves the view only after both the publish and the record, and
    its bytes stay in the stream until its retention ends.

    Returns:
        What was replayed, and whether it left the quarantine.

    Raises:
        OperationsError: 404 not parked; 409 it cannot be routed (no sender party);
            503 broker or ledger failed.
    """
    ctx = deps.hub
    at = deps.clock()
    state = _state(ctx)
    async with state.lock:
        index = await _read_to_now(deps, state)
        parked = index.find(ask.quarantine_id)
        if parked is None:
            raise OperationsError(404, "quarantine.not_found", "no such quarantined message")
        sender = sender_of(parked.headers)
        if sender is None:
            raise OperationsError(409, "quarantine.not_replayable", "the message names no sender")
        found = await _bytes_of(ctx, parked)
        try:
            await ctx.broker.publish(_replayed(ctx, found, sender))
            await ctx.ledger.append([_record(deps, found, ask, actor)])
        except (BrokerError, LedgerError) as error:
            log.warning(
                "quarantine.replay_failed", code=error.code.value, message_id=ask.quarantine_id
            )
            raise OperationsError(503, error.code.value, "replay not done; try again") from error
        replayed = Replayed(
            removed=True,
            at=at,
            refusal_id=refusal_id(found.body, ctx.broker.user),
            event_id=_event_id(found),
        )
        state.index.synced_at = None  # the next look reads the mark, whatever it reuses
        try:
            await ctx.broker.publish(mark(ctx.names, RESOLVED, ask.quarantine_id))
        except BrokerError as error:
            log.warning(
                "quarantine.not_removed", code=error.code.value, message_id=ask.quarantine_id
            )
            return replace(replayed, removed=False)
    return replayed


def _event_id(message: IncomingMessage) -> uuid.UUID | None:
    value = message.headers.get("event-id")
    return uuid.UUID(value) if isinstance(value, str) and is_message_id(value) else None


async def next_outcome(
    deps: ConsoleDeps, replayed: Replayed, wait: float = FOLLOW_SECONDS
) -> dict[str, str | None]:
    """What became of a replayed message, watched for up to ``wait`` seconds.

    The hub takes the replay like any message. Refused again, it comes straight
    back to the quarantine as a refusal of the replay's bytes from the hub's own
    broker user (its quarantine id is that refusal's id); accepted, its event's
    decisions are in the ledger. After a bounded wait the answer is ``pending``:
    the quarantine and the ledger say the rest. A refusal that could not be marked
    resolved cannot be told from its return: ``pending`` too.

    Returns:
        ``{"outcome": "refused", "code": ...}``, ``{"outcome": "recorded", "code": None}``
        or ``{"outcome": "pending", "code": None}``.
    """
    ctx, back = deps.hub, str(replayed.refusal_id)
    for _ in range(max(1, round(wait / FOLLOW_STEP))):
        try:
            if replayed.event_id is not None and any(
                e.kind == "disclosure"
                for e in await ctx.ledger.entries_for_event(replayed.event_id)
            ):
                return {"outcome": "recorded", "code": None}
            if replayed.removed:
                found = (await quarantine_index(deps, reuse=0.0)).find(back)
                if found is not None:
                    return {"outcome": "refused", "code": reason_of(found.headers)}
        except (LedgerError, OperationsError):
            break
        await asyncio.sleep(FOLLOW_STEP)
    return {"outcome": "pending", "code": None}


@dataclass(frozen=True)
class Replayed:
    """A replay done: when, whether it left the quarantine, and how to follow it."""

    removed: bool
    at: datetime
    refusal_id: uuid.UUID
    event_id: uuid.UUID | None


async def replay_once(deps: ConsoleDeps, ask: ReplayRequest, actor: str | None) -> Replayed:
    """Replay ``ask`` (see :func:`replay_message`), one replay of a message at a time.

    Args:
        deps: the console's dependencies.
        ask: the checked request.
        actor: the operator's token name, recorded in the ledger (``unknown`` if None).

    Returns:
        What was replayed (see :func:`replay_message`).

    Raises:
        OperationsError: 409 ``quarantine.replay_in_progress`` while this process
            replays the same message; otherwise as :func:`replay_message`, with a
            broker failure as 503.
    """
    replaying = _state(deps.hub).replaying
    if ask.quarantine_id in replaying:
        raise OperationsError(409, "quarantine.replay_in_progress", "already replaying")
    replaying.add(ask.quarantine_id)
    try:
        replayed = await replay_message(deps, ask, "unknown" if actor is None else actor)
    except BrokerError as error:
        raise _broker_failed(error) from error
    finally:
        replaying.discard(ask.quarantine_id)
    log.info(
        "quarantine.replayed", message_id=ask.quarantine_id, reason=ask.reason, token_name=actor
    )
    return replayed


async def replay(request: web.Request) -> web.Response:
    """``POST /api/quarantine/{quarantine_id}/replay``: replay, then say what became of it."""
    who = principal(request)
    deps = deps_of(request)
    try:
        ask = await _replay_request(request)
        replayed = await replay_once(deps, ask, who.name if who else None)
    except OperationsError as error:
        return error.response()
    answer = {
        "quarantine_id": ask.quarantine_id,
        "replayed": True,
        "removed": replayed.removed,
        "next": await next_outcome(deps, replayed),
    }
    return web.json_response(answer)


async def refresh_queue_gauges(deps: ConsoleDeps) -> None:
    """Set the inbox and quarantine gauges of ``deps.metrics`` from the queue numbers.

    A broker that cannot be inspected leaves the gauges as they were (logged).
    """
    try:
        stats, index = await _stats(deps, SCRAPE_SECONDS)
    except OperationsError as error:
        log.warning("console.gauges_stale", code=error.code)
        return
    metrics, names, at = deps.metrics, deps.hub.names, deps.clock().timestamp()
    for party in _agencies(deps.hub):
        found = stats.get(names.inbox(party))
        if found is None:
            continue
        if found.ready is not None:
            metrics.inbox_messages.labels(recipient=party).set(found.ready)
        if found.consumers is not None:
            metrics.inbox_consumers.labels(recipient=party).set(found.consumers)
        oldest = deps.history.oldest_seconds(names.inbox(party), at)
        if oldest is not None:  # unknown is left out, never shown as zero
            metrics.inbox_oldest_seconds.labels(recipient=party).set(oldest)
    metrics.quarantine_messages.clear()
    for reason, count in index.by_reason().items():
        metrics.quarantine_messages.labels(reason=reason).set(count)


def _route(name: str, method: str, path: str, summary: str, **kw: Any) -> Route:
    return Route(name, method, path, summary, OPERATIONS, **kw)


ROUTES: Final[tuple[Route, ...]] = (
    _route(
        "queues",
        "GET",
        "/api/queues",
        "Each agency inbox, ingress and quarantine: depth, consumers, oldest age, rates",
        statuses=(200, 503),
    ),
    _route(
        "quarantine",
        "GET",
        "/api/quarantine",
        "Quarantined messages from the head, metadata only; every one stays in place",
        statuses=(200, 400, 503),
        example="/api/quarantine?limit=10",
        parameters=(
            Param(
                "limit",
                "query",
                {"type": "integer", "minimum": 1, "maximum": MAX_BROWSE},
                description="How many messages from the head to show",
            ),
        ),
    ),
    _route(
        "quarantine_replay",
        "POST",
        "/api/quarantine/{quarantine_id}/replay",
        "Replay a quarantined message to ingress once its cause is fixed (recorded)",
        statuses=(200, 400, 404, 409, 503),
        example="/api/quarantine/00000000-0000-4000-8000-000000000000/replay",
        parameters=(
            Param(
                "quarantine_id",
                "path",
                {"type": "string", "pattern": _UUID.pattern},
                description="The quarantine_id a browse gives (the refusal's decision id)",
            ),
        ),
        body={
            "type": "object",
            "properties": {
                "reason": {"type": "string", "enum": sorted(REPLAY_REASONS)},
                "reference": {"type": "string", "pattern": REFERENCE_PATTERN.pattern},
            },
            "required": ["reason"],
            "additionalProperties": False,
        },
    ),
)
HANDLERS: Final[dict[str, Handler]] = {
    "queues": queues,
    "quarantine": quarantine,
    "quarantine_replay": replay,
}
