"""What a test sees of the quarantine: the refusals parked in its stream, read as a console does."""

from __future__ import annotations

import asyncio
import uuid
from typing import TYPE_CHECKING

from hub.console.quarantine import SYNC, QuarantineIndex, is_mark, mark

if TYPE_CHECKING:
    from hub.broker import Broker, IncomingMessage, TopologyNames


async def read_quarantine(broker: Broker, names: TopologyNames) -> list[IncomingMessage]:
    """The refusals parked in the quarantine's stream now, oldest first, bodies and all.

    A sync mark is written and the stream read up to it into a fresh
    :class:`QuarantineIndex`; what it still holds parked is returned as read.
    ``broker`` must be the hub's (it writes the mark) and able to read streams.
    """
    sync = str(uuid.uuid4())
    await broker.publish(mark(names, SYNC, sync))
    read = await broker.read_log(  # type: ignore[attr-defined]
        names.quarantine_log, None, lambda m: is_mark(m, SYNC, sync)
    )
    index = QuarantineIndex()
    for message in read:
        index.take(message)
    parked = {p.offset for p in index.parked()}
    return [m for m in read if m.offset in parked]


async def quarantined_within(
    broker: Broker, names: TopologyNames, count: int, seconds: float = 20.0
) -> list[IncomingMessage]:
    """The parked refusals once ``count`` or more; :class:`TimeoutError` after ``seconds``."""
    async with asyncio.timeout(seconds):
        while True:
            parked = await read_quarantine(broker, names)
            if len(parked) >= count:
                return parked
            await asyncio.sleep(0.05)
