"""The standalone verifier (deploy/audit/verify_ledger.py) agrees with ``hub audit verify``.

Each tampering is done twice: on the stored rows (SQLite and PostgreSQL, triggers
off), then the ledger is exported; and on an honest export file. The script runs
in a subprocess, under the venv's Python and under the system's when that has
``cryptography``, and must print what the hub prints: the same first bad entry,
code and detail, and the same exit status.
"""

from __future__ import annotations

import ast
import asyncio
import base64
import json
import shutil
import subprocess
import sys
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import pytest
import rfc8785
from entry_drafts import disclosure
from hypothesis import example, given, settings
from hypothesis import strategies as st
from verifier import load_script

from hub.cli.audit import render
from hub.crypto.checkpoint import sign_checkpoint
from hub.crypto.keys import PartyKeyring, generate_party_keys, save_keyring
from hub.crypto.note import COSIGNATURE, MLDSA_COSIGNATURE, NoteSigner
from hub.ledger import chain
from hub.ledger.base import Cosignature, Head, LedgerError, StoredColumns, StoredEntry
from hub.ledger.checkpoints import CheckpointPolicy, checkpoint_note, claimed_size, tree_head
from hub.ledger.entries import (
    FORMAT_2_FIELDS,
    GENESIS_HASH,
    EntryDraft,
    ReceiptRecord,
    ReleaseRecord,
)
from hub.ledger.export import write_export
from hub.ledger.merkle import Frontier
from hub.ledger.search import index_row, terms_of
from hub.ledger.service import LedgerConfig
from hub.ledger.verify import LedgerVerifier, verify_store

from .auditing import SCRIPT, Outcome, run_hub_verify, run_script

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path

    from hub.crypto.keys import KeyDirectory

EVERY_FOUR = LedgerConfig(checkpoints=CheckpointPolicy(every_entries=4, every_seconds=3600))


def _system_python() -> str | None:
    """The system's python3 if it can import cryptography, else None."""
    found = shutil.which("python3")
    if found is None:
        return None
    probe = subprocess.run(  # noqa: S603 - a fixed probe of a local interpreter
        [found, "-c", "import cryptography"], capture_output=True, check=False
    )
    return found if probe.returncode == 0 else None


@pytest.fixture(scope="module", params=["venv", "system"])
def python(request: pytest.FixtureRequest) -> str:
    """The interpreter the script runs under: the venv's, or the system's python3."""
    if request.param == "venv":
        return sys.executable
    found = _system_python()
    if found is None:
        pytest.skip("the system python3 is missing or cannot import cryptography")
    return found


def cli_url(harness: Any) -> str:
    """The ``--ledger`` URL of a harness; PostgreSQL's names the test schema."""
    if harness.schema is None:
        return str(harness.url)
    joiner = "&" if "?" in harness.url else "?"
    return f"{harness.url}{joiner}search_path={harness.schema}"


@dataclass(frozen=True)
class Auditor:
    """An IG officer's kit: the hub's public key set and a Python to run the script."""

    python: str
    keys: Path

    @property
    def jwks(self) -> Path:
        """The hub's public JWK Set."""
        return self.keys / "hub.jwks.json"

    async def script(self, export: Path, *extra: str) -> Outcome:
        """Run the standalone verifier in a subprocess."""
        return await asyncio.to_thread(run_script, self.python, export, self.jwks, *extra)

    async def hub(self, url: str, *extra: str) -> Outcome:
        """Run ``hub audit verify`` with the same keys."""
        return await asyncio.to_thread(run_hub_verify, url, self.keys, *extra)


@pytest.fixture
def auditor(python: str, tmp_path: Path, keyrings: dict[str, PartyKeyring]) -> Auditor:
    """A folder holding only the hub's public JWK Set, and the interpreter under test."""
    folder = tmp_path / "audit-keys"
    save_keyring(keyrings["hub"], folder)
    (folder / "hub.private.jwks.json").unlink()
    return Auditor(python, folder)


@pytest.fixture
async def ten(harness: Any, draft: Callable[..., EntryDraft]) -> Any:
    """Ten entries appended one by one: checkpoints at 4 and 8, and 10 on close."""
    ledger = await harness.ledger(EVERY_FOUR)
    for _ in range(10):
        await ledger.append([draft()])
    await ledger.close()
    return harness


async def export_of(harness: Any, path: Path) -> Path:
    """Export a harness's ledger to ``path`` as ``hub audit export`` does."""
    store = await harness.store(read_only=True)
    with path.open("x", encoding="ascii") as out:
        await write_export(store, out)
    return path


def _altered(row: StoredEntry, old: str, new: str) -> str:
    assert old in row.body
    return row.body.replace(old, new)


def forged_checkpoint(rows: list[StoredEntry], size: int, ledger_id: str, key: Any) -> str:
    """A checkpoint over the first ``size`` rows as they are, signed with ``key``."""
    frontier = Frontier()
    for row in rows[:size]:
        frontier.append(chain.leaf_of(row.body))
    head = Head(size, rows[size - 1].entry_hash, tuple(h.hex() for h in frontier.hashes))
    claims = tree_head(head, ledger_id, datetime.now(UTC))
    return sign_checkpoint(claims, key.signing_key(datetime.now(UTC)))


HONEST = disclosure(
    decision_id=uuid.UUID("6f1c2a1e-94a4-4c8e-9a55-0c3f6d8f2b10"),
    recorded_at=datetime(2026, 11, 21, 9, 30, tzinfo=UTC),
    event_id=uuid.UUID("0b6e7c1d-2f4a-4e3b-8c9d-1a2b3c4d5e6f"),
    agreement_version=7,
)


