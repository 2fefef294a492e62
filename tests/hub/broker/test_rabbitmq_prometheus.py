"""RabbitMQ's own Prometheus plugin, scraped as deploy/prometheus/prometheus.yml scrapes it.

The plugin is enabled on the test node (``rabbitmq.sh prometheus-url``, on loopback)
and read with the committed jobs' paths and parameters, the vhost aside: the node
counts what waits in a stalled inbox, and says no consumer is attached.
"""

from __future__ import annotations

import asyncio
import os
import uuid
from pathlib import Path
from typing import Any, Final

import aiohttp
import pytest
import yaml
from prometheus_client.parser import text_string_to_metric_families
from services import amqp_url, dev_script

from hub.broker.amqp import AmqpBroker
from hub.broker.base import OutgoingMessage
from hub.broker.testing import delete_topologies, unique_names
from hub.broker.topology import default_topology
from hub.embedded import AGENCIES

CONFIG: Final = Path(__file__).resolve().parents[3] / "deploy" / "prometheus" / "prometheus.yml"
WAITING: Final = 2


def _job(name: str) -> dict[str, Any]:
    jobs = yaml.safe_load(CONFIG.read_text(encoding="utf-8"))["scrape_configs"]
    (job,) = [j for j in jobs if j["job_name"] == name]
    return dict(job)


def _samples(text: str, name: str) -> dict[str, float]:
    """The values of metric ``name`` by their ``queue`` label."""
    return {
        sample.labels.get("queue", ""): float(sample.value)
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name == name
    }


async def test_the_broker_reports_a_stalled_inbox_to_prometheus() -> None:
    """Depth and consumers of an inbox, from the plugin's per-queue endpoint."""
    url = amqp_url()
    folder = os.environ.get("HUB_TEST_RABBITMQ_DIR") or pytest.skip("needs HUB_TEST_RABBITMQ_DIR")
    metrics = dev_script("rabbitmq.sh", "prometheus-url", folder, timeout=120)
    base = metrics.removesuffix("/metrics")
    detailed = _job("rabbitmq-queues")
    params = [
        (key, "hub-test" if key == "vhost" else value)
        for key, values in detailed["params"].items()
        for value in values
    ]
    names = unique_names()
    inbox = names.inbox("police")
    try:
        async with AmqpBroker(url) as broker:
            await broker.apply(default_topology(AGENCIES, names=names))
            for _ in range(WAITING):
                await broker.publish(
                    OutgoingMessage(names.deliveries, "police", b"fictional", str(uuid.uuid4()))
                )
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)) as http:
            async with http.get(base + _job("rabbitmq")["metrics_path"]) as answer:
                assert answer.status == 200
                assert "rabbitmq_build_info" in await answer.text()
            async with asyncio.timeout(60):
                while True:
                    async with http.get(base + detailed["metrics_path"], params=params) as answer:
                        assert answer.status == 200
                        text = await answer.text()
                    if _samples(text, "rabbitmq_detailed_queue_messages").get(inbox) == WAITING:
                        break
                    await asyncio.sleep(1)
        assert _samples(text, "rabbitmq_detailed_queue_consumers")[inbox] == 0
        assert _samples(text, "rabbitmq_detailed_queue_messages_ready")[inbox] == WAITING
    finally:
        await delete_topologies(url, [default_topology(AGENCIES, names=names)])
