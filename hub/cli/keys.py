"""``hub keys``: party keys and the ledger's pseudonym key."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from hub.broker import PARTIES_FILE, ROOT, read_parties
from hub.cli.args import moment, party
from hub.crypto import KeyDirectory, KeyRecord, add_keys, generate_party_keys
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
    init.add_argument(
        "--parties",
        type=Path,
        default=ROOT / PARTIES_FILE,
        help="the deployment's parties file; a new party must be in it (default: %(default)s)",
    )
    init.set_defaults(func=keys_init)
    ledger_key = keys.add_parser("ledger-key", help="create the ledger's pseudonym key")
    ledger_key.add_argument("--out", required=True, type=Path)
    ledger_key.set_defaults(func=keys_ledger_key)
    linkage_key = keys.add_parser(
        "linkage-key", help="create the evaluation's linkage key (once, shared by every area hub)"
    )
    linkage_key.add_argument("--out", required=True, type=Path)
    linkage_key.set_defaults(func=keys_linkage_key)
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
    if not args.add and args.party not in read_parties(args.parties):
        raise HubError(
            "keys.unknown_party",
            f"{args.party} is not a party of {args.parties}; add it there first,"
            " or name the deployment's parties file with --parties",
        )
    if args.valid_days < 1:
        raise HubError("keys.expired", "--valid-days must be at least 1")
    fresh = generate_party_keys(args.party, args.not_before, timedelta(days=args.valid_days))
    ends = min(record.not_after for record in fresh.keys)
    if ends <= datetime.now(UTC):
        raise HubError(
            "keys.expired",
            f"keys from --not-before for {args.valid_days} days would have expired on"
            f" {ends.date().isoformat()}; give a later --not-before or more --valid-days",
        )
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


def keys_linkage_key(args: argparse.Namespace) -> int:
    """Create the evaluation's linkage key (HMAC), mode 0600; never overwrite one."""
    if args.out.exists():
        raise HubError("keys.exist", f"{args.out} exists; a new key would unlink every area")
    generate_ledger_key(args.out)
    print(
        f"evaluation linkage key: {args.out} (mode 0600); give a copy to every area hub and"
        " to no one else (ADR 0022)"
    )
    return 0


def keys_list(args: argparse.Namespace) -> int:
    """List every party's public keys and whether each is valid at a time."""
    if not args.dir.is_dir():
        raise HubError("keys.unreadable", f"{args.dir} is not a folder of JWK Sets")
    directory = KeyDirectory.load(args.dir)
    if not directory.parties():
        raise HubError("keys.none", f"no <party>.jwks.json in {args.dir}")
    at = args.at or datetime.now(UTC)
    for name in sorted(directory.parties()):
        for use in ("sig", "enc"):
            for record in directory.records(name, use):
                span = _span(record.not_before, record.not_after)
                print(f"{name} {use} {record.kid} {span} {_state(record, at)}")
    return 0


def _state(record: KeyRecord, at: datetime) -> str:
    if at < record.not_before:
        return "not yet valid"
    if at >= record.not_after:
        return "expired"
    return "valid"


def _span(start: datetime, end: datetime) -> str:
    return f"{start.isoformat()}..{end.isoformat()}"
