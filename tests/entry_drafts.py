"""Ledger entry drafts for tests: a format 2 disclosure whose justification fits its groups."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from hub.ledger.entries import EntryDraft, GrantRecord, WithheldGroup


def justified(values: dict[str, Any]) -> dict[str, Any]:
    """Fill in a format 2 disclosure's grant and withheld reasons from its other fields.

    The primary clause (``agreement_id``, ``agreement_version``, ``clause``,
    ``purpose``, ``lawful_basis``) becomes the one grant of every disclosed group,
    and each withheld group is ``not_granted``. A ``clause`` given as a bare clause
    id is spelt as the reference ``agreement@version#clause`` entries carry.
    Fields given explicitly are kept.
    """
    out = dict(values)
    if out.get("format", 2) != 2:
        return out
    if out.get("outcome") == "disclosed" and "grants" not in out:
        agreement, version = out["agreement_id"], out["agreement_version"]
        clause = str(out["clause"]).rpartition("#")[2]
        out["clause"] = f"{agreement}@{version}#{clause}"
        out["grants"] = (
            GrantRecord(
                agreement_id=agreement,
                agreement_version=version,
                clause=clause,
                purpose=out["purpose"],
                lawful_basis=out["lawful_basis"],
                groups=tuple(sorted(set(out.get("groups_disclosed", ())))),
            ),
        )
    if "withheld" not in out:
        out["withheld"] = tuple(
            WithheldGroup(group=g, reason="not_granted")
            for g in sorted(set(out.get("groups_withheld", ())))
        )
    return out


def disclosure(**fields: Any) -> EntryDraft:
    """A format 2 disclosure draft to health with a fresh decision id; ``fields`` override."""
    values: dict[str, Any] = {
        "kind": "disclosure",
        "decision_id": uuid.uuid4(),
        "recorded_at": datetime.now(UTC),
        "event_id": uuid.uuid4(),
        "event_type": "ReferralReceived",
        "case_pseudonym": "c_" + "A" * 43,
        "person_pseudonyms": ("p_" + "B" * 43,),
        "provider": "police",
        "recipient": "health",
        "agreement_id": "masip-exampleshire",
        "agreement_version": 1,
        "clause": "police-to-health-risk",
        "purpose": "assess-and-treat",
        "lawful_basis": "UK GDPR Art 6(1)(e)",
        "groups_disclosed": ("A", "C", "E"),
        "groups_withheld": ("F", "G"),
        "policy_hash": "ab" * 32,
        "outcome": "disclosed",
    }
    return EntryDraft(**justified(values | fields))
