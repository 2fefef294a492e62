"""The operations console: an aiohttp JSON API behind bearer tokens with roles (issue 6).

``routes`` declares every endpoint and the roles allowed on it, as data; the auth
middleware, the OpenAPI document and the tests all read that one table.
"""

from hub.console.base import Role
from hub.console.serve import (
    DEFAULT_PORT,
    LOOPBACK,
    ConsoleOptions,
    check_transport,
    console_links,
    serve_console,
    start_console,
    tls_context,
)
from hub.console.tokens import TokenFile, TokenStore

__all__ = [
    "DEFAULT_PORT",
    "LOOPBACK",
    "ConsoleOptions",
    "Role",
    "TokenFile",
    "TokenStore",
    "check_transport",
    "console_links",
    "serve_console",
    "start_console",
    "tls_context",
]
