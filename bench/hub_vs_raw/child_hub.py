"""The hub relay for the benchmark's child process: ``hub.worker.serve`` on a fresh context.

Imported only by a child running the hub, so the raw relays' memory holds none of it.
With ``stages_file`` in its config, the worker's ``trace`` stamps each stage of each
event with ``time.perf_counter_ns()`` (one monotonic clock for every process on the
machine), and the stamps go to that file when the worker stops. With
``HUB_BENCH_PROFILE=FILE`` in the environment the worker runs under ``cProfile``
and writes its statistics to ``FILE`` (the last hub run's) when it stops.
"""

from __future__ import annotations

import asyncio
import cProfile
import json
import os
import time
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

from bench.hub_vs_raw.own_usage import say, usage
from bench.hub_vs_raw.variants import variant
from hub import heap
from hub.broker.amqp import AmqpBroker
from hub.context import build_context
from hub.crypto.keys import load_keyring
from hub.ledger.pseudonyms import generate_ledger_key
from hub.ledger.service import open_ledger
from hub.logs import configure
from hub.settings import HubSettings
from hub.worker import WorkerLimits, serve

if TYPE_CHECKING:
    from contextlib import AsyncExitStack

CONFIRM_SECONDS: Final = 30.0


async def run(config: dict[str, Any], stop: asyncio.Event, stack: AsyncExitStack) -> None:
    """Serve the hub pipeline: open, verify, validate, decide, record, present, publish."""
    configure("json", "WARNING")
    keys, folder = Path(config["keys_dir"]), Path(config["policy_dir"])
    ledger_key = folder.parent / "ledger.key"
    if not ledger_key.exists():
        generate_ledger_key(ledger_key)
    settings = HubSettings(
        keys_dir=keys,
        private_keys=keys / "hub.private.jwks.json",
        ledger_key_file=ledger_key,
        agreements_dir=folder / "agreements",
        parties_file=folder / "parties.toml",
        rules_file=folder / "rules.toml",
        topology_prefix=config["prefix"],
    )
    keyring = load_keyring(settings.private_keys)
    broker = AmqpBroker(config["url"], confirm_timeout=CONFIRM_SECONDS)
    await broker.connect()
    stack.push_async_callback(broker.close)
    ledger = await open_ledger(config["ledger_url"], keyring=keyring, schema=config["schema"])
    stack.push_async_callback(ledger.close)
    stamps: list[tuple[str, str | None, int]] = []

    def trace(stage: str, message_id: str | None) -> None:
        stamps.append((stage, message_id, time.perf_counter_ns()))

    stages_file = config.get("stages_file")
    ctx = await build_context(settings, stack, broker=broker, ledger=ledger)
    ctx = replace(ctx, require_user_id=False, trace=trace if stages_file else None)
    limits = WorkerLimits(prefetch=config["prefetch"], delivery_limit=5)
    stack.enter_context(variant(config.get("variant", "as-built")))
    profile = os.environ.get("HUB_BENCH_PROFILE")
    if profile:  # the worker's own profile, warm-up included, for finding its costs
        profiler = cProfile.Profile()
        profiler.enable()
        stack.callback(profiler.dump_stats, profile)  # run last, after the disable below
        stack.callback(profiler.disable)
    serving = asyncio.create_task(serve(ctx, limits, stop))
    # serve() has no started signal; a short pause lets it open its consumer first.
    await asyncio.sleep(0.2)
    heap.settle()  # as hub.app.run does once started
    say({"ready": True, **usage()})
    await serving
    if stages_file:
        await asyncio.to_thread(Path(stages_file).write_text, json.dumps(stamps))
