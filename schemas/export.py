"""JSON Schema (draft 2020-12) of every catalogued event, for partners not in Python.

One file per type and version, ``<EventType>.v<N>.schema.json``, committed in
``schemas/json/`` and checked up to date by a test and by ``hub schemas check``;
beside them in ``schemas/examples/``, one fictional event per type and version,
``<EventType>.v<N>.example.json``, valid against its schema and accepted by the hub
(a test checks both).
Each property carries ``x-field-group``: the group its value is disclosed in.
Output is deterministic (sorted keys, two-space indent, trailing newline) so a
diff shows exactly what a model change did to the contract.
"""

import json
from pathlib import Path
from typing import Any, Final

from schemas.base import CaseEvent, fields_by_group
from schemas.registry import CATALOGUE, catalogue_key
from schemas.samples import sample_data

DIALECT: Final = "https://json-schema.org/draft/2020-12/schema"
#: Base of every schema's ``$id``; ``.example`` is reserved and resolves nowhere.
ID_BASE: Final = "https://case-event-hub.example/schemas/"
SUFFIX: Final = ".schema.json"
EXAMPLE_SUFFIX: Final = ".example.json"


def file_name(event_type: str, version: int) -> str:
    """Return the file name of one type and version's schema."""
    return f"{event_type}.v{version}{SUFFIX}"


def json_schema(model: type[CaseEvent]) -> dict[str, Any]:
    """Return the JSON Schema of one catalogued model, with ``$schema`` and ``$id``."""
    event_type, version = catalogue_key(model)
    schema = model.model_json_schema(mode="validation")
    return {
        "$schema": DIALECT,
        "$id": ID_BASE + file_name(event_type, version),
        "x-envelope-claims": list(model.ENVELOPE_CLAIMS),
        **schema,
    }


def render(schema: dict[str, Any]) -> str:
    """Serialise a schema deterministically."""
    return json.dumps(schema, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def expected_files() -> dict[str, str]:
    """Return file name -> content for every catalogued type and version."""
    return {
        file_name(event_type, version): render(json_schema(model))
        for (event_type, version), model in sorted(CATALOGUE.items())
    }


def export_all(directory: Path) -> list[Path]:
    """Write every schema into ``directory`` and remove schema files no model backs.

    Returns:
        The paths written, sorted.
    """
    directory.mkdir(parents=True, exist_ok=True)
    expected = expected_files()
    for stale in directory.glob(f"*{SUFFIX}"):
        if stale.name not in expected:
            stale.unlink()
    written = []
    for name, content in expected.items():
        path = directory / name
        path.write_text(content, encoding="utf-8", newline="\n")
        written.append(path)
    return sorted(written)


def expected_examples() -> dict[str, str]:
    """Return file name -> content of the example event of every type and version."""
    return {
        f"{event_type}.v{version}{EXAMPLE_SUFFIX}": render(sample_data(event_type, version))
        for event_type, version in sorted(CATALOGUE)
    }


def export_examples(directory: Path) -> list[Path]:
    """Write every example into ``directory``; return the paths written, sorted."""
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for name, content in expected_examples().items():
        path = directory / name
        path.write_text(content, encoding="utf-8", newline="\n")
        written.append(path)
    return sorted(written)


def stale_examples(directory: Path) -> list[str]:
    """Return the names of example files in ``directory`` that are missing, differ or are extra."""
    expected = expected_examples()
    present = (
        {p.name: p for p in directory.glob(f"*{EXAMPLE_SUFFIX}")} if directory.is_dir() else {}
    )
    stale = [name for name in present if name not in expected]
    stale += [
        name
        for name, content in expected.items()
        if name not in present or present[name].read_text(encoding="utf-8") != content
    ]
    return sorted(stale)


def stale_files(directory: Path) -> list[str]:
    """Return the names of schema files in ``directory`` that are missing, differ or are extra."""
    expected = expected_files()
    present = {p.name: p for p in directory.glob(f"*{SUFFIX}")} if directory.is_dir() else {}
    stale = [name for name in present if name not in expected]
    for name, content in expected.items():
        path = present.get(name)
        if path is None or path.read_text(encoding="utf-8") != content:
            stale.append(name)
    return sorted(stale)


def catalogue_table() -> str:
    """Return the Markdown table of the catalogue that docs/schemas.md shows.

    Groups are those of the event's disclosures; the envelope claims are not in it.
    """
    rows = ["| event type | version | groups |", "|---|---|---|"]
    for (event_type, version), model in CATALOGUE.items():
        groups = " ".join(group.value for group in fields_by_group(model))
        rows.append(f"| {event_type} | {version} | {groups} |")
    return "\n".join(rows) + "\n"
