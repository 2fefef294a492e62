"""The IG officer's API: search and one entry; every read recorded first."""

from __future__ import annotations

import asyncio
import contextlib
import io
import json
import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient
from structlog.testing import capture_logs

from hub.cli import main
from hub.console.base import Role
from hub.crypto.keys import save_keyring
from hub.ledger.base import ErrorCode, LedgerError
from hub.ledger.export import write_export
from schemas.samples import CASE, SUBJECT, VICTIM

from .ledger_case import bearer, consultations, no_typed_identifier, post

if TYPE_CHECKING:
    from hub.context import HubContext
    from hub.crypto.keys import PartyKeyring
    from hub.ledger.entries import LedgerEntry

Client = TestClient[web.Request, web.Application]
SCRIPT = Path(__file__).resolve().parents[3] / "deploy" / "audit" / "verify_ledger.py"


async def test_search_by_person_records_the_consultation_first(
    client: Client, tokens: dict[Role, str], hub_ctx: HubContext, case: list[LedgerEntry]
) -> None:
    """A person search answers that person's entries and records who, why and whom first."""
    body = {"purpose": "complaint", "reference": "INC-42", "person": VICTIM}
    with capture_logs() as logs:
        status, answer, text = await post(
            client, tokens[Role.IG_OFFICER], "/api/ledger/search", body
        )
    assert status == 200, answer
    victim = hub_ctx.pseudonyms.person(VICTIM)
    *found, itself = answer["entries"]
    assert [e["seq"] for e in found] == [e.seq for e in case if victim in e.person_pseudonyms]
    assert all(victim in e["person_pseudonyms"] for e in answer["entries"])
    assert answer["next_after"] is None
    no_typed_identifier(text)
    no_typed_identifier(json.dumps(logs, default=str))
    [consulted] = await consultations(hub_ctx)
    # Recorded before the search ran: the answer already holds the read itself.
    assert itself == consulted.model_dump(mode="json")
    assert (consulted.actor, consulted.purpose) == ("ig-officer", "complaint:INC-42")
    assert (consulted.outcome, consulted.person_pseudonyms) == ("console.search", (victim,))


@pytest.mark.parametrize(
    ("criteria", "expected"),
    [
        ({"agency": "advocacy"}, dict.fromkeys(range(6), "advocacy")),
        ({"event_type": "VictimSafetyPlanUpdated", "agency": "health"}, {0: "health"}),
        ({"kind": "refusal"}, {}),
        (
            {"agreement": "masip-exampleshire", "case_reference": CASE, "kind": "disclosure"},
            dict.fromkeys(range(12), ""),
        ),
        ({"since": "2000-01-01T00:00:00Z", "until": "2001-01-01T00:00:00Z"}, {}),
    ],
)
async def test_search_criteria(
    client: Client,
    tokens: dict[Role, str],
    case: list[LedgerEntry],
    criteria: dict[str, Any],
    expected: dict[int, str],
) -> None:
    """Agency, type, kind, agreement, case and time criteria narrow the answer."""
    del case
    status, answer, _ = await post(
        client, tokens[Role.ADMIN], "/api/ledger/search", {"purpose": "audit", **criteria}
    )
    assert status == 200, answer
    assert len(answer["entries"]) == len(expected)
    for found, party in zip(answer["entries"], expected.values(), strict=True):
        assert not party or party in (found["provider"], found["recipient"])


@pytest.mark.usefixtures("case")
async def test_a_search_records_every_criterion_it_asked(
    client: Client, tokens: dict[Role, str], hub_ctx: HubContext
) -> None:
    """Agency, kind, actor and time range are recorded with the search, pseudonyms as such."""
    body = {
        "purpose": "audit",
        "case_reference": CASE,
        "agency": "health",
        "kind": "disclosure",
        "actor": "ig-desk",
        "event_type": "ReferralReceived",
        "since": "2026-05-01T00:00:00+01:00",
        "until": "2030-06-01T00:00:00Z",
    }
    status, answer, _ = await post(client, tokens[Role.IG_OFFICER], "/api/ledger/search", body)
    assert status == 200, answer
    [consulted] = await consultations(hub_ctx)
    assert consulted.format == 2
    assert consulted.case_pseudonym == hub_ctx.pseudonyms.case(body["case_reference"])
    assert consulted.event_type == "ReferralReceived"
    criteria = consulted.model_dump(mode="json")["criteria"]
    assert criteria == {
        "agency": "health",
        "kind": "disclosure",
        "actor": "ig-desk",
        "since": "2026-04-30T23:00:00.000000Z",
        "until": "2030-06-01T00:00:00.000000Z",
        "up_to": None,
        "draft": None,
    }


