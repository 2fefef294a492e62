"""Readiness and ledger status: pure checks over keys and policy, thin probes around them.

Readiness fails on what stops the hub from doing its work now: the broker
unreachable, the ledger unreadable or unwritable (the probe takes the write lock
through the ledger's writer, as an append does), or a party left without a valid key (sealing
to it, or checking its signatures, fails). What comes due within the horizon, keys
and agreements, is reported but does not fail readiness: taking the hub out of
service a month early would stop lawful sharing too. The alert rules in
``deploy/prometheus/alerts.yml`` warn about them instead; rotating keys is operators'
work, reviewing agreements the IG officer's.
"""

from __future__ import annotations

import asyncio
import math
from datetime import UTC, datetime, time, timedelta
from typing import TYPE_CHECKING, Any, Final

from hub.broker import BrokerError, Topology
from hub.crypto import EnvelopeError, verify_checkpoint
from hub.ledger import LedgerError, verify_store
from hub.witnessing import WitnessView
from schemas.agreements import AgreementStatus

if TYPE_CHECKING:
    from hub.context import HubContext
    from hub.crypto import KeyDirectory
    from hub.policy import Policy
    from hub.witnessing import Witnessing

PROBE_SECONDS: Final = 5.0
_NOTHING: Final = Topology((), ())


def keys_due(directory: KeyDirectory, at: datetime, horizon: timedelta) -> list[dict[str, Any]]:
    """Each party and use whose last valid key ends before ``at + horizon`` (pure).

    A party that rotated in a newer key in time is not listed: what counts is the
    latest end among its keys valid at ``at``. ``not_after`` is None when none is valid.
    """
    due: list[dict[str, Any]] = []
    for party in sorted(directory.parties()):
        for use in ("sig", "enc"):
            valid = directory.valid_keys(party, use, at)
            until = max((r.not_after for r in valid), default=None)
            if until is None or until < at + horizon:
                stamp = until.isoformat() if until is not None else None
                due.append({"party": party, "use": use, "not_after": stamp})
    return due


def agreements_due(policy: Policy, at: datetime, horizon: timedelta) -> list[dict[str, Any]]:
    """Active agreements whose review is due or whose end falls within ``horizon`` (pure)."""
    today, last = at.date(), (at + horizon).date()
    due: list[dict[str, Any]] = []
    for agreement in policy.agreements:
        if agreement.status is not AgreementStatus.ACTIVE:
            continue
        dates = {"review_date": agreement.review_date, "valid_until": agreement.valid_until}
        for what, day in dates.items():
            if day is not None and day <= last and (what == "review_date" or day >= today):
                ref = {"agreement": agreement.id, "version": agreement.version}
                due.append({**ref, "date": what, "on": day.isoformat()})
    return due


async def probe_broker(ctx: HubContext) -> str | None:
    """None when the broker answers; else its error code.

    Applying an empty topology is the cheapest call the broker protocol offers that
    needs a live connection (on RabbitMQ, a channel round trip).
    """
    try:
        async with asyncio.timeout(PROBE_SECONDS):
            await ctx.broker.apply(_NOTHING)
    except BrokerError as error:
        return error.code.value
    except TimeoutError:
        return "broker.unavailable"
    return None


async def probe_checkpoint(ctx: HubContext, at: datetime) -> dict[str, Any] | None:
    """The latest checkpoint's size and age, checked against the hub's public keys.

    Returns:
        ``None`` when there is no checkpoint yet.

    Raises:
        LedgerError: the ledger cannot be read (``ledger.unavailable``, ``ledger.closed``).
    """
    async with asyncio.timeout(PROBE_SECONDS):
        latest = await ctx.ledger.latest_checkpoint()
    if latest is None:
        return None
    try:
        claims = verify_checkpoint(latest.token, ctx.directory, ctx.keyring.party, now=at)
    except EnvelopeError as error:
        return {"tree_size": latest.tree_size, "valid": False, "code": error.code.value}
    age = int(at.timestamp()) - claims["time"]
    return {"tree_size": claims["tree_size"], "valid": True, "time": claims["time"], "age": age}


