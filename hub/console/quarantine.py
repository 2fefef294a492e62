"""The quarantine as operators see it: the hub's refusals, kept in a stream.

Every message the hub refuses is published whole to the stream
``hub.quarantine.log`` (:mod:`hub.refusals`). A stream is an append-only log:
reading it takes nothing out and counts no delivery, so looking at the quarantine,
as often as anyone likes, changes nothing in it (ADR 0020). Two small marks, with
an empty body, share the stream with the refusals:

- ``kind: resolved``, ``decision-id: <quarantine id>``: a replay of that refusal is
  done, so it leaves the operators' view (its bytes stay until the stream's
  retention drops them);
- ``kind: sync``, ``decision-id: <a fresh id>``: written by a console just before
  it reads, and read until it comes back, so a look sees everything published
  before it began.

Each console process keeps a :class:`QuarantineIndex`: where it has read to, and
the refusals not yet resolved, in the order they came; every look reads only what
is new since the last.
"""

from __future__ import annotations

import uuid
from collections import Counter
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final

from hub.broker import OutgoingMessage

if TYPE_CHECKING:
    from collections.abc import Mapping
    from datetime import datetime

    from hub.broker import IncomingMessage, TopologyNames
    from hub.broker.base import HeaderValue

#: The marks' ``kind`` header values.
RESOLVED: Final = "resolved"
SYNC: Final = "sync"


def mark(names: TopologyNames, kind: str, decision: str) -> OutgoingMessage:
    """A mark for the quarantine's stream: empty, with its kind and the decision it names."""
    return OutgoingMessage(
        names.quarantine_log,
        "",
        b"",
        str(uuid.uuid4()),
        content_type="application/octet-stream",
        headers={"kind": kind, "decision-id": decision},
    )


def is_mark(message: IncomingMessage, kind: str, decision: str) -> bool:
    """Whether ``message`` is the mark of ``kind`` naming ``decision``."""
    return message.headers.get("kind") == kind and message.headers.get("decision-id") == decision


@dataclass(frozen=True)
class Parked:
    """One refusal waiting in the quarantine: where it is in the stream, and its metadata.

    Attributes:
        offset: its offset in the stream, to read its bytes again for a replay.
        quarantine_id: the refusal's decision id, which a replay names it by.
        headers: the allow-listed headers it was published with.
        message_id: the id its sender published it with.
        routing_key: its routing key.
        size_bytes: the length of its body.
        queued_at: when the hub quarantined it.
    """

    offset: int
    quarantine_id: str
    headers: Mapping[str, HeaderValue]
    message_id: str | None
    routing_key: str
    size_bytes: int
    queued_at: datetime | None


class QuarantineIndex:
    """What one console has read of the quarantine's stream: a cursor and what is parked."""

    def __init__(self) -> None:
        """Start before the stream's first message, with nothing parked."""
        self.cursor: int | None = None
        self.synced_at: float | None = None
        self._parked: dict[int, Parked] = {}

    def take(self, message: IncomingMessage) -> None:
        """Read one message of the stream: a refusal parks, a resolved mark unparks it.

        A refusal carries its decision id as ``decision-id``; anything without one
        (the stream takes nothing else) is passed over. When one refusal was parked
        twice (the same bytes refused twice have the same id), a resolved mark
        unparks the older.
        """
        if message.offset is not None:
            self.cursor = message.offset
        kind = message.headers.get("kind")
        decision = message.headers.get("decision-id")
        if not isinstance(decision, str) or kind == SYNC:
            return
        if kind == RESOLVED:
            for offset, parked in self._parked.items():
                if parked.quarantine_id == decision:
                    del self._parked[offset]
                    return
            return
        if message.offset is None:
            return
        self._parked[message.offset] = Parked(
            offset=message.offset,
            quarantine_id=decision,
            headers=message.headers,
            message_id=message.message_id,
            routing_key=message.routing_key,
            size_bytes=len(message.body),
            queued_at=message.timestamp,
        )

    def parked(self) -> list[Parked]:
        """Every refusal still parked, oldest first."""
        return list(self._parked.values())

    def find(self, quarantine_id: str) -> Parked | None:
        """The oldest parked refusal with ``quarantine_id``, if any."""
        return next((p for p in self._parked.values() if p.quarantine_id == quarantine_id), None)

    def by_reason(self) -> dict[str, int]:
        """How many are parked for each reason code, by code."""
        reasons = Counter(str(p.headers.get("reason", "unknown")) for p in self._parked.values())
        return dict(sorted(reasons.items()))

    def __len__(self) -> int:
        """How many refusals are parked."""
        return len(self._parked)
