"""Strict JSON for untrusted input: what it refuses and what it keeps."""

from __future__ import annotations

import pytest

from hub import safejson


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ('{"a": 1, "a": 2}', "duplicate"),
        ('{"a": NaN}', "NaN"),
        ("[Infinity]", "NaN"),
        ("1" * 21, "integer"),
        ("1." + "1" * 50, "number"),
        ("[" * 33 + "]" * 33, "deep"),
        ("[" * 100_000 + "]" * 100_000, "RecursionError|deep"),
        (b"\xff\xfe", "UnicodeDecodeError"),
        ('{"a": ', "JSONDecodeError"),
        ("[1e999]", "out of range"),
        ('["\\ud800"]', "surrogate"),
        ('{"\\udfff": 1}', "surrogate"),
    ],
    ids=[
        "duplicate-key",
        "nan",
        "infinity",
        "long-int",
        "long-float",
        "deep",
        "very-deep",
        "utf8",
        "cut",
        "infinite-float",
        "lone-surrogate",
        "surrogate-key",
    ],
)
def test_refuses_unsafe_json(text: str | bytes, reason: str) -> None:
    """Duplicate keys, NaN, overlong numbers, deep nesting and broken text are refused."""
    with pytest.raises(safejson.UnsafeJSONError, match=reason):
        safejson.loads(text)


def test_keeps_ordinary_json() -> None:
    """Ordinary JSON, non-ASCII text included, parses and serializes compactly."""
    value = safejson.loads('{"name": "Zoë Example", "n": [1, 2.5, true, null], "deep": [[[1]]]}')
    assert value == {"name": "Zoë Example", "n": [1, 2.5, True, None], "deep": [[[1]]]}
    assert safejson.dumps(value) == '{"name":"Zoë Example","n":[1,2.5,true,null],"deep":[[[1]]]}'


def test_depth_limit_is_exact() -> None:
    """Nesting of exactly the limit is accepted; one more is refused."""
    assert safejson.loads("[" * 32 + "]" * 32, max_depth=32) is not None
    with pytest.raises(safejson.UnsafeJSONError):
        safejson.loads("[" * 33 + "]" * 33, max_depth=32)
