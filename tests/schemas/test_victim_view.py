"""VictimViewRecorded: the victim's view on a fixed scale, no free text, shared with no agency."""

from __future__ import annotations

import json
import traceback
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator

from hub.events import FieldAt, field_of
from hub.policy import DecisionMemo, NotEntitledError, load_policy
from schemas.base import FieldGroup, PersonRole, fields_by_group, group_model, persons_of
from schemas.errors import FieldProblem, SchemaError, SchemaErrorCode
from schemas.events import VictimViewRecorded
from schemas.events.victim import ViewScale
from schemas.export import json_schema
from schemas.registry import parse_event
from schemas.samples import SUBJECT, VICTIM, sample_data, sample_event

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
ANSWERS = ("feels_safer", "satisfied_with_response")
Data = dict[str, Any]


def _data(**changes: Any) -> Data:
    return sample_data("VictimViewRecorded") | changes


def _refused(data: Data) -> SchemaError:
    with pytest.raises(SchemaError) as caught:
        parse_event(json.dumps(data))
    return caught.value


def _schema_accepts(data: Data) -> bool:
    return bool(Draft202012Validator(json_schema(VictimViewRecorded)).is_valid(data))


def _nodes(node: Any) -> list[dict[str, Any]]:
    if isinstance(node, dict):
        return [node, *(n for value in node.values() for n in _nodes(value))]
    if isinstance(node, list):
        return [n for value in node for n in _nodes(value)]
    return []


def test_the_sample_validates() -> None:
    """The fictional sample is a valid event of the victim and subject it names."""
    event = sample_event("VictimViewRecorded")
    assert isinstance(event, VictimViewRecorded)
    assert (event.feels_safer, event.declined) == (ViewScale.AGREE, False)
    assert persons_of(event) == ((SUBJECT, PersonRole.SUBJECT), (VICTIM, PersonRole.VICTIM))


@pytest.mark.parametrize(
    "answers",
    [{}, dict.fromkeys(ANSWERS), {"feels_safer": None}],
    ids=["left-out", "both-null", "one-null"],
)
def test_a_declined_view_without_answers_validates(answers: Data) -> None:
    """Declined, with the answers left out or null, is a valid event, for the hub and the schema."""
    data = {k: v for k, v in _data(declined=True).items() if k not in ANSWERS} | answers
    event = parse_event(json.dumps(data))
    assert isinstance(event, VictimViewRecorded)
    assert (event.feels_safer, event.satisfied_with_response) == (None, None)
    assert _schema_accepts(data)


@pytest.mark.parametrize("answered", ANSWERS)
def test_a_declined_view_with_an_answer_is_refused_without_the_value(answered: str) -> None:
    """Declined with any answer: ``declined_with_answer`` on the whole event, never the value."""
    data = _data(declined=True, **dict.fromkeys(ANSWERS)) | {answered: "strongly_disagree"}
    error = _refused(data)
    assert error.code is SchemaErrorCode.INVALID
    assert error.problems == (FieldProblem("", "declined_with_answer"),)
    assert field_of(error, "VictimViewRecorded", 1) == FieldAt("", "declined_with_answer")
    printed = "".join(traceback.format_exception(error))
    for text in (str(error), repr(error), json.dumps(error.diagnostics()), printed):
        assert "strongly_disagree" not in text
    assert not _schema_accepts(data)


def test_an_answer_off_the_scale_is_refused_at_its_field() -> None:
    """An answer that is not on the scale is refused where it stands, and the schema agrees."""
    data = _data(satisfied_with_response="very")
    assert _refused(data).problems == (FieldProblem("satisfied_with_response", "enum"),)
    assert not _schema_accepts(data)


def test_group_h_holds_only_the_coded_view() -> None:
    """Group H is the stage, the two answers and ``declined``: every string an enum, no text."""
    assert fields_by_group(VictimViewRecorded)[FieldGroup.H] == (
        "stage",
        *ANSWERS,
        "declined",
    )
    schema = group_model(VictimViewRecorded, FieldGroup.H).model_json_schema()
    strings = [n for n in _nodes(schema) if n.get("type") == "string"]
    assert len(strings) == 2  # ViewStage and ViewScale, each once in $defs
    assert all("enum" in n for n in strings)
    assert not any(k in n for n in _nodes(schema) for k in ("minLength", "maxLength", "pattern"))


def test_no_agreement_lets_anyone_provide_it() -> None:
    """The deployment names the type in no agreement: advocacy and every party are refused."""
    policy = load_policy(DEPLOY / "agreements", DEPLOY / "parties.toml", DEPLOY / "rules.toml")
    memo, event = DecisionMemo(policy), sample_event("VictimViewRecorded")
    assert "advocacy" in {party.id for party in policy.rules.parties}
    for party in policy.rules.parties:
        with pytest.raises(NotEntitledError) as caught:
            memo.decide(event, party.id, datetime.now(UTC))
        assert caught.value.code == "sender.not_entitled"
