"""What the ledger records: an :class:`EntryDraft` in, a :class:`LedgerEntry` once committed.

An entry says who received what about whom, when, under which agreement, clause,
purpose and lawful basis (Data Protection Act 2018 s.62), or why an event was
refused, or that someone consulted the console. It names nobody: cases and people
appear only as keyed pseudonyms (:mod:`hub.ledger.pseudonyms`), parties by their
ids, field groups by their letters. Every text field is a bounded code or label
that cannot hold a sentence, so no free text can bring personal data in.

Times are stored in UTC with microseconds, always written the same way, so an
entry parsed back from its canonical JSON serialises to the same bytes.

Entries come in two formats, and a ledger may hold both (docs/ledger.md):

- **format 1** (the first ledgers): no ``format`` field. A disclosure names its
  primary clause's purpose and lawful basis, and ``clause`` lists every clause,
  shortened past 240 characters.
- **format 2** (``"format": 2``) adds, always present: ``persons`` (each person's
  pseudonym with their role in the event), ``grants`` (every clause that granted
  something: agreement, version, clause, purpose, lawful basis and the groups it
  granted), ``withheld`` (each withheld group with its reason: not granted, or
  the safety rule that overrode a grant), ``content_digest`` (a keyed digest of
  the event's content: one event id, one content) and ``criteria`` (what a
  console search asked). The grants account for every disclosed group and the
  reasons for every withheld one; the model refuses an entry where they do not.

A format 1 body is read and re-serialised without any format 2 field, so it
keeps its bytes and its hash.

A **release** (``kind: release``, format 2) records that the programme's evaluator
let a set of aggregate figures out of its store (ADR 0024): it alone holds the
field ``release`` (what was asked, the rule or privacy mechanism applied, the
SHA-256 of the output). Every other entry holds no ``release`` field at all, so
entries written before releases existed keep their bytes.

A **receipt** (``kind: receipt``, format 2) records that a recipient signed for
deliveries it verified and kept (issue 23): it alone holds the field ``receipt``
(the receipt's id, each delivery's decision id and the SHA-256 of the message body
the recipient received, the time it signed, and the recipient's compact JWS
itself, so anyone with its public key can check the signature later). Its outcome
is ``receipted`` for a delivery receipt, whose items may carry the retention end
the recipient acknowledged (``until``), and ``erased`` for an erasure receipt: the
recipient erased what it kept of those deliveries (ADR 0030).
"""

from __future__ import annotations

import re
import uuid  # noqa: TC003 - pydantic resolves annotations at runtime
from datetime import UTC, date, datetime
from typing import TYPE_CHECKING, Annotated, Any, Final, Literal, Self

from pydantic import (
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainSerializer,
    StringConstraints,
    field_validator,
    model_serializer,
    model_validator,
)

from schemas.parties import PartyId  # noqa: TC001 - pydantic resolves annotations at runtime

if TYPE_CHECKING:
    from pydantic import SerializerFunctionWrapHandler

#: The hash of "no previous entry": the first entry's ``prev_hash``.
GENESIS_HASH: Final = "0" * 64
#: Pseudonyms: ``c_`` or ``p_`` and 43 base64url characters (an HMAC-SHA256).
CASE_PSEUDONYM: Final = r"^c_[A-Za-z0-9_-]{43}$"
PERSON_PSEUDONYM: Final = r"^p_[A-Za-z0-9_-]{43}$"
CONTENT_DIGEST: Final = r"^d_[A-Za-z0-9_-]{43}$"
MAX_PERSONS: Final = 64
MAX_GRANTS: Final = 64
#: The entry format this hub writes; 1 is read and verified, never written.
FORMAT: Final = 2
#: The fields format 2 added. A format 1 body holds none of them.
FORMAT_2_FIELDS: Final = ("format", "persons", "grants", "withheld", "content_digest", "criteria")

