"""Vocabularies and small values shared by several case events.

Coded values are :class:`enum.StrEnum` so that every value a partner may send is
listed in the JSON Schema and nothing else validates. Value models here carry no
field-group tag: a value takes the group of the event field that holds it, so the
event module decides where, for instance, a :class:`ConditionTerm` is disclosed.
Values that describe where a victim is live in :mod:`schemas.places` and may only
ever be held by a group G field.
"""

import enum
from typing import Annotated

from pydantic import Field, StringConstraints

from schemas.base import UNSAFE_TEXT, PartyId, PlannedDate, StrictModel

#: A police crime reference as printed on an S-DASH form, e.g. ``EX/00123/26``.
CrimeReference = Annotated[str, StringConstraints(pattern=r"^[A-Z0-9][A-Z0-9/-]{3,29}$")]
#: A wall-clock time of day, ``HH:MM`` (24-hour, local time), e.g. a curfew's start.
ClockTime = Annotated[str, StringConstraints(pattern=r"^([01][0-9]|2[0-3]):[0-5][0-9]$")]
#: A label that ties a condition to an exclusion zone defined in group G, e.g. ``Z1``.
ZoneRef = Annotated[str, StringConstraints(pattern=r"^Z[0-9]{1,2}$")]


class Priority(enum.StrEnum):
    """Case priority assigned by the partnership's daily review."""

    STANDARD = "standard"
    MEDIUM = "medium"
    HIGH = "high"


class Typology(enum.StrEnum):
    """The five-type stalker typology (Mullen et al.) used with the Stalking Risk Profile."""

    REJECTED = "rejected"
    INTIMACY_SEEKER = "intimacy_seeker"
    INCOMPETENT_SUITOR = "incompetent_suitor"
    RESENTFUL = "resentful"
    PREDATORY = "predatory"


class RiskJudgement(enum.StrEnum):
    """A structured professional judgement of one risk (Stalking Risk Profile)."""

    LOW = "low"
    MODERATE = "moderate"
    HIGH = "high"


class RiskTrend(enum.StrEnum):
    """How the shared risk picture moved since the last event."""

    INCREASED = "increased"
    UNCHANGED = "unchanged"
    DECREASED = "decreased"


class RoshLevel(enum.StrEnum):
    """Probation's risk of serious harm level."""

    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"
    VERY_HIGH = "very_high"


class MappaLevel(enum.StrEnum):
    """MAPPA management level (Criminal Justice Act 2003 ss.325-327)."""

    LEVEL_1 = "level_1"
    LEVEL_2 = "level_2"
    LEVEL_3 = "level_3"


class MappaCategory(enum.StrEnum):
    """MAPPA category of the person managed."""

    CATEGORY_1 = "category_1"  # registered sexual offenders
    CATEGORY_2 = "category_2"  # violent offenders
    CATEGORY_3 = "category_3"  # other dangerous offenders
    CATEGORY_4 = "category_4"  # terrorism offenders and those of terrorism concern


class SupervisionLevel(enum.StrEnum):
    """Intensity of probation supervision."""

    STANDARD = "standard"
    ENHANCED = "enhanced"
    INTENSIVE = "intensive"


class OffenceType(enum.StrEnum):
    """Offences seen in stalking cases, by statute."""

    STALKING = "stalking"  # Protection from Harassment Act 1997 s.2A
    STALKING_FEAR_OF_VIOLENCE = "stalking_fear_of_violence"  # PfHA 1997 s.4A
    HARASSMENT = "harassment"  # PfHA 1997 s.2
    HARASSMENT_FEAR_OF_VIOLENCE = "harassment_fear_of_violence"  # PfHA 1997 s.4
    BREACH_OF_SPO = "breach_of_spo"  # Stalking Protection Act 2019 s.8
    BREACH_OF_RESTRAINING_ORDER = "breach_of_restraining_order"  # Sentencing Act 2020 s.363
    MALICIOUS_COMMUNICATIONS = "malicious_communications"  # Malicious Communications Act 1988
    IMPROPER_USE_OF_NETWORK = "improper_use_of_network"  # Communications Act 2003 s.127
    CRIMINAL_DAMAGE = "criminal_damage"
    ASSAULT = "assault"
    OTHER = "other"


