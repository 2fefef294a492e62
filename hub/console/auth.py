"""Bearer-token authentication and role checks, from the route table.

RFC 6750: a request without a token gets 401 ``auth.missing``, one with a token
the store does not know gets 401 ``auth.invalid``, both with ``WWW-Authenticate:
Bearer``; a known token whose role the route does not admit gets 403
``auth.forbidden``. A route the table does not declare is served to nobody. The
token itself is never logged or echoed: log lines carry the token's name and role.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Final, Protocol

from aiohttp import web

from hub.console.deps import PRINCIPAL, principal
from hub.console.routes import ROUTES_BY_NAME
from hub.logs import get_logger

if TYPE_CHECKING:
    from aiohttp.typedefs import Handler, Middleware

    from hub.console.base import Route
    from hub.console.tokens import TokenStore

log = get_logger("hub.console.auth")
_SCHEME: Final = "bearer "
_CHALLENGE: Final = 'Bearer realm="hub-console"'


class TokenSource(Protocol):
    """Where the middleware finds the current tokens (a file that may change)."""

    def current(self) -> TokenStore:
        """Return the tokens as they are now."""
        ...


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


def _check(request: web.Request, route: Route, tokens: TokenSource) -> web.Response | None:
    """Return a refusal, or None after storing the principal on ``request``."""
    token = presented_token(request)
    if token is None:
        return refusal(401, "auth.missing")
    record = tokens.current().authenticate(token)
    if record is None:
        log.info("console.refused", code="auth.invalid", route=route.name)
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


def auth_middleware(tokens: TokenSource) -> Middleware:
    """The middleware admitting requests by ``tokens`` and the route table."""

    @web.middleware
    async def authenticate(request: web.Request, handler: Handler) -> web.StreamResponse:
        if request.match_info.http_exception is not None:
            return await handler(request)  # 404 or 405 from the router
        route = _declared(request)
        if route is None:
            log.warning("console.undeclared_route", code="auth.forbidden")
            return refusal(403, "auth.forbidden")
        if not route.public and (refused := _check(request, route, tokens)) is not None:
            return refused
        response = await handler(request)
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
