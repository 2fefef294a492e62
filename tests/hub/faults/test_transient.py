"""How a worker tells a passing outage from a bad message, without a broker."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace
from typing import TYPE_CHECKING, Any, cast

from hub.broker.base import BrokerError, BrokerErrorCode, IncomingMessage, Outcome
from hub.ledger.base import ErrorCode, LedgerError
from hub.metrics import HubMetrics
from hub.worker import WorkerLimits, handle

if TYPE_CHECKING:
    import pytest

    from hub.context import HubContext

FAST = WorkerLimits(prefetch=1, delivery_limit=2, retry_first=0.01, retry_most=0.02)


def message(settled: list[Outcome], delivery_count: int = 0) -> IncomingMessage:
    """A delivery that records how it is settled."""

    async def settle(outcome: Outcome) -> None:
        settled.append(outcome)

    return IncomingMessage(
        body=b"x", headers={}, message_id=None, user_id=None, routing_key="police",
        exchange="hub.ingress", redelivered=False, delivery_count=delivery_count,
        persistent=True, settle=settle,
    )  # fmt: skip


def failing(monkeypatch: pytest.MonkeyPatch, *errors: Exception) -> list[int]:
    """Make the pipeline raise ``errors`` one per call, then succeed; return the call count."""
    calls = [0]

    async def process(_: Any, __: IncomingMessage) -> str:
        calls[0] += 1
        if calls[0] <= len(errors):
            raise errors[calls[0] - 1]
        return "disclosed"

    monkeypatch.setattr("hub.worker.process", process)
    return calls


async def test_a_ledger_outage_is_waited_out_without_returning_the_message(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Ledger and broker outages are retried in place: the message is never requeued."""
    down = [LedgerError(ErrorCode.UNAVAILABLE, "write: ConnectionRefusedError")] * 4
    calls = failing(monkeypatch, *down, BrokerError(BrokerErrorCode.UNCONFIRMED, "test"))
    settled: list[Outcome] = []
    async with asyncio.timeout(10):
        await handle(_no_ctx(), message(settled), FAST)
    assert calls[0] == 6
    assert settled == []  # the pipeline acks on success; no requeue burnt a delivery


async def test_stopping_during_an_outage_gives_the_message_back(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A worker asked to stop while waiting returns the message to the queue once."""
    failing(monkeypatch, *[LedgerError(ErrorCode.UNAVAILABLE, "write")] * 1000)
    stop = asyncio.Event()
    settled: list[Outcome] = []
    waiting = asyncio.create_task(handle(_no_ctx(), message(settled), FAST, stop))
    await asyncio.sleep(0.05)
    stop.set()
    async with asyncio.timeout(10):
        await waiting
    assert settled == [Outcome.REQUEUE]


async def test_a_stale_delivery_is_left_to_the_broker(monkeypatch: pytest.MonkeyPatch) -> None:
    """When the delivery's channel is gone, the worker neither retries nor settles it."""
    calls = failing(monkeypatch, BrokerError(BrokerErrorCode.STALE_DELIVERY, "gone"))
    settled: list[Outcome] = []
    await handle(_no_ctx(), message(settled), FAST)
    assert (calls[0], settled) == (1, [])


async def test_other_ledger_failures_count_towards_the_delivery_limit(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A failure waiting cannot cure goes back to the queue, counted, not retried in place."""
    calls = failing(monkeypatch, LedgerError(ErrorCode.HASH_MISMATCH, "read entries"))
    settled: list[Outcome] = []
    await handle(_no_ctx(), message(settled), FAST)
    assert (calls[0], settled) == (1, [Outcome.REQUEUE])


def test_pauses_double_up_to_their_cap() -> None:
    """Retry pauses grow from the first to the longest, jittered down by at most a fifth."""
    limits = WorkerLimits(1, 1, retry_first=0.5, retry_most=4.0)
    pauses = [limits.pause(attempt) for attempt in (1, 2, 3, 4, 5, 60)]
    for pause, base in zip(pauses, (0.5, 1.0, 2.0, 4.0, 4.0, 4.0), strict=True):
        assert base * 0.8 <= pause <= base


def _no_ctx() -> HubContext:
    """The pipeline is replaced in these tests: the worker reads only the metrics."""
    return cast("HubContext", SimpleNamespace(metrics=HubMetrics()))
