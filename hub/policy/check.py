"""`hub agreements check`: conflicts with the safety rules and the who-sees-what matrix.

Pure functions over a loaded :class:`~hub.policy.load.Policy`; the command line
prints what they return.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from hub.policy.base import NotEntitledError
from hub.policy.decide import decide_groups
from schemas.base import FieldGroup, fields_by_group
from schemas.registry import event_types, latest_version, model_for

if TYPE_CHECKING:
    from datetime import datetime

    from hub.policy.load import Policy


@dataclass(frozen=True)
class Conflict:
    """A clause that grants what a safety rule forbids; the rule wins at run time."""

    file: str
    agreement: str
    clause: str
    rule: str
    groups: frozenset[FieldGroup]

    def describe(self) -> str:
        """One line for the report."""
        groups = ",".join(sorted(self.groups))
        return f"{self.file}: clause {self.clause} grants {groups}; rule {self.rule} withholds it"


def conflicts(policy: Policy) -> list[Conflict]:
    """Every clause whose grant a safety rule overrides."""
    found = []
    for agreement in policy.agreements:
        for clause in agreement.clauses:
            party = policy.rules.party(clause.recipient)
            if party is None:
                continue
            for rule, never in policy.rules.blocked(party).items():
                overlap = never & frozenset(clause.groups)
                if overlap:
                    file = policy.sources[agreement.reference]
                    found.append(Conflict(file, agreement.reference, clause.id, rule, overlap))
    return found


def type_groups(event_type: str) -> frozenset[FieldGroup]:
    """The groups the latest version of ``event_type`` carries."""
    return frozenset(fields_by_group(model_for(event_type, latest_version(event_type))))


def matrix(policy: Policy, now: datetime) -> dict[tuple[str, str, str], frozenset[FieldGroup]]:
    """(provider, recipient, event type) -> groups disclosed, safety rules applied."""
    cells: dict[tuple[str, str, str], frozenset[FieldGroup]] = {}
    for provider in policy.rules.parties:
        for event_type in event_types():
            try:
                decisions = decide_groups(
                    event_type,
                    type_groups(event_type),
                    provider.id,
                    policy.agreements,
                    policy.rules,
                    now,
                )
            except NotEntitledError:
                continue
            for disclosure in decisions.disclosures():
                cells[provider.id, disclosure.recipient, event_type] = disclosure.disclosed
    return cells


def render_matrix(cells: dict[tuple[str, str, str], frozenset[FieldGroup]]) -> list[str]:
    """Lines of a table: per provider and event type, the groups each recipient sees."""
    recipients = sorted({r for _, r, _ in cells})
    header = f"{'provider':<10} {'event type':<24} " + " ".join(f"{r:<10}" for r in recipients)
    lines = [header, "-" * len(header)]
    rows = sorted({(p, t) for p, _, t in cells})
    for provider, event_type in rows:
        marks = [
            "".join(sorted(cells.get((provider, r, event_type), frozenset()))) or "-"
            for r in recipients
        ]
        lines.append(f"{provider:<10} {event_type:<24} " + " ".join(f"{m:<10}" for m in marks))
    return lines
