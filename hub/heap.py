"""Keep a long-running process's start-up heap out of the cyclic garbage collector.

A hub worker or an agency adapter builds tens of thousands of objects at start-up
(80,000 after the imports alone: modules, schemas, validators; then keys and the
policy) that live as long as the process. CPython's oldest-generation collection
walks all of them each time it runs: on the project's 2-core machine that was a
pause of 50 to 80 ms, once or twice a minute, in which no event moved
(docs/performance.md, sixth pass; ADR 0014). :func:`settle`, called once start-up
is done, collects what start-up left behind and then freezes the rest
(:func:`gc.freeze`), so later collections walk only what was made since. Objects
freed by reference counting are freed as before; only a reference cycle that dies
while frozen waits, for the next call, which unfreezes first.
"""

from __future__ import annotations

import gc
import time

from hub.logs import get_logger

log = get_logger(__name__)


def settle() -> int:
    """Collect start-up's garbage, then freeze every object left; return how many are frozen."""
    started = time.perf_counter()
    gc.unfreeze()
    gc.collect()
    gc.freeze()
    frozen = gc.get_freeze_count()
    log.info(
        "heap.settled", count=frozen, elapsed_ms=round((time.perf_counter() - started) * 1e3, 1)
    )
    return frozen
