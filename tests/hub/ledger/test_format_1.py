"""A ledger written before entry format 2 stays readable and verifiable, also once extended."""

from __future__ import annotations

import asyncio
import json
import shutil
import sys
from pathlib import Path
from typing import Any

import pytest
from entry_drafts import disclosure

from hub import safejson
from hub.ledger import chain
from hub.ledger.export import write_export
from hub.ledger.service import Ledger
from hub.ledger.stores import open_store

from .auditing import run_hub_verify, run_script

VECTORS = Path(__file__).resolve().parents[2] / "vectors" / "ledger-format-1"


@pytest.fixture
def copy(tmp_path: Path) -> Path:
    """A copy of the format 1 ledger and its public keys, safe to open and extend."""
    shutil.copy(VECTORS / "ledger.db", tmp_path / "ledger.db")
    (tmp_path / "keys").mkdir()
    shutil.copy(VECTORS / "hub.jwks.json", tmp_path / "keys" / "hub.jwks.json")
    return tmp_path


def _bodies(export: Path) -> list[str]:
    lines = [json.loads(line) for line in export.read_text().splitlines()]
    return [line["body"] for line in lines if line["type"] == "entry"]


async def _export(url: str, path: Path) -> Path:
    store = await open_store(url, read_only=True)
    try:
        with path.open("x", encoding="ascii") as out:
            await write_export(store, out)
    finally:
        await store.close()
    return path


async def test_format_1_entries_read_as_format_1(copy: Path) -> None:
    """Each entry parses as format 1, its clauses readable as written, cut list included."""
    store = await open_store(f"sqlite:///{copy / 'ledger.db'}", read_only=True)
    try:
        entries = [chain.parse(row) for row in await store.read(0, None)]
    finally:
        await store.close()
    assert [e.format for e in entries] == [1] * 5
    assert entries[0].clauses == (
        "masip-exampleshire@1#police-to-health-clause-number-00",
        "+5 more",
    )
    assert entries[1].clauses == (
        "masip-exampleshire@1#police-to-advocacy-core",
        "masip-exampleshire@1#police-to-advocacy-victim",
    )
    assert all(e.persons == () and e.grants == () and e.content_digest is None for e in entries)
    assert [chain.body_of(e) for e in entries] == _bodies(VECTORS / "export.jsonl")


async def test_both_verifiers_call_the_format_1_ledger_intact(copy: Path) -> None:
    """Hub audit verify and the standalone script both find it intact and signed."""
    hub = await asyncio.to_thread(run_hub_verify, f"sqlite:///{copy / 'ledger.db'}", copy / "keys")
    script = run_script(sys.executable, VECTORS / "export.jsonl", VECTORS / "hub.jwks.json")
    assert hub.status == script.status == 0
    assert hub.out == script.out == "intact: 5 entries, checkpoint at size 5\n"


async def test_format_2_entries_after_format_1_verify_with_both(copy: Path) -> None:
    """Today's hub appends format 2 after the old entries; nothing old changes, all verifies."""
    url = f"sqlite:///{copy / 'ledger.db'}"
    store = await open_store(url)
    ledger = Ledger(store)
    try:
        added: list[Any] = await ledger.append([disclosure(), disclosure()])
    finally:
        await ledger.close()
    assert [e.format for e in added] == [2, 2]
    assert [e.seq for e in added] == [5, 6]
    export = await _export(url, copy / "mixed.jsonl")
    assert _bodies(export)[:5] == _bodies(VECTORS / "export.jsonl")
    hub = await asyncio.to_thread(run_hub_verify, url, copy / "keys")
    script = run_script(sys.executable, export, VECTORS / "hub.jwks.json")
    assert hub == script
    assert hub.status == 0
    assert hub.out.splitlines()[0] == "intact: 7 entries, checkpoint at size 5"


async def test_a_format_1_body_given_a_format_2_field_is_malformed_to_both(copy: Path) -> None:
    """Adding a format 2 field to an old body (rehashed) is caught by both verifiers alike."""
    lines = (VECTORS / "export.jsonl").read_text().splitlines()
    records = [json.loads(line) for line in lines]
    entry = next(r for r in records if r["type"] == "entry" and r["seq"] == 4)
    fields = json.loads(entry["body"])
    fields["persons"] = []
    entry["body"] = safejson.canonical(fields)
    entry["entry_hash"] = chain.hash_body(entry["body"])
    tampered = copy / "tampered.jsonl"
    tampered.write_text("".join(json.dumps(r, separators=(",", ":")) + "\n" for r in records))
    script = run_script(sys.executable, tampered, VECTORS / "hub.jwks.json")
    assert script.status == 1
    assert script.out.startswith("broken at entry 4: ledger.entry_malformed")
