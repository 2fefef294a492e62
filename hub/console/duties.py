"""What each agency still owes the ledger: receipts for what it was sent, erasures past retention.

An operator sees, per agency, the deliveries no signed receipt covers yet and the
age of the oldest (the backlog age quorum queues do not report: a delivery the
adapter took but did not keep shows here, not in any queue); an IG officer sees,
per agency, the deliveries past the retention end the agency acknowledged with no
erasure receipt. Both come from the ledger (:mod:`hub.ledger.duties`), read at most
once every :data:`LOOK_SECONDS` whatever the number of viewers, and by the
console's own loop every minute, which also sets the gauges the alerts read
(``hub_receipts_oldest_seconds``, ``hub_erasures_overdue``).
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import TYPE_CHECKING, Any, Final

from aiohttp import web

from hub.console.base import GOVERNANCE, OPERATIONS, Route
from hub.console.deps import deps_of
from hub.ledger import LedgerError
from hub.logs import get_logger
from hub.policy import PartyKind

if TYPE_CHECKING:
    from aiohttp.typedefs import Handler

    from hub.console.deps import ConsoleDeps, DutiesView
    from hub.context import HubContext

log = get_logger("hub.console.duties")
#: A look younger than this is shown again rather than read afresh.
LOOK_SECONDS: Final = 30.0
#: Seconds between the console's own looks (which keep the gauges current).
EVERY_SECONDS: Final = 60.0


def recipients(ctx: HubContext) -> list[str]:
    """The parties the hub delivers case events to: every party but itself and evaluators."""
    return sorted(
        p.id
        for p in ctx.policy.rules.parties
        if p.id != ctx.keyring.party and p.kind is not PartyKind.EVALUATOR
    )


async def look(deps: ConsoleDeps, reuse: float = LOOK_SECONDS) -> DutiesView:
    """The view, read again from the ledger when the last look is older than ``reuse`` seconds.

    Raises:
        LedgerError: the ledger cannot be read.
    """
    view = deps.owed
    async with view.lock:
        now = deps.clock()
        if view.at is not None and (now - view.at).total_seconds() < reuse:
            return view
        view.receipts = await view.duties.awaiting_receipts(recipients(deps.hub))
        view.erasures = await view.duties.overdue_erasures(now.date())
        view.at = now
        _set_gauges(deps, view)
        return view


def _set_gauges(deps: ConsoleDeps, view: DutiesView) -> None:
    metrics, now = deps.metrics, view.at or deps.clock()
    owing = {r.recipient: r for r in view.receipts}
    overdue = {e.recipient: e.count for e in view.erasures}
    for party in recipients(deps.hub):
        awaiting = owing.get(party)
        metrics.receipts_awaiting.labels(recipient=party).set(awaiting.count if awaiting else 0)
        age = awaiting.age_seconds(now) if awaiting else 0.0
        metrics.receipts_oldest_seconds.labels(recipient=party).set(age)
        metrics.erasures_overdue.labels(recipient=party).set(overdue.get(party, 0))


def report(view: DutiesView) -> dict[str, Any]:
    """The view as JSON: per agency, what it owes (only agencies that owe anything)."""
    at = view.at
    return {
        "read_at": None if at is None else at.isoformat(),
        "receipts": [
            {
                "recipient": r.recipient,
                "count": r.count,
                "at_least": r.at_least,
                "oldest": r.oldest.isoformat(),
                "age_seconds": None if at is None else round(r.age_seconds(at)),
            }
            for r in view.receipts
        ],
        "erasures": [
            {
                "recipient": e.recipient,
                "count": e.count,
                "at_least": e.at_least,
                "earliest": e.earliest.isoformat(),
                "days_overdue": None if at is None else (at.date() - e.earliest).days,
            }
            for e in view.erasures
        ],
    }


def by_agency(found: dict[str, Any]) -> list[dict[str, Any]]:
    """The report's rows joined per agency: ``{"recipient", "receipts", "erasures"}`` (or None)."""
    receipts = {row["recipient"]: row for row in found["receipts"]}
    erasures = {row["recipient"]: row for row in found["erasures"]}
    return [
        {"recipient": party, "receipts": receipts.get(party), "erasures": erasures.get(party)}
        for party in sorted(receipts.keys() | erasures.keys())
    ]


async def owed(deps: ConsoleDeps) -> dict[str, Any] | str:
    """The report, or the code of why the ledger cannot be read."""
    try:
        return report(await look(deps))
    except LedgerError as error:
        log.warning("console.duties_unavailable", code=error.code.value)
        return error.code.value


async def keep_looking(deps: ConsoleDeps, every: float = EVERY_SECONDS) -> None:
    """Look every ``every`` seconds until cancelled (so the gauges stay current)."""
    while True:
        with contextlib.suppress(LedgerError):
            await look(deps, reuse=0.0)
        await asyncio.sleep(every)


async def duties_api(request: web.Request) -> web.Response:
    """``GET /api/duties``: per agency, deliveries not receipted and erasures overdue."""
    found = await owed(deps_of(request))
    if isinstance(found, str):
        return web.json_response({"code": found}, status=503)  # as auth.refusal answers
    return web.json_response(found)


ROUTES: Final[tuple[Route, ...]] = (
    Route(
        "duties",
        "GET",
        "/api/duties",
        "Per agency: deliveries no signed receipt covers (count, oldest) and erasures overdue",
        OPERATIONS | GOVERNANCE,
        statuses=(200, 503),
    ),
)
HANDLERS: Final[dict[str, Handler]] = {"duties": duties_api}
