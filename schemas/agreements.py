"""Information-sharing agreements as data: parties, purposes, clauses and their law.

An agreement says who may give whom which field groups of which event types, for
what purpose, on which lawful basis and statutory gateway, for how long. The hub
reads agreements; it never writes them: they are signed documents, versioned, and
each decision in the ledger names the agreement version it relied on.
"""

import enum
from datetime import date
from typing import Annotated, Literal, Self

from pydantic import Field, StringConstraints, model_validator

from schemas.base import FieldGroup, PartyId, ShortText, StrictModel, Text

#: An identifier inside agreements: agreement, clause and purpose ids.
Code = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9-]{1,63}$")]
#: ``*`` or an event type name.
EventTypeName = Annotated[str, StringConstraints(pattern=r"^(\*|[A-Z][A-Za-z]{2,63})$")]


class AgreementStatus(enum.StrEnum):
    """Where an agreement stands; only ``active`` grants anything."""

    DRAFT = "draft"
    ACTIVE = "active"
    SUSPENDED = "suspended"
    TERMINATED = "terminated"


class ControllerRole(enum.StrEnum):
    """A party's role for the shared data (UK GDPR Art 4, 26 and 28)."""

    CONTROLLER = "controller"
    JOINT_CONTROLLER = "joint_controller"
    PROCESSOR = "processor"
    COMPETENT_AUTHORITY = "competent_authority"


class Regime(enum.StrEnum):
    """Which data-protection regime governs the provider's sharing."""

    UK_GDPR = "uk_gdpr"
    DPA2018_PART3 = "dpa2018_part3"


class Article6(enum.StrEnum):
    """UK GDPR Art 6(1) lawful bases."""

    CONSENT = "6(1)(a)"
    CONTRACT = "6(1)(b)"
    LEGAL_OBLIGATION = "6(1)(c)"
    VITAL_INTERESTS = "6(1)(d)"
    PUBLIC_TASK = "6(1)(e)"
    LEGITIMATE_INTERESTS = "6(1)(f)"


class Article9(enum.StrEnum):
    """UK GDPR Art 9(2) conditions for special category data."""

    EXPLICIT_CONSENT = "9(2)(a)"
    EMPLOYMENT_SOCIAL_PROTECTION = "9(2)(b)"
    VITAL_INTERESTS = "9(2)(c)"
    LEGAL_CLAIMS = "9(2)(f)"
    SUBSTANTIAL_PUBLIC_INTEREST = "9(2)(g)"
    HEALTH_OR_SOCIAL_CARE = "9(2)(h)"
    RESEARCH = "9(2)(j)"  # archiving, scientific research and statistics (Art 89)


class Schedule1(enum.StrEnum):
    """DPA 2018 Schedule 1 conditions used in this field."""

    HEALTH_OR_SOCIAL_CARE = "para 2"
    RESEARCH = "para 4"
    STATUTORY_PURPOSES = "para 6"
    PREVENTING_UNLAWFUL_ACTS = "para 10"
    SAFEGUARDING = "para 18"


class Schedule8(enum.StrEnum):
    """DPA 2018 Schedule 8 conditions for sensitive processing by competent authorities."""

    STATUTORY_PURPOSES = "para 1"
    ADMINISTRATION_OF_JUSTICE = "para 2"
    VITAL_INTERESTS = "para 3"
    SAFEGUARDING = "para 4"


class LawfulBasis(StrictModel):
    """The lawful basis of one clause, in one of the two regimes.

    ``article10``: the clause shares criminal offence data under UK GDPR Art 10,
    which, like special category data, needs a DPA 2018 Schedule 1 condition (for
    research and statistics, para 4).
    """

    regime: Regime
    article6: Article6 | None = None
    article9: Article9 | None = None
    article10: bool = False
    schedule1: Schedule1 | None = None
    schedule8: Schedule8 | None = None

    @model_validator(mode="after")
    def _complete_for_regime(self) -> Self:
        if self.regime is Regime.UK_GDPR:
            if self.article6 is None or self.schedule8 is not None:
                raise ValueError("UK GDPR sharing needs article6 and no schedule8")
            if (self.article9 is None and not self.article10) != (self.schedule1 is None):
                raise ValueError("article9 or article10 and a schedule1 condition go together")
        elif (
            self.article6 or self.article9 or self.article10 or self.schedule1
        ) or self.schedule8 is None:
            raise ValueError("DPA 2018 Part 3 sharing (s.35) needs a schedule8 condition only")
        return self

    @property
    def covers_special_category(self) -> bool:
        """Whether this basis allows special category (or sensitive) processing."""
        return self.article9 is not None or self.schedule8 is not None

    def summary(self) -> str:
        """A one-line citation, e.g. ``UK GDPR Art 6(1)(e); Art 9(2)(g), DPA 2018 Sch 1 para 18``.

        Returns:
            The citation.
        """
        if self.regime is Regime.DPA2018_PART3:
            return f"DPA 2018 Part 3 s.35; Sch 8 {self.schedule8}"
        text = f"UK GDPR Art {self.article6}"
        articles = [f"Art {self.article9}"] if self.article9 is not None else []
        articles += ["Art 10"] if self.article10 else []
        if articles:
            text += f"; {' and '.join(articles)}, DPA 2018 Sch 1 {self.schedule1}"
        return text


