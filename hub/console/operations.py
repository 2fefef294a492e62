"""Operations: queue numbers, quarantine browsing (metadata only) and replay.

Queue numbers come from the broker's :class:`~hub.broker.base.QueueInspector`:
RabbitMQ's management API, or the memory node's own counts. The quarantine is
read by a *browse*: up to a bounded number of messages taken unacknowledged from
its head and given back, in order, when the request ends (the quarantine queue
has no delivery limit, so a browse burns nothing; each one adds one to the
messages' delivery count). A browse shows metadata only: ids, codes, parties,
sizes and times from an allow-list of headers, never a body.

Browses and replays of one console process take turns on one lock, so a replay
never finds its message held by a browse of the same process.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import time
import uuid
import weakref
from collections import Counter
from dataclasses import dataclass, replace
from datetime import datetime  # noqa: TC003 - a dataclass field's type
from typing import TYPE_CHECKING, Any, Final

from aiohttp import web

from hub.broker import BrokerError, OutgoingMessage, inspector_of
from hub.console.base import OPERATIONS, Param, Route
from hub.console.deps import deps_of, principal
from hub.console.history import SAMPLE_SECONDS
from hub.crypto import notice_message_id
from hub.errors import HubError
from hub.ledger import EntryDraft, LedgerError
from hub.logs import get_logger
from hub.refusals import refusal_id
from schemas.parties import PARTY_ID

if TYPE_CHECKING:
    from collections.abc import Mapping

    from aiohttp.typedefs import Handler

    from hub.broker import IncomingMessage, QueueInspector, QueueStats
    from hub.console.deps import ConsoleDeps
    from hub.context import HubContext

log = get_logger("hub.console.operations")

#: Most quarantined messages one browse request may read.
MAX_BROWSE: Final = 100
DEFAULT_BROWSE: Final = 50
#: Most quarantined messages read to count them by reason, or to find one to replay.
MAX_SCAN: Final = 1000
#: Seconds a count of quarantine by reason is reused before browsing again.
CENSUS_SECONDS: Final = 30.0
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


@dataclass
class _Census:
    at: float
    depth: int | None
    reasons: dict[str, int]
    counted: int


@dataclass(eq=False)
class _QuarantineState:
    """Per broker connection: the quarantine lock, replays in flight, the last census."""

    lock: asyncio.Lock
    replaying: set[str]
    census: _Census | None = None


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


def sender_of(message: IncomingMessage, ingress_queue: str) -> str | None:
    """The sender party of a quarantined message, if it names one (pure).

    The hub's refusals carry ``sender``; a message dead-lettered from ingress keeps
    its routing key, the sender's party id. A delivery dead-lettered from an inbox
    names its recipient, not a sender: None.
    """
    sender = message.headers.get("sender")
    if isinstance(sender, str):
        return sender
    key = message.routing_key
    from_ingress = message.headers.get("x-first-death-queue") == ingress_queue
    return key if from_ingress and PARTY_ID.match(key) else None


def quarantine_id(message: IncomingMessage) -> str | None:
    """The id a quarantined message is replayed by, written by the hub, never by a sender.

    A refusal: its decision id (``decision-id`` header, a lower-case UUID). A message
    the broker dead-lettered: its ``message_id`` only if that is such a UUID. Anything
    else has no id here, so no URL or form is ever built from what a sender chose.
    """
    decision = message.headers.get("decision-id")
    if message.headers.get("kind") == "refusal" and isinstance(decision, str):
        return decision if is_message_id(decision) else None
    mine = message.message_id
    return mine if mine is not None and is_message_id(mine) else None


def metadata(message: IncomingMessage, ingress_queue: str) -> dict[str, Any]:
    """What a browse shows of one quarantined message: never its body (pure).

    ``message_id`` is the id the sender published it with, shown only when it is
    id-shaped; ``quarantine_id`` is the one to replay it by.
    """
    headers = {k: message.headers[k] for k in SHOWN_HEADERS if k in message.headers}
    refusal = headers.get("decision-id")
    return {
        "quarantine_id": quarantine_id(message),
        "message_id": notice_message_id(message.message_id),
        "reason": reason_of(message.headers),
        "refusal_id": refusal if headers.get("kind") == "refusal" else None,
        "event_id": headers.get("event-id"),
        "event_type": headers.get("event-type"),
        "sender": sender_of(message, ingress_queue),
        "queued_at": message.timestamp.isoformat() if message.timestamp else None,
        "size_bytes": len(message.body),
        "delivery_count": message.delivery_count,
        "origin_exchange": headers.get("x-first-death-exchange"),
        "origin_queue": headers.get("x-first-death-queue"),
        "routing_key": message.routing_key or None,
    }


def _agencies(ctx: HubContext) -> list[str]:
    return sorted(p.id for p in ctx.policy.rules.parties if p.id != ctx.keyring.party)


async def _census(deps: ConsoleDeps, depth: int | None) -> _Census:
    """Quarantine counted by reason; reused for :data:`CENSUS_SECONDS` if the depth holds."""
    state, now = _state(deps.hub), time.monotonic()
    known = state.census
    if known is not None and known.depth == depth and now - known.at < CENSUS_SECONDS:
        return known
    async with state.lock, _inspector(deps.hub).browse(deps.hub.names.quarantine, MAX_SCAN) as seen:
        reasons = Counter(reason_of(m.headers) for m in seen)
        census = _Census(now, depth, dict(sorted(reasons.items())), len(seen))
    state.census = census
    return census


async def _stats(deps: ConsoleDeps) -> tuple[dict[str, QueueStats], _Census]:
    names = deps.hub.names
    wanted = [names.ingress_queue, names.quarantine, *map(names.inbox, _agencies(deps.hub))]
    try:
        stats = await _inspector(deps.hub).queue_stats(wanted)
        deps.history.record(stats, deps.clock().timestamp())
        quarantined = stats.get(names.quarantine)
        census = await _census(deps, quarantined.ready if quarantined else None)
    except BrokerError as error:
        raise _broker_failed(error) from error
    return stats, census


def watched_queues(ctx: HubContext) -> list[tuple[str, str, str]]:
    """The queues an operator watches, as ``(kind, label, queue)``: ingress, inboxes, quarantine."""
    names = ctx.names
    inboxes = [("inbox", party, names.inbox(party)) for party in _agencies(ctx)]
    return [
        ("ingress", "Ingress", names.ingress_queue),
        *inboxes,
        ("quarantine", "Quarantine", names.quarantine),
    ]


async def sample_queues(deps: ConsoleDeps) -> None:
    """Add one sample of every watched queue to the console's history (counts only).

    Raises:
        OperationsError: 503 when the broker cannot be inspected.
    """
    wanted = [queue for _, _, queue in watched_queues(deps.hub)]
    try:
        stats = await _inspector(deps.hub).queue_stats(wanted)
    except BrokerError as error:
        raise _broker_failed(error) from error
    deps.history.record(stats, deps.clock().timestamp())


async def keep_sampling(deps: ConsoleDeps, every: float = SAMPLE_SECONDS) -> None:
    """Sample the queues every ``every`` seconds until cancelled; a failed look is skipped."""
    while True:
        with contextlib.suppress(OperationsError):
            await sample_queues(deps)
        await asyncio.sleep(every)


async def queue_report(deps: ConsoleDeps) -> dict[str, Any]:
    """Every agency inbox, ingress and quarantine: depth, consumers, age, rates, reasons.

    ``oldest_seconds`` is the age of the oldest message waiting, at least, from the
    console's history where the broker reports no head timestamp (quorum queues:
    :mod:`hub.console.history`); ``growing`` says the depth has risen over ten minutes.

    Raises:
        OperationsError: 503 when the broker cannot be inspected.
    """
    stats, census = await _stats(deps)
    names, history, at = deps.hub.names, deps.history, deps.clock().timestamp()

    def view(queue: str) -> dict[str, Any] | None:
        found = stats.get(queue)
        if found is None:
            return None
        return found.as_json() | {
            "oldest_seconds": history.oldest_seconds(queue, at),
            "growing": history.growing(queue, at),
        }

    quarantine = view(names.quarantine) or {"queue": names.quarantine}
    quarantine |= {
        "by_reason": census.reasons,
        "counted": census.counted,
        "complete": census.counted < MAX_SCAN,
    }
    return {
        "ingress": view(names.ingress_queue),
        "inboxes": {p: view(names.inbox(p)) for p in _agencies(deps.hub)},
        "quarantine": quarantine,
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
    """Up to ``limit`` quarantined messages from the head, metadata only; all stay in place.

    Raises:
        OperationsError: 503 when the broker cannot be inspected or browsed.
    """
    ctx = deps.hub
    inspector = _inspector(ctx)
    try:
        async with _state(ctx).lock, inspector.browse(ctx.names.quarantine, limit) as seen:
            return [metadata(m, ctx.names.ingress_queue) for m in seen]
    except BrokerError as error:
        raise _broker_failed(error) from error


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
        provider=sender_of(message, deps.hub.names.ingress_queue),
        outcome="quarantine.replayed",
        reason_code=reason_of(message.headers),
        purpose=purpose,
        actor=actor,
    )


async def replay_message(deps: ConsoleDeps, ask: ReplayRequest, actor: str) -> Replayed:
    """Replay one quarantined message: publish to ingress, record, then remove it.

    The steps, and what each failure leaves:

    1. Publish the message's exact body to ``hub.ingress`` as the hub's own broker
       user (ADR 0009), routed by its sender, and wait for the broker's confirm.
       If that fails nothing was recorded and the message goes back to quarantine;
       an unconfirmed publish may still have been stored, so trying again may
       deliver it twice.
    2. Record a ``consultation`` entry (``quarantine.replayed``, the operator's
       token name, the original refusal code) in the ledger. If that fails the
       message goes back to quarantine, though it was already replayed; trying
       again replays it once more and records it.
    3. Ack it out of quarantine. If that fails (the channel went away) the broker
       keeps it in quarantine, replayed and recorded; the answer says
       ``removed: false`` and a later replay repeats it and records it again.

    At worst a replay is repeated. The pipeline takes that: its decision ids derive
    from the event, so a second pass finds its entries recorded and republishes
    the same deliveries, which adapters dedupe by event id (P5). Nothing is lost:
    the quarantined copy is removed only after both the publish and the record.

    Returns:
        What was replayed, and whether it was removed from quarantine.

    Raises:
        OperationsError: 404 no such message among the first :data:`MAX_SCAN`;
            409 it cannot be routed (no sender party); 503 broker or ledger failed.
    """
    ctx = deps.hub
    at = deps.clock()
    async with _state(ctx).lock, _inspector(ctx).browse(ctx.names.quarantine, MAX_SCAN) as seen:
        found = next((m for m in seen if quarantine_id(m) == ask.quarantine_id), None)
        if found is None:
            raise OperationsError(404, "quarantine.not_found", "no such quarantined message")
        sender = sender_of(found, ctx.names.ingress_queue)
        if sender is None:
            raise OperationsError(409, "quarantine.not_replayable", "the message names no sender")
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
        try:
            await found.ack()
        except BrokerError as error:
            log.warning(
                "quarantine.not_removed", code=error.code.value, message_id=ask.quarantine_id
            )
            return replace(replayed, removed=False)
    _state(ctx).census = None
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
    the quarantine and the ledger say the rest. A copy that could not be removed
    from quarantine cannot be told from its return: ``pending`` too.

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
                async with _inspector(ctx).browse(ctx.names.quarantine, MAX_SCAN) as seen:
                    found = next((m for m in seen if quarantine_id(m) == back), None)
                if found is not None:
                    return {"outcome": "refused", "code": reason_of(found.headers)}
        except (LedgerError, BrokerError):
            break
        await asyncio.sleep(FOLLOW_STEP)
    return {"outcome": "pending", "code": None}


@dataclass(frozen=True)
class Replayed:
    """A replay done: when, whether its copy left quarantine, and how to follow it."""

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
        stats, census = await _stats(deps)
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
    for reason, count in census.reasons.items():
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
