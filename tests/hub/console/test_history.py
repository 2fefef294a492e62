"""The console's queue history: the oldest message's age from counts, growth, the drawing."""

from __future__ import annotations

from collections import deque
from itertools import pairwise

from hypothesis import given, settings
from hypothesis import strategies as st

from hub.broker import QueueStats
from hub.console.history import (
    QueueHistory,
    Sample,
    growing,
    oldest_seconds,
    sparkline,
)


def _stats(messages: int, published: int | None, consumers: int = 0) -> QueueStats:
    return QueueStats("q", ready=messages, unacked=0, consumers=consumers, published=published)


def test_an_empty_queue_has_no_age() -> None:
    """An empty queue has no age."""
    assert oldest_seconds([Sample(0.0, 0, 0, 5)], 100.0) == 0.0


def test_unknown_counts_give_no_age_never_zero() -> None:
    """Unknown counts give no age never zero."""
    assert oldest_seconds([], 10.0) is None
    assert oldest_seconds([Sample(0.0, None, 0, 5)], 10.0) is None
    assert oldest_seconds([Sample(0.0, 3, 0, None)], 10.0) is None


def test_a_head_timestamp_is_used_when_the_broker_gives_one() -> None:
    """A head timestamp is used when the broker gives one."""
    assert oldest_seconds([Sample(10.0, 3, 0, None, head_seconds=40.0)], 15.0) == 45.0


def test_the_oldest_is_dated_by_the_first_sample_that_counted_it() -> None:
    """The oldest is dated by the first sample that counted it."""
    # 2 published by t=0, 5 by t=60, 9 by t=120; 6 waiting at t=120: numbers 4..9,
    # so the oldest (number 4) came between t=0 and t=60.
    samples = [Sample(0.0, 2, 0, 2), Sample(60.0, 5, 0, 5), Sample(120.0, 6, 1, 9)]
    assert oldest_seconds(samples, 130.0) == 70.0


def test_a_message_older_than_the_history_is_at_least_as_old_as_the_history() -> None:
    """A message older than the history is at least as old as the history."""
    samples = [Sample(100.0, 4, 0, 10), Sample(200.0, 4, 0, 10)]
    assert oldest_seconds(samples, 1000.0) == 900.0


def test_a_broker_restart_that_begins_the_count_again_is_not_crossed() -> None:
    """A broker restart that begins the count again is not crossed."""
    # The count fell from 50 to 3 between t=60 and t=120: older samples say nothing.
    samples = [Sample(0.0, 1, 0, 40), Sample(60.0, 1, 0, 50), Sample(120.0, 3, 0, 3)]
    assert oldest_seconds(samples, 180.0) == 60.0


_EVENTS = st.lists(
    st.tuples(st.sampled_from(["publish", "take", "look"]), st.floats(0.5, 120.0)),
    min_size=1,
    max_size=80,
)


@settings(max_examples=300, deadline=None)
@given(_EVENTS)
def test_the_estimate_is_a_lower_bound_short_by_at_most_one_sampling_gap(
    events: list[tuple[str, float]],
) -> None:
    """A first-in first-out queue simulated: publishes and takes between looks at random times."""
    history = QueueHistory(spacing=0.0)
    waiting: deque[float] = deque()
    published, now, looks = 0, 0.0, [0.0]
    history.record({"q": _stats(0, 0)}, now)
    for kind, step in events:
        now += step
        if kind == "publish":
            waiting.append(now)
            published += 1
        elif kind == "take" and waiting:
            waiting.popleft()
        if kind != "look":
            continue
        history.record({"q": _stats(len(waiting), published)}, now)
        looks.append(now)
        estimate = history.oldest_seconds("q", now)
        true_age = now - waiting[0] if waiting else 0.0
        assert estimate is not None
        assert estimate <= true_age + 1e-9
        gap = max(b - a for a, b in pairwise(looks)) if len(looks) > 1 else 0
        assert estimate >= true_age - gap - 1e-9


