"""Keyed pseudonyms and the ledger key file."""

from __future__ import annotations

import os
import stat
from typing import TYPE_CHECKING

import pytest

from hub.ledger.base import ErrorCode, LedgerError
from hub.ledger.entries import CASE_PSEUDONYM, PERSON_PSEUDONYM
from hub.ledger.pseudonyms import Pseudonymizer, generate_ledger_key, load_ledger_key

if TYPE_CHECKING:
    from pathlib import Path

KEY_A = bytes(range(32))
KEY_B = bytes(range(1, 33))
CASE = "MASIP-2026-000123"
PERSON = "P-0123456789"


def test_pseudonyms_are_stable_per_key() -> None:
    """The same key and reference always give the same pseudonym, of the documented shape."""
    import re  # noqa: PLC0415 - only this test matches shapes

    one, two = Pseudonymizer(KEY_A), Pseudonymizer(KEY_A)
    assert one.case(CASE) == two.case(CASE)
    assert one.person(PERSON) == two.person(PERSON)
    assert re.match(CASE_PSEUDONYM, one.case(CASE))
    assert re.match(PERSON_PSEUDONYM, one.person(PERSON))


def test_pseudonyms_differ_across_keys() -> None:
    """Another ledger key gives unrelated pseudonyms."""
    assert Pseudonymizer(KEY_A).case(CASE) != Pseudonymizer(KEY_B).case(CASE)
    assert Pseudonymizer(KEY_A).person(PERSON) != Pseudonymizer(KEY_B).person(PERSON)


def test_case_and_person_domains_are_separate() -> None:
    """One reference string is a different pseudonym as a case and as a person."""
    names = Pseudonymizer(KEY_A)
    assert names.case(PERSON)[2:] != names.person(PERSON)[2:]
    assert names.case(CASE) != names.case(CASE.lower())


def test_known_value() -> None:
    """HMAC-SHA256 with the domain prefix, base64url without padding (a fixed vector)."""
    import base64  # noqa: PLC0415
    import hashlib  # noqa: PLC0415
    import hmac  # noqa: PLC0415

    mac = hmac.new(KEY_A, b"person\x00" + PERSON.encode(), hashlib.sha256).digest()
    expected = "p_" + base64.urlsafe_b64encode(mac).rstrip(b"=").decode()
    assert Pseudonymizer(KEY_A).person(PERSON) == expected
    assert Pseudonymizer(KEY_A).persons([PERSON, PERSON]) == (expected,)


def test_short_key_is_refused_and_never_shown() -> None:
    """A key under 32 bytes is refused; the object's repr withholds the key."""
    with pytest.raises(LedgerError) as caught:
        Pseudonymizer(b"short")
    assert caught.value.code is ErrorCode.KEY_INVALID
    assert "withheld" in repr(Pseudonymizer(KEY_A))


def test_generated_key_file_is_0600_and_loads(tmp_path: Path) -> None:
    """A generated key file has mode 0600, loads back, and is never overwritten."""
    path = tmp_path / "ledger.key"
    key = generate_ledger_key(path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert load_ledger_key(path) == key
    with pytest.raises(LedgerError):
        generate_ledger_key(path)
    assert load_ledger_key(path) == key


def test_key_file_readable_by_others_is_refused(tmp_path: Path) -> None:
    """Loading a key file that group or others can read fails with ledger.key_invalid."""
    path = tmp_path / "ledger.key"
    generate_ledger_key(path)
    os.chmod(path, 0o644)  # noqa: PTH101 - mirrors what an operator might do
    with pytest.raises(LedgerError) as caught:
        load_ledger_key(path)
    assert caught.value.code is ErrorCode.KEY_INVALID


@pytest.mark.parametrize("text", ["not base64!", "AAAA", "A" * 44])
def test_key_file_that_is_not_a_key_is_refused(tmp_path: Path, text: str) -> None:
    """A key file holding anything but 32 bytes of canonical base64url is refused."""
    path = tmp_path / "ledger.key"
    path.write_text(text)
    path.chmod(0o600)
    with pytest.raises(LedgerError) as caught:
        load_ledger_key(path)
    assert caught.value.code is ErrorCode.KEY_INVALID
