"""The decision: event + agreements + safety rules + time -> who gets which groups.

Pure: no I/O, no clock (``now`` is an argument), no randomness. The pipeline
records the result in the ledger before anything is delivered (P4), and the
crypto room makes the result true on the wire (P3).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from hub.policy.base import Decisions, Disclosure, EvaluationFeed, Grant, NotEntitledError
from hub.policy.rules import PartyKind
from schemas.agreements import ClauseForm
from schemas.base import FieldGroup, fields_by_group

if TYPE_CHECKING:
    from collections.abc import Iterable, Sequence
    from datetime import datetime

    from hub.policy.rules import SafetyRules
    from schemas.agreements import Agreement, Clause
    from schemas.base import CaseEvent


def event_groups(event: CaseEvent) -> frozenset[FieldGroup]:
    """The field groups ``event``'s type carries (its disclosures)."""
    return frozenset(fields_by_group(type(event)))


def active_clauses(
    agreements: Iterable[Agreement], event_type: str, now: datetime
) -> list[tuple[Agreement, Clause]]:
    """Clauses of active agreements that are in force on ``now`` and cover ``event_type``."""
    day = now.date()
    return [
        (agreement, clause)
        for agreement in agreements
        if agreement.active_on(day)
        for clause in agreement.clauses
        if clause.active_on(day) and clause.covers(event_type)
    ]


def _grant(agreement: Agreement, clause: Clause) -> Grant:
    return Grant(
        agreement_id=agreement.id,
        agreement_version=agreement.version,
        clause_id=clause.id,
        purpose=clause.purpose,
        lawful_basis=clause.lawful_basis.summary(),
        gateway=clause.gateway,
        groups=frozenset(clause.groups),
    )


def _disclose(
    recipient: str, grants: list[Grant], present: frozenset[FieldGroup], rules: SafetyRules
) -> Disclosure | None:
    party = rules.party(recipient)
    if party is None:  # an agreement names a party the deployment does not know: fail closed
        return None
    blocked = rules.blocked(party)
    never = frozenset().union(*blocked.values())
    granted = frozenset().union(*(g.groups for g in grants)) & present
    disclosed = granted - never
    if not disclosed:
        return None
    useful = tuple(g for g in grants if g.groups & disclosed)
    hits = {rule: groups & granted for rule, groups in blocked.items() if groups & granted}
    return Disclosure(recipient, disclosed, present - disclosed, useful, hits)


def _evaluations(
    clauses: list[tuple[Agreement, Clause]], rules: SafetyRules
) -> tuple[EvaluationFeed, ...]:
    """One feed per evaluator an evaluation clause names (the first clause by reference).

    A clause naming a party that is not a registered evaluator feeds nobody: fail
    closed (loading the policy refuses such a clause already).
    """
    feeds: dict[str, Grant] = {}
    for agreement, clause in clauses:
        party = rules.party(clause.recipient)
        if party is None or party.kind is not PartyKind.EVALUATOR:
            continue
        grant = _grant(agreement, clause)
        known = feeds.get(clause.recipient)
        if known is None or grant.reference < known.reference:
            feeds[clause.recipient] = grant
    return tuple(EvaluationFeed(r, g) for r, g in sorted(feeds.items()))


def decide_groups(  # noqa: PLR0913, PLR0917 - the decision's inputs, each distinct
    event_type: str,
    present: frozenset[FieldGroup],
    sender: str,
    agreements: Sequence[Agreement],
    rules: SafetyRules,
    now: datetime,
    *,
    evaluation: bool = False,
) -> Decisions:
    """Decide for an event known by its type and the groups it carries (see :func:`decide`)."""
    clauses = [
        (a, c) for a, c in active_clauses(agreements, event_type, now) if c.provider == sender
    ]
    shared = [(a, c) for a, c in clauses if c.form is ClauseForm.PRESENTATION]
    fed = [(a, c) for a, c in clauses if c.form is ClauseForm.EVALUATION_RECORD]
    evaluations = _evaluations(fed, rules) if evaluation else ()
    if not shared and not evaluations:
        raise NotEntitledError(sender, event_type)
    by_recipient: dict[str, list[Grant]] = {}
    for agreement, clause in shared:
        by_recipient.setdefault(clause.recipient, []).append(_grant(agreement, clause))
    recipients = {
        party.id: _disclose(party.id, by_recipient.get(party.id, []), present, rules)
        for party in rules.parties
        if party.id != sender
    }
    return Decisions(sender, event_type, present, recipients, evaluations)


def decide(  # noqa: PLR0913 - the decision's inputs, each distinct
    event: CaseEvent,
    sender: str,
    agreements: Sequence[Agreement],
    rules: SafetyRules,
    now: datetime,
    *,
    evaluation: bool = False,
) -> Decisions:
    """Decide what every other party of the deployment receives of ``event``.

    Args:
        event: the validated event.
        sender: the authenticated provider (the issuer of the envelope).
        agreements: every loaded agreement, whatever its status.
        rules: the deployment's parties and safety rules.
        now: the decision time.
        evaluation: whether this hub feeds the evaluation; without it, evaluation
            clauses entitle and feed nobody.

    Returns:
        For each registered party but the sender, a disclosure or ``None``.

    Raises:
        NotEntitledError: no active clause lets ``sender`` provide this event type.
    """
    return decide_groups(
        event.event_type,
        event_groups(event),
        sender,
        agreements,
        rules,
        now,
        evaluation=evaluation,
    )
