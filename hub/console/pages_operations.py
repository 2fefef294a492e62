"""The operations pages: queue numbers, the quarantine's metadata and replay.

Each page calls the data function of :mod:`hub.console.operations` that the JSON
API calls (:func:`~hub.console.operations.queue_report`,
:func:`~hub.console.operations.browse_quarantine`,
:func:`~hub.console.operations.replay_once`), so a page and the API read and
replay the same way; a failure becomes a notice naming its stable code.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Final

from hub.console.base import OPERATIONS
from hub.console.deps import deps_of, principal
from hub.console.operations import (
    DEFAULT_BROWSE,
    REPLAY_REASONS,
    OperationsError,
    browse_quarantine,
    is_message_id,
    next_outcome,
    parse_replay,
    queue_report,
    replay_once,
)
from hub.console.pages import form_values, page_route, render

if TYPE_CHECKING:
    from aiohttp import web
    from aiohttp.typedefs import Handler

    from hub.console.base import Route

REPLAY_OUTCOMES: Final = {
    200: "Replayed",
    400: "Not replayed: the form was not valid",
    404: "Not replayed: not in quarantine",
    409: "Not replayed: conflict",
    503: "Not replayed: try again",
}


def depth_chart(inboxes: dict[str, dict[str, Any] | None]) -> dict[str, Any]:
    """The geometry of the depth-per-inbox bar chart (an SVG 600 units wide)."""
    depths = {party: (row or {}).get("ready") for party, row in inboxes.items()}
    most = max([d for d in depths.values() if d] + [1])
    bars = [
        {
            "party": party, "y": 10 + 26 * index, "depth": depth,
            "width": round(400 * (depth or 0) / most, 1),
        }
        for index, (party, depth) in enumerate(depths.items())
    ]  # fmt: skip
    return {"bars": bars, "height": 20 + 26 * len(bars)}


async def queues_page(request: web.Request) -> web.Response:
    """Every inbox, ingress and quarantine by reason, with a depth chart; 503 explained."""
    try:
        numbers = await queue_report(deps_of(request))
    except OperationsError as error:
        return render(
            request, "queues.html", status=error.status, title="Queues", numbers=None,
            code=error.code,
        )  # fmt: skip
    chart = depth_chart(numbers["inboxes"])
    return render(request, "queues.html", title="Queues", numbers=numbers, chart=chart, code=None)


async def quarantine_page(request: web.Request) -> web.Response:
    """The quarantined messages' metadata (the API's default limit), each with a replay form."""
    try:
        messages = await browse_quarantine(deps_of(request), DEFAULT_BROWSE)
    except OperationsError as error:
        return render(
            request, "quarantine.html", status=error.status, title="Quarantine",
            messages=None, code=error.code, reasons=(),
        )  # fmt: skip
    return render(
        request, "quarantine.html", title="Quarantine", messages=messages, code=None,
        reasons=sorted(REPLAY_REASONS), limit=DEFAULT_BROWSE,
    )  # fmt: skip


async def replay_page(request: web.Request) -> web.Response:
    """Replay one quarantined message: a confirmation first, then what became of it.

    The quarantine page's form names a reason (none is preselected) and posts here;
    this answers with a confirmation naming the message and the reason. Only the
    confirmation's own form (``confirm=yes``) replays, and the result page says
    whether the message was refused again, had its decisions recorded, or is still
    on its way.
    """
    values = form_values(await request.post(), ("reason", "reference", "confirm"))
    quarantine = request.match_info["quarantine_id"]
    shown = quarantine if is_message_id(quarantine) else None
    try:
        ask = parse_replay(quarantine, values.get("reason"), values.get("reference"))
    except OperationsError as error:
        return _replay_result(request, error.status, shown, code=error.code)
    if values.get("confirm") != "yes":
        return render(
            request, "replay_confirm.html", title="Replay this message?", ask=ask,
            reason_words=ask.reason.replace("_", " "),
        )  # fmt: skip
    who = principal(request)
    deps = deps_of(request)
    try:
        replayed = await replay_once(deps, ask, who.name if who else None)
    except OperationsError as error:
        return _replay_result(request, error.status, shown, code=error.code)
    follow = await next_outcome(deps, replayed)
    return _replay_result(request, 200, shown, removed=replayed.removed, follow=follow)


def _replay_result(
    request: web.Request, status: int, quarantine: str | None, **more: Any
) -> web.Response:
    return render(
        request, "replay.html", status=status, title=REPLAY_OUTCOMES[status],
        quarantine_id=quarantine, removed=more.get("removed"), code=more.get("code"),
        follow=more.get("follow"),
    )  # fmt: skip


ROUTES: Final[tuple[Route, ...]] = (
    page_route(
        "page_queues", "GET", "/queues", "Queues (web page)", OPERATIONS, statuses=(200, 503)
    ),
    page_route(
        "page_quarantine", "GET", "/quarantine", "Quarantine (web page)", OPERATIONS,
        statuses=(200, 503),
    ),
    page_route(
        "page_replay", "POST", "/quarantine/{quarantine_id}/replay",
        "Replay a quarantined message (web form)", OPERATIONS,
        statuses=(200, 400, 404, 409, 503),
        example="/quarantine/00000000-0000-4000-8000-000000000000/replay",
    ),
)  # fmt: skip
HANDLERS: Final[dict[str, Handler]] = {
    "page_queues": queues_page,
    "page_quarantine": quarantine_page,
    "page_replay": replay_page,
}
