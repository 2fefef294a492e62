"""Results: the machine they were taken on, ``results.json``, and the table in the docs."""

from __future__ import annotations

import json
import os
import platform
import statistics
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final

import aio_pika

from bench.hub_vs_raw.errors import BenchError

START: Final = "<!-- bench:hub-vs-raw:start -->"
END: Final = "<!-- bench:hub-vs-raw:end -->"
RUN_KEYS: Final = (
    "scenario",
    "recipients",
    "payload_bytes",
    "events_per_s",
    "p50_ms",
    "p95_ms",
    "p99_ms",
    "cpu_s_per_event",
    "peak_rss_mib",
)
#: Fewer events flat out than this say too little about a relay's capacity to
#: measure a fixed rate against (the quick plan runs this many).
MIN_FLAT_OUT_EVENTS: Final = 100


def _first(path: str, prefix: str) -> str | None:
    try:
        lines = Path(path).read_text().splitlines()
    except OSError:
        return None
    return next((line.split(":", 1)[1].strip() for line in lines if line.startswith(prefix)), None)


async def rabbitmq_version(url: str) -> str:
    """The version the broker announces when a connection opens."""
    connection = await aio_pika.connect(url, timeout=10)
    try:
        transport = connection.transport
        properties = transport.connection.server_properties if transport else {}
        version = properties.get("version", "unknown")
        return version.decode() if isinstance(version, bytes) else str(version)
    finally:
        await connection.close()


def machine(rabbitmq: str) -> dict[str, Any]:
    """CPU model, cores, RAM, Python, RabbitMQ, OS, and how busy the machine was."""
    memory = _first("/proc/meminfo", "MemTotal")
    ram_gib = round(int(memory.split()[0]) / 1024 / 1024, 1) if memory else None
    return {
        "cpu_model": _first("/proc/cpuinfo", "model name") or platform.processor() or "unknown",
        "cores": os.cpu_count(),
        "ram_gib": ram_gib,
        "python": platform.python_version(),
        "rabbitmq": rabbitmq,
        "os": f"{platform.system()} {platform.release()}",
        "load_average_at_start": [round(x, 2) for x in os.getloadavg()],
    }


def ratio(runs: list[dict[str, Any]], top: str, bottom: str) -> float | None:
    """events/s of scenario ``top`` over ``bottom`` at K = 3 and 1 KiB, if both ran."""
    a, b = (
        (run or {}).get("events_per_s")
        for run in (_throughput_run(runs, s, 3, 1024) for s in (top, bottom))
    )
    return round(a / b, 3) if a and b else None


def _throughput_run(
    runs: list[dict[str, Any]], scenario: str, k: int, size: int
) -> dict[str, Any] | None:
    """The run of ``scenario`` at K = ``k`` and ``size`` (a relay's flat-out runs bear its name)."""
    return next(
        (
            r
            for r in runs
            if r["scenario"] == scenario and r["recipients"] == k and r["payload_bytes"] == size
        ),
        None,
    )


def _machine_cpu(run: dict[str, Any] | None) -> float | None:
    """Relay + load process + RabbitMQ CPU seconds per event, if RabbitMQ's was read."""
    if run is None:
        return None
    total = 0.0
    for part in ("cpu_s_per_event", "load_cpu_s_per_event", "broker_cpu_s_per_event"):
        value = run.get(part)
        if value is None:
            return None
        total += float(value)
    return total


