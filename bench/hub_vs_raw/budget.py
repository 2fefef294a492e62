"""CPU per event across the machine: RabbitMQ's share, and the floor the checks set.

When every run saturates the same cores, the throughput ratio of two relays follows
the inverse ratio of what one event costs the whole machine: the relay, the load
process and RabbitMQ together. :class:`BrokerCpu` reads RabbitMQ's share from
``/proc`` (the node's process id from ``HUB_BENCH_BROKER_PID_FILE``, which
``make bench`` sets for the node it starts). :func:`checks_cpu_s` measures, in this
process, the envelope work no hub can skip for one event (the sender's issue and
seal, the hub's open and verify, and for each recipient the hub's present and seal
and the recipient's open and verify), so a run can say how far hub ÷ raw could go
even if everything else cost what the raw relay's run spends.

Two readings say what a run's numbers can be compared with. :func:`machine_ticks`
reads how busy every core was (``/proc/stat``), so a run shows whether it had the
cores to itself, kept them busy flat out, or met a machine already near full at a
fixed rate. :func:`reference_us` times the operation ``make bench-envelope``
divides by, one Ed25519 JWS sign and verify, in process CPU time rather than wall
time: a snapshot of how fast the host runs our code as a run starts.
"""

from __future__ import annotations

import os
import statistics
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Final

from bench.hub_vs_raw.errors import BenchError
from bench.hub_vs_raw.fixture import SENDER, recipients
from bench.hub_vs_raw.variants import joserfc_envelope
from hub.crypto import sdjwt
from hub.crypto.envelope import DecisionHeader, issue_event, open_delivery, open_ingress, present
from hub.crypto.keys import generate_party_keys

if TYPE_CHECKING:
    from collections.abc import Callable

    from bench.hub_vs_raw.fixture import Keys
    from schemas.base import CaseEvent

PID_FILE_VARIABLE: Final = "HUB_BENCH_BROKER_PID_FILE"
_BATCHES: Final = 5
#: Fields of ``/proc/<pid>/stat`` after the command name: state is 0, utime 11, stime 12.
_UTIME, _STIME = 11, 12
#: The aggregate line of ``/proc/stat``: user nice system idle iowait irq softirq
#: steal, then guest times that user and nice already include.
_IDLE, _IOWAIT, _COUNTED = 3, 4, 8
REFERENCE_ROUNDS: Final = 50
#: Fewest ticks (summed over the cores) a busy share is given for: 0.25 s on two
#: cores at the usual 100 ticks a second, where one tick either way is 2 %.
MIN_TICKS: Final = 50


class BrokerCpu:
    """CPU seconds RabbitMQ's process has used, read from ``/proc/<pid>/stat``."""

    def __init__(self, pid: int) -> None:
        """Read the process ``pid`` (RabbitMQ's ``beam.smp``)."""
        self.pid = pid
        self._tick = os.sysconf("SC_CLK_TCK")

    @classmethod
    def from_environment(cls) -> BrokerCpu | None:
        """The node named by ``HUB_BENCH_BROKER_PID_FILE``, or None when it is not set.

        Raises:
            BenchError: ``bench.broker_pid_invalid`` for a file that does not name a
                running process.
        """
        name = os.environ.get(PID_FILE_VARIABLE, "")
        if not name:
            return None
        try:
            pid = int(Path(name).read_text().split()[0])
        except (OSError, ValueError, IndexError):
            raise BenchError(
                "bench.broker_pid_invalid", f"{PID_FILE_VARIABLE} does not hold a process id"
            ) from None
        meter = cls(pid)
        meter.seconds()  # fails now, not after the first run
        return meter

    def seconds(self) -> float:
        """User and system CPU seconds of every thread of the process so far.

        Raises:
            BenchError: ``bench.broker_pid_invalid`` when the process is gone.
        """
        try:
            text = Path(f"/proc/{self.pid}/stat").read_text()
        except OSError:
            raise BenchError(
                "bench.broker_pid_invalid", f"no process {self.pid} to read the broker's CPU from"
            ) from None
        return cpu_ticks(text) / self._tick


