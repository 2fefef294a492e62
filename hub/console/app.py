"""The console's aiohttp application: handlers for the routes of the table.

:func:`console_app` takes its dependencies as one :class:`ConsoleDeps`, so a test
builds it on the embedded hub with a fixed clock and a token store in memory, and
``hub console`` on the context a worker would build.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Final

from aiohttp import web

from hub.console.auth import auth_middleware, refusal
from hub.console.health import ledger_status, readiness
from hub.console.metrics import CONTENT_TYPE, HubMetrics
from hub.console.openapi import openapi_document
from hub.console.routes import ROUTES
from hub.ledger.base import LedgerError
from hub.logs import get_logger

if TYPE_CHECKING:
    from collections.abc import Callable

    from hub.console.auth import TokenSource
    from hub.pipeline import HubContext

log = get_logger("hub.console")
#: How far ahead readiness looks for keys and agreements coming due.
HORIZON: Final = timedelta(days=30)


def _utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class ConsoleDeps:
    """What the console reads.

    Attributes:
        hub: the hub's context (keys, policy, ledger, broker).
        tokens: where the bearer tokens are (a :class:`~hub.console.tokens.TokenFile`).
        metrics: the metrics ``/metrics`` exposes, with their own registry.
        clock: the console's time, for ages and expiry horizons.
        horizon: how far ahead keys and agreements count as coming due.
    """

    hub: HubContext
    tokens: TokenSource
    metrics: HubMetrics = field(default_factory=HubMetrics)
    clock: Callable[[], datetime] = _utcnow
    horizon: timedelta = HORIZON


DEPS: Final = web.AppKey("deps", ConsoleDeps)


async def openapi(request: web.Request) -> web.Response:
    """The OpenAPI 3.1 document of the route table."""
    del request
    return web.json_response(openapi_document(ROUTES))


async def health(request: web.Request) -> web.Response:
    """Liveness: answering is the whole check."""
    del request
    return web.json_response({"status": "alive"})


async def ready(request: web.Request) -> web.Response:
    """Readiness: 200 when every failing check passes, else 503, with the report."""
    deps = request.app[DEPS]
    report = await readiness(deps.hub, deps.clock(), deps.horizon)
    status = 200 if report["ready"] else 503
    if status != 200:  # noqa: PLR2004 - a status code, named by its number in HTTP
        failed = [name for name, check in report["checks"].items() if not check["ok"]]
        log.warning("console.not_ready", reason=",".join(failed))
    return web.json_response(report, status=status)


async def ledger(request: web.Request) -> web.Response:
    """The ledger's verification result and its latest checkpoint."""
    deps = request.app[DEPS]
    try:
        status = await ledger_status(deps.hub, deps.clock())
    except LedgerError as error:
        log.warning("console.ledger_unavailable", code=error.code.value)
        return refusal(503, error.code.value)
    if not status["intact"]:
        log.error("console.ledger_broken", code=status["code"], seq=status["broken_at"])
    return web.json_response(status)


async def metrics(request: web.Request) -> web.Response:
    """The metrics in the Prometheus text format."""
    body = request.app[DEPS].metrics.exposition()
    return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE})


HANDLERS: Final = {
    "openapi": openapi,
    "health": health,
    "ready": ready,
    "ledger_status": ledger,
    "metrics": metrics,
}


def console_app(deps: ConsoleDeps) -> web.Application:
    """Build the console application on ``deps``: every route of the table, behind auth."""
    app = web.Application(middlewares=[auth_middleware(deps.tokens)])
    app[DEPS] = deps
    for route in ROUTES:
        app.router.add_route(route.method, route.path, HANDLERS[route.name], name=route.name)
    return app
