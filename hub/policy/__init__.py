"""Who may see what: agreements, hub-wide safety rules and the pure decision function."""

from hub.policy.base import (
    Decisions,
    Disclosure,
    EvaluationFeed,
    Grant,
    NotEntitledError,
    PolicyError,
)
from hub.policy.check import conflicts, matrix, render_matrix
from hub.policy.load import Policy, load_policy
from hub.policy.memo import DecisionMemo
from hub.policy.obligations import Decided, Granted, delivery_obligations, retention_end
from hub.policy.rules import PartyKind

__all__ = [
    "Decided",
    "DecisionMemo",
    "Decisions",
    "Disclosure",
    "EvaluationFeed",
    "Grant",
    "Granted",
    "NotEntitledError",
    "PartyKind",
    "Policy",
    "PolicyError",
    "conflicts",
    "delivery_obligations",
    "load_policy",
    "matrix",
    "render_matrix",
    "retention_end",
]
