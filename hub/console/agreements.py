"""Agreements: the list, each one's versions, status and review date, and who sees what.

The data functions here are pure (policy and time in, JSON-ready values out), so
the JSON API below and the web pages (:mod:`hub.console.pages`) show the same
thing. Agreements hold no personal data about cases: parties, purposes, clauses
and the law they rest on. Every role may read them, agencies included, since each
agency is a party and must know what it may send and receive.

The who-sees-what matrix is what the hub would actually do today: the groups each
in-force clause grants, minus what the deployment's safety rules withhold (a rule
beats any agreement, see :mod:`hub.policy.rules`).
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any, Final

from aiohttp import web

from hub.console.base import Param, Role, Route
from hub.console.deps import deps_of
from schemas.agreements import ClauseForm
from schemas.base import GROUP_TITLES, FieldGroup

if TYPE_CHECKING:
    from collections.abc import Iterable
    from datetime import date, datetime, timedelta

    from aiohttp.typedefs import Handler

    from hub.policy import Policy
    from schemas.agreements import Agreement, Clause

#: Agreements hold no personal data: every role reads them (see the module docstring).
READERS: Final = frozenset(Role)
#: An agreement id, as :data:`schemas.agreements.Code` allows it.
AGREEMENT_ID: Final = re.compile(r"^[a-z][a-z0-9-]{1,63}$")
#: The states of one field group between a provider and a recipient.
FLOWS, LIMITED, BLOCKED, NONE = "flows", "limited", "blocked", "none"


def _due(agreement: Agreement, at: datetime, horizon: timedelta) -> dict[str, bool]:
    """Whether the review is due, and whether the end falls, within ``horizon`` of ``at``."""
    today, last = at.date(), (at + horizon).date()
    ends = agreement.valid_until
    return {
        "review_due": agreement.review_date <= last,
        "ending_soon": ends is not None and today <= ends <= last,
    }


def _iso(day: date | None) -> str | None:
    return day.isoformat() if day is not None else None


def summarise(agreement: Agreement, at: datetime, horizon: timedelta) -> dict[str, Any]:
    """One agreement version as a list row: ids, status, parties, dates and due flags."""
    return {
        "id": agreement.id,
        "version": agreement.version,
        "reference": agreement.reference,
        "title": agreement.title,
        "status": agreement.status.value,
        "in_force": agreement.active_on(at.date()),
        "parties": [party.party for party in agreement.parties],
        "valid_from": agreement.valid_from.isoformat(),
        "valid_until": _iso(agreement.valid_until),
        "review_date": agreement.review_date.isoformat(),
        **_due(agreement, at, horizon),
    }


def list_agreements(policy: Policy, at: datetime, horizon: timedelta) -> dict[str, Any]:
    """Every agreement version the policy holds, by id then version."""
    ordered = sorted(policy.agreements, key=lambda a: (a.id, a.version))
    return {
        "at": at.isoformat(),
        "horizon_days": horizon.days,
        "agreements": [summarise(agreement, at, horizon) for agreement in ordered],
    }


def _clause(clause: Clause, at: datetime) -> dict[str, Any]:
    return {
        "id": clause.id,
        "provider": clause.provider,
        "recipient": clause.recipient,
        "event_types": list(clause.event_types),
        "form": clause.form.value,
        "groups": [group.value for group in clause.groups],
        "purpose": clause.purpose,
        "lawful_basis": clause.lawful_basis.summary(),
        "gateway": clause.gateway,
        "valid_from": clause.valid_from.isoformat(),
        "valid_until": _iso(clause.valid_until),
        "review_date": clause.review_date.isoformat(),
        "in_force": clause.active_on(at.date()),
        "retention": {"months": clause.retention.months, "disposal": clause.retention.disposal},
    }


def _version(
    agreement: Agreement, policy: Policy, at: datetime, horizon: timedelta
) -> dict[str, Any]:
    return {
        **summarise(agreement, at, horizon),
        "classification": agreement.classification,
        "dpia_reference": agreement.dpia_reference,
        "source": policy.sources.get(agreement.reference),
        "parties": [
            {"party": p.party, "organisation": p.organisation, "role": p.role.value}
            for p in agreement.parties
        ],
        "purposes": [{"id": p.id, "description": p.description} for p in agreement.purposes],
        "signatories": [
            {"party": s.party, "position": s.position, "signed_on": s.signed_on.isoformat()}
            for s in agreement.signatories
        ],
        "clauses": [_clause(clause, at) for clause in agreement.clauses],
    }


def agreement_detail(
    policy: Policy, agreement_id: str, at: datetime, horizon: timedelta
) -> dict[str, Any] | None:
    """Every version of one agreement, newest first; None when the policy has none.

    ``current`` is the newest version in force on ``at``, else the newest version.
    """
    versions = sorted(
        (a for a in policy.agreements if a.id == agreement_id), key=lambda a: -a.version
    )
    if not versions:
        return None
    current = next((a for a in versions if a.active_on(at.date())), versions[0])
    return {
        "id": agreement_id,
        "current": current.version,
        "versions": [_version(agreement, policy, at, horizon) for agreement in versions],
    }


def _in_force(policy: Policy, day: date) -> Iterable[tuple[Agreement, Clause]]:
    """Clauses in force that share field groups (an evaluation record shares none)."""
    for agreement in policy.agreements:
        if agreement.active_on(day):
            yield from (
                (agreement, c)
                for c in agreement.clauses
                if c.active_on(day) and c.form is ClauseForm.PRESENTATION
            )


def _cell(
    grants: list[tuple[Agreement, Clause]],
    blocked: dict[str, frozenset[FieldGroup]],
    sent: set[str],
) -> dict[str, Any]:
    """One group between one provider and one recipient (see :func:`sharing_matrix`)."""
    rules = sorted(rule for rule, groups in blocked.items() if grants and groups)
    kinds = {t for _, clause in grants for t in clause.event_types}
    if not grants:
        state = NONE
    elif rules:
        state = BLOCKED
    else:
        state = FLOWS if "*" in kinds or kinds >= sent else LIMITED
    return {
        "state": state,
        "clauses": [f"{a.reference}#{c.id}" for a, c in grants],
        "event_types": sorted(kinds),
        "blocked_by": rules,
    }


def _pair(
    clauses: list[tuple[Agreement, Clause]],
    recipient_blocks: dict[str, frozenset[FieldGroup]],
    sent: set[str],
) -> dict[str, dict[str, Any]]:
    cells: dict[str, dict[str, Any]] = {}
    for group in FieldGroup:
        grants = [(a, c) for a, c in clauses if group in c.groups]
        blocks = {rule: groups for rule, groups in recipient_blocks.items() if group in groups}
        cells[group.value] = _cell(grants, blocks, sent)
    return cells


def sharing_matrix(policy: Policy, at: datetime) -> dict[str, Any]:
    """Who sees what on ``at``: for each provider and recipient, each group's state.

    A cell's ``state`` is ``flows`` (granted for every event type the provider may
    send at all), ``limited`` (granted for some of those types only: see
    ``event_types``), ``blocked``
    (granted, but a safety rule withholds it; ``blocked_by`` names the rules) or
    ``none``; ``clauses`` cites each granting clause as the ledger does
    (``agreement@version#clause``).
    """
    day = at.date()
    parties = [p for p in policy.rules.parties if p.kind.value != "hub"]
    in_force = list(_in_force(policy, day))
    pairs = []
    for provider in parties:
        sent = {t for _, c in in_force if c.provider == provider.id for t in c.event_types}
        for recipient in parties:
            clauses = [
                (a, c)
                for a, c in in_force
                if c.provider == provider.id and c.recipient == recipient.id
            ]
            if provider.id == recipient.id or not clauses:
                continue
            cells = _pair(clauses, policy.rules.blocked(recipient), sent)
            pairs.append({"provider": provider.id, "recipient": recipient.id, "groups": cells})
    return {
        "at": at.isoformat(),
        "groups": [{"group": g.value, "title": GROUP_TITLES[g]} for g in FieldGroup],
        "parties": [{"party": p.id, "name": p.name} for p in parties],
        "rules": [
            {"id": r.id, "groups": [g.value for g in r.never_groups]} for r in policy.rules.rules
        ],
        "pairs": pairs,
    }


def error(status: int, code: str, detail: str) -> web.Response:
    """A JSON error answer with a stable code and a secret-free detail."""
    return web.json_response({"code": code, "detail": detail}, status=status)


async def agreements_index(request: web.Request) -> web.Response:
    """Every agreement version, with its status and review flags."""
    deps = deps_of(request)
    return web.json_response(list_agreements(deps.hub.policy, deps.clock(), deps.horizon))


async def agreement(request: web.Request) -> web.Response:
    """One agreement with its version history, clauses, purposes and lawful bases."""
    deps, agreement_id = deps_of(request), request.match_info["agreement_id"]
    if not AGREEMENT_ID.fullmatch(agreement_id):
        return error(400, "console.bad_request", "agreement_id: lowercase letters, digits and -")
    found = agreement_detail(deps.hub.policy, agreement_id, deps.clock(), deps.horizon)
    if found is None:
        return error(404, "agreements.not_found", "no agreement with that id")
    return web.json_response(found)


async def matrix(request: web.Request) -> web.Response:
    """Who sees what today: provider, recipient, group, state and clauses."""
    deps = deps_of(request)
    return web.json_response(sharing_matrix(deps.hub.policy, deps.clock()))


# The matrix is declared before /{agreement_id}: the router matches in this order.
ROUTES: Final[tuple[Route, ...]] = (
    Route("agreements", "GET", "/api/agreements", "Every agreement version", READERS),
    Route(
        "agreements_matrix",
        "GET",
        "/api/agreements/matrix",
        "Who sees what: field groups per provider and recipient, with clauses",
        READERS,
    ),
    Route(
        "agreement",
        "GET",
        "/api/agreements/{agreement_id}",
        "One agreement: versions, status, review date, clauses and lawful bases",
        READERS,
        statuses=(200, 400, 404),
        example="/api/agreements/masip-exampleshire",
        parameters=(
            Param(
                "agreement_id",
                "path",
                {"type": "string", "pattern": AGREEMENT_ID.pattern},
                description="The agreement's id, as in its file (e.g. masip-exampleshire)",
            ),
        ),
    ),
)
HANDLERS: Final[dict[str, Handler]] = {
    "agreements": agreements_index,
    "agreements_matrix": matrix,
    "agreement": agreement,
}
