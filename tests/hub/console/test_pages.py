"""The web pages without a browser: sessions, CSRF, redirects, roles, escaping, labels."""

from __future__ import annotations

import re
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from html.parser import HTMLParser
from typing import TYPE_CHECKING, Any

import pytest
from aiohttp import ClientResponse, web
from aiohttp.test_utils import TestClient
from entry_drafts import justified
from quarantined import read_quarantine
from structlog.testing import capture_logs

from hub.broker.base import OutgoingMessage
from hub.console import pages_governance
from hub.console.base import Role, Route
from hub.console.deps import ConsoleDeps
from hub.console.pages import is_page, safe_next
from hub.console.routes import ROUTES
from hub.console.sessions import IDLE, LIFETIME
from hub.crypto import COSIGNATURE, NoteSigner, WitnessPolicy
from hub.ledger.entries import EntryDraft, ReceiptRecord, ReceivedItem, ReleaseRecord
from hub.witnessing import Witnessing, WitnessView

from .conftest import unhurried

if TYPE_CHECKING:
    from hub.console.tokens import TokenStore
    from hub.context import HubContext
    from hub.ledger.entries import LedgerEntry

Client = TestClient[web.Request, web.Application]
Serve = Callable[[ConsoleDeps], Awaitable[Client]]
PAGES = [route for route in ROUTES if is_page(route)]
PROTECTED = [route for route in PAGES if not route.public]
GETS = [route for route in PROTECTED if route.method == "GET" and route.media_type == "text/html"]
START = datetime(2026, 11, 21, 9, tzinfo=UTC)
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def csrf_of(html: str) -> str:
    """The CSRF token a page's form carries."""
    found = CSRF.search(html)
    assert found is not None, "no CSRF token on the page"
    return found.group(1)


async def login(client: Client, token: str, next_: str | None = None) -> ClientResponse:
    """Open the login form and send ``token`` with its form token; do not follow."""
    form = await (await client.get("/login")).text()
    data = {"csrf_token": csrf_of(form), "token": token}
    if next_ is not None:
        data["next"] = next_
    return await client.post("/login", data=data, allow_redirects=False)


async def signed_in(client: Client, token: str) -> str:
    """Sign in with ``token``; return the CSRF token of the session's forms."""
    response = await login(client, token)
    assert response.status == 303
    return csrf_of(await (await client.get("/")).text())


def session_cookie(client: Client) -> str | None:
    """The session id the client holds, if any."""
    for cookie in client.session.cookie_jar:
        if cookie.key == "hub-session" and cookie.value:
            return cookie.value
    return None


@dataclass
class Clock:
    """A clock the test moves."""

    now: datetime = START

    def __call__(self) -> datetime:
        """The current test time."""
        return self.now


@dataclass
class Tokens:
    """A token source whose store the test can swap (a revocation)."""

    store: TokenStore

    def current(self) -> TokenStore:
        """The tokens as they are now."""
        return self.store


class Page(HTMLParser):
    """What the accessibility checks need from a page, parsed without a browser."""

    def __init__(self, html: str) -> None:
        """Parse ``html``."""
        super().__init__()
        self.lang: str | None = None
        self.h1 = 0
        self.inputs: list[dict[str, str | None]] = []
        self.labels: set[str] = set()
        self.landmarks: set[str] = set()
        self.svgs: list[dict[str, str | None]] = []
        self.svg_titles = 0
        self.first_link: str | None = None
        self.tables = self.captions = 0
        self.feed(html)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        """Collect the parts the checks look at."""
        found = dict(attrs)
        if tag == "html":
            self.lang = found.get("lang")
        elif tag in {"h1", "main", "nav", "header", "footer", "table", "caption", "title"}:
            self.h1 += tag == "h1"
            self.tables += tag == "table"
            self.captions += tag == "caption"
            self.svg_titles += tag == "title" and bool(self.svgs)
            self.landmarks.add(tag)
        elif tag in {"input", "select", "textarea"}:
            self.inputs.append(found)
        elif tag == "label" and found.get("for"):
            self.labels.add(found["for"] or "")
        elif tag == "svg":
            self.svgs.append(found)
        elif tag == "a" and self.first_link is None:
            self.first_link = found.get("href")


def check_accessible(html: str) -> None:
    """Fail unless the page meets the console's cheap accessibility checks."""
    page = Page(html)
    assert page.lang == "en-GB"
    assert page.h1 == 1, "one h1 per page"
    assert {"main", "header", "footer"} <= page.landmarks
    assert page.first_link == "#main", "the first link skips to the main content"
    for field in page.inputs:
        if field.get("type") != "hidden":
            assert field.get("id") in page.labels, f"input {field.get('name')} has no label"
    for svg in page.svgs:
        assert svg.get("role") == "img"
        assert svg.get("aria-labelledby")
    assert page.svg_titles >= len(page.svgs), "every chart has a title"
    assert page.tables == page.captions, "every table has a caption"


def bearer(token: str) -> dict[str, str]:
    """The Authorization header for ``token``."""
    return {"Authorization": f"Bearer {token}"}


