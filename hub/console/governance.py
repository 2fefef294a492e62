"""Information governance: ledger search, disclosures and subject access reports.

Every read of ledger content through these routes is itself recorded in the ledger
as a consultation entry naming the token and the purpose the user gave (Data
Protection Act 2018 s.62), *before* anything is read out: if it cannot be recorded
the answer is 503 ``ledger.unavailable`` and holds no data.

The purpose is a code from :data:`PURPOSES`, never free text (free text could carry
personal data into the ledger, which names nobody), with an optional reference
such as a ticket number matching :data:`REFERENCE`. Codes are hyphenated because
ledger labels allow no underscore. Case and person references are typed only in
POST bodies, so they never reach a URL or an access log; the console turns them
into the ledger's keyed pseudonyms at once, and no answer or error repeats them.

Subject access reports are in :mod:`hub.console.subject_access`.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Any, Final, TypeVar

from aiohttp import web
from pydantic import (
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StringConstraints,
)
from pydantic import ValidationError as PydanticValidationError

from hub import safejson
from hub.console.base import GOVERNANCE, ConsoleError, Param, Route
from hub.console.deps import deps_of, principal
from hub.ledger import (
    DEFAULT_LIMIT,
    MAX_LIMIT,
    Criteria,
    EntryDraft,
    EntryKind,
    Label,
    LedgerError,
    SearchQuery,
    WithheldGroup,
)
from hub.logs import get_logger
from schemas.base import GROUP_TITLES, CaseReference, FieldGroup, PersonReference
from schemas.parties import PartyId  # noqa: TC001 - pydantic resolves annotations at runtime

if TYPE_CHECKING:
    from aiohttp.typedefs import Handler

    from hub.ledger import LedgerEntry, SearchPage

log = get_logger("hub.console.governance")

#: The purposes a consultation may give, with what each covers.
PURPOSES: Final[dict[str, str]] = {
    "subject-access-request": "answering a data subject's request for access",
    "complaint": "investigating a complaint about how information was shared",
    "audit": "a planned audit of sharing under the agreements",
    "breach-investigation": "investigating a suspected personal data breach",
    "legal-request": "a court order, legal claim or disclosure request",
    "dpo-review": "a review by the data protection officer",
    "agreement-review": "reviewing how an information-sharing agreement is used",
}
#: An optional reference for the purpose: a ticket or case-file number, nothing more.
REFERENCE: Final = re.compile(r"^[A-Za-z0-9-]{1,32}$")
_SEQ: Final = re.compile(r"^[0-9]{1,15}$")
_MAX_SEQ: Final = 10**15 - 1
_UNAVAILABLE: Final = "ledger.unavailable"


@dataclass(frozen=True)
class Purpose:
    """Why a user reads the ledger: a code from :data:`PURPOSES` and an optional reference."""

    code: str
    reference: str | None = None

    @property
    def label(self) -> str:
        """The consultation entry's ``purpose``: ``code`` or ``code:reference``."""
        return self.code if self.reference is None else f"{self.code}:{self.reference}"


def parse_purpose(purpose: object, reference: object) -> Purpose:
    """Check a purpose code and its optional reference.

    Raises:
        ConsoleError: ``console.purpose_required``, ``console.purpose_invalid`` or
            ``console.reference_invalid``; the detail never repeats the value.
    """
    if purpose is None or purpose == "":
        raise ConsoleError("console.purpose_required", "give a purpose code")
    if not isinstance(purpose, str) or purpose not in PURPOSES:
        codes = ", ".join(PURPOSES)
        raise ConsoleError("console.purpose_invalid", f"purpose must be one of: {codes}")
    if reference is None or reference == "":
        return Purpose(purpose)
    if not isinstance(reference, str) or not REFERENCE.match(reference):
        raise ConsoleError("console.reference_invalid", "reference must be 1-32 of A-Z a-z 0-9 -")
    return Purpose(purpose, reference)


