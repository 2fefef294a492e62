"""The console's web pages: server-rendered HTML over the same data as the API.

Pages are for people in a browser (IG officers, operators): they sign in with
their console token once (:mod:`hub.console.sessions`) and then move by links and
forms; nothing needs JavaScript. The handlers call the data functions the JSON
API calls (:mod:`hub.console.health`, :mod:`hub.console.agreements`), never the API
over HTTP. A page route is a :class:`~hub.console.base.Route` whose media type is
:data:`HTML`; the auth middleware gives such routes sessions, CSRF checks,
redirects to the login page and HTML refusals instead of bearer tokens and JSON.

Templates are jinja2 with autoescaping on for every template, and
:class:`jinja2.StrictUndefined`, so a missing value fails loudly in tests.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime
from importlib import resources
from typing import TYPE_CHECKING, Any, Final, TypeVar

from aiohttp import web
from jinja2 import Environment, PackageLoader, StrictUndefined
from pydantic import BaseModel
from pydantic import ValidationError as PydanticValidationError
from yarl import URL

from hub.broker.base import BrokerError
from hub.console.agreements import (
    AGREEMENT_ID,
    READERS,
    agreement_detail,
    list_agreements,
    sharing_matrix,
)
from hub.console.base import GOVERNANCE, OPERATIONS, ConsoleError, Role, Route
from hub.console.deps import PRINCIPAL, deps_of, principal
from hub.console.governance import (
    PURPOSES,
    REPORT_NOTE,
    SUBJECT_ROLES,
    Purpose,
    SearchRequest,
    SubjectAccessRequest,
    entry_detail,
    parse_purpose,
    record_consultation,
    report_csv,
    report_rows,
)

# Functions the JSON handlers use, not yet public in their modules (see docs-pages2).
from hub.console.governance import _every_entry as every_entry
from hub.console.governance import _query as governance_query
from hub.console.health import ledger_status, readiness
from hub.console.operations import _UUID as UUID_PATTERN
from hub.console.operations import (
    DEFAULT_BROWSE,
    MAX_SCAN,
    REFERENCE_PATTERN,
    REPLAY_REASONS,
    OperationsError,
    ReplayRequest,
    metadata,
    replay_message,
)
from hub.console.operations import _agencies as agencies
from hub.console.operations import _broker_failed as broker_failed
from hub.console.operations import _inspector as inspector
from hub.console.operations import _state as quarantine_state
from hub.console.operations import _stats as queue_stats
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
from hub.ledger.base import LedgerError
from hub.ledger.entries import CASE_PSEUDONYM, PERSON_PSEUDONYM
from hub.logs import get_logger

if TYPE_CHECKING:
    from aiohttp.typedefs import Handler
    from multidict import MultiDictProxy

    from hub.ledger.entries import LedgerEntry
    from hub.ledger.search import SearchQuery

log = get_logger("hub.console.pages")
M = TypeVar("M", bound=BaseModel)

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
    NavItem("Agreements", "/agreements", READERS),
    NavItem("Who sees what", "/agreements/matrix", READERS),
    NavItem("Queues", "/queues", OPERATIONS),
    NavItem("Quarantine", "/quarantine", OPERATIONS),
)


def is_page(route: Route) -> bool:
    """Whether ``route`` is a web page (sessions, CSRF, HTML refusals) rather than the API."""
    return route.media_type == HTML


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
        return await ledger_status(deps.hub, deps.clock())
    except LedgerError as error:
        log.warning("console.ledger_unavailable", code=error.code.value)
        return error.code.value


async def home(request: web.Request) -> web.Response:
    """The overview: readiness for operators, the ledger for IG officers, both for admins."""
    deps, role = deps_of(request), request[PRINCIPAL].role
    ready = await readiness(deps.hub, deps.clock(), deps.horizon) if role in OPERATIONS else None
    ledger = await _ledger(request) if role in GOVERNANCE else None
    return render(request, "home.html", title="Overview", ready=ready, ledger=ledger)


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
    return render(request, "ledger.html", title="Ledger", ledger=status, bar=bar)


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


# --- information governance: search, one disclosure, subject access -------------------
#
# Each read records its consultation entry first, through governance's own functions,
# as the JSON API does. Case and person references are typed only into POST forms and
# are never written back into a page: the answer shows their pseudonyms, and the next
# results page carries the pseudonyms, not the references.

#: Entries shown per results page.
SEARCH_PAGE: Final = 50
_SEQ_TEXT: Final = re.compile(r"^[0-9]{1,15}$")
_CASE_PSEUDONYM: Final = re.compile(CASE_PSEUDONYM)
_PERSON_PSEUDONYM: Final = re.compile(PERSON_PSEUDONYM)
_DAY: Final = re.compile(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$")
#: Typed identifiers of people and cases: read from the form, never written back.
_IDENTIFIERS: Final = frozenset({"case_reference", "person"})
SEARCH_FIELDS: Final = (
    "case_reference", "person", "agency", "agreement", "event_type", "kind", "since", "until",
)  # fmt: skip
ENTRY_KINDS: Final = (
    ("disclosure", "Disclosure"), ("refusal", "Refusal"), ("consultation", "Consultation"),
)  # fmt: skip
PURPOSE_OPTIONS: Final = tuple((code, f"{code}: {text}") for code, text in PURPOSES.items())
SUBJECT_ROLE_OPTIONS: Final = tuple((role, role.capitalize()) for role in SUBJECT_ROLES)
FORMATS: Final = (("csv", "CSV (opens in a spreadsheet)"), ("json", "JSON"))
_PURPOSE_FIELDS: Final = ("purpose", "reference")
#: What a next-page form carries besides the criteria: the cursor and the pseudonyms.
_NEXT_FIELDS: Final = ("after", "case_pseudonym", "person_pseudonym")
FIELD_MESSAGES: Final = {
    "console.purpose_required": "Choose the purpose of this read.",
    "console.purpose_invalid": "Choose a purpose from the list.",
    "console.reference_invalid": "A reference is 1 to 32 letters, digits or hyphens.",
    "console.bad_request": "This value is not valid here.",
    "console.report_too_large": "Too many entries for one report; ask for the ledger export.",
}


@dataclass(frozen=True)
class FieldError:
    """A form field that failed, with its stable code and what to do (never its value)."""

    field: str
    code: str

    @property
    def message(self) -> str:
        """What to do about it, in words."""
        return FIELD_MESSAGES.get(self.code, "This value is not valid here.")


class FormError(Exception):
    """A form cannot be used as sent; carries the field that failed."""

    def __init__(self, error: FieldError) -> None:
        """Carry ``error``."""
        super().__init__(error.code)
        self.error = error


def _values(form: MultiDictProxy[Any], names: tuple[str, ...]) -> dict[str, str]:
    """The non-empty text values of ``names`` in ``form``, trimmed."""
    found = {name: _field(form, name) for name in names}
    return {name: value.strip() for name, value in found.items() if value and value.strip()}


def _purpose_of(values: dict[str, str]) -> Purpose:
    """The purpose of a form.

    Raises:
        FormError: the purpose or reference is missing or not valid.
    """
    try:
        return parse_purpose(values.get("purpose"), values.get("reference"))
    except ConsoleError as error:
        field = "reference" if error.code == "console.reference_invalid" else "purpose"
        raise FormError(FieldError(field, error.code)) from None


def _validated(model: type[M], data: dict[str, Any]) -> M:
    """``data`` as ``model``, or the first bad field (never its value).

    Raises:
        FormError: a value is missing or not valid.
    """
    try:
        return model.model_validate(data)
    except PydanticValidationError as error:
        first = error.errors()[0]
        name = str(first["loc"][0]) if first["loc"] else "form"
        raise FormError(FieldError(name, "console.bad_request")) from None


def _search_data(values: dict[str, str]) -> dict[str, Any]:
    """The criteria of a search form as the API's body takes them (dates at 00:00 UTC)."""
    data: dict[str, Any] = {k: v for k, v in values.items() if k in SEARCH_FIELDS}
    for name in ("since", "until"):
        if name in data and _DAY.match(data[name]):
            data[name] += "T00:00:00Z"
    if "after" in values:
        data["after"] = int(values["after"]) if values["after"].isdigit() else values["after"]
    return data


