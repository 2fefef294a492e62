"""The agreements API: the list, one agreement's versions, and who sees what."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient

from hub.console.agreements import agreement_detail, list_agreements, sharing_matrix
from hub.console.base import Role
from hub.console.deps import ConsoleDeps
from hub.policy.decide import decide_groups
from schemas.agreements import Agreement, AgreementStatus
from schemas.base import FieldGroup

if TYPE_CHECKING:
    from hub.console.tokens import TokenStore
    from hub.context import HubContext
    from hub.policy.load import Policy

Client = TestClient[web.Request, web.Application]
Serve = Callable[[ConsoleDeps], Awaitable[Client]]
IN_FORCE = datetime(2026, 11, 21, 12, tzinfo=UTC)
HORIZON = timedelta(days=30)
ID = "masip-exampleshire"
EVALUATION = "national-evaluation-exampleshire"


def bearer(token: str) -> dict[str, str]:
    """The Authorization header for ``token``."""
    return {"Authorization": f"Bearer {token}"}


def with_version_2(policy: Policy) -> Policy:
    """The policy plus a draft version 2 of the default agreement."""
    first = masip(policy)
    draft = first.model_copy(update={"version": 2, "status": AgreementStatus.DRAFT})
    return replace(policy, agreements=(*policy.agreements, draft))


def with_clause(policy: Policy, **changes: object) -> Policy:
    """The policy whose default agreement's first clause is changed by ``changes``."""
    agreement = masip(policy)
    clause = agreement.clauses[0].model_copy(update=changes)
    changed = agreement.model_copy(update={"clauses": (clause, *agreement.clauses[1:])})
    others = tuple(a for a in policy.agreements if a is not agreement)
    return replace(policy, agreements=(changed, *others))


def masip(policy: Policy) -> Agreement:
    """The default agreement (the partnership's; the evaluation's is beside it)."""
    return next(a for a in policy.agreements if a.id == ID)


@pytest.mark.parametrize("role", list(Role))
async def test_every_role_reads_the_agreements(
    client: Client, tokens: dict[Role, str], role: Role
) -> None:
    """Agreements hold no personal data: all four roles read the list, one and the matrix."""
    for url in ("/api/agreements", f"/api/agreements/{ID}", "/api/agreements/matrix"):
        response = await client.get(url, headers=bearer(tokens[role]))
        assert response.status == 200, url


async def test_the_list_names_each_version(client: Client, tokens: dict[Role, str]) -> None:
    """The list gives id, version, status, parties, dates and review flags."""
    response = await client.get("/api/agreements", headers=bearer(tokens[Role.IG_OFFICER]))
    rows = (await response.json())["agreements"]
    assert [r["id"] for r in rows] == [ID, EVALUATION]
    [row] = [r for r in rows if r["id"] == ID]
    assert row["id"] == ID
    assert row["version"] == 1
    assert row["status"] == "active"
    assert row["parties"] == ["police", "probation", "health", "advocacy"]
    assert (row["valid_from"], row["valid_until"]) == ("2026-04-01", "2028-03-31")
    assert row["review_date"] == "2027-04-01"
    assert set(row) >= {"review_due", "ending_soon", "in_force"}


def test_review_flags_follow_the_horizon(hub_ctx: HubContext) -> None:
    """The review is due within the horizon before its date, and not earlier."""
    policy = hub_ctx.policy

    def default(at: datetime) -> dict[str, Any]:
        rows: list[dict[str, Any]] = list_agreements(policy, at, HORIZON)["agreements"]
        [row] = [a for a in rows if a["id"] == ID]
        return row

    far = default(IN_FORCE)
    near = default(datetime(2027, 3, 15, tzinfo=UTC))
    ending = default(datetime(2028, 3, 10, tzinfo=UTC))
    assert (far["review_due"], far["ending_soon"], far["in_force"]) == (False, False, True)
    assert (near["review_due"], near["ending_soon"]) == (True, False)
    assert ending["ending_soon"] is True


def test_detail_holds_every_version_newest_first(hub_ctx: HubContext) -> None:
    """Every version the policy holds is listed; the one in force is current."""
    found = agreement_detail(with_version_2(hub_ctx.policy), ID, IN_FORCE, HORIZON)
    assert found is not None
    assert [v["version"] for v in found["versions"]] == [2, 1]
    assert [v["status"] for v in found["versions"]] == ["draft", "active"]
    assert found["current"] == 1
    first = found["versions"][1]
    clause = next(c for c in first["clauses"] if c["id"] == "police-to-probation-core")
    assert clause["lawful_basis"] == "DPA 2018 Part 3 s.35; Sch 8 para 4"
    assert clause["purpose"] == "manage-risk"
    assert clause["groups"] == ["A", "B", "C", "E", "F"]
    assert first["source"] == "masip-exampleshire.toml"


