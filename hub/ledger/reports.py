"""Subject access reports worked out from the ledger alone: role, rows, words (pure, no I/O).

Nobody picks the data subject's role. Each format 2 ledger entry records every
person's role in its event (``persons``, from the schemas' ``x-person-role``), and
:func:`derive_role` reads it: a person the ledger ever records as the subject of a
case is reported as the subject everywhere (the most protective reading: counter-
allegations happen, and someone who stalks must never learn where their victim is
because they are a victim elsewhere); otherwise a victim if ever one; otherwise
other. A row's rules are the report's role's, except that in a victim's or another
person's report each row follows that person's role in that row's event, and a row
of format 1 (which records no roles) follows the rules for ``other``, which leave
out the most.

What each role's report leaves out (DPA 2018 s.45(4)(e): access may be restricted
to protect the rights and freedoms of others), by :data:`RULES`:

- the subject: the victim's identity, location and needs (groups F, G, H), and any
  row from or to a victim-facing service (advocacy, or a party the registry does
  not know), whose very involvement can point to where the victim is;
- the victim: the subject's clinical detail (D, special category data about
  someone else), and any row from or to a service that works with the subject
  (perpetrator-facing, such as the clinic that treats them);
- anyone else: both of those.

A grant that granted only groups left out is left out with them (its clause's
name, "...-victim-needs", would say what it granted). A row left with no groups is
left out whole. The released rows carry no ledger position, entry hash, exact time
or anyone's pseudonym: rows are numbered 1..n and dated to the day (UTC), so gaps
in positions cannot point to a third recipient or a whole withheld event. The IG
officer's own copy keeps the ledger references in a separate annex.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final, Literal

from hub.policy import PartyKind
from schemas.agreements import Regime
from schemas.base import GROUP_TITLES, FieldGroup

if TYPE_CHECKING:
    from collections.abc import Iterable, Sequence

    from hub.ledger.entries import LedgerEntry
    from hub.policy import Policy
    from schemas.agreements import Agreement, Clause, LawfulBasis

ReportRole = Literal["victim", "subject", "other"]

#: The role of the data subject in words, for a reader who is not an IG officer.
ROLE_WORDS: Final[dict[str, str]] = {
    "subject": "the person the case is about (the person said to be stalking)",
    "victim": "the person being stalked",
    "other": "another person named in the case (for example someone an order protects)",
}
#: Said in every report, whatever was left out, so it reveals nothing itself.
REPORT_NOTE: Final = (
    "Information that could identify, locate or otherwise harm another person is not "
    "included in this report (Data Protection Act 2018 s.45(4)(e))."
)


@dataclass(frozen=True)
class Rules:
    """What one role's report leaves out."""

    groups: frozenset[str]
    victim_facing: bool
    perpetrator_facing: bool


RULES: Final[dict[ReportRole, Rules]] = {
    "subject": Rules(frozenset("FGH"), victim_facing=True, perpetrator_facing=False),
    "victim": Rules(frozenset("D"), victim_facing=False, perpetrator_facing=True),
    "other": Rules(frozenset("DFGH"), victim_facing=True, perpetrator_facing=True),
}


def derive_role(entries: Iterable[LedgerEntry], person: str) -> ReportRole:
    """The data subject's role, from what the ledger records (see the module's docstring)."""
    roles = {p.role for entry in entries for p in entry.persons if p.pseudonym == person}
    if "subject" in roles:
        return "subject"
    if "victim" in roles:
        return "victim"
    return "other"


def row_role(entry: LedgerEntry, person: str, role: ReportRole) -> ReportRole:
    """The rules one row follows in a report for ``person`` of role ``role``."""
    if role == "subject":
        return "subject"
    if any(p.pseudonym == person and p.role == "victim" for p in entry.persons):
        return "victim"
    return "other"


def _left_out(policy: Policy, party: str | None, rules: Rules) -> bool:
    """Whether a row from or to ``party`` is left out under ``rules`` (unknown: yes)."""
    if party is None:
        return False
    known = policy.rules.party(party)
    if known is None:
        return rules.victim_facing or rules.perpetrator_facing
    return (rules.victim_facing and known.kind is PartyKind.ADVOCACY) or (
        rules.perpetrator_facing and known.perpetrator_facing
    )


