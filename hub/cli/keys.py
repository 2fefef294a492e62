"""``hub keys``: party keys and the ledger's pseudonym key."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from hub.cli.args import moment, party
from hub.crypto import KeyDirectory, add_keys, generate_party_keys
from hub.errors import HubError
from hub.ledger import generate_ledger_key

if TYPE_CHECKING:
    import argparse


def add_commands(subparsers: Any) -> None:
    """Add ``keys init|ledger-key|list`` to the ``hub`` command's subparsers."""
    keys = subparsers.add_parser("keys", help="party keys").add_subparsers(
        dest="keys", required=True
    )
    init = keys.add_parser("init", help="create a party's signing and encryption keys")
    init.add_argument("--party", required=True, type=party)
    init.add_argument("--out", required=True, type=Path, help="folder for the key files")
    init.add_argument("--valid-days", type=int, default=365)
    init.add_argument("--not-before", type=moment, default=None, help="default: now")
    init.add_argument("--add", action="store_true", help="add keys beside existing ones")
    init.set_defaults(func=keys_init)
    ledger_key = keys.add_parser("ledger-key", help="create the ledger's pseudonym key")
    ledger_key.add_argument("--out", required=True, type=Path)
    ledger_key.set_defaults(func=keys_ledger_key)
    listing = keys.add_parser("list", help="list public keys and their validity")
    listing.add_argument("dir", type=Path)
    listing.add_argument("--at", type=moment, default=None, help="default: now")
    listing.set_defaults(func=keys_list)


def keys_init(args: argparse.Namespace) -> int:
    """Create (or, with --add, rotate in) a party's signing and encryption keys."""
    out: Path = args.out
    private = out / f"{args.party}.private.jwks.json"
    if private.exists() and not args.add:
        raise HubError("keys.exist", f"{private} exists; use --add to rotate in new keys")
    fresh = generate_party_keys(args.party, args.not_before, timedelta(days=args.valid_days))
    add_keys(out, fresh)
    for record in fresh.keys:
        print(
            f"{record.party} {record.use} {record.kid} {_span(record.not_before, record.not_after)}"
        )
    print(f"private keys: {private} (mode 0600); public JWK Set: {out / args.party}.jwks.json")
    return 0


def keys_ledger_key(args: argparse.Namespace) -> int:
    """Create the ledger's pseudonym key (HMAC), mode 0600; never overwrite one."""
    if args.out.exists():
        raise HubError("keys.exist", f"{args.out} exists; a new key would change every pseudonym")
    generate_ledger_key(args.out)
    print(f"ledger pseudonym key: {args.out} (mode 0600); keep a backup: pseudonyms depend on it")
    return 0


def keys_list(args: argparse.Namespace) -> int:
    """List every party's public keys and whether each is valid at a time."""
    directory = KeyDirectory.load(args.dir)
    at = args.at or datetime.now(UTC)
    for name in sorted(directory.parties()):
        for use in ("sig", "enc"):
            valid = {r.kid for r in directory.valid_keys(name, use, at)}
            for record in directory.records(name, use):
                state = "valid" if record.kid in valid else "not valid"
                span = _span(record.not_before, record.not_after)
                print(f"{name} {use} {record.kid} {span} {state}")
    return 0


def _span(start: datetime, end: datetime) -> str:
    return f"{start.isoformat()}..{end.isoformat()}"
