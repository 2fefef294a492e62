"""The longest pause of CPython's cyclic garbage collector, for the benchmark's processes."""

from __future__ import annotations

import gc
import time
from typing import Any


class GcPauses:
    """Times every collection (``gc.callbacks``) and keeps the longest since last asked."""

    def __init__(self) -> None:
        """Start timing collections in this process."""
        self._began = 0
        self._longest_ns = 0
        gc.callbacks.append(self._note)

    def _note(self, phase: str, _info: dict[str, Any]) -> None:
        now = time.perf_counter_ns()
        if phase == "start":
            self._began = now
        else:
            self._longest_ns = max(self._longest_ns, now - self._began)

    def take(self) -> float:
        """The longest pause, in ms, since the last call (or since timing began); then reset."""
        longest, self._longest_ns = self._longest_ns, 0
        return round(longest / 1e6, 2)

    def close(self) -> None:
        """Stop timing collections."""
        if self._note in gc.callbacks:
            gc.callbacks.remove(self._note)
