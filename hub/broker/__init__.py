"""The broker room: topology as data, a RabbitMQ broker and an in-memory one.

``base`` holds the :class:`~hub.broker.base.Broker` protocol, the message values
and the error type; ``topology`` the exchanges and queues of ARCHITECTURE section
7 as data; ``amqp`` and ``memory`` the two implementations; ``asyncapi`` the
generated description of the interface (docs/asyncapi.yaml).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from hub.broker.amqp import AmqpBroker
from hub.broker.memory import MemoryBroker

if TYPE_CHECKING:
    from hub.broker.base import Broker


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
