"""An agency's inbox reader for the adapter-kill scenario, run as a process of its own.

``python inbox_reader.py KEYS PARTY STATE RECORD DIE_AFTER``, with the broker URL in
``FAULTS_BROKER_URL``: consumes PARTY's inbox with an :class:`AgencyClient` whose
state is the SQLite file STATE, appends each event id it is given to RECORD (the
application's work, made durable), and kills itself with SIGKILL right after the
client committed its record of the DIE_AFTER-th event and before that delivery is
acknowledged: the worst moment for an adapter to die.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from adapters.client import AgencyClient
from hub.broker.amqp import AmqpBroker
from hub.crypto.keys import KeyDirectory, load_keyring

if TYPE_CHECKING:
    from adapters.base import ReceivedEvent


class DyingClient(AgencyClient):
    """A client that dies once its ``die_after``-th event is remembered, before the ack.

    Seen records are committed in groups before their deliveries are acknowledged:
    it dies right after the commit that makes the ``die_after``-th one durable.
    """

    def __init__(self, *args: Any, die_after: int, **kwargs: Any) -> None:
        """Prepare a client as :class:`AgencyClient` does."""
        super().__init__(*args, **kwargs)
        self.die_after = die_after
        self.remembered = 0

    async def _remember(self, received: ReceivedEvent, digest: str) -> int:
        self.remembered += 1
        return await super()._remember(received, digest)

    async def _commit(self, upto: int) -> None:
        await super()._commit(upto)
        if self.remembered >= self.die_after:
            os.kill(os.getpid(), signal.SIGKILL)


async def main(keys: Path, party: str, state: Path, record: Path, die_after: int) -> int:
    """Consume until killed."""
    client = DyingClient(
        load_keyring(keys / f"{party}.private.jwks.json"),
        KeyDirectory.load(keys),
        AmqpBroker(os.environ["FAULTS_BROKER_URL"]),
        state,
        die_after=die_after,
    )
    async with client:
        with record.open("a") as out:
            async for received in client.deliveries():
                out.write(f"{received.event_id}\n")
                out.flush()
                os.fsync(out.fileno())
    return 1  # an inbox does not end: reaching here is a failure


if __name__ == "__main__":
    keys, party, state, record, die_after = sys.argv[1:]
    sys.exit(asyncio.run(main(Path(keys), party, Path(state), Path(record), int(die_after))))
