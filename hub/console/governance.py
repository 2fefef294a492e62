"""Information governance: ledger search, disclosures and subject access reports.

Every read of ledger content through these routes is itself recorded in the ledger
as a consultation entry naming the token and the purpose the user gave (Data
Protection Act 2018 s.62).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Final

if TYPE_CHECKING:
    from aiohttp.typedefs import Handler

    from hub.console.base import Route

ROUTES: Final[tuple[Route, ...]] = ()
HANDLERS: Final[dict[str, Handler]] = {}
