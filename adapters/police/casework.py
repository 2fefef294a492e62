"""The partnership's own steps as POLE events: a case consultation and a case closure.

``CASE_CONSULTATION`` is the multi-agency consultation the police record on their
side; ``CASE_CLOSURE`` the closure of the case with its reason and outcome measures.
Both link at most one ``SUSPECT`` and carry the rest in ``details``; linked victims
are not translated (neither event names one). Agreed actions and the supervision
status use the native forms of :mod:`adapters.native.codecs`. The mapping table is
in docs/adapters/police.md.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from adapters.native.codecs import (
    compact,
    read_action,
    read_supervision,
    write_action,
    write_supervision,
)
from adapters.native.reading import native_code
from schemas.common import Priority, RiskJudgement, Typology
from schemas.events.outcome import Change, ClosureReason, NeedsMet, StalkingStatus

if TYPE_CHECKING:
    from adapters.native.reading import Draft, Node
    from adapters.police.pole import DocumentWriter, Links

Json = dict[str, Any]


def _subject(links: Links, draft: Draft) -> None:
    draft.put("subject_ref", links.subject(required=False), links.event.get("personIds").path)


def _person_ids(subject: str | None, writer: DocumentWriter) -> list[str]:
    return [] if subject is None else [writer.person(subject, "SUSPECT")]


def read_consultation(links: Links, draft: Draft) -> None:
    """CASE_CONSULTATION -> CaseConsultationHeld."""
    details = links.event.get("details")
    _subject(links, draft)
    draft.take("attendees", details.get("attendingAgencies"))
    draft.take("next_consultation_on", details.get("nextConsultationDate"))
    draft.put("priority", details.get("priority").code(Priority), f"{details.path}.priority")
    typology = details.get("typology")
    draft.put("typology", typology.opt_code(Typology), typology.path)
    summary = details.get("decisionsSummary")
    draft.put("decisions_summary", summary.text(), summary.path)
    actions = details.get("actions")
    draft.put("actions", [read_action(action) for action in actions.items()], actions.path)
    draft.sources |= {f"actions.{i}": a.path for i, a in enumerate(actions.items())}
    supervision = details.get("supervision")
    draft.put("supervision", read_supervision(supervision), supervision.path)
    draft.take("victim_voice", details.get("victimVoice"))


def write_consultation(data: Json, writer: DocumentWriter) -> Json:
    """CaseConsultationHeld -> CASE_CONSULTATION."""
    details = {
        "attendingAgencies": list(data["attendees"]),
        "nextConsultationDate": data["next_consultation_on"],
        "priority": native_code(data["priority"]),
        "typology": native_code(data["typology"]),
        "decisionsSummary": data["decisions_summary"],
        "actions": [write_action(action) for action in data["actions"]],
        "supervision": write_supervision(data["supervision"]),
        "victimVoice": data["victim_voice"],
    }
    return {"personIds": _person_ids(data["subject_ref"], writer), "details": compact(details)}


def _read_risk(node: Node) -> Json:
    return {
        "priority": node.get("priority").code(Priority),
        "stalking_status": node.get("stalkingStatus").code(StalkingStatus),
        "violence": node.get("violence").code(RiskJudgement),
        "persistence": node.get("persistence").code(RiskJudgement),
        "recurrence": node.get("recurrence").code(RiskJudgement),
    }


def _read_measures(node: Node) -> Json | None:
    if not node.present:
        return None
    return {
        "breaches_recorded": node.get("breachesRecorded").value,
        "further_offences_recorded": node.get("furtherOffencesRecorded").value,
        "orders_in_force": node.get("ordersInForce").value,
    }


def _read_victim_outcomes(node: Node) -> Json | None:
    if not node.present:
        return None
    return {
        "feeling_of_safety": node.get("feelingOfSafety").code(Change),
        "wellbeing": node.get("wellbeing").code(Change),
        "needs_met": node.get("needsMet").code(NeedsMet),
    }


def read_closure(links: Links, draft: Draft) -> None:
    """CASE_CLOSURE -> CaseClosed."""
    details = links.event.get("details")
    _subject(links, draft)
    reason = details.get("closureReason")
    draft.put("reason", reason.code(ClosureReason), reason.path)
    summary = details.get("closureSummary")
    draft.put("closure_summary", summary.text(), summary.path)
    risk = details.get("riskAtClosure")
    draft.put("risk_at_closure", _read_risk(risk), risk.path)
    measures = details.get("justiceMeasures")
    draft.put("justice_measures", _read_measures(measures), measures.path)
    outcomes = details.get("victimOutcomes")
    draft.put("victim_outcomes", _read_victim_outcomes(outcomes), outcomes.path)


def _write_measures(measures: Json | None) -> Json | None:
    if measures is None:
        return None
    return {
        "breachesRecorded": measures["breaches_recorded"],
        "furtherOffencesRecorded": measures["further_offences_recorded"],
        "ordersInForce": measures["orders_in_force"],
    }


def _write_victim_outcomes(outcomes: Json | None) -> Json | None:
    if outcomes is None:
        return None
    return {
        "feelingOfSafety": native_code(outcomes["feeling_of_safety"]),
        "wellbeing": native_code(outcomes["wellbeing"]),
        "needsMet": native_code(outcomes["needs_met"]),
    }


def write_closure(data: Json, writer: DocumentWriter) -> Json:
    """CaseClosed -> CASE_CLOSURE."""
    risk = data["risk_at_closure"]
    details = {
        "closureReason": native_code(data["reason"]),
        "closureSummary": data["closure_summary"],
        "riskAtClosure": {
            "priority": native_code(risk["priority"]),
            "stalkingStatus": native_code(risk["stalking_status"]),
            "violence": native_code(risk["violence"]),
            "persistence": native_code(risk["persistence"]),
            "recurrence": native_code(risk["recurrence"]),
        },
        "justiceMeasures": _write_measures(data["justice_measures"]),
        "victimOutcomes": _write_victim_outcomes(data["victim_outcomes"]),
    }
    return {"personIds": _person_ids(data["subject_ref"], writer), "details": compact(details)}
