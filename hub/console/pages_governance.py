"""The information-governance pages: ledger search, one disclosure, subject access.

Each read records its consultation entry first, through the same functions of
:mod:`hub.console.governance` the JSON API calls. Case and person references are
typed only into POST forms and are never written back into a page: the answer
shows their pseudonyms, and the next results page carries the pseudonyms, not the
references.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any, Final, TypeVar

from pydantic import BaseModel
from pydantic import ValidationError as PydanticValidationError

from hub.console.base import GOVERNANCE, ConsoleError
from hub.console.deps import deps_of
from hub.console.evaluation import CHARTS as EVALUATION_CHARTS
from hub.console.evaluation import summary as evaluation_summary
from hub.console.governance import (
    PURPOSES,
    Purpose,
    SearchRequest,
    entry_detail,
    page_json,
    parse_purpose,
    parse_seq,
    read_entry,
    search_ledger,
    search_query,
)
from hub.console.pages import error_page, form_values, page_route, render
from hub.console.subject_access import (
    DRAFT_VALID,
    DraftRequest,
    ReleaseRequest,
    draft_json,
    draft_report,
    open_draft,
    parse_draft_id,
    refusal_status,
    release_report,
    report_answer,
)
from hub.errors import HubError
from hub.ledger import CASE_PSEUDONYM, PERSON_PSEUDONYM, LedgerError
from hub.logs import get_logger

if TYPE_CHECKING:
    from aiohttp import web
    from aiohttp.typedefs import Handler

    from hub.console.base import Route
    from hub.ledger import SearchQuery

log = get_logger("hub.console.pages")
M = TypeVar("M", bound=BaseModel)

#: Entries shown per results page.
SEARCH_PAGE: Final = 50
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
    ("release", "Release"), ("receipt", "Receipt"),
)  # fmt: skip
PURPOSE_OPTIONS: Final = tuple((code, f"{code}: {text}") for code, text in PURPOSES.items())
#: What a release gives: the printable page first, for the data subject.
FORMATS: Final = (
    ("html", "A printable page, for the data subject"),
    ("csv", "CSV (opens in a spreadsheet)"),
    ("json", "JSON"),
    ("annex", "The annex: ledger positions of each row, for your own file only"),
)
SUBJECT_FIELDS: Final = ("person",)
RELEASE_FIELDS: Final = ("format", "confirm")
_PURPOSE_FIELDS: Final = ("purpose", "reference")
#: What a next-page form carries besides the criteria: the cursor and the pseudonyms.
_NEXT_FIELDS: Final = ("after", "case_pseudonym", "person_pseudonym")
FIELD_MESSAGES: Final = {
    "console.purpose_required": "Choose the purpose of this read.",
    "console.purpose_invalid": "Choose a purpose from the list.",
    "console.reference_invalid": "A reference is 1 to 32 letters, digits or hyphens.",
    "console.bad_request": "This value is not valid here.",
    "console.report_too_large": "Too many entries for one report; ask for the ledger export.",
    "console.same_officer": "You drafted this report: a second IG officer must release it.",
    "console.draft_expired": "This draft is more than a month old. Draft the report again.",
    "console.draft_changed": "The ledger no longer gives this draft's role. Report it to the DPO.",
    "console.not_found": "There is no subject access draft with that id.",
    "console.confirm_required": "Confirm that you have checked the draft before releasing it.",
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


class FormError(HubError):
    """A form cannot be used as sent; carries the field that failed."""

    def __init__(self, error: FieldError) -> None:
        """Carry ``error``."""
        super().__init__(error.code, error.field)
        self.error = error


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


def _unavailable(request: web.Request, error: LedgerError) -> web.Response:
    log.warning("console.ledger_unavailable", code=error.code.value)
    return error_page(request, 503, "ledger.unavailable")


# --- search ----------------------------------------------------------------------------


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


def form_query(request: web.Request, values: dict[str, str]) -> tuple[Purpose, SearchQuery]:
    """The purpose and ledger query of a search form (typed references turned pseudonyms).

    Raises:
        FormError: the first field that is missing or not valid.
    """
    purpose = _purpose_of(values)
    data = _search_data(values) | {"purpose": purpose.code, "limit": SEARCH_PAGE}
    body = _validated(SearchRequest, data)
    case, person = _pseudonyms(values)
    query = search_query(request, body)
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
    values = form_values(await request.post(), (*SEARCH_FIELDS, *_PURPOSE_FIELDS, *_NEXT_FIELDS))
    try:
        purpose, query = form_query(request, values)
    except FormError as signal:
        return _search_page(request, 400, values, error=signal.error)
    try:
        page = await search_ledger(request, purpose, query)
    except LedgerError as error:
        return _unavailable(request, error)
    return _search_page(request, 200, values, results=page_json(page), query=query, purpose=purpose)


# --- one disclosure ----------------------------------------------------------------------


def _disclosure_form(
    request: web.Request, seq: int, status: int = 200, error: FieldError | None = None
) -> web.Response:
    return render(
        request, "disclosure_purpose.html", status=status, title=f"Ledger entry {seq}",
        seq=seq, purposes=PURPOSE_OPTIONS, error=error,
    )  # fmt: skip


async def disclosure_page(request: web.Request) -> web.Response:
    """One ledger entry in full, once the reader has given a purpose (which is recorded)."""
    try:
        seq = parse_seq(request.match_info["seq"])
    except ConsoleError:
        return error_page(request, 404, "console.not_found")
    if "purpose" not in request.query:
        return _disclosure_form(request, seq)
    values = {k: v.strip() for k in _PURPOSE_FIELDS if (v := request.query.get(k, "")).strip()}
    try:
        purpose = _purpose_of(values)
    except FormError as signal:
        return _disclosure_form(request, seq, 400, signal.error)
    try:
        held = await read_entry(request, seq, purpose)
    except LedgerError as error:
        return _unavailable(request, error)
    if held is None:
        return error_page(request, 404, "console.not_found")
    return render(
        request, "disclosure.html", title=f"Ledger entry {seq}", detail=entry_detail(held),
        purpose=purpose,
    )  # fmt: skip


# --- subject access ----------------------------------------------------------------------


def _subject_page(
    request: web.Request, status: int, values: dict[str, str], error: FieldError | None = None
) -> web.Response:
    hidden = {"person"} | ({error.field} if error else set())
    return render(
        request, "subject_access.html", status=status, title="Subject access report",
        form={k: v for k, v in values.items() if k not in hidden}, error=error,
        purposes=PURPOSE_OPTIONS,
    )  # fmt: skip


async def subject_access_form(request: web.Request) -> web.Response:
    """The subject access form: purpose, reference and the person; no role to pick."""
    return _subject_page(request, 200, {"purpose": "subject-access-request"})


async def subject_access_draft(request: web.Request) -> web.Response:
    """Draft the report (recorded), then show what a release would give and what it leaves out."""
    values = form_values(await request.post(), (*SUBJECT_FIELDS, *_PURPOSE_FIELDS))
    try:
        purpose = _purpose_of(values)
        data = {k: v for k, v in values.items() if k in SUBJECT_FIELDS}
        body = _validated(DraftRequest, data | {"purpose": purpose.code})
    except FormError as signal:
        return _subject_page(request, 400, values, signal.error)
    person = deps_of(request).hub.pseudonyms.person(body.person)
    try:
        made, report = await draft_report(request, purpose, person)
    except LedgerError as error:
        return _unavailable(request, error)
    except ConsoleError as error:
        return _subject_page(
            request, refusal_status(error), values, FieldError("person", error.code)
        )
    return render(
        request, "subject_access_draft.html", status=201, title="Subject access draft",
        draft=draft_json(made, report, request), purpose=purpose,
    )  # fmt: skip


def _release_page(
    request: web.Request,
    draft_id: str,
    status: int,
    values: dict[str, str],
    error: FieldError | None = None,
) -> web.Response:
    return render(
        request, "subject_access_release.html", status=status, title="Release a report",
        draft_id=draft_id, form=values, error=error, purposes=PURPOSE_OPTIONS, formats=FORMATS,
        valid_days=DRAFT_VALID.days,
    )  # fmt: skip


async def subject_access_release_form(request: web.Request) -> web.Response:
    """The release form of one draft; reads nothing from the ledger until it is sent."""
    try:
        draft_id = parse_draft_id(request.match_info["draft_id"])
    except ConsoleError:
        return error_page(request, 404, "console.not_found")
    return _release_page(request, str(draft_id), 200, {"purpose": "subject-access-request"})


def _release_form(values: dict[str, str]) -> tuple[Purpose, ReleaseRequest]:
    """The purpose and format of a release form, confirmed.

    Raises:
        FormError: a missing or bad purpose or format, or no confirmation.
    """
    purpose = _purpose_of(values)
    data = {k: v for k, v in values.items() if k == "format"}
    body = _validated(ReleaseRequest, data | {"purpose": purpose.code})
    if values.get("confirm") != "yes":
        raise FormError(FieldError("confirm", "console.confirm_required"))
    return purpose, body


async def subject_access_release(request: web.Request) -> web.Response:
    """Release a draft (recorded) as the printable page or a download; never by its drafter."""
    try:
        draft_id = parse_draft_id(request.match_info["draft_id"])
    except ConsoleError:
        return error_page(request, 404, "console.not_found")
    values = form_values(await request.post(), (*RELEASE_FIELDS, *_PURPOSE_FIELDS))
    try:
        purpose, body = _release_form(values)
    except FormError as signal:
        return _release_page(request, str(draft_id), 400, values, signal.error)
    try:
        held = await open_draft(request, draft_id)
        report = await release_report(request, purpose, held, annex=body.format == "annex")
    except LedgerError as error:
        return _unavailable(request, error)
    except ConsoleError as error:
        field = FieldError("form", error.code)
        return _release_page(request, str(draft_id), refusal_status(error), values, field)
    return report_answer(request, report, purpose, body.format, held)


async def evaluation_page(request: web.Request) -> web.Response:
    """The programme's evaluation: the feed, the releases recorded, the published reports."""
    found = await evaluation_summary(request)
    return render(
        request, "evaluation.html", title="Evaluation", found=found, charts=EVALUATION_CHARTS
    )


