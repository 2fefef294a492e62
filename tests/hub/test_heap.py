"""The start-up heap is collected, then frozen out of later collections (hub.heap)."""

from __future__ import annotations

import gc
import weakref
from typing import TYPE_CHECKING

import pytest
from structlog.testing import capture_logs

from hub import heap

if TYPE_CHECKING:
    from collections.abc import Iterator


class Node:
    """An object that can sit in a reference cycle and be watched through a weak reference."""

    def __init__(self) -> None:
        """No peer yet."""
        self.peer: object = None


def _cycle() -> weakref.ref[Node]:
    """A two-object reference cycle that nothing else refers to, watched by a weak reference."""
    first, second = Node(), Node()
    first.peer, second.peer = second, first
    return weakref.ref(first)


@pytest.fixture
def manual_collection() -> Iterator[None]:
    """No automatic collection during the test, and nothing left frozen after it."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        gc.unfreeze()
        if was_enabled:
            gc.enable()


@pytest.mark.usefixtures("manual_collection")
def test_settle_collects_the_garbage_left_before_it() -> None:
    """A reference cycle dropped before settling is collected by it."""
    watched = _cycle()
    assert watched() is not None  # only a collection frees a cycle

    heap.settle()

    assert watched() is None


@pytest.mark.usefixtures("manual_collection")
def test_settle_freezes_what_is_alive_out_of_later_collections() -> None:
    """What is alive when settling leaves the collector's generations; the count is logged."""
    survivor = Node()
    with capture_logs() as captured:
        frozen = heap.settle()

    assert frozen > 0
    assert gc.get_freeze_count() > 0
    assert not any(o is survivor for o in gc.get_objects())
    assert [e["event"] for e in captured] == ["heap.settled"]
    assert captured[0]["count"] == frozen


@pytest.mark.usefixtures("manual_collection")
def test_settling_again_collects_what_died_while_frozen() -> None:
    """Collections skip frozen objects; settling again unfreezes and collects what died."""
    first, second = Node(), Node()
    first.peer, second.peer = second, first
    watched = weakref.ref(first)
    heap.settle()  # the pair is alive, so it is frozen
    del first, second  # now an unreachable cycle, still frozen
    gc.collect()
    assert watched() is not None  # collections skip frozen objects

    heap.settle()

    assert watched() is None
