"""An agency's adapter erasing at retention end, for the adapter-kill scenario; its own process.

``python eraser.py KEYS PARTY STATE`` with the broker URL in ``FAULTS_BROKER_URL``:
erases everything the :class:`AgencyClient` whose state is the SQLite file STATE
keeps, as if every retention had ended, and kills itself with SIGKILL right after
the first erasure receipt is sealed and committed with the erasure, before the
broker has it: the worst moment for an adapter to die.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from datetime import date
from pathlib import Path

from adapters.client import ERASURE_KIND, AgencyClient
from hub.broker.amqp import AmqpBroker
from hub.crypto.keys import KeyDirectory, load_keyring


class DyingEraser(AgencyClient):
    """A client that dies as it is about to publish its first erasure receipt."""

    async def _send_receipt(self, receipt_id: str, body: bytes, kind: str) -> None:
        if kind == ERASURE_KIND:
            os.kill(os.getpid(), signal.SIGKILL)
        await super()._send_receipt(receipt_id, body, kind)


async def main(keys: Path, party: str, state: Path) -> int:
    """Erase until killed."""
    client = DyingEraser(
        load_keyring(keys / f"{party}.private.jwks.json"),
        KeyDirectory.load(keys),
        AmqpBroker(os.environ["FAULTS_BROKER_URL"]),
        state,
    )
    async with client:
        await client.erase_due(today=date(9999, 12, 31))
    return 1  # it dies before this: reaching here is a failure


if __name__ == "__main__":
    keys, party, state = sys.argv[1:]
    sys.exit(asyncio.run(main(Path(keys), party, Path(state))))
