"""Where the real services of `make test` are: RabbitMQ and PostgreSQL on loopback.

`make test` starts both and sets ``HUB_TEST_AMQP_URL``, ``HUB_TEST_POSTGRES_DSN``
and ``HUB_REQUIRE_SERVICES=1``. Run by hand without them, the cases that need a
service skip; with ``HUB_REQUIRE_SERVICES=1`` they fail instead, so CI cannot pass
by skipping.
"""

from __future__ import annotations

import json
import os
import subprocess
import threading
from pathlib import Path
from typing import TYPE_CHECKING

import asyncpg
import pytest
from yarl import URL

if TYPE_CHECKING:
    from collections.abc import Callable

AMQP_VARIABLE = "HUB_TEST_AMQP_URL"
POSTGRES_VARIABLE = "HUB_TEST_POSTGRES_DSN"
REQUIRE_VARIABLE = "HUB_REQUIRE_SERVICES"
LOOPBACK = frozenset({"127.0.0.1", "localhost", "::1"})
DEV_SCRIPTS = Path(__file__).resolve().parent.parent / "deploy" / "dev"


#: Services the scenarios started, being stopped in the background (:func:`stop_in_background`).
_STOPPING: list[tuple[str, threading.Thread, list[BaseException]]] = []
#: The longest wait for them at the end of the session.
STOP_SECONDS = 300


def stop_in_background(name: str, stop: Callable[[], None]) -> None:
    """Stop a service of the scenarios without holding up the rest of the session's end.

    The session's RabbitMQ nodes, cluster and regions are stopped at its end, one
    after another; each takes seconds. Stopped each in its own thread, they stop
    together; :func:`wait_for_stops` (the session's last hook) waits for them all.
    """
    errors: list[BaseException] = []

    def run() -> None:
        try:
            stop()
        except BaseException as error:  # noqa: BLE001 - reported by wait_for_stops
            errors.append(error)

    thread = threading.Thread(target=run, name=f"stop {name}")
    thread.start()
    _STOPPING.append((name, thread, errors))


def wait_for_stops() -> list[str]:
    """Wait (bounded) for every background stop; return what failed or did not end."""
    problems = []
    for name, thread, errors in _STOPPING:
        thread.join(STOP_SECONDS)
        if thread.is_alive():
            problems.append(f"{name}: still stopping after {STOP_SECONDS} s")
        problems += [f"{name}: {type(error).__name__}: {error}" for error in errors]
    _STOPPING.clear()
    return problems


def _service(variable: str, what: str, script: str) -> str:
    value = os.environ.get(variable, "")
    if not value:
        reason = f"{what} tests need {variable}; deploy/dev/{script} start prints one"
        if os.environ.get(REQUIRE_VARIABLE) == "1":
            pytest.fail(f"{REQUIRE_VARIABLE}=1 but {reason}")
        pytest.skip(reason)
    if URL(value).host not in LOOPBACK:
        pytest.fail(f"{variable} must point at 127.0.0.1: tests touch no other host")
    return value


def amqp_url() -> str:
    """The test RabbitMQ's URL, or skip (fail under HUB_REQUIRE_SERVICES=1)."""
    return _service(AMQP_VARIABLE, "RabbitMQ", "rabbitmq.sh")


def postgres_dsn() -> str:
    """The test PostgreSQL's DSN, or skip (fail under HUB_REQUIRE_SERVICES=1)."""
    return _service(POSTGRES_VARIABLE, "PostgreSQL", "postgres.sh")


async def drop_schema(dsn: str, schema: str) -> None:
    """Drop a PostgreSQL schema a test made, with everything in it."""
    connection = await asyncpg.connect(dsn)
    try:
        await connection.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
    finally:
        await connection.close()


def dev_script(name: str, *args: str | int | Path, timeout: float = 180) -> str:
    """Run ``deploy/dev/<name>`` (rabbitmq.sh, postgres.sh); return its output or fail."""
    done = subprocess.run(  # noqa: S603 - our own script, fixed arguments
        [str(DEV_SCRIPTS / name), *map(str, args)],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    assert done.returncode == 0, f"{name} {args[0] if args else ''} failed: {done.stderr.strip()}"
    return done.stdout.strip()


def import_definitions(folder: Path, definitions: dict[str, object], name: str) -> None:
    """Import ``definitions`` into the node in ``folder``.

    The file (it holds password hashes) is written mode 0600 beside the node's
    folder as ``<name>.json`` and removed afterwards.
    """
    path = folder.parent / f"{name}.json"
    path.write_text(json.dumps(definitions))
    path.chmod(0o600)
    try:
        dev_script("rabbitmq.sh", "import", folder, path)
    finally:
        path.unlink()


PROMTOOL_VARIABLE = "HUB_TEST_PROMTOOL"
PROMTOOL_SECONDS = 60


def promtool_path() -> str:
    """The promtool to run (``HUB_TEST_PROMTOOL``), or skip (fail under HUB_REQUIRE_SERVICES=1)."""
    path = os.environ.get(PROMTOOL_VARIABLE, "")
    if not path and os.environ.get(REQUIRE_VARIABLE) == "1":
        path = dev_script("promtool.sh", timeout=900)
    if not path:
        pytest.skip(f"promtool tests need {PROMTOOL_VARIABLE}; deploy/dev/promtool.sh prints one")
    if not os.access(path, os.X_OK):
        pytest.fail(f"{PROMTOOL_VARIABLE}={path} is not an executable")
    return path


def run_promtool(promtool: str, *args: str | Path, cwd: Path) -> subprocess.CompletedProcess[str]:
    """Run promtool with ``args`` in ``cwd``, bounded in time; return what it did."""
    return subprocess.run(  # noqa: S603 - a test's own tool and arguments
        [promtool, *map(str, args)],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=PROMTOOL_SECONDS,
        check=False,
    )


def assert_ok(done: subprocess.CompletedProcess[str]) -> None:
    """Fail with promtool's own words unless it succeeded."""
    assert done.returncode == 0, f"promtool failed:\n{done.stdout}\n{done.stderr}"
