#!/usr/bin/env python3
"""Helpers of backup-ledger.sh and restore-ledger.sh: standard library only.

    ledger_ops.py pg-env WORKDIR < URL       shell exports PG* for a postgresql:// URL
    ledger_ops.py sqlite-copy SRC DST        copy a (live) SQLite ledger with the backup API
    ledger_ops.py sqlite-head DB             the head of a SQLite ledger, as key=value lines
    ledger_ops.py pg-head < DATA             the head in ``pg_restore --data-only`` output
    ledger_ops.py compare MANIFEST < VERIFY  the ``hub audit verify`` verdict against the head

The URL is read from stdin, never from the command line, and its password goes to a
``PGPASSFILE`` of mode 0600 in WORKDIR, never into the environment or the output.
Errors end in one line ``error <code>: <detail>`` and exit status 1.
"""

from __future__ import annotations

import re
import shlex
import sqlite3
import sys
from pathlib import Path
from typing import Final
from urllib.parse import parse_qsl, unquote, urlsplit

HEAD_KEYS: Final = ("entries", "last_entry_hash", "checkpoint_size", "ledger_id")
VERDICT: Final = re.compile(r"^intact: (\d+) entries, checkpoint at size (\d+)$")
#: libpq query parameters that map to environment variables (others are refused).
PG_PARAMETERS: Final = {
    "sslmode": "PGSSLMODE",
    "sslrootcert": "PGSSLROOTCERT",
    "sslcert": "PGSSLCERT",
    "sslkey": "PGSSLKEY",
    "connect_timeout": "PGCONNECT_TIMEOUT",
}


class OpsError(Exception):
    """A step failed for a reason the operator can act on."""

    def __init__(self, code: str, detail: str) -> None:
        """Make an error with a stable ``code``."""
        super().__init__(f"{code}: {detail}")
        self.code = code
        self.detail = detail


def pg_env(workdir: Path, url: str) -> list[str]:
    """Return ``export`` lines naming the server of ``url``; its password goes to a file."""
    parts = urlsplit(url.strip())
    if parts.scheme not in ("postgresql", "postgres") or not parts.hostname:
        raise OpsError("ledger.url_invalid", "expected postgresql://user@host:port/database")
    database = unquote(parts.path.lstrip("/"))
    if not database or not parts.username:
        raise OpsError("ledger.url_invalid", "the URL must name a user and a database")
    env = {
        "PGHOST": parts.hostname,
        "PGPORT": str(parts.port or 5432),
        "PGUSER": unquote(parts.username),
        "PGDATABASE": database,
    }
    for name, value in parse_qsl(parts.query):
        if name not in PG_PARAMETERS:
            raise OpsError("ledger.url_invalid", f"query parameter {name} is not supported")
        env[PG_PARAMETERS[name]] = value
    if parts.password is not None:
        passfile = workdir / "pgpass"
        passfile.touch(mode=0o600)
        password = unquote(parts.password).replace("\\", "\\\\").replace(":", "\\:")
        passfile.write_text(f"*:*:*:*:{password}\n", encoding="utf-8")
        env["PGPASSFILE"] = str(passfile)
    return [f"export {name}={shlex.quote(value)}" for name, value in env.items()]


def sqlite_copy(source: Path, target: Path) -> None:
    """Copy a SQLite ledger page by page with the online backup API.

    A file copy of a live WAL database can miss committed pages still in the
    ``-wal`` file, or catch a page half-written; the backup API reads one
    consistent snapshot. The copy is switched to a rollback journal so it is one
    self-contained file, then checked with ``PRAGMA integrity_check``.
    """
    if not source.is_file():
        raise OpsError("ledger.missing", f"no ledger file {source}")
    if target.exists():
        raise OpsError("restore.target_exists", f"{target} exists; restore into a new file")
    src = sqlite3.connect(f"file:{source}?mode=ro", uri=True)
    dst = sqlite3.connect(target)
    try:
        src.backup(dst)
        dst.execute("PRAGMA journal_mode=DELETE")
        [(verdict,)] = dst.execute("PRAGMA integrity_check").fetchall()
    except sqlite3.Error as error:
        raise OpsError("ledger.unreadable", type(error).__name__) from None
    finally:
        src.close()
        dst.close()
    if verdict != "ok":
        raise OpsError("backup.corrupt", "the copy fails PRAGMA integrity_check")


