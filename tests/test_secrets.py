"""No secret reaches the repository that `.secrets.baseline` does not hold, audited.

The scan is the pre-commit hook itself (detect-secrets-hook) with the baseline's
plugins and filters, run over `git ls-files`, so CI on a clean clone checks what
pre-commit checks on a developer's machine. When a finding is test material (a
vector, a placeholder password in a docstring), refresh the baseline and audit it:

    .venv/bin/detect-secrets scan --baseline .secrets.baseline
    .venv/bin/detect-secrets audit .secrets.baseline

A real secret is removed from the tree (and rotated), never baselined.
"""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Sequence

ROOT = Path(__file__).resolve().parent.parent
BASELINE = ROOT / ".secrets.baseline"
#: The hook's exit codes: nothing new, new findings (JSON on stdout), baseline line numbers moved.
CLEAN, FOUND, BASELINE_UPDATED = 0, 1, 3


def tracked_files() -> list[str]:
    """The files git tracks, named from the repository root, but for the baseline itself.

    The baseline holds hashes of what it found, which look like secrets to the scan.
    """
    listing = subprocess.run(
        ["git", "ls-files", "-z"],  # noqa: S607 - git from PATH, as make test finds it
        cwd=ROOT,
        capture_output=True,
        check=True,
    )
    names = listing.stdout.decode().split("\0")
    return [name for name in names if name and name != BASELINE.name]


def new_secrets(files: Sequence[str], workdir: Path) -> list[str]:
    """Scan files with the pre-commit hook; list the findings the baseline does not hold.

    The files are shared among one hook process per core. Each process gets its own
    copy of the baseline, because the hook rewrites the baseline it is given when
    a finding's line has moved; the committed one is never touched.

    Args:
        files: paths relative to the repository root, or absolute.
        workdir: an empty directory for the baseline copies.

    Returns:
        ``path:line type`` for each new finding, sorted.
    """
    workers = max(1, min(len(files), os.cpu_count() or 1))
    hooks = []
    for index in range(workers):
        # The copy keeps the name: the hook leaves out a file named like its baseline.
        copy = workdir / str(index) / BASELINE.name
        copy.parent.mkdir()
        copy.write_bytes(BASELINE.read_bytes())
        command = [sys.executable, "-m", "detect_secrets.pre_commit_hook", "--json"]
        hooks.append(
            subprocess.Popen(  # noqa: S603 - the project's own tool, paths from git or the test
                [*command, "--baseline", str(copy), *files[index::workers]],
                cwd=ROOT,  # the baseline names its JWK plugin relative to the root
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
        )
    return sorted(finding for hook in hooks for finding in _findings(hook))


def _findings(hook: subprocess.Popen[str]) -> list[str]:
    out, err = hook.communicate(timeout=90)
    if hook.returncode in {CLEAN, BASELINE_UPDATED}:
        return []
    assert hook.returncode == FOUND, f"detect-secrets-hook failed ({hook.returncode}): {err}"
    results: dict[str, list[dict[str, Any]]] = json.loads(out)["results"]
    return [
        f"{path}:{item['line_number']} {item['type']}"
        for path, items in results.items()
        for item in items
    ]


def test_tracked_files_hold_no_secret_the_baseline_does_not_hold(tmp_path: Path) -> None:
    """Every finding in the tracked files, test vectors included, is one the baseline holds."""
    files = tracked_files()
    assert "pyproject.toml" in files
    assert new_secrets(files, tmp_path) == []


def test_a_new_secret_is_reported(tmp_path: Path) -> None:
    """An AWS key, a PEM private key and a private JWK the baseline never saw are each found."""
    # Assembled here so that this file holds none of them.
    aws_key = "AKIA" + "IOSFODNN7EXAMPLE"
    pem = "-----BEGIN " + "PRIVATE KEY-----"
    d = base64.urlsafe_b64encode(os.urandom(32)).rstrip(b"=").decode()
    jwk = json.dumps({"kty": "OKP", "crv": "Ed25519", "d": d})
    leak = tmp_path / "scan" / "leak.txt"
    leak.parent.mkdir()
    leak.write_text(f"aws_access_key_id = {aws_key}\n{pem}\n{jwk}\n")

    found = new_secrets([str(leak)], tmp_path)

    assert f"{leak}:1 AWS Access Key" in found
    assert f"{leak}:2 Private Key" in found
    assert f"{leak}:3 Private JWK" in found


def test_every_baseline_entry_is_audited_as_no_secret() -> None:
    """Each baseline entry was audited and judged not a secret: a real one is removed instead."""
    results: dict[str, list[dict[str, Any]]] = json.loads(BASELINE.read_text())["results"]
    unaudited = [
        f"{path}:{item['line_number']} {item['type']}"
        for path, items in results.items()
        for item in items
        if item.get("is_secret") is not False
    ]
    assert results
    assert unaudited == []
