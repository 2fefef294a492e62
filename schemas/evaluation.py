"""The evaluation record: one case event, minimised for the programme's evaluation.

What the national evaluator receives instead of the case (ADR 0022): an evaluation
pseudonym for the case and for the person who stalks, the area and its
intervention model, the event's type, the month it happened, and the few coded
facts the measures need (risk priority and typology, risk trend, order, breach,
justice outcome, closure reason). Every field is a code, a month or a pseudonym:
the model has no field that could hold free text, a reference the partnership
issued, a victim, or anything of groups D, F, G or H.

Time has two forms, so that intervals are exact while dates stay coarse (ADR 0022):
``case_day`` counts days on the case's own timeline, whose origin is a secret the
area hubs derive from the case reference and the linkage key; the difference of
two records' ``case_day`` is the days between them. Only a referral (and a
victim's view, which has no case) carries the calendar ``month``: it places the
case in time to within a month, and no closer.
"""

import enum
from datetime import date
from typing import Annotated, Final

from pydantic import Field, StringConstraints

from schemas.base import StrictModel
from schemas.common import OrderType, Priority, RiskTrend, Typology
from schemas.events.justice import BreachOf, OrderAction
from schemas.events.outcome import ClosureReason, OutcomeKind
from schemas.events.victim import ViewScale, ViewStage

#: 128 bits of an HMAC-SHA256 under the areas' linkage key, in hex, after a prefix:
#: ``ep-`` a person, ``ec-`` a case, ``er-`` a record.
PSEUDONYM_HEX: Final = 32
PersonPseudonym = Annotated[str, StringConstraints(pattern=rf"^ep-[0-9a-f]{{{PSEUDONYM_HEX}}}$")]
CasePseudonym = Annotated[str, StringConstraints(pattern=rf"^ec-[0-9a-f]{{{PSEUDONYM_HEX}}}$")]
RecordId = Annotated[str, StringConstraints(pattern=rf"^er-[0-9a-f]{{{PSEUDONYM_HEX}}}$")]
#: Day 0 of the case timelines before their shift: the earliest date an event may hold.
TIMELINE_START: Final = date(1900, 1, 1)
#: An area of the programme, as the evaluation names it (e.g. ``exampleshire``).
AreaId = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9-]{1,31}$")]
#: A month, ``YYYY-MM``, in UTC.
Month = Annotated[str, StringConstraints(pattern=r"^(19|20)[0-9]{2}-(0[1-9]|1[0-2])$")]
EventType = Annotated[str, StringConstraints(pattern=r"^[A-Z][A-Za-z0-9]{0,63}$")]


class InterventionModel(enum.StrEnum):
    """The three models the programme's pilot areas run (docs/evaluation.md)."""

    ANTI_STALKING_UNIT = "anti_stalking_unit"  # police-chaired
    CLINIC = "clinic"  # a clinic with a treatment service for perpetrators
    THREAT_ASSESSMENT_CENTRE = "threat_assessment_centre"  # daily review, priorities


class EvaluationRecord(StrictModel):
    """One case event as the evaluator receives it: codes, a time and pseudonyms.

    ``person`` is the person who stalks (the event's subject), or None when the
    event names none; a victim is never in a record. A field the event type does
    not carry is None. ``case_day`` is the day on the case's timeline (every record
    of a case has one); ``month`` the calendar month, on a referral only.

    A victim's own view (``VictimViewRecorded``) comes with neither ``case`` nor
    ``person`` and no ``case_day``, only its ``month``: it can be counted by area,
    model, month and stage, never tied to a case or to the person who stalks.
    """

    record: RecordId
    case: CasePseudonym | None
    person: PersonPseudonym | None
    area: AreaId
    model: InterventionModel
    event_type: EventType
    schema_version: int
    month: Month | None
    case_day: Annotated[int, Field(ge=0, le=100_000)] | None
    priority: Priority | None
    typology: Typology | None
    risk_trend: RiskTrend | None
    order_type: OrderType | None
    order_action: OrderAction | None
    breach_of: BreachOf | None
    justice_outcome: OutcomeKind | None
    closure_reason: ClosureReason | None
    view_stage: ViewStage | None = None
    feels_safer: ViewScale | None = None
    satisfied_with_response: ViewScale | None = None
    view_declined: bool | None = None
