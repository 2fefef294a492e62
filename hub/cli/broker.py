"""``hub broker definitions``: RabbitMQ's users, permissions and topology as one document."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from hub.broker import DEFAULT_VHOST, DOCUMENT, PARTIES_FILE, ROOT, read_parties, render_definitions
from hub.errors import HubError

if TYPE_CHECKING:
    import argparse


def add_commands(subparsers: Any) -> None:
    """Add ``broker definitions`` to the ``hub`` command."""
    broker = subparsers.add_parser("broker", help="RabbitMQ set-up")
    commands = broker.add_subparsers(dest="broker", required=True)
    definitions = commands.add_parser(
        "definitions", help="print the RabbitMQ definitions (users, permissions, topology)"
    )
    definitions.add_argument("--parties", type=Path, default=ROOT / PARTIES_FILE)
    definitions.add_argument("--vhost", default=DEFAULT_VHOST)
    mode = definitions.add_mutually_exclusive_group()
    mode.add_argument("--write", action="store_true", help=f"write {DOCUMENT}")
    mode.add_argument("--check", action="store_true", help=f"fail when {DOCUMENT} is stale")
    definitions.set_defaults(func=broker_definitions)


def broker_definitions(args: argparse.Namespace) -> int:
    """Print, write or check the definitions of ``--parties`` in ``--vhost``."""
    text = render_definitions(read_parties(args.parties), args.vhost)
    path = ROOT / DOCUMENT
    if args.check:
        if not path.is_file() or path.read_text(encoding="utf-8") != text:
            raise HubError("definitions.stale", "run `hub broker definitions --write`")
        print(f"{DOCUMENT} is up to date")
    elif args.write:
        path.write_text(text, encoding="utf-8", newline="\n")
        print(path)
    else:
        sys.stdout.write(text)
    return 0