def _pseudonyms(values: dict[str, str]) -> tuple[str | None, str | None]:
    """The case and person pseudonyms a next-page form carries, checked.

    Raises:
        FormError: one is not a pseudonym.
    """
    case, person = values.get("case_pseudonym"), values.get("person_pseudonym")
    if case is not None and not _CASE_PSEUDONYM.match(case):
        raise FormError(FieldError("case_reference", "console.bad_request"))
    if person is not None and not _PERSON_PSEUDONYM.match(person):
        raise FormError(FieldError("person", "console.bad_request"))
    return case, person


def search_query(request: web.Request, values: dict[str, str]) -> tuple[Purpose, SearchQuery]:
    """The purpose and ledger query of a search form (typed references turned pseudonyms).

    Raises:
        FormError: the first field that is missing or not valid.
    """
    purpose = _purpose_of(values)
    data = _search_data(values) | {"purpose": purpose.code, "limit": SEARCH_PAGE}
    body = _validated(SearchRequest, data)
    case, person = _pseudonyms(values)
    query = governance_query(request, body)
    if body.case_reference is None and case is not None:
        query = replace(query, case=case)
    if body.person is None and person is not None:
        query = replace(query, person=person)
    return purpose, query


def _search_form(values: dict[str, str], error: FieldError | None) -> dict[str, str]:
    """What the search form shows again: never an identifier, nor the value that failed."""
    hidden = _IDENTIFIERS | ({error.field} if error else set())
    return {k: v for k, v in values.items() if k not in hidden}


