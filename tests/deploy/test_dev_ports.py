"""The private services of `make test` and `make bench` listen outside the ephemeral range.

Any client socket may be given a local port from the kernel's ephemeral range
(32768-60999 by default on Linux). A RabbitMQ node whose AMQP, management or
distribution port is held by one fails to boot (``rabbit_is_not_running``), and its
Prometheus plugin (``rabbitmq.sh prometheus-url``) fails to listen; a PostgreSQL
likewise. So every fixed port the Makefile and the scenarios choose, and
the ports ``deploy/dev/rabbitmq.sh`` derives from them, lies below that range, and
no two services share one.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Final

ROOT: Final = Path(__file__).resolve().parents[2]
TESTS: Final = ROOT / "tests"
#: The lowest port of Linux's default ephemeral range (ip_local_port_range).
EPHEMERAL_LOW: Final = 32768
#: Nodes per cluster in ``deploy/dev/rabbitmq-cluster.sh``: BASEPORT, +1 and +2.
CLUSTER_NODES: Final = 3


def _assigned(path: Path, name: str) -> int:
    """The integer ``name`` is given in ``path`` (``NAME ?= 1`` or ``NAME: Final = 1``)."""
    text = path.read_text(encoding="utf-8")
    match = re.search(rf"^{name}\s*(?:\?=|: Final =)\s*(\d+)\s*$", text, re.MULTILINE)
    assert match, f"{path.relative_to(ROOT)} assigns no {name}"
    return int(match.group(1))


def _rabbitmq_ports(port: int) -> list[int]:
    """AMQP, management, distribution and Prometheus ports of a rabbitmq.sh node on ``port``."""
    management = port + 10000 if port + 10000 <= 65535 else port - 10000
    distribution = port + 20000 if port + 20000 <= 65535 else port - 20000
    prometheus = port + 5000 if port + 5000 <= 65535 else port - 5000
    return [port, management, distribution, prometheus]


def _service_ports() -> dict[str, list[int]]:
    """Every private service's ports, by service."""
    makefile = ROOT / "Makefile"
    faults = TESTS / "hub" / "faults" / "conftest.py"
    scale = TESTS / "hub" / "scale" / "conftest.py"
    regions = TESTS / "hub" / "regions" / "conftest.py"
    cluster = _assigned(scale, "CLUSTER_PORT")
    return {
        "test node": _rabbitmq_ports(_assigned(makefile, "AMQP_PORT")),
        # The TLS node has no management listener, but its slot stays free.
        "TLS node": _rabbitmq_ports(_assigned(makefile, "TLS_PORT")),
        "bench node": _rabbitmq_ports(_assigned(makefile, "BENCH_AMQP_PORT")),
        "test PostgreSQL": [_assigned(makefile, "PG_PORT")],
        "faults node": _rabbitmq_ports(_assigned(faults, "RABBITMQ_PORT")),
        "faults PostgreSQL": [_assigned(faults, "POSTGRES_PORT")],
        **{f"scale node {n + 1}": _rabbitmq_ports(cluster + n) for n in range(CLUSTER_NODES)},
        "scale PostgreSQL": [_assigned(scale, "POSTGRES_PORT")],
        "North node": _rabbitmq_ports(_assigned(regions, "NORTH_PORT")),
        "South node": _rabbitmq_ports(_assigned(regions, "SOUTH_PORT")),
    }


def test_every_service_port_is_below_the_ephemeral_range() -> None:
    """No AMQP, management, distribution or PostgreSQL port is one a client may be given."""
    inside = {
        service: [port for port in ports if port >= EPHEMERAL_LOW]
        for service, ports in _service_ports().items()
    }
    assert {service: ports for service, ports in inside.items() if ports} == {}


def test_no_two_services_share_a_port() -> None:
    """Every service, and every port a node derives, has a port of its own."""
    owners: dict[int, str] = {}
    for service, ports in _service_ports().items():
        for port in ports:
            assert port not in owners, f"{service} and {owners[port]} both use {port}"
            owners[port] = service
