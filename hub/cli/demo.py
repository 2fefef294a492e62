"""``hub demo``: a fictional case through the adapters and the hub."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

from rich.console import Console

from hub.broker import BrokerError
from hub.demo import run
from hub.errors import HubError
from hub.logs import configure

if TYPE_CHECKING:
    import argparse


def add_commands(subparsers: Any) -> None:
    """Add ``demo`` to the ``hub`` command."""
    play = subparsers.add_parser("demo", help="play a fictional case through the hub")
    play.add_argument(
        "--broker",
        metavar="URL",
        default=os.environ.get("HUB_DEMO_BROKER") or None,
        help="run on this RabbitMQ (amqp://user:password@host:port/vhost), not in memory;"
        " default $HUB_DEMO_BROKER",
    )
    play.set_defaults(func=demo)


def demo(args: argparse.Namespace) -> int:
    """Play a fictional case through the adapters and the hub, on memory or ``--broker``."""
    configure("console", "CRITICAL")  # the timeline is the output, refusals included
    try:
        return run(Console(), args.broker)
    except BrokerError as error:
        raise HubError(error.code, f"{error.detail}; is RabbitMQ running there?") from None
