r"""The evaluation record of a case event: minimised, and pseudonymised for linkage.

:func:`minimise` derives an :class:`~schemas.evaluation.EvaluationRecord` from a
validated event (ADR 0022). It copies codes only, field by field from the fields
it names, so nothing it does not name can reach the evaluator: not a victim, not
free text, not groups D, F, G or H, not a reference the partnership issued.

Times become days on the case's own timeline (``case_day``): the event's UTC day
counted from 1900-01-01, plus a shift of 0 to 365 days the linkage key derives from
the case reference, the same in every area. Intervals within a case stay exact;
the calendar does not leave, except as the month of the referral (and of a victim's
view), which places the case to within a month.

Pseudonyms link a person across areas without naming them. Each is the first 128
bits of HMAC-SHA256 under the *linkage key*, over a domain and the reference
(``person\x00P-...``, ``case\x00MASIP-...``, ``record\x00<event id>``), in hex after
``ep-``, ``ec-`` or ``er-``. Every area hub holds the same linkage key and nobody
else does: the same person reference in two areas is one evaluation person, and
neither the evaluator nor an agency can turn a pseudonym back or test a guess. The
key is not the ledger's, so an evaluation pseudonym matches no ledger pseudonym.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass, field
from datetime import UTC
from typing import TYPE_CHECKING, Any, Final

from schemas.evaluation import PSEUDONYM_HEX, TIMELINE_START, EvaluationRecord, InterventionModel

if TYPE_CHECKING:
    from schemas.base import CaseEvent

#: The victim's own view: counted by area, model, month and stage, tied to no case.
VICTIM_VIEW: Final = "VictimViewRecorded"
#: Length of a linkage key in bytes (as the ledger key's, RFC 2104).
LINKAGE_KEY_BYTES: Final = 32
#: Shifts are 0 to SHIFT_DAYS - 1 days: more than a year, so no calendar date shows.
SHIFT_DAYS: Final = 366
#: Event types whose record carries the calendar month (:func:`minimise`).
DATED: Final = frozenset({"ReferralReceived", VICTIM_VIEW})


class LinkageKey:
    """The areas' shared key for evaluation pseudonyms; never shown, never logged."""

    def __init__(self, key: bytes) -> None:
        """Hold ``key``.

        Raises:
            ValueError: a key shorter than :data:`LINKAGE_KEY_BYTES`.
        """
        if len(key) < LINKAGE_KEY_BYTES:
            raise ValueError(f"a linkage key is at least {LINKAGE_KEY_BYTES} bytes")
        self._key = key

    @classmethod
    def generate(cls) -> LinkageKey:
        """A new random key (for tests and the demo; a deployment shares one across areas)."""
        return cls(secrets.token_bytes(LINKAGE_KEY_BYTES))

    def __repr__(self) -> str:
        """Name the class, never the key."""
        return "LinkageKey(<key withheld>)"

    def _mac(self, domain: str, value: str) -> str:
        digest = hmac.new(self._key, f"{domain}\x00{value}".encode(), hashlib.sha256).hexdigest()
        return digest[:PSEUDONYM_HEX]

    def person(self, reference: str) -> str:
        """The evaluation pseudonym of the person ``reference`` names."""
        return f"ep-{self._mac('person', reference)}"

    def case(self, reference: str) -> str:
        """The evaluation pseudonym of the case ``reference`` names."""
        return f"ec-{self._mac('case', reference)}"

    def record(self, event_id: str) -> str:
        """The evaluation record id of the event ``event_id``: stable, and no event id."""
        return f"er-{self._mac('record', event_id)}"

    def shift(self, case_reference: str) -> int:
        """Days the timeline of the case ``case_reference`` is shifted by: 0 to 365."""
        return int(self._mac("shift", case_reference), 16) % SHIFT_DAYS


@dataclass(frozen=True)
class Area:
    """An area of the programme: its id in the evaluation and the model it runs."""

    id: str
    model: InterventionModel


@dataclass(frozen=True)
class Feed:
    """What a hub that feeds the evaluation holds: its area and the linkage key."""

    area: Area
    key: LinkageKey = field(repr=False)

    def record(self, event: CaseEvent) -> EvaluationRecord:
        """The evaluation record of ``event`` in this hub's area (:func:`minimise`)."""
        return minimise(event, self.area, self.key)


def _nested(event: CaseEvent, outer: str, inner: str) -> Any:
    holder = getattr(event, outer, None)
    return getattr(holder, inner, None) if holder is not None else None


def minimise(event: CaseEvent, area: Area, key: LinkageKey) -> EvaluationRecord:
    """The evaluation record of ``event`` in ``area`` (pure but for the key).

    ``priority`` is the event's assessed priority, or on a referral the priority
    asked for; the rest are read from the fields of the same name, where the event
    type has them. A victim's own view names no case and no person, and has a month
    but no day on any case's timeline.
    """
    view = event.event_type == VICTIM_VIEW
    subject = None if view else getattr(event, "subject_ref", None)
    priority = getattr(event, "priority", None) or getattr(event, "priority_requested", None)
    outcome = _nested(event, "outcome", "outcome")
    occurred = event.occurred_at.astimezone(UTC)
    day = (occurred.date() - TIMELINE_START).days + key.shift(event.case_reference)
    return EvaluationRecord(
        record=key.record(str(event.event_id)),
        case=None if view else key.case(event.case_reference),
        person=key.person(subject) if subject is not None else None,
        area=area.id,
        model=area.model,
        event_type=event.event_type,
        schema_version=event.schema_version,
        month=occurred.strftime("%Y-%m") if event.event_type in DATED else None,
        case_day=None if view else day,
        priority=priority,
        typology=getattr(event, "typology", None),
        risk_trend=getattr(event, "risk_trend", None),
        order_type=_nested(event, "order", "order_type"),
        order_action=_nested(event, "order", "action"),
        breach_of=_nested(event, "breach", "breach_of"),
        justice_outcome=outcome,
        closure_reason=getattr(event, "reason", None) if event.event_type == "CaseClosed" else None,
        view_stage=getattr(event, "stage", None) if view else None,
        feels_safer=getattr(event, "feels_safer", None) if view else None,
        satisfied_with_response=getattr(event, "satisfied_with_response", None) if view else None,
        view_declined=getattr(event, "declined", None) if view else None,
    )
