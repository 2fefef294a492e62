"""base64url as the envelope reads it: unpadded, URL alphabet, canonical only.

The reader is checked against a plain reference: decode with the standard library
and accept only what encodes back to the very same text.
"""

from __future__ import annotations

import base64
import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hub.crypto import compact
from hub.crypto.base import EnvelopeError

_URL_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"


def _reference(text: str) -> bytes | None:
    """What the reader must return: the bytes, or None for text it must refuse."""
    if not re.fullmatch(r"[A-Za-z0-9_-]*", text) or len(text) % 4 == 1:
        return None
    data = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    if base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii") != text:
        return None
    return data


def _read(text: str) -> bytes | None:
    try:
        return compact.b64url_decode(text)
    except EnvelopeError:
        return None


@settings(max_examples=500, deadline=None)
@given(text=st.text(st.sampled_from(_URL_ALPHABET) | st.sampled_from("=+/ \n.~é"), max_size=12))
def test_reads_exactly_what_the_reference_reads(text: str) -> None:
    """Any text: same bytes as the reference, or refused where the reference refuses."""
    assert _read(text) == _reference(text)


@settings(max_examples=300, deadline=None)
@given(data=st.binary(max_size=40), last=st.sampled_from(_URL_ALPHABET))
def test_only_the_canonical_last_character_is_read(data: bytes, last: str) -> None:
    """Of every last character an encoding could end in, only the canonical one is read."""
    text = compact.b64url_encode(data)
    if not text:
        return
    changed = text[:-1] + last
    assert _read(changed) == _reference(changed)
    assert _read(text) == data


@pytest.mark.parametrize("text", ["abc\n", "QQ\n", "QR", "QUF", "QUE="])
def test_refuses_a_trailing_newline_and_stray_bits(text: str) -> None:
    """A newline after the text, stray bits in the last character, padding: refused."""
    assert _read(text) is None


@settings(max_examples=300, deadline=None)
@given(data=st.binary(max_size=64))
def test_writes_what_the_standard_library_writes_unpadded(data: bytes) -> None:
    """The writer's text is the standard library's base64url without its padding."""
    expected = base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")
    assert compact.b64url_encode(data) == expected
    assert compact.b64url_decode(expected) == data
