"""The hub's Prometheus metrics, in a registry of their own.

Each :class:`HubMetrics` owns a :class:`~prometheus_client.CollectorRegistry`, not
the process-global one, so two apps (or two tests) never collide. Labels carry
codes and party ids only, never content, and have bounded values: refusal codes
are the documented set, parties come from ``parties.toml``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Final

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest

CONTENT_TYPE: Final = "text/plain; version=0.0.4; charset=utf-8"
#: Seconds; a pipeline pass is dominated by the ledger commit and the publish confirms.
LATENCY_BUCKETS: Final = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


@dataclass(frozen=True)
class HubMetrics:
    """Counters and histograms the pipeline and the ledger increment.

    Attributes:
        registry: the registry every metric here belongs to.
        events_in: ingress messages taken from the queue.
        decisions: decisions recorded, by ``outcome`` (disclosed or withheld).
        deliveries: deliveries published and confirmed, by ``recipient``.
        refusals: refusals, by ``code``.
        pipeline_seconds: time from taking a message to acking it.
        ledger_append_seconds: time of one ledger append (group commit included).
    """

    registry: CollectorRegistry = field(default_factory=CollectorRegistry)
    events_in: Counter = field(init=False)
    decisions: Counter = field(init=False)
    deliveries: Counter = field(init=False)
    refusals: Counter = field(init=False)
    pipeline_seconds: Histogram = field(init=False)
    ledger_append_seconds: Histogram = field(init=False)

    def __post_init__(self) -> None:
        """Create every metric in :attr:`registry`."""
        reg = self.registry
        made = {
            "events_in": Counter("hub_events_in", "Ingress messages taken", registry=reg),
            "decisions": Counter("hub_decisions", "Decisions recorded", ["outcome"], registry=reg),
            "deliveries": Counter(
                "hub_deliveries", "Deliveries confirmed", ["recipient"], registry=reg
            ),
            "refusals": Counter("hub_refusals", "Refusals by code", ["code"], registry=reg),
            "pipeline_seconds": Histogram(
                "hub_pipeline_seconds", "Ingress to ack", buckets=LATENCY_BUCKETS, registry=reg
            ),
            "ledger_append_seconds": Histogram(
                "hub_ledger_append_seconds",
                "One ledger append",
                buckets=LATENCY_BUCKETS,
                registry=reg,
            ),
        }
        for name, metric in made.items():
            object.__setattr__(self, name, metric)

    def exposition(self) -> bytes:
        """The registry in the Prometheus text format."""
        return generate_latest(self.registry)
