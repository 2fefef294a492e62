"""Walking JSON values in tests: every scalar that could betray a withheld field."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import strategies as st


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


def json_objects(
    keys: st.SearchStrategy[str], scalars: st.SearchStrategy[Any], *, max_size: int
) -> st.SearchStrategy[dict[str, Any]]:
    """JSON objects of ``keys`` whose values nest lists and objects of ``scalars``."""
    return st.dictionaries(
        keys,
        st.recursive(
            scalars,
            lambda inner: st.lists(inner, max_size=4) | st.dictionaries(keys, inner, max_size=4),
            max_leaves=12,
        ),
        max_size=max_size,
    )
