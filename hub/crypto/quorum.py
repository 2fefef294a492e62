"""Witness policies in the C2SP ``tlog-policy`` format: who witnesses, and how many must.

A policy file names the log (``log <vkey> [<url>]``), its witnesses (``witness
<name> <vkey> [<url>]``), groups of them (``group <name> all|any|<k> <member>...``)
and the quorum (``quorum <name>``, or ``quorum none``). A checkpoint is witnessed
when the witnesses whose cosignatures verified satisfy the quorum: a witness by
cosigning, a group when at least ``k`` of its members are satisfied.

    log hub.exampleshire.example/ledger/4e1c...+a1b2c3d4+AUg...
    witness police hub-witness.police.example+0badc0de+BDw... http://127.0.0.1:7380
    witness probation hub-witness.probation.example+5eed5eed+BCk... http://127.0.0.1:7381
    witness health hub-witness.health.example+f00df00d+Bg1... http://127.0.0.1:7382
    group partners 2 police probation health
    quorum partners

The hub reads it to know whom to ask (ADR 0026); ``hub audit verify`` and
``deploy/audit/verify_ledger.py`` read it to know whose cosignatures count.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Final

from hub.crypto.note import ED25519, NoteError, NoteVerifier

if TYPE_CHECKING:
    from collections.abc import Collection

#: The policy's limits (the spec asks for at least 32 of each).
MAX_NAMES: Final = 64
_URL: Final = re.compile(r"^https?://[^\s]+$")
_NAME: Final = re.compile(r"^[^\s]+$")


class PolicyError(NoteError):
    """A witness policy that does not parse; code ``policy.invalid`` with the line number."""

    def __init__(self, number: int, problem: str) -> None:
        """Name the line (0: the file as a whole) and what is wrong with it."""
        super().__init__("policy.invalid", f"line {number}: {problem}")


@dataclass(frozen=True)
class Witness:
    """A witness: its name in the policy, its cosigner key and where it listens."""

    name: str
    verifier: NoteVerifier
    url: str | None = None


@dataclass(frozen=True)
class Group:
    """At least ``threshold`` of ``members`` (witness or group names) must be satisfied."""

    name: str
    threshold: int
    members: tuple[str, ...]


@dataclass(frozen=True)
class WitnessPolicy:
    """A parsed policy: logs, witnesses, groups and the quorum's name (None: ``none``)."""

    logs: tuple[NoteVerifier, ...] = ()
    witnesses: tuple[Witness, ...] = ()
    groups: tuple[Group, ...] = ()
    quorum: str | None = None
    _groups: dict[str, Group] = field(default_factory=dict, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        """Index the groups by name."""
        self._groups.update((g.name, g) for g in self.groups)

    @property
    def verifiers(self) -> tuple[NoteVerifier, ...]:
        """Every witness's cosigner key."""
        return tuple(w.verifier for w in self.witnesses)

    def satisfied(self, signed_by: Collection[NoteVerifier]) -> bool:
        """Whether the witnesses behind ``signed_by`` (verified cosigners) meet the quorum."""
        if self.quorum is None:
            return True
        cosigned = {w.name for w in self.witnesses if w.verifier in signed_by}
        return self._meets(self.quorum, cosigned)

    def cosigners(self, signed_by: Collection[NoteVerifier]) -> list[str]:
        """The policy names of the witnesses behind ``signed_by``, in policy order."""
        return [w.name for w in self.witnesses if w.verifier in signed_by]

    def _meets(self, name: str, cosigned: set[str]) -> bool:
        group = self._groups.get(name)
        if group is None:
            return name in cosigned
        met = sum(self._meets(member, cosigned) for member in group.members)
        return met >= group.threshold

    @classmethod
    def parse(cls, text: str) -> WitnessPolicy:
        """Read a policy file's text.

        Raises:
            PolicyError: ``policy.invalid`` naming the first line that is not a
                policy line: an unknown keyword, a bad key, a name used twice or
                before it is defined, a threshold out of range, no quorum or two.
        """
        reader = _Reader()
        for number, raw in enumerate(text.split("\n"), start=1):
            line = raw.strip(" \t")
            if line and not line.startswith("#"):
                reader.read(number, line.split())
        if not reader.has_quorum:
            raise PolicyError(0, "a policy has exactly one quorum line")
        return cls(tuple(reader.logs), tuple(reader.witnesses), tuple(reader.groups), reader.quorum)


@dataclass
class _Reader:
    """The state of a policy read line by line."""

    logs: list[NoteVerifier] = field(default_factory=list)
    witnesses: list[Witness] = field(default_factory=list)
    groups: list[Group] = field(default_factory=list)
    names: set[str] = field(default_factory=set)
    keys: set[bytes] = field(default_factory=set)
    quorum: str | None = None
    has_quorum: bool = False

    def read(self, number: int, words: list[str]) -> None:
        keyword, arguments = words[0], words[1:]
        if keyword == "log" and len(arguments) in (1, 2):
            self.logs.append(self._key(number, arguments, ED25519))
        elif keyword == "witness" and len(arguments) in (2, 3):
            name = self._new_name(number, arguments[0])
            verifier = self._key(number, arguments[1:], None)
            self.witnesses.append(Witness(name, verifier, _url(number, arguments[2:])))
        elif keyword == "group" and len(arguments) >= 3:  # noqa: PLR2004 - name, k, a member
            self.groups.append(self._group(number, arguments))
        elif keyword == "quorum" and len(arguments) == 1:
            if self.has_quorum:
                raise PolicyError(number, "a second quorum line")
            name = arguments[0]
            if name != "none" and name not in self.names:
                raise PolicyError(number, "the quorum names nothing defined before it")
            self.quorum, self.has_quorum = None if name == "none" else name, True
        else:
            raise PolicyError(number, "not a log, witness, group or quorum line")
        if len(self.names) + len(self.logs) > MAX_NAMES:
            raise PolicyError(number, f"more than {MAX_NAMES} names")

    def _new_name(self, number: int, name: str) -> str:
        if name in self.names or name == "none" or not _NAME.fullmatch(name):
            raise PolicyError(number, "a name defined twice, or the reserved name none")
        self.names.add(name)
        return name

    def _key(self, number: int, arguments: list[str], kind: int | None) -> NoteVerifier:
        try:
            verifier = NoteVerifier.parse(arguments[0])
        except NoteError:
            raise PolicyError(number, "not a verifier key") from None
        if (kind is not None and verifier.kind != kind) or (
            kind is None and verifier.kind == ED25519
        ):
            raise PolicyError(number, "a key of the wrong type for a log or a witness")
        if verifier.public in self.keys:
            raise PolicyError(number, "a key listed twice")
        self.keys.add(verifier.public)
        _url(number, arguments[1:])
        return verifier

    def _group(self, number: int, arguments: list[str]) -> Group:
        name, rule, members = arguments[0], arguments[1], tuple(arguments[2:])
        if len(set(members)) != len(members) or not all(m in self.names for m in members):
            raise PolicyError(number, "a group lists a name twice or one not defined before it")
        if rule == "all":
            threshold = len(members)
        elif rule == "any":
            threshold = 1
        elif rule.isdigit() and rule == str(int(rule)) and 1 <= int(rule) <= len(members):
            threshold = int(rule)
        else:
            raise PolicyError(number, "a group's threshold is all, any, or 1 to its size")
        return Group(self._new_name(number, name), threshold, members)


def _url(number: int, rest: list[str]) -> str | None:
    if not rest:
        return None
    if not _URL.fullmatch(rest[0]):
        raise PolicyError(number, "a URL that is not http or https")
    return rest[0]
