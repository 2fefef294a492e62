"""``hub tokens`` and ``hub console``: manage console tokens and serve the console.

A token is printed once, at creation; the file keeps its hash only. ``list``
shows names, roles and creation times, never hashes.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from hub.console.base import ConsoleError, Role
from hub.console.serve import (
    DEFAULT_PORT,
    LOOPBACK,
    ConsoleOptions,
    check_transport,
    serve,
    tls_context,
)
from hub.console.tokens import TokenFile, TokenStore

if TYPE_CHECKING:
    import argparse


def add_console_commands(subparsers: Any) -> None:
    """Add ``tokens create|list|revoke`` and ``console`` to the ``hub`` command.

    Args:
        subparsers: what ``ArgumentParser.add_subparsers()`` returned.
    """
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

    console = subparsers.add_parser("console", help="serve the operations console")
    console.add_argument("--config", type=Path, default=None, help="settings file (TOML)")
    console.add_argument("--tokens", required=True, type=Path, help="token file (mode 0600)")
    add_serving_options(console, "")
    console.set_defaults(func=console_serve)


def add_serving_options(parser: argparse.ArgumentParser, prefix: str) -> None:
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
        CommandError: ``console.tls_required``, ``tls.*`` for unusable TLS files.
    """
    try:
        options = ConsoleOptions(TokenFile(tokens), host, port, tls_context(tls_dir))
        check_transport(host, options.tls)
    except ConsoleError as error:
        raise _user_error(error) from None
    return options


def _user_error(error: ConsoleError) -> Exception:
    from hub.cli import CommandError  # noqa: PLC0415 - hub.cli imports this module

    return CommandError(error.code, error.detail)


def tokens_create(args: argparse.Namespace) -> int:
    """Make a token, store its hash, print the token once."""
    try:
        store, token = TokenStore.load(args.file).create(
            args.name, Role(args.role), datetime.now(UTC)
        )
    except ConsoleError as error:
        raise _user_error(error) from None
    store.save(args.file)
    print(token)  # noqa: T201 - the one time the token is shown
    print(f"# {args.name} ({args.role}); shown once, stored as a hash in {args.file}")  # noqa: T201
    return 0


def tokens_list(args: argparse.Namespace) -> int:
    """Print each token's name, role and creation time."""
    try:
        store = TokenStore.load(args.file)
    except ConsoleError as error:
        raise _user_error(error) from None
    for record in store.records:
        print(f"{record.name} {record.role.value} {record.created.isoformat()}")  # noqa: T201
    return 0


def tokens_revoke(args: argparse.Namespace) -> int:
    """Remove the token ``--name``."""
    try:
        store = TokenStore.load(args.file).revoke(args.name)
    except ConsoleError as error:
        raise _user_error(error) from None
    store.save(args.file)
    print(f"revoked {args.name}")  # noqa: T201
    return 0


def console_serve(args: argparse.Namespace) -> int:
    """Serve the console with the settings of ``--config`` and the environment."""
    import asyncio  # noqa: PLC0415 - only serving needs the event loop

    from hub.cli import service_errors  # noqa: PLC0415 - hub.cli imports this module
    from hub.logs import configure  # noqa: PLC0415
    from hub.settings import load_settings  # noqa: PLC0415

    with service_errors():
        options = console_options(args.tokens, args.host, args.port, args.tls_dir)
        settings = load_settings(args.config)
        configure(settings.log_format, settings.log_level)
        return asyncio.run(serve(settings, options))
