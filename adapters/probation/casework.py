"""Probation's part in the partnership's work: a referral, an intervention, a meeting.

``probation-case.partnership-referral.sent`` is probation referring the person it
supervises to the partnership; ``probation-case.intervention.updated`` the progress
of an accredited programme or structured intervention it delivers;
``probation-case.multi-agency-meeting.held`` a multi-agency meeting on the case
(such as a MAPPA level 2 meeting) recorded on its side. Each ``read_*`` fills a
draft's body from ``additionalInformation``; each ``write_*`` turns the event's JSON
form back into it. The mapping table is in docs/adapters/probation.md.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Final

from adapters.native.codecs import (
    compact,
    read_action,
    read_supervision,
    write_action,
    write_supervision,
)
from adapters.native.reading import native_code
from schemas.common import OffenceType, Priority, RiskTrend, Typology
from schemas.events.management import Engagement, InterventionKind, InterventionStatus
from schemas.events.referral import ReferralSource

if TYPE_CHECKING:
    from adapters.native.reading import Draft, Node

Json = dict[str, Any]
#: A referral this adapter reads is one probation made; it writes no other.
SOURCE: Final = ReferralSource.PROBATION.value
#: Counted sessions: intervention progress field -> native field under ``intervention``.
SESSIONS: Final = {"sessions_attended": "sessionsAttended", "sessions_missed": "sessionsMissed"}


def _put_each(draft: Draft, name: str, node: Node, values: list[Any]) -> None:
    """Set list field ``name`` from the native list ``node``, each item from its own element."""
    draft.put(name, values, node.path)
    draft.sources |= {f"{name}.{i}": item.path for i, item in enumerate(node.items())}


def read_referral(info: Node, draft: Draft) -> None:
    """``probation-case.partnership-referral.sent`` -> ReferralReceived version 2."""
    victims = info.get("protectedPersonReferences")
    draft.put("referral_source", SOURCE, "eventType")
    draft.take("behaviour_began_on", info.get("behaviourBeganOn"))
    _put_each(draft, "victim_refs", victims, [ref.text() for ref in victims.items(required=True)])
    crimes, offences = info.get("crimeReferences"), info.get("offences")
    _put_each(draft, "crime_references", crimes, [ref.text() for ref in crimes.items()])
    codes = [offence.code(OffenceType) for offence in offences.items()]
    _put_each(draft, "suspected_offences", offences, codes)
    priority = info.get("priorityRequested")
    draft.put("priority_requested", priority.opt_code(Priority), priority.path)
    concerns = info.get("concerns")
    draft.put("concerns", concerns.text(), concerns.path)


def write_referral(data: Json) -> Json:
    """ReferralReceived version 2 -> ``additionalInformation``.

    Raises:
        ValueError: the referral was not made by probation.
    """
    if data["referral_source"] != SOURCE:
        raise ValueError("probation writes its own referrals only")
    return compact(
        {
            "behaviourBeganOn": data["behaviour_began_on"],
            "protectedPersonReferences": list(data["victim_refs"]),
            "crimeReferences": list(data["crime_references"]),
            "offences": [native_code(code) for code in data["suspected_offences"]],
            "priorityRequested": native_code(data["priority_requested"]),
            "concerns": data["concerns"],
        }
    )


def read_intervention(info: Node, draft: Draft) -> None:
    """``probation-case.intervention.updated`` -> InterventionUpdated.

    Everything under ``intervention`` is clinical detail (group D); the risk trend
    and the summary for partners sit beside it (group E).
    """
    node = info.get("intervention")
    notes = node.get("progressNotes")
    progress: Json = {
        "kind": node.get("type").code(InterventionKind),
        "status": node.get("status").code(InterventionStatus),
        "engagement": node.get("engagement").code(Engagement),
        "progress_notes": notes.opt_text(),
    }
    progress |= {name: node.get(key).opt_number() for name, key in SESSIONS.items()}
    draft.put("intervention", compact(progress), node.path)
    draft.sources |= {
        f"intervention.{name}": f"{node.path}.{key}" for name, key in SESSIONS.items()
    }
    draft.sources["intervention.progress_notes"] = notes.path
    trend = info.get("riskTrend")
    draft.put("risk_trend", trend.opt_code(RiskTrend), trend.path)
    draft.take("summary_for_partners", info.get("summaryForPartners"))


def write_intervention(data: Json) -> Json:
    """InterventionUpdated -> ``additionalInformation``."""
    progress = data["intervention"]
    native: Json = {
        "type": native_code(progress["kind"]),
        "status": native_code(progress["status"]),
        "engagement": native_code(progress["engagement"]),
    }
    native |= {key: progress[name] for name, key in SESSIONS.items()}
    native["progressNotes"] = progress["progress_notes"]
    return compact(
        {
            "intervention": compact(native),
            "riskTrend": native_code(data["risk_trend"]),
            "summaryForPartners": data["summary_for_partners"],
        }
    )


def read_meeting(info: Node, draft: Draft) -> None:
    """``probation-case.multi-agency-meeting.held`` -> CaseConsultationHeld."""
    draft.take("attendees", info.get("attendingAgencies"))
    draft.take("next_consultation_on", info.get("nextMeetingDate"))
    priority, typology = info.get("priority"), info.get("typology")
    draft.put("priority", priority.code(Priority), priority.path)
    draft.put("typology", typology.opt_code(Typology), typology.path)
    summary = info.get("decisionsSummary")
    draft.put("decisions_summary", summary.text(), summary.path)
    actions = info.get("actions")
    _put_each(draft, "actions", actions, [read_action(action) for action in actions.items()])
    supervision = info.get("supervision")
    draft.put("supervision", read_supervision(supervision), supervision.path)
    draft.take("victim_voice", info.get("victimVoice"))


def write_meeting(data: Json) -> Json:
    """CaseConsultationHeld -> ``additionalInformation``."""
    return compact(
        {
            "attendingAgencies": list(data["attendees"]),
            "nextMeetingDate": data["next_consultation_on"],
            "priority": native_code(data["priority"]),
            "typology": native_code(data["typology"]),
            "decisionsSummary": data["decisions_summary"],
            "actions": [write_action(action) for action in data["actions"]],
            "supervision": write_supervision(data["supervision"]),
            "victimVoice": data["victim_voice"],
        }
    )