@dataclass(frozen=True)
class Basis:
    """One clause a kept row rests on: its reference, purpose and lawful basis (codes)."""

    reference: str
    agreement_id: str
    agreement_version: int
    purpose: str
    lawful_basis: str


@dataclass(frozen=True)
class Row:
    """One disclosure as a report shows it, before it is put into words.

    ``entry`` stays with the row for the IG officer's annex only; the released
    forms never read its position, hash or time.
    """

    entry: LedgerEntry
    disclosed: tuple[str, ...]
    withheld: tuple[str, ...]
    bases: tuple[Basis, ...]


@dataclass(frozen=True)
class Report:
    """A subject access report: the derived role, the rows kept, and how much was left out."""

    person: str
    role: ReportRole
    rows: tuple[Row, ...]
    rows_left_out: int
    groups_left_out: int


def _clause_groups(policy: Policy, reference: str) -> frozenset[str]:
    """The groups a clause (``agreement@version#clause``) grants; empty if unknown."""
    found = _clause(policy, reference)
    return frozenset(g.value for g in found[1].groups) if found else frozenset()


def _bases(entry: LedgerEntry, hidden: frozenset[str], policy: Policy) -> tuple[Basis, ...]:
    """The clauses a row rests on, without those that granted only groups left out."""
    if entry.format == 2:  # noqa: PLR2004 - the entry format
        return tuple(
            Basis(g.reference, g.agreement_id, g.agreement_version, g.purpose, g.lawful_basis)
            for g in entry.grants
            if set(g.groups) - hidden
        )
    # Format 1 recorded one purpose and basis, and clause references (perhaps cut).
    return tuple(
        Basis(
            reference,
            entry.agreement_id or "",
            entry.agreement_version or 1,
            entry.purpose or "",
            entry.lawful_basis or "",
        )
        for reference in entry.clauses
        if _clause_groups(policy, reference) - hidden
    )


def build_report(entries: Sequence[LedgerEntry], person: str, policy: Policy) -> Report:
    """The report for ``person`` (a pseudonym) from the disclosure entries about them (pure).

    Args:
        entries: every entry the ledger holds about the person, in ledger order.
        person: the data subject's pseudonym.
        policy: the party registry (kinds, names) and agreements (for words).
    """
    disclosures = [e for e in entries if e.kind == "disclosure" and e.outcome == "disclosed"]
    role = derive_role(disclosures, person)
    rows: list[Row] = []
    rows_out = groups_out = 0
    for entry in disclosures:
        rules = RULES[row_role(entry, person, role)]
        if _left_out(policy, entry.provider, rules) or _left_out(policy, entry.recipient, rules):
            rows_out += 1
            continue
        disclosed = tuple(g for g in entry.groups_disclosed if g not in rules.groups)
        withheld = tuple(g for g in entry.groups_withheld if g not in rules.groups)
        if not disclosed and not withheld:
            rows_out += 1
            continue
        groups_out += len(entry.groups_disclosed) + len(entry.groups_withheld)
        groups_out -= len(disclosed) + len(withheld)
        rows.append(Row(entry, disclosed, withheld, _bases(entry, rules.groups, policy)))
    return Report(person, role, tuple(rows), rows_out, groups_out)


# --- Words ------------------------------------------------------------------------------

_ARTICLE6: Final = {
    "6(1)(a)": "consent",
    "6(1)(b)": "a contract",
    "6(1)(c)": "a legal obligation",
    "6(1)(d)": "protecting someone's life (vital interests)",
    "6(1)(e)": "a task carried out in the public interest",
    "6(1)(f)": "legitimate interests",
}
_ARTICLE9: Final = {
    "9(2)(a)": "explicit consent",
    "9(2)(b)": "employment and social protection law",
    "9(2)(c)": "protecting someone's life (vital interests)",
    "9(2)(f)": "legal claims",
    "9(2)(g)": "substantial public interest",
    "9(2)(h)": "health or social care",
}
_SCHEDULE1: Final = {
    "para 2": "health or social care purposes",
    "para 6": "statutory and government purposes",
    "para 10": "preventing or detecting unlawful acts",
    "para 18": "safeguarding of children and of individuals at risk",
}
_SCHEDULE8: Final = {
    "para 1": "statutory purposes",
    "para 2": "the administration of justice",
    "para 3": "protecting someone's life (vital interests)",
    "para 4": "safeguarding of children and of individuals at risk",
}
_WORD: Final = re.compile(r"[A-Z][a-z0-9]*")


