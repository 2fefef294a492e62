"""Ledger entries appended per second: group commit against one append at a time.

Usage: ``.venv/bin/python -m bench.ledger_append [--entries N] [--out PATH]``
measures a SQLite ledger in a temporary folder; with ``HUB_BENCH_POSTGRES_DSN``
set it measures a PostgreSQL ledger too, in a fresh schema it drops afterwards.

For each store the baseline is one appender that awaits each call before the
next (one transaction per call, the cost without group commit). Against it run
many concurrent appenders, each call holding one or three drafts (an event with
one or three recipients), so the writer batches whatever has queued into one
transaction. Every run uses a fresh ledger with a checkpoint key, so signed
checkpoints are paid as in the hub. The table gives entries per second, the
entries per transaction the writer achieved, and the ratio to the baseline of
the same store in the same run; ``bench/out/ledger.json`` keeps the rows.
Nothing is asserted.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import time
import uuid
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from tempfile import TemporaryDirectory

import asyncpg

from hub.crypto.keys import generate_party_keys
from hub.ledger.entries import EntryDraft, GrantRecord, WithheldGroup
from hub.ledger.pseudonyms import Pseudonymizer
from hub.ledger.service import Ledger, open_ledger
from hub.logs import configure

OUT = Path(__file__).resolve().parent / "out" / "ledger.json"
#: (concurrent appenders, drafts per call); (1, 1) is the one-at-a-time baseline.
SHAPES = ((1, 1), (8, 1), (64, 1), (256, 1), (64, 3), (256, 3))
RECIPIENTS = ("probation", "health", "advocacy")
_PSEUDONYMS = Pseudonymizer(b"l" * 32)


@dataclass(frozen=True)
class Row:
    """One measured configuration."""

    store: str
    appenders: int
    drafts_per_call: int
    entries: int
    seconds: float
    entries_per_second: float
    entries_per_transaction: float
    ratio: float


def drafts(count: int) -> tuple[EntryDraft, ...]:
    """The disclosure entries of one event to ``count`` recipients."""
    event_id, now = uuid.uuid4(), datetime.now(UTC)
    return tuple(
        EntryDraft(
            kind="disclosure",
            decision_id=uuid.uuid4(),
            recorded_at=now,
            event_id=event_id,
            event_type="ReferralReceived",
            case_pseudonym=_PSEUDONYMS.case(f"CASE-{event_id}"),
            person_pseudonyms=_PSEUDONYMS.persons([f"P-{event_id.hex[:10]}"]),
            provider="police",
            recipient=recipient,
            agreement_id="masip-default",
            agreement_version=1,
            clause="masip-default@1#police-to-" + recipient,
            purpose="stalking risk management",
            lawful_basis="UK GDPR Art 6(1)(e)",
            groups_disclosed=("A", "B", "E"),
            groups_withheld=("G",),
            grants=(
                GrantRecord(
                    agreement_id="masip-default",
                    agreement_version=1,
                    clause="police-to-" + recipient,
                    purpose="stalking risk management",
                    lawful_basis="UK GDPR Art 6(1)(e)",
                    groups=("A", "B", "E"),
                ),
            ),
            withheld=(WithheldGroup(group="G", reason="not_granted"),),
            policy_hash="ab" * 32,
            outcome="disclosed",
        )
        for recipient in RECIPIENTS[:count]
    )


async def _appender(ledger: Ledger, calls: list[tuple[EntryDraft, ...]]) -> None:
    for call in calls:
        await ledger.append(call)


async def _run(ledger: Ledger, appenders: int, per_call: int, entries: int) -> tuple[float, int]:
    """Append ``entries`` entries; return (seconds, write transactions used)."""
    calls = [drafts(per_call) for _ in range(entries // per_call)]
    shares = [calls[i::appenders] for i in range(appenders)]
    before = ledger.store.transactions
    start = time.perf_counter()
    await asyncio.gather(*(_appender(ledger, share) for share in shares))
    elapsed = time.perf_counter() - start
    return elapsed, ledger.store.transactions - before


async def _fresh(store: str, workdir: Path, run: int) -> tuple[Ledger, str | None]:
    keyring = generate_party_keys("hub")
    if store == "sqlite":
        return await open_ledger(f"sqlite:///{workdir / f'ledger-{run}.db'}", keyring=keyring), None
    schema = f"bench_ledger_{uuid.uuid4().hex[:8]}"
    dsn = os.environ["HUB_BENCH_POSTGRES_DSN"]
    return await open_ledger(dsn, keyring=keyring, schema=schema), schema


async def _drop(schema: str) -> None:
    connection = await asyncpg.connect(os.environ["HUB_BENCH_POSTGRES_DSN"])
    try:
        await connection.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
    finally:
        await connection.close()


async def measure(store: str, entries: int, workdir: Path) -> list[Row]:
    """Measure every shape on ``store``, each on a fresh ledger, baseline first."""
    rows: list[Row] = []
    baseline = 0.0
    for run, (appenders, per_call) in enumerate(SHAPES):
        count = entries // 4 if appenders == 1 else entries  # the baseline is slow
        count -= count % per_call
        ledger, schema = await _fresh(store, workdir, run)
        try:
            seconds, transactions = await _run(ledger, appenders, per_call, count)
        finally:
            await ledger.close()
            if schema is not None:
                await _drop(schema)
        rate = count / seconds
        baseline = baseline or rate
        per_tx = count / max(transactions, 1)
        rows.append(Row(store, appenders, per_call, count, seconds, rate, per_tx, rate / baseline))
    return rows


def _print(rows: list[Row]) -> None:
    print(f"{'store':<12}{'appenders':>10}{'drafts/call':>12}{'entries':>9}"
          f"{'entries/s':>11}{'per tx':>8}{'x 1-at-a-time':>15}")  # fmt: skip
    for r in rows:
        rate, per_tx = r.entries_per_second, r.entries_per_transaction
        print(f"{r.store:<12}{r.appenders:>10}{r.drafts_per_call:>12}{r.entries:>9}"
              f"{rate:>11.0f}{per_tx:>8.1f}{r.ratio:>15.1f}")  # fmt: skip


async def main() -> None:
    """Measure the configured stores, print the table, write the JSON."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--entries", type=int, default=3000)
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args()
    configure("console", "WARNING")
    stores = ["sqlite"] + (["postgresql"] if os.environ.get("HUB_BENCH_POSTGRES_DSN") else [])
    rows: list[Row] = []
    with TemporaryDirectory() as workdir:
        for store in stores:
            rows.extend(await measure(store, args.entries, Path(workdir)))
    _print(rows)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    document = {
        "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "baseline": "one appender awaiting each call (one transaction per call)",
        "rows": [asdict(r) for r in rows],
    }
    args.out.write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")
    print(f"(written to {args.out})")


if __name__ == "__main__":
    asyncio.run(main())