async def test_the_login_page_is_labelled_and_public(client: Client) -> None:
    """The login form has a labelled password field, a form token and a short-lived cookie."""
    response = await client.get("/login")
    html = await response.text()
    assert response.status == 200
    check_accessible(html)
    assert '<label for="token">Console token</label>' in html
    assert 'type="password"' in html
    cookie = response.headers["Set-Cookie"]
    assert "HttpOnly" in cookie
    assert "SameSite=Strict" in cookie
    assert "Secure" not in cookie  # plain HTTP on loopback; Secure is set over TLS


async def test_a_good_token_starts_a_session(client: Client, tokens: dict[Role, str]) -> None:
    """Sign-in answers 303 to the overview with an HttpOnly, SameSite=Strict session cookie."""
    token = tokens[Role.OPERATOR]
    response = await login(client, token)
    assert response.status == 303
    assert response.headers["Location"] == "/"
    cookies = response.headers.getall("Set-Cookie")
    [session] = [c for c in cookies if c.startswith("hub-session=")]
    assert all(part in session for part in ("HttpOnly", "SameSite=Strict", "Path=/", "Max-Age="))
    assert token not in repr(response.headers)
    home = await client.get("/")
    html = await home.text()
    assert home.status == 200
    assert "Hub readiness" in html
    assert token not in html


@pytest.mark.parametrize("wrong", ["hubt_wrong-token-value", "x" * 600, "   "])
async def test_a_wrong_token_is_refused_without_echo(
    client: Client, tokens: dict[Role, str], wrong: str
) -> None:
    """A wrong token: 401, the form again with a message, no session, the token nowhere."""
    with capture_logs() as logs:
        response = await login(client, wrong)
    html = await response.text()
    assert response.status == 401
    assert "That token is not valid" in html
    assert 'aria-invalid="true"' in html
    check_accessible(html)
    if wrong.strip():
        assert wrong not in html
        assert wrong not in repr(logs)
    assert session_cookie(client) is None
    assert (await client.get("/", allow_redirects=False)).status == 303
    assert tokens[Role.ADMIN] not in html


async def test_the_login_form_needs_its_form_token(client: Client, tokens: dict[Role, str]) -> None:
    """A sign-in posted without the form's token, or with a forged one, is refused 403."""
    await client.get("/login")  # the browser holds a login cookie, as on another site's form
    for forged in ({}, {"csrf_token": "forged"}, {"csrf_token": "0" * 64}):
        data = {"token": tokens[Role.ADMIN], **forged}
        response = await client.post("/login", data=data, allow_redirects=False)
        assert response.status == 403
        assert "expired" in await response.text()
        assert session_cookie(client) is None


async def test_an_old_login_form_is_refused(
    hub_ctx: HubContext, store: TokenStore, tokens: dict[Role, str], serve: Serve
) -> None:
    """A login form older than its lifetime is refused, even with its cookie."""
    clock = Clock()
    client = await serve(ConsoleDeps(hub_ctx, store, clock=clock))
    form = csrf_of(await (await client.get("/login")).text())
    clock.now += timedelta(minutes=16)
    data = {"csrf_token": form, "token": tokens[Role.ADMIN]}
    response = await client.post("/login", data=data, allow_redirects=False)
    assert response.status == 403


async def test_signing_in_never_logs_the_token(
    client: Client, store: TokenStore, tokens: dict[Role, str]
) -> None:
    """Sign-in, pages and sign-out log the token's name and role, never the token or its hash."""
    token = tokens[Role.ADMIN]
    with capture_logs() as logs:
        csrf = await signed_in(client, token)
        for route in GETS:
            await client.get(route.sample_url)
        await client.post("/logout", data={"csrf_token": csrf})
    text = repr(logs)
    assert token not in text
    assert not [r.sha256 for r in store.records if r.sha256 in text]
    assert any(line.get("token_name") == "admin" for line in logs)


@pytest.mark.parametrize("route", GETS, ids=lambda r: r.name)
async def test_a_page_without_a_session_redirects_to_login(client: Client, route: Route) -> None:
    """Without a session a page answers 303 to /login, naming the path to return to."""
    response = await client.get(route.sample_url, allow_redirects=False)
    assert response.status == 303
    location = response.headers["Location"]
    assert location.startswith("/login")
    if route.sample_url != "/":
        assert location == f"/login?next={route.sample_url}"


async def test_bearer_tokens_do_not_open_pages(client: Client, tokens: dict[Role, str]) -> None:
    """A page ignores an Authorization header: pages take sessions only."""
    response = await client.get("/", headers=bearer(tokens[Role.ADMIN]), allow_redirects=False)
    assert response.status == 303


async def test_a_session_does_not_open_the_api(client: Client, tokens: dict[Role, str]) -> None:
    """A live session cookie is no credential for the JSON API (no CSRF surface there)."""
    await signed_in(client, tokens[Role.ADMIN])
    assert session_cookie(client) is not None
    response = await client.get("/api/agreements")
    assert response.status == 401
    assert await response.json() == {"code": "auth.missing"}


async def test_login_returns_to_the_page_asked_for(client: Client, tokens: dict[Role, str]) -> None:
    """After the redirect to login, signing in goes on to the page first asked for."""
    first = await client.get("/agreements/matrix", allow_redirects=False)
    back = first.headers["Location"].split("next=", 1)[1]
    response = await login(client, tokens[Role.AGENCY], back)
    assert response.headers["Location"] == "/agreements/matrix"


