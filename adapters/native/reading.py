"""Reading native JSON records safely, and building events from them.

Shared by the police and probation translators. A :class:`Node` is a native value
with its path (``events[0].details.priority``), so every failure names the native
field at fault and never its value. A :class:`Draft` collects event fields with the
native path that fed each one, so a :class:`~schemas.errors.SchemaError` raised by
the schema's own validation is reported against the native field.

Native codes are upper snake case (``INTERIM_SPO``); the catalogue's are lower
(``interim_spo``): :meth:`Node.code` and :func:`native_code` convert, and only
values of the target enumeration pass.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Final

from adapters.base import RecordError
from schemas.errors import SchemaError
from schemas.registry import parse_event

if TYPE_CHECKING:
    import enum
    from collections.abc import Mapping

    from schemas.base import CaseEvent

INVALID: Final = "record.invalid"
UNSUPPORTED: Final = "record.unsupported"
#: Namespace of the event ids derived from native record ids (uuid5).
EVENT_ID_NAMESPACE: Final = uuid.UUID("3f1c2b8e-7d4a-5e6f-9a0b-5c7d11e4a001")


def derive_event_id(agency: str, *parts: str) -> uuid.UUID:
    """Return the event id of a native record: the same record always gives the same id."""
    return uuid.uuid5(EVENT_ID_NAMESPACE, "/".join((agency, *parts)))


def native_code(value: str | None) -> str | None:
    """Return a catalogue code in native form (``interim_spo`` -> ``INTERIM_SPO``)."""
    return None if value is None else value.upper()


@dataclass(frozen=True)
class Node:
    """A native JSON value, where it sits, and in which record."""

    value: Any
    path: str
    record: str

    def fail(self, problem: str, code: str = INVALID) -> RecordError:
        """Return the error for this field; ``problem`` must not quote the value."""
        return RecordError(code, self.record, self.path, problem)

    def get(self, key: str) -> Node:
        """Return the child ``key`` of an object (``None`` when absent)."""
        mapping = self.obj()
        return Node(mapping.get(key), f"{self.path}.{key}" if self.path else key, self.record)

    @property
    def present(self) -> bool:
        """Whether the field holds a value (absent and ``null`` do not)."""
        return self.value is not None

    def obj(self) -> Mapping[str, Any]:
        """Return the value as an object."""
        if not isinstance(self.value, dict):
            raise self.fail("missing or not an object")
        return self.value

    def items(self, *, required: bool = False) -> list[Node]:
        """Return the elements of a list (absent: empty, unless ``required``)."""
        if self.value is None and not required:
            return []
        if not isinstance(self.value, list) or (required and not self.value):
            raise self.fail("missing, empty or not a list")
        return [Node(item, f"{self.path}[{i}]", self.record) for i, item in enumerate(self.value)]

    def text(self) -> str:
        """Return the value as non-empty text."""
        if not isinstance(self.value, str) or not self.value:
            raise self.fail("missing or not text")
        return self.value

    def opt_text(self) -> str | None:
        """Return the value as text, or ``None`` when absent."""
        return None if self.value is None else self.text()

    def flag(self, *, default: bool = False) -> bool:
        """Return the value as a boolean (absent: ``default``)."""
        if self.value is None:
            return default
        if not isinstance(self.value, bool):
            raise self.fail("not a boolean")
        return self.value

    def number(self) -> int:
        """Return the value as an integer."""
        if not isinstance(self.value, int) or isinstance(self.value, bool):
            raise self.fail("missing or not an integer")
        return self.value

    def opt_number(self) -> int | None:
        """Return the value as an integer, or ``None`` when absent."""
        return None if self.value is None else self.number()

    def code(self, vocabulary: type[enum.StrEnum]) -> str:
        """Return a native upper-case code as the catalogue's value of ``vocabulary``."""
        text = self.text()
        wanted = text.lower()
        if text != text.upper() or wanted not in {member.value for member in vocabulary}:
            raise self.fail(f"not a code of {vocabulary.__name__}")
        return wanted

    def opt_code(self, vocabulary: type[enum.StrEnum]) -> str | None:
        """Return :meth:`code`, or ``None`` when absent."""
        return None if self.value is None else self.code(vocabulary)

    def mapped(self, table: Mapping[Any, str]) -> str:
        """Return the catalogue value a native value stands for in ``table``."""
        # A list or an object is no code (nor hashable); a boolean is no number.
        scalar = isinstance(self.value, int | str) and not isinstance(self.value, bool)
        if not scalar or self.value not in table:
            raise self.fail("not one of the codes this field allows")
        return table[self.value]


@dataclass
class Draft:
    """An event being built: its fields and the native field that fed each one."""

    record: str
    origin: str
    data: dict[str, Any] = field(default_factory=dict)
    sources: dict[str, str] = field(default_factory=dict)

    def put(self, name: str, value: Any, source: str) -> None:
        """Set event field ``name`` from the native field ``source`` (``None``: leave unset)."""
        if value is not None:
            self.data[name] = value
            self.sources[name] = source

    def take(self, name: str, node: Node) -> None:
        """Set event field ``name`` to the raw native value of ``node``; the schema judges it."""
        self.put(name, node.value, node.path)

    def build(self) -> CaseEvent:
        """Validate the draft with the schema's own validation.

        Raises:
            RecordError: naming the native field behind the first failing event field.
        """
        try:
            return parse_event(self.data)
        except SchemaError as error:
            problem = error.problems[0] if error.problems else None
            loc = problem.loc if problem else ""
            kind = problem.type if problem else error.code.value
            raise RecordError(
                INVALID, self.record, self._source_of(loc), f"fails the event schema ({kind})"
            ) from None

    def _source_of(self, loc: str) -> str:
        parts = loc.split(".") if loc else []
        while parts:
            source = self.sources.get(".".join(parts))
            if source is not None:
                return source
            parts.pop()
        return self.origin
