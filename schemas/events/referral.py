"""How a case begins: a referral to the partnership and the frontline screening.

``ReferralReceived`` has two versions. Version 1 stays exactly as it was published
(docs/schemas.md, "Evolving a schema"); version 2 adds where the referral came from.
"""

import enum
import json
from typing import Annotated, Literal

from pydantic import Field

from schemas.base import (
    SUBJECT,
    VICTIM,
    A,
    B,
    CaseEvent,
    E,
    PastDate,
    PersonReference,
    StrictModel,
    Text,
)
from schemas.common import CrimeReference, OffenceType, Priority, RiskJudgement

#: Victims named in one referral: at least one (pseudonymously), at most ten.
VictimRefs = Annotated[tuple[PersonReference, ...], Field(min_length=1, max_length=10)]
#: Crime references of one case, at most twenty.
CrimeReferences = Annotated[tuple[CrimeReference, ...], Field(max_length=20)]
#: Offences of one case, at most twenty.
Offences = Annotated[tuple[OffenceType, ...], Field(max_length=20)]


class ReferralReceived(CaseEvent):
    """A partnership received a referral about a stalking case (version 1).

    ``subject_ref`` is empty when the stalker is not known: advocates plan for
    the victim's safety even then.
    """

    event_type: Annotated[Literal["ReferralReceived"], A]
    schema_version: Annotated[Literal[1], A]
    subject_ref: Annotated[PersonReference | None, A, SUBJECT] = None
    victim_refs: Annotated[VictimRefs, A, VICTIM]
    crime_references: Annotated[CrimeReferences, B] = ()
    suspected_offences: Annotated[Offences, B] = ()
    priority_requested: Annotated[Priority | None, E] = None
    concerns: Annotated[Text, E]


class ReferralSource(enum.StrEnum):
    """Who made a referral (ReferralReceived version 2)."""

    POLICE = "police"
    PROBATION = "probation"
    MENTAL_HEALTH = "mental_health"
    STALKING_HELPLINE = "stalking_helpline"
    SELF_REFERRAL = "self_referral"
    OTHER = "other"
    #: Only for events upcast from version 1, which did not record the source.
    NOT_RECORDED = "not_recorded"


class ReferralReceivedV2(CaseEvent):
    """A partnership received a referral about a stalking case (version 2).

    Adds the required ``referral_source`` and the optional ``behaviour_began_on``
    (when the victim says the stalking began; its duration is a risk factor).
    """

    event_type: Annotated[Literal["ReferralReceived"], A]
    schema_version: Annotated[Literal[2], A]
    referral_source: Annotated[ReferralSource, A]
    behaviour_began_on: Annotated[PastDate | None, A] = None
    subject_ref: Annotated[PersonReference | None, A, SUBJECT] = None
    victim_refs: Annotated[VictimRefs, A, VICTIM]
    crime_references: Annotated[CrimeReferences, B] = ()
    suspected_offences: Annotated[Offences, B] = ()
    priority_requested: Annotated[Priority | None, E] = None
    concerns: Annotated[Text, E]


class ScreeningAnswer(enum.StrEnum):
    """An answer to one screening question."""

    YES = "yes"
    NO = "no"
    NOT_KNOWN = "not_known"


class SdashAnswers(StrictModel):
    """The eleven S-DASH questions asked of the victim, in the form's order."""

    victim_very_frightened: ScreeningAnswer
    previous_abuse_or_harassment: ScreeningAnswer
    property_vandalised_or_destroyed: ScreeningAnswer
    turns_up_unannounced: ScreeningAnswer
    follows_or_loiters: ScreeningAnswer
    threats_of_violence: ScreeningAnswer
    third_parties_harassed: ScreeningAnswer
    violent_to_others_during_stalking: ScreeningAnswer
    engaged_others_to_help: ScreeningAnswer
    substance_or_mental_health_problems: ScreeningAnswer
    history_of_violence: ScreeningAnswer


class SdashScreening(StrictModel):
    """An S-DASH screening: the answers as recorded by the officer."""

    tool: Literal["s_dash"]
    answers: SdashAnswers


class SashScreening(StrictModel):
    """A SASH screening: the level of concern it concluded with.

    Item-level ratings stay with the assessing service; partners share the
    conclusion.
    """

    tool: Literal["sash"]
    concern: RiskJudgement


#: One completed screening, told apart by ``tool``.
Screening = Annotated[SdashScreening | SashScreening, Field(discriminator="tool")]


class ScreeningCompleted(CaseEvent):
    """A frontline screening (S-DASH or SASH) was completed and a priority set.

    A completed S-DASH is restricted: it travels in group E only.
    """

    event_type: Annotated[Literal["ScreeningCompleted"], A]
    schema_version: Annotated[Literal[1], A]
    victim_ref: Annotated[PersonReference, A, VICTIM]
    subject_ref: Annotated[PersonReference | None, A, SUBJECT] = None
    crime_reference: Annotated[CrimeReference | None, B] = None
    screening: Annotated[Screening, E]
    priority: Annotated[Priority, E]


def upcast_referral_v1(event: CaseEvent) -> CaseEvent:
    """Return a version 1 ReferralReceived as version 2, with its source not recorded.

    Raises:
        TypeError: ``event`` is not a version 1 ReferralReceived.
    """
    if not isinstance(event, ReferralReceived):
        raise TypeError("expects a ReferralReceived version 1")
    data = json.loads(event.model_dump_json())
    data |= {"schema_version": 2, "referral_source": ReferralSource.NOT_RECORDED.value}
    return ReferralReceivedV2.model_validate_json(json.dumps(data))