# --- Tampering with the stored rows -------------------------------------------------


async def _change(h: Any) -> None:
    row = (await h.rows())[5]
    await h.put(5, _altered(row, '"disclosed"', '"refused"'), row.entry_hash)


async def _change_rehash(h: Any) -> None:
    row = (await h.rows())[5]
    body = _altered(row, '"disclosed"', '"refused"')
    await h.put(5, body, chain.hash_body(body))


async def _rehash_last(h: Any) -> None:
    row = (await h.rows())[9]
    body = _altered(row, '"disclosed"', '"refused"')
    await h.put(9, body, chain.hash_body(body))


async def _not_canonical(h: Any) -> None:
    row = (await h.rows())[2]
    body = row.body.replace(',"kind"', ', "kind"')
    await h.put(2, body, chain.hash_body(body))


async def _delete_middle(h: Any) -> None:
    await h.sql("DELETE FROM ledger_entries WHERE seq = 3")


async def _delete_tail(h: Any) -> None:
    await h.sql("DELETE FROM ledger_entries WHERE seq = 9")


async def _reorder(h: Any) -> None:
    rows = await h.rows()
    await h.put(4, rows[5].body, rows[5].entry_hash)
    await h.put(5, rows[4].body, rows[4].entry_hash)


async def _insert(h: Any) -> None:
    rows = await h.rows()
    forged = chain.seal(
        HONEST.model_copy(update={"decision_id": uuid.uuid4()}), 5, rows[4].entry_hash
    )
    shifted = [StoredEntry(r.seq + 1, r.body, r.entry_hash) for r in rows[5:]]
    await h.rewrite([*rows[:5], forged, *shifted])


async def _add_checkpoint(h: Any, token: str, size: int) -> None:
    await h.sql("INSERT INTO ledger_checkpoints (tree_size, token) VALUES (?, ?)", size, token)


async def _other_key(h: Any) -> None:
    impostor = generate_party_keys("hub", datetime.now(UTC) - timedelta(days=1))
    store = await h.store(read_only=True)
    token = forged_checkpoint(await h.rows(), 6, await store.ledger_id(), impostor)
    await _add_checkpoint(h, token, 6)


async def _other_ledger(h: Any) -> None:
    await _add_checkpoint(
        h, forged_checkpoint(await h.rows(), 2, "some-other-ledger", h.keyring), 2
    )


async def _decision_column(h: Any) -> None:
    other = uuid.uuid4()
    await h.sql(
        "UPDATE ledger_entries SET decision_id = ? WHERE seq = 3",
        str(other) if h.kind == "sqlite" else other,
    )


async def _event_column(h: Any) -> None:
    other = uuid.uuid4()
    await h.sql(
        "UPDATE ledger_entries SET event_id = ? WHERE seq = 2",
        str(other) if h.kind == "sqlite" else other,
    )


async def _index_term_removed(h: Any) -> None:
    await h.sql("DELETE FROM ledger_entry_terms WHERE seq = 4 AND term LIKE 'person:%'")


async def _index_time_moved(h: Any) -> None:
    moved = datetime(2020, 1, 1, tzinfo=UTC)
    value = "2020-01-01T00:00:00.000000Z" if h.kind == "sqlite" else moved
    await h.sql("UPDATE ledger_entry_times SET recorded_at = ? WHERE seq = 7", value)


STORE_TAMPERING: dict[str, tuple[Any, str]] = {
    "decision_id_column": (_decision_column, "broken at entry 3: ledger.column_mismatch"),
    "event_id_column": (_event_column, "broken at entry 2: ledger.column_mismatch"),
    "index_term_removed": (_index_term_removed, "broken at entry 4: ledger.index_mismatch"),
    "index_time_moved": (_index_time_moved, "broken at entry 7: ledger.index_mismatch"),
    "untouched": (None, "intact: 10 entries, checkpoint at size 10"),
    "changed": (_change, "broken at entry 5: ledger.hash_mismatch"),
    "changed_rehashed": (_change_rehash, "broken at entry 6: ledger.chain_broken"),
    "last_rehashed": (_rehash_last, "broken at entry 8: ledger.checkpoint_mismatch"),
    "not_canonical": (_not_canonical, "broken at entry 2: ledger.entry_malformed"),
    "deleted_middle": (_delete_middle, "broken at entry 3: ledger.sequence_gap"),
    "deleted_tail": (_delete_tail, "broken at entry 9: ledger.checkpoint_mismatch"),
    "reordered": (_reorder, "broken at entry 4: ledger.sequence_gap"),
    "inserted": (_insert, "broken at entry 6: ledger.sequence_gap"),
    "checkpoint_other_key": (_other_key, "broken at entry 4: ledger.checkpoint_invalid"),
    "checkpoint_other_ledger": (_other_ledger, "broken at entry 0: ledger.checkpoint_invalid"),
}


@pytest.mark.parametrize("case", list(STORE_TAMPERING))
async def test_store_tampering_gets_the_same_verdict(
    case: str, ten: Any, directory: KeyDirectory, auditor: Auditor, tmp_path: Path
) -> None:
    """Tampered rows, exported: the script prints exactly what ``hub audit verify`` prints."""
    tamper, first_line = STORE_TAMPERING[case]
    if tamper is not None:
        await tamper(ten)
    report = await verify_store(await ten.store(read_only=True), directory)
    hub = await auditor.hub(cli_url(ten))
    script = await auditor.script(await export_of(ten, tmp_path / "x.jsonl"))
    assert hub.out == "".join(f"{line}\n" for line in render(report))
    assert hub.out.splitlines()[0] == first_line
    assert script == hub
    assert script.status == (0 if case == "untouched" else 1)


