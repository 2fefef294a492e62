"""The console's web pages: server-rendered HTML over the same data as the API.

Pages are for people in a browser (IG officers, operators): they sign in with
their console token once (:mod:`hub.console.sessions`) and then move by links and
forms; nothing needs JavaScript. The handlers call the data functions the JSON
API calls (:mod:`hub.console.health`, :mod:`hub.console.agreements`), never the API
over HTTP. This module holds the pages' core (the frame, sign-in and sign-out, the
overview, the ledger and the agreements) and the helpers every page uses
(:func:`render`, :func:`error_page`, :func:`form_values`, :func:`page_route`); the
governance pages are in :mod:`hub.console.pages_governance` and the operations
pages in :mod:`hub.console.pages_operations`, each with its own ``ROUTES``.

A page route is a :class:`~hub.console.base.Route` whose media type is
:data:`HTML`; the auth middleware gives such routes sessions, CSRF checks,
redirects to the login page and HTML refusals instead of bearer tokens and JSON.

Templates are jinja2 with autoescaping on for every template, and
:class:`jinja2.StrictUndefined`, so a missing value fails loudly in tests.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime
from importlib import resources
from typing import TYPE_CHECKING, Any, Final

from aiohttp import web
from jinja2 import Environment, PackageLoader, StrictUndefined
from yarl import URL

from hub.console.agreements import (
    AGREEMENT_ID,
    READERS,
    agreement_detail,
    list_agreements,
    sharing_matrix,
)
from hub.console.base import GOVERNANCE, OPERATIONS, Role, Route
from hub.console.deps import PRINCIPAL, deps_of, principal
from hub.console.duties import by_agency, owed
from hub.console.health import ledger_status
from hub.console.overview import REFRESH_SECONDS, overview
from hub.console.sessions import (
    CSRF_FIELD,
    SESSION,
    SESSIONS,
    clear_cookie,
    cookie_name,
    new_login_nonce,
    session_id_of,
    set_cookie,
)
from hub.ledger import LedgerError
from hub.logs import get_logger

if TYPE_CHECKING:
    from aiohttp.typedefs import Handler
    from multidict import MultiDictProxy

log = get_logger("hub.console.pages")

HTML: Final = "text/html"
#: The longest token the login form accepts (issued tokens are about 50 characters).
MAX_TOKEN: Final = 512
_MAX_NEXT: Final = 512
ROLE_LABELS: Final = {
    Role.AGENCY: "agency",
    Role.IG_OFFICER: "information-governance officer",
    Role.OPERATOR: "operator",
    Role.ADMIN: "administrator",
}
STATE_LABELS: Final = {
    "flows": "Flows",
    "limited": "Some event types",
    "blocked": "Blocked by a safety rule",
    "none": "Does not flow",
}
ERROR_TITLES: Final = {
    403: "You cannot use this page",
    404: "Page not found",
    503: "Temporarily unavailable",
}
#: Sent with every page: no scripts, no framing, nothing from elsewhere, no referrer.
PAGE_HEADERS: Final = {
    "Content-Security-Policy": (
        "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; "
        "frame-ancestors 'none'; base-uri 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}

_ENV: Final = Environment(
    loader=PackageLoader("hub.console", "templates"),
    autoescape=True,
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)


@dataclass(frozen=True)
class NavItem:
    """One entry of the navigation; shown only to its roles, and only once built.

    Attributes:
        label: the link text.
        path: where it leads.
        roles: who sees it (the roles of its route).
        built: False for a page reserved for a later slice (not linked yet).
    """

    label: str
    path: str
    roles: frozenset[Role]
    built: bool = True


NAV: Final = (
    NavItem("Overview", "/", frozenset(Role)),
    NavItem("Ledger", "/ledger", GOVERNANCE),
    NavItem("Search the ledger", "/search", GOVERNANCE),
    NavItem("Subject access", "/subject-access", GOVERNANCE),
    NavItem("Evaluation", "/evaluation", GOVERNANCE),
    NavItem("Agreements", "/agreements", READERS),
    NavItem("Who sees what", "/agreements/matrix", READERS),
    NavItem("Queues", "/queues", OPERATIONS),
    NavItem("Quarantine", "/quarantine", OPERATIONS),
)


def is_page(route: Route) -> bool:
    """Whether ``route`` is a web page (sessions, CSRF, HTML refusals) rather than the API."""
    return route.media_type == HTML or route.session


def long_date(value: str | None) -> str:
    """``2027-04-01`` as ``1 April 2027``; an em dash for None."""
    if not value:
        return "\N{EM DASH}"
    day = date.fromisoformat(value[:10])
    return f"{day.day} {day:%B %Y}"


def duration(seconds: int | None) -> str:
    """A short, readable age: ``45 seconds``, ``12 minutes``, ``3 hours``, ``2 days``."""
    if seconds is None:
        return "\N{EM DASH}"
    for unit, size in (("day", 86400), ("hour", 3600), ("minute", 60)):
        if seconds >= size:
            count = seconds // size
            return f"{count} {unit}{'s' if count != 1 else ''}"
    return f"{seconds} second{'s' if seconds != 1 else ''}"


def timestamp(seconds: int | None) -> str:
    """A Unix time as ``2026-11-21 10:15 UTC``."""
    if seconds is None:
        return "\N{EM DASH}"
    return f"{datetime.fromtimestamp(seconds, UTC):%Y-%m-%d %H:%M} UTC"


def when(value: str | None) -> str:
    """An RFC 3339 time as ``2026-11-21 10:15:03 UTC``; an em dash for None."""
    if not value:
        return "\N{EM DASH}"
    return f"{datetime.fromisoformat(value).astimezone(UTC):%Y-%m-%d %H:%M:%S} UTC"


_ENV.filters.update(long_date=long_date, duration=duration, timestamp=timestamp, when=when)


def render(
    request: web.Request, template: str, *, status: int = 200, **context: Any
) -> web.Response:
    """Render ``template`` with the page frame: the user, their navigation, the CSRF token."""
    record = principal(request)
    session = request.get(SESSION)
    nav = [item for item in NAV if item.built and record is not None and record.role in item.roles]
    body = _ENV.get_template(template).render(
        user=record,
        role_label=ROLE_LABELS[record.role] if record is not None else None,
        nav=nav,
        current_path=request.path,
        csrf=session.csrf if session is not None else None,
        csrf_field=CSRF_FIELD,
        **context,
    )
    return web.Response(text=body, status=status, content_type=HTML, charset="utf-8")


def render_document(request: web.Request, template: str, **context: Any) -> web.Response:
    """Render a page that stands alone, without the console's frame: a printable report."""
    del request
    body = _ENV.get_template(template).render(**context)
    return web.Response(text=body, content_type=HTML, charset="utf-8")