def _search_page(
    request: web.Request, status: int, values: dict[str, str], **more: Any
) -> web.Response:
    error: FieldError | None = more.pop("error", None)
    return render(
        request, "search.html", status=status, title="Search the ledger",
        form=_search_form(values, error), error=error, purposes=PURPOSE_OPTIONS, kinds=ENTRY_KINDS,
        results=more.pop("results", None), query=more.pop("query", None),
        purpose=more.pop("purpose", None),
    )  # fmt: skip


async def search_form(request: web.Request) -> web.Response:
    """The ledger search form."""
    return _search_page(request, 200, {})


async def search_results(request: web.Request) -> web.Response:
    """Record the consultation, then show one page of matching entries."""
    values = _values(await request.post(), (*SEARCH_FIELDS, *_PURPOSE_FIELDS, *_NEXT_FIELDS))
    try:
        purpose, query = search_query(request, values)
    except FormError as signal:
        return _search_page(request, 400, values, error=signal.error)
    try:
        await record_consultation(
            request, purpose, "console.search", case_pseudonym=query.case,
            person_pseudonyms=(query.person,) if query.person else (),
            agreement_id=query.agreement, event_type=query.event_type,
        )  # fmt: skip
        page = await deps_of(request).hub.ledger.search(query)
    except LedgerError as error:
        log.warning("console.ledger_unavailable", code=error.code.value)
        return error_page(request, 503, "ledger.unavailable")
    results = [entry.model_dump(mode="json") for entry in page.entries]
    return _search_page(
        request, 200, values, results={"entries": results, "next_after": page.next_after},
        query=query, purpose=purpose,
    )  # fmt: skip


def _seq(request: web.Request) -> int | None:
    text = request.match_info["seq"]
    return int(text) if _SEQ_TEXT.match(text) else None


def _disclosure_form(
    request: web.Request, seq: int, status: int = 200, error: FieldError | None = None
) -> web.Response:
    return render(
        request, "disclosure_purpose.html", status=status, title=f"Ledger entry {seq}",
        seq=seq, purposes=PURPOSE_OPTIONS, error=error,
    )  # fmt: skip


