"""``hub audit verify`` and ``hub audit export``: the ledger for IG officers.

``verify`` checks the ledger with the hub's public keys only:

    hub audit verify --ledger sqlite:///hub-ledger.db --keys keys/
    intact: 1520 entries, checkpoint at size 1500

    broken at entry 612: ledger.hash_mismatch

Exit status 0 when intact, 1 when broken; user errors (a bad URL, an unreadable
key folder, a ledger that cannot be opened) end in ``error <code>: <detail>`` from
``hub``. The store is opened read-only; no private key is read.

``export`` writes the ledger, rows exactly as stored and every signed checkpoint,
to a JSON Lines file that ``deploy/audit/verify_ledger.py`` (standard library and
``cryptography`` only) checks without the hub's code (docs/audit-verification.md):

    hub audit export --ledger sqlite:///hub-ledger.db --out ledger-export.jsonl
    exported 1520 entries, 2 checkpoints and 2 checkpoint notes of ledger 6f0c... to ledger-e...

The file appears only when complete (written beside it, then renamed), and an
existing file is never overwritten.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import sys
import uuid
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from rich.console import Console
from rich.progress import Progress, SpinnerColumn, TextColumn

from hub.crypto import HUB_PARTY, KeyDirectory, WitnessPolicy, log_verifiers
from hub.errors import HubError
from hub.ledger import (
    DEFAULT_ORIGIN,
    ErrorCode,
    ExportSummary,
    LogName,
    ProofError,
    VerifyReport,
    check_proof,
    disclosure_proof,
    open_store,
    verify_store,
    write_export,
)

if TYPE_CHECKING:
    import argparse
    from collections.abc import Awaitable, Callable, Iterator, Sequence

    from hub.ledger import LedgerStore

EXIT_BROKEN = 1


def add_commands(subparsers: Any) -> None:
    """Add ``audit verify`` and ``audit export`` to the ``hub`` command's subparsers.

    Args:
        subparsers: what ``ArgumentParser.add_subparsers()`` returned.
    """
    audit = subparsers.add_parser("audit", help="check the ledger")
    commands = audit.add_subparsers(dest="audit", required=True)
    verify = commands.add_parser(
        "verify", help="verify the ledger's hash chain and signed checkpoints"
    )
    verify.add_argument("--ledger", required=True, help="sqlite:///FILE or postgresql://...")
    verify.add_argument("--keys", required=True, type=Path, help="folder of public JWK Sets")
    verify.add_argument(
        "--checkpoint",
        type=Path,
        action="append",
        default=[],
        help="a checkpoint kept outside the hub: a file holding its JWS, or a checkpoint"
        " note such as a witness's latest; repeatable",
    )
    verify.add_argument(
        "--witness-policy",
        type=Path,
        help="a witness policy (C2SP tlog-policy): report what a quorum of its witnesses"
        " cosigned, and fail when nothing is",
    )
    verify.set_defaults(func=audit_verify)
    log_key = commands.add_parser(
        "log-key",
        help="print the ledger's checkpoint-note verifier keys, for witnesses and policies",
    )
    log_key.add_argument("--ledger", required=True, help="sqlite:///FILE or postgresql://...")
    log_key.add_argument("--keys", required=True, type=Path, help="folder of public JWK Sets")
    log_key.add_argument(
        "--origin",
        default=DEFAULT_ORIGIN,
        help="the hub's ledger_origin setting (default: %(default)s)",
    )
    log_key.set_defaults(func=audit_log_key)
    proof = commands.add_parser(
        "proof", help="write one disclosure's proof (C2SP tlog-proof), checkable offline"
    )
    proof.add_argument("--ledger", required=True, help="sqlite:///FILE or postgresql://...")
    proof.add_argument("--decision", required=True, type=uuid.UUID, help="the decision id")
    proof.add_argument("--out", required=True, type=Path, help="the .tlog-proof file to write")
    proof.set_defaults(func=audit_proof)
    check = commands.add_parser("check-proof", help="check one disclosure's proof offline")
    check.add_argument("proof", type=Path, help="the .tlog-proof file")
    check.add_argument("--keys", required=True, type=Path, help="folder of public JWK Sets")
    check.add_argument(
        "--witness-policy", type=Path, help="a witness policy whose quorum must have cosigned"
    )
    check.set_defaults(func=audit_check_proof)
    export = commands.add_parser(
        "export", help="write the ledger and its checkpoints for an independent verifier"
    )
    export.add_argument("--ledger", required=True, help="sqlite:///FILE or postgresql://...")
    export.add_argument("--out", required=True, type=Path, help="the JSON Lines file to write")
    export.set_defaults(func=audit_export)


def _read_checkpoints(paths: Sequence[Path]) -> list[str]:
    """Checkpoints kept outside the hub: a JWS, or a note (kept to its last newline)."""
    kept = []
    for path in paths:
        try:
            text = path.read_bytes().decode("utf-8")
        except (OSError, UnicodeDecodeError) as error:
            raise HubError("checkpoint.unreadable", type(error).__name__) from None
        kept.append(text if "\n" in text.strip() else text.strip())
    return kept


def _read_policy(path: Path | None) -> WitnessPolicy | None:
    if path is None:
        return None
    try:
        text = path.read_bytes().decode("utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise HubError("policy.unreadable", f"{path}: {type(error).__name__}") from None
    return WitnessPolicy.parse(text)


T = TypeVar("T")


def _reading(url: str, read: Callable[[LedgerStore], Awaitable[T]]) -> T:
    """Open the ledger at ``url`` read-only, ``read`` it, and close it."""

    async def run() -> T:
        store = await open_store(url, read_only=True)
        try:
            return await read(store)
        finally:
            await store.close()

    return asyncio.run(run())


def render(report: VerifyReport) -> list[str]:
    """The lines ``audit verify`` prints for a report."""
    if report.code == ErrorCode.KEYS_MISMATCH:
        return [f"not verified: {report.code.value}", report.detail]
    if not report.intact:
        code = report.code.value if report.code else ""
        return [f"broken at entry {report.broken_at}: {code}", report.detail]
    lines = [f"intact: {report.entries} entries, checkpoint at size {report.checkpoint_size}"]
    if report.checkpoint_size < report.entries:
        unsigned = report.entries - report.checkpoint_size
        lines.append(f"{unsigned} newest entries are chained but not yet in a signed checkpoint")
    if report.witnessed_size == 0:
        lines.append("not witnessed: no checkpoint note is cosigned by the policy's quorum")
    elif report.witnessed_size is not None:
        size, names = report.witnessed_size, ", ".join(report.witnesses)
        lines.append(f"witnessed: checkpoint at size {size}, cosigned by {names}")
        if size < report.entries:
            lines.append(f"{report.entries - size} newest entries are not yet witnessed")
    if report.receipts:
        lines.append(f"receipts: {report.receipts} signed by their recipients, each checked")
    lines.extend(
        f"{_count(count, 'receipt', 'receipts')} of {party} not checked:"
        f" the keys given hold none of {party}'s"
        for party, count in report.receipts_unchecked
    )
    return lines


def _count(number: int, one: str, many: str) -> str:
    return f"{number} {one if number == 1 else many}"


def audit_log_key(args: argparse.Namespace) -> int:
    """Print one verifier key (vkey) per hub signing key, named by the ledger's origin."""
    directory = KeyDirectory.load(args.keys)
    origin = LogName(_reading(args.ledger, lambda store: store.ledger_id()), args.origin).origin
    for verifier in log_verifiers(origin, directory.records(HUB_PARTY, "sig")):
        sys.stdout.write(f"{verifier}\n")
    return 0