def test_frequent_looks_keep_samples_apart_and_the_age_still_grows() -> None:
    """Frequent looks keep samples apart and the age still grows."""
    history = QueueHistory(spacing=5.0)
    history.record({"q": _stats(0, 0)}, 0.0)
    history.record({"q": _stats(1, 1)}, 1.0)  # one message arrives at about t=1
    for tick in range(2, 200, 2):
        history.record({"q": _stats(1, 1)}, float(tick))
    age = history.oldest_seconds("q", 198.0)
    assert age is not None
    assert 190.0 <= age <= 197.0
    kept = history.samples("q")
    assert all(b.at - a.at <= 5.0 for a, b in pairwise(kept))
    assert len(kept) < 60


def test_the_history_keeps_one_hour() -> None:
    """The history keeps one hour."""
    history = QueueHistory(spacing=0.0)
    for minute in range(120):
        history.record({"q": _stats(0, 0)}, minute * 60.0)
    kept = history.samples("q")
    assert kept[0].at >= 119 * 60.0 - 3600.0
    assert len(kept) == 61


def test_growing_needs_a_rise_over_the_whole_window() -> None:
    """Growing needs a rise over the whole window."""
    rising = [Sample(t * 60.0, t, 0, t) for t in range(11)]
    assert growing(rising, 600.0)
    steady = [Sample(t * 60.0, 5, 0, 5 + t) for t in range(11)]
    assert not growing(steady, 600.0)
    fell_back = [*rising[:-1], Sample(600.0, 3, 0, 10)]
    assert not growing(fell_back, 600.0)
    just_started = [Sample(590.0, 1, 0, 1), Sample(595.0, 2, 0, 2), Sample(600.0, 3, 0, 3)]
    assert not growing(just_started, 600.0)


def test_the_sparkline_spans_the_hour_and_scales_to_its_largest_value() -> None:
    """The sparkline spans the hour and scales to its largest value."""
    samples = [Sample(0.0, 0, 0, 0, 0.0), Sample(1800.0, 10, 0, 10, 2.0), Sample(3600.0, 5, 0, 10)]
    line = sparkline(samples, 3600.0, width=100, height=20)
    assert line.depth == "3.0,18.0 50.0,2.0 97.0,10.0"
    assert line.rate == "3.0,18.0 50.0,2.0"
    assert line.last == (97.0, 10.0)
    assert (line.most_depth, line.most_rate, line.samples) == (10, 2.0, 3)
    assert sparkline([], 0.0).depth == ""


def test_an_age_past_the_hour_keeps_growing() -> None:
    """An age past the hour keeps growing."""
    history = QueueHistory(spacing=5.0)
    history.record({"q": _stats(0, 0)}, 0.0)
    history.record({"q": _stats(2, 2)}, 60.0)  # two arrive between t=0 and t=60
    for second in range(120, 5 * 3600, 15):
        history.record({"q": _stats(2, 2)}, float(second))
    age = history.oldest_seconds("q", 5 * 3600.0)
    assert age is not None
    assert 5 * 3600.0 - 60.0 - 300.0 <= age <= 5 * 3600.0 - 60.0
    assert history.samples("q")[0].at >= 4 * 3600.0 - 15.0  # the charts keep the hour


def test_older_samples_are_kept_coarse_for_a_day_and_the_first_for_good() -> None:
    """Older samples are kept coarse for a day and the first for good."""
    history = QueueHistory(spacing=0.0)
    history.record({"q": _stats(1, 1)}, 0.0)
    for minute in range(1, 3 * 24 * 60, 1):
        history.record({"q": _stats(1, 1)}, minute * 60.0)
    at = (3 * 24 * 60 - 1) * 60.0
    assert history.oldest_seconds("q", at) == at  # from the very first sample
    older = history._older["q"]  # the bound on what is kept
    assert len(older) <= 24 * 12 + 2
