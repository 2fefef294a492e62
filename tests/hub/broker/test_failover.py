"""Failover endpoints: the same user, vhost and options on each node, tried in turn."""

from __future__ import annotations

import pytest
from yarl import URL

from hub.broker.amqp import FailoverConnection, endpoints
from hub.broker.base import BrokerError

URL_TEXT = "amqps://agent:secret@node1.example:5671/hub?cafile=/etc/hub/ca.pem"


def test_each_failover_node_keeps_the_user_vhost_and_options() -> None:
    """Only host and port change; the first endpoint is the URL itself."""
    found = endpoints(URL_TEXT, ["node2.example:5671", "10.0.0.3:5672"])
    assert found[0] == URL(URL_TEXT)
    assert [(u.host, u.port) for u in found] == [
        ("node1.example", 5671),
        ("node2.example", 5671),
        ("10.0.0.3", 5672),
    ]
    assert {(u.user, u.password, u.path, u.query_string) for u in found} == {
        ("agent", "secret", "/hub", "cafile=/etc/hub/ca.pem")
    }


@pytest.mark.parametrize("entry", ["node2", "node2:", ":5672", "node2:port", "node2:70000"])
def test_a_malformed_failover_entry_is_refused(entry: str) -> None:
    """A failover entry must be host:port; the error names no URL or secret."""
    with pytest.raises(BrokerError) as caught:
        endpoints(URL_TEXT, [entry])
    assert caught.value.code.value == "broker.url_invalid"
    assert "secret" not in str(caught.value)


def test_each_connection_attempt_goes_to_the_next_node() -> None:
    """Reading ``url`` (one attempt) rotates; printing does not, and hides the password."""
    connection = FailoverConnection.__new__(FailoverConnection)
    connection.endpoints = endpoints(URL_TEXT, ["node2.example:5671", "node3.example:5671"])
    dialled = [connection.url.host for _ in range(4)]
    assert dialled == ["node1.example", "node2.example", "node3.example", "node1.example"]
    shown = str(connection)
    assert "secret" not in shown
    assert "node1.example" in shown
    assert str(connection) == shown  # printing twice dials nothing