def _text_only(value: object) -> object:
    # JSON's 0 is no time; pydantic would read a number as seconds since 1970.
    if not isinstance(value, str | datetime):
        raise ValueError("a time is an RFC 3339 string")  # noqa: TRY004 - pydantic wants ValueError
    return value


def _whole(value: object) -> object:
    # JSON's false is no position and "5" no limit, but 5.0 is the number 5.
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError("a whole number")  # noqa: TRY004 - pydantic wants ValueError
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


#: A time with its offset, written as RFC 3339 text.
Timestamp = Annotated[AwareDatetime, BeforeValidator(_text_only)]


class PurposeBody(BaseModel):
    """A JSON body that gives a purpose code and an optional reference."""

    # The purpose is checked first, by parse_purpose, for its own error codes; these
    # annotations hold it again and describe it in the OpenAPI document.
    model_config = ConfigDict(extra="forbid", frozen=True)

    purpose: Annotated[str, Field(json_schema_extra={"enum": list(PURPOSES)})]
    reference: Annotated[str, StringConstraints(pattern=REFERENCE.pattern)] | None = None


class SearchRequest(PurposeBody):
    """The body of ``POST /api/ledger/search``."""

    case_reference: CaseReference | None = None
    person: PersonReference | None = None
    agency: PartyId | None = None
    agreement: Label | None = None
    event_type: Annotated[str, StringConstraints(pattern=r"^[A-Za-z][A-Za-z0-9]{0,63}$")] | None = (
        None
    )
    kind: EntryKind | None = None
    actor: Label | None = None
    since: Timestamp | None = None
    until: Timestamp | None = None
    after: Annotated[int, Field(ge=-1, lt=2**53), BeforeValidator(_whole)] = -1
    limit: Annotated[int, Field(ge=1, le=MAX_LIMIT), BeforeValidator(_whole)] = DEFAULT_LIMIT


M = TypeVar("M", bound=PurposeBody)


def failure(status: int, error: ConsoleError) -> web.Response:
    """A JSON error answer ``{"code": ..., "detail": ...}``."""
    return web.json_response(error.diagnostics(), status=status)


def _invalid(error: PydanticValidationError, fields: set[str]) -> ConsoleError:
    """A 400 error naming the first bad field (if a known one), never its value."""
    first = error.errors()[0]
    name = str(first["loc"][0]) if first["loc"] else ""
    if first["type"] == "extra_forbidden" or name not in fields:
        return ConsoleError(
            "console.bad_request", "the body holds a field this route does not take"
        )
    if first["type"] == "missing":
        return ConsoleError("console.bad_request", f"{name}: required")
    return ConsoleError("console.bad_request", f"{name}: not a valid value")


async def read_body(request: web.Request, model: type[M]) -> tuple[M, Purpose]:
    """Parse a JSON object body into ``model`` and check its purpose.

    Raises:
        ConsoleError: ``console.bad_request`` or a purpose code.
    """
    try:
        data = safejson.loads(await request.text())
    except (ValueError, UnicodeDecodeError):
        raise ConsoleError("console.bad_request", "the body must be a JSON object") from None
    if not isinstance(data, dict):
        raise ConsoleError("console.bad_request", "the body must be a JSON object")
    purpose = parse_purpose(data.get("purpose"), data.get("reference"))
    try:
        return model.model_validate(data), purpose
    except PydanticValidationError as error:
        raise _invalid(error, set(model.model_fields)) from None