#: The outcomes of a receipt entry: a delivery receipt's, an erasure receipt's.
RECEIPT_OUTCOMES: Final = ("receipted", "erased")
EntryKind = Literal["disclosure", "refusal", "consultation", "release", "receipt"]
HexHash = Annotated[str, StringConstraints(pattern=r"^[0-9a-f]{64}$")]
#: A machine code: ``disclosed``, ``envelope.malformed``, ``console.read``.
Code = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]*(\.[a-z0-9_]+)*$", max_length=64)]
#: An id or citation from the agreements: ``masip-x@2#police-to-health``, ``UK GDPR Art 6(1)(e)``.
Label = Annotated[
    str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9 ._:;,()/#@+-]*$", max_length=240)
]
Group = Literal["A", "B", "C", "D", "E", "F", "G", "H"]
CasePseudonym = Annotated[str, StringConstraints(pattern=CASE_PSEUDONYM)]
PersonPseudonym = Annotated[str, StringConstraints(pattern=PERSON_PSEUDONYM)]
ContentDigest = Annotated[str, StringConstraints(pattern=CONTENT_DIGEST)]
#: What a person is to an event (``schemas.base.PersonRole``).
PersonRole = Literal["victim", "subject", "other"]
#: Why a group was withheld: no clause granted it, or a safety rule overrode a grant.
WithheldReason = Literal["not_granted", "safety_rule"]


def stamp(value: datetime) -> str:
    """Spell a time as entries do: UTC, always six fraction digits, ``Z``.

    One spelling per instant, so text sorts as time and a parsed entry
    serialises to the bytes it was read from.
    """
    return value.astimezone(UTC).replace(tzinfo=None).isoformat(timespec="microseconds") + "Z"


def _utc(value: datetime) -> datetime:
    return value.astimezone(UTC)


#: A time as entries hold it: aware, kept in UTC, written by :func:`stamp`.
EntryTime = Annotated[AwareDatetime, PlainSerializer(stamp, return_type=str)]