def test_signatories_are_named_by_position_only(hub_ctx: HubContext) -> None:
    """The detail gives each signatory's party, position and date, not their name."""
    found = agreement_detail(hub_ctx.policy, ID, IN_FORCE, HORIZON)
    assert found is not None
    text = repr(found)
    for signatory in hub_ctx.policy.agreements[0].signatories:
        assert signatory.name not in text
        assert signatory.position in text


async def test_an_unknown_agreement_is_404(client: Client, tokens: dict[Role, str]) -> None:
    """An id the policy does not hold answers 404 with a stable code."""
    response = await client.get("/api/agreements/no-such", headers=bearer(tokens[Role.AGENCY]))
    assert response.status == 404
    assert (await response.json())["code"] == "agreements.not_found"


@pytest.mark.parametrize("bad", ["Bad_Id", "x", "a" * 65, "%3Cscript%3E", "ab%0A"])
async def test_a_malformed_id_is_400(client: Client, tokens: dict[Role, str], bad: str) -> None:
    """An id that cannot be an agreement's is refused 400 console.bad_request, not echoed."""
    response = await client.get(f"/api/agreements/{bad}", headers=bearer(tokens[Role.ADMIN]))
    assert response.status == 400
    body = await response.json()
    assert body["code"] == "console.bad_request"
    assert "script" not in body["detail"]


def cell(matrix: dict[str, object], provider: str, recipient: str, group: str) -> dict[str, object]:
    """One cell of :func:`sharing_matrix`'s answer."""
    pairs = matrix["pairs"]
    assert isinstance(pairs, list)
    pair = next(p for p in pairs if (p["provider"], p["recipient"]) == (provider, recipient))
    found: dict[str, object] = pair["groups"][group]
    return found


def test_the_matrix_follows_the_default_agreement(hub_ctx: HubContext) -> None:
    """Police to health: A, C, E flow; B for some event types only; D, F, G, H do not."""
    matrix = sharing_matrix(hub_ctx.policy, IN_FORCE)
    states = {g: cell(matrix, "police", "health", g)["state"] for g in "ABCDEFGH"}
    assert states == {
        "A": "flows", "B": "limited", "C": "flows", "D": "none",
        "E": "flows", "F": "none", "G": "none", "H": "none",
    }  # fmt: skip
    assert cell(matrix, "police", "health", "B")["clauses"] == [
        "masip-exampleshire@1#police-to-health-restrictions"
    ]
    assert cell(matrix, "police", "probation", "D")["state"] == "limited"
    assert [g["title"] for g in matrix["groups"]][6] == "victim location"


def test_a_safety_rule_blocks_a_granted_group(hub_ctx: HubContext) -> None:
    """A clause granting victim location to the perpetrator-facing service shows blocked."""
    policy = with_clause(hub_ctx.policy, recipient="health", groups=(FieldGroup.A, FieldGroup.G))
    found = cell(sharing_matrix(policy, IN_FORCE), "police", "health", "G")
    assert found["state"] == "blocked"
    assert found["blocked_by"] == ["victim-location-never-to-perpetrator-facing"]


def test_nothing_flows_outside_the_agreement_dates(hub_ctx: HubContext) -> None:
    """Before the agreement starts, the matrix has no pairs."""
    assert sharing_matrix(hub_ctx.policy, datetime(2026, 1, 1, tzinfo=UTC))["pairs"] == []


def shows(found: dict[str, object], event_type: str) -> bool:
    """Whether a matrix cell says its group flows for ``event_type``."""
    kinds = found["event_types"]
    assert isinstance(kinds, list)
    return found["state"] == "flows" or (found["state"] == "limited" and event_type in kinds)


def test_the_matrix_says_what_the_decision_does(hub_ctx: HubContext) -> None:
    """For every provider and event type it sends, the decision discloses what the matrix says."""
    policy = with_clause(hub_ctx.policy, recipient="health", groups=(FieldGroup.A, FieldGroup.G))
    matrix = sharing_matrix(policy, IN_FORCE)
    every = frozenset(FieldGroup)
    for pair in matrix["pairs"]:
        provider, recipient = pair["provider"], pair["recipient"]
        sent = {
            t for c in policy.agreements[0].clauses if c.provider == provider for t in c.event_types
        }
        for event_type in sorted(sent):
            decided = decide_groups(
                event_type, every, provider, policy.agreements, policy.rules, IN_FORCE
            )
            disclosure = decided.recipients[recipient]
            got = {g.value for g in disclosure.disclosed} if disclosure else set()
            shown = {g for g, c in pair["groups"].items() if shows(c, event_type)}
            assert got == shown, (provider, recipient, event_type)


async def test_the_api_serves_the_same_matrix(
    hub_ctx: HubContext, store: TokenStore, tokens: dict[Role, str], serve: Serve
) -> None:
    """GET /api/agreements/matrix is sharing_matrix at the console's clock."""
    client = await serve(ConsoleDeps(hub_ctx, store, clock=lambda: IN_FORCE))
    response = await client.get("/api/agreements/matrix", headers=bearer(tokens[Role.AGENCY]))
    assert await response.json() == sharing_matrix(hub_ctx.policy, IN_FORCE)
