"""The benchmark's one error type, with stable codes a caller can act on."""

from __future__ import annotations

from typing import Final

#: Every code a :class:`BenchError` may carry, with what to do about it.
CODES: Final = {
    "bench.broker_url_missing": "set HUB_BENCH_AMQP_URL, or run `make bench`, which starts a node",
    "bench.broker_unreachable": "the RabbitMQ at HUB_BENCH_AMQP_URL did not answer",
    "bench.broker_pid_invalid": (
        "HUB_BENCH_BROKER_PID_FILE must name the running RabbitMQ's pid file, or be unset"
    ),
    "bench.worker_failed": "the relay process did not start or stopped early; see its log",
    "bench.incomplete": "not every delivery arrived in time; see the relay's log",
    "bench.faststream_missing": "install the bench extra: pip install -e '.[dev,bench]'",
    "bench.results_invalid": "the results file is missing or not a benchmark result",
    "bench.docs_markers_missing": "the docs file lacks the benchmark's marker comments",
    "bench.no_flat_out_run": (
        "a fixed rate as a share of flat out needs a flat-out run at its K and size;"
        " give --rate instead"
    ),
}


class BenchError(Exception):
    """A benchmark run that cannot go on; ``code`` is one of :data:`CODES`."""

    def __init__(self, code: str, detail: str) -> None:
        """Carry a stable code and a detail that names no secret (never the broker URL)."""
        if code not in CODES:
            raise ValueError(f"unknown bench error code {code}")
        super().__init__(f"{code}: {detail}")
        self.code = code
        self.detail = detail

    def diagnostics(self) -> str:
        """One line for the terminal: the code, the detail and the hint."""
        return f"bench: error {self.code}: {self.detail} ({CODES[self.code]})"