async def test_another_hubs_keys_are_not_verified_rather_than_broken(
    ten: Any, python: str, tmp_path: Path
) -> None:
    """With another hub's keys no checkpoint verifies: both say ``not verified``, exit 1."""
    other = tmp_path / "other-keys"
    save_keyring(generate_party_keys("hub", datetime.now(UTC) - timedelta(days=1)), other)
    (other / "hub.private.jwks.json").unlink()
    wrong = Auditor(python, other)
    hub = await wrong.hub(cli_url(ten))
    script = await wrong.script(await export_of(ten, tmp_path / "x.jsonl"))
    assert hub.out.splitlines() == [
        "not verified: ledger.keys_mismatch",
        (
            "no checkpoint is signed by a hub key of the keys given: give this hub's public keys"
            " (if they are, every checkpoint is forged)"
        ),
    ]
    assert script == hub
    assert hub.status == 1


async def test_checkpoint_kept_elsewhere_is_checked_alike(
    ten: Any, auditor: Auditor, tmp_path: Path
) -> None:
    """--checkpoint files count for both verifiers: an honest one passes, a forged one breaks."""
    impostor = generate_party_keys("hub", datetime.now(UTC) - timedelta(days=1))
    ledger_id = await (await ten.store(read_only=True)).ledger_id()
    export = await export_of(ten, tmp_path / "x.jsonl")
    rows = await ten.rows()
    for signer, first_line in (
        (ten.keyring, "intact: 10 entries, checkpoint at size 10"),
        (impostor, "broken at entry 4: ledger.checkpoint_invalid"),
    ):
        kept = tmp_path / "kept.jws"
        kept.write_text(forged_checkpoint(rows, 6, ledger_id, signer) + "\n")
        hub = await auditor.hub(cli_url(ten), "--checkpoint", str(kept))
        script = await auditor.script(export, "--checkpoint", str(kept))
        assert hub.out.splitlines()[0] == first_line
        assert script == hub


# --- Tampering with the export file ---------------------------------------------------


def _lines(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="ascii").splitlines()]


def _write(path: Path, records: list[dict[str, Any]]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="ascii")
    return path


