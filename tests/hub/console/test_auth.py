"""Who may call what: every role against every API route of the table, and the refusals.

Web pages take browser sessions, not bearer tokens: their own matrix is in
``test_pages.py``.
"""

from __future__ import annotations

import io
import re
from typing import TYPE_CHECKING

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient
from structlog.testing import capture_logs

from hub.console.auth import presented_token
from hub.console.base import Role
from hub.console.deps import ConsoleDeps
from hub.console.pages import is_page
from hub.console.routes import ROUTES
from hub.console.throttle import AuthThrottle

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

    from hub.console.base import Route
    from hub.console.tokens import TokenStore
    from hub.context import HubContext

Client = TestClient[web.Request, web.Application]
_FORM_TOKEN = re.compile(r'name="csrf_token" value="([^"]+)"')


def csrf_of(html: str) -> str:
    """The form token of the sign-in page."""
    found = _FORM_TOKEN.search(html)
    assert found is not None
    return found.group(1)


API = [route for route in ROUTES if not is_page(route)]
MATRIX = [(route, role) for route in API for role in Role]
PROTECTED = [route for route in API if not route.public]


def bearer(token: str) -> dict[str, str]:
    """The Authorization header for ``token``."""
    return {"Authorization": f"Bearer {token}"}


@pytest.mark.parametrize(("route", "role"), MATRIX, ids=lambda v: getattr(v, "name", v))
async def test_role_matrix(
    client: Client, tokens: dict[Role, str], route: Route, role: Role
) -> None:
    """A role the table admits gets the route's answer; any other gets 403 auth.forbidden."""
    response = await client.request(route.method, route.sample_url, headers=bearer(tokens[role]))
    if route.public or role in route.roles:
        assert response.status in route.statuses
    else:
        assert response.status == 403
        assert await response.json() == {"code": "auth.forbidden"}


@pytest.mark.parametrize("route", PROTECTED, ids=lambda r: r.name)
async def test_no_token_is_401_missing(client: Client, route: Route) -> None:
    """A protected route without a token answers 401 auth.missing with a Bearer challenge."""
    response = await client.request(route.method, route.sample_url)
    assert response.status == 401
    assert await response.json() == {"code": "auth.missing"}
    assert response.headers["WWW-Authenticate"].startswith("Bearer")


@pytest.mark.parametrize("route", PROTECTED, ids=lambda r: r.name)
@pytest.mark.parametrize("token", ["hubt_not-a-token", "", "x" * 500])
async def test_unknown_token_is_401_invalid(client: Client, route: Route, token: str) -> None:
    """An unknown (or empty) token answers 401, and never as a known one."""
    response = await client.request(route.method, route.sample_url, headers=bearer(token))
    assert response.status == 401
    assert (await response.json())["code"] in {"auth.invalid", "auth.missing"}
    assert response.headers["WWW-Authenticate"].startswith("Bearer")


async def test_other_schemes_are_not_tokens(client: Client, tokens: dict[Role, str]) -> None:
    """A valid token under the Basic scheme is not accepted."""
    headers = {"Authorization": f"Basic {tokens[Role.ADMIN]}"}
    response = await client.get("/api/health", headers=headers)
    assert response.status == 401


def test_scheme_is_case_insensitive() -> None:
    """RFC 6750 schemes are case-insensitive: ``bearer`` reads like ``Bearer``."""
    from aiohttp.test_utils import make_mocked_request  # noqa: PLC0415

    request = make_mocked_request("GET", "/", headers={"Authorization": "bearer abc"})
    assert presented_token(request) == "abc"


async def test_revoked_token_is_refused(store: TokenStore, tokens: dict[Role, str]) -> None:
    """A revoked token no longer authenticates; the others still do."""
    kept = store.revoke("admin")
    assert kept.authenticate(tokens[Role.ADMIN]) is None
    assert kept.authenticate(tokens[Role.OPERATOR]) is not None


@pytest.mark.parametrize("route", API, ids=lambda r: r.name)
async def test_tokens_never_reach_the_logs(
    client: Client, store: TokenStore, tokens: dict[Role, str], route: Route
) -> None:
    """Log lines name the token and its role, never the token or its hash."""
    with capture_logs() as logs:
        for token in [*tokens.values(), "hubt_unknown-secret-value"]:
            await client.request(route.method, route.sample_url, headers=bearer(token))
    text = repr(logs)
    hashes = [record.sha256 for record in store.records]
    assert not [secret for secret in [*tokens.values(), *hashes] if secret in text]
    assert "hubt_unknown-secret-value" not in text
    if not route.public:
        named = {(line.get("token_name"), line.get("role")) for line in logs}
        assert ("admin", "admin") in named


