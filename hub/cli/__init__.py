"""The ``hub`` command line: one module per command group, the parsing here.

Every failure ends with one line ``error <code>: <detail>`` on stderr and a non-zero
exit status, never a traceback: 2 for a usage error (``usage.invalid``, with the
usage of the command meant on the next line), 1 for any other. The rooms below
raise :class:`~hub.errors.HubError` subclasses with stable codes; nothing here
maps one error to another. Output names ids, parties and codes, never content.
"""

from __future__ import annotations

import os
import sys
from importlib.metadata import PackageNotFoundError, version
from typing import TYPE_CHECKING

from hub.cli import audit, broker, demo, keys, schemas, service, tls, witness
from hub.cli.args import Parser, UsageError
from hub.errors import HubError

if TYPE_CHECKING:
    import argparse
    from collections.abc import Callable, Sequence

EXIT_FAILED = 1
EXIT_USAGE = 2
#: The command groups, in the order ``hub --help`` lists them.
GROUPS = (keys, schemas, audit, broker, tls, service, witness, demo)


def _version() -> str:
    try:
        return version("case-event-hub")
    except PackageNotFoundError:  # run from a checkout that was never installed
        return "unknown"


def parser() -> Parser:
    """The ``hub`` command's parser, every group's subcommands included."""
    top = Parser(prog="hub", description=__doc__.splitlines()[0])
    top.add_argument("--version", action="version", version=f"hub {_version()}")
    commands = top.add_subparsers(dest="command", required=True, parser_class=Parser)
    for group in GROUPS:
        group.add_commands(commands)
    return top


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the exit status."""
    try:
        args = parser().parse_args(argv)
        func: Callable[[argparse.Namespace], int] = args.func
        status = func(args)
        sys.stdout.flush()  # a closed pipe is met here, not in the interpreter's last flush
    except UsageError as error:
        print(f"error {error.code}: {error.detail}\n{error.usage}", file=sys.stderr)
        return EXIT_USAGE
    except HubError as error:
        print(f"error {error.code}: {error.detail}", file=sys.stderr)
        return EXIT_FAILED
    except BrokenPipeError:
        # The reader went away (``hub tokens create ... | head -1``): what was asked is
        # done; say nothing more to a closed pipe.
        _quiet_stdout()
        return 0
    except OSError as error:
        where = f" {error.filename}:" if error.filename else ""
        print(f"error io.failed:{where} {error.strerror or type(error).__name__}", file=sys.stderr)
        return EXIT_FAILED
    return status


def _quiet_stdout() -> None:
    """Point stdout at /dev/null, so the interpreter's final flush does not fail again."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