async def record_consultation(
    request: web.Request, purpose: Purpose, outcome: str, **consulted: Any
) -> LedgerEntry:
    """Append the consultation entry for this read; return only once it is committed.

    Args:
        request: the request, whose token names the actor.
        purpose: why the user reads.
        outcome: what kind of read (``console.search``, ``console.disclosure``...).
        consulted: entry fields naming what was read (pseudonyms, event id, ...).

    Returns:
        The committed consultation entry.

    Raises:
        LedgerError: the entry could not be recorded; the caller answers 503.
    """
    deps = deps_of(request)
    admitted = principal(request)
    draft = EntryDraft(
        kind="consultation",
        decision_id=uuid.uuid4(),
        recorded_at=deps.clock(),
        actor=admitted.name if admitted is not None else "unknown",
        purpose=purpose.label,
        outcome=outcome,
        **consulted,
    )
    [entry] = await deps.hub.ledger.append([draft])
    log.info("console.consultation", seq=entry.seq, code=outcome, token_name=draft.actor)
    return entry


def unavailable(error: LedgerError) -> web.Response:
    """The 503 ``ledger.unavailable`` answer: nothing was read, and it says so."""
    log.warning("console.ledger_unavailable", code=error.code.value)
    detail = "the ledger could not record or serve this read; nothing was read"
    return failure(503, ConsoleError(_UNAVAILABLE, detail))


def search_query(request: web.Request, body: SearchRequest) -> SearchQuery:
    """The ledger query of a checked search body, its typed references turned pseudonyms."""
    pseudonyms = deps_of(request).hub.pseudonyms
    return SearchQuery(
        case=pseudonyms.case(body.case_reference) if body.case_reference else None,
        person=pseudonyms.person(body.person) if body.person else None,
        party=body.agency,
        agreement=body.agreement,
        event_type=body.event_type,
        kind=body.kind,
        actor=body.actor,
        since=body.since,
        until=body.until,
        after=body.after,
        limit=body.limit,
    )


async def search_ledger(request: web.Request, purpose: Purpose, query: SearchQuery) -> SearchPage:
    """Record the search's consultation entry, then read one page of matching entries.

    Raises:
        LedgerError: the consultation could not be recorded (nothing was read) or
            the ledger could not be searched.
    """
    await record_consultation(
        request,
        purpose,
        "console.search",
        case_pseudonym=query.case,
        person_pseudonyms=(query.person,) if query.person else (),
        agreement_id=query.agreement,
        event_type=query.event_type,
        criteria=Criteria(
            agency=query.party,
            kind=query.kind,
            actor=query.actor,
            since=query.since,
            until=query.until,
        ),
    )
    return await deps_of(request).hub.ledger.search(query)


def page_json(page: SearchPage) -> dict[str, Any]:
    """One page of search results as the API answers it: entries and the next cursor."""
    entries = [entry.model_dump(mode="json") for entry in page.entries]
    return {"entries": entries, "next_after": page.next_after}


async def search(request: web.Request) -> web.Response:
    """``POST /api/ledger/search``: one page of matching entries, after recording the read."""
    try:
        body, purpose = await read_body(request, SearchRequest)
    except ConsoleError as error:
        return failure(400, error)
    try:
        page = await search_ledger(request, purpose, search_query(request, body))
    except LedgerError as error:
        return unavailable(error)
    return web.json_response(page_json(page))


def _titled(groups: tuple[str, ...]) -> list[dict[str, str]]:
    return [{"group": g, "title": GROUP_TITLES[FieldGroup(g)]} for g in groups]


def _withheld_detail(entry: LedgerEntry) -> list[dict[str, str | None]]:
    """Each withheld group titled, with its reason where the entry records one (format 2)."""
    reasons: dict[str, WithheldGroup] = {w.group: w for w in entry.withheld}
    rows: list[dict[str, str | None]] = []
    for row in _titled(entry.groups_withheld):
        reason = reasons.get(row["group"])
        rows.append(
            {
                **row,
                "reason": reason.reason if reason else None,
                "rule": reason.rule if reason else None,
            }
        )
    return rows


