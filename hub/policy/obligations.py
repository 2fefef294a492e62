"""What a recipient must and must not do with a delivery, as a W3C ODRL 2.2 policy (ADR 0028).

Each presentation carries, inside the Key Binding JWT the hub signs, an ODRL
``Agreement`` between the provider (assigner) and the recipient (assignee) about
that delivery (target ``urn:uuid:<decision id>``):

- **permission** ``use``, constrained to the purposes of the clauses that granted
  it (``purpose`` ``isAnyOf``);
- **prohibition** ``distribute``: nothing goes onward except as a new disclosure
  through the hub, under an agreement of its own;
- **obligation** ``delete`` by the retention end date (``dateTime`` ``lteq``): the
  day the hub decided, plus the granting clauses' retention in months (the
  shortest, if several), with the clause's disposal method as its Dublin Core
  description.

The dates come from the recorded decision, so the same delivery presented again
carries the same obligations. A decision whose agreement the hub no longer holds
(withdrawn between the decision and a redelivery) carries no delete duty: it is
not invented.
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING, Any, Final

if TYPE_CHECKING:
    import uuid
    from collections.abc import Sequence

    from hub.policy.load import Policy

ODRL_CONTEXT: Final = "http://www.w3.org/ns/odrl.jsonld"
#: The profile naming this project's use of ODRL (its party and purpose identifiers).
PROFILE: Final = "urn:case-event-hub:odrl:1"


@dataclass(frozen=True)
class Granted:
    """One clause's grant in a recorded decision: where, and for which purpose."""

    agreement_id: str
    agreement_version: int
    clause_id: str
    purpose: str


def add_months(day: date, months: int) -> date:
    """``day`` plus ``months`` calendar months, the last day of a shorter month kept."""
    month = day.month - 1 + months
    year, month = day.year + month // 12, month % 12 + 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def _party(party: str) -> str:
    return f"urn:case-event-hub:party:{party}"


def _retention(policy: Policy, grant: Granted) -> tuple[int, str] | None:
    for agreement in policy.agreements:
        if (agreement.id, agreement.version) != (grant.agreement_id, grant.agreement_version):
            continue
        for clause in agreement.clauses:
            if clause.id == grant.clause_id:
                return clause.retention.months, clause.retention.disposal
    return None


@dataclass(frozen=True)
class Decided:
    """A recorded disclosure, as far as its obligations go: who, under which grants, when."""

    decision_id: uuid.UUID
    provider: str
    recipient: str
    grants: Sequence[Granted]
    on: date


def retention_end(policy: Policy, decided: Decided) -> tuple[date, str] | None:
    """The day a delivery's retention ends and its disposal method; None when not known.

    The shortest of the granting clauses' retentions, from the day the hub decided;
    None when a granting clause's agreement is no longer held.
    """
    grants = decided.grants
    known = [r for r in (_retention(policy, g) for g in grants) if r is not None]
    if not known or len(known) != len(grants):
        return None
    months, disposal = min(known)
    return add_months(decided.on, months), disposal


def delivery_obligations(policy: Policy, decided: Decided) -> dict[str, Any]:
    """The ODRL policy a delivery carries (see the module's docstring)."""
    grants, provider, recipient = decided.grants, decided.provider, decided.recipient
    target = f"urn:uuid:{decided.decision_id}"
    purposes = sorted({g.purpose for g in grants})
    document: dict[str, Any] = {
        "@context": ODRL_CONTEXT,
        "@type": "Agreement",
        "uid": target,
        "profile": PROFILE,
        "assigner": _party(provider),
        "assignee": _party(recipient),
        "target": target,
        "permission": [
            {
                "action": "use",
                "constraint": [
                    {"leftOperand": "purpose", "operator": "isAnyOf", "rightOperand": purposes}
                ],
            }
        ],
        "prohibition": [{"action": "distribute"}],
    }
    ends = retention_end(policy, decided)
    if ends is not None:
        until, disposal = ends
        document["obligation"] = [
            {
                "action": "delete",
                "http://purl.org/dc/terms/description": disposal,
                "constraint": [
                    {
                        "leftOperand": "dateTime",
                        "operator": "lteq",
                        "rightOperand": {"@value": until.isoformat(), "@type": "xsd:date"},
                    }
                ],
            }
        ]
    return document
