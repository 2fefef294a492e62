"""The console's aiohttp application: handlers for the routes of the table.

:func:`console_app` takes its dependencies as one :class:`ConsoleDeps`, so a test
builds it on the embedded hub with a fixed clock and a token store in memory, and
``hub console`` on the context a worker would build.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Final

from aiohttp import web

from hub.console.auth import auth_middleware, refusal
from hub.console.deps import DEPS, ConsoleDeps
from hub.console.health import ledger_status, readiness, refresh_gauges
from hub.console.openapi import openapi_document
from hub.console.operations import refresh_queue_gauges
from hub.console.routes import FEATURE_HANDLERS, ROUTES
from hub.ledger import LedgerError
from hub.logs import get_logger
from hub.metrics import CONTENT_TYPE

if TYPE_CHECKING:
    from aiohttp.typedefs import Handler

log = get_logger("hub.console")


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
        status = await ledger_status(deps.hub, deps.clock(), deps.witnessing)
    except LedgerError as error:
        log.warning("console.ledger_unavailable", code=error.code.value)
        return refusal(503, error.code.value)
    if not status["intact"]:
        log.error("console.ledger_broken", code=status["code"], seq=status["broken_at"])
    return web.json_response(status)


async def metrics(request: web.Request) -> web.Response:
    """The metrics in the Prometheus text format."""
    deps = request.app[DEPS]
    await refresh_gauges(deps.hub, deps.clock())
    await refresh_queue_gauges(deps)
    body = deps.metrics.exposition()
    return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE})


CORE_HANDLERS: Final[dict[str, Handler]] = {
    "openapi": openapi,
    "health": health,
    "ready": ready,
    "ledger_status": ledger,
    "metrics": metrics,
}


#: The console names no software version (RFC 9110 section 10.2.4 lets it say little).
SERVER: Final = "hub-console"
#: A year of HTTPS-only for browsers that have seen the console over TLS (RFC 6797).
HSTS: Final = "max-age=31536000"


async def secure_headers(request: web.Request, response: web.StreamResponse) -> None:
    """Headers on every answer, API and page alike, refusals and errors included.

    Answers hold ledger content, reports and queue metadata: no cache may keep
    them and no browser may guess another type for them. Over TLS, browsers are
    told to use nothing else. The server is named without its version.
    """
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Cache-Control"] = "no-store"
    response.headers["Server"] = SERVER
    if request.secure:
        response.headers["Strict-Transport-Security"] = HSTS


@web.middleware
async def too_large(request: web.Request, handler: Handler) -> web.StreamResponse:
    """A body past the console's limit is a JSON 413 with a stable code, not aiohttp's text."""
    try:
        return await handler(request)
    except web.HTTPRequestEntityTooLarge:
        log.warning(
            "console.refused", code="console.too_large", route=request.match_info.route.name
        )
        detail = "the request body is larger than the console accepts"
        return web.json_response({"code": "console.too_large", "detail": detail}, status=413)


def console_app(deps: ConsoleDeps) -> web.Application:
    """Build the console application on ``deps``: every route of the table, behind auth."""
    app = web.Application(middlewares=[too_large, auth_middleware(deps.tokens)])
    app.on_response_prepare.append(secure_headers)
    app[DEPS] = deps
    handlers = CORE_HANDLERS | FEATURE_HANDLERS
    for route in ROUTES:
        app.router.add_route(route.method, route.path, handlers[route.name], name=route.name)
    return app
