"""The agency client SDK: publish events, receive verified deliveries, never lose either.

``AgencyClient`` is what an agency's adapter uses to talk to the hub:

- :meth:`AgencyClient.publish` signs and seals an event, writes it to a SQLite
  outbox, publishes it with a broker confirm, and only then removes it from the
  outbox; :meth:`AgencyClient.start` re-publishes whatever a previous process left
  there. Publishing an event again while it waits in the outbox resends the very
  bytes sealed the first time. Once it has left, the same event is signed and
  sealed anew, and the hub still recognises it as the same event (by its content,
  however salted) and records nothing new; other content under the same event id
  is refused ``event.replayed``.
- ``publish(event, region="south")`` sends an event to another region's hub (ADR
  0010): it is sealed to that hub's keys and published to this broker's
  ``hub.ingress`` with routing key ``region-south``, which the regional link
  carries to the other region; this region's hub never sees it.
- :meth:`AgencyClient.deliveries` yields verified, decrypted, schema-validated
  events with the decision they were disclosed under; each is remembered by event
  id when the caller asks for the next one, so a redelivery is not yielded twice,
  and acknowledged once that record is committed. A refusal notice is raised as
  :class:`RefusedError`. A delivery that does not verify is rejected to
  quarantine, never yielded.

The state file (:mod:`adapters.state`) commits in groups: concurrent publishes
share one commit of their outbox rows, and the seen records of deliveries handled
back to back are committed together (at most half the prefetch at a time, and
whenever no further delivery is at hand, after waiting :data:`GROUP_WAIT_SECONDS`
for one), before any of them is acknowledged. Removing a confirmed event from the
outbox rides on the next commit: lost in a crash, the event is published again and
the hub recognises the repeat by event id and content.

Across a broker reconnection the client carries on by itself: a delivery whose
channel is gone when it is settled comes again (redelivered), and is recognised
then by its event id; :attr:`AgencyClient.duplicates` counts such recognitions.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import re
import sqlite3
import time
import uuid
from datetime import UTC, date, datetime
from types import MappingProxyType
from typing import TYPE_CHECKING, Final, Self

from adapters.base import ReceivedEvent
from adapters.state import Parameter, StateFile
from hub import safejson
from hub.broker import BrokerError, BrokerErrorCode, OutgoingMessage, TopologyNames
from hub.crypto import (
    HUB_PARTY,
    EnvelopeError,
    ReceiptItem,
    issue_event,
    open_delivery,
    open_notice,
    seal_receipt,
)
from hub.errors import HubError, RefusalCode
from hub.events import groups_from_delivery
from hub.logs import get_logger
from schemas.errors import SchemaError
from schemas.parties import REGION_PREFIX

if TYPE_CHECKING:
    from collections.abc import AsyncGenerator, Awaitable, Callable, Mapping, Sequence
    from pathlib import Path
    from types import TracebackType

    from hub.broker import Broker, Consumer, IncomingMessage
    from hub.crypto import KeyDirectory, PartyKeyring
    from schemas.base import CaseEvent

log = get_logger("adapters.client")
#: How long a recipient waits for another delivery before it commits the group it
#: holds: one fsync for the deliveries that come meanwhile, instead of one each
#: (issue 24; `make bench` runs the hub without the wait as ``hub-no-wait``).
GROUP_WAIT_SECONDS: Final = 0.002

#: A region's name, as the link's routing key carries it (``region-<name>``, a
#: valid routing key of at most 32 characters: ``schemas.parties.PARTY_PATTERN``).
REGION_PATTERN: Final = re.compile(r"^[a-z][a-z0-9-]{1,24}$")
#: Routing keys of the regional links start with this; no party id may (ADR 0010).
REGION_KEY_PREFIX: Final = REGION_PREFIX

#: The outbox keeps the routing key with the sealed body: a regional event must be
#: re-published to its link, never to this region's hub (which could not open it).
#: ``content`` is the SHA-256 of the event's canonical JSON: publishing the same
#: event again while it waits here resends ``body`` rather than sealing anew.
_OUTBOX = """
CREATE TABLE IF NOT EXISTS outbox (
    event_id TEXT NOT NULL, routing_key TEXT NOT NULL, body BLOB NOT NULL, content TEXT,
    PRIMARY KEY (event_id, routing_key)
)"""
#: ``unreceipted``: deliveries kept (their seen record committed) that no receipt
#: has covered yet, committed with the seen record, with the retention end their
#: obligations set; ``retained``: deliveries kept whose obligations set a retention
#: end, until :meth:`AgencyClient.erase_due` erases them; ``receipts``: signed
#: receipts (delivery or erasure, by ``kind``) sealed to the hub and not yet
#: confirmed by the broker, re-published on start.
_SCHEMA = f"""{_OUTBOX};
CREATE TABLE IF NOT EXISTS seen (event_id TEXT PRIMARY KEY, decision_id TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS unreceipted (
    decision_id TEXT PRIMARY KEY, digest TEXT NOT NULL, until TEXT
);
CREATE TABLE IF NOT EXISTS receipts (
    receipt_id TEXT PRIMARY KEY, body BLOB NOT NULL, kind TEXT NOT NULL DEFAULT 'delivery-receipt'
);
CREATE TABLE IF NOT EXISTS retained (
    decision_id TEXT PRIMARY KEY, event_id TEXT NOT NULL, digest TEXT NOT NULL, until TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS retained_until ON retained (until);
"""
#: Columns added to a table after it was first written: (table, column, declaration).
_ADDED_COLUMNS: Final = (
    ("unreceipted", "until", "TEXT"),
    ("receipts", "kind", "TEXT NOT NULL DEFAULT 'delivery-receipt'"),
)
#: The AMQP ``kind`` of a receipt (hub/receipts.py).
RECEIPT_KIND: Final = "delivery-receipt"
#: The AMQP ``kind`` of an erasure receipt (hub/receipts.py).
ERASURE_KIND: Final = "erasure-receipt"
#: The most deliveries one receipt covers (hub/crypto/base.py).
MAX_RECEIPT_ITEMS: Final = 256
#: Deliveries kept that make a receipt due at once, and the longest one waits for it.
RECEIPT_BATCH: Final = 128
RECEIPT_SECONDS: Final = 1.0
_PENDING: Final = "SELECT event_id FROM outbox ORDER BY rowid"
_RETAIN: Final = (
    "INSERT OR IGNORE INTO retained (decision_id, event_id, digest, until) VALUES (?, ?, ?, ?)"
)
_UNRECEIPTED: Final = (
    "INSERT OR IGNORE INTO unreceipted (decision_id, digest, until) VALUES (?, ?, ?)"
)
_STORE_RECEIPT: Final = "INSERT INTO receipts (receipt_id, body, kind) VALUES (?, ?, ?)"
_SEALED: Final = "SELECT receipt_id, body, kind FROM receipts ORDER BY rowid"
#: Moves the rows of an outbox from before regional links, which had no routing
#: key column: each was a local event, routed by the agency's party id (``?``).
_MIGRATE_ROWS: Final = """
INSERT INTO outbox (event_id, routing_key, body)
    SELECT event_id, ?, body FROM outbox_v1 ORDER BY rowid"""


def region_routing_key(region: str) -> str:
    """Return the routing key that sends an event over the link to ``region``.

    Raises:
        ValueError: ``region`` is not a region name.
    """
    if not REGION_PATTERN.match(region):
        raise ValueError("not a region name")
    return f"{REGION_KEY_PREFIX}{region}"


class RefusedError(HubError):
    """The hub refused an event this agency sent; ``code`` says why (docs/envelope.md)."""

    def __init__(  # noqa: PLR0913 - each is one id or code of the notice
        self,
        code: str,
        event_id: uuid.UUID | None,
        decision_id: uuid.UUID,
        message_id: str | None = None,
        body_sha256: str | None = None,
        *,
        field: str | None = None,
        field_error: str | None = None,
    ) -> None:
        """Carry the reason code and ids; a notice never carries content.

        ``message_id`` is the id this agency published the refused message with and
        ``body_sha256`` the SHA-256 of its bytes: together they name the message
        even when the hub could not read its event id. For ``schema.invalid``,
        ``field`` is where the event fails, a JSON Pointer into the event made of its
        schema's names (``""``: the event as a whole), and ``field_error`` how
        (``time_in_future``); both ``None`` when the notice names no field.
        """
        where = "" if field is None else f" at {field or '<event>'} ({field_error})"
        super().__init__(code, f"message {message_id} refused{where} (decision {decision_id})")
        self.event_id = event_id
        self.decision_id = decision_id
        self.message_id = message_id
        self.body_sha256 = body_sha256
        self.field = field
        self.field_error = field_error


class AgencyClient:
    """One agency's connection to the hub, with a durable outbox and a dedupe record."""

    def __init__(  # noqa: PLR0913 - each is one distinct dependency
        self,
        keyring: PartyKeyring,
        directory: KeyDirectory,
        broker: Broker,
        state: Path,
        *,
        names: TopologyNames | None = None,
        prefetch: int = 16,
        hub: str = HUB_PARTY,
        regions: Mapping[str, str] | None = None,
        receipts: bool = True,
        receipt_batch: int = RECEIPT_BATCH,
        receipt_seconds: float = RECEIPT_SECONDS,
    ) -> None:
        """Prepare a client; :meth:`start` opens it.

        Args:
            keyring: the agency's private keys.
            directory: every party's public keys, including those of each hub in
                ``regions``.
            broker: a connection authenticated as this agency's broker user.
            state: the SQLite file holding the outbox and the events already seen.
            names: the hub's exchange and queue names.
            prefetch: unacknowledged deliveries held at once.
            hub: the party id of this region's hub: local events are sealed to it,
                and deliveries and notices must be bound and signed by it.
            regions: region name -> party id of that region's hub, for the
                regions this agency may send to over a regional link (ADR 0010).
            receipts: sign receipts for the deliveries kept (:meth:`send_receipts`):
                once ``receipt_batch`` await one, or the oldest has waited
                ``receipt_seconds``, and when :meth:`deliveries` ends, so one receipt
                covers many deliveries however they arrive.
            receipt_batch: deliveries that make a receipt due at once.
            receipt_seconds: the longest a kept delivery waits for its receipt
                while the client runs.

        Raises:
            ValueError: a region name is invalid or a region names this hub.
        """
        self.party = keyring.party
        self._keyring, self._directory, self._broker = keyring, directory, broker
        self._state_path = state
        self._names = names or TopologyNames()
        self._prefetch = prefetch
        self._hub = hub
        self._regions = MappingProxyType(_check_regions(regions or {}, hub))
        self._state: StateFile | None = None
        self._receipts = receipts
        self._receipt_batch, self._receipt_seconds = receipt_batch, receipt_seconds
        #: Deliveries kept since the last receipt, and since when (monotonic).
        self._kept, self._kept_since = 0, 0.0
        #: One receipt (or erasure receipt) sealed at a time: none covers a row twice.
        self._receipting = asyncio.Lock()
        self._receipt_timer: asyncio.Task[None] | None = None
        #: Deliveries recognised as already seen and acknowledged without being yielded.
        self.duplicates = 0

    async def start(self) -> Self:
        """Open the state file and the broker, then publish anything left in the outbox."""
        self._state = await StateFile.open(self._state_path, self._prepare)
        await self._broker.connect()
        await self.flush()
        if self._receipts:
            await self.send_receipts()
            self._receipt_timer = asyncio.create_task(self._keep_receipting())
        return self

    async def _keep_receipting(self) -> None:
        """Send receipts once the oldest kept delivery has waited ``receipt_seconds``.

        A failure is logged with its code and tried again at the next turn: the
        rows wait in the state file, and the timer must outlive it.
        """
        while True:
            await asyncio.sleep(self._receipt_seconds / 2)
            if self._kept and time.monotonic() - self._kept_since >= self._receipt_seconds:
                try:
                    await self._send_receipts_logged()
                except (HubError, sqlite3.Error) as error:
                    code = getattr(error, "code", type(error).__name__)
                    log.warning("receipt.not_signed", code=str(code), party=self.party)

    async def _send_receipts_logged(self) -> None:
        try:
            await self.send_receipts()
        except BrokerError as error:
            # Stored, sealed: sent with the next one, or on start.
            log.warning("receipt.not_sent", code=error.code.value)

    async def close(self) -> None:
        """Close the broker connection and the state file (committing what is written)."""
        if self._receipt_timer is not None:
            self._receipt_timer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._receipt_timer
            self._receipt_timer = None
        await self._broker.close()
        if self._state is not None:
            state, self._state = self._state, None
            await state.close()

    async def __aenter__(self) -> Self:
        """Start."""
        return await self.start()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        """Close."""
        await self.close()

    @property
    def state(self) -> StateFile:
        """The open state file."""
        if self._state is None:
            raise RuntimeError("client not started")
        return self._state

    def _prepare(self, connection: sqlite3.Connection) -> None:
        """Migrate the state file if it is from before regional links; create the schema."""
        columns = {row[1] for row in connection.execute("PRAGMA table_info(outbox)")}
        if columns and "content" not in columns:
            # Rows from before content digests keep none: sealed anew if published again.
            connection.execute("ALTER TABLE outbox ADD COLUMN content TEXT")
            connection.commit()
        if columns and "routing_key" not in columns:
            # An outbox from before regional links gets its routing keys, in one transaction.
            connection.execute("BEGIN IMMEDIATE")
            try:
                connection.execute("ALTER TABLE outbox RENAME TO outbox_v1")
                connection.execute(_OUTBOX)
                connection.execute(_MIGRATE_ROWS, (self.party,))
                connection.execute("DROP TABLE outbox_v1")
            except BaseException:
                connection.rollback()
                raise
            connection.commit()
        for table, column, declared in _ADDED_COLUMNS:
            held = {row[1] for row in connection.execute(f"PRAGMA table_info({table})")}
            if held and column not in held:
                connection.execute(f"ALTER TABLE {table} ADD COLUMN {column} {declared}")
        connection.commit()
        connection.executescript(_SCHEMA)

    async def _commit(self, upto: int) -> None:
        """Commit until write number ``upto`` is durable (grouped: :class:`StateFile`)."""
        await self.state.commit(upto)

    def _destination(self, region: str | None) -> tuple[str, str]:
        """The hub to seal to and the routing key to publish with, for ``region``."""
        if region is None:
            return self._hub, self.party
        if region not in self._regions:
            raise ValueError("no hub is configured for that region")
        return self._regions[region], region_routing_key(region)

    async def publish(self, event: CaseEvent, *, region: str | None = None) -> None:
        """Sign, seal and publish ``event``; it stays in the outbox until confirmed.

        Args:
            event: an event this agency wrote.
            region: ``None`` for this region's hub; otherwise a region named in
                ``regions``: the event is sealed to that region's hub and
                published with routing key ``region-<region>``, for the link.

        Raises:
            ValueError: the event names another agency as its author, or no hub
                is configured for ``region``.
            EnvelopeError: ``key.not_valid``: the directory holds no valid key of
                the destination hub (nothing is written to the outbox).
            BrokerError: the broker did not confirm (for a region: also when the
                link is not bound yet, ``broker.unroutable``); the event stays in
                the outbox.
        """
        if event.author_agency != self.party:
            raise ValueError("an agency publishes only its own events")
        hub, routing_key = self._destination(region)
        event_id, content = str(event.event_id), _content(event)
        waiting = await self.state.query(
            "SELECT body FROM outbox WHERE event_id = ? AND routing_key = ? AND content = ?",
            (event_id, routing_key, content),
        )
        if waiting:
            # The same event again before its first publish was confirmed: the same bytes.
            await self._send(event_id, routing_key, _blob(waiting[0][0]))
            return
        body = issue_event(event, self._keyring, self._directory, hub=hub).encode("ascii")
        written = await self.state.write(
            "INSERT OR REPLACE INTO outbox (event_id, routing_key, body, content)"
            " VALUES (?, ?, ?, ?)",
            (event_id, routing_key, body, content),
        )
        await self._commit(written)  # durable before the broker sees it
        await self._send(event_id, routing_key, body)

    async def _send(self, event_id: str, routing_key: str, body: bytes) -> None:
        message = OutgoingMessage(
            self._names.ingress,
            routing_key,
            body,
            event_id,
            headers={"sender": self.party},
            user_id=self._broker.user,
        )
        await self._broker.publish(message)
        # Committed with the next commit: if a crash loses it, the hub sees a repeat.
        await self.state.write(
            "DELETE FROM outbox WHERE event_id = ? AND routing_key = ?", (event_id, routing_key)
        )

    async def pending(self) -> list[str]:
        """Event ids still in the outbox (published but not confirmed)."""
        return [str(row[0]) for row in await self.state.query(_PENDING)]

    async def flush(self) -> int:
        """Publish every event left in the outbox; return how many."""
        query = "SELECT event_id, routing_key, body FROM outbox ORDER BY rowid"
        waiting = await self.state.query(query)
        for event_id, routing_key, body in waiting:
            await self._send(str(event_id), str(routing_key), _blob(body))
        sealed = await self._resend_receipts()
        if waiting or sealed:
            log.info("outbox.flushed", count=len(waiting) + sealed, party=self.party)
        return len(waiting)

    async def _resend_receipts(self) -> int:
        """Publish again every sealed receipt the broker has not confirmed; how many."""
        sealed = await self.state.query(_SEALED)
        for receipt_id, body, kind in sealed:
            await self._send_receipt(str(receipt_id), _blob(body), str(kind))
        return len(sealed)

    async def send_receipts(self) -> int:
        """Sign and send receipts for every kept delivery no receipt has covered; how many.

        Each receipt covers up to 256 deliveries: their decision ids, the SHA-256 of
        each message body as received, and the retention end each delivery's
        obligations set (so the agency acknowledges it). It is sealed to the hub
        and stored, the deliveries it covers struck off, in one commit, before it
        is published; a receipt not confirmed is published again on the next call
        or on start, and the hub records a receipt id once.

        Raises:
            BrokerError: the broker did not confirm; the receipt stays stored.
        """
        async with self._receipting:
            counted = self._kept
            sent = await self._send_receipts()
            # Only once sent (else tried again); what was kept meanwhile stays counted.
            self._kept = max(0, self._kept - counted)
            return sent

    async def _send_receipts(self) -> int:
        sent = await self._resend_receipts()
        while rows := await self.state.query(
            "SELECT decision_id, digest, until FROM unreceipted ORDER BY rowid LIMIT ?",
            (MAX_RECEIPT_ITEMS,),
        ):
            items = [ReceiptItem(uuid.UUID(str(d)), str(h), _day(u)) for d, h, u in rows]
            marks = ",".join("?" * len(rows))
            struck = (
                f"DELETE FROM unreceipted WHERE decision_id IN ({marks})",  # noqa: S608 - marks
                tuple(str(i.decision_id) for i in items),
            )
            await self._seal_and_send(items, struck, kind=RECEIPT_KIND)
            sent += 1
        return sent

    async def erase_due(
        self,
        *,
        today: date | None = None,
        erase: Callable[[Sequence[uuid.UUID]], Awaitable[None]] | None = None,
    ) -> int:
        """Erase what this client keeps of every delivery whose retention has ended; how many.

        A delivery whose obligations set a retention end (``retain_until``) is kept
        in the state file until that day; on it or after, its records here (its
        seen record, and any receipt row still waiting) are deleted and an erasure
        receipt (``erasure-receipt+jwt``, up to 256 deliveries: each decision id and
        the digest of what was kept) is signed, stored in the same commit, and
        published; the hub records it in its ledger (ADR 0030). Call it on start
        and then daily or oftener (``hub-adapter`` does, hourly).

        Args:
            today: the day to erase up to (inclusive); today in UTC by default.
            erase: called first with each batch's decision ids, to erase what the
                agency's side kept of them (``hub-adapter`` removes the files it
                wrote); it must be idempotent, since a crash before the commit
                calls it again.

        Raises:
            BrokerError: the broker did not confirm; the erasure receipt stays
                stored and is published again on start or the next call.
        """
        day = (today or datetime.now(UTC).date()).isoformat()
        async with self._receipting:
            return await self._erase_due(day, erase)

    async def _erase_due(
        self, day: str, erase: Callable[[Sequence[uuid.UUID]], Awaitable[None]] | None
    ) -> int:
        if self._receipts:  # a delivery is signed for before its erasure is
            await self._send_receipts()
        else:
            await self._resend_receipts()
        erased = 0
        while rows := await self.state.query(
            "SELECT decision_id, digest FROM retained WHERE until <= ? ORDER BY until, rowid"
            " LIMIT ?",
            (day, MAX_RECEIPT_ITEMS),
        ):
            items = [ReceiptItem(uuid.UUID(str(d)), str(h)) for d, h in rows]
            ids = tuple(str(i.decision_id) for i in items)
            if erase is not None:
                await erase([i.decision_id for i in items])
            marks = ",".join("?" * len(rows))
            struck = [
                (f"DELETE FROM {table} WHERE decision_id IN ({marks})", ids)  # noqa: S608 - marks
                for table in ("seen", "unreceipted", "retained")
            ]
            await self._seal_and_send(items, *struck, kind=ERASURE_KIND)
            erased += len(items)
            log.info("delivery.erased", count=len(items), party=self.party)
        return erased

    async def _seal_and_send(
        self,
        items: Sequence[ReceiptItem],
        *struck: tuple[str, Sequence[str]],
        kind: str = RECEIPT_KIND,
    ) -> None:
        """Seal a receipt of ``kind`` for ``items``; store it and run ``struck``, in one commit.

        Only then is it published: a receipt the broker does not confirm stays stored.
        """
        receipt_id = uuid.uuid4()
        body = seal_receipt(
            receipt_id,
            items,
            datetime.now(UTC),
            self._keyring,
            self._directory,
            self._hub,
            erasure=kind == ERASURE_KIND,
        ).encode("ascii")
        stored = (
            "INSERT INTO receipts (receipt_id, body, kind) VALUES (?, ?, ?)",
            (str(receipt_id), body, kind),
        )
        written = await self.state.write_all([stored, *struck])
        await self._commit(written)  # durable, and struck off, before the broker sees it
        await self._send_receipt(str(receipt_id), body, kind)

    async def _send_receipt(self, receipt_id: str, body: bytes, kind: str) -> None:
        message = OutgoingMessage(
            self._names.ingress,
            self.party,
            body,
            receipt_id,
            headers={"sender": self.party, "kind": kind},
            user_id=self._broker.user,
        )
        await self._broker.publish(message)
        await self.state.write("DELETE FROM receipts WHERE receipt_id = ?", (receipt_id,))

    async def _seen(self, event_id: uuid.UUID) -> bool:
        query = "SELECT 1 FROM seen WHERE event_id = ?"
        return bool(await self.state.query(query, (str(event_id),)))

    async def _remember(self, received: ReceivedEvent, digest: str) -> int:
        decision_id, until = str(received.decision_id), received.retain_until
        writes: list[tuple[str, Sequence[Parameter]]] = [
            (
                "INSERT OR IGNORE INTO seen (event_id, decision_id) VALUES (?, ?)",
                (str(received.event_id), decision_id),
            )
        ]
        if until is not None:
            kept = (decision_id, str(received.event_id), digest, until.isoformat())
            writes.append((_RETAIN, kept))
        if self._receipts:
            day = "" if until is None else until.isoformat()
            writes.append((_UNRECEIPTED, (decision_id, digest, day)))
        return await self.state.write_all(writes)

    async def _settle_remembered(
        self, handled: list[IncomingMessage], upto: int, *, last: bool = False
    ) -> None:
        """Commit the seen records up to write ``upto`` and acknowledge ``handled``.

        Their receipt is sent once enough are kept, or with ``last`` (the caller
        stopped asking); otherwise the timer sends it within ``receipt_seconds``.
        """
        await self._commit(upto)
        for message in handled:
            await _settle(message)
        if self._receipts:
            if not self._kept:
                self._kept_since = time.monotonic()
            self._kept += len(handled)
        handled.clear()
        if self._receipts and (last or self._kept >= self._receipt_batch):
            await self._send_receipts_logged()

    def _open(self, message: IncomingMessage) -> ReceivedEvent:
        delivery = open_delivery(
            message.body.decode("ascii"), self._keyring, self._directory, hub=self._hub
        )
        groups = groups_from_delivery(delivery)
        claims, decision = delivery.claims, delivery.decision
        return ReceivedEvent(
            event_id=claims.event_id,
            event_type=claims.event_type,
            schema_version=claims.schema_version,
            sender=claims.issuer,
            recipient=decision.recipient,
            decision_id=decision.decision_id,
            agreement_id=decision.agreement_id,
            agreement_version=decision.agreement_version,
            groups={g: m.model_dump(mode="json") for g, m in groups.items()},
            obligations=decision.obligations,
        )

    async def _notice(self, message: IncomingMessage) -> RefusedError:
        notice = open_notice(
            message.body.decode("ascii"), self._keyring, self._directory, hub=self._hub
        )
        await message.ack()
        log.warning(
            "event.refused",
            code=notice.code,
            event_id=str(notice.event_id),
            message_id=notice.message_id,
        )
        return RefusedError(
            notice.code,
            notice.event_id,
            notice.decision_id,
            notice.message_id,
            notice.body_sha256,
            field=notice.field,
            field_error=notice.field_error,
        )

    async def deliveries(self) -> AsyncGenerator[ReceivedEvent]:
        """Yield verified deliveries from this agency's inbox, each once.

        A delivery's event id is remembered when the caller asks for the next one,
        and the delivery acknowledged once that record is committed: a crash while
        handling it, or before the commit, means it comes again. Records are
        committed in groups (see the module's docstring); when the caller stops
        asking, what it handled is committed and acknowledged on the way out.

        Raises:
            RefusedError: a refusal notice arrived (already acknowledged); call
                :meth:`deliveries` again to go on.
        """
        handled: list[IncomingMessage] = []
        written = 0
        batch = max(1, self._prefetch // 2)
        async with self._broker.consume(self._names.inbox(self.party), self._prefetch) as inbox:
            try:
                async for message in inbox:
                    received = await self._receive(message)
                    if received is not None:
                        yield received
                        digest = hashlib.sha256(message.body).hexdigest()
                        written = await self._remember(received, digest)
                        handled.append(message)
                    if handled and (len(handled) >= batch or not await _more_soon(inbox)):
                        await self._settle_remembered(handled, written)
            finally:
                if handled or self._kept:
                    try:
                        await self._settle_remembered(handled, written, last=True)
                    except (sqlite3.Error, BrokerError) as error:
                        # Not acknowledged: they come again and are handled again.
                        log.warning("delivery.settle_failed", error=type(error).__name__)

    async def _receive(self, message: IncomingMessage) -> ReceivedEvent | None:
        """Open one delivery; ``None`` when it was settled here (a duplicate, or rejected).

        Raises:
            RefusedError: ``message`` is a refusal notice (acknowledged).
        """
        if message.headers.get("kind") == "refusal-notice":
            raise await self._notice(message)
        try:
            received = self._open(message)
        except (EnvelopeError, SchemaError, UnicodeDecodeError) as error:
            code = str(getattr(error, "code", RefusalCode.ENVELOPE_MALFORMED))
            log.warning("delivery.rejected", code=code, message_id=message.message_id)
            with contextlib.suppress(Exception):
                await message.reject(requeue=False)  # the inbox dead-letters it to quarantine
            return None
        if await self._seen(received.event_id):
            self.duplicates += 1
            log.info(
                "delivery.duplicate",
                event_id=str(received.event_id),
                decision_id=str(received.decision_id),
            )
            await _settle(message)
            return None
        return received


async def _more_soon(inbox: Consumer) -> bool:
    """Whether another delivery is at hand now, or within :data:`GROUP_WAIT_SECONDS`."""
    if inbox.waiting():
        return True
    if GROUP_WAIT_SECONDS <= 0:
        return False
    await asyncio.sleep(GROUP_WAIT_SECONDS)
    return inbox.waiting() > 0


def _content(event: CaseEvent) -> str:
    """The SHA-256 of an event's canonical JSON: the same event, the same digest.

    It stays in this agency's own state file, beside the sealed event itself.
    """
    return hashlib.sha256(safejson.canonical(event.model_dump(mode="json")).encode()).hexdigest()


def _day(value: object) -> date | None:
    """A ``until`` column's value: a day, or None (empty, or NULL from before it existed)."""
    return date.fromisoformat(value) if isinstance(value, str) and value else None


def _blob(value: object) -> bytes:
    """A BLOB column's value."""
    if not isinstance(value, bytes):
        raise TypeError("not a BLOB")
    return value


def _check_regions(regions: Mapping[str, str], hub: str) -> dict[str, str]:
    """Check the region names and their hubs; return a copy.

    Raises:
        ValueError: a region name is invalid, or a region's hub is this region's.
    """
    for region, other in regions.items():
        region_routing_key(region)
        if other == hub:
            raise ValueError("a region's hub must not be this region's hub")
    return dict(regions)


async def _settle(message: IncomingMessage) -> None:
    """Acknowledge a delivery whose event id is remembered.

    If the broker connection dropped since the delivery arrived, the ack cannot
    reach it and the broker redelivers the message; it is recognised then by its
    event id. That is no reason to stop consuming.
    """
    try:
        await message.ack()
    except BrokerError as error:
        if error.code is not BrokerErrorCode.STALE_DELIVERY:
            raise
        log.info("delivery.ack_lost", code=error.code.value, message_id=message.message_id)
