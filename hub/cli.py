"""The ``hub`` command line: keys, schemas and the demo.

Every failure ends with one line ``error <code>: <detail>`` on stderr and a non-zero
exit status, never a traceback. Output names ids, parties and codes, never content.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

from hub.crypto.keys import (
    KeyDirectory,
    KeyFileError,
    add_keys,
    generate_party_keys,
)

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator, Sequence

EXIT_FAILED = 1
EXIT_USAGE = 2
PARTY_PATTERN = r"^[a-z][a-z0-9-]{1,31}$"


class CommandError(Exception):
    """A command failed for a reason the user can act on."""

    def __init__(self, code: str, detail: str) -> None:
        """Make an error with a stable ``code``."""
        super().__init__(f"{code}: {detail}")
        self.code = code
        self.detail = detail


def _party(value: str) -> str:
    import re  # noqa: PLC0415 - only the argument parser needs it

    if not re.match(PARTY_PATTERN, value):
        raise argparse.ArgumentTypeError("party ids are 2-32 of a-z, 0-9 and -, starting a-z")
    return value


def _time(value: str) -> datetime:
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise argparse.ArgumentTypeError("expected an ISO 8601 time") from None
    if moment.tzinfo is None:
        raise argparse.ArgumentTypeError("the time needs a zone, e.g. 2027-01-01T00:00:00Z")
    return moment


def keys_init(args: argparse.Namespace) -> int:
    """Create (or, with --add, rotate in) a party's signing and encryption keys."""
    out: Path = args.out
    private = out / f"{args.party}.private.jwks.json"
    if private.exists() and not args.add:
        raise CommandError("keys.exist", f"{private} exists; use --add to rotate in new keys")
    fresh = generate_party_keys(args.party, args.not_before, timedelta(days=args.valid_days))
    try:
        add_keys(out, fresh)
    except KeyFileError as error:
        raise CommandError("keys.unreadable", str(error)) from None
    for record in fresh.keys:
        print(
            f"{record.party} {record.use} {record.kid} {_span(record.not_before, record.not_after)}"
        )
    print(f"private keys: {private} (mode 0600); public JWK Set: {out / args.party}.jwks.json")
    return 0


def keys_ledger_key(args: argparse.Namespace) -> int:
    """Create the ledger's pseudonym key (HMAC), mode 0600; never overwrite one."""
    from hub.ledger.pseudonyms import generate_ledger_key  # noqa: PLC0415

    if args.out.exists():
        raise CommandError(
            "keys.exist", f"{args.out} exists; a new key would change every pseudonym"
        )
    generate_ledger_key(args.out)
    print(f"ledger pseudonym key: {args.out} (mode 0600); keep a backup: pseudonyms depend on it")
    return 0


def keys_list(args: argparse.Namespace) -> int:
    """List every party's public keys and whether each is valid at a time."""
    try:
        directory = KeyDirectory.load(args.dir)
    except KeyFileError as error:
        raise CommandError("keys.unreadable", str(error)) from None
    at = args.at or datetime.now(UTC)
    for party in sorted(directory.parties()):
        for use in ("sig", "enc"):
            valid = {r.kid for r in directory.valid_keys(party, use, at)}
            for record in directory.records(party, use):
                state = "valid" if record.kid in valid else "not valid"
                span = _span(record.not_before, record.not_after)
                print(f"{party} {use} {record.kid} {span} {state}")
    return 0


def _span(start: datetime, end: datetime) -> str:
    return f"{start.isoformat()}..{end.isoformat()}"


def schemas_export(args: argparse.Namespace) -> int:
    """Write the JSON Schema of every catalogued event type."""
    from schemas.export import export_all  # noqa: PLC0415 - keep `hub keys` fast

    for path in export_all(args.out):
        print(path)
    return 0


def schemas_check(args: argparse.Namespace) -> int:
    """Fail when the committed JSON Schemas differ from the models."""
    from schemas.export import stale_files  # noqa: PLC0415 - keep `hub keys` fast

    stale = stale_files(args.out)
    if stale:
        raise CommandError("schemas.stale", f"run `make schemas`; stale: {', '.join(stale)}")
    print("JSON Schemas are up to date")
    return 0


def agreements_check(args: argparse.Namespace) -> int:
    """Validate a folder of agreements, report rule conflicts and print the matrix."""
    from hub.policy.base import PolicyError  # noqa: PLC0415 - keep `hub keys` fast
    from hub.policy.check import conflicts, matrix, render_matrix  # noqa: PLC0415
    from hub.policy.load import load_policy  # noqa: PLC0415

    deploy = args.dir.resolve().parent
    try:
        policy = load_policy(
            args.dir, args.parties or deploy / "parties.toml", args.rules or deploy / "rules.toml"
        )
    except PolicyError as error:
        raise CommandError(error.code, f"{error.location}: {error.detail}") from None
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
        raise CommandError("policy.conflict", f"{len(found)} clause(s) conflict with safety rules")
    return 0


@contextlib.contextmanager
def service_errors() -> Iterator[None]:
    """Turn what stops a service from starting into one ``CommandError``.

    Settings, broker, ledger, policy and key failures, as ``hub run`` and
    ``hub console`` meet them, each with its stable code and a content-free detail.
    """
    from hub.broker.base import BrokerError  # noqa: PLC0415 - only services need these
    from hub.console.base import ConsoleError  # noqa: PLC0415
    from hub.ledger.base import LedgerError  # noqa: PLC0415
    from hub.policy.base import PolicyError  # noqa: PLC0415
    from hub.settings import SettingsError  # noqa: PLC0415

    try:
        yield
    except SettingsError as error:
        raise CommandError(error.code, f"{error.setting}: {error.problem}") from None
    except (BrokerError, LedgerError) as error:
        raise CommandError(error.code.value, error.detail) from None
    except PolicyError as error:
        raise CommandError(error.code, f"{error.location}: {error.detail}") from None
    except KeyFileError as error:
        raise CommandError("keys.unreadable", str(error)) from None
    except ConsoleError as error:
        raise CommandError(error.code, error.detail) from None


