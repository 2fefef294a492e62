"""Hypothesis strategies for valid case events of every catalogued type and version.

Values are generated from each model's JSON Schema (the same one exported to
``schemas/json/``), so a new field or version is covered without touching this
file. What JSON Schema cannot say is added here, without filtering:

- times and dates are in the past, and within one object they never run
  backwards in declaration order (``occurred_at`` before ``recorded_at``, a
  licence's start before its end);
- cross-field rules a model enforces get a fixer, keyed by event type
  (``ConditionsSet`` holds exactly one of bail or licence; a declined
  ``VictimViewRecorded`` holds no answer).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime, time, timedelta, timezone
from functools import cache
from typing import TYPE_CHECKING, Any, Final

from hypothesis import strategies as st

from schemas.export import json_schema
from schemas.registry import CATALOGUE, parse_event

if TYPE_CHECKING:
    from collections.abc import Callable

    from schemas.base import CaseEvent

Node = dict[str, Any]
SHORT_TEXT_PATTERN: Final = r"^[^\r\n]*$"
EARLIEST: Final = datetime(2000, 1, 1, tzinfo=UTC)
#: Longest text drawn; the models allow far more, but size is not what these tests probe.
MAX_TEXT: Final = 40
#: Most items drawn beyond an array's minimum.
EXTRA_ITEMS: Final = 3
_OFFSETS: Final = st.integers(-12 * 60, 14 * 60).map(lambda m: timezone(timedelta(minutes=m)))
_TEXT: Final = st.characters(exclude_categories=["Cs"])
_LINE: Final = st.characters(exclude_categories=["Cs"], exclude_characters="\r\n")


@dataclass
class _Floor:
    """The earliest instant the next time or date in one object may take."""

    at: datetime = field(default=EARLIEST)


@dataclass(frozen=True)
class _Walker:
    """Draws JSON values for the nodes of one model's JSON Schema."""

    root: Node
    latest: datetime

    def resolve(self, node: Node) -> Node:
        ref = node.get("$ref")
        if ref is None:
            return node
        return self.resolve(self.root["$defs"][ref.removeprefix("#/$defs/")])

    def value(self, draw: st.DrawFn, node: Node, floor: _Floor) -> Any:
        node = self.resolve(node)
        if "const" in node:
            return node["const"]
        if "enum" in node:
            return draw(st.sampled_from(node["enum"]))
        if "anyOf" in node or "oneOf" in node:
            branches = node.get("anyOf") or node["oneOf"]
            return self.value(draw, draw(st.sampled_from(branches)), floor)
        return self.typed(draw, node, floor)

    def typed(self, draw: st.DrawFn, node: Node, floor: _Floor) -> Any:
        kind = node["type"]
        if kind == "object":
            return self.object(draw, node)
        if kind == "array":
            return self.array(draw, node)
        if kind == "string":
            return self.string(draw, node, floor)
        return draw(_scalar(node))

    def object(self, draw: st.DrawFn, node: Node) -> Node:
        required = set(node.get("required", ()))
        floor = _Floor()
        data = {}
        for name, sub in node["properties"].items():
            if name in required or draw(st.booleans()):
                data[name] = self.value(draw, sub, floor)
        return data

    def array(self, draw: st.DrawFn, node: Node) -> list[Any]:
        low = node.get("minItems", 0)
        size = draw(
            st.integers(low, min(node.get("maxItems", low + EXTRA_ITEMS), low + EXTRA_ITEMS))
        )
        return [self.value(draw, node["items"], _Floor()) for _ in range(size)]

    def string(self, draw: st.DrawFn, node: Node, floor: _Floor) -> str:
        form = node.get("format")
        if form == "date-time":
            return self.instant(draw, floor)
        if form == "date":
            return self.day(draw, floor)
        if form == "uuid":
            return str(draw(st.uuids()))
        pattern = node.get("pattern")
        if pattern is not None and pattern != SHORT_TEXT_PATTERN:
            return draw(st.from_regex(str(pattern), fullmatch=True))
        low, high = node.get("minLength", 0), min(node.get("maxLength", MAX_TEXT), MAX_TEXT)
        return draw(st.text(_TEXT if pattern is None else _LINE, min_size=low, max_size=high))

    def instant(self, draw: st.DrawFn, floor: _Floor) -> str:
        naive = draw(st.datetimes(_naive(floor.at), _naive(self.latest)))
        floor.at = naive.replace(tzinfo=UTC)
        return floor.at.astimezone(draw(_OFFSETS)).isoformat()

    def day(self, draw: st.DrawFn, floor: _Floor) -> str:
        value = draw(st.dates(floor.at.date(), self.latest.date()))
        floor.at = datetime.combine(value, time(0), UTC)
        return value.isoformat()


def _naive(moment: datetime) -> datetime:
    return moment.astimezone(UTC).replace(tzinfo=None)


def _scalar(node: Node) -> st.SearchStrategy[Any]:
    kind = node["type"]
    if kind == "integer":
        return st.integers(node.get("minimum"), node.get("maximum"))
    if kind == "number":
        low, high = node.get("minimum"), node.get("maximum")
        return st.floats(low, high, allow_nan=False, allow_infinity=False)
    if kind == "boolean":
        return st.booleans()
    if kind == "null":
        return st.none()
    raise NotImplementedError(f"no strategy for JSON Schema type {kind!r}")


def _non_null(node: Node) -> Node:
    return next(b for b in node.get("anyOf", [node]) if b.get("type") != "null")


def _one_regime(draw: st.DrawFn, data: Node, walker: _Walker) -> None:
    keep, drop = draw(st.permutations(["bail", "licence"]))
    data.pop(drop, None)
    if data.get(keep) is None:
        data[keep] = walker.value(draw, _non_null(walker.root["properties"][keep]), _Floor())


def _declined_has_no_answers(draw: st.DrawFn, data: Node, walker: _Walker) -> None:
    del walker
    if data.get("declined"):
        for name in ("feels_safer", "satisfied_with_response"):
            if draw(st.booleans()):
                data[name] = None
            else:
                data.pop(name, None)


#: Cross-field rules of a model, restored after drawing: event type -> fixer.
FIXERS: Final[dict[str, Callable[[st.DrawFn, Node, _Walker], None]]] = {
    "ConditionsSet": _one_regime,
    "VictimViewRecorded": _declined_has_no_answers,
}


@cache
def _schema(event_type: str, version: int) -> Node:
    return json_schema(CATALOGUE[event_type, version])


@st.composite
def event_data(draw: st.DrawFn, event_type: str, version: int) -> Node:
    """Draw the JSON data of one valid event of ``event_type`` version ``version``."""
    latest = datetime.now(UTC).replace(microsecond=0) - timedelta(days=1)
    walker = _Walker(_schema(event_type, version), latest)
    data = walker.object(draw, walker.root)
    fixer = FIXERS.get(event_type)
    if fixer is not None:
        fixer(draw, data, walker)
    return data


def case_events(
    keys: tuple[tuple[str, int], ...] = tuple(CATALOGUE),
) -> st.SearchStrategy[CaseEvent]:
    """Valid events of the catalogued ``(event_type, version)`` keys, all by default.

    Every drawn event went through :func:`schemas.registry.parse_event`; a draw
    that fails validation is a bug in this strategy and raises, never filtered.
    """
    return st.sampled_from(keys).flatmap(
        lambda key: event_data(*key).map(lambda data: parse_event(json.dumps(data)))
    )


__all__ = ["FIXERS", "case_events", "event_data"]