async def disclosure_page(request: web.Request) -> web.Response:
    """One ledger entry in full, once the reader has given a purpose (which is recorded)."""
    seq = _seq(request)
    if seq is None:
        return error_page(request, 404, "console.not_found")
    if "purpose" not in request.query:
        return _disclosure_form(request, seq)
    values = {k: v.strip() for k in _PURPOSE_FIELDS if (v := request.query.get(k, "")).strip()}
    try:
        purpose = _purpose_of(values)
    except FormError as signal:
        return _disclosure_form(request, seq, 400, signal.error)
    ledger = deps_of(request).hub.ledger
    try:
        found = await ledger.read(seq, seq + 1)
        if not found:
            return error_page(request, 404, "console.not_found")
        [held] = found
        await record_consultation(
            request, purpose, "console.disclosure", event_id=held.event_id,
            event_type=held.event_type, case_pseudonym=held.case_pseudonym,
            person_pseudonyms=held.person_pseudonyms, agreement_id=held.agreement_id,
        )  # fmt: skip
    except LedgerError as error:
        log.warning("console.ledger_unavailable", code=error.code.value)
        return error_page(request, 503, "ledger.unavailable")
    return render(
        request, "disclosure.html", title=f"Ledger entry {seq}", detail=entry_detail(held),
        purpose=purpose,
    )  # fmt: skip


SUBJECT_FIELDS: Final = ("person", "subject_role", "format")


def _subject_page(
    request: web.Request, status: int, values: dict[str, str], error: FieldError | None = None
) -> web.Response:
    hidden = {"person"} | ({error.field} if error else set())
    return render(
        request, "subject_access.html", status=status, title="Subject access report",
        form={k: v for k, v in values.items() if k not in hidden}, error=error,
        purposes=PURPOSE_OPTIONS, roles=SUBJECT_ROLE_OPTIONS, formats=FORMATS,
    )  # fmt: skip


async def subject_access_form(request: web.Request) -> web.Response:
    """The subject access report form."""
    return _subject_page(request, 200, {"purpose": "subject-access-request"})


def _report(
    request: web.Request, body: SubjectAccessRequest, purpose: Purpose, person: str,
    entries: list[LedgerEntry],
) -> web.Response:  # fmt: skip
    """The report as the API answers it: JSON or CSV, as an attachment."""
    deps = deps_of(request)
    rows = report_rows(entries, body.subject_role, deps.hub.policy)
    at = deps.clock()
    name = f"subject-access-{at:%Y%m%dT%H%M%SZ}.{body.format}"
    headers = {"Content-Disposition": f'attachment; filename="{name}"'}
    if body.format == "csv":
        return web.Response(
            text=report_csv(rows), content_type="text/csv", charset="utf-8", headers=headers
        )
    report = {
        "subject": {"person_pseudonym": person, "role": body.subject_role},
        "generated_at": at.isoformat(),
        "purpose": purpose.label,
        "entries": rows,
        "note": REPORT_NOTE,
    }
    return web.json_response(report, headers=headers)


async def subject_access_download(request: web.Request) -> web.Response:
    """Record the consultation, then answer with the report as a download."""
    values = _values(await request.post(), (*SUBJECT_FIELDS, *_PURPOSE_FIELDS))
    try:
        purpose = _purpose_of(values)
        data = {k: v for k, v in values.items() if k in SUBJECT_FIELDS}
        body = _validated(SubjectAccessRequest, data | {"purpose": purpose.code})
    except FormError as signal:
        return _subject_page(request, 400, values, signal.error)
    person = deps_of(request).hub.pseudonyms.person(body.person)
    try:
        await record_consultation(
            request, purpose, "console.subject_access", person_pseudonyms=(person,)
        )
        entries = await every_entry(request, person)
    except LedgerError as error:
        log.warning("console.ledger_unavailable", code=error.code.value)
        return error_page(request, 503, "ledger.unavailable")
    except ConsoleError as error:
        return _subject_page(request, 413, values, FieldError("person", error.code))
    return _report(request, body, purpose, person, entries)


# --- operations: queues, quarantine, replay ------------------------------------------


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