@pytest.mark.parametrize(
    "target",
    [
        "https://evil.example/",
        "//evil.example/x",
        "/\\evil.example",
        "\\\\evil.example",
        "javascript:alert(1)",
        "/ok\r\nSet-Cookie: x=1",
        "/login",
        "evil.example",
        "",
    ],
)
async def test_login_never_redirects_off_site(
    client: Client, tokens: dict[Role, str], target: str
) -> None:
    """A ``next`` that is not a local path is ignored: the overview instead (no open redirect)."""
    assert safe_next(target) is None
    response = await login(client, tokens[Role.AGENCY], target)
    assert response.status == 303
    assert response.headers["Location"] == "/"


@pytest.mark.parametrize(("route", "role"), [(r, role) for r in PROTECTED for role in Role])
async def test_page_role_matrix(
    client: Client, tokens: dict[Role, str], route: Route, role: Role
) -> None:
    """A role the page admits gets its answer; any other an HTML 403 naming auth.forbidden."""
    csrf = await signed_in(client, tokens[role])
    data = {"csrf_token": csrf} if route.method == "POST" else None
    response = await client.request(
        route.method, route.sample_url, data=data, allow_redirects=False
    )
    html = await response.text()
    if role in route.roles:
        assert response.status in route.statuses, html
    else:
        assert response.status == 403
        assert response.content_type == "text/html"
        assert "auth.forbidden" in html
        check_accessible(html)


@pytest.mark.parametrize("role", list(Role))
async def test_every_page_passes_the_checks(
    client: Client, tokens: dict[Role, str], role: Role
) -> None:
    """Every page a role may open is accessible, hardened, and never shows the token."""
    token = tokens[role]
    await signed_in(client, token)
    for route in GETS:
        if role not in route.roles:
            continue
        response = await client.get(route.sample_url, allow_redirects=False)
        html = await response.text()
        assert response.status == 200, route.name
        check_accessible(html)
        assert token not in html
        assert "default-src 'none'" in response.headers["Content-Security-Policy"]
        assert response.headers["X-Frame-Options"] == "DENY"
        assert response.headers["Cache-Control"] == "no-store"
        assert "<script" not in html


async def test_navigation_shows_only_the_role_s_pages(
    client: Client, tokens: dict[Role, str]
) -> None:
    """An operator's navigation has queues but no ledger page; an IG officer's the reverse."""
    await signed_in(client, tokens[Role.OPERATOR])
    operator = await (await client.get("/")).text()
    assert 'href="/ledger"' not in operator
    assert 'href="/agreements/matrix"' in operator
    assert 'href="/queues"' in operator
    assert 'href="/quarantine"' in operator
    assert 'href="/search"' not in operator
    await client.post("/logout", data={"csrf_token": csrf_of(operator)})
    await signed_in(client, tokens[Role.IG_OFFICER])
    officer = await (await client.get("/")).text()
    assert 'href="/ledger"' in officer
    assert "Hub readiness" not in officer
    assert 'href="/queues"' not in officer
    assert 'href="/search"' in officer
    assert 'href="/subject-access"' in officer


async def test_logout_needs_the_csrf_token(client: Client, tokens: dict[Role, str]) -> None:
    """Sign-out without, or with a wrong, CSRF token is refused 403 and the session lives on."""
    csrf = await signed_in(client, tokens[Role.IG_OFFICER])
    for data in ({}, {"csrf_token": "wrong"}, {"csrf_token": csrf[:-1]}):
        response = await client.post("/logout", data=data, allow_redirects=False)
        assert response.status == 403
        assert "auth.csrf" in await response.text()
    assert (await client.get("/", allow_redirects=False)).status == 200


async def test_logout_ends_the_session_on_the_server(
    client: Client, tokens: dict[Role, str]
) -> None:
    """After sign-out the old session id opens nothing, even if the browser kept it."""
    csrf = await signed_in(client, tokens[Role.ADMIN])
    kept = session_cookie(client)
    response = await client.post("/logout", data={"csrf_token": csrf}, allow_redirects=False)
    assert response.status == 303
    assert response.headers["Location"] == "/login"
    client.session.cookie_jar.clear()
    client.session.cookie_jar.update_cookies({"hub-session": kept or ""})
    assert (await client.get("/", allow_redirects=False)).status == 303


async def test_signing_in_again_replaces_the_session(
    client: Client, tokens: dict[Role, str]
) -> None:
    """A new sign-in gets a new session id and ends the old one (no fixation)."""
    await signed_in(client, tokens[Role.ADMIN])
    first = session_cookie(client)
    await signed_in(client, tokens[Role.AGENCY])
    second = session_cookie(client)
    assert first != second
    client.session.cookie_jar.clear()
    client.session.cookie_jar.update_cookies({"hub-session": first or ""})
    assert (await client.get("/", allow_redirects=False)).status == 303
    client.session.cookie_jar.clear()
    client.session.cookie_jar.update_cookies({"hub-session": second or ""})
    assert (await client.get("/", allow_redirects=False)).status == 200