async def test_search_pages_by_cursor(
    client: Client, tokens: dict[Role, str], case: list[LedgerEntry]
) -> None:
    """Pages of four, then the rest, follow the ledger's order with a cursor between."""
    token = tokens[Role.IG_OFFICER]
    first = {"purpose": "audit", "case_reference": CASE, "kind": "disclosure", "limit": 4}
    _, page, _ = await post(client, token, "/api/ledger/search", first)
    assert [e["seq"] for e in page["entries"]] == [0, 1, 2, 3]
    assert page["next_after"] == 3
    _, second, _ = await post(client, token, "/api/ledger/search", {**first, "after": 3})
    assert [e["seq"] for e in second["entries"]] == [4, 5, 6, 7]
    _, rest, _ = await post(client, token, "/api/ledger/search", {**first, "after": 7})
    assert [e["seq"] for e in rest["entries"]] == [8, 9, 10, 11]
    _, end, _ = await post(client, token, "/api/ledger/search", {**first, "after": 11})
    assert (end["entries"], end["next_after"]) == ([], None)
    del case


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({}, "console.purpose_required"),
        ({"purpose": "curiosity"}, "console.purpose_invalid"),
        ({"purpose": "My neighbour Jane"}, "console.purpose_invalid"),
        ({"purpose": "audit", "reference": "ticket 42 about Jane"}, "console.reference_invalid"),
        ({"purpose": "audit", "reference": "x" * 33}, "console.reference_invalid"),
        ({"purpose": "audit", "person": "Jane Doe, 1 High St"}, "console.bad_request"),
        ({"purpose": "audit", "case_reference": f"{CASE}x"}, "console.bad_request"),
        ({"purpose": "audit", "limit": 501}, "console.bad_request"),
        ({"purpose": "audit", "since": "2026-01-01T00:00:00"}, "console.bad_request"),
        ({"purpose": "audit", "Jane Doe": 1}, "console.bad_request"),
        (["audit"], "console.bad_request"),
    ],
)
async def test_search_refusals(
    client: Client, tokens: dict[Role, str], hub_ctx: HubContext, body: Any, code: str
) -> None:
    """Bad input is 400 with a stable code, echoes nothing typed and records nothing."""
    status, answer, text = await post(client, tokens[Role.IG_OFFICER], "/api/ledger/search", body)
    assert (status, answer["code"]) == (400, code)
    assert set(answer) == {"code", "detail"}
    for typed in ("Jane", "High St", "ticket 42", "curiosity", f"{CASE}x"):
        assert typed not in text
    assert await consultations(hub_ctx) == []


async def test_a_body_that_is_not_json_is_refused(client: Client, tokens: dict[Role, str]) -> None:
    """A body that is not JSON is 400 console.bad_request."""
    response = await client.post(
        "/api/ledger/search", data=b"purpose=audit", headers=bearer(tokens[Role.ADMIN])
    )
    assert response.status == 400
    assert (await response.json())["code"] == "console.bad_request"


async def test_entry_in_full(
    client: Client, tokens: dict[Role, str], hub_ctx: HubContext, case: list[LedgerEntry]
) -> None:
    """One disclosure in full: titled groups, clauses, basis, parties; the read is recorded."""
    police = next(e for e in case if e.recipient == "police")
    response = await client.get(
        f"/api/ledger/entries/{police.seq}?purpose=legal-request&reference=CO-2026-7",
        headers=bearer(tokens[Role.IG_OFFICER]),
    )
    detail = await response.json()
    assert response.status == 200, detail
    held = detail["entry"]
    assert (held["provider"], held["recipient"]) == ("advocacy", "police")
    assert held["entry_hash"] == police.entry_hash
    assert detail["position"] == police.seq
    assert {"group": "G", "title": "victim location"} in detail["disclosed"]
    assert detail["clauses"] == [g.reference for g in police.grants]
    assert police.clause in detail["clauses"]
    assert [g["reference"] for g in detail["grants"]] == detail["clauses"]
    assert {w["group"]: w["reason"] for w in detail["withheld"]} == {
        w.group: w.reason for w in police.withheld
    }
    assert sorted(p["role"] for p in detail["persons"]) == ["subject", "victim"]
    for name in ("agreement_id", "agreement_version", "lawful_basis", "purpose", "event_type"):
        assert held[name] == getattr(police, name)
    [consulted] = await consultations(hub_ctx)
    assert (consulted.outcome, consulted.event_id) == ("console.disclosure", police.event_id)
    assert consulted.purpose == "legal-request:CO-2026-7"