async def queue_numbers(request: web.Request) -> dict[str, Any]:
    """What ``GET /api/queues`` answers, read the same way.

    Raises:
        OperationsError: 503 when the broker cannot be inspected.
    """
    deps = deps_of(request)
    stats, census = await queue_stats(deps)
    names = deps.hub.names

    def view(queue: str) -> dict[str, Any] | None:
        found = stats.get(queue)
        return found.as_json() if found is not None else None

    quarantine = view(names.quarantine) or {"queue": names.quarantine}
    quarantine |= {
        "by_reason": census.reasons, "counted": census.counted,
        "complete": census.counted < MAX_SCAN,
    }  # fmt: skip
    return {
        "ingress": view(names.ingress_queue),
        "inboxes": {p: view(names.inbox(p)) for p in agencies(deps.hub)},
        "quarantine": quarantine,
    }


async def queues_page(request: web.Request) -> web.Response:
    """Every inbox, ingress and quarantine by reason, with a depth chart; 503 explained."""
    try:
        numbers = await queue_numbers(request)
    except OperationsError as error:
        return render(
            request, "queues.html", status=error.status, title="Queues", numbers=None,
            code=error.code,
        )  # fmt: skip
    chart = depth_chart(numbers["inboxes"])
    return render(request, "queues.html", title="Queues", numbers=numbers, chart=chart, code=None)


async def quarantined(request: web.Request) -> list[dict[str, Any]]:
    """What ``GET /api/quarantine`` answers at its default limit, browsed the same way.

    Raises:
        OperationsError: 503 when the broker cannot be inspected or browsed.
    """
    ctx = deps_of(request).hub
    source = inspector(ctx)
    try:
        async with (
            quarantine_state(ctx).lock,
            source.browse(ctx.names.quarantine, DEFAULT_BROWSE) as seen,
        ):
            return [metadata(m, ctx.names.ingress_queue) for m in seen]
    except BrokerError as error:
        raise broker_failed(error) from error


async def quarantine_page(request: web.Request) -> web.Response:
    """The quarantined messages' metadata, each with a replay form."""
    try:
        messages = await quarantined(request)
    except OperationsError as error:
        return render(
            request, "quarantine.html", status=error.status, title="Quarantine",
            messages=None, code=error.code, reasons=(),
        )  # fmt: skip
    return render(
        request, "quarantine.html", title="Quarantine", messages=messages, code=None,
        reasons=sorted(REPLAY_REASONS), limit=DEFAULT_BROWSE,
    )  # fmt: skip


REPLAY_OUTCOMES: Final = {
    200: "Replayed",
    400: "Not replayed: the form was not valid",
    404: "Not replayed: not in quarantine",
    409: "Not replayed: conflict",
    503: "Not replayed: try again",
}


def _replay_ask(request: web.Request, values: dict[str, str]) -> ReplayRequest:
    """The checked replay of a form.

    Raises:
        OperationsError: 400 for a bad message id, reason or reference.
    """
    message_id = request.match_info["message_id"]
    reason, reference = values.get("reason"), values.get("reference")
    if not UUID_PATTERN.match(message_id):
        raise OperationsError(400, "console.bad_request", "message id")
    if reason not in REPLAY_REASONS:
        raise OperationsError(400, "console.bad_request", "reason")
    if reference is not None and not REFERENCE_PATTERN.match(reference):
        raise OperationsError(400, "console.bad_request", "reference")
    return ReplayRequest(message_id, reason, reference)


async def _replayed(request: web.Request, ask: ReplayRequest) -> bool:
    """Replay ``ask`` once at a time per message, as the API does.

    Raises:
        OperationsError: 404, 409 or 503 (see :func:`replay_message`).
    """
    deps, who = deps_of(request), principal(request)
    replaying = quarantine_state(deps.hub).replaying
    if ask.message_id in replaying:
        raise OperationsError(409, "quarantine.replay_in_progress", "already replaying")
    replaying.add(ask.message_id)
    try:
        removed = await replay_message(deps, ask, who.name if who else "unknown")
    except BrokerError as error:
        raise broker_failed(error) from error
    finally:
        replaying.discard(ask.message_id)
    log.info(
        "quarantine.replayed", message_id=ask.message_id, reason=ask.reason,
        token_name=who.name if who else None,
    )  # fmt: skip
    return removed