async def test_sessions_end_when_idle_and_at_their_lifetime(
    hub_ctx: HubContext, store: TokenStore, tokens: dict[Role, str], serve: Serve
) -> None:
    """A session ends after the idle timeout, and after its lifetime however busy."""
    clock = Clock()
    client = await serve(ConsoleDeps(hub_ctx, store, clock=clock))
    await signed_in(client, tokens[Role.ADMIN])
    clock.now += IDLE + timedelta(seconds=1)
    assert (await client.get("/agreements", allow_redirects=False)).status == 303
    await signed_in(client, tokens[Role.ADMIN])
    started = clock.now
    while clock.now + IDLE / 2 < started + LIFETIME:
        clock.now += IDLE / 2
        assert (await client.get("/agreements", allow_redirects=False)).status == 200
    clock.now = started + LIFETIME
    assert (await client.get("/agreements", allow_redirects=False)).status == 303


async def test_revoking_the_token_ends_its_sessions(
    hub_ctx: HubContext, store: TokenStore, tokens: dict[Role, str], serve: Serve
) -> None:
    """A token revoked after sign-in opens no more pages."""
    source = Tokens(store)
    client = await serve(ConsoleDeps(hub_ctx, source))
    await signed_in(client, tokens[Role.ADMIN])
    source.store = store.revoke("admin")
    assert (await client.get("/", allow_redirects=False)).status == 303


async def test_hostile_values_are_escaped(
    hub_ctx: HubContext, store: TokenStore, tokens: dict[Role, str], serve: Serve
) -> None:
    """Markup in an agreement's text or in ``next`` is shown as text, never run."""
    hostile = '<script>alert("x")</script><img src=x onerror=alert(1)>'
    changed = tuple(
        a.model_copy(update={"title": hostile, "dpia_reference": hostile})
        for a in hub_ctx.policy.agreements
    )
    policy = replace(hub_ctx.policy, agreements=changed)
    client = await serve(ConsoleDeps(replace(hub_ctx, policy=policy), store))
    form = await (await client.get('/login?next=/"><script>alert(1)</script>')).text()
    assert "<script>alert(1)" not in form
    assert "&lt;script&gt;" in form or "&#34;&gt;&lt;script&gt;" in form
    await signed_in(client, tokens[Role.IG_OFFICER])
    for url in ("/agreements", "/agreements/masip-exampleshire"):
        html = await (await client.get(url)).text()
        assert hostile not in html
        assert "<script" not in html
        assert "<img" not in html
        assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;" in html


async def test_an_unknown_agreement_page_is_404(client: Client, tokens: dict[Role, str]) -> None:
    """An agreement id the policy does not hold, or a malformed one, gives an HTML 404."""
    await signed_in(client, tokens[Role.AGENCY])
    for url in ("/agreements/no-such-thing", "/agreements/Bad_Id"):
        response = await client.get(url)
        assert response.status == 404
        html = await response.text()
        assert "agreements.not_found" in html
        check_accessible(html)


async def test_the_matrix_page_says_each_state_in_words(
    client: Client, tokens: dict[Role, str]
) -> None:
    """The matrix has a legend and each cell its state in words, not colour alone."""
    await signed_in(client, tokens[Role.AGENCY])
    html = await (await client.get("/agreements/matrix")).text()
    assert "Legend" in html
    for words in ("Flows", "Some event types", "Does not flow"):
        assert words in html
    assert "police-to-health-restrictions" in html
    assert 'class="cell cell--limited"' in html


async def test_the_stylesheet_is_served(client: Client) -> None:
    """The one stylesheet is public, as CSS, and states a visible focus."""
    response = await client.get("/static/console.css")
    assert response.status == 200
    assert response.content_type == "text/css"
    assert ":focus-visible" in await response.text()


# --- governance and operations pages ---------------------------------------------------

POSTS = [route for route in PROTECTED if route.method == "POST"]
#: Identifiers a user types, distinctive so that any echo of them is found.
TYPED_CASE = "MASIP-2026-987654"
TYPED_PERSON = "P-7777777777"


def disclosure(ctx: HubContext, case: str = TYPED_CASE, person: str = TYPED_PERSON) -> EntryDraft:
    """A disclosure entry about ``case`` and ``person``, as the pipeline records one."""
    return EntryDraft(
        **justified(
            {
                "kind": "disclosure",
                "decision_id": uuid.uuid4(),
                "recorded_at": START,
                "event_id": uuid.uuid4(),
                "event_type": "ReferralReceived",
                "case_pseudonym": ctx.pseudonyms.case(case),
                "person_pseudonyms": (ctx.pseudonyms.person(person),),
                "provider": "police",
                "recipient": "health",
                "agreement_id": "masip-exampleshire",
                "agreement_version": 1,
                "clause": "masip-exampleshire@1#police-to-health-core",
                "purpose": "safeguarding",
                "lawful_basis": "dpa2018-s8",
                "groups_disclosed": ("A", "B"),
                "groups_withheld": ("D",),
                "outcome": "disclosed",
            }
        )
    )


async def last_entry(ctx: HubContext) -> LedgerEntry:
    """The newest entry of the ledger."""
    size = await ctx.ledger.size()
    [entry] = await ctx.ledger.read(size - 1, size)
    return entry


def search_form(**fields: str) -> dict[str, str]:
    """A search form's fields, with a purpose unless one is given."""
    return {"purpose": "complaint", "reference": "INC-42", **fields}


@pytest.mark.parametrize("route", POSTS, ids=lambda r: r.name)
async def test_a_form_without_a_session_redirects_to_login(client: Client, route: Route) -> None:
    """Posting a page's form without a session is sent to sign in, and nothing is done."""
    response = await client.post(route.sample_url, data={}, allow_redirects=False)
    assert response.status == 303
    assert response.headers["Location"] == "/login"