class AgreementParty(StrictModel):
    """A party to the agreement and its role."""

    party: PartyId
    organisation: ShortText
    role: ControllerRole


class Purpose(StrictModel):
    """One purpose the agreement allows sharing for."""

    id: Code
    description: Text


class Retention(StrictModel):
    """How long a recipient keeps what it receives, and how it disposes of it."""

    months: Annotated[int, Field(ge=1, le=1200)]
    disposal: ShortText


class ClauseForm(enum.StrEnum):
    """What a clause lets the recipient receive.

    ``presentation``: the clause's field groups of the event, as the provider signed
    them (every clause between agencies). ``evaluation_record``: no field group at
    all, only the minimised, pseudonymised record the hub derives from the event for
    the programme's evaluator (``schemas/evaluation.py``, ADR 0022).
    """

    PRESENTATION = "presentation"
    EVALUATION_RECORD = "evaluation_record"


class Clause(StrictModel):
    """Who gives whom which groups of which event types, why, and under which law."""

    id: Code
    provider: PartyId
    recipient: PartyId
    event_types: Annotated[tuple[EventTypeName, ...], Field(min_length=1, max_length=64)]
    form: ClauseForm = ClauseForm.PRESENTATION
    groups: Annotated[tuple[FieldGroup, ...], Field(max_length=8)] = ()
    purpose: Code
    lawful_basis: LawfulBasis
    gateway: ShortText
    valid_from: date
    valid_until: date | None = None
    review_date: date
    retention: Retention

    @model_validator(mode="after")
    def _coherent(self) -> Self:
        if self.provider == self.recipient:
            raise ValueError("a clause shares between two different parties")
        if self.form is ClauseForm.PRESENTATION and not self.groups:
            raise ValueError("a presentation clause grants at least one group")
        if self.form is ClauseForm.EVALUATION_RECORD and self.groups:
            raise ValueError("an evaluation_record clause grants no group (the record is derived)")
        if len(set(self.groups)) != len(self.groups):
            raise ValueError("a group is listed twice")
        if self.valid_until is not None and self.valid_until < self.valid_from:
            raise ValueError("valid_until is before valid_from")
        if FieldGroup.D in self.groups and not self.lawful_basis.covers_special_category:
            raise ValueError("clinical detail (D) needs an Art 9 or Sch 8 condition")
        return self

    def covers(self, event_type: str) -> bool:
        """Whether the clause applies to ``event_type``."""
        return "*" in self.event_types or event_type in self.event_types

    def active_on(self, day: date) -> bool:
        """Whether ``day`` is inside the clause's validity (both ends inclusive)."""
        return self.valid_from <= day and (self.valid_until is None or day <= self.valid_until)


class Signatory(StrictModel):
    """Who signed for a party, and when."""

    party: PartyId
    name: ShortText
    position: ShortText
    signed_on: date


class Agreement(StrictModel):
    """An information-sharing agreement, one version of it."""

    kind: Literal["information-sharing-agreement"] = "information-sharing-agreement"
    id: Code
    version: Annotated[int, Field(ge=1)]
    title: ShortText
    status: AgreementStatus
    classification: Literal["OFFICIAL", "OFFICIAL-SENSITIVE"] = "OFFICIAL-SENSITIVE"
    dpia_reference: ShortText
    valid_from: date
    valid_until: date | None = None
    review_date: date
    parties: Annotated[tuple[AgreementParty, ...], Field(min_length=2, max_length=64)]
    purposes: Annotated[tuple[Purpose, ...], Field(min_length=1, max_length=32)]
    clauses: Annotated[tuple[Clause, ...], Field(min_length=1, max_length=512)]
    signatories: Annotated[tuple[Signatory, ...], Field(min_length=1, max_length=64)]

    @model_validator(mode="after")
    def _references_resolve(self) -> Self:
        parties = {p.party for p in self.parties}
        purposes = {p.id for p in self.purposes}
        if len(parties) != len(self.parties):
            raise ValueError("parties: a party is listed twice")
        clause_ids = [c.id for c in self.clauses]
        if len(set(clause_ids)) != len(clause_ids):
            raise ValueError("clauses: a clause id is used twice")
        for clause in self.clauses:
            for end in ("provider", "recipient"):
                if getattr(clause, end) not in parties:
                    raise ValueError(f"clauses[{clause.id}].{end}: not a party to the agreement")
            if clause.purpose not in purposes:
                raise ValueError(f"clauses[{clause.id}].purpose: not a declared purpose")
        if {s.party for s in self.signatories} != parties:
            raise ValueError("signatories: every party, and only parties, must sign")
        return self

    def active_on(self, day: date) -> bool:
        """Whether the agreement grants anything on ``day``."""
        if self.status is not AgreementStatus.ACTIVE or day < self.valid_from:
            return False
        return self.valid_until is None or day <= self.valid_until

    @property
    def reference(self) -> str:
        """``id@version``, as the ledger cites it."""
        return f"{self.id}@{self.version}"
