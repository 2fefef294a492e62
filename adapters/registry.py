"""Which translator each agency's adapter uses, and the record model it publishes."""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any, Final

if TYPE_CHECKING:
    from pydantic import BaseModel

    from adapters.base import Translator

#: agency -> "module:Class" of its translator.
TRANSLATORS: Final = {
    "police": "adapters.police.translate:PoliceTranslator",
    "probation": "adapters.probation.translate:ProbationTranslator",
    "health": "adapters.health.translate:HealthTranslator",
    "advocacy": "adapters.advocacy.translate:AdvocacyTranslator",
}

#: agency -> "module:Class" of the pydantic model of the native record its adapter accepts.
RECORDS: Final = {
    "police": "adapters.police.record:PoleDocument",
    "probation": "adapters.probation.record:ProbationDomainEvent",
    "health": "adapters.health.record:HealthBundle",
    "advocacy": "adapters.advocacy.record:AdvocacyRecord",
}


def _load(table: dict[str, str], agency: str) -> Any:
    target = table.get(agency)
    if target is None:
        raise LookupError(f"no adapter for {agency}")
    module, name = target.split(":")
    return getattr(importlib.import_module(module), name)


def translator_for(agency: str) -> Translator:
    """Return a fresh translator for ``agency``.

    Raises:
        LookupError: no adapter exists for ``agency``.
    """
    translator: Translator = _load(TRANSLATORS, agency)()
    return translator


def record_model_for(agency: str) -> type[BaseModel]:
    """Return the model of the native record ``agency``'s adapter accepts (its published shape).

    Raises:
        LookupError: no adapter exists for ``agency``.
    """
    model: type[BaseModel] = _load(RECORDS, agency)
    return model
