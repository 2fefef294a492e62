"""A small client of RabbitMQ's management HTTP API: the numbers of the hub's queues.

AMQP tells a client nothing about consumers or rates; the management plugin does.
One ``GET /api/queues/{vhost}`` with ``columns`` gives every queue's ready and
unacknowledged counts, consumers, head message timestamp and recent publish and
deliver rates (``message_stats``, sampled by the broker every few seconds).

The URL carries credentials (``http://user:password@127.0.0.1:15672``). They go
into an ``Authorization`` header and nowhere else: errors name the operation,
never the URL, and no log line is written here. Every call is bounded by a timeout.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any, Final, Self
from urllib.parse import quote

import aiohttp
from yarl import URL

from hub.broker.base import BrokerError, BrokerErrorCode, QueueStats

if TYPE_CHECKING:
    from collections.abc import Sequence
    from types import TracebackType

#: Seconds one management call may take, connecting included.
DEFAULT_TIMEOUT: Final = 5.0
_COLUMNS: Final = (
    "name,messages_ready,messages_unacknowledged,consumers,head_message_timestamp,"
    "message_stats.publish_details.rate,message_stats.deliver_get_details.rate,"
    "message_stats.publish"
)
_HTTP_OK: Final = 200
_REFUSED: Final = frozenset({401, 403})
_NOT_FOUND: Final = 404


def _count(value: object) -> int | None:
    return value if type(value) is int and value >= 0 else None


def _rate(stats: object, key: str) -> float | None:
    if not isinstance(stats, dict):
        return None
    details = stats.get(key)
    rate = details.get("rate") if isinstance(details, dict) else None
    return float(rate) if isinstance(rate, int | float) and not isinstance(rate, bool) else None


def queue_stats(row: dict[str, Any], now: float) -> QueueStats:
    """The :class:`QueueStats` of one row of ``GET /api/queues`` at time ``now`` (pure).

    Missing or ill-typed numbers become ``None`` (a queue the broker has not
    sampled yet), never an error.
    """
    head = row.get("head_message_timestamp")
    oldest = None
    if isinstance(head, int | float) and not isinstance(head, bool):
        oldest = max(0.0, now - float(head))
    stats = row.get("message_stats")
    return QueueStats(
        queue=str(row.get("name", "")),
        ready=_count(row.get("messages_ready")),
        unacked=_count(row.get("messages_unacknowledged")),
        consumers=_count(row.get("consumers")),
        oldest_seconds=oldest,
        publish_rate=_rate(stats, "publish_details"),
        deliver_rate=_rate(stats, "deliver_get_details"),
        published=_count(stats.get("publish")) if isinstance(stats, dict) else None,
    )


class ManagementClient:
    """The management API of one RabbitMQ node, for one vhost.

    Args:
        url: ``http://user:password@host:port``; the credentials are sent as
            basic auth and never appear in an error.
        vhost: the virtual host whose queues are read.
        timeout: the longest one call may take.

    Raises:
        ValueError: ``url`` is not an http(s) URL with a user and a host
            (the message does not quote it).
    """

    def __init__(self, url: str, vhost: str, *, timeout: float = DEFAULT_TIMEOUT) -> None:
        """Prepare the client; the HTTP session opens on the first call."""
        parsed = URL(url)
        if parsed.scheme not in {"http", "https"} or not parsed.host or not parsed.user:
            raise ValueError("the management URL must be http(s)://user:password@host:port")
        self._base = parsed.with_user(None).with_password(None).with_path("/")
        self._auth = aiohttp.encode_basic_auth(parsed.user, parsed.password or "")
        self._vhost = vhost
        self._timeout = aiohttp.ClientTimeout(total=timeout)
        self._session: aiohttp.ClientSession | None = None

    async def __aenter__(self) -> Self:
        """Return the client (the session opens on the first call)."""
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        """Close, as :meth:`close`."""
        await self.close()

    async def close(self) -> None:
        """Close the HTTP session (idempotent)."""
        session, self._session = self._session, None
        if session is not None:
            await session.close()

    def _open(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(
                timeout=self._timeout, headers={"Authorization": self._auth}
            )
        return self._session

    async def _get(self, path: str, what: str) -> Any:
        url = self._base.join(URL(path, encoded=True))
        try:
            async with self._open().get(url, allow_redirects=False) as response:
                if response.status in _REFUSED:
                    raise BrokerError(
                        BrokerErrorCode.MANAGEMENT_REFUSED, f"management API refused {what}"
                    )
                if response.status == _NOT_FOUND:
                    raise BrokerError(BrokerErrorCode.NOT_FOUND, f"management API has no {what}")
                if response.status != _HTTP_OK:
                    raise BrokerError(
                        BrokerErrorCode.MANAGEMENT_UNAVAILABLE,
                        f"management API answered {response.status} for {what}",
                    )
                return await response.json()
        except (aiohttp.ClientError, TimeoutError, ValueError) as error:
            # The error's text may hold the URL; the detail names the operation only.
            raise BrokerError(
                BrokerErrorCode.MANAGEMENT_UNAVAILABLE, f"management API unreachable for {what}"
            ) from error

    async def queue_stats(self, queues: Sequence[str]) -> dict[str, QueueStats]:
        """Return the numbers of each of ``queues`` that exists in the vhost, by name.

        Raises:
            BrokerError: ``broker.management_unavailable`` (unreachable, timed out,
                unreadable answer), ``broker.management_refused`` or
                ``broker.not_found`` (no such vhost).
        """
        vhost = quote(self._vhost, safe="")
        rows = await self._get(f"api/queues/{vhost}?columns={_COLUMNS}", "queues")
        if not isinstance(rows, list):
            raise BrokerError(BrokerErrorCode.MANAGEMENT_UNAVAILABLE, "queues answer malformed")
        wanted, now = set(queues), time.time()
        found = (
            queue_stats(row, now)
            for row in rows
            if isinstance(row, dict) and row.get("name") in wanted
        )
        return {stats.queue: stats for stats in found}
