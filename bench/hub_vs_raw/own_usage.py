"""What a relay's child process reports of itself, one JSON line at a time.

Shared by every relay the child runs (``child.py`` and the hub's ``child_hub.py``).
"""

from __future__ import annotations

import contextlib
import json
import resource
import sys
from pathlib import Path
from typing import Any, Final

from bench.hub_vs_raw.gcpauses import GcPauses

PAUSES: Final = GcPauses()


def _peak_rss_kib() -> float:
    """This process's peak RSS since it began running this program.

    Linux carries ``ru_maxrss`` across ``execve``, so a child started by a large
    parent would report the parent's size; ``VmHWM`` belongs to this program's own
    address space. ``ru_maxrss`` is the fallback where there is no ``/proc``.
    """
    with contextlib.suppress(OSError):
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return float(line.split()[1])
    return float(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)


def usage() -> dict[str, float]:
    """This process's CPU seconds (all threads), peak resident memory in MiB, longest pause.

    The pause is the longest garbage collection since the previous call, in ms.
    """
    own = resource.getrusage(resource.RUSAGE_SELF)
    return {
        "cpu_s": own.ru_utime + own.ru_stime,
        "peak_rss_mib": _peak_rss_kib() / 1024,
        "gc_pause_ms": PAUSES.take(),
    }


def say(document: dict[str, Any]) -> None:
    """Print ``document`` as one JSON line for the parent."""
    sys.stdout.write(json.dumps(document) + "\n")
    sys.stdout.flush()
