"""The hub on its embedded defaults: in-memory broker, SQLite ledger, policy from deploy/.

For the demo, development and tests: one process holds the hub and the agencies,
each with its own connection to one :class:`~hub.broker.memory.MemoryNode`.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from hub.broker.memory import MemoryBroker, MemoryNode
from hub.broker.topology import TopologyNames, default_topology
from hub.ledger.pseudonyms import Pseudonymizer, generate_ledger_key
from hub.ledger.service import open_ledger
from hub.pipeline import HubContext
from hub.policy.load import load_policy

if TYPE_CHECKING:
    from contextlib import AsyncExitStack

    from hub.broker.base import Broker
    from hub.crypto.keys import KeyDirectory, PartyKeyring

DEPLOY = Path(__file__).resolve().parent.parent / "deploy"
AGENCIES = ("police", "probation", "health", "advocacy")


async def embedded_hub(  # noqa: PLR0913, PLR0917 - the hub's parts, each one
    stack: AsyncExitStack,
    workdir: Path,
    keyring: PartyKeyring,
    directory: KeyDirectory,
    node: MemoryNode,
    names: TopologyNames | None = None,
) -> HubContext:
    """Open a hub context on ``node`` with a SQLite ledger in ``workdir``; ``stack`` closes it."""
    broker = await stack.enter_async_context(MemoryBroker(node, user=keyring.party))
    return await hub_on(stack, workdir, keyring, directory, broker, names)


async def hub_on(  # noqa: PLR0913, PLR0917 - the hub's parts, each one
    stack: AsyncExitStack,
    workdir: Path,
    keyring: PartyKeyring,
    directory: KeyDirectory,
    broker: Broker,
    names: TopologyNames | None = None,
    *,
    shared_broker_user: str | None = None,
) -> HubContext:
    """Open a hub context on a connected ``broker`` with a SQLite ledger in ``workdir``.

    Applies the default topology for :data:`AGENCIES` under ``names``; ``stack``
    closes the ledger. ``shared_broker_user``: see :meth:`HubContext.trusts_signature_alone`.
    """
    names = names or TopologyNames()
    policy = load_policy(DEPLOY / "agreements", DEPLOY / "parties.toml", DEPLOY / "rules.toml")
    await broker.apply(default_topology(AGENCIES, names=names))
    ledger = await open_ledger(f"sqlite:///{workdir / 'ledger.db'}", keyring=keyring)
    stack.push_async_callback(ledger.close)
    pseudonyms = Pseudonymizer(generate_ledger_key(workdir / "ledger.key"))
    return HubContext(
        keyring,
        directory,
        policy,
        ledger,
        broker,
        pseudonyms,
        names,
        256 * 1024,
        shared_broker_user=shared_broker_user,
    )
