"""The load: a sender keeping a window of events in flight (or a fixed rate), K receivers.

Latency runs from the moment the sender hands an event over to the moment a
recipient holds it: for the hub, once the recipient's adapter
(:class:`adapters.client.AgencyClient`) has opened and verified the delivery (the
sender records its publish time by event id); for the raw relays, once the
recipient has received the message (the publish time travels in a header).
An event is complete when all K recipients have it; only then does its slot in
the window free up, so the hub and the relays see the same concurrency.
"""

from __future__ import annotations

import asyncio
import time
from typing import TYPE_CHECKING, Any, Final

from bench.hub_vs_raw.errors import BenchError

if TYPE_CHECKING:
    from collections.abc import Callable, Coroutine

SLOT_SECONDS: Final = 60.0
SENT_HEADER: Final = "bench-sent-ns"
EVENT_HEADER: Final = "bench-event"


class Tracker:
    """Publish times, arrivals per event and the window of events in flight."""

    def __init__(self, fanout: int, window: int) -> None:
        """Track events delivered to ``fanout`` recipients, ``window`` at once."""
        self.fanout = fanout
        self.window = asyncio.Semaphore(window)
        self.latencies_ms: list[float] = []
        self.first_ns = 0
        self.last_ns = 0
        self._sent: dict[str, int] = {}
        self._left: dict[str, int] = {}
        self._expected = 0
        self._complete = 0
        self._done = asyncio.Event()
        #: Per event of this phase, once complete: its publish time and the last arrival (ns).
        self.completed: dict[str, tuple[int, int]] = {}

    def begin(self, events: int) -> None:
        """Start a phase of ``events`` events; forget the previous phase's numbers."""
        self.latencies_ms = []
        self.completed = {}
        self._expected, self._complete = events, 0
        self.first_ns = self.last_ns = 0
        self._done.clear()

    def sent(self, key: str) -> int:
        """Record that event ``key`` is being published now; return the time (ns)."""
        now = time.perf_counter_ns()
        self.first_ns = self.first_ns or now
        self._sent[key] = now
        self._left[key] = self.fanout
        return now

    def arrived(self, key: str, sent_ns: int | None = None) -> None:
        """One recipient has event ``key``; ``sent_ns`` from a header, else the record."""
        now = time.perf_counter_ns()
        start = sent_ns if sent_ns is not None else self._sent.get(key)
        if start is None or key not in self._left:
            return  # a duplicate, or not ours
        self.latencies_ms.append((now - start) / 1e6)
        self._left[key] -= 1
        if self._left[key] == 0:
            del self._left[key]
            self.completed[key] = (self._sent.pop(key, start), now)
            self.window.release()
            self._complete += 1
            self.last_ns = now
            if self._complete >= self._expected:
                self._done.set()

    @property
    def complete(self) -> int:
        """Events of this phase that reached every recipient."""
        return self._complete

    async def acquire(self) -> None:
        """Wait for a free slot in the window (bounded)."""
        try:
            await asyncio.wait_for(self.window.acquire(), SLOT_SECONDS)
        except TimeoutError:
            raise BenchError(
                "bench.incomplete", f"no event completed for {SLOT_SECONDS:.0f} s"
            ) from None

    async def wait(self, seconds: float) -> None:
        """Wait until every event of the phase is complete, at most ``seconds``."""
        try:
            await asyncio.wait_for(self._done.wait(), seconds)
        except TimeoutError:
            raise BenchError(
                "bench.incomplete",
                f"{self._complete} of {self._expected} events complete after {seconds:.0f} s",
            ) from None


async def drive(
    tracker: Tracker,
    keys: list[str],
    send: Callable[[int], Coroutine[Any, Any, None]],
    rate: float | None,
) -> None:
    """Send every event of ``keys`` (by index) and wait for all of them to complete.

    With ``rate`` events per second the sender keeps that pace whatever the relay
    does (an open loop, up to the window); without, it sends as fast as the window
    frees up (a closed loop).
    """
    tracker.begin(len(keys))
    tasks: set[asyncio.Task[None]] = set()
    failures: list[BaseException] = []

    def settle(task: asyncio.Task[None]) -> None:
        tasks.discard(task)
        error = None if task.cancelled() else task.exception()
        if error is not None:
            failures.append(error)

    start = time.perf_counter()
    for index in range(len(keys)):
        if rate:
            await asyncio.sleep(max(0.0, start + index / rate - time.perf_counter()))
        await tracker.acquire()
        if failures:
            raise failures[0]
        task = asyncio.create_task(send(index))
        tasks.add(task)
        task.add_done_callback(settle)
    await tracker.wait(SLOT_SECONDS + len(keys) / 5)
    if failures:
        raise failures[0]
