"""``hub tls``: a private CA and certificates for the broker, the console and agencies."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from hub.crypto import CA_DAYS, LEAF_DAYS, init_tls, issue_clients


def add_commands(subparsers: Any) -> None:
    """Add ``tls init`` and ``tls client`` to the ``hub`` command."""
    tls = subparsers.add_parser("tls", help="transport certificates (private CA)")
    commands = tls.add_subparsers(dest="tls", required=True)
    init = commands.add_parser("init", help="make a CA, a server and agency client certificates")
    init.add_argument("--out", required=True, type=Path, help="folder for the files")
    init.add_argument("--hosts", nargs="*", default=[], help="more server DNS names or IPs")
    init.add_argument(
        "--agencies", nargs="*", default=[], help="party ids to make client certs for"
    )
    init.add_argument("--days", type=_days, default=LEAF_DAYS, help="validity of the leaves")
    init.add_argument("--force", action="store_true", help="replace existing files")
    init.set_defaults(func=tls_init)
    client = commands.add_parser("client", help="issue agency client certificates from the CA")
    client.add_argument("--dir", required=True, type=Path, help="the folder of `tls init`")
    client.add_argument("agencies", nargs="+", help="party ids")
    client.add_argument("--days", type=_days, default=LEAF_DAYS)
    client.add_argument("--force", action="store_true", help="replace existing files")
    client.set_defaults(func=tls_client)


def _days(value: str) -> int:
    try:
        days = int(value)
    except ValueError:
        days = 0
    if not 1 <= days <= CA_DAYS:
        raise argparse.ArgumentTypeError(f"days are 1..{CA_DAYS}")
    return days


def _report(paths: list[Path]) -> int:
    for path in paths:
        kind = "key (mode 0600)" if path.suffix == ".key" else "certificate"
        print(f"{kind}: {path}")
    return 0


def tls_init(args: argparse.Namespace) -> int:
    """Make the CA and certificates of ``hub tls init``."""
    return _report(init_tls(args.out, args.hosts, args.agencies, days=args.days, force=args.force))


def tls_client(args: argparse.Namespace) -> int:
    """Issue client certificates from an existing CA (``hub tls client``)."""
    return _report(issue_clients(args.dir, args.agencies, days=args.days, force=args.force))
