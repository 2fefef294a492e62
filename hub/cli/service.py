"""``hub run``, ``hub console`` and ``hub tokens``: the services and the console's tokens.

A token is printed once, at creation; the file keeps its hash only. ``list``
shows names, roles and creation times, never hashes.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from hub.app import run
from hub.console import (
    DEFAULT_PORT,
    LOOPBACK,
    ConsoleOptions,
    Role,
    TokenFile,
    TokenStore,
    check_transport,
    serve_console,
    tls_context,
)
from hub.errors import HubError
from hub.logs import configure
from hub.settings import load_settings

if TYPE_CHECKING:
    import argparse


def add_commands(subparsers: Any) -> None:
    """Add ``run``, ``console`` and ``tokens create|list|revoke`` to the ``hub`` command."""
    worker = subparsers.add_parser("run", help="run a hub worker")
    worker.add_argument("--config", type=Path, default=None, help="settings file (TOML)")
    worker.add_argument(
        "--console-tokens",
        type=Path,
        default=None,
        help="serve the console too, with this token file (mode 0600)",
    )
    _serving_options(worker, "console-")
    worker.set_defaults(func=run_worker)

    console = subparsers.add_parser("console", help="serve the operations console")
    console.add_argument("--config", type=Path, default=None, help="settings file (TOML)")
    console.add_argument("--tokens", required=True, type=Path, help="token file (mode 0600)")
    _serving_options(console, "")
    console.set_defaults(func=console_serve)

    tokens = subparsers.add_parser("tokens", help="console bearer tokens")
    commands = tokens.add_subparsers(dest="tokens", required=True)
    create = commands.add_parser("create", help="make a token; it is printed once")
    create.add_argument("--role", required=True, choices=[r.value for r in Role])
    create.add_argument("--name", required=True, help="who or what holds it (an id)")
    create.set_defaults(func=tokens_create)
    listing = commands.add_parser("list", help="names, roles and creation times")
    listing.set_defaults(func=tokens_list)
    revoke = commands.add_parser("revoke", help="remove a token")
    revoke.add_argument("--name", required=True)
    revoke.set_defaults(func=tokens_revoke)
    for sub in (create, listing, revoke):
        sub.add_argument("--file", required=True, type=Path, help="token file (mode 0600)")


def _serving_options(parser: argparse.ArgumentParser, prefix: str) -> None:
    """Add ``--{prefix}host``, ``--{prefix}port`` and ``--{prefix}tls-dir`` to ``parser``."""
    parser.add_argument(f"--{prefix}host", default=LOOPBACK, help="plain HTTP: loopback only")
    parser.add_argument(f"--{prefix}port", type=int, default=DEFAULT_PORT)
    parser.add_argument(
        f"--{prefix}tls-dir",
        type=Path,
        default=None,
        help="folder of `hub tls init` (server.pem/.key); serves HTTPS",
    )


def console_options(tokens: Path, host: str, port: int, tls_dir: Path | None) -> ConsoleOptions:
    """The serving options of the command line, checked.

    Raises:
        ConsoleError: ``console.tls_required``, ``tls.*`` for unusable TLS files.
    """
    options = ConsoleOptions(TokenFile(tokens), host, port, tls_context(tls_dir))
    check_transport(host, options.tls)
    return options


def run_worker(args: argparse.Namespace) -> int:
    """Run a hub worker with the settings in ``--config`` and the environment."""
    console = None
    if args.console_tokens is not None:
        console = console_options(
            args.console_tokens, args.console_host, args.console_port, args.console_tls_dir
        )
    settings = load_settings(args.config)
    configure(settings.log_format, settings.log_level)
    return asyncio.run(run(settings, console))


def console_serve(args: argparse.Namespace) -> int:
    """Serve the console with the settings of ``--config`` and the environment."""
    options = console_options(args.tokens, args.host, args.port, args.tls_dir)
    settings = load_settings(args.config)
    configure(settings.log_format, settings.log_level)
    return asyncio.run(serve_console(settings, options))


def tokens_create(args: argparse.Namespace) -> int:
    """Make a token, store its hash, print the token once."""
    store, token = TokenStore.load(args.file).create(args.name, Role(args.role), datetime.now(UTC))
    store.save(args.file)
    print(token)  # the one time the token is shown
    print(f"# {args.name} ({args.role}); shown once, stored as a hash in {args.file}")
    return 0


def _existing(path: Path) -> TokenStore:
    """The tokens of ``path``, which must exist (only ``create`` starts a file)."""
    if not path.is_file():
        raise HubError(
            "tokens.unreadable",
            f"{path} does not exist; `hub tokens create --file {path}` makes it",
        )
    return TokenStore.load(path)


def tokens_list(args: argparse.Namespace) -> int:
    """Print each token's name, role and creation time."""
    for record in _existing(args.file).records:
        print(f"{record.name} {record.role.value} {record.created.isoformat()}")
    return 0


def tokens_revoke(args: argparse.Namespace) -> int:
    """Remove the token ``--name``."""
    store = _existing(args.file).revoke(args.name)
    store.save(args.file)
    print(f"revoked {args.name}")
    return 0
