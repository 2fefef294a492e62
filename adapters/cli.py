"""``hub-adapter AGENCY --config FILE``: an agency's adapter as a process of its own.

The agency SDK's command line, beside the adapters and without the hub: an agency
runs it next to its own system (a sidecar). Every failure ends with one line
``error <code>: <detail>`` on stderr, as ``hub``'s do: 2 for a usage error
(``usage.invalid``), 1 for any other.
"""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys
import tomllib
from pathlib import Path
from typing import NoReturn

from pydantic import ValidationError

from adapters.registry import translator_for
from adapters.runner import AdapterSettings, run
from hub.errors import HubError
from hub.logs import configure

USAGE_INVALID = "usage.invalid"
EXIT_FAILED = 1
EXIT_USAGE = 2


class UsageParser(argparse.ArgumentParser):
    """An argument parser whose usage errors are :class:`HubError` ``usage.invalid``."""

    def error(self, message: str) -> NoReturn:
        """Raise instead of printing and exiting: the caller reports it in one line."""
        raise HubError(USAGE_INVALID, message)


def _settings(path: Path) -> AdapterSettings:
    data = tomllib.loads(path.read_text())
    for key, value in data.items():  # relative paths are relative to the file
        if isinstance(value, str) and key.endswith(("_dir", "_file", "_keys")):
            data[key] = str(path.resolve().parent / value)
    return AdapterSettings(**data)


async def _main(agency: str, settings: AdapterSettings) -> int:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    return await run(agency, settings, stop, settle=True)


def main(argv: list[str] | None = None) -> int:
    """Run ``hub-adapter AGENCY --config FILE``; return the exit status."""
    parser = UsageParser(prog="hub-adapter", description=__doc__.splitlines()[0])
    parser.add_argument("agency")
    parser.add_argument("--config", type=Path, required=True)
    try:
        args = parser.parse_args(argv)
    except HubError as error:
        return fail(error.code, f"{error.detail}\n{parser.format_usage().strip()}", EXIT_USAGE)
    try:
        settings = _load(args.agency, args.config)
        configure("json" if settings.log_format == "json" else "auto")
        return asyncio.run(_main(args.agency, settings))
    except HubError as error:
        return fail(error.code, error.detail)


def _load(agency: str, config: Path) -> AdapterSettings:
    """The settings of ``config`` for a known ``agency``.

    Raises:
        HubError: ``settings.invalid`` or ``adapter.unknown``.
    """
    try:
        settings = _settings(config)
        translator_for(agency)
    except OSError as error:
        raise HubError("settings.invalid", f"--config: {error.strerror or 'cannot read'}") from None
    except ValidationError as error:
        first = error.errors()[0]
        where = ".".join(map(str, first["loc"]))
        raise HubError("settings.invalid", f"{where}: {first['msg']}") from None
    except (LookupError, ImportError):
        raise HubError("adapter.unknown", f"no adapter for {agency}") from None
    except ValueError as error:
        detail = f"--config: not TOML ({type(error).__name__})"
        raise HubError("settings.invalid", detail) from None
    return settings


def fail(code: str, detail: str, status: int = EXIT_FAILED) -> int:
    """Print ``error <code>: <detail>`` on stderr; return ``status``."""
    print(f"error {code}: {detail}", file=sys.stderr)  # noqa: T201 - a command line reports its errors
    return status


if __name__ == "__main__":
    sys.exit(main())