async def test_unknown_path_is_404(client: Client, tokens: dict[Role, str]) -> None:
    """A path outside the table is not found, whoever asks."""
    response = await client.get("/api/nothing", headers=bearer(tokens[Role.ADMIN]))
    assert response.status == 404


@pytest.mark.parametrize("route", [r for r in API if not r.public], ids=lambda r: r.name)
async def test_api_routes_ignore_session_cookies(client: Client, route: Route) -> None:
    """An API route never admits a request by a cookie, so a page session cannot call it."""
    client.session.cookie_jar.update_cookies({"hub-session": "anything"})
    response = await client.request(route.method, route.sample_url)
    assert response.status == 401
    assert await response.json() == {"code": "auth.missing"}


async def test_bad_tokens_and_failed_sign_ins_are_counted_logged_and_slowed(
    hub_ctx: HubContext, store: TokenStore, serve: Callable[[ConsoleDeps], Awaitable[Client]]
) -> None:
    """Each failure is counted by way, logged with the address; the sixth on waits, doubling."""
    pauses: list[float] = []

    async def pause(seconds: float) -> None:
        pauses.append(seconds)

    client = await serve(ConsoleDeps(hub_ctx, store, throttle=AuthThrottle(sleep=pause)))
    with capture_logs() as logs:
        for _ in range(7):
            refused = await client.get("/api/ledger/status", headers=bearer("hubt_no-such-token"))
            assert refused.status == 401
    assert pauses == [0.5, 1.0]
    failed = [line for line in logs if line["event"] == "console.auth_failed"]
    assert [line["failures"] for line in failed] == list(range(1, 8))
    assert {(line["client"], line["via"]) for line in failed} == {("127.0.0.1", "api")}
    page = await client.get("/login")
    form = {"token": "hubt_no-such-token", "csrf_token": csrf_of(await page.text())}
    assert (await client.post("/login", data=form)).status == 401
    assert pauses[-1] == 2.0  # one address, one count, however it fails
    metrics = hub_ctx.metrics.exposition().decode()
    assert 'hub_console_auth_failures_total{via="api"} 7.0' in metrics
    assert 'hub_console_auth_failures_total{via="sign_in"} 1.0' in metrics


def test_the_pause_doubles_up_to_its_ceiling_and_old_failures_expire() -> None:
    """Five free failures, then 0.5 s doubling to 5 s; failures older than the window lapse."""
    now = [0.0]
    throttle = AuthThrottle(clock=lambda: now[0])
    assert [throttle.pause(n) for n in (1, 5, 6, 7, 8, 9, 10, 30)] == [
        0.0, 0.0, 0.5, 1.0, 2.0, 4.0, 5.0, 5.0,
    ]  # fmt: skip
    for _ in range(6):
        throttle._recent("192.0.2.1", now[0]).append(now[0])
    now[0] += throttle.window + 1
    assert len(throttle._recent("192.0.2.1", now[0])) == 0


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("GET", "/api/health", None),
        ("GET", "/api/ledger/status", None),
        ("GET", "/no/such/path", None),
        ("POST", "/api/ledger/search", b"x" * (2 * 1024 * 1024)),
    ],
    ids=["ok", "refused", "not-found", "too-large"],
)
async def test_every_answer_is_uncached_unsniffed_and_unversioned(
    client: Client, tokens: dict[Role, str], method: str, path: str, body: bytes | None
) -> None:
    """no-store, nosniff and a server name without a version, refusals and errors included."""
    token = tokens[Role.ADMIN] if path != "/api/ledger/status" else "hubt_wrong"
    data = io.BytesIO(body) if body is not None else None
    response = await client.request(method, path, data=data, headers=bearer(token))
    assert response.headers["Cache-Control"] == "no-store"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Server"] == "hub-console"
    assert "Strict-Transport-Security" not in response.headers  # plain HTTP on loopback
    if body is not None:
        assert response.status == 413
        assert await response.json() == {
            "code": "console.too_large",
            "detail": "the request body is larger than the console accepts",
        }
