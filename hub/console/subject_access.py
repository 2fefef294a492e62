"""Subject access: one IG officer drafts a report, a second releases it; both in the ledger.

``POST /api/subject-access`` (purpose, reference, person) drafts: the console turns
the person reference into its pseudonym, reads every disclosure about them below
the ledger's current size, derives their role from what the ledger records
(:mod:`hub.ledger.reports`: nobody picks it), records a
``console.subject_access_draft`` consultation naming the pseudonym, the derived
role and that size, and answers with the draft: the rows a release would give, and
how many rows and groups were left out (never which).

``POST /api/subject-access/{draft_id}/release`` (purpose, reference, format) by an
IG officer with another token than the drafter's, within :data:`DRAFT_VALID` of
the draft, reads the same entries again (those below the draft's size: the ledger
only grows, so they are the same), records a ``console.subject_access_release``
naming the pseudonym, the role and the draft, and answers with the report: JSON,
CSV, or a printable page (``html``) for the data subject; ``annex`` gives the IG
officer's own copy of the ledger references instead (recorded as
``console.subject_access_annex``). A release can be asked for again (each is
recorded); the drafter can never release their own draft.
"""

from __future__ import annotations

import csv
import io
import re
import uuid
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING, Any, Final, Literal

from aiohttp import web

from hub.console.base import GOVERNANCE, ConsoleError, Param, Route
from hub.console.deps import deps_of, principal
from hub.console.governance import (
    REFS,
    Purpose,
    PurposeBody,
    failure,
    read_body,
    record_consultation,
    unavailable,
)
from hub.console.pages import render_document
from hub.ledger import (
    MAX_LIMIT,
    REPORT_NOTE,
    ROLE_WORDS,
    Criteria,
    LedgerError,
    PersonInEvent,
    Report,
    SearchQuery,
    annex_rows,
    build_report,
    released_rows,
)
from schemas.base import PersonReference  # noqa: TC001 - pydantic resolves annotations at runtime

if TYPE_CHECKING:
    from aiohttp.typedefs import Handler

    from hub.ledger import LedgerEntry

#: How long a draft may wait for its release: the month a controller has to answer.
DRAFT_VALID: Final = timedelta(days=31)
DRAFTED: Final = "console.subject_access_draft"
RELEASED: Final = "console.subject_access_release"
ANNEXED: Final = "console.subject_access_annex"
#: Most ledger pages one report reads (500 entries each).
MAX_REPORT_PAGES: Final = 200
UUID_TEXT: Final = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
_FORMULA_START: Final = ("=", "+", "-", "@", "\t", "\r")
CSV_COLUMNS: Final = (
    "number", "date", "event", "from", "to", "shared", "not_shared", "purposes",
    "lawful_bases", "agreements",
)  # fmt: skip
ReportFormat = Literal["json", "csv", "html", "annex"]


class DraftRequest(PurposeBody):
    """The body of ``POST /api/subject-access``: whose report, and why."""

    person: PersonReference


class ReleaseRequest(PurposeBody):
    """The body of ``POST /api/subject-access/{draft_id}/release``."""

    format: ReportFormat = "json"


@dataclass(frozen=True)
class Draft:
    """A recorded draft: whose report, of which role, over which part of the ledger."""

    entry: LedgerEntry
    person: str
    role: str
    up_to: int

    @property
    def draft_id(self) -> uuid.UUID:
        """The draft's id: its consultation entry's decision id."""
        return self.entry.decision_id


def parse_draft_id(text: str) -> uuid.UUID:
    """A draft id typed in a path: a lowercase UUID, nothing else.

    Raises:
        ConsoleError: ``console.bad_request``; the detail never repeats the value.
    """
    if not UUID_TEXT.match(text):
        raise ConsoleError("console.bad_request", "a draft id is a UUID")
    return uuid.UUID(text)


async def entries_about(request: web.Request, person: str, up_to: int) -> list[LedgerEntry]:
    """Every disclosure entry about ``person`` below position ``up_to``, page by page.

    Raises:
        ConsoleError: ``console.report_too_large`` past :data:`MAX_REPORT_PAGES`.
        LedgerError: the ledger cannot be read.
    """
    ledger = deps_of(request).hub.ledger
    found: list[LedgerEntry] = []
    after = -1
    for _ in range(MAX_REPORT_PAGES):
        query = SearchQuery(person=person, kind="disclosure", after=after, limit=MAX_LIMIT)
        page = await ledger.search(query)
        found += [e for e in page.entries if e.seq < up_to]
        if page.next_after is None or page.next_after >= up_to:
            return found
        after = page.next_after
    raise ConsoleError("console.report_too_large", "too many entries for one report")