def _entries(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [r for r in records if r["type"] == "entry"]


def _fix_end(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    entries = len(_entries(records))
    checkpoints = sum(r["type"] == "checkpoint" for r in records)
    notes = sum(r["type"] == "note" for r in records)
    end = {"type": "end", "entries": entries, "checkpoints": checkpoints, "notes": notes}
    return [*records[:-1], end]


def _file_change(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    entry = _entries(records)[5]
    entry["body"] = entry["body"].replace('"health"', '"advocacy"')
    return records


def _file_change_rehash(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    entry = _entries(records)[5]
    entry["body"] = entry["body"].replace('"health"', '"advocacy"')
    entry["entry_hash"] = chain.hash_body(entry["body"])
    entry["terms"] = sorted(index_row(entry["seq"], entry["body"]).terms)  # a careful tamperer
    return records


def _file_delete(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return _fix_end([r for r in records if r.get("seq") != 3])


def _file_delete_tail(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return _fix_end([r for r in records if r.get("seq") != 9])


def _file_reorder(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    a, b = (records.index(e) for e in _entries(records)[4:6])
    records[a], records[b] = records[b], records[a]
    return records


def _file_renumber(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Swap two lines and their seq columns, so only the bodies say where they belong."""
    first, second = _entries(records)[4:6]
    first["seq"], second["seq"] = 5, 4
    return _file_reorder(records)


def _file_insert(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    entries = _entries(records)
    at = records.index(entries[5])
    copy = dict(entries[2])
    return _fix_end([*records[:at], copy, *records[at:]])


def _file_signature(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    checkpoint = next(r for r in records if r["type"] == "checkpoint")
    head, payload, signature = checkpoint["token"].split(".")
    other = "A" if signature[10] != "A" else "B"
    checkpoint["token"] = f"{head}.{payload}.{signature[:10]}{other}{signature[11:]}"
    return records


def _file_note_signature(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One byte of the hub's note signature changed: the note no longer verifies."""
    note = next(r for r in records if r["type"] == "note")
    text, _, line = note["note"].rpartition("\n\n")
    name, signature = line.rstrip("\n").rsplit(" ", 1)
    other = "A" if signature[20] != "A" else "B"
    note["note"] = f"{text}\n\n{name} {signature[:20]}{other}{signature[21:]}\n"
    return records


def _file_note_root(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """A note's root swapped for another note's: its signature no longer covers it."""
    first, second = [r for r in records if r["type"] == "note"][:2]
    root = second["note"].split("\n")[2]
    lines = first["note"].split("\n")
    first["note"] = "\n".join([*lines[:2], root, *lines[3:]])
    return records


def _file_ledger_id(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    records[0]["ledger_id"] = "some-other-ledger"
    return records


def _file_no_checkpoints(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Checkpoints and notes dropped and the end record fixed: the chain alone still holds."""
    return _fix_end([r for r in records if r["type"] not in ("checkpoint", "note")])


def _file_decision_column(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    _entries(records)[6]["decision_id"] = str(uuid.uuid4())
    return records


def _file_index_terms(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    _entries(records)[8]["terms"] = []
    return records


FILE_TAMPERING: dict[str, tuple[Callable[[list[dict[str, Any]]], list[dict[str, Any]]], str]] = {
    "decision_id_column": (_file_decision_column, "broken at entry 6: ledger.column_mismatch"),
    "index_terms": (_file_index_terms, "broken at entry 8: ledger.index_mismatch"),
    "changed": (_file_change, "broken at entry 5: ledger.hash_mismatch"),
    "changed_rehashed": (_file_change_rehash, "broken at entry 6: ledger.chain_broken"),
    "deleted_middle": (_file_delete, "broken at entry 3: ledger.sequence_gap"),
    "deleted_tail": (_file_delete_tail, "broken at entry 9: ledger.checkpoint_mismatch"),
    "reordered": (_file_reorder, "broken at entry 4: ledger.sequence_gap"),
    "renumbered": (_file_renumber, "broken at entry 4: ledger.sequence_gap"),
    "inserted": (_file_insert, "broken at entry 5: ledger.sequence_gap"),
    "bad_signature": (_file_signature, "broken at entry 0: ledger.checkpoint_invalid"),
    "other_ledger": (_file_ledger_id, "broken at entry 0: ledger.checkpoint_invalid"),
    "no_checkpoints": (_file_no_checkpoints, "intact: 10 entries, checkpoint at size 0"),
    "note_signature": (_file_note_signature, "broken at entry 4: ledger.checkpoint_invalid"),
    "note_root": (_file_note_root, "broken at entry 4: ledger.checkpoint_invalid"),
}


def hub_verdict_of(export: Path, directory: KeyDirectory) -> Outcome:
    """The hub's own (pure) verifier run on the rows and checkpoints an export holds."""
    records = _lines(export)
    tokens = [r["token"] for r in records if r["type"] == "checkpoint"]
    notes = [r["note"] for r in records if r["type"] == "note"]
    verifier = LedgerVerifier([*tokens, *notes], directory, ledger_id=records[0]["ledger_id"])
    for r in _entries(records):
        columns = StoredColumns(
            r["seq"], r["decision_id"], r["event_id"], r["recorded_at"], frozenset(r["terms"])
        )
        if not verifier.feed(StoredEntry(r["seq"], r["body"], r["entry_hash"]), columns):
            break
    report = verifier.finish()
    return Outcome(0 if report.intact else 1, "".join(f"{line}\n" for line in render(report)))


@pytest.mark.parametrize("case", list(FILE_TAMPERING))
async def test_export_tampering_gets_the_same_verdict(
    case: str, ten: Any, directory: KeyDirectory, auditor: Auditor, tmp_path: Path
) -> None:
    """An edited export file: the script names what the hub's verifier names on those rows."""
    tamper, first_line = FILE_TAMPERING[case]
    honest = await export_of(ten, tmp_path / "honest.jsonl")
    edited = _write(tmp_path / "edited.jsonl", tamper(_lines(honest)))
    hub = hub_verdict_of(edited, directory)
    script = await auditor.script(edited)
    assert hub.out.splitlines()[0] == first_line
    assert script == hub


# --- Input errors: exit 2, one line, no traceback ----------------------------------------


INPUT_ERRORS: dict[str, tuple[Callable[[Path], object], str]] = {
    "not_json": (lambda p: p.write_text(p.read_text()[:-40]), "export.malformed"),
    "cut_short": (
        lambda p: p.write_text("".join(p.read_text().splitlines(keepends=True)[:-2])),
        "export.incomplete",
    ),
    "end_edited": (
        lambda p: p.write_text(p.read_text().replace('"entries":10', '"entries":11')),
        "export.incomplete",
    ),
    "empty": (lambda p: p.write_text(""), "export.incomplete"),
    "not_an_export": (lambda p: p.write_text('{"keys": []}\n'), "export.malformed"),
    "entry_before_header": (
        lambda p: p.write_text("".join(reversed(p.read_text().splitlines(keepends=True)))),
        "export.malformed",
    ),
    "binary": (lambda p: p.write_bytes(b"\xff\xfe\x00garbage"), "export.unreadable"),
}


@pytest.mark.parametrize("case", list(INPUT_ERRORS))
async def test_a_malformed_export_is_an_input_error(
    case: str, ten: Any, auditor: Auditor, tmp_path: Path
) -> None:
    """A file that is not a whole export ends with exit 2 and one ``error <code>`` line."""
    spoil, code = INPUT_ERRORS[case]
    export = await export_of(ten, tmp_path / "x.jsonl")
    spoil(export)
    done = await auditor.script(export)
    assert (done.status, done.out) == (2, "")
    assert done.err.startswith(f"error {code}: ")
    assert len(done.err.splitlines()) == 1


@pytest.mark.parametrize(
    ("spoil", "code"),
    [
        (lambda d: d.update(party="police"), "keys.unreadable"),
        (lambda d: d["keys"][0].update(kid="not-the-thumbprint"), "keys.unreadable"),
        (lambda d: d["keys"][0].update(d="AAAA"), "keys.unreadable"),
        (lambda d: d["keys"][0].update(nbf="yesterday"), "keys.unreadable"),
        (lambda d: d["keys"][0].update(x="!!"), "keys.unreadable"),
    ],
)
def test_a_bad_key_set_is_an_input_error(
    spoil: Callable[[dict[str, Any]], None], code: str, auditor: Auditor, tmp_path: Path
) -> None:
    """A key set that is not the hub's public one is refused before anything is verified."""
    document = json.loads(auditor.jwks.read_text())
    spoil(document)
    jwks = tmp_path / "bad.jwks.json"
    jwks.write_text(json.dumps(document))
    export = tmp_path / "none.jsonl"
    export.write_text("")
    done = run_script(auditor.python, export, jwks)
    assert (done.status, done.out) == (2, "")
    assert done.err.startswith(f"error {code}: ")


def test_the_script_imports_only_the_standard_library_and_cryptography() -> None:
    """The verifier stands alone: no hub, no schemas, nothing but stdlib and cryptography."""
    tree = ast.parse(SCRIPT.read_text(encoding="utf-8"))
    modules: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            modules.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            assert node.level == 0, "relative import"
            modules.add(str(node.module).split(".")[0])
        elif isinstance(node, ast.Call) and getattr(node.func, "id", "") == "__import__":
            pytest.fail("dynamic import")
    assert "cryptography" in modules
    assert modules - {"cryptography"} <= sys.stdlib_module_names
    assert not modules & {"hub", "schemas", "adapters"}


# --- The script's entry rules are the hub's: a differential property test ---------------

VERIFIER = load_script()
VALID = json.loads(chain.seal(HONEST, 3, "ab" * 32).body)
#: A release: the one kind of entry that holds ``release``.
RELEASED = {
    "release_id": "1d3c5e7a-9b2f-4c6d-8e0a-2b4c6d8e0f1a",
    "as_of": "2026-11-30",
    "tables": ["cohort_by_priority", "reoffending"],
    "mechanism": "suppression",
    "rule": "opensafely",
    "threshold": 7,
    "rounding": 5,
    "epsilon": None,
    "spent": None,
    "budget": None,
    "output_sha256": "cd" * 32,
}
RELEASE = EntryDraft(
    kind="release",
    decision_id=uuid.UUID("2e4f6a8c-0b1d-4e3f-9a5b-7c9d1e3f5a7b"),
    recorded_at=datetime(2026, 12, 6, 9, 30, tzinfo=UTC),
    provider="evaluator",
    outcome="released",
    release=ReleaseRecord.model_validate(RELEASED),
)
VALID_RELEASE = json.loads(chain.seal(RELEASE, 3, "ab" * 32).body)
#: A receipt: the one kind of entry that holds ``receipt``.
RECEIPT_ITEMS: list[dict[str, str]] = [
    {"decision_id": "0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d", "digest": "ef" * 32},
    {"decision_id": "6f1c2a1e-94a4-4c8e-9a55-0c3f6d8f2b10", "digest": "01" * 32},
]
RECEIPTED: dict[str, Any] = {
    "receipt_id": "5a7c9e1b-3d5f-4a6b-8c0d-2e4f6a8b0c1d",
    "signed_at": "2026-12-06T09:31:00.000000Z",
    "items": RECEIPT_ITEMS,
    "signed": "eyJhbGciOiJFZERTQSJ9.eyJqdGkiOiJ4In0.c2lnbmF0dXJl",  # pragma: allowlist secret
}
RECEIPT = EntryDraft(
    kind="receipt",
    decision_id=uuid.UUID("3f5a7b9c-1d2e-4f3a-8b5c-6d7e8f9a0b1c"),
    recorded_at=datetime(2026, 12, 6, 9, 32, tzinfo=UTC),
    recipient="health",
    outcome="receipted",
    receipt=ReceiptRecord.model_validate(RECEIPTED),
)
VALID_RECEIPT = json.loads(chain.seal(RECEIPT, 3, "ab" * 32).body)
#: An erasure receipt: the same shape, outcome ``erased``; one item acknowledges a date.
ERASURE = RECEIPT.model_copy(
    update={
        "outcome": "erased",
        "receipt": ReceiptRecord.model_validate(
            {**RECEIPTED, "items": [{**RECEIPT_ITEMS[0], "until": "2032-12-06"}]}
        ),
    }
)
VALID_ERASURE = json.loads(chain.seal(ERASURE, 3, "ab" * 32).body)
#: A format 1 body, as ledgers written before format 2 hold them.
VALID_1 = {k: v for k, v in VALID.items() if k not in FORMAT_2_FIELDS}
_GRANT = VALID["grants"][0]
#: Values of format 2's nested fields, valid and not.
NESTED_VALUES = [
    [{"pseudonym": "p_" + "B" * 43, "role": "victim"}],
    [{"pseudonym": "p_" + "B" * 43, "role": "stalker"}],
    [{"pseudonym": "p_" + "B" * 43, "role": "victim", "name": "x"}],
    [{"pseudonym": "p_" + "Z" * 43, "role": "subject"}],
    [
        {"pseudonym": "p_" + "B" * 43, "role": "victim"},
        {"pseudonym": "p_" + "B" * 43, "role": "other"},
    ],
    [_GRANT, _GRANT],
    [{**_GRANT, "groups": ["E", "A", "C"]}],
    [{**_GRANT, "groups": []}],
    [{**_GRANT, "clause": "other-clause"}],
    [{**_GRANT, "groups": ["A", "C"]}, {**_GRANT, "clause": "second", "groups": ["E"]}],
    [
        {"group": "F", "reason": "not_granted", "rule": None},
        {"group": "G", "reason": "not_granted", "rule": None},
    ],
    [{"group": "G", "reason": "safety_rule", "rule": None}],
    [{"group": "F", "reason": "not_granted", "rule": "r"}],
    [
        {"group": "G", "reason": "not_granted", "rule": None},
        {"group": "F", "reason": "not_granted", "rule": None},
    ],
    {
        "agency": None,
        "kind": None,
        "actor": None,
        "since": None,
        "until": None,
        "up_to": None,
        "draft": None,
    },
    {
        "agency": None,
        "kind": None,
        "actor": None,
        "since": None,
        "until": None,
        "up_to": 12,
        "draft": "6f1c2a1e-94a4-4c8e-9a55-0c3f6d8f2b10",
    },
    {
        "agency": None,
        "kind": None,
        "actor": None,
        "since": None,
        "until": None,
        "up_to": -1,
        "draft": "x",
    },
    {
        "agency": "police",
        "kind": "refusal",
        "actor": None,
        "since": "2026-01-01T00:00:00.000000Z",
        "until": None,
    },
    {"agency": "police"},
    "d_" + "Q" * 43,
    2,
    3,
    RELEASED,
    {
        **RELEASED,
        "mechanism": "laplace",
        "threshold": None,
        "rounding": None,
        "epsilon": "0.5",
        "spent": "1.5",
        "budget": "3",
    },
    {**RELEASED, "mechanism": "laplace", "epsilon": "0.5", "spent": "1", "budget": None},
    {**RELEASED, "epsilon": "0.5"},
    {**RELEASED, "tables": ["reoffending", "cohort_by_priority"]},
    {**RELEASED, "tables": []},
    {**RELEASED, "mechanism": "other"},
    {**RELEASED, "epsilon": "0.50000001"},
    {k: v for k, v in RELEASED.items() if k != "rule"},
    "release",
    "disclosure",
    RECEIPTED,
    {**RECEIPTED, "items": list(reversed(RECEIPT_ITEMS))},
    {**RECEIPTED, "items": [RECEIPT_ITEMS[0]] * 2},
    {**RECEIPTED, "items": []},
    {**RECEIPTED, "items": [{**RECEIPT_ITEMS[0], "digest": "EF" * 32}]},
    {**RECEIPTED, "items": [{**RECEIPT_ITEMS[0], "extra": 1}]},
    {**RECEIPTED, "signed": "not.a jws.x"},
    {**RECEIPTED, "signed_at": "2026-12-06T09:31:00Z"},
    {k: v for k, v in RECEIPTED.items() if k != "signed"},
    {**RECEIPTED, "items": [{**RECEIPT_ITEMS[0], "until": "2032-12-06"}, RECEIPT_ITEMS[1]]},
    {**RECEIPTED, "items": [{**RECEIPT_ITEMS[0], "until": "2032-02-30"}]},
    {**RECEIPTED, "items": [{**RECEIPT_ITEMS[0], "until": "2032-12-06T00:00:00Z"}]},
    {**RECEIPTED, "items": [{**RECEIPT_ITEMS[0], "until": None}]},
    {**RECEIPTED, "items": [{**RECEIPT_ITEMS[0], "until": 1_000_000}]},
    {**RECEIPTED, "items": [{**RECEIPT_ITEMS[0], "until": "20321206"}]},
    "receipt",
    "receipted",
    "erased",
]
EDGE_VALUES = [
    "2024-02-29T23:59:59.123456Z",
    "2025-02-29T00:00:00.000000Z",
    "2025-01-01T00:00:00.000000+00:00",
    "2025-01-01T00:00:00Z",
    "2025-01-01T24:00:00.000000Z",
    "0001-01-01T00:00:00.000000Z",
    VALID["decision_id"].upper(),
    VALID["decision_id"].replace("-", ""),
    "00000000-0000-0000-0000-000000000000",
    "c_" + "A" * 43,
    "c_" + "A" * 43 + "\n",
    "p_" + "B" * 43,
    "police\n",
    "police",
    "x" * 241,
    "UK GDPR Art 6(1)(e)",
    "a." * 40,
    "ab" * 32,
    "AB" * 32,
    "ab" * 65,
    ["A", "C"],
    ["C", "A"],
    ["A", "A"],
    ["p_" + "B" * 43, "p_" + "A" * 43],
    ["p_" + "A" * 43] * 65,
    [],
    1.0,
    7.5,
    2**31,
    2**31 + 1,
    2**53,
    -1,
    0,
    True,
    {"nested": 1},
]
values = st.one_of(
    st.sampled_from(EDGE_VALUES),
    st.none(),
    st.integers(-(2**60), 2**60),
    st.text(max_size=6),
    st.lists(st.sampled_from(["A", "B", "H", "Z", "a"]), max_size=4),
)
mutation = st.one_of(
    st.tuples(
        st.just("set"),
        st.sampled_from([*VALID, "entry_hash", "extra", "release", "receipt"]),
        values | st.sampled_from(NESTED_VALUES),
    ),
    st.tuples(st.just("drop"), st.sampled_from(list(VALID)), st.none()),
)
spelling = st.sampled_from(["canonical", "sorted", "spaced", "unsorted"])


def _spell(fields: dict[str, Any], how: str) -> str:
    if how == "canonical":
        return rfc8785.dumps(fields).decode("utf-8")
    if how == "sorted":
        return json.dumps(fields, separators=(",", ":"), sort_keys=True, ensure_ascii=False)
    if how == "spaced":
        return json.dumps(fields, sort_keys=True)
    return json.dumps(dict(reversed(fields.items())), separators=(",", ":"))


def _hub_says(row: StoredEntry) -> str:
    try:
        chain.parse(row)
    except LedgerError as error:
        return error.code.value
    return "ok"


def _script_says(row: StoredEntry) -> str:
    try:
        VERIFIER.parse_entry(VERIFIER.Row(row.seq, row.body, row.entry_hash))
    except VERIFIER.Break as found:
        return str(found.code)
    return "ok"


@settings(max_examples=400, deadline=None)
@given(
    st.lists(mutation, max_size=3),
    spelling,
    st.sampled_from([VALID, VALID_1, VALID_RELEASE, VALID_RECEIPT, VALID_ERASURE]),
)
def test_the_script_judges_entry_bodies_as_the_hub_does(
    mutations: list[tuple[str, str, Any]], how: str, valid: dict[str, Any]
) -> None:
    """For any body with a matching hash, valid-and-canonical means the same to both."""
    fields = dict(valid)
    for action, name, value in mutations:
        if action == "set":
            fields[name] = value
        else:
            fields.pop(name, None)
    try:
        body = _spell(fields, how)
    except (rfc8785.IntegerDomainError, rfc8785.FloatDomainError):
        return
    row = StoredEntry(3, body, chain.hash_body(body))
    assert _script_says(row) == _hub_says(row)
    tampered = StoredEntry(3, body, "0" * 64)
    assert _script_says(tampered) == _hub_says(tampered) == "ledger.hash_mismatch"


def test_every_field_and_edge_value_is_judged_as_the_hub_does() -> None:
    """Each field set to each edge value, or dropped, canonically spelled: same verdict."""
    verdicts = set()
    bases = (VALID, VALID_RELEASE, VALID_RECEIPT, VALID_ERASURE)
    for base, name in [(b, n) for b in bases for n in [*b, "entry_hash", "extra"]]:
        for value in [*EDGE_VALUES, *NESTED_VALUES, None, "drop"]:
            fields = dict(base)
            if value == "drop":
                fields.pop(name, None)
            else:
                fields[name] = value
            try:
                body = rfc8785.dumps(fields).decode("utf-8")
            except rfc8785.IntegerDomainError:
                continue
            row = StoredEntry(3, body, chain.hash_body(body))
            verdict = _hub_says(row)
            assert _script_says(row) == verdict, (name, value)
            verdicts.add(verdict)
    assert verdicts == {"ok", "ledger.entry_malformed"}


json_without_floats = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**53) + 1, 2**53 - 1) | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=12,
)


@settings(max_examples=300, deadline=None)
@example({"\uffff": 1, "\U0001f600": 2, "\u00e9": 3, "a": 4})  # UTF-16 order, not code points
@given(json_without_floats)
def test_the_script_canonicalises_as_rfc8785_does(value: Any) -> None:
    """Null, booleans, integers, strings (any characters), arrays, objects: RFC 8785's bytes."""
    assert VERIFIER.canonical(value) == rfc8785.dumps(value).decode("utf-8")


@pytest.mark.parametrize("value", [1.5, 0.0, {"n": [2.0]}, 2**53])
def test_the_script_refuses_floats_and_inexact_integers(value: Any) -> None:
    """Entries hold no fractions: a float, or an integer beyond 2**53, is refused outright."""
    with pytest.raises(VERIFIER.MalformedError):
        VERIFIER.canonical(value)


def test_an_honest_entry_is_valid_to_the_script() -> None:
    """A body the hub sealed passes the script's checks (the property above is not vacuous)."""
    body = rfc8785.dumps(VALID).decode("utf-8")
    assert _script_says(StoredEntry(3, body, chain.hash_body(body))) == "ok"
    assert VERIFIER.canonical(VALID) == body


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet='eyJ0.AaBb_-=!{}"tree_size:123', max_size=60))
def test_the_script_places_unreadable_checkpoints_as_the_hub_does(token: str) -> None:
    """A checkpoint that fails is placed at the size it claims, read the hub's way."""
    assert VERIFIER.claimed_size(token) == claimed_size(token)


@pytest.mark.parametrize(
    "payload",
    [
        b'{"tree_size":5}',
        b'{"tree_size":true}',
        b'{"tree_size":-1}',
        b'{"tree_size":"5"}',
        b'{"tree_size":5.0}',
        b'{"tree_size":5,"time":1.5}',
        b'{"tree_size":5,"tree_size":6}',
        b"[5]",
        b'{"tree_size":123456789012345678901}',
        b"not json",
    ],
)
def test_claimed_sizes_match_for_odd_payloads(payload: bytes) -> None:
    """Odd claims place a bad checkpoint where the hub places it."""
    token = (
        "eyJhbGciOiJFZDI1NTE5In0."
        + base64.urlsafe_b64encode(payload).decode().rstrip("=")
        + ".c2ln"
    )
    assert VERIFIER.claimed_size(token) == claimed_size(token)


# --- Witnesses: cosigned notes, a policy's quorum, and a rewritten history --------------


def _witness_signers() -> dict[str, NoteSigner]:
    """Three partner witnesses: two Ed25519 cosigners and one ML-DSA-44 cosigner."""
    return {
        "police": NoteSigner.generate("witness.police.example", COSIGNATURE),
        "probation": NoteSigner.generate("witness.probation.example", COSIGNATURE),
        "health": NoteSigner.generate("witness.health.example", MLDSA_COSIGNATURE),
    }


def _policy_file(path: Path, signers: dict[str, NoteSigner], rule: str) -> Path:
    lines = [f"witness {name} {signer.verifier}" for name, signer in signers.items()]
    lines += [f"group partners {rule} police probation health", "quorum partners", ""]
    path.write_text("\n".join(lines), encoding="utf-8")
    return path


async def _cosign(harness: Any, signers: list[NoteSigner], *, over: int | None = None) -> str:
    """Cosign the newest checkpoint note (or, forged, the text of the note at ``over``)."""
    store = await harness.store()
    kept = await store.checkpoints()
    latest = kept[-1]
    signed = next(c for c in kept if c.tree_size == (over or latest.tree_size))
    assert latest.note is not None
    assert signed.note is not None
    text = signed.note[: signed.note.index("\n\n") + 1]
    lines = [
        Cosignature(s.name, s.verifier.id, s.signature_line(text, 1_790_000_000)) for s in signers
    ]
    async with store.write() as tx:
        await tx.add_cosignatures(latest.tree_size, lines)
    return str(latest.note) + "".join(line.line for line in lines)


QUORUMS = [
    ("2", 0, "witnessed: checkpoint at size 10, cosigned by police, health"),
    ("all", 1, "not witnessed: no checkpoint note is cosigned by the policy's quorum"),
]


@pytest.mark.parametrize("quorum", QUORUMS, ids=["two-of-three", "all"])
async def test_a_policy_quorum_is_reported_alike_by_both_verifiers(
    quorum: tuple[str, int, str], ten: Any, auditor: Auditor, tmp_path: Path
) -> None:
    """Two of three witnesses cosigned size 10: enough for 2-of-3, not for all three."""
    rule, status, said = quorum
    signers = _witness_signers()
    await _cosign(ten, [signers["police"], signers["health"]])
    policy = _policy_file(tmp_path / "witnesses.policy", signers, rule)
    export = await export_of(ten, tmp_path / "ledger.jsonl")
    hub = await auditor.hub(cli_url(ten), "--witness-policy", str(policy))
    script = await auditor.script(export, "--witness-policy", str(policy))
    assert hub == script
    assert hub.status == status
    assert said in hub.out.splitlines()


async def test_a_policy_witness_cosignature_that_does_not_verify_breaks(
    ten: Any, auditor: Auditor, tmp_path: Path
) -> None:
    """A line under a policy witness's key that signs another tree head is refused."""
    signers = _witness_signers()
    await _cosign(ten, [signers["probation"]], over=8)
    policy = _policy_file(tmp_path / "witnesses.policy", signers, "any")
    export = await export_of(ten, tmp_path / "ledger.jsonl")
    hub = await auditor.hub(cli_url(ten), "--witness-policy", str(policy))
    script = await auditor.script(export, "--witness-policy", str(policy))
    assert hub == script
    assert hub.out.splitlines()[0] == "broken at entry 10: ledger.checkpoint_invalid"
    # Without the policy the witness is unknown and its line is ignored, as the spec says.
    assert (await auditor.script(export)).status == 0


def _resigned(records: list[dict[str, Any]], keyring: PartyKeyring) -> list[dict[str, Any]]:
    """A rewriting operator's export: the chain rehashed, every checkpoint signed again."""
    entries = _entries(records)
    last, frontier, heads = GENESIS_HASH, Frontier(), {}
    for entry in entries:
        fields = json.loads(entry["body"])
        fields["prev_hash"] = last
        entry["body"] = rfc8785.dumps(fields).decode()
        entry["entry_hash"] = last = chain.hash_body(entry["body"])
        frontier.append(chain.leaf_of(entry["body"]))
        heads[frontier.size] = Head(frontier.size, last, tuple(h.hex() for h in frontier.hashes))
    ledger_id = records[0]["ledger_id"]
    key = keyring.signing_key(datetime.now(UTC))
    for record in records:
        if record["type"] == "checkpoint":
            head = heads[record["tree_size"]]
            record["token"] = sign_checkpoint(tree_head(head, ledger_id, datetime.now(UTC)), key)
        elif record["type"] == "note":
            origin = record["note"].split("\n", 1)[0]
            record["note"] = checkpoint_note(heads[record["tree_size"]], origin, key)
    return records


async def test_an_operator_who_rewrites_and_resigns_is_caught_by_a_witness_checkpoint(
    ten: Any, auditor: Auditor, keyrings: dict[str, PartyKeyring], tmp_path: Path
) -> None:
    """Entry 5 changed, the chain rehashed, every checkpoint and note signed again.

    The hub's key alone cannot tell: the rewritten ledger verifies intact. The
    witnesses' cosigned checkpoint of size 10, as the police witness keeps it, does
    not match it; and under the policy nothing in it is witnessed.
    """
    signers = _witness_signers()
    witness_kept = await _cosign(ten, [signers["police"], signers["probation"]])
    honest = await export_of(ten, tmp_path / "honest.jsonl")
    records = _file_change_rehash(_lines(honest))
    rewritten = _write(tmp_path / "rewritten.jsonl", _resigned(records, keyrings["hub"]))
    assert (await auditor.script(rewritten)).out.startswith("intact: 10 entries")
    kept = tmp_path / "police-witness.checkpoint"
    kept.write_text(witness_kept, encoding="utf-8")
    caught = await auditor.script(rewritten, "--checkpoint", str(kept))
    assert (caught.status, caught.out.splitlines()[0]) == (
        1,
        "broken at entry 10: ledger.checkpoint_mismatch",
    )
    policy = _policy_file(tmp_path / "witnesses.policy", signers, "2")
    unwitnessed = await auditor.script(rewritten, "--witness-policy", str(policy))
    assert unwitnessed.status == 1
    assert "not witnessed" in unwitnessed.out
    assert (await auditor.script(honest, "--checkpoint", str(kept))).status == 0


@pytest.mark.parametrize("body", [VALID, VALID_1, VALID_RELEASE, VALID_RECEIPT, VALID_ERASURE])
def test_the_script_derives_the_index_terms_the_hub_writes(body: dict[str, Any]) -> None:
    """Receipts index ``receipted:``, erasures ``erased:``, acknowledged days ``erase-by:``."""
    script_fields = {**dict.fromkeys(VERIFIER.ENTRY_FIELDS), **body}
    assert VERIFIER.index_terms(script_fields) == terms_of(body)


def test_a_receipt_and_an_erasure_are_indexed_apart() -> None:
    """What an erasure covers is found as erased, never as receipted, and the reverse."""
    first = RECEIPT_ITEMS[0]["decision_id"]
    assert f"receipted:{first}" in terms_of(VALID_RECEIPT)
    assert f"erased:{first}" not in terms_of(VALID_RECEIPT)
    assert f"erased:{first}" in terms_of(VALID_ERASURE)
    assert "erase-by:2032-12-06" in terms_of(VALID_ERASURE)
    assert f"receipted:{first}" not in terms_of(VALID_ERASURE)
