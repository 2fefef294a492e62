"""docs/THREAT_MODEL.md points only at tests that exist, and every threat at one."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MODEL = ROOT / "docs" / "THREAT_MODEL.md"
TESTS = ROOT / "tests"
#: `file::test`, `file.py` or `folder/`, relative to tests/.
REFERENCE = re.compile(r"`((?:hub|adapters|schemas|vectors)/[\w/]*(?:\.py(?:::\w+)?|/))`")


def _rows() -> list[str]:
    return [line for line in MODEL.read_text().splitlines() if re.match(r"^\| [STRIDE] \|", line)]


def _references() -> list[str]:
    """Every reference in a row's last cell, and every `file::test` anywhere."""
    text = MODEL.read_text()
    found = [ref for row in _rows() for ref in REFERENCE.findall(row.split(" | ")[-1])]
    return found + [ref for ref in REFERENCE.findall(text) if "::" in ref]


def test_every_reference_names_a_test_that_exists() -> None:
    """Each `file::test` is a test function in that file; each file or folder exists."""
    references = _references()
    assert len(references) > 40
    for reference in references:
        path, _, name = reference.partition("::")
        target = TESTS / path
        assert target.exists(), f"{reference}: no such file or folder under tests/"
        if name:
            source = target.read_text()
            assert re.search(rf"^(async )?def {name}\(", source, re.MULTILINE), (
                f"{reference}: no such test"
            )
        elif target.is_dir():
            assert list(target.glob("test_*.py")), f"{reference}: a folder without tests"


def test_every_threat_points_at_a_test_or_says_open() -> None:
    """A STRIDE row without a test reference must say why it is open."""
    rows = _rows()
    assert {row[2] for row in rows} == set("STRIDE")
    for row in rows:
        cells = row.split(" | ")
        assert REFERENCE.search(cells[-1]) or "**open**" in cells[-1], row