async def draft_report(request: web.Request, purpose: Purpose, person: str) -> tuple[Draft, Report]:
    """Work out the report for ``person`` and record the draft; nothing leaves before that.

    Raises:
        ConsoleError: ``console.report_too_large``.
        LedgerError: the ledger could not be read, or the draft not recorded.
    """
    deps = deps_of(request)
    up_to = await deps.hub.ledger.size()
    report = build_report(await entries_about(request, person, up_to), person, deps.hub.policy)
    entry = await record_consultation(
        request,
        purpose,
        DRAFTED,
        person_pseudonyms=(person,),
        persons=(PersonInEvent(pseudonym=person, role=report.role),),
        criteria=Criteria(up_to=up_to),
    )
    return Draft(entry, person, report.role, up_to), report


async def open_draft(request: web.Request, draft_id: uuid.UUID) -> Draft:
    """The recorded draft ``draft_id``, if this officer may release it now.

    Raises:
        ConsoleError: ``console.not_found`` (404: no such draft),
            ``console.draft_expired`` (410), ``console.same_officer`` (403: the
            drafter cannot release their own draft).
        LedgerError: the ledger could not be read.
    """
    deps = deps_of(request)
    entry = await deps.hub.ledger.decision(draft_id)
    criteria = entry.criteria if entry is not None else None
    if (
        entry is None
        or entry.outcome != DRAFTED
        or len(entry.persons) != 1
        or criteria is None
        or criteria.up_to is None
    ):
        raise ConsoleError("console.not_found", "no subject access draft with that id")
    if deps.clock() - entry.recorded_at > DRAFT_VALID:
        raise ConsoleError("console.draft_expired", "the draft is older than a month; draft again")
    admitted = principal(request)
    if admitted is None or admitted.name == entry.actor:
        raise ConsoleError("console.same_officer", "a second IG officer must release a report")
    [person] = entry.persons
    return Draft(entry, person.pseudonym, person.role, criteria.up_to)


async def release_report(
    request: web.Request, purpose: Purpose, draft: Draft, *, annex: bool = False
) -> Report:
    """Read the draft's entries again and record the release; nothing leaves before that.

    Raises:
        ConsoleError: ``console.draft_changed`` (409) when the ledger no longer gives
            the drafted role (only a changed ledger could do that), or
            ``console.report_too_large``.
        LedgerError: the ledger could not be read, or the release not recorded.
    """
    deps = deps_of(request)
    entries = await entries_about(request, draft.person, draft.up_to)
    report = build_report(entries, draft.person, deps.hub.policy)
    if report.role != draft.role:
        raise ConsoleError("console.draft_changed", "the ledger no longer gives the draft's role")
    await record_consultation(
        request,
        purpose,
        ANNEXED if annex else RELEASED,
        person_pseudonyms=(draft.person,),
        persons=(PersonInEvent(pseudonym=draft.person, role=draft.role),),
        criteria=Criteria(draft=draft.draft_id),
    )
    return report


def draft_json(draft: Draft, report: Report, request: web.Request) -> dict[str, Any]:
    """What the drafting officer sees: the rows a release gives, and how much was left out."""
    policy = deps_of(request).hub.policy
    return {
        "draft_id": str(draft.draft_id),
        "subject": {
            "person_pseudonym": draft.person,
            "role": draft.role,
            "role_words": ROLE_WORDS[draft.role],
        },
        "drafted_by": draft.entry.actor,
        "release_by": (draft.entry.recorded_at + DRAFT_VALID).date().isoformat(),
        "rows": released_rows(report, policy),
        "left_out": {"rows": report.rows_left_out, "groups": report.groups_left_out},
        "note": REPORT_NOTE,
    }


def released_json(report: Report, request: web.Request, purpose: Purpose) -> dict[str, Any]:
    """The report a data subject is given: no ledger positions, hashes, exact times or ids."""
    deps = deps_of(request)
    return {
        "reference": purpose.reference,
        "produced_on": deps.clock().date().isoformat(),
        "about": ROLE_WORDS[report.role],
        "rows": released_rows(report, deps.hub.policy),
        "note": REPORT_NOTE,
    }


def _cell(value: Any) -> str:
    """One CSV cell, defused: a leading ``= + - @`` or control would start a formula."""
    text = "; ".join(value) if isinstance(value, list) else "" if value is None else str(value)
    return "'" + text if text.startswith(_FORMULA_START) else text


