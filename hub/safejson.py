"""Strict JSON parsing for untrusted input.

Python's ``json`` accepts things an attacker can use: duplicate object keys (two
readers may see two different values), ``NaN`` and ``Infinity``, integers of any
length (quadratic to convert), and nesting deep enough to exhaust the stack. Every
JSON that arrives from outside the process goes through :func:`loads`.
"""

from __future__ import annotations

import json
import math
import re
from typing import Any, Final

import rfc8785

from hub.errors import HubError

MAX_DEPTH: Final = 32
#: Longest integer literal accepted: enough for any 64-bit value and then some.
MAX_INT_DIGITS: Final = 20
MAX_FLOAT_CHARS: Final = 40


class UnsafeJSONError(HubError, ValueError):
    """The text is not JSON, or is JSON this project refuses to read (``json.unsafe``)."""

    def __init__(self, detail: str) -> None:
        """Say what is wrong with the text, never what it holds."""
        super().__init__("json.unsafe", detail)


def _pairs(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise UnsafeJSONError("duplicate object key")
        result[key] = value
    return result


def _parse_int(text: str) -> int:
    if len(text.lstrip("-")) > MAX_INT_DIGITS:
        raise UnsafeJSONError("integer literal too long")
    return int(text)


def _parse_float(text: str) -> float:
    if len(text) > MAX_FLOAT_CHARS:
        raise UnsafeJSONError("number literal too long")
    value = float(text)
    if not math.isfinite(value):
        raise UnsafeJSONError("number out of range")
    return value


def _parse_constant(_: str) -> float:
    raise UnsafeJSONError("NaN and Infinity are not JSON")


_SURROGATE: Final = re.compile("[\ud800-\udfff]")
#: A ``\\u`` escape of a surrogate code point, or something that looks like one.
_SURROGATE_ESCAPE: Final = re.compile(r"\\u[dD][89a-fA-F]")


def _walk(value: Any, limit: int) -> None:
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        node, depth = stack.pop()
        if depth > limit:
            raise UnsafeJSONError("nesting too deep")
        if isinstance(node, str) and _SURROGATE.search(node):
            raise UnsafeJSONError("lone surrogate in a string")
        if isinstance(node, dict):
            if any(_SURROGATE.search(key) for key in node):
                raise UnsafeJSONError("lone surrogate in a key")
            stack.extend((child, depth + 1) for child in node.values())
        elif isinstance(node, list):
            stack.extend((child, depth + 1) for child in node)


_DECODER: Final = json.JSONDecoder(
    object_pairs_hook=_pairs,
    parse_int=_parse_int,
    parse_float=_parse_float,
    parse_constant=_parse_constant,
)


def _walk_needed(text: str, max_depth: int) -> bool:
    """Whether the parsed value could hold a lone surrogate or nest too deep.

    A parsed string holds a surrogate only if the text has one or escapes one, and
    no value lies deeper than one more than the number of ``[`` and ``{`` in the
    text (the walk counts a value inside n containers as depth n + 1): when neither
    can be, the walk over the value would find nothing.
    """
    return (
        text.count("[") + text.count("{") >= max_depth
        or _SURROGATE_ESCAPE.search(text) is not None
        or _SURROGATE.search(text) is not None
    )


def loads(data: bytes | str, *, max_depth: int = MAX_DEPTH) -> Any:
    """Parse untrusted JSON strictly.

    Args:
        data: UTF-8 bytes or text.
        max_depth: deepest nesting of objects and arrays accepted.

    Returns:
        The parsed value.

    Raises:
        UnsafeJSONError: invalid UTF-8 or JSON, duplicate keys, NaN or Infinity,
            overlong numbers, or nesting deeper than ``max_depth``.
    """
    try:
        text = data if isinstance(data, str) else bytes(data).decode("utf-8")
        value = _DECODER.decode(text)
    except UnsafeJSONError:
        raise
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as error:
        raise UnsafeJSONError(type(error).__name__) from None
    if _walk_needed(text, max_depth):
        _walk(value, max_depth)
    return value


def dumps(value: Any) -> str:
    """Serialize compactly (no spaces), keeping non-ASCII characters as they are."""
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False, allow_nan=False)


#: Integers RFC 8785 writes as plain digits: those a double holds exactly.
_EXACT_INT: Final = 2**53


def _plain(value: Any) -> bool:
    r"""Whether ``value`` holds only JSON on which RFC 8785 and sorted ``json.dumps`` agree.

    They agree on ``null``, booleans, integers a double holds exactly, strings
    without lone surrogates (both escape ``"``, ``\`` and control characters
    the same way, short forms and lowercase ``\u00xx``, and leave every other
    character as it is), and objects whose keys are ASCII (code point order is
    then UTF-16 order). Floats, other types and anything else take the full
    RFC 8785 path. Types are matched exactly: a subclass (an enum member, say)
    takes the full path too, as a float does.
    """
    stack = [value]
    while stack:
        node = stack.pop()
        kind = type(node)
        if kind is str:
            if not node.isascii() and _SURROGATE.search(node):
                return False
        elif kind is dict:
            if not _ascii_keys(node):
                return False
            stack.extend(node.values())
        elif kind is list:
            stack.extend(node)
        elif kind is int:
            if not -_EXACT_INT < node < _EXACT_INT:
                return False
        elif node is not None and kind is not bool:
            return False
    return True


def _ascii_keys(node: dict[Any, Any]) -> bool:
    """Whether every key of ``node`` is a ``str`` of ASCII only."""
    try:
        return "".join(node).isascii()
    except TypeError:  # a key that is no str
        return False


def canonical(document: dict[str, Any]) -> str:
    """RFC 8785 canonical JSON of ``document``, as text.

    Ledger entries and events hold mostly ASCII keys, strings and small
    integers, for which the standard library's sorted, compact ``json.dumps``
    writes the RFC 8785 bytes at a tenth of the cost of the pure-Python
    ``rfc8785`` package (see ``docs/performance.md``); any other document (a
    float, say) goes through ``rfc8785``. The ledger's chain and the agencies'
    event digests both use it.
    """
    if _plain(document):
        return json.dumps(
            document, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
        )
    return rfc8785.dumps(document).decode("utf-8")