def _sorted_set(value: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(sorted(set(value)))


class _Part(BaseModel):
    """A closed, frozen value inside an entry."""

    model_config = ConfigDict(frozen=True, extra="forbid")


class PersonInEvent(_Part):
    """One person an event references: their pseudonym and their role in the event."""

    pseudonym: PersonPseudonym
    role: PersonRole


class GrantRecord(_Part):
    """One clause's part in a disclosure: where it is, why, and which groups it granted."""

    agreement_id: Label
    agreement_version: Annotated[int, Field(ge=1, le=2**31)]
    clause: Label
    purpose: Label
    lawful_basis: Label
    groups: Annotated[tuple[Group, ...], Field(min_length=1)]

    @field_validator("groups")
    @classmethod
    def _groups(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        return _sorted_set(value)

    @property
    def reference(self) -> str:
        """``agreement@version#clause``, as format 1 entries and the agreements spell it."""
        return f"{self.agreement_id}@{self.agreement_version}#{self.clause}"


class WithheldGroup(_Part):
    """One group a recipient did not get, and why."""

    group: Group
    reason: WithheldReason
    #: The safety rule's id when ``reason`` is ``safety_rule``; otherwise None.
    rule: Label | None = None

    @model_validator(mode="after")
    def _rule_named(self) -> Self:
        if (self.reason == "safety_rule") != (self.rule is not None):
            raise ValueError("a safety rule reason names its rule, and only it does")
        return self


#: A table a release let out: ``reoffending``, ``cohort_by_priority``.
TableCode = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]{0,63}$")]
#: A non-negative decimal, as text (no floats in an entry): ``1``, ``0.25``.
Decimal = Annotated[str, StringConstraints(pattern=r"^(0|[1-9][0-9]{0,5})(\.[0-9]{1,6})?$")]
MAX_TABLES: Final = 128


class ReleaseRecord(_Part):
    """What one release of aggregates let out, under which rule, and the output's hash.

    ``mechanism`` is ``suppression`` (counts from 1 to ``threshold`` suppressed,
    with secondary suppression and differencing checks, the rest rounded to
    ``rounding``: ADR 0021) or ``laplace`` (differential privacy: noise for
    ``epsilon``, of a budget of which ``spent`` is used after this release).
    """

    release_id: uuid.UUID
    as_of: Annotated[str, StringConstraints(pattern=r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$")]
    tables: Annotated[tuple[TableCode, ...], Field(min_length=1, max_length=MAX_TABLES)]
    mechanism: Literal["suppression", "laplace"]
    rule: Label
    threshold: Annotated[int, Field(ge=0, le=10_000)] | None = None
    rounding: Annotated[int, Field(ge=1, le=10_000)] | None = None
    epsilon: Decimal | None = None
    spent: Decimal | None = None
    budget: Decimal | None = None
    output_sha256: HexHash

    @field_validator("tables")
    @classmethod
    def _tables(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        return _sorted_set(value)

    @model_validator(mode="after")
    def _mechanism_complete(self) -> Self:
        noise = (self.epsilon, self.spent, self.budget)
        if self.mechanism == "suppression":
            if self.threshold is None or self.rounding is None or any(noise):
                raise ValueError("suppression names its threshold and rounding, and no budget")
        elif not all(noise):
            raise ValueError("laplace names its epsilon, the budget spent and the budget")
        return self


#: The most deliveries one receipt covers.
MAX_RECEIPT_ITEMS: Final = 256
#: A compact JWS (three base64url parts), as a recipient signed its receipt.
CompactJws = Annotated[
    str,
    StringConstraints(
        pattern=r"^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$", max_length=64 * 1024
    ),
]


def _day(value: object) -> object:
    # A day is written YYYY-MM-DD, and read only so: one day, one set of bytes.
    if isinstance(value, str) and not re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
        raise ValueError("a day is YYYY-MM-DD")
    if not isinstance(value, str | date) or isinstance(value, datetime):
        raise ValueError("a day is YYYY-MM-DD")  # noqa: TRY004 - pydantic wants ValueError
    return value


Day = Annotated[date, BeforeValidator(_day)]


class ReceivedItem(_Part):
    """One delivery a receipt covers: its decision and the digest of what arrived.

    On a delivery receipt, ``until`` is the retention end the delivery's
    obligations set, as the recipient acknowledged it (absent when they set none,
    and on receipts written before it existed: their bytes are kept).
    """

    decision_id: uuid.UUID
    #: SHA-256 of the delivery's message body (the compact JWE) as received.
    digest: HexHash
    until: Day | None = None

    @model_serializer(mode="wrap")
    def _without_none(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        data: dict[str, Any] = handler(self)
        if self.until is None:
            data.pop("until", None)
        return data


class ReceiptRecord(_Part):
    """What a recipient signed for: the deliveries it verified and kept, and when."""

    receipt_id: uuid.UUID
    signed_at: EntryTime
    items: Annotated[tuple[ReceivedItem, ...], Field(min_length=1, max_length=MAX_RECEIPT_ITEMS)]
    signed: CompactJws

    @field_validator("signed_at")
    @classmethod
    def _utc(cls, value: datetime) -> datetime:
        return _utc(value)

    @field_validator("items")
    @classmethod
    def _items(cls, value: tuple[ReceivedItem, ...]) -> tuple[ReceivedItem, ...]:
        if len({i.decision_id for i in value}) != len(value):
            raise ValueError("a delivery is receipted twice in one receipt")
        return tuple(sorted(value, key=lambda i: str(i.decision_id)))


class Criteria(_Part):
    """What a consultation asked besides the pseudonyms and ids the entry holds itself.

    A search: ``agency``, ``kind``, ``actor``, ``since``, ``until`` as asked. A subject
    access draft: ``up_to``, the ledger's size it was drafted from (the report
    covers the entries below it). A release: ``draft``, the draft's decision id.
    """

    agency: PartyId | None = None
    kind: Literal["disclosure", "refusal", "consultation", "release", "receipt"] | None = None
    actor: Label | None = None
    since: EntryTime | None = None
    until: EntryTime | None = None
    up_to: Annotated[int, Field(ge=0, lt=2**53)] | None = None
    draft: uuid.UUID | None = None

    @field_validator("since", "until")
    @classmethod
    def _in_utc(cls, value: datetime | None) -> datetime | None:
        return None if value is None else _utc(value)


class EntryDraft(BaseModel):
    """One decision as the pipeline hands it to the ledger, before it has a place.

    ``decision_id`` is unique across the ledger: appending a draft whose decision
    is already recorded returns the recorded entry and adds nothing.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    kind: EntryKind
    decision_id: uuid.UUID
    recorded_at: EntryTime
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
    format: Literal[1, 2] = FORMAT
    persons: Annotated[tuple[PersonInEvent, ...], Field(max_length=2 * MAX_PERSONS)] = ()
    grants: Annotated[tuple[GrantRecord, ...], Field(max_length=MAX_GRANTS)] = ()
    withheld: Annotated[tuple[WithheldGroup, ...], Field(max_length=8)] = ()
    content_digest: ContentDigest | None = None
    criteria: Criteria | None = None
    #: Only on a release entry (``kind: release``); absent from every other body.
    release: ReleaseRecord | None = None
    #: Only on a receipt entry (``kind: receipt``); absent from every other body.
    receipt: ReceiptRecord | None = None

    @field_validator("recorded_at")
    @classmethod
    def _utc(cls, value: datetime) -> datetime:
        return _utc(value)

    @field_validator("groups_disclosed", "groups_withheld", "person_pseudonyms")
    @classmethod
    def _sorted_unique(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        # Sets carry no order; one order keeps one decision one set of bytes.
        return _sorted_set(value)

    @field_validator("persons")
    @classmethod
    def _persons_sorted(cls, value: tuple[PersonInEvent, ...]) -> tuple[PersonInEvent, ...]:
        return tuple(sorted(set(value), key=lambda p: (p.pseudonym, p.role)))

    @field_validator("grants")
    @classmethod
    def _grants_sorted(cls, value: tuple[GrantRecord, ...]) -> tuple[GrantRecord, ...]:
        if len({g.reference for g in value}) != len(value):
            raise ValueError("a clause is granted twice")
        return tuple(sorted(value, key=lambda g: g.reference))

    @field_validator("withheld")
    @classmethod
    def _withheld_sorted(cls, value: tuple[WithheldGroup, ...]) -> tuple[WithheldGroup, ...]:
        if len({w.group for w in value}) != len(value):
            raise ValueError("a group is withheld twice")
        return tuple(sorted(value, key=lambda w: w.group))

    @model_validator(mode="after")
    def _justified(self) -> Self:
        # The checks deploy/audit/verify_ledger.py repeats (check_format_2).
        if (self.kind == "release") != (self.release is not None):
            raise ValueError("a release entry, and only one, holds what was released")
        if (self.kind == "receipt") != (self.receipt is not None):
            raise ValueError("a receipt entry, and only one, holds what was receipted")
        if self.kind == "receipt" and self.outcome not in RECEIPT_OUTCOMES:
            raise ValueError("a receipt entry is receipted or erased")
        if self.format == 1:
            if any(getattr(self, name) != _EMPTY[name] for name in _EMPTY):
                raise ValueError("a format 1 entry holds no format 2 field")
            return self
        if not {p.pseudonym for p in self.persons} <= set(self.person_pseudonyms):
            raise ValueError("a person with a role is missing from person_pseudonyms")
        if self.grants or self.outcome == "disclosed":
            _check_grants(self)
        if {w.group for w in self.withheld} != set(self.groups_withheld):
            raise ValueError("every withheld group has its reason, and only those")
        return self

    @model_serializer(mode="wrap")
    def _by_format(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        data: dict[str, Any] = handler(self)
        if self.format == 1:  # a format 1 body keeps its bytes
            for name in FORMAT_2_FIELDS:
                data.pop(name, None)
        if self.release is None:  # only a release holds the field
            data.pop("release", None)
        if self.receipt is None:  # only a receipt holds the field
            data.pop("receipt", None)
        return data

    @property
    def clauses(self) -> tuple[str, ...]:
        """Every clause the entry rests on, ``agreement@version#clause``.

        Format 2: from ``grants``. Format 1: ``clause`` split at ``;`` (past 240
        characters format 1 wrote ``primary;+N more``, and that is what is read).
        """
        if self.format == 1:
            return tuple(self.clause.split(";")) if self.clause else ()
        return tuple(g.reference for g in self.grants)

    def draft_fields(self) -> dict[str, object]:
        """The draft's fields as Python values (for building an entry from it)."""
        return {name: getattr(self, name) for name in EntryDraft.model_fields}

    def same_decision(self, other: EntryDraft) -> bool:
        """Whether ``other`` records the same decision, ignoring when it was recorded."""
        mine, theirs = self.draft_fields(), other.draft_fields()
        mine.pop("recorded_at")
        theirs.pop("recorded_at")
        return mine == theirs


_EMPTY: Final[dict[str, object]] = {
    "persons": (),
    "grants": (),
    "withheld": (),
    "content_digest": None,
    "criteria": None,
    "release": None,
    "receipt": None,
}


def _check_grants(entry: EntryDraft) -> None:
    """The grants of a format 2 disclosure account for its groups and its primary clause.

    Raises:
        ValueError: a disclosed group no grant holds, a grant of a group not
            disclosed, or top-level justification fields that are no grant's.
    """
    granted = {g for grant in entry.grants for g in grant.groups}
    if granted != set(entry.groups_disclosed):
        raise ValueError("the grants hold exactly the disclosed groups")
    primary = (
        entry.agreement_id,
        entry.agreement_version,
        entry.clause,
        entry.purpose,
        entry.lawful_basis,
    )
    if not any(
        primary == (g.agreement_id, g.agreement_version, g.reference, g.purpose, g.lawful_basis)
        for g in entry.grants
    ):
        raise ValueError("the primary clause is one of the grants")


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
