"""What every command shares: the parser whose usage errors are ours, and argument types."""

from __future__ import annotations

import argparse
from datetime import datetime
from typing import NoReturn

from hub.errors import HubError
from schemas.parties import PARTY_ID

#: A usage error: an unknown command or option, a missing or malformed argument.
USAGE_INVALID = "usage.invalid"


class Parser(argparse.ArgumentParser):
    """An argument parser that raises :class:`HubError` instead of printing and exiting.

    ``hub`` then reports a usage error as it reports every other error, one line
    ``error usage.invalid: <what>`` with exit status 2, followed by the usage of the
    command that was meant.
    """

    def error(self, message: str) -> NoReturn:
        """Raise ``usage.invalid`` with argparse's message and this command's usage."""
        raise UsageError(message, self.format_usage().strip())


class UsageError(HubError):
    """The command line is not one ``hub`` understands (``usage.invalid``)."""

    def __init__(self, detail: str, usage: str) -> None:
        """Carry argparse's message and the usage line of the command meant."""
        super().__init__(USAGE_INVALID, detail)
        self.usage = usage


def party(value: str) -> str:
    """A party id argument."""
    if not PARTY_ID.match(value):
        raise argparse.ArgumentTypeError("party ids are 2-32 of a-z, 0-9 and -, starting a-z")
    return value


def moment(value: str) -> datetime:
    """An ISO 8601 time with a zone."""
    try:
        at = datetime.fromisoformat(value)
    except ValueError:
        raise argparse.ArgumentTypeError("expected an ISO 8601 time") from None
    if at.tzinfo is None:
        raise argparse.ArgumentTypeError("the time needs a zone, e.g. 2027-01-01T00:00:00Z")
    return at
