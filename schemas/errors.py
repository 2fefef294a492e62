"""The one error type of the schema room, with stable codes and content-free details.

An event that fails validation is refused, quarantined and reported back to its
sender (ARCHITECTURE section 8), so a :class:`SchemaError` is logged and sent on.
It therefore names *where* the input is wrong (field locations) and *how*
(pydantic's error types), never *what* it held: the input may be a victim's
address. ``str(ValidationError)`` quotes input values, so it is never used here.
"""

import enum
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Final, Self

from pydantic import ValidationError

from hub.errors import HubError, RefusalCode


class SchemaErrorCode(enum.StrEnum):
    """Stable, documented reasons an event is refused by the schema room."""

    INVALID = RefusalCode.SCHEMA_INVALID.value
    UNKNOWN_TYPE = RefusalCode.SCHEMA_UNKNOWN_TYPE.value
    UNKNOWN_VERSION = RefusalCode.SCHEMA_UNKNOWN_VERSION.value


#: At most this many field problems are reported; the rest are counted.
MAX_PROBLEMS: Final = 20
_SAFE_NAME: Final = re.compile(r"^[a-z_][a-z0-9_]{0,63}$")
#: Error types whose last location part is a key from the input, not a field name.
_INPUT_KEY_ERRORS: Final = frozenset({"extra_forbidden"})


@dataclass(frozen=True)
class FieldProblem:
    """One place where an input fails its schema.

    Attributes:
        loc: dotted location, e.g. ``order.terms.0.kind``; ``""`` for the whole event.
        type: pydantic's error type, e.g. ``string_too_long`` or ``time_in_future``.
    """

    loc: str
    type: str


def _loc_part(part: object) -> str:
    if isinstance(part, int):
        return str(part)
    text = str(part)
    # Field names and union tags of the catalogue are snake_case identifiers;
    # anything else in a location may have come from the input (a dict key).
    return text if _SAFE_NAME.match(text) else "<redacted>"


def problems_of(error: ValidationError) -> tuple[FieldProblem, ...]:
    """Turn a pydantic error into content-free problems (location and type only)."""
    found = []
    for item in error.errors(include_url=False, include_input=False, include_context=False):
        parts = [_loc_part(part) for part in item["loc"]]
        if item["type"] in _INPUT_KEY_ERRORS and parts:
            parts[-1] = "<key>"
        found.append(FieldProblem(".".join(parts), item["type"]))
    return tuple(found)


class SchemaError(HubError):
    """An event was refused by the schema room.

    Attributes:
        code: the stable reason code.
        detail: a short, content-free description.
        problems: where and how the input failed (at most :data:`MAX_PROBLEMS`).
        more: how many further problems were left out.
    """

    def __init__(
        self, code: SchemaErrorCode, detail: str, problems: Iterable[FieldProblem] = ()
    ) -> None:
        """Make an error with a stable ``code``; ``detail`` must hold no input."""
        listed = tuple(problems)
        super().__init__(code, detail)
        self.code: SchemaErrorCode = code
        self.problems = listed[:MAX_PROBLEMS]
        self.more = len(listed) - len(self.problems)
        self.args = (self._message(),)

    @classmethod
    def invalid(cls, error: ValidationError, model: type[Any]) -> Self:
        """Make the ``schema.invalid`` error for a failed validation against ``model``."""
        return cls(SchemaErrorCode.INVALID, f"not a valid {model.__name__}", problems_of(error))

    def _message(self) -> str:
        fields = "; ".join(f"{p.loc or '<event>'}: {p.type}" for p in self.problems)
        more = f" (+{self.more} more)" if self.more else ""
        return f"{self.code.value}: {self.detail}" + (f" [{fields}{more}]" if fields else "")

    def diagnostics(self) -> dict[str, Any]:
        """Return the machine-readable form used in refusal notices and logs."""
        return {
            "code": self.code.value,
            "detail": self.detail,
            "problems": [{"loc": p.loc, "type": p.type} for p in self.problems],
            "more": self.more,
        }
