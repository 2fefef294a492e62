"""Strict JSON for untrusted input: what it refuses and what it keeps."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

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


def test_reads_bytes_bytearray_and_text_alike() -> None:
    """UTF-8 bytes, a bytearray and text of one document parse to one value."""
    text = '{"name": "Zoë Example", "n": [1]}'
    expected = {"name": "Zoë Example", "n": [1]}
    assert safejson.loads(text.encode("utf-8")) == expected
    assert safejson.loads(bytearray(text.encode("utf-8"))) == expected  # type: ignore[arg-type]
    assert safejson.loads(text) == expected


def test_depth_limit_is_exact() -> None:
    """Nesting of exactly the limit is accepted; one more is refused."""
    assert safejson.loads("[" * 32 + "]" * 32, max_depth=32) is not None
    with pytest.raises(safejson.UnsafeJSONError):
        safejson.loads("[" * 33 + "]" * 33, max_depth=32)


#: Lone surrogates (which Hypothesis's text leaves out by default), a pair, a backslash.
_PIECES = st.sampled_from(["\ud800", "\udfff", "\ud83d\ude00", "\\", "u"]) | st.characters()
_TEXT = st.lists(_PIECES, max_size=4).map("".join)
_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**53), 2**53) | _TEXT,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(_TEXT, inner, max_size=3),
    max_leaves=40,
)


def _full_walk_refuses(text: str, max_depth: int) -> bool:
    """The check without the fast path: parse, then always walk the value."""
    try:
        safejson._walk(safejson._DECODER.decode(text), max_depth)
    except safejson.UnsafeJSONError:
        return True
    return False


@settings(max_examples=400, deadline=None)
@given(value=_VALUES, ascii_only=st.booleans(), max_depth=st.integers(1, 6))
def test_skipping_the_walk_never_accepts_what_the_walk_refuses(
    value: object, *, ascii_only: bool, max_depth: int
) -> None:
    """The walk is skipped only where it cannot refuse: same verdict as always walking.

    Generated values carry lone surrogates (raw and escaped), paired ones, and
    nesting on both sides of the limit.
    """
    text = json.dumps(value, ensure_ascii=ascii_only)
    refused = _full_walk_refuses(text, max_depth)
    try:
        safejson.loads(text, max_depth=max_depth)
    except safejson.UnsafeJSONError:
        assert refused
    else:
        assert not refused