async def readiness(ctx: HubContext, at: datetime, horizon: timedelta) -> dict[str, Any]:
    """The readiness report; ``ready`` is false when a failing check failed."""
    broker = await probe_broker(ctx)
    checkpoint: dict[str, Any] | None = None
    ledger: str | None = None
    try:
        checkpoint = await probe_checkpoint(ctx, at)
        async with asyncio.timeout(PROBE_SECONDS):
            await ctx.ledger.probe_writable()
    except LedgerError as error:
        ledger = error.code.value
    except TimeoutError:
        ledger = "ledger.unavailable"
    expired = keys_due(ctx.directory, at, timedelta(0))
    checks: dict[str, dict[str, Any]] = {
        "broker": {"ok": broker is None, "code": broker},
        "ledger": {"ok": ledger is None, "code": ledger},
        "keys": {
            "ok": not expired,
            "expired": expired,
            "due": keys_due(ctx.directory, at, horizon),
        },
    }
    return {
        "ready": all(check["ok"] for check in checks.values()),
        "checks": checks,
        "checkpoint": checkpoint,
        "agreements_due": agreements_due(ctx.policy, at, horizon),
        "horizon_days": horizon.days,
    }


async def ledger_status(
    ctx: HubContext, at: datetime, witnessing: Witnessing | None = None
) -> dict[str, Any]:
    """Verify the whole ledger with public keys, and describe its latest checkpoint.

    With a witness policy the verification also checks the witnesses' cosignatures
    and names the largest tree size their quorum cosigned; ``witnesses`` says what
    each witness last answered (``fork``: it refused a checkpoint the hub signed as
    not extending what it had cosigned).

    Raises:
        LedgerError: the ledger cannot be read.
    """
    policy = ctx.witness_policy
    report = await verify_store(ctx.ledger.store, ctx.directory, now=at, policy=policy)
    if witnessing is not None:
        witnesses = [view.as_json() for view in witnessing.views.values()]
    else:
        names = [w.name for w in policy.witnesses] if policy is not None else []
        witnesses = [WitnessView(name).as_json() for name in names]
    return {
        "notes": report.notes,
        "witnessed_size": report.witnessed_size,
        "witnessed_by": list(report.witnesses),
        "witnesses": witnesses,
        "intact": report.intact,
        "entries": report.entries,
        "checkpoints": report.checkpoints,
        "checkpoint_size": report.checkpoint_size,
        "broken_at": report.broken_at,
        "code": report.code.value if report.code is not None else None,
        "detail": report.detail,
        "latest_checkpoint": await probe_checkpoint(ctx, at),
    }


def key_expiry_seconds(directory: KeyDirectory, at: datetime) -> dict[tuple[str, str], float]:
    """Seconds left on each party's latest valid key, by (party, use); 0 when none is valid."""
    left: dict[tuple[str, str], float] = {}
    for party in sorted(directory.parties()):
        for use in ("sig", "enc"):
            until = max((r.not_after for r in directory.valid_keys(party, use, at)), default=at)
            left[party, use] = (until - at).total_seconds()
    return left


def agreement_review_seconds(policy: Policy, at: datetime) -> dict[str, float]:
    """Seconds to each active agreement's review date (midnight UTC), negative once past."""
    due: dict[str, float] = {}
    for agreement in policy.agreements:
        if agreement.status is AgreementStatus.ACTIVE:
            review = datetime.combine(agreement.review_date, time(), tzinfo=UTC)
            due[agreement.id] = (review - at).total_seconds()
    return due


async def refresh_gauges(ctx: HubContext, at: datetime) -> None:
    """Set the gauges read at scrape time: checkpoint age and what comes due.

    The checkpoint age is +Inf while no checkpoint verifies (none yet, or a bad
    one); the stale-checkpoint alert also asks that entries were appended, so a
    new, empty ledger does not raise it. A ledger that cannot be read leaves the
    gauge as it was; the readiness report says why.
    """
    metrics = ctx.metrics
    for (party, use), seconds in key_expiry_seconds(ctx.directory, at).items():
        metrics.key_expiry_seconds.labels(party=party, use=use).set(seconds)
    for agreement, seconds in agreement_review_seconds(ctx.policy, at).items():
        metrics.agreement_review_seconds.labels(agreement=agreement).set(seconds)
    try:
        checkpoint = await probe_checkpoint(ctx, at)
        async with asyncio.timeout(PROBE_SECONDS):
            metrics.ledger_entries.set(await ctx.ledger.size())
    except (LedgerError, TimeoutError):
        return
    # No checkpoint, or none that verifies, is as stale as can be.
    valid = checkpoint is not None and checkpoint["valid"]
    metrics.checkpoint_age_seconds.set(checkpoint["age"] if checkpoint and valid else math.inf)