def error_page(request: web.Request, status: int, code: str) -> web.Response:
    """An HTML refusal or failure page naming the stable ``code``."""
    return render(request, "error.html", status=status, title=ERROR_TITLES[status], code=code)


def safe_next(value: str | None) -> str | None:
    """``value`` if it is a local path to return to after sign-in, else None.

    Only a path on this site: no scheme, no host, no ``//`` or backslash that a
    browser would read as another host, no control characters, not the login
    page itself. This is what keeps the login form from being an open redirect.
    """
    if not value or len(value) > _MAX_NEXT or not value.isprintable():
        return None
    if not value.startswith("/") or value.startswith(("//", "/\\")) or "\\" in value:
        return None
    url = URL(value)
    if url.is_absolute() or url.scheme or url.path.startswith(("/login", "/logout")):
        return None
    return value


def to_login(request: web.Request) -> web.Response:
    """303 to the login page, carrying the requested path (never its query) to return to."""
    target = URL("/login")
    if request.method == "GET" and (back := safe_next(request.path)) not in {None, "/"}:
        target = target.with_query(next=back)
    return web.Response(status=303, headers={"Location": str(target)})


def _field(form: MultiDictProxy[Any], name: str) -> str | None:
    value = form.get(name)
    return value if isinstance(value, str) else None


def form_values(form: MultiDictProxy[Any], names: tuple[str, ...]) -> dict[str, str]:
    """The non-empty text values of ``names`` in ``form``, trimmed."""
    found = {name: _field(form, name) for name in names}
    return {name: value.strip() for name, value in found.items() if value and value.strip()}


def _login_page(
    request: web.Request, status: int, back: str | None, message: str | None = None
) -> web.Response:
    """The sign-in form with a fresh login cookie and its form token."""
    nonce = new_login_nonce(deps_of(request).clock())
    form_token = request[SESSIONS].login_token(nonce)
    response = render(
        request, "login.html", status=status, title="Sign in", next=back,
        form_token=form_token, message=message,
    )  # fmt: skip
    set_cookie(request, response, nonce, login=True)
    return response


