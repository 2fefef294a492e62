"""``hub demo``: a fictional case through the adapters and the hub, and the console on it."""

from __future__ import annotations

import asyncio
import os
import signal
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rich.console import Console

from hub import evaluation_demo
from hub.broker import BrokerError, BrokerErrorCode
from hub.console import DEFAULT_PORT
from hub.demo import run, serve_kept
from hub.errors import HubError
from hub.logs import configure

if TYPE_CHECKING:
    import argparse


def add_commands(subparsers: Any) -> None:
    """Add ``demo`` and ``demo console`` to the ``hub`` command."""
    play = subparsers.add_parser("demo", help="play a fictional case through the hub")
    play.add_argument(
        "--broker",
        metavar="URL",
        default=os.environ.get("HUB_DEMO_BROKER") or None,
        help="run on this RabbitMQ (amqp://user:password@host:port/vhost), not in memory;"
        " default $HUB_DEMO_BROKER",
    )
    play.add_argument(
        "--keep",
        metavar="DIR",
        type=Path,
        default=None,
        help="keep the hub's keys and ledger in this new folder, for `hub demo console DIR`",
    )
    play.set_defaults(func=demo)
    commands = play.add_subparsers(dest="demo", required=False, metavar="{console}")
    console = commands.add_parser("console", help="serve the console on a kept demo")
    console.add_argument("dir", metavar="DIR", type=Path, help="the folder of `hub demo --keep`")
    console.add_argument("--port", type=int, default=DEFAULT_PORT, help="on 127.0.0.1")
    console.set_defaults(func=demo_console)
    evaluation = subparsers.add_parser(
        "evaluation-demo",
        help="three area hubs feed the evaluator a fictional cohort; write its report",
    )
    evaluation.add_argument(
        "--out",
        metavar="DIR",
        type=Path,
        required=True,
        help="a new folder for the report and the evaluator's store",
    )
    evaluation.add_argument(
        "--scale",
        type=float,
        default=1.0,
        help="the share of the cohort's ~900 cases to draw (default 1)",
    )
    evaluation.add_argument("--seed", type=int, default=2026, help="the cohort's seed")
    evaluation.set_defaults(func=demo_evaluation)


def demo_evaluation(args: argparse.Namespace) -> int:
    """Run the three-area evaluation and write the released report to ``--out``."""
    configure("console", "CRITICAL")
    return evaluation_demo.run(Console(), args.out, scale=args.scale, seed=args.seed)


def demo(args: argparse.Namespace) -> int:
    """Play a fictional case through the adapters and the hub, on memory or ``--broker``."""
    configure("console", "CRITICAL")  # the timeline is the output, refusals included
    try:
        return run(Console(), args.broker, args.keep)
    except BrokerError as error:
        if error.code != BrokerErrorCode.UNAVAILABLE:
            raise
        raise HubError(error.code, f"{error.detail}; is RabbitMQ running there?") from None


def demo_console(args: argparse.Namespace) -> int:
    """Serve the console on the demo kept in ``DIR``, printing its URL and sign-in tokens."""
    configure("console", "WARNING")
    return asyncio.run(_serve(args.dir, args.port))


async def _serve(folder: Path, port: int) -> int:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for number in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(number, stop.set)
    return await serve_kept(folder, port, lambda line: print(line, flush=True), stop)
