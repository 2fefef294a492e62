"""What the console has seen of each queue over the last hour, and what that says.

The console samples every queue it watches (at each look, and every
:data:`SAMPLE_SECONDS` while it serves) and keeps an hour of samples per queue.
They answer three questions no single reading can:

- **How old is the oldest waiting message?** RabbitMQ 3.10 reports a head-message
  timestamp for classic queues only, and every hub queue is a quorum queue, so
  the console works it out from two numbers every queue type reports: the count
  of messages ever published into the queue, and the count in it now. A queue
  hands out in order, so the oldest message still there is number
  ``published - messages + 1``; it arrived no later than the first sample whose
  count already included it, and its age is at least the time since that sample
  (:func:`oldest_seconds`). The estimate is a lower bound, short by at most one
  sampling interval; after a console restart it starts from the console's first
  sample, so it still grows a second a second and a stalled inbox still alerts.
  A message taken and given back, or settled out of order, is counted by its
  position, not its own age. When the broker does report a head timestamp, that
  is used instead.
- **Is the backlog growing?** (:func:`growing`): more messages now than at every
  sample of the last ten minutes but the first.
- **What did the last hour look like?** (:func:`sparkline`): depth and rate, drawn.

Nothing here reads a message: only the broker's counts.
"""

from __future__ import annotations

import time
from collections import deque
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

    from hub.broker import QueueStats

#: Seconds of samples kept per queue.
WINDOW_SECONDS: Final = 3600.0
#: Seconds between the samples a serving console takes on its own.
SAMPLE_SECONDS: Final = 15.0
#: Samples closer together than this replace one another (many looks, one sample).
MIN_SPACING_SECONDS: Final = 5.0
#: How far back "growing" looks.
TREND_SECONDS: Final = 600.0
#: Samples older than the hour are kept one per this many seconds, for a day, and the
#: first one ever is kept for good: the oldest message's age needs them, the charts not.
COARSE_SECONDS: Final = 300.0
COARSE_WINDOW_SECONDS: Final = 86400.0


@dataclass(frozen=True)
class Sample:
    """One reading of one queue.

    Attributes:
        at: when, in seconds since the epoch (the console's clock).
        messages: messages in the queue, waiting or delivered and unsettled.
        consumers: consumers attached.
        published: messages ever published into the queue (since the broker's
            statistics began), or None if the broker does not say.
        publish_rate: messages per second coming in.
        deliver_rate: messages per second handed out.
        head_seconds: the age of the head message as the broker reports it, if it does.
    """

    at: float
    messages: int | None
    consumers: int | None
    published: int | None
    publish_rate: float | None = None
    deliver_rate: float | None = None
    head_seconds: float | None = None


def sample_of(stats: QueueStats, at: float) -> Sample:
    """The :class:`Sample` of one queue's numbers taken at ``at`` (pure)."""
    messages = None
    if stats.ready is not None:
        messages = stats.ready + (stats.unacked or 0)
    return Sample(
        at=at,
        messages=messages,
        consumers=stats.consumers,
        published=stats.published,
        publish_rate=stats.publish_rate,
        deliver_rate=stats.deliver_rate,
        head_seconds=stats.oldest_seconds,
    )


def oldest_seconds(samples: Sequence[Sample], at: float) -> float | None:
    """The age of the oldest message in the queue at ``at``, at least (pure).

    ``samples`` are one queue's, oldest first. None when the latest sample does not
    say how many messages there are, or there are some and nothing says when the
    oldest came (no publish count, no head timestamp). See the module's docstring.
    """
    if not samples:
        return None
    last = samples[-1]
    if last.messages == 0:
        return 0.0
    if last.head_seconds is not None:
        return last.head_seconds + max(0.0, at - last.at)
    if last.messages is None or last.published is None:
        return None
    before = last.published - last.messages  # published ahead of the oldest one waiting
    first, later = last, last.published
    for sample in reversed(samples[:-1]):
        if sample.published is None or sample.published > later:
            break  # the broker's count began again after this sample
        if sample.published <= before:
            break  # the oldest one waiting had not come yet
        first, later = sample, sample.published
    return max(0.0, at - first.at)


def growing(samples: Sequence[Sample], at: float, over: float = TREND_SECONDS) -> bool:
    """Whether the queue holds more messages now than at any sample of the last ``over`` s.

    Needs at least three samples in that window spanning half of it, so a console
    that has just started, or one look after another, says nothing grows (pure).
    """
    recent = [s for s in samples if s.at >= at - over and s.messages is not None]
    if len(recent) < 3 or recent[-1].at - recent[0].at < over / 2:  # noqa: PLR2004
        return False
    last = recent[-1].messages or 0
    return all((s.messages or 0) < last for s in recent[:-1])


