"""The broker room: topology as data, a RabbitMQ broker and an in-memory one.

``base`` holds the :class:`~hub.broker.base.Broker` protocol, the message values
and the error type; ``topology`` the exchanges and queues of ARCHITECTURE section
7 as data; ``amqp`` and ``memory`` the two implementations; ``asyncapi`` the
generated description of the interface (docs/asyncapi.yaml).
"""

from __future__ import annotations

from hub.broker.amqp import AmqpBroker
from hub.broker.base import (
    PUBLISH_HEADERS,
    UUID_PATTERN,
    Broker,
    BrokerError,
    BrokerErrorCode,
    Consumer,
    IncomingMessage,
    OutgoingMessage,
    QueueInspector,
    QueueStats,
    inspector_of,
)
from hub.broker.definitions import (
    DEFAULT_VHOST,
    DOCUMENT,
    PARTIES_FILE,
    ROOT,
    read_parties,
    render_definitions,
)
from hub.broker.memory import MemoryBroker, MemoryNode
from hub.broker.testing import delete_topologies, next_delivery
from hub.broker.topology import Topology, TopologyNames, default_topology


def make_broker(
    url: str, management_url: str | None = None, failover: tuple[str, ...] = ()
) -> Broker:
    """A broker for ``url``: ``memory://`` (single process only) or ``amqp(s)://``.

    ``management_url`` is RabbitMQ's management API, where the console reads queue
    depths and consumers; the memory broker counts its own. ``failover`` lists the
    cluster's other nodes (``host:port``), tried in turn.
    """
    if url.startswith("memory://"):
        return MemoryBroker()
    return AmqpBroker(url, management_url=management_url, failover=failover)


__all__ = [
    "DEFAULT_VHOST",
    "DOCUMENT",
    "PARTIES_FILE",
    "PUBLISH_HEADERS",
    "ROOT",
    "UUID_PATTERN",
    "AmqpBroker",
    "Broker",
    "BrokerError",
    "BrokerErrorCode",
    "Consumer",
    "IncomingMessage",
    "MemoryBroker",
    "MemoryNode",
    "OutgoingMessage",
    "QueueInspector",
    "QueueStats",
    "Topology",
    "TopologyNames",
    "default_topology",
    "delete_topologies",
    "inspector_of",
    "next_delivery",
    "read_parties",
    "render_definitions",
]
