"""``python -m bench.hub_vs_raw``: the hub against the raw broker, in one run.

On the RabbitMQ at ``HUB_BENCH_AMQP_URL`` (``make bench`` starts a private node
and sets it), for K = 1, 3 and 6 recipients and 1 KiB and 16 KiB events:

- ``raw``: aio-pika consumes the ingress quorum queue, publishes to the K inbox
  quorum queues with confirms, then acks. No crypto, no validation, no ledger.
- ``hub``: ``hub.worker.serve`` doing its full work, with the SDK's adapters
  publishing (issue, seal, outbox) and receiving (open, verify, dedupe).
- ``faststream``: the raw relay written with FastStream, at K = 3.
- ``hub-no-receipts``: the hub at K = 3 and the first size with its agencies'
  receipts off, right after the hub's own run there: what receipts cost.
- ``hub-joserfc``, ``hub-reread``, ``hub-no-wait``, ``hub-frame-writes``: the same
  point as before one lever (the envelope on joserfc, ADR 0031; every decision a
  receipt names read back from the store; each agency committing its group as soon
  as nothing more is at hand; every AMQP frame written on its own), for what the
  lever gains (``bench/hub_vs_raw/variants.py``). The hub and the variants run as
  a group, ``--ab-rounds`` times (3 in the full plan), every other round in the
  reverse order; each lever is the median of its rounds. ``--levers`` runs the hub
  beside some of the variants only.
- ``*-fixed-rate``: raw and hub at a fixed offered load, for latency percentiles:
  half the hub's own flat-out rate at K = 3 and the first size in this run
  (``--rate`` gives a rate in events/s instead).

Each relay runs in a process of its own, so its CPU seconds and peak RSS are its
own. The ledger is SQLite, or PostgreSQL when ``HUB_BENCH_POSTGRES_DSN`` is set.
Results go to ``bench/out/results.json``; ``--docs`` renders them into the docs.
Nothing is asserted.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import os
import sys
import tempfile
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

import aio_pika
from yarl import URL

from bench.hub_vs_raw import report
from bench.hub_vs_raw.budget import BrokerCpu, checks_cpu_s
from bench.hub_vs_raw.errors import BenchError
from bench.hub_vs_raw.fixture import envelope_bytes, event_json_bytes, event_of_size, make_keys
from bench.hub_vs_raw.measure import Payload, RunSpec, Setup, at_share_of_hub, measure
from bench.hub_vs_raw.relay import ROOT
from hub.logs import configure

if TYPE_CHECKING:
    from collections.abc import Sequence

DEFAULT_OUT: Final = ROOT / "bench" / "out" / "results.json"


@dataclass(frozen=True)
class Plan:
    """How much to run: events per run, warm-up, and the fixed-rate run's pace.

    ``share`` is the fixed-rate runs' rate as a share of the hub's flat-out rate.
    """

    name: str
    events: int
    warmup: int
    share: float
    duration: float
    faststream_sizes: tuple[int, ...]
    checks_rounds: int
    ab_rounds: int


PLANS: Final = {
    "full": Plan("full", 1000, 50, 0.5, 60.0, (1024, 16384), 40, 3),
    "quick": Plan("quick", 100, 10, 0.5, 4.0, (1024,), 4, 1),
}
#: The hub and each lever's variant, the A/B group run at K = 3 and the first size.
AB_GROUP: Final[tuple[tuple[str, dict[str, Any]], ...]] = (
    ("hub", {}),
    ("hub-no-receipts", {"receipts": False}),
    ("hub-joserfc", {"variant": "joserfc"}),
    ("hub-reread", {"variant": "reread"}),
    ("hub-no-wait", {"variant": "no-wait"}),
    ("hub-frame-writes", {"variant": "frame-writes"}),
)


def _ints(text: str) -> tuple[int, ...]:
    return tuple(int(part) for part in text.split(",") if part.strip())


def _parts(text: str) -> tuple[str, ...]:
    """The comma-separated names in ``text``, stripped, without empty ones."""
    return tuple(part.strip() for part in text.split(",") if part.strip())


def _names(text: str) -> tuple[str, ...]:
    names = _parts(text)
    unknown = sorted(set(names) - {"raw", "hub"})
    if unknown or not names:
        raise argparse.ArgumentTypeError(f"relays are raw and hub, not {','.join(unknown)}")
    return names


def parse(argv: Sequence[str] | None = None) -> argparse.Namespace:
    """The command line."""
    parser = argparse.ArgumentParser(
        prog="python -m bench.hub_vs_raw", description=(__doc__ or "").splitlines()[0]
    )
    parser.add_argument("--plan", choices=sorted(PLANS), default="full")
    parser.add_argument("--events", type=int, help="events per run (default: the plan's)")
    parser.add_argument("--warmup", type=int, help="unmeasured events first (plan's)")
    parser.add_argument("--recipients", type=_ints, default=(1, 3, 6), help="e.g. 1,3,6")
    parser.add_argument("--sizes", type=_ints, default=(1024, 16384), help="event JSON bytes")
    parser.add_argument(
        "--rate",
        type=float,
        help="fixed-rate events/s (0: no such run; default: half the hub's flat-out rate)",
    )
    parser.add_argument("--duration", type=float, help="fixed-rate seconds (plan's)")
    parser.add_argument("--window", type=int, default=32, help="events in flight at once")
    parser.add_argument("--prefetch", type=int, default=32, help="relay and receiver prefetch")
    parser.add_argument("--no-faststream", action="store_true", help="skip the FastStream run")
    parser.add_argument(
        "--ab-rounds", type=int, help="rounds of the levers' A/B group, order alternating (plan's)"
    )
    parser.add_argument(
        "--levers",
        type=_lever_names,
        help="the A/B group's variants to run beside the hub, e.g. hub-no-wait (default: all)",
    )
    parser.add_argument(
        "--relays",
        type=_names,
        default=("raw", "hub"),
        help="runs of these relays only, e.g. hub (for profiling one scenario)",
    )
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    parser.add_argument("--docs", type=Path, help="render the table into this Markdown file")
    parser.add_argument("--render-only", action="store_true", help="render --out into --docs")
    parser.add_argument("--command-label", default="make bench", help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def specs(args: argparse.Namespace) -> list[RunSpec]:
    """Every run of the plan, raw before hub at each point so they meet the same broker."""
    plan = PLANS[args.plan]
    events = args.events or plan.events
    warmup = plan.warmup if args.warmup is None else args.warmup
    runs: list[RunSpec] = []
    for size in args.sizes:
        for k in args.recipients:
            if "hub" in args.relays and k == 3 and size == args.sizes[0]:  # noqa: PLR2004
                runs.extend(
                    RunSpec(r, r, k, size, events, warmup) for r in args.relays if r != "hub"
                )
                rounds = plan.ab_rounds if args.ab_rounds is None else max(1, args.ab_rounds)
                base = RunSpec("hub", "hub", k, size, events, warmup)
                runs.extend(_ab_group(_chosen(args.levers), base, rounds))
            else:
                runs.extend(RunSpec(r, r, k, size, events, warmup) for r in args.relays)
            if not args.no_faststream and k == 3 and size in plan.faststream_sizes:  # noqa: PLR2004
                runs.append(RunSpec("faststream", "faststream", k, size, events, warmup))
    duration = args.duration or plan.duration
    k, size = (3 if 3 in args.recipients else args.recipients[0]), args.sizes[0]  # noqa: PLR2004
    if args.rate is None:  # the rate is known once the flat-out runs are done
        runs.extend(
            RunSpec(
                f"{relay}-fixed-rate",
                relay,
                k,
                size,
                0,
                warmup,
                None,
                share=plan.share,
                seconds=duration,
            )
            for relay in args.relays
        )
    elif args.rate > 0:
        count = max(2, round(args.rate * duration))
        runs.extend(
            RunSpec(f"{relay}-fixed-rate", relay, k, size, count, warmup, args.rate)
            for relay in args.relays
        )
    return runs


def _lever_names(text: str) -> tuple[str, ...]:
    names = _parts(text)
    known = {name for name, _ in AB_GROUP if name != "hub"}
    if unknown := sorted(set(names) - known):
        choices = ", ".join(sorted(known))
        raise argparse.ArgumentTypeError(
            f"no such variant: {','.join(unknown)} (choose from {choices})"
        )
    return names


def _chosen(levers: tuple[str, ...] | None) -> tuple[tuple[str, dict[str, Any]], ...]:
    """The hub and the variants named in ``levers`` (every one when ``None``)."""
    if levers is None:
        return AB_GROUP
    return tuple((name, o) for name, o in AB_GROUP if name == "hub" or name in levers)


def _ab_group(
    group: tuple[tuple[str, dict[str, Any]], ...], base: RunSpec, rounds: int
) -> list[RunSpec]:
    """``base`` as each run of ``group``, ``rounds`` times, every other round backwards.

    A later run in a round meets a host that has run longer; alternating the order
    spreads that over both sides of each pair.
    """
    runs: list[RunSpec] = []
    for number in range(rounds):
        order = group if number % 2 == 0 else tuple(reversed(group))
        runs.extend(
            replace(base, scenario=name, ab_round=number, **options) for name, options in order
        )
    return runs


def _progress(index: int, total: int, run: dict[str, Any]) -> str:
    return (
        f"[{index:>2}/{total}] {run['scenario']:<16} K={run['recipients']} "
        f"{run['payload_bytes'] // 1024:>2} KiB ({run['envelope_bytes']:>6} B)  "
        f"{run['events_per_s']:>8.1f} ev/s {run['deliveries_per_s']:>8.1f} del/s  "
        f"p50 {run['p50_ms']:>7.1f} p95 {run['p95_ms']:>7.1f} p99 {run['p99_ms']:>7.1f} ms  "
        f"cpu {run['cpu_s_per_event'] * 1000:>6.2f} ms/ev  rss {run['peak_rss_mib']:>5.0f} MiB"
        f"{_busy(run.get('machine_busy_pct'))}"
    )


def _busy(pct: float | None) -> str:
    return "" if pct is None else f"  cores {pct:>3.0f}% busy"


async def _check_broker(url: str) -> str:
    where = f"{URL(url).host}:{URL(url).port}"  # never the credentials
    try:
        return await asyncio.wait_for(report.rabbitmq_version(url), 15)
    except (OSError, TimeoutError, aio_pika.exceptions.AMQPError) as error:
        raise BenchError("bench.broker_unreachable", f"{where} ({type(error).__name__})") from None


def _setup(args: argparse.Namespace, url: str, workdir: Path) -> Setup:
    keys = make_keys(workdir / "keys")
    payloads = {}
    for size in args.sizes:
        event = event_of_size(size)
        payloads[size] = Payload(size, event, event_json_bytes(event), envelope_bytes(event, keys))
    return Setup(
        url, keys, payloads, args.prefetch, args.window,
        os.environ.get("HUB_BENCH_POSTGRES_DSN") or None, workdir, BrokerCpu.from_environment(),
    )  # fmt: skip


def _check_point(setup: Setup, k: int, size: int, rounds: int) -> dict[str, Any]:
    """The envelope work per event at one point the hub runs flat out (``budget``)."""
    cost = checks_cpu_s(setup.keys, setup.payloads[size].event, k, rounds)
    return {"recipients": k, "payload_bytes": size, "cpu_s_per_event": round(cost, 6)}


async def run(args: argparse.Namespace, url: str) -> dict[str, Any]:
    """Run the plan, printing a line per run; return the results document."""
    rabbitmq = await _check_broker(url)
    if not args.no_faststream and importlib.util.find_spec("faststream") is None:
        raise BenchError("bench.faststream_missing", "FastStream is not installed")
    plan = specs(args)
    runs: list[dict[str, Any]] = []
    ab_runs: list[dict[str, Any]] = []  # the levers' later rounds: beside the table, not in it
    with tempfile.TemporaryDirectory(prefix="hub-bench-") as tmp:
        setup = _setup(args, url, Path(tmp))
        print(f"bench: {len(plan)} runs on RabbitMQ {rabbitmq} ({args.plan} plan)", flush=True)
        points = {(s.recipients, s.payload_bytes) for s in plan if s.relay == "hub"}
        checks: list[dict[str, Any]] = []
        for index, spec in enumerate(plan, 1):
            point = (spec.recipients, spec.payload_bytes)
            if point in points:  # just before the point's first run, on the host as it is then
                points.discard(point)
                checks.append(_check_point(setup, *point, PLANS[args.plan].checks_rounds))
            result = await measure(at_share_of_hub(spec, runs), setup)
            (ab_runs if spec.ab_round else runs).append(result)
            print(_progress(index, len(plan), result), flush=True)
    checks.sort(key=lambda c: (c["recipients"], c["payload_bytes"]))
    context = {
        "machine": report.machine(rabbitmq),
        "ledger": "postgresql" if setup.postgres_dsn else "sqlite",
        "checks": checks,
        "settings": {
            "plan": args.plan,
            "command": args.command_label,
            "window": args.window,
            "prefetch": args.prefetch,
        },
    }
    return report.results(runs, context, ab_runs)


def _broker_url() -> str:
    url = os.environ.get("HUB_BENCH_AMQP_URL", "")
    if not url:
        raise BenchError("bench.broker_url_missing", "HUB_BENCH_AMQP_URL is not set")
    return url


def main(argv: Sequence[str] | None = None) -> int:
    """Run, write the results (and the docs table); exit 2 with a code on a known failure."""
    args = parse(argv)
    configure("console", "ERROR")
    try:
        if args.render_only:
            document = report.load(args.out)
        else:
            document = asyncio.run(run(args, _broker_url()))
            report.write(document, args.out)
            print(f"bench: results in {args.out}")
        if args.docs:
            report.update_docs(document, args.docs)
            print(f"bench: table rendered into {args.docs}")
    except BenchError as error:
        print(error.diagnostics(), file=sys.stderr)
        return 2
    print(f"bench: hub ÷ raw at K=3, 1 KiB: {document.get('ratio_hub_to_raw_k3_1k')}")
    spent = report.beyond(report.headline_row(document.get("budget", [])))
    if spent is not None:
        print(f"bench: hub beyond raw + checks at K=3, 1 KiB: {spent * 1000:.2f} ms/ev")
    for key, on, off, _ in report.LEVERS:
        cost = document.get(key)
        if cost is not None:
            print(
                f"bench: {on} ÷ {off} at K=3, 1 KiB: {cost['with_to_without']};"
                f" worker {cost['worker_cpu_ms_per_event']:+} ms/ev,"
                f" agencies {cost['load_cpu_ms_per_event']:+} ms/ev"
            )
    for row in document.get("fixed_rate_load", []):
        busy = row.get("machine_busy_pct")
        cores = "" if busy is None else f", cores {busy:.0f}% busy"
        print(f"bench: {row['scenario']}: {report.share(row)}; p99 {row['p99_ms']} ms{cores}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
