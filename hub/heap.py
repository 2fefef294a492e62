"""Keep a long-running process's start-up heap out of the cyclic garbage collector.

A hub worker or an agency adapter imports and builds some hundreds of thousands
of objects at start-up (modules, schemas, validators, keys, the policy) that live
as long as the process. CPython's oldest-generation collection walks all of them
each time it runs: on the project's 2-core machine that was a pause of 50 to 65
ms, every half minute or so, in which no event moved (docs/performance.md, sixth
pass). :func:`settle`, called once start-up is done, collects what start-up left
behind and then freezes the rest (:func:`gc.freeze`), so later collections walk
only what was made since. Nothing is lost: frozen objects stay alive as they
would anyway, and a second call first unfreezes, so whatever became garbage in
between is collected then.
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
