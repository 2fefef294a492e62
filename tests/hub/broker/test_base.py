"""Message values: the header allow-list and property patterns keep personal data out (P1)."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from hub.broker.base import (
    BrokerError,
    BrokerErrorCode,
    IncomingMessage,
    Outcome,
    OutgoingMessage,
    delivery_count,
    readable_headers,
)

EVENT_ID = str(uuid.uuid4())
VICTIM = "Jane Doe, 12 Acacia Avenue"


def message(**changes: Any) -> OutgoingMessage:
    """A valid delivery message, with ``changes`` applied."""
    fields: dict[str, Any] = {
        "exchange": "hub.deliveries",
        "routing_key": "health",
        "body": b"jwe",
        "message_id": EVENT_ID,
        "headers": {"event-id": EVENT_ID, "event-type": "ReferralReceived", "schema-version": 1},
    }
    return OutgoingMessage(**(fields | changes))


def refusal(**changes: Any) -> BrokerError:
    """The error that building ``message(**changes)`` raises."""
    with pytest.raises(BrokerError) as caught:
        message(**changes)
    return caught.value


def test_allowed_headers_pass_and_are_frozen() -> None:
    """Ids, types, parties, versions and reason codes are accepted, and cannot change later."""
    headers = {
        "event-id": EVENT_ID,
        "decision-id": str(uuid.uuid4()),
        "event-type": "RiskAssessmentCompleted",
        "schema-version": 2,
        "sender": "police",
        "recipient": "advocacy",
        "agreement-id": "masip-exampleshire",
        "agreement-version": 3,
        "reason": "schema.unknown_version",
        "kind": "refusal",
    }
    sent = message(headers=headers)
    assert dict(sent.headers) == headers
    with pytest.raises(TypeError):
        sent.headers["event-id"] = VICTIM  # type: ignore[index]


@pytest.mark.parametrize("key", ["victim-name", "x-delivery-count", "Event-Id", VICTIM])
def test_a_header_key_off_the_allow_list_is_refused_without_echo(key: str) -> None:
    """An unknown key is refused, and the error names neither the key nor the value."""
    error = refusal(headers={key: "x"})
    assert error.code is BrokerErrorCode.HEADER_NOT_ALLOWED
    assert key not in str(error)


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("event-id", VICTIM),
        ("event-id", EVENT_ID.upper()),
        ("sender", "Police Scotland"),
        ("event-type", "referral received"),
        ("reason", "the victim moved to Leeds"),
        ("agreement-id", "masip exampleshire"),
        ("schema-version", "1"),
        ("schema-version", True),
        ("schema-version", -1),
        ("schema-version", 2**40),
        ("kind", b"bytes"),
    ],
)
def test_a_header_value_outside_its_pattern_is_refused_without_echo(key: str, value: Any) -> None:
    """A value that does not match its key's pattern is refused; the error names only the key."""
    error = refusal(headers={key: value})
    assert error.code is BrokerErrorCode.HEADER_NOT_ALLOWED
    assert key in error.detail
    assert str(value) not in str(error)


@pytest.mark.parametrize(
    "changes",
    [
        {"message_id": VICTIM},
        {"message_id": "12"},
        {"routing_key": "Jane.Doe"},
        {"exchange": "Hub Ingress"},
        {"content_type": "text/plain; name=Jane"},
        {"user_id": "Jane Doe"},
        {"body": "text, not bytes"},
    ],
)
def test_properties_outside_their_patterns_are_refused(changes: dict[str, Any]) -> None:
    """Message id, routing key, exchange, content type, user id and body are checked too."""
    error = refusal(**changes)
    assert error.code is BrokerErrorCode.MESSAGE_INVALID
    assert VICTIM not in str(error)


def test_a_fanout_message_may_have_an_empty_routing_key() -> None:
    """The quarantine exchange is fanout: an empty routing key is allowed."""
    assert message(exchange="hub.quarantine", routing_key="").routing_key == ""


def test_readable_headers_keep_only_allowed_and_broker_headers() -> None:
    """A received message shows allow-listed headers and RabbitMQ's own, nothing else."""
    raw = {
        "event-id": EVENT_ID,
        "sender": VICTIM,
        "victim-name": VICTIM,
        "x-delivery-count": 2,
        "x-first-death-reason": "delivery_limit",
        "x-first-death-queue": "hub.ingress.q",
        "x-death": [{"count": 1, "reason": "delivery_limit"}],
    }
    assert readable_headers(raw) == {
        "event-id": EVENT_ID,
        "x-delivery-count": 2,
        "x-first-death-reason": "delivery_limit",
        "x-first-death-queue": "hub.ingress.q",
    }


@pytest.mark.parametrize(
    ("headers", "count"),
    [
        ({}, 0),
        ({"x-delivery-count": 3}, 3),
        ({"x-delivery-count": True}, 0),
        ({"x-delivery-count": "2"}, 0),
    ],
)
def test_delivery_count_reads_the_quorum_header(headers: dict[str, object], count: int) -> None:
    """The delivery count is ``x-delivery-count`` when it is a count, else 0."""
    assert delivery_count(headers) == count


async def test_an_incoming_message_settles_once() -> None:
    """The first settlement reaches the broker; a second raises ``broker.already_settled``."""
    outcomes: list[Outcome] = []

    async def settle(outcome: Outcome) -> None:
        outcomes.append(outcome)

    received = IncomingMessage(
        body=b"",
        headers={},
        message_id=None,
        user_id=None,
        routing_key="",
        exchange="",
        redelivered=False,
        delivery_count=0,
        persistent=True,
        settle=settle,
    )
    await received.reject(requeue=True)
    with pytest.raises(BrokerError) as caught:
        await received.ack()
    assert caught.value.code is BrokerErrorCode.ALREADY_SETTLED
    assert outcomes == [Outcome.REQUEUE]