def entry_detail(entry: LedgerEntry) -> dict[str, Any]:
    """One entry in full: groups titled, withheld groups with their reasons, every grant (pure).

    Format 1 entries have no grants or reasons: ``grants`` is empty and each
    withheld group's ``reason`` is None; ``clauses`` lists what the entry names.
    """
    return {
        "entry": entry.model_dump(mode="json"),
        "position": entry.seq,
        "format": entry.format,
        "disclosed": _titled(entry.groups_disclosed),
        "withheld": _withheld_detail(entry),
        "clauses": list(entry.clauses),
        "grants": [
            {**g.model_dump(mode="json"), "reference": g.reference, "titled": _titled(g.groups)}
            for g in entry.grants
        ],
        "persons": [p.model_dump(mode="json") for p in entry.persons],
    }


def parse_seq(text: str) -> int:
    """A ledger position typed in a path (``0``, ``1``, ...).

    Raises:
        ConsoleError: ``console.bad_request``; the detail never repeats the value.
    """
    if not _SEQ.match(text):
        raise ConsoleError("console.bad_request", "seq must be a ledger position (0, 1, ...)")
    return int(text)


def _seq_and_purpose(request: web.Request) -> tuple[int, Purpose]:
    unknown = set(request.query) - {"purpose", "reference"}
    if unknown:
        raise ConsoleError("console.bad_request", "only purpose and reference may be given")
    seq = parse_seq(request.match_info.get("seq", ""))
    return seq, parse_purpose(request.query.get("purpose"), request.query.get("reference"))


async def read_entry(request: web.Request, seq: int, purpose: Purpose) -> LedgerEntry | None:
    """The entry at ``seq``, handed out only once its consultation entry is committed.

    The entry is read first, to name in the consultation what it is about (event,
    case and person pseudonyms, agreement); it leaves this function only after that
    consultation is recorded. No entry at ``seq``: None, and nothing is recorded.

    Raises:
        LedgerError: the ledger could not be read, or the consultation not recorded.
    """
    found = await deps_of(request).hub.ledger.read(seq, seq + 1)
    if not found:
        return None
    [held] = found
    await record_consultation(
        request,
        purpose,
        "console.disclosure",
        event_id=held.event_id,
        event_type=held.event_type,
        case_pseudonym=held.case_pseudonym,
        person_pseudonyms=held.person_pseudonyms,
        agreement_id=held.agreement_id,
    )
    return held


async def entry(request: web.Request) -> web.Response:
    """``GET /api/ledger/entries/{seq}``: one entry in full, after recording the read."""
    try:
        seq, purpose = _seq_and_purpose(request)
    except ConsoleError as error:
        return failure(400, error)
    try:
        held = await read_entry(request, seq, purpose)
    except LedgerError as error:
        return unavailable(error)
    if held is None:
        return failure(404, ConsoleError("console.not_found", "no ledger entry at that position"))
    return web.json_response(entry_detail(held))


#: Pydantic's references, pointing where the OpenAPI document keeps shared schemas.
REFS: Final = "#/components/schemas/{model}"
ROUTES: Final[tuple[Route, ...]] = (
    Route(
        "ledger_search",
        "POST",
        "/api/ledger/search",
        "Search the ledger (JSON body: purpose, criteria); records a consultation first",
        GOVERNANCE,
        statuses=(200, 400, 503),
        body=SearchRequest.model_json_schema(ref_template=REFS),
    ),
    Route(
        "ledger_entry",
        "GET",
        "/api/ledger/entries/{seq}",
        "One ledger entry in full (query: purpose, reference); records a consultation first",
        GOVERNANCE,
        statuses=(200, 400, 404, 503),
        example="/api/ledger/entries/0?purpose=audit&reference=INC-1",
        parameters=(
            Param("seq", "path", {"type": "integer", "minimum": 0, "maximum": _MAX_SEQ}),
            Param("purpose", "query", {"type": "string", "enum": list(PURPOSES)}, required=True),
            Param("reference", "query", {"type": "string", "pattern": REFERENCE.pattern}),
        ),
    ),
)
HANDLERS: Final[dict[str, Handler]] = {
    "ledger_search": search,
    "ledger_entry": entry,
}
