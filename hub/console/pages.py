"""The console's web pages: server-rendered HTML over the same data as the API."""

from __future__ import annotations

from typing import TYPE_CHECKING, Final

if TYPE_CHECKING:
    from aiohttp.typedefs import Handler

    from hub.console.base import Route

ROUTES: Final[tuple[Route, ...]] = ()
HANDLERS: Final[dict[str, Handler]] = {}