async def replay_page(request: web.Request) -> web.Response:
    """Replay one quarantined message from its form; say what happened on a result page."""
    values = _values(await request.post(), ("reason", "reference"))
    removed, code, status = None, None, 200
    try:
        removed = await _replayed(request, _replay_ask(request, values))
    except OperationsError as error:
        code, status = error.code, error.status
    message_id = request.match_info["message_id"]
    return render(
        request, "replay.html", status=status, title=REPLAY_OUTCOMES[status],
        message_id=message_id if UUID_PATTERN.match(message_id) else None,
        removed=removed, code=code,
    )  # fmt: skip


def _stylesheet_text() -> str:
    return resources.files("hub.console").joinpath("static/console.css").read_text("utf-8")


_STYLESHEET: Final = _stylesheet_text()


async def stylesheet(request: web.Request) -> web.Response:
    """The console's one stylesheet."""
    del request
    return web.Response(text=_STYLESHEET, content_type="text/css", charset="utf-8")


def _page(
    name: str, method: str, path: str, summary: str, roles: frozenset[Role], **more: Any
) -> Route:
    return Route(name, method, path, summary, roles, media_type=HTML, **more)


ALL: Final = frozenset(Role)
# The matrix is declared before /agreements/{agreement_id}: the router matches in order.
ROUTES: Final[tuple[Route, ...]] = (
    _page("page_login", "GET", "/login", "Sign-in form (web page)", frozenset()),
    _page(
        "page_login_submit", "POST", "/login", "Sign in with a console token (web form)",
        frozenset(), statuses=(303, 401, 403),
    ),
    _page("page_logout", "POST", "/logout", "Sign out (web form)", ALL, statuses=(303,)),
    _page("page_home", "GET", "/", "Overview (web page)", ALL),
    _page("page_ledger", "GET", "/ledger", "Ledger status (web page)", GOVERNANCE,
          statuses=(200, 503)),
    _page("page_search", "GET", "/search", "Ledger search form (web page)", GOVERNANCE),
    _page("page_search_submit", "POST", "/search", "Search the ledger (web form)", GOVERNANCE,
          statuses=(200, 400, 503)),
    _page(
        "page_disclosure", "GET", "/disclosures/{seq}", "One ledger entry (web page)",
        GOVERNANCE, statuses=(200, 400, 404, 503), example="/disclosures/0",
    ),
    _page("page_subject_access", "GET", "/subject-access", "Subject access form (web page)",
          GOVERNANCE),
    _page(
        "page_subject_access_submit", "POST", "/subject-access",
        "A subject access report as a download (web form)", GOVERNANCE,
        statuses=(200, 400, 413, 503),
    ),
    _page("page_queues", "GET", "/queues", "Queues (web page)", OPERATIONS, statuses=(200, 503)),
    _page("page_quarantine", "GET", "/quarantine", "Quarantine (web page)", OPERATIONS,
          statuses=(200, 503)),
    _page(
        "page_replay", "POST", "/quarantine/{message_id}/replay",
        "Replay a quarantined message (web form)", OPERATIONS,
        statuses=(200, 400, 404, 409, 503),
        example="/quarantine/00000000-0000-4000-8000-000000000000/replay",
    ),
    _page("page_agreements", "GET", "/agreements", "Agreements (web page)", READERS),
    _page("page_matrix", "GET", "/agreements/matrix", "Who sees what (web page)", READERS),
    _page(
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
    "page_search": search_form,
    "page_search_submit": search_results,
    "page_disclosure": disclosure_page,
    "page_subject_access": subject_access_form,
    "page_subject_access_submit": subject_access_download,
    "page_queues": queues_page,
    "page_quarantine": quarantine_page,
    "page_replay": replay_page,
    "page_agreements": agreements_page,
    "page_matrix": matrix_page,
    "page_agreement": agreement_page,
    "stylesheet": stylesheet,
}
