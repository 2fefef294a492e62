"""Authentication and role checks, from the route table: bearer tokens and browser sessions.

API routes, RFC 6750: a request without a token gets 401 ``auth.missing``, one
with a token the store does not know gets 401 ``auth.invalid``, both with
``WWW-Authenticate: Bearer``; a known token whose role the route does not admit
gets 403 ``auth.forbidden``. API routes never read cookies, so they need no CSRF
defence.

Page routes (:func:`hub.console.pages.is_page`) read only the session cookie
(:mod:`hub.console.sessions`): without a live session a 303 to ``/login``; with a
role the route does not admit an HTML 403 page; a state-changing request whose
form lacks the session's CSRF token an HTML 403 (``auth.csrf``), checked here so
that no handler can forget it.

A route the table does not declare is served to nobody. The token itself is never
logged or echoed: log lines carry the token's name and role.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Final

from aiohttp import web

from hub.console.deps import PRINCIPAL, deps_of, principal
from hub.console.pages import PAGE_HEADERS, error_page, is_page, to_login
from hub.console.routes import ROUTES_BY_NAME
from hub.console.sessions import CSRF_FIELD, SESSION, SESSIONS, SessionStore, session_id_of
from hub.logs import get_logger

if TYPE_CHECKING:
    from aiohttp.typedefs import Handler, Middleware

    from hub.console.base import Route
    from hub.console.tokens import TokenSource

log = get_logger("hub.console.auth")
_SCHEME: Final = "bearer "
_SAFE_METHODS: Final = frozenset({"GET", "HEAD", "OPTIONS"})
_CHALLENGE: Final = 'Bearer realm="hub-console"'


def refusal(status: int, code: str) -> web.Response:
    """A JSON error answer ``{"code": ...}``; 401s carry the Bearer challenge."""
    headers = {"WWW-Authenticate": _CHALLENGE} if status == web.HTTPUnauthorized.status_code else {}
    return web.json_response({"code": code}, status=status, headers=headers)


def presented_token(request: web.Request) -> str | None:
    """The bearer token of ``request``, or None when there is none."""
    header = request.headers.get("Authorization", "")
    if header[: len(_SCHEME)].lower() != _SCHEME:
        return None
    return header[len(_SCHEME) :].strip() or None


def _declared(request: web.Request) -> Route | None:
    return ROUTES_BY_NAME.get(request.match_info.route.name or "")


async def _check(request: web.Request, route: Route, tokens: TokenSource) -> web.Response | None:
    """Return a refusal, or None after storing the principal on ``request``."""
    token = presented_token(request)
    if token is None:
        return refusal(401, "auth.missing")
    record = tokens.current().authenticate(token)
    if record is None:
        log.info("console.refused", code="auth.invalid", route=route.name)
        deps = deps_of(request)
        await deps.throttle.failed(request.remote, "api", deps.metrics)
        return refusal(401, "auth.invalid")
    request[PRINCIPAL] = record
    if record.role not in route.roles:
        log.info(
            "console.refused",
            code="auth.forbidden",
            route=route.name,
            token_name=record.name,
            role=record.role.value,
        )
        return refusal(403, "auth.forbidden")
    return None


def _refuse_page(request: web.Request, route: Route, code: str) -> web.Response:
    record = principal(request)
    log.info(
        "console.refused",
        code=code,
        route=route.name,
        token_name=record.name if record else None,
        role=record.role.value if record else None,
    )
    return error_page(request, 403, code)


async def _check_page(
    request: web.Request, route: Route, tokens: TokenSource, sessions: SessionStore
) -> web.Response | None:
    """Return a redirect or refusal, or None after storing the session on ``request``."""
    session_id = session_id_of(request)
    session = sessions.find(session_id, deps_of(request).clock(), tokens) if session_id else None
    if session is None:
        return to_login(request)
    request[PRINCIPAL] = session.record
    request[SESSION] = session
    if session.record.role not in route.roles:
        return _refuse_page(request, route, "auth.forbidden")
    if request.method not in _SAFE_METHODS:
        presented = (await request.post()).get(CSRF_FIELD)
        if not session.csrf_ok(presented if isinstance(presented, str) else None):
            return _refuse_page(request, route, "auth.csrf")
    return None


async def _admit(
    request: web.Request, route: Route, tokens: TokenSource, sessions: SessionStore
) -> web.Response | None:
    if is_page(route):
        request[SESSIONS] = sessions
        return None if route.public else await _check_page(request, route, tokens, sessions)
    return None if route.public else await _check(request, route, tokens)


def auth_middleware(tokens: TokenSource) -> Middleware:
    """The middleware admitting requests by ``tokens``, its sessions and the route table."""
    sessions = SessionStore()

    @web.middleware
    async def authenticate(request: web.Request, handler: Handler) -> web.StreamResponse:
        if request.match_info.http_exception is not None:
            return await handler(request)  # 404 or 405 from the router
        route = _declared(request)
        if route is None:
            log.warning("console.undeclared_route", code="auth.forbidden")
            return refusal(403, "auth.forbidden")
        refused = await _admit(request, route, tokens, sessions)
        response = refused if refused is not None else await handler(request)
        if is_page(route):
            response.headers.update(PAGE_HEADERS)
        admitted = principal(request)
        log.info(
            "console.request",
            route=route.name,
            status=response.status,
            token_name=admitted.name if admitted else None,
            role=admitted.role.value if admitted else None,
        )
        return response

    return authenticate
