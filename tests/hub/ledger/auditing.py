"""Running both ledger verifiers as an IG officer would: ``hub audit verify`` and the script."""

from __future__ import annotations

import contextlib
import io
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

from hub.cli import main

SCRIPT = Path(__file__).resolve().parents[3] / "deploy" / "audit" / "verify_ledger.py"


@dataclass(frozen=True)
class Outcome:
    """What a verifier printed and its exit status (stderr is not compared)."""

    status: int
    out: str
    err: str = field(default="", compare=False)


def run_script(python: str, export: Path, jwks: Path, *extra: str) -> Outcome:
    """Run the standalone verifier on an export; no traceback may ever appear."""
    done = subprocess.run(  # noqa: S603 - our own script, fixed arguments
        [python, str(SCRIPT), "--keys", str(jwks), str(export), *extra],
        capture_output=True,
        text=True,
        check=False,
    )
    assert "Traceback" not in done.stderr
    return Outcome(done.returncode, done.stdout, done.stderr)


def run_hub_verify(url: str, keys: Path, *extra: str) -> Outcome:
    """Run ``hub audit verify`` in-process (call from a thread: it runs its own loop)."""
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        status = main(["audit", "verify", "--ledger", url, "--keys", str(keys), *extra])
    return Outcome(status, out.getvalue())