def sqlite_head(path: Path) -> dict[str, str]:
    """Return the head a SQLite ledger records: entries, last hash, checkpoint, id."""
    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        size, last = db.execute("SELECT size, last_entry_hash FROM ledger_head").fetchone()
        [(checkpoint,)] = db.execute("SELECT coalesce(max(tree_size), 0) FROM ledger_checkpoints")
        [(ledger_id,)] = db.execute("SELECT value FROM ledger_meta WHERE key = 'ledger_id'")
    except (sqlite3.Error, TypeError, ValueError) as error:
        raise OpsError("ledger.unreadable", f"not a hub ledger ({type(error).__name__})") from None
    finally:
        db.close()
    return dict(zip(HEAD_KEYS, map(str, (size, last, checkpoint, ledger_id)), strict=True))


def _copy_rows(text: str, table: str) -> list[list[str]]:
    """Return the rows of ``table`` in a plain-text dump (``COPY ... FROM stdin``)."""
    rows: list[list[str]] = []
    inside = False
    for line in text.splitlines():
        if line.startswith("COPY ") and re.match(rf"COPY (\S+\.)?{table} ", line):
            inside = True
        elif inside and line == "\\.":
            inside = False
        elif inside:
            rows.append(line.split("\t"))
    return rows


def pg_head(text: str) -> dict[str, str]:
    """Return the head recorded in ``pg_restore --data-only`` output of a ledger dump."""
    heads = _copy_rows(text, "ledger_head")
    meta = {row[0]: row[1] for row in _copy_rows(text, "ledger_meta") if len(row) > 1}
    sizes = [int(row[0]) for row in _copy_rows(text, "ledger_checkpoints")]
    if len(heads) != 1 or len(heads[0]) < 3 or "ledger_id" not in meta:  # noqa: PLR2004
        raise OpsError("backup.incomplete", "the dump lacks the ledger's head or id")
    values = (heads[0][1], heads[0][2], max(sizes, default=0), meta["ledger_id"])
    return dict(zip(HEAD_KEYS, map(str, values), strict=True))


def compare(manifest: Path, verdict: str) -> str:
    """Check a ``hub audit verify`` verdict against the head a backup recorded.

    Returns:
        One line saying what matched.
    """
    recorded = dict(
        line.split("=", 1)
        for line in manifest.read_text(encoding="ascii").splitlines()
        if "=" in line
    )
    match = VERDICT.match(verdict.splitlines()[0] if verdict else "")
    if match is None:
        raise OpsError("restore.not_intact", "hub audit verify did not say intact")
    entries, checkpoint = match.groups()
    if entries != recorded.get("entries"):
        raise OpsError(
            "restore.head_mismatch",
            f"restored {entries} entries, backup recorded {recorded.get('entries')}",
        )
    if checkpoint != recorded.get("checkpoint_size"):
        raise OpsError(
            "restore.head_mismatch",
            f"restored checkpoint at size {checkpoint}, backup recorded"
            f" {recorded.get('checkpoint_size')}",
        )
    return f"head matches the backup: {entries} entries, checkpoint at size {checkpoint}"


def _print_head(head: dict[str, str]) -> None:
    sys.stdout.write("".join(f"{key}={head[key]}\n" for key in HEAD_KEYS))


def main(argv: list[str]) -> int:
    """Run one helper; return the exit status."""
    command, args = (argv[0], argv[1:]) if argv else ("", [])
    if command == "pg-env" and len(args) == 1:
        sys.stdout.write("".join(f"{line}\n" for line in pg_env(Path(args[0]), sys.stdin.read())))
    elif command == "sqlite-copy" and len(args) == 2:  # noqa: PLR2004
        sqlite_copy(Path(args[0]), Path(args[1]))
    elif command == "sqlite-head" and len(args) == 1:
        _print_head(sqlite_head(Path(args[0])))
    elif command == "pg-head" and not args:
        _print_head(pg_head(sys.stdin.read()))
    elif command == "compare" and len(args) == 1:
        sys.stdout.write(compare(Path(args[0]), sys.stdin.read()) + "\n")
    else:
        raise OpsError("usage", __doc__.splitlines()[2].strip() if __doc__ else "see the source")
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main(sys.argv[1:]))
    except OpsError as failure:
        sys.stderr.write(f"error {failure.code}: {failure.detail}\n")
        sys.exit(1)