@pytest.mark.parametrize(
    "route", [r for r in POSTS if r.name != "page_logout"], ids=lambda r: r.name
)
async def test_every_form_needs_its_csrf_token(
    client: Client, hub_ctx: HubContext, tokens: dict[Role, str], route: Route
) -> None:
    """A form posted without, or with a wrong, CSRF token is refused 403 and records nothing."""
    csrf = await signed_in(client, tokens[Role.ADMIN])
    message = replayable(hub_ctx)
    await hub_ctx.broker.publish(message)
    url = route.sample_url.replace("00000000-0000-4000-8000-000000000000", message.message_id)
    before = await hub_ctx.ledger.size()
    fields = search_form(case_reference=TYPED_CASE, person=TYPED_PERSON, subject_role="victim")
    fields |= {"reason": "cause_fixed"}
    for forged in ({}, {"csrf_token": "wrong"}, {"csrf_token": csrf[:-1]}):
        response = await client.post(url, data=fields | forged, allow_redirects=False)
        html = await response.text()
        assert response.status == 403, route.name
        assert "auth.csrf" in html
        check_accessible(html)
    assert await hub_ctx.ledger.size() == before
    seen = await read_quarantine(hub_ctx.broker, hub_ctx.names)
    assert [m.message_id for m in seen] == [message.message_id]


async def test_a_search_records_its_purpose_and_never_echoes_identifiers(
    client: Client, hub_ctx: HubContext, tokens: dict[Role, str]
) -> None:
    """A search is recorded first, finds the case's entries, shows pseudonyms, not references."""
    await hub_ctx.ledger.append([disclosure(hub_ctx), disclosure(hub_ctx, "MASIP-2026-000001")])
    csrf = await signed_in(client, tokens[Role.IG_OFFICER])
    fields = search_form(case_reference=TYPED_CASE, person=TYPED_PERSON, csrf_token=csrf)
    with capture_logs() as logs:
        response = await client.post("/search", data=fields)
    html = await response.text()
    assert response.status == 200
    check_accessible(html)
    for typed in (TYPED_CASE, TYPED_PERSON):
        assert typed not in html
        assert typed not in repr(logs)
    case = hub_ctx.pseudonyms.case(TYPED_CASE)
    assert case in html
    assert 'href="/disclosures/0"' in html
    assert 'href="/disclosures/1"' not in html
    assert "police → health" in html
    recorded = await last_entry(hub_ctx)
    assert recorded.kind == "consultation"
    assert recorded.outcome == "console.search"
    assert recorded.purpose == "complaint:INC-42"
    assert recorded.actor == "ig-officer"
    assert recorded.case_pseudonym == case


@pytest.mark.parametrize(
    "bad",
    [
        ({"purpose": ""}, "purpose", "console.purpose_required"),
        ({"purpose": "curiosity"}, "purpose", "console.purpose_invalid"),
        ({"reference": "not a ref!"}, "reference", "console.reference_invalid"),
        ({"since": "yesterday"}, "since", "console.bad_request"),
        ({"kind": "gossip"}, "kind", "console.bad_request"),
        ({"person": "P-NOT-A-PERSON-7777777777"}, "person", "console.bad_request"),
    ],
)
async def test_a_bad_search_says_which_field_without_echo(
    client: Client,
    hub_ctx: HubContext,
    tokens: dict[Role, str],
    bad: tuple[dict[str, str], str, str],
) -> None:
    """A bad field: 400, a message and the code beside the field, no identifier, nothing read."""
    fields, field, code = bad
    csrf = await signed_in(client, tokens[Role.IG_OFFICER])
    before = await hub_ctx.ledger.size()
    data = search_form(case_reference=TYPED_CASE, person=TYPED_PERSON, csrf_token=csrf) | fields
    response = await client.post("/search", data=data)
    html = await response.text()
    assert response.status == 400
    check_accessible(html)
    assert f'<p class="field-error" id="{field}-error">' in html
    assert f"<code>{code}</code>" in html
    assert f'id="{field}" ' in html
    assert 'aria-invalid="true"' in html
    assert TYPED_CASE not in html
    assert "7777777777" not in html
    assert await hub_ctx.ledger.size() == before


