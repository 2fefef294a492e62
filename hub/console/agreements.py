"""Agreements: the list, each one's versions, status and review date, and who sees what."""

from __future__ import annotations

from typing import TYPE_CHECKING, Final

if TYPE_CHECKING:
    from aiohttp.typedefs import Handler

    from hub.console.base import Route

ROUTES: Final[tuple[Route, ...]] = ()
HANDLERS: Final[dict[str, Handler]] = {}