ROUTES: Final[tuple[Route, ...]] = (
    page_route(
        "page_evaluation", "GET", "/evaluation",
        "The evaluation: feed, releases and published reports (web page)", GOVERNANCE,
    ),
    page_route("page_search", "GET", "/search", "Ledger search form (web page)", GOVERNANCE),
    page_route(
        "page_search_submit", "POST", "/search", "Search the ledger (web form)", GOVERNANCE,
        statuses=(200, 400, 503),
    ),
    page_route(
        "page_disclosure", "GET", "/disclosures/{seq}", "One ledger entry (web page)",
        GOVERNANCE, statuses=(200, 400, 404, 503), example="/disclosures/0",
    ),
    page_route(
        "page_subject_access", "GET", "/subject-access", "Subject access form (web page)",
        GOVERNANCE,
    ),
    page_route(
        "page_subject_access_submit", "POST", "/subject-access",
        "Draft a subject access report (web form)", GOVERNANCE,
        statuses=(201, 400, 413, 503),
    ),
    page_route(
        "page_subject_access_release", "GET", "/subject-access/{draft_id}",
        "Release form of a subject access draft (web page)", GOVERNANCE,
        statuses=(200, 404), example="/subject-access/00000000-0000-0000-0000-000000000000",
    ),
    page_route(
        "page_subject_access_release_submit", "POST", "/subject-access/{draft_id}",
        "Release a subject access report: printable page or download (web form)", GOVERNANCE,
        statuses=(200, 400, 403, 404, 409, 410, 413, 503),
        example="/subject-access/00000000-0000-0000-0000-000000000000",
    ),
)  # fmt: skip
HANDLERS: Final[dict[str, Handler]] = {
    "page_evaluation": evaluation_page,
    "page_search": search_form,
    "page_search_submit": search_results,
    "page_disclosure": disclosure_page,
    "page_subject_access": subject_access_form,
    "page_subject_access_submit": subject_access_draft,
    "page_subject_access_release": subject_access_release_form,
    "page_subject_access_release_submit": subject_access_release,
}
