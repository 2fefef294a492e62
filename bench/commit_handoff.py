"""What handing a SQLite call to a thread costs, against running it on the loop.

Usage: ``.venv/bin/python -m bench.commit_handoff [--calls N] [--rounds R]``
(``make bench-commit``). In a temporary folder, one call at a time, as at light
load where nothing else shares a commit:

- **client state**: an agency client's state file (:class:`adapters.state.StateFile`),
  one insert and one commit (``synchronous=FULL``), with the commit as shipped
  (inline, on the loop's thread) and in a thread;
- **ledger append**: one SQLite ledger append of one entry (as ``bench/ledger_append.py``
  makes them), with ``BEGIN IMMEDIATE`` as shipped (inline when the write lock is
  free) and in a thread.

Rounds alternate the two ways; each row gives the median over rounds of CPU time
(user and system, every thread of the process) and wall time per call, and the
ratio of the shipped way to the thread baseline measured in the same run. Results
go to ``bench/out/commit_handoff.json``. Nothing is asserted.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import resource
import statistics
import time
import uuid
from dataclasses import asdict, dataclass
from pathlib import Path
from tempfile import TemporaryDirectory
from typing import TYPE_CHECKING, Any, TypeVar

from adapters import state as state_module
from adapters.state import StateFile
from bench.ledger_append import drafts
from hub.ledger import sqlite as sqlite_store
from hub.ledger.service import Ledger
from hub.logs import configure

if TYPE_CHECKING:
    import sqlite3
    from collections.abc import Awaitable, Callable

OUT = Path(__file__).resolve().parent / "out" / "commit_handoff.json"
T = TypeVar("T")


@dataclass(frozen=True)
class Row:
    """One measured way of making one call."""

    case: str
    way: str
    calls: int
    cpu_us: float
    wall_us: float
    cpu_ratio: float
    wall_ratio: float


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


#: CPU and wall microseconds per call.
Sample = tuple[float, float]


async def _timed(calls: int, one: Callable[[int], Awaitable[None]]) -> tuple[float, float]:
    """CPU and wall microseconds per call of ``one``, over ``calls`` calls."""
    cpu, wall = _cpu(), time.perf_counter()
    for number in range(calls):
        await one(number)
    return (_cpu() - cpu) / calls * 1e6, (time.perf_counter() - wall) / calls * 1e6


def _schema(connection: sqlite3.Connection) -> None:
    connection.execute("CREATE TABLE IF NOT EXISTS seen (event_id TEXT PRIMARY KEY)")


async def _commit_in_thread(connection: sqlite3.Connection) -> None:
    await asyncio.to_thread(connection.commit)


async def _state_file(folder: Path, way: str, calls: int) -> Sample:
    state = await StateFile.open(folder / f"state-{uuid.uuid4().hex}.db", _schema)
    shipped: Any = state_module._commit  # noqa: SLF001 - the bench swaps in the baseline
    if way == "thread":
        state_module._commit = _commit_in_thread  # noqa: SLF001
    try:

        async def one(_: int) -> None:
            written = await state.write("INSERT INTO seen VALUES (?)", (uuid.uuid4().hex,))
            await state.commit(written)

        return await _timed(calls, one)
    finally:
        state_module._commit = shipped  # noqa: SLF001
        await state.close()


async def _begin_in_thread(db: sqlite3.Connection) -> None:
    await asyncio.to_thread(db.execute, "BEGIN IMMEDIATE")


async def _ledger(folder: Path, way: str, calls: int) -> Sample:
    store = sqlite_store.SqliteStore(folder / f"ledger-{uuid.uuid4().hex}.db")
    await store.open()
    ledger = Ledger(store)
    await ledger.start()
    shipped: Any = sqlite_store._begin  # noqa: SLF001 - the bench swaps in the baseline
    if way == "thread":
        sqlite_store._begin = _begin_in_thread  # noqa: SLF001
    try:

        async def one(_: int) -> None:
            await ledger.append(drafts(1))

        return await _timed(calls, one)
    finally:
        sqlite_store._begin = shipped  # noqa: SLF001
        await ledger.close()


CASES: dict[str, Callable[[Path, str, int], Awaitable[Sample]]] = {
    "client state: insert + commit": _state_file,
    "ledger: append one draft": _ledger,
}


async def measure(calls: int, rounds: int) -> list[Row]:
    """Every case both ways, ``rounds`` alternating rounds of ``calls`` calls."""
    rows = []
    with TemporaryDirectory(prefix="commit-handoff-") as folder:
        for case, run in CASES.items():
            samples: dict[str, list[Sample]] = {"shipped": [], "thread": []}
            await run(Path(folder), "shipped", max(10, calls // 10))  # warm-up
            for number in range(rounds):
                order = ("shipped", "thread") if number % 2 == 0 else ("thread", "shipped")
                for way in order:
                    samples[way].append(await run(Path(folder), way, calls))
                print(f"  {case}: round {number + 1}/{rounds}", flush=True)
            base_cpu = statistics.median(c for c, _ in samples["thread"])
            base_wall = statistics.median(w for _, w in samples["thread"])
            for way, got in samples.items():
                cpu = statistics.median(c for c, _ in got)
                wall = statistics.median(w for _, w in got)
                rows.append(
                    Row(case, way, calls, round(cpu, 1), round(wall, 1),
                        round(cpu / base_cpu, 3), round(wall / base_wall, 3))
                )  # fmt: skip
    return rows


def main() -> None:
    """Measure, print the table, write the JSON."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args()
    if args.calls < 1 or args.rounds < 1:
        parser.error("--calls and --rounds must be at least 1")
    configure(level="WARNING")
    rows = asyncio.run(measure(args.calls, args.rounds))
    print("| case | way | CPU µs/call | wall µs/call | CPU ÷ thread | wall ÷ thread |")
    print("|---|---|---:|---:|---:|---:|")
    for row in rows:
        print(
            f"| {row.case} | {row.way} | {row.cpu_us} | {row.wall_us} "
            f"| {row.cpu_ratio} | {row.wall_ratio} |"
        )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps([asdict(r) for r in rows], indent=2) + "\n")
    print(f"results in {args.out}")


if __name__ == "__main__":
    main()
