"""Log lines keep ids and codes and withhold anything that could be personal data."""

from __future__ import annotations

import json
import logging

import pytest
import structlog

from hub.logs import WITHHELD, configure, get_logger, redact


def test_ids_and_codes_pass_through() -> None:
    """Allow-listed keys with id-shaped values are kept as they are."""
    line = redact(
        None,
        "info",
        {
            "event": "event.refused",
            "event_id": "0ec80414-12a2-58c9-b5fa-0afcb9391443",
            "code": "signature.invalid",
            "sender": "police",
            "groups": ["A", "E"],
            "count": 3,
        },
    )
    assert line["code"] == "signature.invalid"
    assert line["groups"] == ["A", "E"]
    assert line["count"] == 3
    assert "withheld" not in line


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("victim_name", "Alex Example"),
        ("address", "1 Example Street"),
        ("reason", "victim lives at 1 Example Street"),
        ("event_id", "Alex Example"),
        ("recipient", "health\nforged line"),
    ],
)
def test_personal_values_never_reach_the_line(key: str, value: str) -> None:
    """Unknown keys are dropped and free-text values withheld, whatever the call site did."""
    line = redact(None, "info", {"event": "event.delivered", key: value})
    rendered = json.dumps(dict(line))
    assert value not in rendered
    assert "Example" not in rendered
    assert line.get(key, WITHHELD) == WITHHELD


def test_free_text_event_name_is_withheld() -> None:
    """The event name itself must be a dotted code, not a sentence."""
    line = redact(None, "info", {"event": "delivered to Alex Example at home"})
    assert line["event"] == WITHHELD


def test_configured_pipeline_writes_json_without_personal_data(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """The configured JSON renderer emits one parseable line with the value withheld."""
    configure("json")
    try:
        get_logger("test").info("event.accepted", event_id="e-1", postcode="EX1 1AA")
        line = json.loads(capsys.readouterr().err.strip())
        assert line["event"] == "event.accepted"
        assert line["withheld"] == ["postcode"]
        assert "EX1 1AA" not in json.dumps(line)
    finally:
        structlog.reset_defaults()


def test_library_logs_go_through_the_same_allow_list(capsys: pytest.CaptureFixture[str]) -> None:
    """A library's free-text log record keeps its logger name and loses its message."""
    configure("json", "INFO")
    try:
        logging.getLogger("aiormq.connection").warning(
            "connect to amqp://user:secret@example.invalid failed for %s", "Alex Example"
        )
        line = json.loads(capsys.readouterr().err.strip())
        assert line["logger"] == "aiormq.connection"
        assert line["level"] == "warning"
        assert line["event"] == WITHHELD
        assert "Alex Example" not in json.dumps(line)
        assert "secret" not in json.dumps(line)
    finally:
        structlog.reset_defaults()
        _drop_our_handlers()


def test_configuring_twice_leaves_one_library_handler() -> None:
    """Reconfiguring replaces the library-log handler rather than adding a second."""
    before = list(logging.getLogger().handlers)
    configure("json", "INFO")
    configure("console", "WARNING")
    try:
        added = [h for h in logging.getLogger().handlers if h not in before]
        assert len(added) == 1
        assert logging.getLogger().level == logging.WARNING
    finally:
        structlog.reset_defaults()
        _drop_our_handlers()


def _drop_our_handlers() -> None:
    root = logging.getLogger()
    for handler in [h for h in root.handlers if type(h).__module__ == "hub.logs"]:
        root.removeHandler(handler)
    root.setLevel(logging.WARNING)
