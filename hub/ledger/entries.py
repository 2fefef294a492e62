"""What the ledger records: an :class:`EntryDraft` in, a :class:`LedgerEntry` once committed.

An entry says who received what about whom, when, under which agreement, clause,
purpose and lawful basis (Data Protection Act 2018 s.62), or why an event was
refused, or that someone consulted the console. It names nobody: cases and people
appear only as keyed pseudonyms (:mod:`hub.ledger.pseudonyms`), parties by their
ids, field groups by their letters. Every text field is a bounded code or label
that cannot hold a sentence, so no free text can bring personal data in.

Times are stored in UTC with microseconds, always written the same way, so an
entry parsed back from its canonical JSON serialises to the same bytes.
"""

from __future__ import annotations

import uuid  # noqa: TC003 - pydantic resolves annotations at runtime
from datetime import UTC, datetime
from typing import Annotated, Final, Literal

from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    field_serializer,
    field_validator,
)

#: The hash of "no previous entry": the first entry's ``prev_hash``.
GENESIS_HASH: Final = "0" * 64
#: Pseudonyms: ``c_`` or ``p_`` and 43 base64url characters (an HMAC-SHA256).
CASE_PSEUDONYM: Final = r"^c_[A-Za-z0-9_-]{43}$"
PERSON_PSEUDONYM: Final = r"^p_[A-Za-z0-9_-]{43}$"
MAX_PERSONS: Final = 64

EntryKind = Literal["disclosure", "refusal", "consultation"]
HexHash = Annotated[str, StringConstraints(pattern=r"^[0-9a-f]{64}$")]
PartyId = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9-]{1,31}$")]
#: A machine code: ``disclosed``, ``envelope.malformed``, ``console.read``.
Code = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]*(\.[a-z0-9_]+)*$", max_length=64)]
#: An id or citation from the agreements: ``masip-x@2#police-to-health``, ``UK GDPR Art 6(1)(e)``.
Label = Annotated[
    str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9 ._:;,()/#@+-]*$", max_length=240)
]
Group = Literal["A", "B", "C", "D", "E", "F", "G", "H"]
CasePseudonym = Annotated[str, StringConstraints(pattern=CASE_PSEUDONYM)]
PersonPseudonym = Annotated[str, StringConstraints(pattern=PERSON_PSEUDONYM)]


class EntryDraft(BaseModel):
    """One decision as the pipeline hands it to the ledger, before it has a place.

    ``decision_id`` is unique across the ledger: appending a draft whose decision
    is already recorded returns the recorded entry and adds nothing.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    kind: EntryKind
    decision_id: uuid.UUID
    recorded_at: AwareDatetime
    event_id: uuid.UUID | None = None
    event_type: Annotated[str, StringConstraints(pattern=r"^[A-Za-z][A-Za-z0-9]{0,63}$")] | None = (
        None
    )
    case_pseudonym: CasePseudonym | None = None
    person_pseudonyms: Annotated[tuple[PersonPseudonym, ...], Field(max_length=MAX_PERSONS)] = ()
    provider: PartyId | None = None
    recipient: PartyId | None = None
    agreement_id: Label | None = None
    agreement_version: Annotated[int, Field(ge=1, le=2**31)] | None = None
    clause: Label | None = None
    purpose: Label | None = None
    lawful_basis: Label | None = None
    groups_disclosed: tuple[Group, ...] = ()
    groups_withheld: tuple[Group, ...] = ()
    policy_hash: Annotated[str, StringConstraints(pattern=r"^[0-9a-f]{16,128}$")] | None = None
    outcome: Code
    reason_code: Code | None = None
    actor: Label | None = None

    @field_validator("recorded_at")
    @classmethod
    def _utc(cls, value: datetime) -> datetime:
        return value.astimezone(UTC)

    @field_validator("groups_disclosed", "groups_withheld", "person_pseudonyms")
    @classmethod
    def _sorted_unique(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        # Sets carry no order; one order keeps one decision one set of bytes.
        return tuple(sorted(set(value)))

    @field_serializer("recorded_at")
    def _time(self, value: datetime) -> str:
        # One spelling per instant: UTC, always six fraction digits, "Z".
        return value.astimezone(UTC).replace(tzinfo=None).isoformat(timespec="microseconds") + "Z"

    def draft_fields(self) -> dict[str, object]:
        """The draft's fields as Python values (for building an entry from it)."""
        return {name: getattr(self, name) for name in EntryDraft.model_fields}

    def same_decision(self, other: EntryDraft) -> bool:
        """Whether ``other`` records the same decision, ignoring when it was recorded."""
        mine, theirs = self.draft_fields(), other.draft_fields()
        mine.pop("recorded_at")
        theirs.pop("recorded_at")
        return mine == theirs


class LedgerEntry(EntryDraft):
    """A committed entry: a draft with its place in the chain.

    ``entry_hash`` is SHA-256 over the RFC 8785 canonical JSON of every other field
    (``seq`` and ``prev_hash`` included); see :mod:`hub.ledger.chain`.
    """

    seq: Annotated[int, Field(ge=0, lt=2**53)]
    prev_hash: HexHash
    entry_hash: HexHash

    def draft(self) -> EntryDraft:
        """The draft this entry was made from."""
        return EntryDraft(**self.draft_fields())  # type: ignore[arg-type]
