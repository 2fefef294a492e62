"""Failed sign-ins and bad tokens: counted, logged with the client's address, slowed per address.

A console token is long and random, so guessing one is hopeless; what this guards
against is a client hammering the console with stolen or stale tokens, and an
operator not noticing. Each failure (a bearer token the store does not know, or a
sign-in with one) is counted in ``hub_console_auth_failures_total{via}`` (alerted
on by ``HubConsoleAuthFailures``), logged as ``console.auth_failed`` with the
client address, and, once an address has failed :attr:`AuthThrottle.free` times
within :attr:`AuthThrottle.window` seconds, answered only after a pause that
doubles with each further failure, up to :attr:`AuthThrottle.most` seconds.
Successful requests are never slowed. The memory is bounded: the least recently
failing addresses are forgotten first.
"""

from __future__ import annotations

import asyncio
import time
from collections import OrderedDict, deque
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Final, Literal

from hub.logs import get_logger

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

    from hub.metrics import HubMetrics

log = get_logger("hub.console.auth")
Via = Literal["api", "sign_in"]
#: Failures an address may make before its answers slow down.
FREE_FAILURES: Final = 5


@dataclass
class AuthThrottle:
    """Failures per client address within a window, and the pause they earn.

    Attributes:
        free: failures within ``window`` answered at once.
        window: seconds a failure counts.
        step: the first pause, in seconds; each further failure doubles it.
        most: the longest pause.
        addresses: the most addresses remembered.
        clock: monotonic seconds.
        sleep: how a pause is taken (a test passes its own).
    """

    free: int = FREE_FAILURES
    window: float = 900.0
    step: float = 0.5
    most: float = 5.0
    addresses: int = 10_000
    clock: Callable[[], float] = time.monotonic
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep
    _failures: OrderedDict[str, deque[float]] = field(default_factory=OrderedDict, repr=False)

    def _recent(self, address: str, now: float) -> deque[float]:
        times = self._failures.pop(address, deque())
        while times and times[0] <= now - self.window:
            times.popleft()
        self._failures[address] = times  # most recent last
        while len(self._failures) > self.addresses:
            self._failures.popitem(last=False)
        return times

    def pause(self, failures: int) -> float:
        """Seconds to wait before answering the ``failures``-th failure in the window."""
        if failures <= self.free:
            return 0.0
        return min(self.most, self.step * 2.0 ** (failures - self.free - 1))

    async def failed(self, address: str | None, via: Via, metrics: HubMetrics) -> None:
        """Count, log and, past the free failures, pause before the refusal is answered."""
        where = address or "unknown"
        now = self.clock()
        times = self._recent(where, now)
        times.append(now)
        metrics.console_auth_failures.labels(via=via).inc()
        wait = self.pause(len(times))
        log.warning("console.auth_failed", via=via, client=where, failures=len(times), pause=wait)
        if wait:
            await self.sleep(wait)
