"""Which translator each agency's adapter uses."""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Final

if TYPE_CHECKING:
    from adapters.base import Translator

#: agency -> "module:Class" of its translator.
TRANSLATORS: Final = {
    "police": "adapters.police.translate:PoliceTranslator",
    "probation": "adapters.probation.translate:ProbationTranslator",
    "health": "adapters.health.translate:HealthTranslator",
    "advocacy": "adapters.advocacy.translate:AdvocacyTranslator",
}


def translator_for(agency: str) -> Translator:
    """Return a fresh translator for ``agency``.

    Raises:
        LookupError: no adapter exists for ``agency``.
    """
    target = TRANSLATORS.get(agency)
    if target is None:
        raise LookupError(f"no adapter for {agency}")
    module, name = target.split(":")
    translator: Translator = getattr(importlib.import_module(module), name)()
    return translator
