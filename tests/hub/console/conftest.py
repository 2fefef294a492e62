"""Console fixtures: the embedded hub, one token per role, and a loopback client."""

from __future__ import annotations

from contextlib import AsyncExitStack
from datetime import UTC, datetime
from typing import TYPE_CHECKING, TypeAlias

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from hub.broker.memory import MemoryNode
from hub.console.app import console_app
from hub.console.base import Role
from hub.console.deps import ConsoleDeps
from hub.console.throttle import AuthThrottle
from hub.console.tokens import TokenStore
from hub.embedded import embedded_hub

from .ledger_case import carry_case

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Awaitable, Callable
    from pathlib import Path

    from hub.context import HubContext
    from hub.crypto.keys import KeyDirectory, PartyKeyring
    from hub.ledger.entries import LedgerEntry

Client: TypeAlias = TestClient[web.Request, web.Application]


@pytest.fixture
def issued() -> tuple[TokenStore, dict[Role, str]]:
    """One token per role, named after the role (``ig-officer`` for ``ig_officer``)."""
    store, tokens = TokenStore(), {}
    for role in Role:
        store, tokens[role] = store.create(role.value.replace("_", "-"), role, datetime.now(UTC))
    return store, tokens


@pytest.fixture
def store(issued: tuple[TokenStore, dict[Role, str]]) -> TokenStore:
    """The store holding the hashes of :func:`tokens`."""
    return issued[0]


@pytest.fixture
def tokens(issued: tuple[TokenStore, dict[Role, str]]) -> dict[Role, str]:
    """The token of each role."""
    return issued[1]


@pytest.fixture
async def hub_ctx(
    tmp_path: Path, keyrings: dict[str, PartyKeyring], directory: KeyDirectory
) -> AsyncIterator[HubContext]:
    """The embedded hub: a memory broker and a SQLite ledger."""
    async with AsyncExitStack() as stack:
        yield await embedded_hub(stack, tmp_path, keyrings["hub"], directory, MemoryNode())


@pytest.fixture
async def serve() -> AsyncIterator[Callable[[ConsoleDeps], Awaitable[Client]]]:
    """A factory serving a console on loopback for the test; it returns a client."""
    async with AsyncExitStack() as stack:

        async def start(deps: ConsoleDeps) -> Client:
            server = TestServer(console_app(deps), host="127.0.0.1")
            return await stack.enter_async_context(TestClient(server))

        yield start


@pytest.fixture
async def client(
    hub_ctx: HubContext, store: TokenStore, serve: Callable[[ConsoleDeps], Awaitable[Client]]
) -> Client:
    """The console on the embedded hub, with the tokens of :func:`store`.

    Its throttle counts and logs failures but takes no pauses: the tests walk every
    route with bad tokens from one address (``test_auth.py`` tests the pauses).
    """
    return await serve(ConsoleDeps(hub_ctx, store, throttle=unhurried()))


async def _no_pause(seconds: float) -> None:
    del seconds


def unhurried() -> AuthThrottle:
    """A throttle that counts and logs failures but never pauses."""
    return AuthThrottle(sleep=_no_pause)


@pytest.fixture
async def case(hub_ctx: HubContext, keyrings: dict[str, PartyKeyring]) -> list[LedgerEntry]:
    """The fictional case of :func:`ledger_case.carry_case`, carried through the hub."""
    return await carry_case(hub_ctx, keyrings)
