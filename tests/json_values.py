"""Walking JSON values in tests: every scalar that could betray a withheld field."""

from __future__ import annotations

import json
from typing import Any


def scalars(value: Any) -> list[str]:
    """Every string longer than three characters, and every float as JSON, at any depth."""
    if isinstance(value, dict):
        return [s for item in value.values() for s in scalars(item)]
    if isinstance(value, list):
        return [s for item in value for s in scalars(item)]
    if isinstance(value, str) and len(value) > 3:
        return [value]
    if isinstance(value, float):
        return [json.dumps(value)]
    return []