@dataclass(frozen=True)
class Sparkline:
    """A small line chart of one queue's last hour: SVG points in a ``width`` x ``height`` box.

    ``depth`` and ``rate`` are SVG ``points`` strings (empty when there is nothing to
    draw); ``last`` is the latest depth's point (``x, y``), marked so that a single
    sample shows too; ``most_depth`` and ``most_rate`` are the values at the top.
    """

    width: int
    height: int
    depth: str
    rate: str
    most_depth: int
    most_rate: float
    samples: int
    last: tuple[float, float] | None = None


def sparkline(
    samples: Sequence[Sample], at: float, width: int = 240, height: int = 40
) -> Sparkline:
    """The geometry of :class:`Sparkline` for ``samples`` over the hour before ``at`` (pure).

    Time runs left to right across the hour; depth and incoming rate each scale
    to their own largest value, at least 1.
    """
    shown = [s for s in samples if s.at >= at - WINDOW_SECONDS]
    most_depth = max([s.messages or 0 for s in shown] + [1])
    most_rate = max([s.publish_rate or 0.0 for s in shown] + [1.0])

    def x(sample: Sample) -> float:  # 3 units in from each side, so the marks show whole
        return round(3 + (width - 6) * (1 - (at - sample.at) / WINDOW_SECONDS), 1)

    def points(values: list[tuple[Sample, float | None]], most: float) -> str:
        return " ".join(
            f"{x(s)},{round(height - 2 - (height - 4) * v / most, 1)}"
            for s, v in values
            if v is not None
        )

    depth = points([(s, s.messages) for s in shown], most_depth)
    last = tuple(float(v) for v in depth.split(" ")[-1].split(",")) if depth else None
    return Sparkline(
        width=width,
        height=height,
        depth=depth,
        rate=points([(s, s.publish_rate) for s in shown], most_rate),
        most_depth=most_depth,
        most_rate=round(most_rate, 2),
        samples=len(shown),
        last=(last[0], last[1]) if last else None,
    )


class QueueHistory:
    """The samples of every watched queue over the last :data:`WINDOW_SECONDS`.

    One per console process: each replica keeps its own, from its own looks.
    """

    def __init__(
        self, window: float = WINDOW_SECONDS, spacing: float = MIN_SPACING_SECONDS
    ) -> None:
        """Keep ``window`` seconds of samples at least ``spacing`` seconds apart."""
        self.window = window
        self.spacing = spacing
        self._samples: dict[str, deque[Sample]] = {}
        self._older: dict[str, deque[Sample]] = {}

    def record(self, stats: Mapping[str, QueueStats], at: float | None = None) -> None:
        """Add one sample of each queue in ``stats`` taken at ``at`` (now by default).

        A sample within :attr:`spacing` of the one before the queue's last replaces
        that last one, so frequent looks keep samples about :attr:`spacing` apart and
        the history an hour long without growing it.
        """
        at = time.time() if at is None else at
        for name, found in stats.items():
            kept = self._samples.setdefault(name, deque())
            older = self._older.setdefault(name, deque())
            if kept and at < kept[-1].at:
                kept.clear()  # the clock went back: start again rather than misorder
                older.clear()
            if len(kept) > 1 and at - kept[-2].at < self.spacing:
                kept.pop()
            kept.append(sample_of(found, at))
            while kept and kept[0].at < at - self.window:
                self._keep_older(older, kept.popleft(), at)

    @staticmethod
    def _keep_older(older: deque[Sample], sample: Sample, at: float) -> None:
        if not older or sample.at - older[-1].at >= COARSE_SECONDS:
            older.append(sample)
        while len(older) > 1 and older[1].at < at - COARSE_WINDOW_SECONDS:
            del older[1]  # the first sample ever stays

    def samples(self, queue: str) -> tuple[Sample, ...]:
        """The samples of ``queue``, oldest first (none if never seen)."""
        return tuple(self._samples.get(queue, ()))

    def oldest_seconds(self, queue: str, at: float) -> float | None:
        """:func:`oldest_seconds` of ``queue``'s samples, the older ones beyond the hour too."""
        return oldest_seconds((*self._older.get(queue, ()), *self.samples(queue)), at)

    def growing(self, queue: str, at: float) -> bool:
        """:func:`growing` of ``queue``'s samples."""
        return growing(self.samples(queue), at)