async def login_form(request: web.Request) -> web.Response:
    """The sign-in form."""
    return _login_page(request, 200, safe_next(request.query.get("next")))


async def login(request: web.Request) -> web.Response:
    """Check the pasted token; on success start a session and go on, else say why.

    The token is checked, never stored, echoed or logged; the session cookie holds
    only a random id. Any session the browser already had ends (no fixation).
    """
    deps, store = deps_of(request), request[SESSIONS]
    form = await request.post()
    back = safe_next(_field(form, "next"))
    nonce = request.cookies.get(cookie_name(request, login=True))
    if not store.login_ok(nonce, _field(form, CSRF_FIELD), deps.clock()):
        log.info("console.refused", code="auth.csrf", route="page_login_submit")
        return _login_page(request, 403, back, "This sign-in form expired. Paste your token again.")
    token = (_field(form, "token") or "").strip()
    record = deps.tokens.current().authenticate(token) if 0 < len(token) <= MAX_TOKEN else None
    if record is None:
        log.info("console.refused", code="auth.invalid", route="page_login_submit")
        await deps.throttle.failed(request.remote, "sign_in", deps.metrics)
        return _login_page(request, 401, back, "That token is not valid. Check it and try again.")
    if (old := session_id_of(request)) and (found := store.find(old, deps.clock(), deps.tokens)):
        store.end(found)
    session_id, _ = store.create(record, deps.clock())
    request[PRINCIPAL] = record
    response = web.Response(status=303, headers={"Location": back or "/"})
    set_cookie(request, response, session_id)
    clear_cookie(request, response, login=True)
    return response


async def logout(request: web.Request) -> web.Response:
    """End the session (the middleware checked its CSRF token) and go to the login page."""
    request[SESSIONS].end(request[SESSION])
    response = web.Response(status=303, headers={"Location": "/login"})
    clear_cookie(request, response)
    return response


async def _ledger(request: web.Request) -> dict[str, Any] | str:
    """The ledger status, or the code of why it cannot be read."""
    deps = deps_of(request)
    try:
        return await ledger_status(deps.hub, deps.clock(), deps.witnessing)
    except LedgerError as error:
        log.warning("console.ledger_unavailable", code=error.code.value)
        return error.code.value


async def home(request: web.Request) -> web.Response:
    """The overview: health for operators (refreshing itself), the ledger for IG officers."""
    deps, role = deps_of(request), request[PRINCIPAL].role
    health = await overview(deps) if role in OPERATIONS else None
    ledger = await _ledger(request) if role in GOVERNANCE else None
    return render(
        request, "home.html", title="Overview", health=health,
        ready=health["ready"] if health else None, ledger=ledger, links=deps.links,
        refresh=REFRESH_SECONDS if health else None,
    )  # fmt: skip


def signed_bar(entries: int, signed: int) -> dict[str, Any]:
    """The geometry of the ledger's signed-share bar (a 400-unit-wide SVG)."""
    share = min(signed, entries) / entries if entries else 0.0
    return {"width": round(400 * share, 1), "percent": round(100 * share)}


async def ledger_page(request: web.Request) -> web.Response:
    """The ledger's verification result, latest checkpoint and signed tree size."""
    status = await _ledger(request)
    if isinstance(status, str):
        return error_page(request, 503, status)
    bar = signed_bar(status["entries"], status["checkpoint_size"] or 0)
    found = await owed(deps_of(request))
    rows = [] if isinstance(found, str) else by_agency(found)
    return render(request, "ledger.html", title="Ledger", ledger=status, bar=bar, owed_rows=rows)


