"""The operator's overview: what needs acting on now, and the last hour of every queue.

Readiness (:mod:`hub.console.health`) says whether the hub can work; it stays
Ready while an agency's adapter is down and its deliveries pile up, because the
hub itself is fine. An operator needs more: :func:`attention` lists what to act
on, each item with a stable code, a severity, the party or queue it concerns
and what to do, from the readiness report and the queues' numbers and history.

The overview reads the broker's counts and the quarantine's stream (at most once a
minute, ADR 0020): it takes nothing from any queue, so looking at it, and its
refreshing itself, changes nothing a message is or where it is.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final, Literal

from hub.console.duties import by_agency, owed
from hub.console.health import readiness
from hub.console.history import sparkline
from hub.console.operations import SCRAPE_SECONDS, OperationsError, sample_queues, watched_queues

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

    from hub.console.deps import ConsoleDeps
    from hub.console.history import QueueHistory

#: Seconds after which the oldest waiting delivery is a warning, and critical (the
#: thresholds of HubInboxBacklog and HubInboxBacklogCritical in deploy/prometheus).
OLD_SECONDS: Final = 900.0
VERY_OLD_SECONDS: Final = 3600.0
#: Seconds between the overview page's own refreshes.
REFRESH_SECONDS: Final = 30

Severity = Literal["critical", "warning"]


@dataclass(frozen=True)
class Attention:
    """One thing an operator should act on.

    Attributes:
        severity: ``critical`` (deliveries are not happening, or soon will not) or
            ``warning`` (act today).
        code: stable, e.g. ``inbox.no_consumer``; docs/console/operations.md lists them.
        subject: the party, queue, key or agreement it concerns (ids only).
        detail: what is wrong and what to do, without any case content.
    """

    severity: Severity
    code: str
    subject: str
    detail: str


def _count(number: int, one: str, many: str) -> str:
    return f"{number} {one if number == 1 else many}"


def _age(seconds: float) -> str:
    minutes = int(seconds // 60)
    return f"{minutes // 60} h {minutes % 60} min" if minutes >= 60 else f"{minutes} min"  # noqa: PLR2004


def _readiness_items(ready: Mapping[str, Any]) -> list[Attention]:
    checks = ready["checks"]
    items: list[Attention] = []
    if not checks["broker"]["ok"]:
        items.append(
            Attention("critical", "broker.down", "broker",
                      f"The broker does not answer ({checks['broker']['code']}): nothing is "
                      "taken in or delivered. Check the RabbitMQ nodes.")
        )  # fmt: skip
    if not checks["ledger"]["ok"]:
        items.append(
            Attention("critical", "ledger.down", "ledger",
                      f"The ledger cannot be written ({checks['ledger']['code']}): the hub "
                      "holds every event until it can record it. Check the database.")
        )  # fmt: skip
    items.extend(
        Attention("critical", "key.none_valid", f"{key['party']} ({key['use']})",
                  "No valid key: events to or from this party are refused. Register "
                  "a new key (hub keys rotate).")
        for key in checks["keys"]["expired"]
    )  # fmt: skip
    expired = {(k["party"], k["use"]) for k in checks["keys"]["expired"]}
    items.extend(
        Attention("warning", "key.expiring", f"{key['party']} ({key['use']})",
                  f"The last valid key ends {key['not_after'][:10]}: rotate it before then.")
        for key in checks["keys"]["due"]
        if (key["party"], key["use"]) not in expired
    )  # fmt: skip
    checkpoint = ready.get("checkpoint")
    if checkpoint is not None and not checkpoint["valid"]:
        items.append(
            Attention("critical", "ledger.checkpoint_invalid", "ledger",
                      f"The latest checkpoint does not verify ({checkpoint['code']}): tell "
                      "the IG officer and run hub audit verify.")
        )  # fmt: skip
    for due in ready["agreements_due"]:
        what = "review is due" if due["date"] == "review_date" else "ends"
        items.append(
            Attention("warning", "agreement.due", f"{due['agreement']} v{due['version']}",
                      f"The agreement's {what} on {due['on']}: tell its IG officer.")
        )  # fmt: skip
    return items


def _inbox_items(party: str, queue: str, history: QueueHistory, at: float) -> list[Attention]:
    samples = history.samples(queue)
    if not samples:
        return []
    last = samples[-1]
    waiting = last.messages or 0
    items: list[Attention] = []
    if last.consumers == 0:
        severity: Severity = "critical" if waiting else "warning"
        items.append(
            Attention(severity, "inbox.no_consumer", party,
                      "No adapter is connected to this agency's inbox; "
                      f"{_count(waiting, 'delivery', 'deliveries')} waiting. Check the "
                      "agency's adapter.")
        )  # fmt: skip
    oldest = history.oldest_seconds(queue, at)
    if oldest is not None and oldest >= OLD_SECONDS:
        severity = "critical" if oldest >= VERY_OLD_SECONDS else "warning"
        items.append(
            Attention(severity, "inbox.backlog_old", party,
                      f"The oldest waiting delivery is at least {_age(oldest)} old: the "
                      "agency is working without current case updates.")
        )  # fmt: skip
    if history.growing(queue, at):
        items.append(
            Attention("warning", "inbox.backlog_growing", party,
                      f"{_count(waiting, 'delivery', 'deliveries')} waiting and rising for "
                      "ten minutes: the agency's adapter takes less than arrives.")
        )  # fmt: skip
    return items


def _quarantine_items(queue: str, history: QueueHistory, at: float) -> list[Attention]:
    samples = history.samples(queue)
    waiting = (samples[-1].messages or 0) if samples else 0
    if history.growing(queue, at):
        return [
            Attention("warning", "quarantine.growing", "quarantine",
                      f"{_count(waiting, 'message', 'messages')} in quarantine and rising "
                      "for ten minutes: see why on the quarantine page.")
        ]  # fmt: skip
    if waiting:
        return [
            Attention("warning", "quarantine.waiting", "quarantine",
                      f"{_count(waiting, 'message', 'messages')} in quarantine: see why, fix "
                      "the cause and replay, or leave them for their senders.")
        ]  # fmt: skip
    return []


#: Seconds dead letters may wait before the overview says the workers are not taking them up
#: (they sweep every 30 s once the ledger can be written).
DEAD_LETTER_SECONDS: Final = 120.0


def _dead_letter_items(queue: str, history: QueueHistory, at: float) -> list[Attention]:
    samples = history.samples(queue)
    if not samples or not samples[-1].messages:
        return []
    older = [s for s in samples if s.at <= at - DEAD_LETTER_SECONDS]
    if not older or not all(s.messages for s in samples if s.at >= older[-1].at):
        return []
    return [
        Attention("warning", "dead_letters.waiting", "dead letters",
                  f"{_count(samples[-1].messages, 'message', 'messages')} the broker "
                  "dead-lettered waited over two minutes: the workers take them up every "
                  "30 s once the ledger can be written. Check the workers and the ledger.")
    ]  # fmt: skip


def _duty_items(owed: Mapping[str, Any] | str) -> list[Attention]:
    if isinstance(owed, str):
        return [
            Attention("warning", "duties.unknown", "ledger",
                      f"What the agencies owe the ledger cannot be read ({owed}): receipts "
                      "and erasures are not shown.")
        ]  # fmt: skip
    items: list[Attention] = []
    for row in owed["receipts"]:
        age = row["age_seconds"] or 0
        if age < OLD_SECONDS:
            continue
        more = "at least " if row["at_least"] else ""
        items.append(
            Attention("critical" if age >= VERY_OLD_SECONDS else "warning", "receipts.overdue",
                      row["recipient"],
                      f"{more}{_count(row['count'], 'delivery', 'deliveries')} not signed for; "
                      f"the oldest was sent {_age(age)} ago. The agency's adapter took them "
                      "but has not confirmed it kept them: check the adapter and its log.")
        )  # fmt: skip
    for row in owed["erasures"]:
        more = "at least " if row["at_least"] else ""
        items.append(
            Attention("warning", "erasures.overdue", row["recipient"],
                      f"{more}{_count(row['count'], 'delivery', 'deliveries')} past the "
                      f"retention end the agency acknowledged (the earliest on "
                      f"{row['earliest']}) with no erasure receipt: tell its IG officer.")
        )  # fmt: skip
    return items


def attention(  # noqa: PLR0913 - each is one source the overview reads
    ready: Mapping[str, Any],
    history: QueueHistory,
    queues: Sequence[tuple[str, str, str]],
    at: float,
    *,
    queues_code: str | None = None,
    owed: Mapping[str, Any] | str | None = None,
) -> list[Attention]:
    """What an operator should act on, most severe first (pure).

    Args:
        ready: the readiness report (:func:`~hub.console.health.readiness`).
        history: the console's queue history, sampled just before.
        queues: the watched queues (:func:`~hub.console.operations.watched_queues`).
        at: now, in seconds since the epoch.
        queues_code: why the queues could not be read, if they could not.
        owed: what the agencies owe the ledger (:func:`~hub.console.duties.owed`),
            or the code of why it could not be read.
    """
    items = _readiness_items(ready)
    if owed is not None:
        items.extend(_duty_items(owed))
    if queues_code is not None:
        items.append(
            Attention("warning", "queues.unknown", "broker",
                      f"The queues cannot be read ({queues_code}): backlogs are not shown. "
                      "Set broker_management_url.")
        )  # fmt: skip
    else:
        for kind, label, queue in queues:
            if kind == "inbox":
                items.extend(_inbox_items(label, queue, history, at))
            elif kind == "quarantine":
                items.extend(_quarantine_items(queue, history, at))
            elif kind == "dead_letters":
                items.extend(_dead_letter_items(queue, history, at))
    return sorted(items, key=lambda item: item.severity != "critical")


def _queue_rows(deps: ConsoleDeps, at: float) -> list[dict[str, Any]]:
    history = deps.history
    rows = []
    for kind, label, queue in watched_queues(deps.hub):
        samples = history.samples(queue)
        if not samples:
            continue
        last = samples[-1]
        rows.append(
            {
                "label": label,
                "queue": queue,
                "messages": last.messages,
                "consumers": last.consumers,
                "publish_rate": last.publish_rate,
                "oldest_seconds": history.oldest_seconds(queue, at),
                "growing": history.growing(queue, at),
                "line": sparkline(samples, at),
                "kind": kind,
            }
        )
    return rows


async def overview(deps: ConsoleDeps) -> dict[str, Any]:
    """The overview of an operator: readiness, what needs attention, every queue's hour."""
    now = deps.clock()
    at = now.timestamp()
    ready = await readiness(deps.hub, now, deps.horizon)
    code = None
    try:
        await sample_queues(deps, SCRAPE_SECONDS)
    except OperationsError as error:
        code = error.code
    owing = await owed(deps)
    queues = watched_queues(deps.hub)
    items = attention(ready, deps.history, queues, at, queues_code=code, owed=owing)
    status = "failing" if not ready["ready"] else "attention" if items else "ok"
    if any(item.severity == "critical" for item in items) and status == "attention":
        status = "critical"
    return {
        "status": status,
        "ready": ready,
        "attention": items,
        "queues": [] if code else _queue_rows(deps, at),
        "owed": owing,
        "owed_rows": [] if isinstance(owing, str) else by_agency(owing),
    }
