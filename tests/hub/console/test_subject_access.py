"""Subject access: the role comes from the ledger, two officers draft and release, nothing leaks."""

from __future__ import annotations

import csv
import io
import json
import re
import uuid
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import pytest

from hub.console.base import Role
from hub.console.deps import ConsoleDeps
from hub.console.subject_access import CSV_COLUMNS, report_csv
from hub.ledger.reports import REPORT_NOTE
from schemas.samples import SUBJECT, VICTIM

from .ledger_case import Client, bearer, consultations, drive, no_typed_identifier, post

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

    from hub.console.tokens import TokenStore
    from hub.context import HubContext
    from hub.crypto.keys import PartyKeyring
    from hub.ledger.entries import LedgerEntry

#: What a data subject's report never holds: positions, hashes, exact times, ids.
LEDGER_REFERENCES = re.compile(
    r'"(seq|position|entry_hash|decision_id|prev_hash|recorded_at)"|T\d\d:\d\d|p_[A-Za-z0-9_-]{43}'
)
VICTIM_GROUPS = ("victim identity", "victim location", "victim needs")
ADVOCACY = "Exampleshire Independent Stalking Advocacy Service"
CLINIC = "Exampleshire NHS Stalking Clinic"


async def draft(client: Client, token: str, person: str) -> tuple[int, Any]:
    """Draft a report about ``person``; return the status and the JSON answer."""
    body = {"purpose": "subject-access-request", "reference": "SAR-9", "person": person}
    status, answer, text = await post(client, token, "/api/subject-access", body)
    no_typed_identifier(text)
    return status, answer


async def release(client: Client, token: str, draft_id: str, fmt: str = "json") -> Any:
    """Release a draft in ``fmt``; return the response."""
    body = {"purpose": "subject-access-request", "reference": "SAR-9", "format": fmt}
    return await client.post(
        f"/api/subject-access/{draft_id}/release", data=json.dumps(body), headers=bearer(token)
    )


async def drafted_and_released(
    client: Client, tokens: dict[Role, str], person: str
) -> tuple[Any, Any, str]:
    """Draft as the IG officer, release as the admin; return draft, report and raw text."""
    status, made = await draft(client, tokens[Role.IG_OFFICER], person)
    assert status == 201, made
    response = await release(client, tokens[Role.ADMIN], made["draft_id"])
    text = await response.text()
    assert response.status == 200, text
    return made, json.loads(text), text


@pytest.mark.usefixtures("case")
async def test_the_role_comes_from_the_ledger_not_the_officer(
    client: Client, tokens: dict[Role, str], hub_ctx: HubContext
) -> None:
    """The stalker is drafted as the subject and the victim as the victim; no role is taken."""
    _, about_him = await draft(client, tokens[Role.IG_OFFICER], SUBJECT)
    _, about_her = await draft(client, tokens[Role.IG_OFFICER], VICTIM)
    assert (about_him["subject"]["role"], about_her["subject"]["role"]) == ("subject", "victim")
    chosen = {"purpose": "audit", "person": SUBJECT, "subject_role": "victim"}
    status, answer, _ = await post(client, tokens[Role.ADMIN], "/api/subject-access", chosen)
    assert (status, answer["code"]) == (400, "console.bad_request")
    drafts = [e for e in await consultations(hub_ctx) if e.outcome.endswith("_draft")]
    assert [(p.pseudonym, p.role) for e in drafts for p in e.persons] == [
        (hub_ctx.pseudonyms.person(SUBJECT), "subject"),
        (hub_ctx.pseudonyms.person(VICTIM), "victim"),
    ]


async def test_a_perpetrators_released_report_never_reveals_the_victim(
    client: Client, tokens: dict[Role, str], hub_ctx: HubContext, case: list[LedgerEntry]
) -> None:
    """No victim group, no advocate, no victim pseudonym, no ledger position, hash or time."""
    made, report, text = await drafted_and_released(client, tokens, SUBJECT)
    rows = report["rows"]
    assert rows, "the report still lists what the police shared about him"
    assert [row["number"] for row in rows] == list(range(1, len(rows) + 1))
    assert all(re.fullmatch(r"\d{4}-\d{2}-\d{2}", row["date"]) for row in rows)
    for hidden in (*VICTIM_GROUPS, ADVOCACY, "Support victims"):
        assert hidden not in text
    assert not LEDGER_REFERENCES.search(text)
    assert hub_ctx.pseudonyms.person(VICTIM) not in text
    assert report["note"] == REPORT_NOTE
    assert {"from", "to"} <= set(rows[0])
    assert any(row["to"] == CLINIC for row in rows)
    assert made["left_out"]["rows"] > 0
    assert made["left_out"]["groups"] > 0
    assert len(rows) + made["left_out"]["rows"] == len(case)
    assert made["rows"] == rows  # the release gives what the draft showed


