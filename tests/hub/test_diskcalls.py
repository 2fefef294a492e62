"""Blocking disk calls run inline while fast, in a thread for a while after a slow one."""

from __future__ import annotations

import threading
import time

import pytest
from structlog.testing import capture_logs

from hub.diskcalls import DiskCalls


class FakeClock:
    """A monotonic clock the test moves by hand."""

    def __init__(self) -> None:
        """Start at an arbitrary time."""
        self.now = 100.0

    def __call__(self) -> float:
        """The time now."""
        return self.now


def _thread() -> int:
    return threading.get_ident()


def _slow_thread() -> int:
    time.sleep(0.02)
    return threading.get_ident()


def _inline(calls: DiskCalls) -> bool:
    """Read the property afresh (for the type checker, which would narrow it)."""
    return calls.inline


async def test_a_fast_call_runs_on_the_loops_thread() -> None:
    """A call within the limit runs inline and leaves the runner inline."""
    calls = DiskCalls("test", inline_limit=1.0)
    assert await calls.run(_thread) == threading.get_ident()
    assert calls.inline
    assert calls.slow_calls == 0


async def test_three_slow_calls_in_a_row_send_the_next_calls_to_a_thread_for_a_while() -> None:
    """After three slow calls in a row, calls go to a thread until the period ends."""
    clock = FakeClock()
    calls = DiskCalls("test", inline_limit=0.005, stall_limit=10.0, thread_for=30.0, clock=clock)
    loop_thread = threading.get_ident()
    assert await calls.run(_slow_thread) == loop_thread
    assert await calls.run(_slow_thread) == loop_thread
    assert await calls.run(_thread) == loop_thread  # a fast call starts the count again
    for _ in range(3):
        assert await calls.run(_slow_thread) == loop_thread
    assert (calls.slow_calls, calls.moves) == (5, 1)
    assert _inline(calls) is False
    assert await calls.run(_thread) != loop_thread
    assert await calls.run(_slow_thread) != loop_thread  # timed only inline
    assert (calls.slow_calls, calls.moves) == (5, 1)
    clock.now += 29.9
    assert await calls.run(_thread) != loop_thread
    clock.now += 0.2
    assert _inline(calls) is True
    assert await calls.run(_thread) == loop_thread


async def test_one_stall_sends_the_next_calls_to_a_thread_at_once() -> None:
    """A single call over the stall limit is enough."""
    calls = DiskCalls("test", inline_limit=0.001, stall_limit=0.01, clock=FakeClock())
    assert await calls.run(_slow_thread) == threading.get_ident()
    assert (calls.slow_calls, calls.moves) == (1, 1)
    assert await calls.run(_thread) != threading.get_ident()


async def test_a_call_that_fails_slowly_still_counts_and_its_error_propagates() -> None:
    """A slow call that raises is timed like any other, and its error reaches the caller."""
    calls = DiskCalls("test", inline_limit=0.001, stall_limit=0.01, clock=FakeClock())

    def fail() -> None:
        time.sleep(0.02)
        raise OSError("disk")

    with pytest.raises(OSError, match="disk"):
        await calls.run(fail)
    assert calls.moves == 1
    assert _inline(calls) is False


async def test_the_move_is_logged_with_its_store_and_time_only() -> None:
    """The log line names the store and the time taken, nothing else."""
    calls = DiskCalls("client-state", inline_limit=0.001, stall_limit=0.01)
    with capture_logs() as logs:
        await calls.run(_slow_thread)
    assert len(logs) == 1
    line = logs[0]
    assert line["event"] == "diskcalls.to_thread"
    assert line["store"] == "client-state"
    assert line["elapsed_ms"] >= 20
    assert set(line) == {"event", "log_level", "logger_name", "store", "elapsed_ms"}


@pytest.mark.parametrize(
    ("limit", "stall", "period"),
    [(0.0, 1.0, 1.0), (0.001, 0.0, 1.0), (0.001, 1.0, 0.0), (-1.0, 1.0, 1.0)],
)
def test_limits_must_be_positive(limit: float, stall: float, period: float) -> None:
    """A limit or period of zero or less is refused."""
    with pytest.raises(ValueError, match="positive"):
        DiskCalls("test", inline_limit=limit, stall_limit=stall, thread_for=period)
