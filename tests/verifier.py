"""The independent verifier (``deploy/audit/verify_ledger.py``), imported for its pure functions."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from typing import Any

#: The script an auditor runs without the hub's code.
SCRIPT = Path(__file__).resolve().parent.parent / "deploy" / "audit" / "verify_ledger.py"


def load_script() -> Any:
    """Import the script as a module, for its pure functions."""
    spec = importlib.util.spec_from_file_location("verify_ledger", SCRIPT)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["verify_ledger"] = module
    spec.loader.exec_module(module)
    return module