async def test_a_victims_report_names_no_service_that_treats_the_perpetrator(
    client: Client, tokens: dict[Role, str], case: list[LedgerEntry]
) -> None:
    """Her report keeps her own groups, and leaves out the clinic and clinical detail."""
    made, report, text = await drafted_and_released(client, tokens, VICTIM)
    assert made["subject"]["role"] == "victim"
    assert CLINIC not in text
    assert "clinical" not in text
    assert "assess the person who stalks" not in text.lower()
    assert any("victim location" in row["shared"] for row in report["rows"])
    assert not LEDGER_REFERENCES.search(text)
    about_her = [e for e in case if e.recipient != "health" and e.provider != "health"]
    assert len(report["rows"]) <= len(about_her)


async def test_purposes_and_lawful_bases_are_in_words(
    client: Client, tokens: dict[Role, str], case: list[LedgerEntry]
) -> None:
    """Each row says why in words: the agreement's purpose, the law, the agreement's title."""
    del case
    _, report, _ = await drafted_and_released(client, tokens, SUBJECT)
    reasons = [reason for row in report["rows"] for reason in row["reasons"]]
    assert reasons
    assert all(" " in r["purpose"] for r in reasons)
    assert any("Data Protection Act 2018, Part 3" in r["lawful_basis"] for r in reasons)
    assert all(r["agreement"].endswith("version 1") for r in reasons)
    assert all(row["from"].startswith("Exampleshire") for row in report["rows"])


async def test_a_subject_who_is_a_victim_elsewhere_is_reported_as_the_subject(
    client: Client, tokens: dict[Role, str], hub_ctx: HubContext, keyrings: dict[str, PartyKeyring]
) -> None:
    """A counter-allegation: victim in one case, subject in another; the subject's rules win."""
    await drive(hub_ctx, keyrings, "police", "ReferralReceived")  # he is the subject here
    other = {"victim_refs": (SUBJECT,), "subject_ref": "P-00000000X3"}
    await drive(hub_ctx, keyrings, "police", "ReferralReceived", **other)  # and a victim here
    await drive(hub_ctx, keyrings, "advocacy", "VictimSafetyPlanUpdated", victim_ref=SUBJECT)
    made, report, text = await drafted_and_released(client, tokens, SUBJECT)
    assert made["subject"]["role"] == "subject"
    for hidden in (*VICTIM_GROUPS, ADVOCACY):
        assert hidden not in text
    assert report["rows"]


async def test_release_needs_a_second_officer(
    client: Client, tokens: dict[Role, str], hub_ctx: HubContext, case: list[LedgerEntry]
) -> None:
    """The drafter cannot release their own draft; another officer can, and both are recorded."""
    del case
    _, made = await draft(client, tokens[Role.IG_OFFICER], SUBJECT)
    own = await release(client, tokens[Role.IG_OFFICER], made["draft_id"])
    answer = await own.json()
    assert (own.status, answer["code"]) == (403, "console.same_officer")
    assert set(answer) == {"code", "detail"}
    released = await release(client, tokens[Role.ADMIN], made["draft_id"])
    assert released.status == 200
    steps = [(e.outcome, e.actor) for e in await consultations(hub_ctx)]
    assert steps == [
        ("console.subject_access_draft", "ig-officer"),
        ("console.subject_access_release", "admin"),
    ]
    drafted, released_entry = await consultations(hub_ctx)
    person = hub_ctx.pseudonyms.person(SUBJECT)
    for entry in (drafted, released_entry):
        assert [(p.pseudonym, p.role) for p in entry.persons] == [(person, "subject")]
        assert entry.person_pseudonyms == (person,)
    assert drafted.criteria is not None
    assert released_entry.criteria is not None
    assert released_entry.criteria.draft == drafted.decision_id
    assert drafted.criteria.up_to == drafted.seq


