"""Reading agreements, parties and safety rules from TOML, with errors that say where.

Every problem is a :class:`PolicyError` naming the file, the clause (by id) and the
field, so an information-governance officer can fix the document without reading
Python. The policy hash pins exactly which documents a decision was made under.
"""

from __future__ import annotations

import hashlib
import json
import tomllib
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

import rfc8785
from pydantic import BaseModel, ValidationError

from hub.policy.base import PolicyError
from hub.policy.rules import PartyKind, SafetyRules
from schemas.agreements import Agreement, ClauseForm
from schemas.registry import event_types

if TYPE_CHECKING:
    from pathlib import Path

M = TypeVar("M", bound=BaseModel)
INVALID = "policy.invalid"
UNREADABLE = "policy.unreadable"


@dataclass(frozen=True)
class Policy:
    """Everything a decision depends on, and its hash."""

    agreements: tuple[Agreement, ...]
    rules: SafetyRules
    sources: dict[str, str]  # agreement reference -> file name
    hash: str


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as handle:
            return tomllib.load(handle)
    except OSError as error:
        raise PolicyError(UNREADABLE, str(path), error.strerror or "cannot read") from None
    except UnicodeDecodeError as error:
        raise PolicyError(INVALID, str(path), f"not UTF-8 (byte {error.start})") from None
    except tomllib.TOMLDecodeError as error:
        raise PolicyError(INVALID, str(path), f"not TOML: {error}") from None


def _where(data: dict[str, Any], loc: tuple[int | str, ...]) -> str:
    parts = [str(p) for p in loc]
    if len(loc) >= 2 and loc[0] == "clauses" and isinstance(loc[1], int):  # noqa: PLR2004
        clauses = data.get("clauses", [])
        if loc[1] < len(clauses) and isinstance(clauses[loc[1]], dict):
            parts[1] = f"[{clauses[loc[1]].get('id', loc[1])}]"
    return ".".join(parts).replace(".[", "[") or "(document)"


def _validate(model: type[M], data: dict[str, Any], name: str) -> M:
    try:
        # Through JSON: strict models accept ISO dates and enum values only in JSON mode.
        return model.model_validate_json(json.dumps(data, default=str))
    except ValidationError as error:
        first = error.errors()[0]
        where, detail = _where(data, tuple(first["loc"])), first["msg"]
        # Cross-field checks raise "field path: what is wrong"; lift the path out.
        detail = detail.removeprefix("Value error, ")
        if ": " in detail and where.startswith(("(document)", "clauses[")):
            lifted, detail = detail.split(": ", 1)
            where = lifted if where == "(document)" else where
        raise PolicyError(INVALID, f"{name}: {where}", detail) from None


def _check_event_types(agreement: Agreement, name: str) -> None:
    known = set(event_types())
    for clause in agreement.clauses:
        unknown = set(clause.event_types) - known - {"*"}
        if unknown:
            where = f"{name}: clauses[{clause.id}].event_types"
            raise PolicyError(INVALID, where, f"unknown event types {sorted(unknown)}")


def load_agreements(directory: Path) -> tuple[tuple[Agreement, ...], dict[str, str]]:
    """Load and validate every ``*.toml`` agreement in ``directory``.

    Returns:
        The agreements in file-name order, and agreement reference -> file name.

    Raises:
        PolicyError: a file is unreadable or invalid, or two files hold one version.
    """
    if not directory.is_dir():
        problem = (
            "a file: give the folder of the agreements"
            if directory.exists()
            else ("no such folder")
        )
        raise PolicyError(UNREADABLE, str(directory), problem)
    paths = sorted(directory.glob("*.toml"))
    if not paths:
        raise PolicyError(UNREADABLE, str(directory), "no *.toml agreements found")
    agreements: list[Agreement] = []
    sources: dict[str, str] = {}
    for path in paths:
        agreement = _validate(Agreement, _read_toml(path), path.name)
        _check_event_types(agreement, path.name)
        if agreement.reference in sources:
            raise PolicyError(
                INVALID, path.name, f"{agreement.reference} also in {sources[agreement.reference]}"
            )
        sources[agreement.reference] = path.name
        agreements.append(agreement)
    return tuple(agreements), sources


def load_rules(parties_file: Path, rules_file: Path) -> SafetyRules:
    """Load the party registry and the safety rules into one value."""
    data = {
        "parties": _read_toml(parties_file).get("party", []),
        "rules": _read_toml(rules_file).get("rule", []),
    }
    return _validate(SafetyRules, data, f"{parties_file.name} + {rules_file.name}")


def _check_parties(
    agreements: tuple[Agreement, ...], rules: SafetyRules, sources: dict[str, str]
) -> None:
    known = {p.id: p for p in rules.parties}
    for agreement in agreements:
        for party in agreement.parties:
            if party.party not in known:
                where = f"{sources[agreement.reference]}: parties"
                raise PolicyError(INVALID, where, f"party {party.party} is not in the deployment")
        for clause in agreement.clauses:
            evaluator = known[clause.recipient].kind is PartyKind.EVALUATOR
            if (clause.form is ClauseForm.EVALUATION_RECORD) != evaluator:
                where = f"{sources[agreement.reference]}: clauses[{clause.id}]"
                problem = (
                    "an evaluator receives evaluation records only (form = evaluation_record)"
                    if evaluator
                    else "only a party of kind evaluator receives evaluation records"
                )
                raise PolicyError(INVALID, where, problem)


def policy_hash(agreements: tuple[Agreement, ...], rules: SafetyRules) -> str:
    """SHA-256 over the RFC 8785 canonical JSON of every agreement and the rules."""
    document: dict[str, Any] = {
        "agreements": [a.model_dump(mode="json") for a in agreements],
        "rules": rules.model_dump(mode="json"),
    }
    return hashlib.sha256(rfc8785.dumps(document)).hexdigest()


def load_policy(agreements_dir: Path, parties_file: Path, rules_file: Path) -> Policy:
    """Load agreements, parties and rules, cross-check them and hash them."""
    agreements, sources = load_agreements(agreements_dir)
    rules = load_rules(parties_file, rules_file)
    _check_parties(agreements, rules, sources)
    return Policy(agreements, rules, sources, policy_hash(agreements, rules))
