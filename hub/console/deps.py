"""What every console handler reads: the dependencies, and the principal of a request.

Kept apart from the route table and the app so that feature modules
(:mod:`hub.console.governance`, :mod:`hub.console.operations`, ...) can declare
their routes and handlers without importing the app that assembles them.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Final

from aiohttp import web

from hub.console.history import QueueHistory
from hub.console.throttle import AuthThrottle
from hub.console.tokens import TokenRecord
from hub.ledger.duties import Duties

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path

    from hub.console.tokens import TokenSource
    from hub.context import HubContext
    from hub.ledger.duties import AwaitingReceipts, OverdueErasures
    from hub.metrics import HubMetrics
    from hub.witnessing import Witnessing

#: How far ahead readiness looks for keys and agreements coming due.
HORIZON: Final = timedelta(days=30)


@dataclass
class DutiesView:
    """What each agency owes the ledger (:mod:`hub.ledger.duties`), as last looked at.

    Attributes:
        duties: the incremental reader.
        at: when it was last read; None before the first look.
        receipts: deliveries not receipted, per agency that owes any.
        erasures: erasures overdue, per agency that owes any.
        lock: one look at a time.
    """

    duties: Duties
    at: datetime | None = None
    receipts: list[AwaitingReceipts] = field(default_factory=list)
    erasures: list[OverdueErasures] = field(default_factory=list)
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)


def utcnow() -> datetime:
    """The current time, in UTC."""
    return datetime.now(UTC)


@dataclass(frozen=True)
class ConsoleDeps:
    """What the console reads.

    Attributes:
        hub: the hub's context (keys, policy, ledger, broker).
        tokens: where the bearer tokens are (a :class:`~hub.console.tokens.TokenFile`).
        clock: the console's time, for ages and expiry horizons.
        horizon: how far ahead keys and agreements count as coming due.
        throttle: counts failed sign-ins and bad tokens and slows them per address.
        history: the last hour of queue numbers this console has seen.
        links: ``(label, URL)`` of the operators' other tools (Grafana, RabbitMQ's
            management UI), shown on the overview.
        reports: the folder of the evaluation's published reports (one folder
            each), shown on the evaluation page when they match a recorded release.
        witnessing: what the witnesses answered to the hub's checkpoints, when a
            witness policy names witnesses to ask (ADR 0026).
        duties: what each agency owes the ledger (receipts, erasures), read
            incrementally (:mod:`hub.console.duties`); made from the hub's ledger
            when not given.
    """

    hub: HubContext
    tokens: TokenSource
    clock: Callable[[], datetime] = utcnow
    horizon: timedelta = HORIZON
    throttle: AuthThrottle = field(default_factory=AuthThrottle)
    history: QueueHistory = field(default_factory=QueueHistory)
    links: tuple[tuple[str, str], ...] = ()
    reports: Path | None = None
    witnessing: Witnessing | None = None
    duties: DutiesView | None = None

    def __post_init__(self) -> None:
        """Make the duties' view from the hub's ledger when none is given."""
        if self.duties is None:
            object.__setattr__(self, "duties", DutiesView(Duties(self.hub.ledger.store)))

    @property
    def owed(self) -> DutiesView:
        """What each agency owes the ledger, as last looked at."""
        if self.duties is None:
            raise RuntimeError("made in __post_init__")
        return self.duties

    @property
    def metrics(self) -> HubMetrics:
        """The hub's metrics, as the pipeline increments them (``/metrics`` exposes them)."""
        return self.hub.metrics


DEPS: Final = web.AppKey("deps", ConsoleDeps)
PRINCIPAL: Final = web.RequestKey("principal", TokenRecord)


def deps_of(request: web.Request) -> ConsoleDeps:
    """The dependencies of the app serving ``request``."""
    return request.app[DEPS]


def principal(request: web.Request) -> TokenRecord | None:
    """The token record admitted for ``request``, None on a public route."""
    return request.get(PRINCIPAL)