@pytest.mark.parametrize(
    ("url", "status", "code"),
    [
        ("/api/ledger/entries/99?purpose=audit", 404, "console.not_found"),
        ("/api/ledger/entries/0", 400, "console.purpose_required"),
        ("/api/ledger/entries/0?purpose=nosy", 400, "console.purpose_invalid"),
        ("/api/ledger/entries/0?purpose=audit&reference=a%20b", 400, "console.reference_invalid"),
        ("/api/ledger/entries/-1?purpose=audit", 400, "console.bad_request"),
        ("/api/ledger/entries/zero?purpose=audit", 400, "console.bad_request"),
        ("/api/ledger/entries/0?purpose=audit&person=P-00000000V1", 400, "console.bad_request"),
    ],
)
async def test_entry_refusals(  # noqa: PLR0913, PLR0917 - fixtures and the case under test
    client: Client,
    tokens: dict[Role, str],
    hub_ctx: HubContext,
    case: list[LedgerEntry],
    url: str,
    status: int,
    code: str,
) -> None:
    """No such entry is 404; a bad position or purpose is 400; none records a read."""
    del case
    response = await client.get(url, headers=bearer(tokens[Role.ADMIN]))
    assert response.status == status
    answer = await response.json()
    assert (answer["code"], set(answer)) == (code, {"code", "detail"})
    assert VICTIM not in json.dumps(answer)
    assert await consultations(hub_ctx) == []


READS = [
    ("POST", "/api/ledger/search", {"purpose": "audit", "person": VICTIM}),
    ("GET", "/api/ledger/entries/0?purpose=audit", None),
    ("POST", "/api/subject-access", {"purpose": "subject-access-request", "person": VICTIM}),
]


@pytest.mark.parametrize(("method", "url", "body"), READS, ids=["search", "entry", "sar"])
async def test_no_record_no_data(  # noqa: PLR0913, PLR0917 - fixtures and the case under test
    client: Client,
    tokens: dict[Role, str],
    hub_ctx: HubContext,
    case: list[LedgerEntry],
    monkeypatch: pytest.MonkeyPatch,
    method: str,
    url: str,
    body: Any,
) -> None:
    """When the consultation cannot be appended, the answer is 503 and holds no entry."""
    read: list[str] = []
    original_search = hub_ctx.ledger.search

    async def refuse(drafts: Any) -> Any:
        del drafts
        raise LedgerError(ErrorCode.UNAVAILABLE, "append: simulated outage")

    async def watched(query: Any) -> Any:
        read.append("search")
        return await original_search(query)

    monkeypatch.setattr(hub_ctx.ledger, "append", refuse)
    monkeypatch.setattr(hub_ctx.ledger, "search", watched)
    data = json.dumps(body) if body is not None else None
    response = await client.request(method, url, data=data, headers=bearer(tokens[Role.ADMIN]))
    text = await response.text()
    assert response.status == 503
    assert json.loads(text)["code"] == "ledger.unavailable"
    # A search records first and reads nothing; a subject access draft reads the entries
    # it must name the role from (as reading one entry does), and none of them leaves.
    assert read == ([] if "subject-access" not in url else ["search"])
    for entry in case:
        assert entry.entry_hash not in text
    assert "p_" not in text
    assert "c_" not in text


async def test_consultations_verify_with_the_hub_and_the_standalone_verifier(  # noqa: PLR0913, PLR0917 - fixtures
    client: Client,
    tokens: dict[Role, str],
    hub_ctx: HubContext,
    case: list[LedgerEntry],
    keyrings: dict[str, PartyKeyring],
    tmp_path: Path,
) -> None:
    """A ledger holding consultations is intact for `hub audit verify` and verify_ledger.py."""
    token = tokens[Role.IG_OFFICER]
    await post(client, token, "/api/ledger/search", {"purpose": "audit", "person": SUBJECT})
    await client.get("/api/ledger/entries/1?purpose=dpo-review", headers=bearer(token))
    await post(client, token, "/api/subject-access", {"purpose": "audit", "person": SUBJECT})
    assert len(await consultations(hub_ctx)) == 3
    await hub_ctx.ledger.checkpoint_now()
    keys = tmp_path / "auditor"
    keys.mkdir()
    save_keyring(keyrings["hub"], keys)
    (keys / "hub.private.jwks.json").unlink()
    export = tmp_path / "ledger.jsonl"
    with export.open("w", encoding="ascii") as out:
        summary = await write_export(hub_ctx.ledger.store, out)
    assert summary.entries == len(case) + 3

    def hub_verify() -> tuple[int, str]:
        out = io.StringIO()
        url = f"sqlite:///{tmp_path / 'ledger.db'}"
        with contextlib.redirect_stdout(out):
            status = main(["audit", "verify", "--ledger", url, "--keys", str(keys)])
        return status, out.getvalue()

    status, printed = await asyncio.to_thread(hub_verify)
    assert (status, printed.split(":")[0]) == (0, "intact"), printed
    done = await asyncio.to_thread(
        subprocess.run,
        [sys.executable, str(SCRIPT), "--keys", str(keys / "hub.jwks.json"), str(export)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.startswith(f"intact: {len(case) + 3} entries"), done.stdout