def audit_proof(args: argparse.Namespace) -> int:
    """Write the proof of the entry recorded under ``--decision``."""
    text = _reading(args.ledger, lambda store: disclosure_proof(store, args.decision))
    out: Path = args.out
    with out.open("x", encoding="utf-8", newline="\n") as handle:
        handle.write(text)
    index = text.split("\n", 3)[2].removeprefix("index ")
    sys.stdout.write(f"wrote the proof of entry {index} to {out}\n")
    return 0


def audit_check_proof(args: argparse.Namespace) -> int:
    """Check a proof offline; 0 when it holds, 1 when it does not."""
    directory = KeyDirectory.load(args.keys)
    policy = _read_policy(args.witness_policy)
    try:
        text = args.proof.read_bytes().decode("utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise HubError("proof.unreadable", f"{args.proof}: {type(error).__name__}") from None
    try:
        proven = check_proof(text, directory, policy=policy)
    except ProofError as error:
        if error.code == "proof.malformed":
            raise
        sys.stdout.write(f"not proven: {error}\n")
        return EXIT_BROKEN
    entry = proven.entry
    what = f"entry {proven.index} ({entry.kind}, decision {entry.decision_id})"
    ledger = proven.origin.rsplit("/", 1)[-1]
    lines = [f"included: {what} in the checkpoint of size {proven.tree_size} of ledger {ledger}"]
    if policy is not None:
        lines.append(f"witnessed: cosigned by {', '.join(proven.witnesses)}")
    sys.stdout.write("".join(f"{line}\n" for line in lines))
    return 0


def audit_verify(args: argparse.Namespace) -> int:
    """Verify a ledger; print the verdict; 0 when intact, 1 when broken."""
    directory = KeyDirectory.load(args.keys)
    extra = _read_checkpoints(args.checkpoint)
    policy = _read_policy(args.witness_policy)
    report = _reading(
        args.ledger,
        lambda store: verify_store(store, directory, extra_checkpoints=extra, policy=policy),
    )
    sys.stdout.write("".join(f"{line}\n" for line in render(report)))
    unwitnessed = report.witnessed_size == 0 and report.entries > 0
    return 0 if report.intact and not unwitnessed else EXIT_BROKEN


@contextlib.contextmanager
def _progress() -> Iterator[Callable[[int], None]]:
    """A count of exported entries on stderr, drawn only on a terminal."""
    console = Console(stderr=True)
    with Progress(
        SpinnerColumn(),
        TextColumn("exported {task.completed} entries"),
        console=console,
        transient=True,
        disable=not console.is_terminal,
    ) as progress:
        task = progress.add_task("export", total=None)
        yield lambda done: progress.update(task, completed=done)


async def _export(url: str, partial: Path) -> ExportSummary:
    store = await open_store(url, read_only=True)
    try:
        with _progress() as show, partial.open("x", encoding="ascii", newline="\n") as out:
            summary = await write_export(store, out, on_entries=show)
            out.flush()
            os.fsync(out.fileno())
    finally:
        await store.close()
    return summary


def audit_export(args: argparse.Namespace) -> int:
    """Export a ledger to a JSON Lines file for ``deploy/audit/verify_ledger.py``."""
    out: Path = args.out
    if out.exists():
        raise HubError("export.exists", f"{out} exists; choose another file")
    partial = out.with_name(f".{out.name}.partial")
    try:
        summary = asyncio.run(_export(args.ledger, partial))
    except FileExistsError:
        raise HubError("export.exists", f"{partial} exists; is another export running?") from None
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            partial.unlink()
        raise
    partial.replace(out)
    counts = (
        _count(summary.entries, "entry", "entries"),
        _count(summary.checkpoints, "checkpoint", "checkpoints"),
        _count(summary.notes, "checkpoint note", "checkpoint notes"),
    )
    sys.stdout.write(
        f"exported {counts[0]}, {counts[1]} and {counts[2]}"
        f" of ledger {summary.ledger_id} to {out}\n"
    )
    return 0
