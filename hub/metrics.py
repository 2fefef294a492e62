"""The hub's Prometheus metrics, in a registry of their own.

Each :class:`HubMetrics` owns a :class:`~prometheus_client.CollectorRegistry`, not
the process-global one, so two apps (or two tests) never collide. Labels carry
codes and party ids only, never content, and have bounded values: refusal codes
are the documented set, parties come from ``parties.toml``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Final

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

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
        console_auth_failures: console requests with a bad token and failed sign-ins,
            by ``via`` (``api`` or ``sign_in``).
        pipeline_seconds: time from taking a message to acking it.
        ledger_append_seconds: time of one ledger append (group commit included).
        inbox_messages: messages waiting in each agency's inbox, by ``recipient``.
        inbox_consumers: consumers attached to each agency's inbox, by ``recipient``.
        inbox_oldest_seconds: age of the oldest waiting message, by ``recipient``.
        quarantine_messages: messages held in quarantine, by refusal ``reason``.
        checkpoint_age_seconds: age of the latest signed ledger checkpoint.
        ledger_entries: entries in the ledger.
        key_expiry_seconds: time left on the latest valid key, by ``party`` and ``use``.
        agreement_review_seconds: time to each active agreement's review date,
            by ``agreement`` (negative once overdue).
        witness_answers: answers of the witnesses to the hub's checkpoints, by
            ``witness`` (its policy name) and ``status`` (HTTP, or ``unreachable``).
        witnessed_size: the largest tree size a checkpoint note cosigned by the
            witness policy's quorum covers.
        unwitnessed_seconds: age of the oldest checkpoint the quorum has not yet
            cosigned (0 when every one is).
        receipts_awaiting: deliveries no signed receipt covers yet, by ``recipient``.
        receipts_oldest_seconds: age of the oldest delivery not yet receipted, by
            ``recipient`` (0 when none is).
        erasures_overdue: deliveries past their retention end with no erasure
            receipt, by ``recipient``.

    The counters and histograms are incremented where the work happens; the gauges
    are set when ``/metrics`` is scraped, from the broker, the ledger and the keys.
    """

    registry: CollectorRegistry = field(default_factory=CollectorRegistry)
    events_in: Counter = field(init=False)
    decisions: Counter = field(init=False)
    deliveries: Counter = field(init=False)
    refusals: Counter = field(init=False)
    console_auth_failures: Counter = field(init=False)
    pipeline_seconds: Histogram = field(init=False)
    ledger_append_seconds: Histogram = field(init=False)
    inbox_messages: Gauge = field(init=False)
    inbox_consumers: Gauge = field(init=False)
    inbox_oldest_seconds: Gauge = field(init=False)
    quarantine_messages: Gauge = field(init=False)
    checkpoint_age_seconds: Gauge = field(init=False)
    ledger_entries: Gauge = field(init=False)
    key_expiry_seconds: Gauge = field(init=False)
    agreement_review_seconds: Gauge = field(init=False)
    witness_answers: Counter = field(init=False)
    witnessed_size: Gauge = field(init=False)
    unwitnessed_seconds: Gauge = field(init=False)
    receipts_awaiting: Gauge = field(init=False)
    receipts_oldest_seconds: Gauge = field(init=False)
    erasures_overdue: Gauge = field(init=False)

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
            "console_auth_failures": Counter(
                "hub_console_auth_failures",
                "Console requests refused for a bad token or a failed sign-in",
                ["via"],
                registry=reg,
            ),
            "pipeline_seconds": Histogram(
                "hub_pipeline_seconds", "Ingress to ack", buckets=LATENCY_BUCKETS, registry=reg
            ),
            "ledger_append_seconds": Histogram(
                "hub_ledger_append_seconds",
                "One ledger append",
                buckets=LATENCY_BUCKETS,
                registry=reg,
            ),
            "inbox_messages": Gauge(
                "hub_inbox_messages", "Messages waiting per inbox", ["recipient"], registry=reg
            ),
            "inbox_consumers": Gauge(
                "hub_inbox_consumers", "Consumers per inbox", ["recipient"], registry=reg
            ),
            "inbox_oldest_seconds": Gauge(
                "hub_inbox_oldest_seconds",
                "Age of the oldest waiting message per inbox",
                ["recipient"],
                registry=reg,
            ),
            "quarantine_messages": Gauge(
                "hub_quarantine_messages",
                "Quarantined messages by reason",
                ["reason"],
                registry=reg,
            ),
            "checkpoint_age_seconds": Gauge(
                "hub_ledger_checkpoint_age_seconds", "Age of the latest checkpoint", registry=reg
            ),
            "ledger_entries": Gauge("hub_ledger_entries", "Entries in the ledger", registry=reg),
            "key_expiry_seconds": Gauge(
                "hub_key_expiry_seconds",
                "Time left on the latest valid key",
                ["party", "use"],
                registry=reg,
            ),
            "agreement_review_seconds": Gauge(
                "hub_agreement_review_seconds",
                "Time to an active agreement's review date",
                ["agreement"],
                registry=reg,
            ),
            "witness_answers": Counter(
                "hub_ledger_witness_answers",
                "Witnesses' answers to the hub's checkpoints",
                ["witness", "status"],
                registry=reg,
            ),
            "witnessed_size": Gauge(
                "hub_ledger_witnessed_size",
                "Largest tree size cosigned by the witness quorum",
                registry=reg,
            ),
            "unwitnessed_seconds": Gauge(
                "hub_ledger_unwitnessed_seconds",
                "Age of the oldest checkpoint the witness quorum has not cosigned",
                registry=reg,
            ),
            "receipts_awaiting": Gauge(
                "hub_receipts_awaiting",
                "Deliveries no signed receipt covers yet",
                ["recipient"],
                registry=reg,
            ),
            "receipts_oldest_seconds": Gauge(
                "hub_receipts_oldest_seconds",
                "Age of the oldest delivery no signed receipt covers",
                ["recipient"],
                registry=reg,
            ),
            "erasures_overdue": Gauge(
                "hub_erasures_overdue",
                "Deliveries past their retention end with no erasure receipt",
                ["recipient"],
                registry=reg,
            ),
        }
        for name, metric in made.items():
            object.__setattr__(self, name, metric)

    def exposition(self) -> bytes:
        """The registry in the Prometheus text format."""
        return generate_latest(self.registry)