def cpu_ticks(stat: str) -> int:
    """User + system clock ticks from a ``/proc/<pid>/stat`` line.

    The command name (field 2) sits in parentheses and may itself hold spaces and
    parentheses, so the fields are counted from the last ``)``.
    """
    fields = stat[stat.rindex(")") + 2 :].split()
    return int(fields[_UTIME]) + int(fields[_STIME])


def checks_cpu_s(keys: Keys, event: CaseEvent, count: int, rounds: int) -> float:
    """Process CPU seconds of one event's envelope work with ``count`` recipients.

    The sender issues and seals, the hub opens and verifies, then for each recipient
    the hub presents and seals and the recipient opens and verifies: what
    ``bench/envelope_ops.py`` measures per operation, for this run's event and
    parties. Median over five batches of ``rounds`` events.
    """
    rings, directory = keys.rings, keys.directory
    parties = recipients(count)
    headers = [DecisionHeader(uuid.uuid4(), "bench-fictional", 1, r) for r in parties]

    def one() -> None:
        envelope = issue_event(event, rings[SENDER], directory)
        issuance = open_ingress(envelope, rings["hub"], directory)
        groups = set(issuance.groups)
        for party, header in zip(parties, headers, strict=True):
            delivery = present(issuance, groups, header, rings["hub"], directory)
            open_delivery(delivery, rings[party], directory)

    one()  # warm every cache the first call fills
    return per_call_us(one, rounds, time.process_time) / 1e6


def core_ticks(line: str) -> tuple[int, int]:
    """Busy and total clock ticks of every core, from ``/proc/stat``'s ``cpu`` line.

    Busy is all but idle and I/O wait. Time stolen by the hypervisor counts as busy:
    the cores were not the run's to use.

    Raises:
        ValueError: a line that is not the aggregate ``cpu`` line.
    """
    fields = line.split()
    if len(fields) <= _COUNTED or fields[0] != "cpu":
        raise ValueError("not the aggregate cpu line of /proc/stat")
    ticks = [int(value) for value in fields[1 : 1 + _COUNTED]]
    total = sum(ticks)
    return total - ticks[_IDLE] - ticks[_IOWAIT], total


def machine_ticks() -> tuple[int, int] | None:
    """Busy and total ticks of every core so far, or None where ``/proc/stat`` is not."""
    try:
        with Path("/proc/stat").open() as stat:
            return core_ticks(stat.readline())
    except (OSError, ValueError):
        return None


def busy_pct(before: tuple[int, int] | None, after: tuple[int, int] | None) -> float | None:
    """Per cent of every core's time busy between two :func:`machine_ticks` readings.

    None when either is missing, or when fewer than :data:`MIN_TICKS` passed: the
    kernel counts in whole ticks, too coarse to say anything about a shorter phase.
    """
    if before is None or after is None or after[1] - before[1] < MIN_TICKS:
        return None
    return round(100 * (after[0] - before[0]) / (after[1] - before[1]), 1)


def per_call_us(
    func: Callable[[], object], rounds: int, clock: Callable[[], float] = time.perf_counter
) -> float:
    """Median microseconds per call over five batches of ``rounds`` calls, by ``clock``."""
    batches = []
    for _ in range(_BATCHES):
        start = clock()
        for _ in range(rounds):
            func()
        batches.append((clock() - start) / rounds * 1e6)
    return statistics.median(batches)


def reference_jws() -> Callable[[], object]:
    """One Ed25519 JWS sign and verify of a small claim set, with a key of its own."""
    signing = generate_party_keys("bench-reference").signing_key(datetime.now(UTC))
    claims = {"iss": "bench-reference", "jti": str(uuid.uuid4()), "_sd": ["x" * 43] * 8}

    def call() -> object:
        # On joserfc, as before ADR 0031: the yardstick stays the same whatever the hub uses.
        with joserfc_envelope():
            return sdjwt.verify_jwt(sdjwt.sign_jwt({}, claims, signing.key), signing.key)

    return call


def reference_us(rounds: int = REFERENCE_ROUNDS) -> float:
    """How fast this host runs our crypto now: :func:`reference_jws` in process CPU µs.

    Process CPU time leaves out waiting for a core on a busy machine (what
    :func:`busy_pct` shows) and keeps a core that is itself slower, shared or
    throttled by the host.
    """
    call = reference_jws()
    call()  # warm the caches the first call fills
    return per_call_us(call, rounds, time.process_time)
