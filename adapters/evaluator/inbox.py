"""The evaluator's inbox: open each record, check the hub signed it, keep it, then ack.

A message is acknowledged only once its record is committed to the store (in
groups, as the agencies' SDK commits its deliveries), so a crash loses nothing: what
was not committed comes again, and the store keeps one copy of a record that comes
twice. A message that is not a record the hub signed for this evaluator, or whose
record is not a valid evaluation record, is rejected without requeue: the inbox
dead-letters it to the hub's quarantine, and its code (never its content) is
logged.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Final

from pydantic import ValidationError

from adapters.evaluator.store import Received
from hub.broker import TopologyNames
from hub.crypto import HUB_PARTY, EnvelopeError, ErrorCode, open_record
from hub.logs import get_logger
from schemas.evaluation import EvaluationRecord

if TYPE_CHECKING:
    from adapters.evaluator.store import Store
    from hub.broker import Broker, IncomingMessage
    from hub.crypto import KeyDirectory, PartyKeyring

log = get_logger("adapters.evaluator")
#: The AMQP ``kind`` of an evaluation record (hub/pipeline.py).
KIND: Final = "evaluation-record"


@dataclass
class Tally:
    """What one run of the inbox did."""

    kept: int = 0
    again: int = 0
    rejected: dict[str, int] = field(default_factory=dict)


@dataclass
class Inbox:
    """The evaluator's connection to its inbox, and where records go."""

    keyring: PartyKeyring
    directory: KeyDirectory
    broker: Broker
    store: Store
    names: TopologyNames = field(default_factory=TopologyNames)
    hub: str = HUB_PARTY
    prefetch: int = 64

    def _open(self, message: IncomingMessage) -> Received:
        """The record ``message`` carries, checked.

        Raises:
            EnvelopeError: not a record the hub signed for this evaluator.
            ValidationError: the signed record is not a valid evaluation record.
        """
        if message.headers.get("kind") != KIND:
            raise EnvelopeError(ErrorCode.MALFORMED, "not an evaluation record")
        signed = open_record(
            message.body.decode("ascii"), self.keyring, self.directory, hub=self.hub
        )
        record = EvaluationRecord.model_validate_json(json.dumps(signed.record))
        return Received(record, str(signed.decision_id), signed.issued_at, signed.token)

    async def run(self, *, idle: float | None = None) -> Tally:
        """Keep every record that arrives; with ``idle``, stop after that many quiet seconds."""
        tally = Tally()
        pending: list[tuple[IncomingMessage, Received]] = []
        inbox_name = self.names.inbox(self.keyring.party)
        async with self.broker.consume(inbox_name, self.prefetch) as inbox:
            try:
                while True:
                    try:
                        message = await asyncio.wait_for(anext(inbox), idle)
                    except TimeoutError:
                        break
                    received = await self._receive(message, tally)
                    if received is not None:
                        pending.append((message, received))
                    if pending and (len(pending) >= self.prefetch // 2 or not inbox.waiting()):
                        await self._commit(pending, tally)
            finally:
                if pending:
                    await self._commit(pending, tally)
        return tally

    async def _receive(self, message: IncomingMessage, tally: Tally) -> Received | None:
        try:
            return self._open(message)
        except (EnvelopeError, ValidationError, UnicodeDecodeError) as error:
            code = str(getattr(error, "code", "record.invalid"))
            tally.rejected[code] = tally.rejected.get(code, 0) + 1
            log.warning("record.rejected", code=code, message_id=message.message_id)
            with contextlib.suppress(Exception):
                await message.reject(requeue=False)
            return None

    async def _commit(self, pending: list[tuple[IncomingMessage, Received]], tally: Tally) -> None:
        """Commit ``pending`` records, then acknowledge their messages."""
        new = await asyncio.to_thread(self.store.add, [r for _, r in pending])
        tally.kept += new
        tally.again += len(pending) - new
        for message, _ in pending:
            await message.ack()
        log.info("records.kept", new=new, again=len(pending) - new)
        pending.clear()
