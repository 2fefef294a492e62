"""A fictional case carried through the embedded hub, and helpers for the console's API tests."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from aiohttp import web
from aiohttp.test_utils import TestClient

from hub.broker.base import IncomingMessage
from hub.crypto.envelope import issue_event
from hub.pipeline import process
from schemas.base import new_event_id
from schemas.samples import CASE, SUBJECT, VICTIM, sample_event

if TYPE_CHECKING:
    from hub.context import HubContext
    from hub.crypto.keys import PartyKeyring
    from hub.ledger.entries import LedgerEntry

Client = TestClient[web.Request, web.Application]
#: What an IG officer types that must never come back in an answer, error or log.
TYPED = (CASE, SUBJECT, VICTIM)


def bearer(token: str) -> dict[str, str]:
    """The Authorization header for ``token``."""
    return {"Authorization": f"Bearer {token}"}


async def _settle(outcome: Any) -> None:
    del outcome


async def drive(
    ctx: HubContext,
    keyrings: dict[str, PartyKeyring],
    agency: str,
    kind: str,
    **update: Any,
) -> None:
    """Issue a fresh sample event of ``kind`` as ``agency`` and carry it through the hub."""
    fresh = {"event_id": new_event_id(), "author_agency": agency, **update}
    event = sample_event(kind).model_copy(update=fresh)
    body = issue_event(event, keyrings[agency], ctx.directory).encode()
    message = IncomingMessage(
        body,
        {},
        str(event.event_id),
        agency,
        agency,
        ctx.names.ingress,
        redelivered=False,
        delivery_count=0,
        persistent=True,
        settle=_settle,
    )
    assert await process(ctx, message) == "disclosed"


async def carry_case(hub_ctx: HubContext, keyrings: dict[str, PartyKeyring]) -> list[LedgerEntry]:
    """Carry a demo case whose events carry both the victim and the person who stalks them.

    The police referral reaches probation, health and advocacy; the advocate's safety
    plan reaches police (with the victim's location), probation and health; the
    licence conditions from probation reach police (with exclusion zones, group G),
    health and advocacy; probation's consultation note reaches police with the
    victim's needs under a clause of their own (``probation-to-police-victim-needs``).
    """
    await drive(hub_ctx, keyrings, "police", "ReferralReceived")
    await drive(hub_ctx, keyrings, "advocacy", "VictimSafetyPlanUpdated")
    await drive(hub_ctx, keyrings, "probation", "ConditionsSet")
    await drive(hub_ctx, keyrings, "probation", "CaseConsultationHeld")
    entries = await hub_ctx.ledger.read()
    assert len(entries) == 12
    victim, subject = hub_ctx.pseudonyms.person(VICTIM), hub_ctx.pseudonyms.person(SUBJECT)
    assert all(subject in e.person_pseudonyms for e in entries)
    assert all(victim in e.person_pseudonyms for e in entries[:9])
    # Exclusion zones (victim location) from probation to the police, about both people.
    assert any("G" in e.groups_disclosed and e.provider == "probation" for e in entries)
    return entries


async def consultations(ctx: HubContext) -> list[LedgerEntry]:
    """The consultation entries recorded so far."""
    return [e for e in await ctx.ledger.read() if e.kind == "consultation"]


async def post(client: Client, token: str, path: str, body: Any) -> tuple[int, Any, str]:
    """POST ``body`` as JSON; return the status, the parsed JSON (or None) and the raw text."""
    response = await client.post(path, data=json.dumps(body), headers=bearer(token))
    text = await response.text()
    parsed = json.loads(text) if response.content_type == "application/json" else None
    return response.status, parsed, text


def no_typed_identifier(text: str) -> None:
    """Fail if any identifier the officer typed appears in ``text``."""
    for typed in TYPED:
        assert typed not in text