def report_csv(rows: list[dict[str, Any]]) -> str:
    """The released rows as CSV, safe to open in a spreadsheet, with the note last."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    for row in rows:
        reasons = row["reasons"]
        cells = {
            **row,
            "purposes": [r["purpose"] for r in reasons],
            "lawful_bases": [r["lawful_basis"] for r in reasons],
            "agreements": sorted({r["agreement"] for r in reasons}),
        }
        writer.writerow([_cell(cells[name]) for name in CSV_COLUMNS])
    writer.writerow([_cell(f"Note: {REPORT_NOTE}")])
    return out.getvalue()


def report_answer(
    request: web.Request, report: Report, purpose: Purpose, fmt: ReportFormat, draft: Draft
) -> web.Response:
    """The released report in ``fmt``: a download, or the printable page (``html``)."""
    at = deps_of(request).clock()
    name = f"subject-access-{at:%Y%m%d}"
    if fmt == "annex":
        annex = {
            "draft_id": str(draft.draft_id),
            "person_pseudonym": draft.person,
            "role": draft.role,
            "rows": annex_rows(report),
        }
        headers = {"Content-Disposition": f'attachment; filename="{name}-annex.json"'}
        return web.json_response(annex, headers=headers)
    released = released_json(report, request, purpose)
    if fmt == "html":
        return render_document(request, "subject_access_report.html", report=released)
    headers = {"Content-Disposition": f'attachment; filename="{name}.{fmt}"'}
    if fmt == "csv":
        return web.Response(
            text=report_csv(released["rows"]),
            content_type="text/csv",
            charset="utf-8",
            headers=headers,
        )
    return web.json_response(released, headers=headers)


_STATUS: Final = {
    "console.not_found": 404,
    "console.draft_expired": 410,
    "console.same_officer": 403,
    "console.draft_changed": 409,
    "console.report_too_large": 413,
    "console.bad_request": 400,
}


def refusal_status(error: ConsoleError) -> int:
    """The HTTP status of a subject access refusal code."""
    return _STATUS.get(error.code, 400)


async def draft(request: web.Request) -> web.Response:
    """``POST /api/subject-access``: draft a report; 201 with what a release would give."""
    try:
        body, purpose = await read_body(request, DraftRequest)
    except ConsoleError as error:
        return failure(400, error)
    person = deps_of(request).hub.pseudonyms.person(body.person)
    try:
        made, report = await draft_report(request, purpose, person)
    except LedgerError as error:
        return unavailable(error)
    except ConsoleError as error:
        return failure(refusal_status(error), error)
    return web.json_response(draft_json(made, report, request), status=201)


async def release(request: web.Request) -> web.Response:
    """``POST /api/subject-access/{draft_id}/release``: the report, by a second officer."""
    try:
        draft_id = parse_draft_id(request.match_info.get("draft_id", ""))
        body, purpose = await read_body(request, ReleaseRequest)
    except ConsoleError as error:
        return failure(400, error)
    try:
        held = await open_draft(request, draft_id)
        report = await release_report(request, purpose, held, annex=body.format == "annex")
    except LedgerError as error:
        return unavailable(error)
    except ConsoleError as error:
        return failure(refusal_status(error), error)
    return report_answer(request, report, purpose, body.format, held)


_DRAFT_ID: Final = Param(
    "draft_id", "path", {"type": "string", "format": "uuid", "pattern": UUID_TEXT.pattern}
)
ROUTES: Final[tuple[Route, ...]] = (
    Route(
        "subject_access",
        "POST",
        "/api/subject-access",
        "Draft a subject access report for one person (their role is derived); recorded",
        GOVERNANCE,
        statuses=(201, 400, 413, 503),
        body=DraftRequest.model_json_schema(ref_template=REFS),
    ),
    Route(
        "subject_access_release",
        "POST",
        "/api/subject-access/{draft_id}/release",
        "Release a drafted report (JSON, CSV, printable page, or the annex); another officer",
        GOVERNANCE,
        statuses=(200, 400, 403, 404, 409, 410, 413, 503),
        alternatives=("text/csv", "text/html"),
        example="/api/subject-access/00000000-0000-0000-0000-000000000000/release",
        parameters=(_DRAFT_ID,),
        body=ReleaseRequest.model_json_schema(ref_template=REFS),
    ),
)
HANDLERS: Final[dict[str, Handler]] = {"subject_access": draft, "subject_access_release": release}