def budget(runs: list[dict[str, Any]], checks: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """What one event costs the whole machine, raw against hub, at each point of ``checks``.

    ``ceiling_hub_to_raw`` is the raw run's machine CPU per event over the same plus
    the checks' (``bench/hub_vs_raw/budget.py``): the most hub ÷ raw could be on
    saturated cores if everything but the checks cost the hub what it cost the raw
    relay's run. ``hub_beyond_s_per_event`` is what the hub's run cost the machine
    beyond the raw relay's run and the checks: the work of the hub's own design
    (its ledger, state files, receipts, policy and glue), which the levers change
    and hub ÷ raw hides behind the checks that P1 to P3 require.
    """
    rows = []
    for point in checks:
        k, size, floor = point["recipients"], point["payload_bytes"], point["cpu_s_per_event"]
        raw_run, hub_run = (_throughput_run(runs, s, k, size) for s in ("raw", "hub"))
        raw, hub = _machine_cpu(raw_run), _machine_cpu(hub_run)
        rates = (
            hub_run["events_per_s"] / raw_run["events_per_s"]
            if raw_run and hub_run and raw_run["events_per_s"] > 0
            else None
        )
        rows.append({
            "recipients": k,
            "payload_bytes": size,
            "raw_machine_cpu_s_per_event": None if raw is None else round(raw, 6),
            "hub_machine_cpu_s_per_event": None if hub is None else round(hub, 6),
            "cpu_raw_to_hub": round(raw / hub, 3) if raw and hub else None,
            "hub_to_raw": None if rates is None else round(rates, 3),
            "checks_cpu_s_per_event": floor,
            "ceiling_hub_to_raw": round(raw / (raw + floor), 3) if raw else None,
        })  # fmt: skip
        rows[-1]["hub_beyond_s_per_event"] = beyond(rows[-1])
    return rows


def beyond(row: dict[str, Any]) -> float | None:
    """A ``budget`` row's hub machine CPU per event beyond the raw run's and the checks'.

    Derived from the row's own numbers, so a ``results.json`` written before the
    column existed renders it too.
    """
    raw, hub = row.get("raw_machine_cpu_s_per_event"), row.get("hub_machine_cpu_s_per_event")
    floor = row.get("checks_cpu_s_per_event")
    if raw is None or hub is None or floor is None:
        return None
    return round(float(hub) - float(raw) - float(floor), 6)


def _pair_cost(with_it: dict[str, Any], without: dict[str, Any]) -> dict[str, Any]:
    """One round of a lever: events/s with over without, and each CPU's difference in ms."""

    def more_ms(part: str) -> float | None:
        a, b = with_it.get(part), without.get(part)
        return None if a is None or b is None else round((a - b) * 1000, 3)

    machine_on, machine_off = _machine_cpu(with_it), _machine_cpu(without)
    return {
        "with_to_without": round(with_it["events_per_s"] / without["events_per_s"], 3),
        "worker_cpu_ms_per_event": more_ms("cpu_s_per_event"),
        "load_cpu_ms_per_event": more_ms("load_cpu_s_per_event"),
        "broker_cpu_ms_per_event": more_ms("broker_cpu_s_per_event"),
        "machine_cpu_ms_per_event": (
            round((machine_on - machine_off) * 1000, 3)
            if machine_on is not None and machine_off is not None
            else None
        ),
    }


def lever_cost(
    runs: list[dict[str, Any]], on: str, off: str, ab_runs: list[dict[str, Any]] | None = None
) -> dict[str, Any] | None:
    """What one lever changes at K = 3, 1 KiB: scenario ``on`` against ``off``, in one run.

    Each round pairs ``on`` and ``off`` of the same A/B round (``runs`` holds round
    0, ``ab_runs`` the later ones). ``with_to_without`` is the median over the
    rounds of events/s with the lever over without; the rest are the medians of
    the differences in CPU per event (worker, load side with its adapters,
    RabbitMQ, all three), in milliseconds; ``rounds`` lists each round's
    ``with_to_without`` and ``machine_cpu_rounds`` each round's machine
    difference. None when no round has both runs.
    """
    every = [*runs, *(ab_runs or [])]
    pairs = []
    for number in sorted({r.get("ab_round", 0) for r in every}):
        of_round = [r for r in every if r.get("ab_round", 0) == number]
        with_it, without = (_throughput_run(of_round, s, 3, 1024) for s in (on, off))
        if with_it and without and without["events_per_s"]:
            pairs.append(_pair_cost(with_it, without))
    if not pairs:
        return None
    cost: dict[str, Any] = {}
    for key in pairs[0]:
        values = [p[key] for p in pairs if p[key] is not None]
        cost[key] = round(statistics.median(values), 3) if values else None
    cost["rounds"] = [p["with_to_without"] for p in pairs]
    cost["machine_cpu_rounds"] = [p["machine_cpu_ms_per_event"] for p in pairs]
    return cost


#: Each A/B pair of scenarios the plan runs at K = 3, 1 KiB: the key in
#: ``results.json``, the scenario with the lever, the one without, and what the
#: rendered line calls the pair.
LEVERS: Final = (
    (
        "receipts_cost_k3_1k",
        "hub",
        "hub-no-receipts",
        "Receipts (each agency signs for what it kept, ADR 0029): hub with ÷ without",
    ),
    (
        "envelope_primitives_k3_1k",
        "hub",
        "hub-joserfc",
        "The envelope on `cryptography`'s primitives (ADR 0031): hub ÷ hub on joserfc",
    ),
    (
        "recent_entries_k3_1k",
        "hub",
        "hub-reread",
        "Receipts checked against the entries just written: hub ÷ hub reading them back",
    ),
    (
        "group_wait_k3_1k",
        "hub",
        "hub-no-wait",
        "Each agency waits 2 ms for more before it commits: hub ÷ hub committing at once",
    ),
    (
        "batched_writes_k3_1k",
        "hub",
        "hub-frame-writes",
        "The frames of one turn of the loop in one write: hub ÷ hub writing each frame",
    ),
)


def _lever_line(label: str, cost: dict[str, Any] | None) -> list[str]:
    if cost is None:
        return []
    parts = (
        ("the worker", cost["worker_cpu_ms_per_event"]),
        ("the agencies' adapters", cost["load_cpu_ms_per_event"]),
        ("RabbitMQ", cost["broker_cpu_ms_per_event"]),
    )
    spent = ", ".join(f"{who} {ms:+.2f}" for who, ms in parts if ms is not None)
    machine = cost["machine_cpu_ms_per_event"]
    total = "" if machine is None else f" **{machine:+.2f} ms** of CPU per event in all ({spent})"
    rounds = cost.get("rounds") or []
    each = (
        f" (the median of {len(rounds)} interleaved rounds: {', '.join(str(r) for r in rounds)})"
        if len(rounds) > 1
        else ""
    )
    line = (
        f"{label} at K = 3, 1 KiB: **{cost['with_to_without']}** of the events per second"
        f"{each};{total}."
    )
    return ["", line]


def _lever_lines(document: dict[str, Any]) -> list[str]:
    return [line for key, _, _, label in LEVERS for line in _lever_line(label, document.get(key))]


def fixed_rate_load(runs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Each fixed-rate run's offered rate over its relay's flat-out rate in the same runs.

    How near the rate came to what the relay, its load side and RabbitMQ did flat
    out a few minutes before, on the same host: a guide to the p99 beside it (the
    cores' busy share is the closer one: a low rate costs more per event than
    flat out, and the host changes speed). ``None`` where the relay ran no
    flat-out run of at least :data:`MIN_FLAT_OUT_EVENTS` events at the same K and
    size.
    """
    rows = []
    for run in runs:
        offered = run.get("offered_events_per_s")
        if run.get("mode") != "fixed_rate" or not offered:
            continue
        flat = _throughput_run(runs, run["relay"], run["recipients"], run["payload_bytes"])
        flat_out = None
        if flat and flat.get("events", 0) >= MIN_FLAT_OUT_EVENTS and flat["events_per_s"] > 0:
            flat_out = flat["events_per_s"]
        rows.append({
            "scenario": run["scenario"],
            "recipients": run["recipients"],
            "payload_bytes": run["payload_bytes"],
            "offered_events_per_s": offered,
            "flat_out_events_per_s": flat_out,
            "offered_to_flat_out": None if flat_out is None else round(offered / flat_out, 3),
            "p99_ms": run["p99_ms"],
            "machine_busy_pct": run.get("machine_busy_pct"),
        })  # fmt: skip
    return rows


def headline_row(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """The ``budget`` row at K = 3, 1 KiB, the headline point; empty if it did not run."""
    return next(
        (r for r in rows if r["recipients"] == 3 and r["payload_bytes"] == 1024),  # noqa: PLR2004
        {},
    )


def results(
    runs: list[dict[str, Any]],
    context: dict[str, Any],
    ab_runs: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """The whole ``results.json`` document (``ab_runs``: the levers' later A/B rounds)."""
    rows = budget(runs, context.get("checks", []))
    headline = headline_row(rows)
    return {
        "generated_at": datetime.now(UTC).isoformat(timespec="seconds"),
        **context,
        "ratio_hub_to_raw_k3_1k": ratio(runs, "hub", "raw"),
        "ratio_faststream_to_raw_k3_1k": ratio(runs, "faststream", "raw"),
        "ceiling_hub_to_raw_k3_1k": headline.get("ceiling_hub_to_raw"),
        "hub_beyond_s_per_event_k3_1k": headline.get("hub_beyond_s_per_event"),
        **{key: lever_cost(runs, on, off, ab_runs) for key, on, off, _ in LEVERS},
        "budget": rows,
        "fixed_rate_load": fixed_rate_load(runs),
        "runs": runs,
        "ab_runs": ab_runs or [],
    }


def write(document: dict[str, Any], path: Path) -> None:
    """Write ``document`` as indented JSON, creating the folder."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(document, indent=2) + "\n")


def load(path: Path) -> dict[str, Any]:
    """Read a results file back.

    Raises:
        BenchError: ``bench.results_invalid``.
    """
    try:
        document = json.loads(path.read_text())
    except (OSError, ValueError):
        raise BenchError("bench.results_invalid", f"cannot read {path}") from None
    if not isinstance(document, dict) or not isinstance(document.get("runs"), list):
        raise BenchError("bench.results_invalid", f"{path} holds no runs")
    return document


def _kib(size: int) -> str:
    return f"{size // 1024} KiB"


def _row(run: dict[str, Any]) -> str:
    cells = [
        run["scenario"],
        str(run["recipients"]),
        f"{_kib(run['payload_bytes'])} ({run['envelope_bytes']:,} B)",
        f"{run['events_per_s']:,.0f}",
        f"{run['deliveries_per_s']:,.0f}",
        f"{run['p50_ms']:.1f}",
        f"{run['p95_ms']:.1f}",
        f"{run['p99_ms']:.1f}",
        f"{run['cpu_s_per_event'] * 1000:.2f}",
        f"{run['peak_rss_mib']:.0f}",
        f"{run.get('load_cpu_s_per_event', 0) * 1000:.2f}",
        _ms(run.get("broker_cpu_s_per_event")),
        _pauses(run),
        _number(run.get("machine_busy_pct"), ".0f"),
        _number(run.get("reference_us"), ".0f"),
    ]
    return "| " + " | ".join(cells) + " |"


def _number(value: float | None, spec: str) -> str:
    return "-" if value is None else format(value, spec)


def _ms(seconds: float | None) -> str:
    return "-" if seconds is None else f"{seconds * 1000:.2f}"


def _pauses(run: dict[str, Any]) -> str:
    """The longest garbage-collection pause of the relay and of the load process, if timed."""
    relay, load = run.get("gc_pause_ms"), run.get("load_gc_pause_ms")
    if relay is None or load is None:
        return "-"
    return f"{relay:.1f} / {load:.1f}"


def _machine_line(document: dict[str, Any]) -> str:
    m = document["machine"]
    return (
        f"Machine: {m['cpu_model']}, {m['cores']} cores, {m['ram_gib']} GiB RAM; "
        f"Python {m['python']}; RabbitMQ {m['rabbitmq']}; {m['os']}; "
        f"load average at start {', '.join(str(x) for x in m['load_average_at_start'])}"
        f"{_reference_range(document['runs'])}."
    )


def _reference_range(runs: list[dict[str, Any]]) -> str:
    """The host's speed over the runs, from each run's reference timing, if taken."""
    taken = [r["reference_us"] for r in runs if r.get("reference_us") is not None]
    if not taken:
        return ""
    low, high = f"{min(taken):.0f}", f"{max(taken):.0f}"
    span = low if low == high else f"{low} to {high}"
    return f"; reference (one Ed25519 JWS sign + verify, CPU) {span} µs before the runs"


def _table(runs: list[dict[str, Any]]) -> list[str]:
    return [
        (
            "| scenario | K | payload (envelope) | events/s | deliveries/s | p50 ms | p95 ms "
            "| p99 ms | CPU ms/event | peak RSS MiB | load CPU ms/event | broker CPU ms/event "
            "| GC pause ms | machine busy % | reference µs |"
        ),
        "|---|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
        *(_row(r) for r in runs),
    ]


def _budget(rows: list[dict[str, Any]]) -> list[str]:
    """The machine's CPU per event, raw against hub, and the ceiling the checks set."""
    if not rows:
        return []
    return [
        "",
        (
            "CPU per event for the whole machine (relay + load process + RabbitMQ), at each "
            "point both ran flat out, and the envelope checks alone (`budget.py`):"
        ),
        "",
        (
            "| K | payload | raw ms/event | hub ms/event | raw ÷ hub, CPU | hub ÷ raw, events/s "
            "| checks ms/event | ceiling on hub ÷ raw | hub beyond raw + checks ms/event |"
        ),
        "|---:|---|---:|---:|---:|---:|---:|---:|---:|",
        *(
            f"| {r['recipients']} | {_kib(r['payload_bytes'])} "
            f"| {_ms(r['raw_machine_cpu_s_per_event'])} | {_ms(r['hub_machine_cpu_s_per_event'])} "
            f"| {_number(r['cpu_raw_to_hub'], '.3f')} | {_number(r['hub_to_raw'], '.3f')} "
            f"| {_ms(r['checks_cpu_s_per_event'])} | {_number(r['ceiling_hub_to_raw'], '.3f')} "
            f"| {_ms(beyond(r))} |"
            for r in rows
        ),
    ]


def share(row: dict[str, Any]) -> str:
    """A ``fixed_rate_load`` row's share in words."""
    flat_out = row["flat_out_events_per_s"]
    if flat_out is None:
        return "no flat-out run to compare"
    return f"{row['offered_to_flat_out']:.2f} of its {flat_out:,.1f} flat out"


def _load_rows(document: dict[str, Any]) -> list[dict[str, Any]]:
    """The document's fixed-rate shares; worked out from its runs if it predates them."""
    rows = document.get("fixed_rate_load")
    return fixed_rate_load(document["runs"]) if rows is None else list(rows)


def _load_lines(rows: list[dict[str, Any]]) -> list[str]:
    """One line per fixed-rate run: how near its rate was to the relay's flat out."""
    lines = []
    for r in rows:
        busy = r["machine_busy_pct"]
        lines.append(
            f"- `{r['scenario']}` (K = {r['recipients']}, {_kib(r['payload_bytes'])}): "
            f"{r['offered_events_per_s']:g} events/s offered, {share(r)}; p99 {r['p99_ms']:.1f} ms"
            + ("" if busy is None else f", cores {busy:.0f} % busy")
            + "."
        )
    if not lines:
        return []
    return ["", "Each fixed rate against the same relay's flat-out rate in this run:", "", *lines]


def _stages(runs: list[dict[str, Any]]) -> list[str]:
    """Where the time went in each run that stamped its stages (the hub at a fixed rate)."""
    lines: list[str] = []
    for run in runs:
        stages = run.get("stages")
        if not stages:
            continue
        lines += [
            "",
            (
                f"Where the time goes in `{run['scenario']}` (K = {run['recipients']}, "
                f"{_kib(run['payload_bytes'])}; ms, the worker's stages from `HubContext.trace`):"
            ),
            "",
            "| stage | p50 | p95 | p99 |",
            "|---|---:|---:|---:|",
            *(
                f"| {label} | {v['p50_ms']} | {v['p95_ms']} | {v['p99_ms']} |"
                for label, v in stages.items()
            ),
        ]
    return lines


def render(document: dict[str, Any]) -> str:
    """The Markdown block between the markers: when, where, the table, the ratios."""
    settings = document.get("settings", {})
    ratio_line = (
        f"Hub ÷ raw at K = 3, 1 KiB: **{document.get('ratio_hub_to_raw_k3_1k')}**; "
        f"FastStream ÷ raw: **{document.get('ratio_faststream_to_raw_k3_1k')}**."
    )
    lines = [
        START,
        (
            f"Generated {document['generated_at']} by `{settings.get('command', 'make bench')}` "
            f"({settings.get('plan', '?')} plan; ledger {document.get('ledger', '?')}; window "
            f"{settings.get('window', '?')}, prefetch {settings.get('prefetch', '?')})."
        ),
        "",
        _machine_line(document),
        "",
        *_table(document["runs"]),
        "",
        ratio_line,
        *_lever_lines(document),
        *_budget(document.get("budget", [])),
        *_load_lines(_load_rows(document)),
        *_stages(document["runs"]),
        END,
    ]
    return "\n".join(lines)


def update_docs(document: dict[str, Any], docs: Path) -> None:
    """Replace the block between the markers in ``docs`` with :func:`render`'s.

    Raises:
        BenchError: ``bench.docs_markers_missing``.
    """
    text = docs.read_text()
    start, end = text.find(START), text.find(END)
    if start < 0 or end < start:
        raise BenchError("bench.docs_markers_missing", f"{docs} has no {START} ... {END}")
    docs.write_text(text[:start] + render(document) + text[end + len(END) :])
