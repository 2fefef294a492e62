"""One error model: every error is a HubError with a stable code; one list of refusal codes."""

from __future__ import annotations

import importlib
import inspect
import pkgutil
import re
from pathlib import Path

import pytest

import adapters
import hub
import schemas
from hub.crypto import ErrorCode as EnvelopeCode
from hub.errors import HubError, RefusalCode
from hub.refusals import Refusal
from schemas.errors import SchemaErrorCode

ROOT = Path(__file__).resolve().parent.parent
#: The codes ARCHITECTURE section 8 names (the design document lives outside the repository).
ARCHITECTURE_SECTION_8 = (
    "envelope.malformed",
    "envelope.undecryptable",
    "signature.invalid",
    "sender.unknown",
    "key.not_valid",
    "schema.invalid",
    "schema.unknown_version",
    "sender.not_entitled",
    "payload.too_large",
    "event.replayed",
    "clock.skew",
)


def _documented_codes() -> set[str]:
    """Every code in the first column of the tables of docs/envelope.md's refusal section."""
    text = (ROOT / "docs" / "envelope.md").read_text()
    section = text[text.index("## Refusal codes") :]
    section = section[: section.index("\n## ", 1)] if "\n## " in section[1:] else section
    rows = set(re.findall(r"^\| `([a-z_]+\.[a-z_]+)` \|", section, re.MULTILINE))
    named = set(re.findall(r"codes? `(schema\.[a-z_]+)`", section))
    named |= set(re.findall(r"`(schema\.[a-z_]+)`", section))
    return rows | named


def test_refusal_codes_are_the_documented_ones() -> None:
    """The enum and docs/envelope.md's tables list the same codes, neither more nor fewer."""
    assert _documented_codes() == {code.value for code in RefusalCode}


def test_refusal_codes_hold_every_code_of_the_design() -> None:
    """Every code ARCHITECTURE section 8 names is a refusal code."""
    assert set(ARCHITECTURE_SECTION_8) <= {code.value for code in RefusalCode}


@pytest.mark.parametrize("room", [EnvelopeCode, SchemaErrorCode], ids=["envelope", "schema"])
def test_every_room_code_that_refuses_is_a_refusal_code(room: type[EnvelopeCode]) -> None:
    """An envelope or schema failure becomes a refusal whose code is in the one enum."""
    for code in room:
        assert Refusal(code.value).code is RefusalCode(code.value)


def test_a_refusal_with_an_unknown_code_cannot_be_made() -> None:
    """A code outside the enum is a programming error, caught where the refusal is made."""
    with pytest.raises(ValueError, match="not a valid RefusalCode"):
        Refusal("envelope.bent")


def _exception_classes() -> list[type[BaseException]]:
    found: dict[str, type[BaseException]] = {}
    for package in (hub, adapters, schemas):
        for info in pkgutil.walk_packages(package.__path__, f"{package.__name__}."):
            if info.name.endswith("__main__"):
                continue
            module = importlib.import_module(info.name)
            for _, value in inspect.getmembers(module, inspect.isclass):
                if issubclass(value, BaseException) and value.__module__ == info.name:
                    found[f"{info.name}.{value.__name__}"] = value
    return list(found.values())


def test_every_error_the_project_defines_is_a_hub_error() -> None:
    """No room defines an error of its own kind: each has a code and ``diagnostics()``."""
    classes = _exception_classes()
    assert len(classes) >= 15  # the rooms' errors are all found
    assert [c.__qualname__ for c in classes if not issubclass(c, HubError)] == []


def test_diagnostics_carry_the_code_and_detail() -> None:
    """The machine-readable form is the code's text and the content-free detail."""
    error = HubError(RefusalCode.CLOCK_SKEW, "iat 400 s ahead")
    assert error.diagnostics() == {"code": "clock.skew", "detail": "iat 400 s ahead"}
    assert str(error) == "clock.skew: iat 400 s ahead"
