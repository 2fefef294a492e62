"""Short blocking disk calls: on the event loop's thread while they stay short.

A SQLite commit with ``synchronous=FULL`` waits for one ``fsync``. On a local disk
that is a fraction of a millisecond, less than handing the call to a thread and
waking the loop again: on the project's 2-core virtual machine a commit inline
cost 60 µs of CPU and 130 µs of wall time, the same commit through
``asyncio.to_thread`` 150 to 180 µs of CPU and 215 to 260 µs (performance notes,
fifth pass). On a slow or busy disk the same call could hold the loop for tens of
milliseconds, and every connection and timer on it with it.

:class:`DiskCalls` runs each call inline and times it. Three calls in a row that
take longer than ``inline_limit``, or one that takes longer than ``stall_limit``,
send the calls of the next ``thread_for`` seconds to a thread, after which it tries
inline again. A slow disk holds the loop for at most three calls, or one stall,
per ``thread_for``. One slow call is not enough: on a busy machine the time may
have gone to waiting for a core, which a thread would not have saved. Under heavy
contention the calls may still move to a thread for a while; that is how every
commit ran before (ADR 0013).
"""

from __future__ import annotations

import asyncio
import time
from typing import TYPE_CHECKING, Final, TypeVar

from hub.logs import get_logger

if TYPE_CHECKING:
    from collections.abc import Callable

log = get_logger("hub.diskcalls")
T = TypeVar("T")
#: A call slower than this (seconds) is slow; SLOW_IN_A_ROW of them move calls to a thread.
INLINE_LIMIT: Final = 0.002
SLOW_IN_A_ROW: Final = 3
#: A single call slower than this (seconds) moves calls to a thread at once.
STALL_LIMIT: Final = 0.02
#: How long (seconds) calls stay in a thread once moved there.
THREAD_FOR: Final = 30.0


class DiskCalls:
    """Runs blocking calls inline while they are fast, in a thread for a while when they are not."""

    def __init__(
        self,
        name: str,
        *,
        inline_limit: float = INLINE_LIMIT,
        stall_limit: float = STALL_LIMIT,
        thread_for: float = THREAD_FOR,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        """Time calls against the limits (seconds); ``name`` labels the log line.

        Raises:
            ValueError: a limit or a period that is not positive.
        """
        if min(inline_limit, stall_limit, thread_for) <= 0:
            raise ValueError("the limits and the thread period must be positive")
        self.name = name
        self.inline_limit = inline_limit
        self.stall_limit = stall_limit
        self.thread_for = thread_for
        self._clock = clock
        self._thread_until = float("-inf")
        self._in_a_row = 0
        #: Calls that took longer than ``inline_limit`` inline.
        self.slow_calls = 0
        #: Times the calls were sent to a thread.
        self.moves = 0

    @property
    def inline(self) -> bool:
        """Whether the next call runs on the loop's thread."""
        return self._clock() >= self._thread_until

    async def run(self, call: Callable[[], T]) -> T:
        """Run ``call`` inline or in a thread (see the module); return what it returns."""
        if not self.inline:
            return await asyncio.to_thread(call)
        start = time.perf_counter()
        try:
            return call()
        finally:
            self._timed(time.perf_counter() - start)

    def _timed(self, took: float) -> None:
        if took <= self.inline_limit:
            self._in_a_row = 0
            return
        self.slow_calls += 1
        self._in_a_row += 1
        if self._in_a_row >= SLOW_IN_A_ROW or took > self.stall_limit:
            self._in_a_row = 0
            self.moves += 1
            self._thread_until = self._clock() + self.thread_for
            log.info("diskcalls.to_thread", store=self.name, elapsed_ms=round(took * 1000, 1))
