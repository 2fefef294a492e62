"""The topology as data: names, arguments and bindings of ARCHITECTURE section 7."""

from __future__ import annotations

import pytest

from hub.broker.topology import (
    Binding,
    DeadLetter,
    Exchange,
    ExchangeType,
    Queue,
    QueueType,
    Topology,
    TopologyNames,
    default_topology,
)

PARTIES = ("police", "probation", "health", "advocacy")
AT_LEAST_ONCE_TO_QUARANTINE = {
    "x-queue-type": "quorum",
    "x-dead-letter-exchange": "hub.quarantine",
    "x-dead-letter-strategy": "at-least-once",
    "x-overflow": "reject-publish",
}


def test_default_names_are_those_of_the_architecture() -> None:
    """Exchanges and queues carry the documented names and party ids only."""
    topology = default_topology(PARTIES)
    assert [(e.name, e.type) for e in topology.exchanges] == [
        ("hub.ingress", ExchangeType.DIRECT),
        ("hub.deliveries", ExchangeType.DIRECT),
        ("hub.quarantine", ExchangeType.FANOUT),
        ("hub.quarantine.log", ExchangeType.FANOUT),
    ]
    inboxes = [f"agency.{p}.inbox" for p in sorted(PARTIES)]
    assert [q.name for q in topology.queues] == [
        "hub.ingress.q",
        *inboxes,
        "hub.quarantine",
        "hub.quarantine.log",
    ]


def test_queues_are_quorum_with_limits_and_at_least_once_dead_lettering() -> None:
    """Ingress and inboxes dead-letter at least once to quarantine past their limits."""
    topology = default_topology(PARTIES, delivery_limit=7, inbox_delivery_limit=30)
    assert topology.queue("hub.ingress.q").arguments() == {
        **AT_LEAST_ONCE_TO_QUARANTINE,
        "x-delivery-limit": 7,
    }
    assert topology.queue("agency.health.inbox").arguments() == {
        **AT_LEAST_ONCE_TO_QUARANTINE,
        "x-delivery-limit": 30,
    }
    assert topology.queue("hub.quarantine").arguments() == {"x-queue-type": "quorum"}


def test_the_quarantine_log_is_a_stream_kept_for_a_year() -> None:
    """The hub's refusals go to a stream: read without taking, dropped after its retention."""
    topology = default_topology(PARTIES)
    assert topology.queue("hub.quarantine.log").arguments() == {
        "x-queue-type": "stream",
        "x-max-age": "1Y",
        "x-stream-max-segment-size-bytes": 8 * 1024 * 1024,
    }


@pytest.mark.parametrize(
    ("queue", "problem"),
    [
        (Queue("s", QueueType.STREAM, dead_letter=DeadLetter("x")), "dead-letters nothing"),
        (Queue("s", QueueType.QUORUM, max_age="1Y"), "needs a stream"),
        (Queue("s", QueueType.STREAM, max_age="1 year"), "a number and"),
        (Queue("s", QueueType.STREAM, delivery_limit=3), "needs a quorum queue"),
    ],
)
def test_a_stream_takes_only_what_a_stream_can(queue: Queue, problem: str) -> None:
    """No dead-lettering or delivery limit on a stream; a maximum age only on one."""
    with pytest.raises(ValueError, match=problem):
        Topology((Exchange("x", ExchangeType.FANOUT),), (queue,))


def test_routing_keys_are_party_ids() -> None:
    """Ingress is keyed by sender, deliveries by recipient, quarantine is fanout."""
    topology = default_topology(["police", "health"])
    assert set(topology.bindings) == {
        Binding("hub.ingress", "hub.ingress.q", "health"),
        Binding("hub.ingress", "hub.ingress.q", "police"),
        Binding("hub.deliveries", "agency.health.inbox", "health"),
        Binding("hub.deliveries", "agency.police.inbox", "police"),
        Binding("hub.quarantine", "hub.quarantine", ""),
        Binding("hub.quarantine.log", "hub.quarantine.log", ""),
    }


def test_the_hub_is_not_an_agency_and_parties_count_once() -> None:
    """The hub gets no inbox, and a repeated party one inbox."""
    topology = default_topology(["hub", "police", "police"])
    assert [q.name for q in topology.queues] == [
        "hub.ingress.q",
        "agency.police.inbox",
        "hub.quarantine",
        "hub.quarantine.log",
    ]


@pytest.mark.parametrize("party", ["Police", "jane doe", "p", "a" * 40, "../x"])
def test_a_party_id_must_be_an_id(party: str) -> None:
    """Anything but a party id is refused as a queue name part."""
    with pytest.raises(ValueError, match="party id"):
        default_topology([party])


def test_a_prefix_separates_names() -> None:
    """A prefix puts every name in its own space, for tests sharing a vhost."""
    names = TopologyNames(prefix="t1.")
    topology = default_topology(["police"], names=names)
    assert all(e.name.startswith("t1.") for e in topology.exchanges)
    assert all(q.name.startswith("t1.") for q in topology.queues)
    assert topology.queue("t1.hub.ingress.q").arguments()["x-dead-letter-exchange"] == (
        "t1.hub.quarantine"
    )


EXCHANGE = Exchange("x", ExchangeType.DIRECT)


@pytest.mark.parametrize(
    ("exchanges", "queues", "bindings"),
    [
        ((EXCHANGE, EXCHANGE), (), ()),
        ((EXCHANGE,), (Queue("q"), Queue("q")), ()),
        ((EXCHANGE,), (Queue("q"),), (Binding("y", "q", "k"),)),
        ((EXCHANGE,), (Queue("q"),), (Binding("x", "r", "k"),)),
        ((EXCHANGE,), (Queue("q", dead_letter=DeadLetter("nowhere")),), ()),
        ((EXCHANGE,), (Queue("q", QueueType.CLASSIC, delivery_limit=3),), ()),
        ((EXCHANGE,), (Queue("q", delivery_limit=-1),), ()),
        ((Exchange("Hub Ingress", ExchangeType.FANOUT),), (), ()),
    ],
)
def test_an_inconsistent_topology_is_refused(
    exchanges: tuple[Exchange, ...], queues: tuple[Queue, ...], bindings: tuple[Binding, ...]
) -> None:
    """Repeated or invalid names, dangling references and impossible limits are refused."""
    with pytest.raises(ValueError, match=r"."):
        Topology(exchanges, queues, bindings)


def test_lookups_name_what_is_missing() -> None:
    """Looking up a name the topology lacks raises ``KeyError``."""
    topology = default_topology(["police"])
    with pytest.raises(KeyError):
        topology.queue("nope")
    with pytest.raises(KeyError):
        topology.exchange("nope")