async def test_search_pages_follow_the_cursor_with_pseudonyms(
    client: Client, hub_ctx: HubContext, tokens: dict[Role, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The next-page form carries the cursor and the pseudonyms, never the typed references."""
    monkeypatch.setattr(pages_governance, "SEARCH_PAGE", 2)
    await hub_ctx.ledger.append([disclosure(hub_ctx) for _ in range(3)])
    csrf = await signed_in(client, tokens[Role.IG_OFFICER])
    first = await (
        await client.post(
            "/search",
            data=search_form(case_reference=TYPED_CASE, kind="disclosure", csrf_token=csrf),
        )
    ).text()
    assert 'href="/disclosures/1"' in first
    assert 'href="/disclosures/2"' not in first
    hidden = dict(re.findall(r'<input type="hidden" name="([a-z_]+)" value="([^"]*)">', first))
    assert hidden["case_pseudonym"] == hub_ctx.pseudonyms.case(TYPED_CASE)
    assert hidden["after"] == "1"
    assert hidden["kind"] == "disclosure"
    assert TYPED_CASE not in first
    second = await client.post("/search", data=hidden)
    html = await second.text()
    assert second.status == 200
    assert 'href="/disclosures/2"' in html
    assert 'href="/disclosures/1"' not in html
    assert "Next page" not in html
    forged = hidden | {"case_pseudonym": TYPED_CASE}
    refused = await client.post("/search", data=forged)
    assert refused.status == 400
    assert TYPED_CASE not in await refused.text()


async def test_a_disclosure_asks_for_the_purpose_then_shows_the_entry(
    client: Client, hub_ctx: HubContext, tokens: dict[Role, str]
) -> None:
    """Without a purpose: the form, nothing recorded; with one: recorded, then the entry."""
    [entry] = await hub_ctx.ledger.append([disclosure(hub_ctx)])
    await signed_in(client, tokens[Role.IG_OFFICER])
    asked = await client.get("/disclosures/0")
    html = await asked.text()
    assert asked.status == 200
    check_accessible(html)
    assert '<select id="purpose" name="purpose"' in html
    assert await hub_ctx.ledger.size() == 1
    shown = await client.get("/disclosures/0?purpose=legal-request&reference=CO-7")
    html = await shown.text()
    assert shown.status == 200
    check_accessible(html)
    agreement = 'href="/agreements/masip-exampleshire"'
    facts = (entry.entry_hash, "police-to-health-core", "dpa2018-s8", "safeguarding",
             agreement, "version 1", "Withheld", "Shared")  # fmt: skip
    for fact in facts:
        assert fact in html, fact
    recorded = await last_entry(hub_ctx)
    assert (recorded.outcome, recorded.purpose) == ("console.disclosure", "legal-request:CO-7")
    assert recorded.event_id == entry.event_id


async def test_a_release_entry_says_what_left_and_under_which_rule(
    client: Client, hub_ctx: HubContext, tokens: dict[Role, str]
) -> None:
    """An evaluator's release: its tables, rule and output hash, in words, accessible."""
    release = ReleaseRecord(
        release_id=uuid.UUID("1d3c5e7a-9b2f-4c6d-8e0a-2b4c6d8e0f1a"), as_of="2026-11-30",
        tables=("reoffending", "cohort_by_priority"), mechanism="suppression",
        rule="opensafely", threshold=7, rounding=5, output_sha256="cd" * 32,
    )  # fmt: skip
    draft = EntryDraft(
        kind="release", decision_id=uuid.uuid4(), recorded_at=datetime.now(UTC),
        provider="evaluator", outcome="released", release=release,
    )  # fmt: skip
    await hub_ctx.ledger.append([draft])
    await signed_in(client, tokens[Role.IG_OFFICER])
    shown = await client.get("/disclosures/0?purpose=audit")
    html = await shown.text()
    assert shown.status == 200
    check_accessible(html)
    facts = ("Ledger entry 0: release", "What the evaluator released", "cohort_by_priority",
             "counts from 1 to 7 suppressed", "nearest 5", "cd" * 32)  # fmt: skip
    for fact in facts:
        assert fact in html, fact


async def test_a_receipt_entry_says_who_signed_for_which_deliveries(
    client: Client, hub_ctx: HubContext, tokens: dict[Role, str]
) -> None:
    """A recipient's receipt: the deliveries and the digests of what arrived, accessible."""
    receipt = ReceiptRecord(
        receipt_id=uuid.UUID("5a7c9e1b-3d5f-4a6b-8c0d-2e4f6a8b0c1d"),
        signed_at=datetime(2026, 12, 6, 9, 31, tzinfo=UTC),
        items=(ReceivedItem(decision_id=uuid.UUID(int=7), digest="ef" * 32),),
        signed="eyJhbGciOiJFZERTQSJ9.eyJqdGkiOiJ4In0.c2lnbmF0dXJl",  # pragma: allowlist secret
    )
    draft = EntryDraft(
        kind="receipt", decision_id=uuid.uuid4(), recorded_at=datetime.now(UTC),
        recipient="health", outcome="receipted", receipt=receipt,
    )  # fmt: skip
    await hub_ctx.ledger.append([draft])
    await signed_in(client, tokens[Role.IG_OFFICER])
    shown = await client.get("/disclosures/0?purpose=audit")
    html = await shown.text()
    assert shown.status == 200
    check_accessible(html)
    facts = ("Ledger entry 0: receipt", "What health signed for", str(uuid.UUID(int=7)), "ef" * 32)
    for fact in facts:
        assert fact in html, fact


@pytest.mark.parametrize(
    "refused",
    [
        ("/disclosures/0?purpose=curiosity", 400, "console.purpose_invalid"),
        ("/disclosures/0?purpose=audit&reference=a%20b", 400, "console.reference_invalid"),
        ("/disclosures/5?purpose=audit", 404, "console.not_found"),
        ("/disclosures/x1?purpose=audit", 404, "console.not_found"),
    ],
)
async def test_a_disclosure_refused_records_nothing(
    client: Client, hub_ctx: HubContext, tokens: dict[Role, str], refused: tuple[str, int, str]
) -> None:
    """A bad purpose, or no entry at the position: the code on an accessible page, no record."""
    url, status, code = refused
    await hub_ctx.ledger.append([disclosure(hub_ctx)])
    await signed_in(client, tokens[Role.ADMIN])
    response = await client.get(url)
    html = await response.text()
    assert response.status == status
    assert code in html
    check_accessible(html)
    assert await hub_ctx.ledger.size() == 1


async def test_a_report_is_drafted_by_one_officer_and_released_by_another(
    hub_ctx: HubContext, store: TokenStore, tokens: dict[Role, str], serve: Serve
) -> None:
    """Draft page, then the release form for a second officer: confirmed, as the API gives it."""
    client = await serve(ConsoleDeps(hub_ctx, store, clock=Clock()))
    await hub_ctx.ledger.append([disclosure(hub_ctx), disclosure(hub_ctx)])
    csrf = await signed_in(client, tokens[Role.IG_OFFICER])
    asked = {"purpose": "subject-access-request", "reference": "SAR-9", "person": TYPED_PERSON}
    drafted = await client.post("/subject-access", data=asked | {"csrf_token": csrf})
    html = await drafted.text()
    assert drafted.status == 201
    check_accessible(html)
    assert TYPED_PERSON not in html
    [link] = re.findall(r'href="(/subject-access/[0-9a-f-]{36})"', html)
    assert "Rows in the report" in html
    own = await client.post(
        link, data={"purpose": "audit", "format": "csv", "confirm": "yes", "csrf_token": csrf}
    )
    assert own.status == 403
    assert "console.same_officer" in await own.text()
    csrf = await signed_in(client, tokens[Role.ADMIN])
    form = await client.get(link)
    check_accessible(await form.text())
    unconfirmed = await client.post(
        link, data={"purpose": "audit", "format": "csv", "csrf_token": csrf}
    )
    assert unconfirmed.status == 400
    assert 'id="confirm-error"' in await unconfirmed.text()
    release = {"purpose": "subject-access-request", "format": "csv", "confirm": "yes"}
    page = await client.post(link, data=release | {"csrf_token": csrf})
    assert page.status == 200
    assert page.headers["Content-Disposition"].startswith('attachment; filename="subject-access-')
    asked_api = {"purpose": "subject-access-request", "format": "csv"}
    api = await client.post(
        f"/api{link}/release", json=asked_api, headers=bearer(tokens[Role.ADMIN])
    )
    assert await page.read() == await api.read()
    printable = await client.post(link, data=release | {"format": "html", "csrf_token": csrf})
    assert printable.content_type == "text/html"
    assert "Your information: who it was shared with" in await printable.text()
    recorded = await last_entry(hub_ctx)
    assert (recorded.outcome, recorded.actor) == ("console.subject_access_release", "admin")
    assert recorded.person_pseudonyms == (hub_ctx.pseudonyms.person(TYPED_PERSON),)


async def test_a_bad_subject_access_form_never_echoes_the_person(
    client: Client, hub_ctx: HubContext, tokens: dict[Role, str]
) -> None:
    """A missing purpose: 400, the code by the field, the person reference not written back."""
    csrf = await signed_in(client, tokens[Role.IG_OFFICER])
    data = {"person": TYPED_PERSON, "csrf_token": csrf}
    response = await client.post("/subject-access", data=data)
    html = await response.text()
    assert response.status == 400
    check_accessible(html)
    assert '<p class="field-error" id="purpose-error">' in html
    assert TYPED_PERSON not in html
    assert await hub_ctx.ledger.size() == 0


async def test_the_queues_page_shows_each_inbox_and_a_chart(
    client: Client, hub_ctx: HubContext, tokens: dict[Role, str]
) -> None:
    """Depth per inbox in a table and a titled chart with its text; quarantine by reason."""
    names = hub_ctx.names
    for _ in range(3):
        await hub_ctx.broker.publish(
            OutgoingMessage(names.deliveries, "police", b"x", str(uuid.uuid4()))
        )
    await hub_ctx.broker.publish(replayable(hub_ctx))
    await signed_in(client, tokens[Role.OPERATOR])
    response = await client.get("/queues")
    html = await response.text()
    assert response.status == 200
    check_accessible(html)
    assert '<title id="depth-title">' in html
    assert "police: 3." in html  # the chart's text equivalent
    assert "<code>schema.invalid</code></th><td>1</td>" in html
    assert 'href="/quarantine"' in html


class Uninspectable:
    """A broker the console cannot inspect (no management API configured); else the real one."""

    def __init__(self, inner: object) -> None:
        """Wrap ``inner``."""
        self._inner = inner

    def __getattr__(self, name: str) -> Any:
        """The inner broker's attribute, but for the inspection calls."""
        if name in {"queue_stats", "browse"}:
            raise AttributeError(name)
        return getattr(self._inner, name)


async def test_queues_and_quarantine_say_when_the_broker_cannot_be_inspected(
    hub_ctx: HubContext, store: TokenStore, tokens: dict[Role, str], serve: Serve
) -> None:
    """Without a management API both pages answer 503 with a notice naming the code."""
    blind = replace(hub_ctx, broker=Uninspectable(hub_ctx.broker))
    client = await serve(ConsoleDeps(blind, store))
    await signed_in(client, tokens[Role.OPERATOR])
    for url in ("/queues", "/quarantine"):
        response = await client.get(url)
        html = await response.text()
        assert response.status == 503
        assert "broker.management_not_configured" in html
        assert "not configured" in html
        check_accessible(html)


def replayable(ctx: HubContext) -> OutgoingMessage:
    """A refused message in quarantine that names its sender, so it can be replayed."""
    message_id = str(uuid.uuid4())
    return OutgoingMessage(
        ctx.names.quarantine_log, "", b"secret-body", message_id,
        headers={"kind": "refusal", "reason": "schema.invalid", "decision-id": message_id,
                 "sender": "police", "event-type": "ReferralReceived"},
    )  # fmt: skip


async def test_a_replay_through_the_page_is_recorded(
    client: Client, hub_ctx: HubContext, tokens: dict[Role, str]
) -> None:
    """A reason chosen (none preselected), then confirmed: replayed, recorded, removed, followed."""
    message = replayable(hub_ctx)
    await hub_ctx.broker.publish(message)
    csrf = await signed_in(client, tokens[Role.OPERATOR])
    listing = await client.get("/quarantine")
    html = await listing.text()
    assert listing.status == 200
    check_accessible(html)
    assert f'action="/quarantine/{message.message_id}/replay"' in html
    assert '<option value="" selected>Choose a reason</option>' in html
    assert "secret-body" not in html
    data = {"csrf_token": csrf, "reason": "key_registered", "reference": "CHG-7"}
    asked = await client.post(f"/quarantine/{message.message_id}/replay", data=data)
    html = await asked.text()
    assert asked.status == 200
    check_accessible(html)
    assert "Replay this message?" in html
    assert await hub_ctx.ledger.size() == 0  # nothing replayed before the confirmation
    response = await client.post(
        f"/quarantine/{message.message_id}/replay", data=data | {"confirm": "yes"}
    )
    html = await response.text()
    assert response.status == 200
    check_accessible(html)
    assert "removed from quarantine" in html
    assert "What happened next" in html
    recorded = await last_entry(hub_ctx)
    assert recorded.outcome == "quarantine.replayed"
    assert recorded.actor == "operator"
    assert recorded.purpose == "key_registered #CHG-7"
    assert recorded.reason_code == "schema.invalid"
    again = await client.post(
        f"/quarantine/{message.message_id}/replay", data=data | {"confirm": "yes"}
    )
    assert again.status == 404
    assert "quarantine.not_found" in await again.text()


@pytest.mark.parametrize(
    "outcome",
    [
        ({"reason": "because"}, 400, "console.bad_request"),
        ({"reason": "cause_fixed", "reference": "no spaces"}, 400, "console.bad_request"),
        ({}, 400, "console.bad_request"),
        ({"reason": "cause_fixed", "confirm": "yes"}, 409, "quarantine.not_replayable"),
    ],
)
async def test_a_replay_not_done_says_why(
    client: Client,
    hub_ctx: HubContext,
    tokens: dict[Role, str],
    outcome: tuple[dict[str, str], int, str],
) -> None:
    """A bad form or a message with no sender: the code on a result page, the message kept."""
    data, status, code = outcome
    message = replayable(hub_ctx)
    headers = {k: v for k, v in (message.headers or {}).items() if k != "sender"}
    message = replace(message, headers=headers)
    await hub_ctx.broker.publish(message)
    csrf = await signed_in(client, tokens[Role.ADMIN])
    response = await client.post(
        f"/quarantine/{message.message_id}/replay", data=data | {"csrf_token": csrf}
    )
    html = await response.text()
    assert response.status == status
    assert f"<code>{code}</code>" in html
    check_accessible(html)
    assert await hub_ctx.ledger.size() == 0
    seen = await read_quarantine(hub_ctx.broker, hub_ctx.names)
    assert [m.message_id for m in seen] == [message.message_id]


async def test_the_ledger_page_shows_each_witness_and_a_fork_in_words(
    hub_ctx: HubContext,
    store: TokenStore,
    tokens: dict[Role, str],
    serve: Callable[[ConsoleDeps], Awaitable[Client]],
) -> None:
    """An IG officer reads who cosigned, who is unreachable, and a refusal as a fork."""
    signers = [NoteSigner.generate(f"witness.{n}.example", COSIGNATURE) for n in ("a", "b")]
    policy = WitnessPolicy.parse(
        f"witness police {signers[0].verifier} http://127.0.0.1:9\n"
        f"witness health {signers[1].verifier} http://127.0.0.1:9\n"
        "group partners all police health\nquorum partners\n"
    )
    ctx = replace(hub_ctx, witness_policy=policy)
    witnessing = Witnessing(ctx.ledger, policy, ctx.metrics)
    witnessing.views["police"] = WitnessView("police", 8, "422", "witness.inconsistent", 1.8e9, 12)
    witnessing.views["health"] = WitnessView("health", 8, "unreachable", "", 1.8e9)
    client = await serve(ConsoleDeps(ctx, store, throttle=unhurried(), witnessing=witnessing))
    await signed_in(client, tokens[Role.IG_OFFICER])
    html = await (await client.get("/ledger")).text()
    check_accessible(html)
    assert "1 witness(es) refused a checkpoint this hub signed" in html
    assert "Refused: not an extension" in html
    assert "witness.inconsistent" in html
    assert "Unreachable" in html
    assert "No checkpoint is cosigned by the witnesses' quorum yet." in html
    api = await client.get("/api/ledger/status", headers=bearer(tokens[Role.IG_OFFICER]))
    forks = [w["fork"] for w in (await api.json())["witnesses"]]
    assert forks == [True, False]
