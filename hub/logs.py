"""Structured logs that cannot carry personal data.

Logs are structlog events: JSON lines in production, readable lines in a terminal.
P1 says log lines carry ids, types, agencies and reason codes only. Rather than
trust every call site, the last processor before rendering keeps only allow-listed
keys whose values match a safe shape (an id, a code, a number), and replaces
anything else with ``"[withheld]"``. A call site that tries to log content loses
the value, not the hub's promise. The libraries' own standard-library logs (aio-pika,
aiormq, asyncpg) go through the same processor: their free-text messages are
withheld, their logger name and level kept.
"""

from __future__ import annotations

import logging
import re
import sys
from typing import TYPE_CHECKING, Any, Final, Literal

import structlog

if TYPE_CHECKING:
    from collections.abc import MutableMapping

#: Keys a log line may carry. Values are checked against SAFE_VALUE as well.
ALLOWED_KEYS: Final = frozenset(
    {
        "event", "level", "timestamp", "logger", "logger_name",
        "event_id", "event_type", "schema_version", "decision_id", "decision_ids",
        "sender", "recipient", "recipients", "party", "agreement", "clause", "clauses",
        "groups", "withheld", "code", "reason", "queue", "exchange", "message_id",
        "count", "entries", "seq", "tree_size", "delivery_count", "redelivered",
        "elapsed_ms", "worker", "attempt", "store", "status", "policy_hash", "kid",
        "route", "token_name", "role", "client", "via", "failures", "pause",
        # where a server of the project listens (scheme, host, port; never credentials)
        "listen_url",
        # a ledger's checkpoint origin (a deployment's URL and ledger id) and what a
        # witness saw of it
        "origin", "cosigned_size", "evidence_kind",
    }
)  # fmt: skip
#: ids, codes, party names, group letters, numbers: no spaces, no free text.
SAFE_VALUE: Final = re.compile(r"^[A-Za-z0-9._:@#+/=,;-]{0,200}$")
WITHHELD: Final = "[withheld]"


def _safe(value: Any) -> Any:
    if isinstance(value, bool | int | float) or value is None:
        return value
    if isinstance(value, list | tuple | set | frozenset):
        return [_safe(v) for v in value][:50]
    text = str(value)
    return text if SAFE_VALUE.match(text) else WITHHELD


def redact(_: Any, __: str, event_dict: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    """Keep allow-listed keys with safe values; withhold everything else (structlog processor)."""
    for key in list(event_dict):
        if key not in ALLOWED_KEYS:
            event_dict.pop(key)
            event_dict.setdefault("withheld", []).append(key if SAFE_VALUE.match(key) else "?")
        elif key != "event":
            event_dict[key] = _safe(event_dict[key])
    event = str(event_dict.get("event", ""))
    event_dict["event"] = event if re.fullmatch(r"[a-z0-9_.]{1,64}", event) else WITHHELD
    return event_dict


class _StderrHandler(logging.StreamHandler[Any]):
    """A handler that writes to whatever ``sys.stderr`` is at each record."""

    @property
    def stream(self) -> Any:
        """The current ``sys.stderr``."""
        return sys.stderr

    @stream.setter
    def stream(self, _: Any) -> None:
        """Ignore the stream given at construction."""


def _route_library_logs(renderer: Any, level: str) -> None:
    """Send standard-library logging through :func:`redact` and ``renderer``."""
    root = logging.getLogger()
    for handler in [h for h in root.handlers if isinstance(h, _StderrHandler)]:
        root.removeHandler(handler)
    handler = _StderrHandler()
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=[
                structlog.stdlib.add_log_level,
                structlog.stdlib.add_logger_name,
                structlog.processors.TimeStamper(fmt="iso", utc=True),
            ],
            processors=[
                structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                redact,
                renderer,
            ],
        )
    )
    root.addHandler(handler)
    root.setLevel(level)


def configure(fmt: Literal["json", "console", "auto"] = "auto", level: str = "INFO") -> None:
    """Configure structlog for the process: JSON lines, or a console renderer on a terminal."""
    use_json = fmt == "json" or (fmt == "auto" and not sys.stderr.isatty())
    renderer: Any = (
        structlog.processors.JSONRenderer() if use_json else structlog.dev.ConsoleRenderer()
    )
    _route_library_logs(renderer, level)
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            redact,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(logging.getLevelName(level)),
        # Resolve sys.stderr at each call, so a replaced stream (tests, daemons) is honoured.
        logger_factory=lambda *_: structlog.PrintLogger(sys.stderr),
        cache_logger_on_first_use=False,
    )


def get_logger(name: str) -> Any:
    """A bound logger for one room of the hub."""
    # A lazy proxy: configuration (and structlog.testing.capture_logs) applies at each call.
    return structlog.get_logger(logger_name=name)
