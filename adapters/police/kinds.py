"""The five POLE event types the police adapter translates, in both directions.

Each ``read_*`` fills the body of a :class:`~adapters.native.reading.Draft` from one
POLE event and its links; each ``write_*`` turns an event's JSON form back into the
POLE event's links and ``details``, adding entities to the document writer. The
mapping table is in docs/adapters/police.md.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from adapters.native.codecs import (
    compact,
    read_point,
    read_term,
    read_zone,
    write_point,
    write_term,
    write_zone,
)
from adapters.native.reading import native_code
from schemas.common import ConditionKind, OffenceType, OrderType, Priority, RiskTrend
from schemas.events.justice import BreachOf, OrderAction, PoliceAction, ProbationAction
from schemas.events.outcome import OutcomeKind, SentenceKind
from schemas.events.referral import ReferralSource, ScreeningAnswer, SdashAnswers
from schemas.places import PlaceKind

if TYPE_CHECKING:
    from adapters.native.reading import Draft, Node
    from adapters.police.pole import DocumentWriter, Links

Json = dict[str, Any]
#: The S-DASH questions in the form's order: ``q1`` is ``victim_very_frightened``.
SDASH_QUESTIONS = tuple(SdashAnswers.model_fields)


def _crime_refs(links: Links) -> list[str]:
    return [obj.get("crimeReference").text() for obj in links.objects.get("CRIME_REPORT", [])]


def _one_crime_ref(links: Links) -> str | None:
    found = links.one(links.objects, "CRIME_REPORT", "objectIds")
    return None if found is None else found.get("crimeReference").text()


def _codes(node: Node, vocabulary: Any) -> list[str]:
    return [item.code(vocabulary) for item in node.items()]


def read_referral(links: Links, draft: Draft) -> None:
    """REFERRAL -> ReferralReceived version 2."""
    details, persons = links.event.get("details"), links.event.get("personIds").path
    draft.put("referral_source", details.get("referralSource").code(ReferralSource), details.path)
    draft.take("behaviour_began_on", details.get("behaviourBeganOn"))
    draft.put("subject_ref", links.subject(required=False), persons)
    draft.put("victim_refs", links.refs("VICTIM"), persons)
    draft.put("crime_references", _crime_refs(links), links.event.get("objectIds").path)
    draft.put("suspected_offences", _codes(details.get("offences"), OffenceType), details.path)
    draft.put(
        "priority_requested", details.get("priorityRequested").opt_code(Priority), details.path
    )
    draft.take("concerns", details.get("concerns"))


def write_referral(data: Json, writer: DocumentWriter) -> Json:
    """ReferralReceived version 2 -> REFERRAL."""
    details = {
        "referralSource": native_code(data["referral_source"]),
        "behaviourBeganOn": data["behaviour_began_on"],
        "offences": [native_code(code) for code in data["suspected_offences"]],
        "priorityRequested": native_code(data["priority_requested"]),
        "concerns": data["concerns"],
    }
    return {
        "personIds": _people(data["subject_ref"], data["victim_refs"], writer),
        "objectIds": [writer.crime_report(ref) for ref in data["crime_references"]],
        "details": compact(details),
    }


def read_screening(links: Links, draft: Draft) -> None:
    """SDASH_SCREENING -> ScreeningCompleted with an S-DASH screening."""
    details, persons = links.event.get("details"), links.event.get("personIds")
    victims = links.refs("VICTIM")
    if len(victims) != 1:
        raise persons.fail("needs exactly one linked victim")
    answers = details.get("answers")
    coded = {
        name: answers.get(f"q{number}").code(ScreeningAnswer)
        for number, name in enumerate(SDASH_QUESTIONS, start=1)
    }
    draft.put("victim_ref", victims[0], persons.path)
    draft.put("subject_ref", links.subject(required=False), persons.path)
    draft.put("crime_reference", _one_crime_ref(links), links.event.get("objectIds").path)
    draft.put("screening", {"tool": "s_dash", "answers": coded}, answers.path)
    draft.put("priority", details.get("priority").code(Priority), details.path)


def write_screening(data: Json, writer: DocumentWriter) -> Json:
    """ScreeningCompleted (S-DASH) -> SDASH_SCREENING."""
    answers = data["screening"]["answers"]
    questions = {f"q{n}": native_code(answers[q]) for n, q in enumerate(SDASH_QUESTIONS, 1)}
    crime = data["crime_reference"]
    return {
        "personIds": _people(data["subject_ref"], [data["victim_ref"]], writer),
        "objectIds": [] if crime is None else [writer.crime_report(crime)],
        "details": {"answers": questions, "priority": native_code(data["priority"])},
    }


def read_order(links: Links, draft: Draft) -> None:
    """ORDER -> OrderEvent: the linked ORDER object and the action in ``details``."""
    details, persons = links.event.get("details"), links.event.get("personIds").path
    order = links.one(links.objects, "ORDER", "objectIds")
    if order is None:
        raise links.event.get("objectIds").fail("links no ORDER object")
    draft.put("subject_ref", links.subject(required=True), persons)
    draft.put("protected_refs", links.refs("VICTIM"), persons)
    body = {
        "order_type": order.get("orderType").code(OrderType),
        "action": details.get("action").code(OrderAction),
        "court": order.get("court").value,
        "effective_on": order.get("effectiveOn").value,
        "expires_on": order.get("expiresOn").value,
        "terms": [read_term(term) for term in order.get("terms").items()],
    }
    draft.put("order", compact(body), order.path)
    draft.put("crime_reference", _one_crime_ref(links), links.event.get("objectIds").path)
    zones = links.locations.get("EXCLUSION_ZONE", [])
    draft.put("exclusion_zones", [read_zone(zone) for zone in zones], "locations")
    draft.sources |= {f"exclusion_zones.{i}": zone.path for i, zone in enumerate(zones)}


def write_order(data: Json, writer: DocumentWriter) -> Json:
    """OrderEvent -> ORDER, with its ORDER object and EXCLUSION_ZONE locations."""
    order = data["order"]
    entity = {
        "type": "ORDER",
        "orderType": native_code(order["order_type"]),
        "court": order["court"],
        "effectiveOn": order["effective_on"],
        "expiresOn": order["expires_on"],
        "terms": [write_term(term) for term in order["terms"]],
    }
    objects = [writer.add("objects", compact(entity))]
    if data["crime_reference"] is not None:
        objects.append(writer.crime_report(data["crime_reference"]))
    zones = [{"type": "EXCLUSION_ZONE"} | write_zone(z) for z in data["exclusion_zones"]]
    return {
        "personIds": _people(data["subject_ref"], data["protected_refs"], writer),
        "objectIds": objects,
        "locationIds": [writer.add("locations", zone) for zone in zones],
        "details": {"action": native_code(order["action"])},
    }


def read_breach(links: Links, draft: Draft) -> None:
    """BREACH -> BreachReported; a linked BREACH_PLACE is where it happened (group G)."""
    details = links.event.get("details")
    breach = {
        "breach_of": details.get("breachOf").code(BreachOf),
        "order_type": details.get("orderType").opt_code(OrderType),
        "condition": details.get("condition").code(ConditionKind),
        "zone_ref": details.get("zoneRef").value,
        "crime_reference": _one_crime_ref(links),
        "police_action": details.get("policeAction").opt_code(PoliceAction),
    }
    draft.put("subject_ref", links.subject(required=True), links.event.get("personIds").path)
    draft.put("breach", compact(breach), details.path)
    draft.put(
        "probation_action", details.get("probationAction").opt_code(ProbationAction), details.path
    )
    draft.put("risk_trend", details.get("riskTrend").opt_code(RiskTrend), details.path)
    place = links.one(links.locations, "BREACH_PLACE", "locationIds")
    if place is not None:
        draft.put("breach_location", _read_place(place), place.path)
    draft.put("victim_informed", details.get("victimInformed").flag(), details.path)


def _read_place(place: Node) -> Json:
    point = place.get("point")
    return compact(
        {
            "kind": place.get("placeKind").code(PlaceKind),
            "zone_ref": place.get("zoneRef").value,
            "point": read_point(point) if point.present else None,
        }
    )


def write_breach(data: Json, writer: DocumentWriter) -> Json:
    """BreachReported -> BREACH, with its BREACH_PLACE location."""
    breach, place = data["breach"], data["breach_location"]
    details = {
        "breachOf": native_code(breach["breach_of"]),
        "orderType": native_code(breach["order_type"]),
        "condition": native_code(breach["condition"]),
        "zoneRef": breach["zone_ref"],
        "policeAction": native_code(breach["police_action"]),
        "probationAction": native_code(data["probation_action"]),
        "riskTrend": native_code(data["risk_trend"]),
        "victimInformed": data["victim_informed"],
    }
    crime = breach["crime_reference"]
    locations = []
    if place is not None:
        point = None if place["point"] is None else write_point(place["point"])
        entity: Json = {"type": "BREACH_PLACE", "placeKind": native_code(place["kind"])}
        entity |= {"zoneRef": place["zone_ref"], "point": point}
        locations.append(writer.add("locations", compact(entity)))
    return {
        "personIds": [writer.person(data["subject_ref"], "SUSPECT")],
        "objectIds": [] if crime is None else [writer.crime_report(crime)],
        "locationIds": locations,
        "details": compact(details),
    }


def read_outcome(links: Links, draft: Draft) -> None:
    """COURT_OUTCOME -> CriminalJusticeOutcome."""
    details = links.event.get("details")
    sentence = details.get("sentence")
    outcome = {
        "outcome": details.get("outcome").code(OutcomeKind),
        "offences": _codes(details.get("offences"), OffenceType),
        "crime_references": _crime_refs(links),
        "court": details.get("court").value,
        "sentence": _read_sentence(sentence) if sentence.present else None,
        "restraining_order_made": details.get("restrainingOrderMade").flag(),
    }
    draft.put("subject_ref", links.subject(required=True), links.event.get("personIds").path)
    draft.put("outcome", compact(outcome), details.path)


def _read_sentence(sentence: Node) -> Json:
    return compact(
        {
            "kind": sentence.get("kind").code(SentenceKind),
            "custodial_months": sentence.get("custodialMonths").value,
            "requirements": sentence.get("requirements").value,
        }
    )


def write_outcome(data: Json, writer: DocumentWriter) -> Json:
    """CriminalJusticeOutcome -> COURT_OUTCOME."""
    outcome, sentence = data["outcome"], data["outcome"]["sentence"]
    native_sentence = None
    if sentence is not None:
        native_sentence = compact(
            {
                "kind": native_code(sentence["kind"]),
                "custodialMonths": sentence["custodial_months"] or None,
                "requirements": sentence["requirements"],
            }
        )
    details = {
        "outcome": native_code(outcome["outcome"]),
        "offences": [native_code(code) for code in outcome["offences"]],
        "court": outcome["court"],
        "sentence": native_sentence,
        "restrainingOrderMade": outcome["restraining_order_made"],
    }
    return {
        "personIds": [writer.person(data["subject_ref"], "SUSPECT")],
        "objectIds": [writer.crime_report(ref) for ref in outcome["crime_references"]],
        "details": compact(details),
    }


def _people(subject: str | None, victims: list[str], writer: DocumentWriter) -> list[str]:
    ids = [] if subject is None else [writer.person(subject, "SUSPECT")]
    return ids + [writer.person(ref, "VICTIM") for ref in victims]
