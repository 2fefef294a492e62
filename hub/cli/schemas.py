"""``hub schemas`` and ``hub agreements``: the event catalogue and the sharing agreements."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from hub.cli.args import moment
from hub.errors import HubError
from hub.policy import conflicts, load_policy, matrix, render_matrix
from schemas.export import export_all, export_examples, stale_examples, stale_files

if TYPE_CHECKING:
    import argparse

SCHEMAS_DIR = Path(__file__).resolve().parents[2] / "schemas" / "json"
EXAMPLES_DIR = SCHEMAS_DIR.parent / "examples"


def add_commands(subparsers: Any) -> None:
    """Add ``schemas export|check`` and ``agreements check`` to the ``hub`` command."""
    schemas = subparsers.add_parser("schemas", help="event JSON Schemas")
    schema_commands = schemas.add_subparsers(dest="schemas", required=True)
    for name, func in (("export", schemas_export), ("check", schemas_check)):
        sub = schema_commands.add_parser(name)
        sub.add_argument("--out", type=Path, default=SCHEMAS_DIR)
        sub.add_argument("--examples", type=Path, default=EXAMPLES_DIR)
        sub.set_defaults(func=func)

    agreements = subparsers.add_parser("agreements", help="information-sharing agreements")
    agreement_commands = agreements.add_subparsers(dest="agreements", required=True)
    check = agreement_commands.add_parser("check", help="validate agreements, print the matrix")
    check.add_argument("dir", type=Path, help="folder of agreement *.toml files")
    check.add_argument("--parties", type=Path, default=None, help="default: DIR/../parties.toml")
    check.add_argument("--rules", type=Path, default=None, help="default: DIR/../rules.toml")
    check.add_argument("--at", type=moment, default=None, help="date of the matrix; default: now")
    check.add_argument("--strict", action="store_true", help="fail on conflicts with safety rules")
    check.set_defaults(func=agreements_check)


def schemas_export(args: argparse.Namespace) -> int:
    """Write the JSON Schema of every catalogued event type."""
    for path in [*export_all(args.out), *export_examples(args.examples)]:
        print(path)
    return 0


def schemas_check(args: argparse.Namespace) -> int:
    """Fail when the committed JSON Schemas differ from the models."""
    stale = stale_files(args.out) + stale_examples(args.examples)
    if stale:
        raise HubError("schemas.stale", f"run `make schemas`; stale: {', '.join(stale)}")
    print("JSON Schemas and examples are up to date")
    return 0


def agreements_check(args: argparse.Namespace) -> int:
    """Validate a folder of agreements, report rule conflicts and print the matrix."""
    deploy = args.dir.resolve().parent
    policy = load_policy(
        args.dir, args.parties or deploy / "parties.toml", args.rules or deploy / "rules.toml"
    )
    at = args.at or datetime.now(UTC)
    print(f"who sees what on {at.date().isoformat()} (safety rules applied; - = nothing):")
    for line in render_matrix(matrix(policy, at)):
        print(line)
    found = conflicts(policy)
    for conflict in found:
        print(f"conflict: {conflict.describe()}")
    clauses = sum(len(a.clauses) for a in policy.agreements)
    print(
        f"{len(policy.agreements)} agreement(s), {clauses} clauses, "
        f"{len(policy.rules.rules)} safety rules, {len(found)} conflict(s); "
        f"policy hash {policy.hash[:16]}"
    )
    if found and args.strict:
        raise HubError("policy.conflict", f"{len(found)} clause(s) conflict with safety rules")
    return 0
