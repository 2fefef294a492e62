"""Decision values and the errors of the policy room.

A :class:`Decisions` is what :func:`hub.policy.decide.decide` returns: for every
other party either a :class:`Disclosure` (the groups it gets, the groups withheld,
and the clauses that justify each granted group) or ``None``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from hub.errors import HubError, RefusalCode

if TYPE_CHECKING:
    from collections.abc import Mapping

    from schemas.base import FieldGroup


class PolicyError(HubError):
    """A policy file or folder is invalid.

    Attributes:
        code: stable reason code (``policy.invalid``, ``policy.unreadable``).
        location: ``file``, ``file: clause id`` or ``file: field path``.
        problem: what is wrong there; ``detail`` is ``location: problem``.
    """

    def __init__(self, code: str, location: str, problem: str) -> None:
        """Make an error naming where the problem is."""
        super().__init__(code, f"{location}: {problem}")
        self.location = location
        self.problem = problem


class NotEntitledError(HubError):
    """The sender has no active clause to provide this event type (``sender.not_entitled``)."""

    def __init__(self, sender: str, event_type: str) -> None:
        """Name the sender and event type; both are ids, not personal data."""
        super().__init__(RefusalCode.SENDER_NOT_ENTITLED, f"{sender} may not provide {event_type}")
        self.sender = sender
        self.event_type = event_type


@dataclass(frozen=True)
class Grant:
    """One clause's contribution to a disclosure."""

    agreement_id: str
    agreement_version: int
    clause_id: str
    purpose: str
    lawful_basis: str
    gateway: str
    groups: frozenset[FieldGroup]

    @property
    def reference(self) -> str:
        """``agreement@version#clause``."""
        return f"{self.agreement_id}@{self.agreement_version}#{self.clause_id}"


@dataclass(frozen=True)
class Disclosure:
    """What one recipient gets of one event, and why."""

    recipient: str
    disclosed: frozenset[FieldGroup]
    withheld: frozenset[FieldGroup]
    grants: tuple[Grant, ...]
    blocked_by: Mapping[str, frozenset[FieldGroup]]

    @property
    def primary(self) -> Grant:
        """The grant that names the delivery's agreement (the one granting most groups)."""
        return max(self.grants, key=lambda g: (len(g.groups & self.disclosed), g.reference))

    @property
    def clauses(self) -> str:
        """Every contributing clause, as ``agreement@version#clause`` joined by ``;``."""
        return ";".join(sorted(g.reference for g in self.grants))


@dataclass(frozen=True)
class EvaluationFeed:
    """An evaluator that gets the evaluation record of an event, and the clause why.

    The record is the hub's own minimised derivation (ADR 0022): no field group of
    the event reaches the evaluator, so the grant names none.
    """

    recipient: str
    grant: Grant


@dataclass(frozen=True)
class Decisions:
    """The decision for every other party about one event.

    ``evaluations``: the evaluators that get the event's evaluation record, in
    party order; empty unless the hub feeds the evaluation.
    """

    sender: str
    event_type: str
    event_groups: frozenset[FieldGroup]
    recipients: Mapping[str, Disclosure | None]
    evaluations: tuple[EvaluationFeed, ...] = ()

    def disclosures(self) -> list[Disclosure]:
        """The recipients that get something, in party order."""
        return [d for _, d in sorted(self.recipients.items()) if d is not None]