async def test_the_release_gives_the_drafted_rows_whatever_came_after(
    client: Client, tokens: dict[Role, str], hub_ctx: HubContext, keyrings: dict[str, PartyKeyring]
) -> None:
    """An event recorded between draft and release is not in the release: what was checked is."""
    await drive(hub_ctx, keyrings, "police", "ReferralReceived")
    _, made = await draft(client, tokens[Role.IG_OFFICER], SUBJECT)
    await drive(hub_ctx, keyrings, "police", "ReferralReceived")
    response = await release(client, tokens[Role.ADMIN], made["draft_id"])
    assert (await response.json())["rows"] == made["rows"]


@pytest.mark.parametrize(
    ("draft_id", "status", "code"),
    [
        (str(uuid.uuid4()), 404, "console.not_found"),
        ("not-a-uuid", 400, "console.bad_request"),
        ("..%2F..%2Fapi%2Fhealth", 400, "console.bad_request"),
    ],
    ids=["unknown", "not-a-uuid", "traversal"],
)
async def test_a_release_of_no_draft_is_refused(  # noqa: PLR0913, PLR0917 - fixtures and the case
    client: Client,
    tokens: dict[Role, str],
    hub_ctx: HubContext,
    draft_id: str,
    status: int,
    code: str,
) -> None:
    """An unknown or malformed draft id is refused with a stable code; nothing is recorded."""
    response = await release(client, tokens[Role.ADMIN], draft_id)
    assert response.status == status
    assert (await response.json())["code"] == code
    assert await consultations(hub_ctx) == []


async def test_a_draft_older_than_a_month_cannot_be_released(
    hub_ctx: HubContext,
    store: TokenStore,
    tokens: dict[Role, str],
    serve: Callable[[ConsoleDeps], Awaitable[Client]],
    case: list[LedgerEntry],
) -> None:
    """Past its month a draft is 410 console.draft_expired: the report must be drafted again."""
    del case
    now = [datetime.now(UTC)]
    client = await serve(ConsoleDeps(hub_ctx, store, clock=lambda: now[0]))
    _, made = await draft(client, tokens[Role.IG_OFFICER], SUBJECT)
    now[0] += timedelta(days=32)
    response = await release(client, tokens[Role.ADMIN], made["draft_id"])
    assert (response.status, (await response.json())["code"]) == (410, "console.draft_expired")


async def test_the_csv_page_and_annex_forms(
    client: Client, tokens: dict[Role, str], case: list[LedgerEntry]
) -> None:
    """CSV and the printable page hold the released rows; only the annex names positions."""
    _, made = await draft(client, tokens[Role.IG_OFFICER], SUBJECT)
    as_csv = await release(client, tokens[Role.ADMIN], made["draft_id"], "csv")
    text = await as_csv.text()
    assert as_csv.headers["Content-Disposition"].startswith("attachment;")
    table = list(csv.reader(io.StringIO(text)))
    assert tuple(table[0]) == CSV_COLUMNS
    assert len(table) == len(made["rows"]) + 2
    assert table[-1][0].startswith("Note:")
    assert not LEDGER_REFERENCES.search(text)
    page = await release(client, tokens[Role.ADMIN], made["draft_id"], "html")
    html = await page.text()
    assert page.content_type == "text/html", (page.status, html[:300])
    assert "Your information: who it was shared with" in html
    assert REPORT_NOTE in html
    assert not LEDGER_REFERENCES.search(html)
    assert "victim location" not in html.split("What the kinds of information mean")[0]
    annex = await (await release(client, tokens[Role.ADMIN], made["draft_id"], "annex")).json()
    positions = {e.seq for e in case}
    assert [row["number"] for row in annex["rows"]] == [row["number"] for row in made["rows"]]
    assert {row["position"] for row in annex["rows"]} <= positions


def test_csv_cells_cannot_start_a_formula() -> None:
    """A cell beginning with = + - @ or a control is prefixed, so no spreadsheet runs it."""
    row: dict[str, Any] = {
        "number": 1,
        "date": "2026-01-01",
        "event": "=HYPERLINK(1)",
        "from": "+1",
        "to": "\tcmd",
        "shared": ["-2", "@x"],
        "not_shared": [],
        "reasons": [{"purpose": "@p", "lawful_basis": "law", "agreement": "a"}],
    }
    [_, cells, _] = list(csv.reader(io.StringIO(report_csv([row]))))
    named = dict(zip(CSV_COLUMNS, cells, strict=True))
    assert named["event"] == "'=HYPERLINK(1)"
    assert named["from"] == "'+1"
    assert named["to"] == "'\tcmd"
    assert named["shared"] == "'-2; @x"
    assert named["purposes"] == "'@p"
    assert named["date"] == "2026-01-01"
