"""The backlog alerts fire on what the console exports for a real stalled inbox.

A real RabbitMQ node holds three deliveries for the police inbox, with no adapter
attached: quorum queues, which report no head timestamp. The console looks at it
once a minute of its own clock for 80 minutes and exports its gauges each time;
the exported values become the input series of ``promtool test rules``, with the
same expectations as deploy/prometheus/alerts_test.yml's backlog and no-consumer
cases. So the alerts are shown to fire on the console's real numbers, not only on
series written by hand.
"""

from __future__ import annotations

import asyncio
import os
import uuid
from contextlib import AsyncExitStack
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

import pytest
import yaml
from prometheus_client.parser import text_string_to_metric_families
from services import amqp_url, assert_ok, dev_script, promtool_path, run_promtool

from hub.broker.amqp import AmqpBroker
from hub.broker.base import OutgoingMessage
from hub.broker.testing import delete_topologies, unique_names
from hub.broker.topology import default_topology
from hub.console.deps import ConsoleDeps
from hub.console.operations import refresh_queue_gauges
from hub.embedded import AGENCIES, hub_on

if TYPE_CHECKING:
    from hub.console.tokens import TokenStore
    from hub.crypto.keys import KeyDirectory, PartyKeyring

PROMETHEUS: Final = Path(__file__).resolve().parents[3] / "deploy" / "prometheus"
MINUTES: Final = 80
WAITING: Final = 3


def _exported(text: str, name: str, recipient: str) -> float | None:
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name and sample.labels.get("recipient") == recipient:
                return float(sample.value)
    return None


def _case(alertname: str) -> dict[str, Any]:
    """The case of alerts_test.yml that tests ``alertname`` firing."""
    tests = yaml.safe_load((PROMETHEUS / "alerts_test.yml").read_text(encoding="utf-8"))["tests"]
    for case in tests:
        for check in case.get("alert_rule_test", []):
            if check["alertname"] == alertname and check["exp_alerts"]:
                return dict(case)
    raise AssertionError(f"alerts_test.yml has no firing case of {alertname}")


async def _settled(deps: ConsoleDeps, queue: str) -> None:
    """Wait until the management API counts the deliveries and the consumers.

    It samples every 5 s, and a quorum queue's message counts, consumer count and
    publish count come from separate samples: one may be in the answer while
    another is still missing.
    """
    inspector = deps.hub.broker
    async with asyncio.timeout(30):
        while True:
            stats = (await inspector.queue_stats([queue])).get(queue)  # type: ignore[attr-defined]
            if (
                stats is not None
                and stats.ready == WAITING
                and stats.consumers is not None
                and stats.published is not None
            ):
                return
            await asyncio.sleep(0.5)


async def test_a_real_stalled_inbox_fires_the_backlog_and_no_consumer_alerts(
    tmp_path: Path,
    keyrings: dict[str, PartyKeyring],
    directory: KeyDirectory,
    store: TokenStore,
) -> None:
    """A real stalled inbox fires the backlog and no consumer alerts."""
    url = amqp_url()
    folder = os.environ.get("HUB_TEST_RABBITMQ_DIR") or pytest.skip("needs HUB_TEST_RABBITMQ_DIR")
    management = dev_script("rabbitmq.sh", "management-url", folder, timeout=30)
    promtool = promtool_path()
    names = unique_names()
    start = datetime.now(UTC)
    clock = [start]
    async with AsyncExitStack() as stack:
        stack.push_async_callback(delete_topologies, url, [default_topology(AGENCIES, names=names)])
        broker = await stack.enter_async_context(AmqpBroker(url, management_url=management))
        ctx = await hub_on(stack, tmp_path, keyrings["hub"], directory, broker, names)
        for _ in range(WAITING):
            await broker.publish(
                OutgoingMessage(names.deliveries, "police", b"fictional", str(uuid.uuid4()))
            )
        deps = ConsoleDeps(ctx, store, clock=lambda: clock[0])
        await _settled(deps, names.inbox("police"))
        oldest, consumers = [], []
        for minute in range(MINUTES + 1):
            clock[0] = start + timedelta(minutes=minute)
            await refresh_queue_gauges(deps)
            text = deps.metrics.exposition().decode()
            oldest.append(_exported(text, "hub_inbox_oldest_seconds", "police"))
            consumers.append(_exported(text, "hub_inbox_consumers", "police"))
    assert None not in oldest, "the console exported no age for a quorum inbox"
    assert oldest[25] >= 900  # type: ignore[operator]

    backlog = _case("HubInboxBacklog")
    police = 'hub_inbox_oldest_seconds{job="hub-console",instance="hub-1:8443",recipient="police"}'
    series = [s for s in backlog["input_series"] if s["series"] == police]
    assert series, "the backlog case no longer tests the police inbox"
    series[0]["values"] = " ".join(f"{v:g}" for v in oldest)

    no_consumer = _case("HubInboxNoConsumer")
    no_consumer["input_series"] = [
        {
            "series": 'hub_inbox_consumers{job="hub-console",instance="hub-1:8443",'
            'recipient="police"}',
            "values": " ".join(f"{v:g}" for v in consumers),
        }
    ]
    checks = [c for c in no_consumer["alert_rule_test"] if c["exp_alerts"]]
    for check in checks:
        for alert in check["exp_alerts"]:
            alert["exp_labels"]["recipient"] = "police"
            alert["exp_annotations"] = {
                k: v.replace("health", "police") for k, v in alert["exp_annotations"].items()
            }
    no_consumer["alert_rule_test"] = checks

    tests = {
        "rule_files": [str(PROMETHEUS / "alerts.yml")],
        "evaluation_interval": "1m",
        "tests": [backlog, no_consumer],
    }
    path = tmp_path / "stalled_test.yml"
    path.write_text(yaml.safe_dump(tests, sort_keys=False), encoding="utf-8")
    assert_ok(run_promtool(promtool, "test", "rules", path, cwd=tmp_path))