def timeline(rows: list[dict[str, Any]], at: datetime) -> dict[str, Any]:
    """The geometry of the agreements' validity timeline (an SVG 600 units wide).

    Each agreement version is a bar from ``valid_from`` to ``valid_until`` (to the
    chart's end when open), with a mark on its review date; a line marks today.
    """
    today = at.date()
    days = [date.fromisoformat(r[k]) for r in rows for k in ("valid_from", "valid_until") if r[k]]
    start = min([*days, today]).replace(day=1)
    end = max([*days, today])
    end = end.replace(year=end.year + 1) if end == today else end
    span = max((end - start).days, 1)

    def x(day: date) -> float:
        return round(160 + 420 * (day - start).days / span, 1)

    bars = []
    for index, row in enumerate(rows):
        until = date.fromisoformat(row["valid_until"]) if row["valid_until"] else end
        left, review = (
            x(date.fromisoformat(row["valid_from"])),
            date.fromisoformat(row["review_date"]),
        )
        bars.append({
            "label": row["reference"], "y": 30 + 28 * index, "x": left,
            "width": max(x(until) - left, 2), "review": x(review) if review <= end else None,
            "in_force": row["in_force"],
        })  # fmt: skip
    years = [date(y, 1, 1) for y in range(start.year + 1, end.year + 1)]
    return {
        "height": 50 + 28 * len(rows),
        "bars": bars,
        "today": x(today),
        "years": [{"x": x(y), "label": str(y.year)} for y in years],
    }


async def agreements_page(request: web.Request) -> web.Response:
    """Every agreement version, with status, dates, review flags and a timeline."""
    deps = deps_of(request)
    at = deps.clock()
    listing = list_agreements(deps.hub.policy, at, deps.horizon)
    chart = timeline(listing["agreements"], at)
    return render(request, "agreements.html", title="Agreements", listing=listing, chart=chart)


async def agreement_page(request: web.Request) -> web.Response:
    """One agreement: its current version in full, and its version history."""
    deps, agreement_id = deps_of(request), request.match_info["agreement_id"]
    found = None
    if AGREEMENT_ID.fullmatch(agreement_id):
        found = agreement_detail(deps.hub.policy, agreement_id, deps.clock(), deps.horizon)
    if found is None:
        return error_page(request, 404, "agreements.not_found")
    current = next(v for v in found["versions"] if v["version"] == found["current"])
    return render(
        request, "agreement.html", title=current["title"], agreement=found, current=current
    )


async def matrix_page(request: web.Request) -> web.Response:
    """Who sees what, as a coloured and labelled table with a legend."""
    deps = deps_of(request)
    data = sharing_matrix(deps.hub.policy, deps.clock())
    return render(request, "matrix.html", title="Who sees what", matrix=data, states=STATE_LABELS)


def _stylesheet_text() -> str:
    return resources.files("hub.console").joinpath("static/console.css").read_text("utf-8")


_STYLESHEET: Final = _stylesheet_text()


async def stylesheet(request: web.Request) -> web.Response:
    """The console's one stylesheet."""
    del request
    return web.Response(text=_STYLESHEET, content_type="text/css", charset="utf-8")


def page_route(
    name: str, method: str, path: str, summary: str, roles: frozenset[Role], **more: Any
) -> Route:
    """A web page's route: the :data:`HTML` media type, sessions rather than tokens."""
    return Route(name, method, path, summary, roles, media_type=HTML, **more)


ALL: Final = frozenset(Role)
# The matrix is declared before /agreements/{agreement_id}: the router matches in order.
ROUTES: Final[tuple[Route, ...]] = (
    page_route("page_login", "GET", "/login", "Sign-in form (web page)", frozenset()),
    page_route(
        "page_login_submit", "POST", "/login", "Sign in with a console token (web form)",
        frozenset(), statuses=(303, 401, 403),
    ),
    page_route("page_logout", "POST", "/logout", "Sign out (web form)", ALL, statuses=(303,)),
    page_route("page_home", "GET", "/", "Overview (web page)", ALL),
    page_route(
        "page_ledger", "GET", "/ledger", "Ledger status (web page)", GOVERNANCE,
        statuses=(200, 503),
    ),
    page_route("page_agreements", "GET", "/agreements", "Agreements (web page)", READERS),
    page_route("page_matrix", "GET", "/agreements/matrix", "Who sees what (web page)", READERS),
    page_route(
        "page_agreement", "GET", "/agreements/{agreement_id}", "One agreement (web page)",
        READERS, statuses=(200, 404), example="/agreements/masip-exampleshire",
    ),
    Route("stylesheet", "GET", "/static/console.css", "The pages' stylesheet", frozenset(),
          media_type="text/css"),
)  # fmt: skip
HANDLERS: Final[dict[str, Handler]] = {
    "page_login": login_form,
    "page_login_submit": login,
    "page_logout": logout,
    "page_home": home,
    "page_ledger": ledger_page,
    "page_agreements": agreements_page,
    "page_matrix": matrix_page,
    "page_agreement": agreement_page,
    "stylesheet": stylesheet,
}
