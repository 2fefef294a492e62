"""The console answers as /openapi.json says it does: schemathesis against the running app.

The console runs on loopback in a thread of its own (schemathesis calls it with
``requests``, synchronously) on the embedded hub. For every operation the document
lists, generated requests (path and query parameters, JSON bodies) are sent with an
admin token, and schemathesis checks that no answer is a server error and that each
status, content type and body is one the document declares.
"""

from __future__ import annotations

import asyncio
import socket
import threading
from contextlib import AsyncExitStack
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Self

import pytest
import schemathesis
from aiohttp import web
from hypothesis import HealthCheck, Phase, settings
from schemathesis.core.parameters import ParameterLocation

from hub.broker.memory import MemoryNode
from hub.console.app import console_app
from hub.console.base import Role
from hub.console.deps import ConsoleDeps
from hub.console.openapi import openapi_document
from hub.console.routes import ROUTES
from hub.console.tokens import TokenStore
from hub.embedded import embedded_hub

from .conftest import unhurried

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

    from hub.crypto.keys import KeyDirectory, PartyKeyring

SCHEMA = schemathesis.openapi.from_dict(openapi_document(ROUTES))
STARTUP_SECONDS = 30


class Served:
    """A console served on loopback from a thread with its own event loop."""

    def __init__(self, keyring: PartyKeyring, directory: KeyDirectory, workdir: Path) -> None:
        """Prepare to serve the embedded hub's console with one admin token."""
        self.store, self.token = TokenStore().create("admin", Role.ADMIN, datetime.now(UTC))
        self._keyring, self._directory, self._workdir = keyring, directory, workdir
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port: int = probe.getsockname()[1]
        self._ready = threading.Event()
        self._loop = asyncio.new_event_loop()
        self._stop: asyncio.Event | None = None
        self._failure: BaseException | None = None
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        try:
            self._loop.run_until_complete(self._serve())
        except BaseException as error:  # noqa: BLE001 - reported to the test thread
            self._failure = error
            self._ready.set()

    async def _serve(self) -> None:
        self._stop = asyncio.Event()
        async with AsyncExitStack() as stack:
            ctx = await embedded_hub(
                stack, self._workdir, self._keyring, self._directory, MemoryNode()
            )
            deps = ConsoleDeps(ctx, self.store, throttle=unhurried())
            runner = web.AppRunner(console_app(deps), access_log=None)
            await runner.setup()
            stack.push_async_callback(runner.cleanup)
            await web.TCPSite(runner, "127.0.0.1", self.port).start()
            self._ready.set()
            await self._stop.wait()

    def __enter__(self) -> Self:
        """Start serving; wait (bounded) until the console listens."""
        self._thread.start()
        if not self._ready.wait(STARTUP_SECONDS) or self._failure is not None:
            raise RuntimeError("the console did not start") from self._failure
        return self

    def __exit__(self, *exc: object) -> None:
        """Stop serving and join the thread (bounded)."""
        if self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(STARTUP_SECONDS)

    @property
    def base_url(self) -> str:
        """The console's URL."""
        return f"http://127.0.0.1:{self.port}"


@pytest.fixture(scope="module")
def served(
    keyrings: dict[str, PartyKeyring],
    directory: KeyDirectory,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Served]:
    """One console for every generated case of this module."""
    with Served(keyrings["hub"], directory, tmp_path_factory.mktemp("conformance")) as console:
        yield console


@SCHEMA.parametrize()
@settings(
    max_examples=15,
    derandomize=True,
    deadline=None,
    phases=[Phase.explicit, Phase.generate],
    suppress_health_check=list(HealthCheck),
)
def test_the_console_answers_as_documented(case: Any, served: Served) -> None:
    """No server error, and only documented statuses, media types and bodies.

    A case whose headers are generated invalid on purpose (the bearer token left out
    or malformed) goes as generated, and must be refused; every other case carries
    the admin token. Adding the token to the first kind would undo its violation,
    and the console rightly accepting the repaired request would read as a finding.
    """
    negative_headers = case.meta is not None and case.meta.is_negative_at(ParameterLocation.HEADER)
    case.call_and_validate(
        base_url=served.base_url,
        headers=None if negative_headers else {"Authorization": f"Bearer {served.token}"},
        timeout=30,
    )
