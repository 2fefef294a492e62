"""The layer contract of docs/architecture.md holds, and a wrong import breaks it.

The contracts live in ``pyproject.toml`` (``[tool.importlinter]``); ``make lint``
runs them too. Each case below copies the packages, adds one import that the
design forbids, and shows that ``lint-imports`` names the contract it breaks.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
LINT_IMPORTS = Path(sys.executable).parent / "lint-imports"
PACKAGES = ("hub", "adapters", "schemas")


def lint_imports(root: Path) -> subprocess.CompletedProcess[str]:
    """Run ``lint-imports`` on the packages and contracts in ``root``, uncached."""
    env = {**os.environ, "PYTHONPATH": str(root)}
    return subprocess.run(  # noqa: S603 - our own tool, fixed arguments
        [str(LINT_IMPORTS), "--no-cache"],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )


@pytest.fixture(scope="module")
def tree(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of the three packages and pyproject.toml, to break on purpose."""
    root = tmp_path_factory.mktemp("tree")
    for package in PACKAGES:
        shutil.copytree(
            ROOT / package, root / package, ignore=shutil.ignore_patterns("__pycache__", "json")
        )
    shutil.copy(ROOT / "pyproject.toml", root / "pyproject.toml")
    return root


def test_the_contracts_hold_on_the_code_as_it_is(tree: Path) -> None:
    """Every contract is kept, and all six are checked."""
    done = lint_imports(tree)
    assert done.returncode == 0, done.stdout
    assert "Contracts: 6 kept, 0 broken." in done.stdout


BREAKS = [
    pytest.param(
        "adapters/client.py",
        "import hub.worker\n",
        "The agency SDK ships without the hub service BROKEN",
        id="sdk-imports-the-worker",
    ),
    pytest.param(
        "hub/ledger/merkle.py",
        "import adapters.registry\n",
        "The hub service never imports the agency SDK",
        id="ledger-imports-the-sdk",
    ),
    pytest.param(
        "hub/crypto/keys.py",
        "import hub.pipeline\n",
        "The hub's rooms, each importing only those below it BROKEN",
        id="crypto-imports-the-pipeline",
    ),
    pytest.param(
        "hub/pipeline.py",
        "from hub.ledger.chain import canonical as _canonical\n",
        "never its inner",
        id="pipeline-reaches-into-the-ledger",
    ),
    pytest.param(
        "hub/console/tokens.py",
        "if TYPE_CHECKING:\n    from hub.console.auth import auth_middleware\n",
        "No import circles between the modules of any package BROKEN",
        id="type-only-circle-in-the-console",
    ),
    pytest.param(
        "hub/ledger/export.py",
        "import argparse\n",
        "Only the command lines parse arguments",
        id="ledger-parses-arguments",
    ),
]


@pytest.mark.parametrize(("module", "line", "broken"), BREAKS)
def test_a_forbidden_import_breaks_its_contract(
    tree: Path, module: str, line: str, broken: str
) -> None:
    """One added import, and ``lint-imports`` fails naming the contract it breaks."""
    path = tree / module
    kept = path.read_text()
    path.write_text(kept + "\n" + line)
    try:
        done = lint_imports(tree)
    finally:
        path.write_text(kept)
    assert done.returncode == 1
    assert broken in done.stdout