def run_worker(args: argparse.Namespace) -> int:
    """Run a hub worker with the settings in ``--config`` and the environment."""
    import asyncio  # noqa: PLC0415 - only the worker needs the event loop

    from hub.app import run  # noqa: PLC0415
    from hub.logs import configure  # noqa: PLC0415
    from hub.settings import load_settings  # noqa: PLC0415

    with service_errors():
        console = None
        if args.console_tokens is not None:
            from hub.console.cli import console_options  # noqa: PLC0415

            console = console_options(
                args.console_tokens, args.console_host, args.console_port, args.console_tls_dir
            )
        settings = load_settings(args.config)
        configure(settings.log_format, settings.log_level)
        return asyncio.run(run(settings, console))


def demo(args: argparse.Namespace) -> int:
    """Play a fictional case through the adapters and the hub, on memory or ``--broker``."""
    from rich.console import Console  # noqa: PLC0415 - only the demo draws on a terminal

    from hub.broker.base import BrokerError  # noqa: PLC0415
    from hub.demo import DemoError, run  # noqa: PLC0415 - the demo pulls in samples
    from hub.logs import configure  # noqa: PLC0415

    configure("console", "CRITICAL")  # the timeline is the output, refusals included
    try:
        return run(Console(), args.broker)
    except DemoError as error:
        raise CommandError(error.code, error.detail) from None
    except BrokerError as error:
        detail = f"{error.detail}; is RabbitMQ running there?"
        raise CommandError(error.code.value, detail) from None


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="hub", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)

    keys = commands.add_parser("keys", help="party keys").add_subparsers(dest="keys", required=True)
    init = keys.add_parser("init", help="create a party's signing and encryption keys")
    init.add_argument("--party", required=True, type=_party)
    init.add_argument("--out", required=True, type=Path, help="folder for the key files")
    init.add_argument("--valid-days", type=int, default=365)
    init.add_argument("--not-before", type=_time, default=None, help="default: now")
    init.add_argument("--add", action="store_true", help="add keys beside existing ones")
    init.set_defaults(func=keys_init)
    ledger_key = keys.add_parser("ledger-key", help="create the ledger's pseudonym key")
    ledger_key.add_argument("--out", required=True, type=Path)
    ledger_key.set_defaults(func=keys_ledger_key)
    listing = keys.add_parser("list", help="list public keys and their validity")
    listing.add_argument("dir", type=Path)
    listing.add_argument("--at", type=_time, default=None, help="default: now")
    listing.set_defaults(func=keys_list)

    schemas = commands.add_parser("schemas", help="event JSON Schemas")
    schema_commands = schemas.add_subparsers(dest="schemas", required=True)
    default_dir = Path(__file__).resolve().parent.parent / "schemas" / "json"
    for name, func in (("export", schemas_export), ("check", schemas_check)):
        sub = schema_commands.add_parser(name)
        sub.add_argument("--out", type=Path, default=default_dir)
        sub.set_defaults(func=func)

    agreements = commands.add_parser("agreements", help="information-sharing agreements")
    agreement_commands = agreements.add_subparsers(dest="agreements", required=True)
    check = agreement_commands.add_parser("check", help="validate agreements, print the matrix")
    check.add_argument("dir", type=Path, help="folder of agreement *.toml files")
    check.add_argument("--parties", type=Path, default=None, help="default: DIR/../parties.toml")
    check.add_argument("--rules", type=Path, default=None, help="default: DIR/../rules.toml")
    check.add_argument("--at", type=_time, default=None, help="date of the matrix; default: now")
    check.add_argument("--strict", action="store_true", help="fail on conflicts with safety rules")
    check.set_defaults(func=agreements_check)

    from hub.ledger.cli import add_audit_commands  # noqa: PLC0415 - the ledger pulls in drivers

    add_audit_commands(commands)
    from hub.broker.definitions import add_broker_commands  # noqa: PLC0415
    from hub.console.cli import add_console_commands, add_serving_options  # noqa: PLC0415
    from hub.crypto.tls import add_tls_commands  # noqa: PLC0415

    add_broker_commands(commands)
    add_tls_commands(commands)
    add_console_commands(commands)
    worker = commands.add_parser("run", help="run a hub worker")
    worker.add_argument("--config", type=Path, default=None, help="settings file (TOML)")
    worker.add_argument(
        "--console-tokens",
        type=Path,
        default=None,
        help="serve the console too, with this token file (mode 0600)",
    )
    add_serving_options(worker, "console-")
    worker.set_defaults(func=run_worker)
    play = commands.add_parser("demo", help="play a fictional case through the hub")
    play.add_argument(
        "--broker",
        metavar="URL",
        default=os.environ.get("HUB_DEMO_BROKER") or None,
        help="run on this RabbitMQ (amqp://user:password@host:port/vhost), not in memory;"
        " default $HUB_DEMO_BROKER",
    )
    play.set_defaults(func=demo)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the exit status."""
    args = _parser().parse_args(argv)
    func: Callable[[argparse.Namespace], int] = args.func
    try:
        return func(args)
    except CommandError as error:
        print(f"error {error.code}: {error.detail}", file=sys.stderr)
        return EXIT_FAILED
    except OSError as error:
        print(f"error io.failed: {error.strerror or type(error).__name__}", file=sys.stderr)
        return EXIT_FAILED


if __name__ == "__main__":
    sys.exit(main())