def basis_words(basis: LawfulBasis) -> str:
    """A lawful basis in words, citing the law it rests on."""
    if basis.regime is Regime.DPA2018_PART3:
        condition = _SCHEDULE8.get(basis.schedule8 or "", basis.schedule8 or "")
        return (
            "Data Protection Act 2018, Part 3 (law enforcement), section 35, with Schedule 8 "
            f"{basis.schedule8}: {condition}"
        )
    text = f"UK GDPR Article {basis.article6}: {_ARTICLE6.get(basis.article6 or '', '')}"
    if basis.article9 is not None:
        text += (
            f"; for sensitive information, Article {basis.article9}: "
            f"{_ARTICLE9.get(basis.article9, '')}, with Data Protection Act 2018 Schedule 1 "
            f"{basis.schedule1}: {_SCHEDULE1.get(basis.schedule1 or '', '')}"
        )
    return text


def event_words(event_type: str | None) -> str:
    """An event type in words: ``ReferralReceived`` -> ``Referral received``."""
    if not event_type:
        return "An update to the case"
    words = _WORD.findall(event_type) or [event_type]
    return " ".join([words[0], *(w.lower() for w in words[1:])])


def _agreement(policy: Policy, agreement_id: str, version: int) -> Agreement | None:
    return next(
        (a for a in policy.agreements if a.id == agreement_id and a.version == version), None
    )


def _clause(policy: Policy, reference: str) -> tuple[Agreement, Clause] | None:
    head, _, clause_id = reference.partition("#")
    agreement_id, _, version = head.partition("@")
    if not version.isdigit():
        return None
    agreement = _agreement(policy, agreement_id, int(version))
    if agreement is None:
        return None
    clause = next((c for c in agreement.clauses if c.id == clause_id), None)
    return None if clause is None else (agreement, clause)


def organisation(policy: Policy, party: str | None) -> str:
    """The name a party goes by in the registry; its id when the registry lacks it."""
    if party is None:
        return ""
    known = policy.rules.party(party)
    return known.name if known is not None else party


def reason_words(policy: Policy, basis: Basis) -> dict[str, str]:
    """Why a row's information was shared, in words: purpose, law, agreement."""
    found = _clause(policy, basis.reference)
    agreement = _agreement(policy, basis.agreement_id, basis.agreement_version)
    purposes = {p.id: p.description for p in agreement.purposes} if agreement else {}
    return {
        "purpose": purposes.get(basis.purpose, basis.purpose),
        "lawful_basis": basis_words(found[1].lawful_basis) if found else basis.lawful_basis,
        "agreement": (
            f"{agreement.title}, version {agreement.version}"
            if agreement
            else f"{basis.agreement_id}, version {basis.agreement_version}"
        ),
    }


def _titles(groups: tuple[str, ...]) -> list[str]:
    return [GROUP_TITLES[FieldGroup(g)] for g in groups]


def released_rows(report: Report, policy: Policy) -> list[dict[str, Any]]:
    """The rows a data subject is given: numbered, dated to the day, in words."""
    return [
        {
            "number": number,
            "date": row.entry.recorded_at.date().isoformat(),
            "event": event_words(row.entry.event_type),
            "from": organisation(policy, row.entry.provider),
            "to": organisation(policy, row.entry.recipient),
            "shared": _titles(row.disclosed),
            "not_shared": _titles(row.withheld),
            "reasons": [reason_words(policy, basis) for basis in row.bases],
        }
        for number, row in enumerate(report.rows, start=1)
    ]


def annex_rows(report: Report) -> list[dict[str, Any]]:
    """The IG officer's annex: each numbered row's place in the ledger, never released."""
    return [
        {
            "number": number,
            "position": row.entry.seq,
            "entry_hash": row.entry.entry_hash,
            "decision_id": str(row.entry.decision_id),
            "recorded_at": row.entry.model_dump(mode="json")["recorded_at"],
            "clauses": [basis.reference for basis in row.bases],
        }
        for number, row in enumerate(report.rows, start=1)
    ]