class OrderType(enum.StrEnum):
    """Protective orders a court can make in a stalking case."""

    SPO = "spo"  # Stalking Protection Act 2019 s.1
    INTERIM_SPO = "interim_spo"  # Stalking Protection Act 2019 s.5
    RESTRAINING_ORDER_ON_CONVICTION = "restraining_order_on_conviction"  # SA 2020 s.360
    RESTRAINING_ORDER_ON_ACQUITTAL = "restraining_order_on_acquittal"  # PfHA 1997 s.5A


class ConditionKind(enum.StrEnum):
    """Coded terms of bail, licence conditions and orders.

    The wording of a condition stays with the agency that set it: a coded term
    cannot carry a street name into a group that is not G. Places are exclusion
    zones, defined in group G and referred to by :data:`ZoneRef`.
    """

    NON_CONTACT = "non_contact"
    NO_ONLINE_CONTACT = "no_online_contact"
    EXCLUSION_ZONE = "exclusion_zone"
    CURFEW = "curfew"
    RESIDENCE = "residence"
    REPORTING = "reporting"
    ELECTRONIC_MONITORING = "electronic_monitoring"
    NOTIFY_NAME_AND_ADDRESS = "notify_name_and_address"  # SPA 2019 s.9: within 3 days
    ATTEND_ASSESSMENT = "attend_assessment"
    ATTEND_INTERVENTION = "attend_intervention"
    SURRENDER_PASSPORT = "surrender_passport"
    OTHER = "other"


class Weekday(enum.StrEnum):
    """Days of the week, for routines and curfews."""

    MONDAY = "monday"
    TUESDAY = "tuesday"
    WEDNESDAY = "wednesday"
    THURSDAY = "thursday"
    FRIDAY = "friday"
    SATURDAY = "saturday"
    SUNDAY = "sunday"


class ActionStatus(enum.StrEnum):
    """Progress of one agreed action."""

    PLANNED = "planned"
    IN_PROGRESS = "in_progress"
    DONE = "done"
    CANCELLED = "cancelled"


class ConditionTerm(StrictModel):
    """One coded term of bail, a licence or an order.

    ``zone_refs`` name exclusion zones whose geometry travels in group G;
    ``curfew_from`` and ``curfew_until`` may span midnight (19:00 to 07:00).
    """

    kind: ConditionKind
    zone_refs: Annotated[tuple[ZoneRef, ...], Field(max_length=10)] = ()
    curfew_from: ClockTime | None = None
    curfew_until: ClockTime | None = None
    victim_related: bool = False


#: The terms of one set of conditions or one order: at least one, at most thirty.
ConditionTerms = Annotated[tuple[ConditionTerm, ...], Field(min_length=1, max_length=30)]


class SupervisionStatus(StrictModel):
    """Probation's supervision picture of the person managed (group C)."""

    supervision_level: SupervisionLevel
    rosh_level: RoshLevel
    mappa_level: MappaLevel | None = None
    mappa_category: MappaCategory | None = None
    supervision_ends_on: PlannedDate | None = None


class AgreedAction(StrictModel):
    """One action of a plan or a consultation: what, who, by when, how far."""

    action: Annotated[str, Field(min_length=1, max_length=300, pattern=rf"^[^{UNSAFE_TEXT}]+$")]
    owner: PartyId
    due_on: PlannedDate | None = None
    status: ActionStatus = ActionStatus.PLANNED


#: Up to twenty agreed actions.
AgreedActions = Annotated[tuple[AgreedAction, ...], Field(max_length=20)]
