"""The deployment's parties and its hub-wide safety rules, which beat any agreement.

Agreements are negotiated documents and can be wrong; the safety rules are the
hub's own floor. "Victim location never reaches a perpetrator-facing service" holds
even if a signed clause grants it: the decision withholds the group, and
``hub agreements check`` names the clause that conflicts.
"""

import enum
from typing import Annotated, Self

from pydantic import Field, field_validator, model_validator

from schemas.agreements import Code
from schemas.base import FieldGroup, ShortText, StrictModel, Text
from schemas.parties import REGION_PREFIX, PartyId


class PartyKind(enum.StrEnum):
    """The kinds of party in a stalking partnership and its evaluation."""

    HUB = "hub"
    POLICE = "police"
    PROBATION = "probation"
    HEALTH = "health"
    ADVOCACY = "advocacy"
    LOCAL_AUTHORITY = "local_authority"
    #: The programme's evaluator: receives evaluation records only, never a case.
    EVALUATOR = "evaluator"
    OTHER = "other"


class Party(StrictModel):
    """One party of the deployment, with the attributes safety rules match on."""

    id: PartyId
    name: ShortText
    kind: PartyKind
    perpetrator_facing: bool = False

    @field_validator("id")
    @classmethod
    def _not_a_region_key(cls, value: str) -> str:
        # Ingress routes ``region-<name>`` to the regional link (ADR 0010): a party
        # with such an id would have its own events sent to another region.
        if value.startswith(REGION_PREFIX):
            raise ValueError(f"party ids may not start with {REGION_PREFIX!r}: it names a region")
        return value


class RuleTarget(StrictModel):
    """Which parties a rule protects data from; a party matching any field is a target."""

    perpetrator_facing: bool | None = None
    kinds: Annotated[tuple[PartyKind, ...], Field(max_length=8)] = ()
    parties: Annotated[tuple[PartyId, ...], Field(max_length=64)] = ()

    def matches(self, party: Party) -> bool:
        """Whether ``party`` is a target of the rule."""
        return (
            (self.perpetrator_facing is True and party.perpetrator_facing)
            or party.kind in self.kinds
            or party.id in self.parties
        )


class SafetyRule(StrictModel):
    """Never disclose ``never_groups`` to any party matching ``to``."""

    id: Code
    description: Text
    never_groups: Annotated[tuple[FieldGroup, ...], Field(min_length=1, max_length=8)]
    to: RuleTarget


class SafetyRules(StrictModel):
    """The party registry and the safety rules of one deployment."""

    parties: Annotated[tuple[Party, ...], Field(min_length=1, max_length=256)]
    rules: Annotated[tuple[SafetyRule, ...], Field(max_length=64)] = ()

    @model_validator(mode="after")
    def _unique(self) -> Self:
        if len({p.id for p in self.parties}) != len(self.parties):
            raise ValueError("a party id is listed twice")
        if len({r.id for r in self.rules}) != len(self.rules):
            raise ValueError("a rule id is used twice")
        return self

    def party(self, party_id: str) -> Party | None:
        """Return the registered party ``party_id``, if any."""
        return next((p for p in self.parties if p.id == party_id), None)

    def blocked(self, party: Party) -> dict[str, frozenset[FieldGroup]]:
        """Map each rule that targets ``party`` to the groups it withholds from it."""
        return {r.id: frozenset(r.never_groups) for r in self.rules if r.to.matches(party)}
