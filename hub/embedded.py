"""The hub on its embedded defaults: in-memory broker, SQLite ledger, policy from deploy/.

For the demo, development and tests: one process holds the hub and the agencies,
each with its own connection to one :class:`~hub.broker.memory.MemoryNode`. The
hub is built like any other (:func:`hub.context.build_context`), from settings
that point into a working folder where the keys and the ledger are written.
"""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING, Any

from pydantic import SecretStr

from hub.broker import MemoryBroker, MemoryNode, TopologyNames, default_topology
from hub.context import build_context
from hub.crypto import save_directory, save_keyring
from hub.ledger import generate_ledger_key
from hub.settings import DEPLOY, OwnSettings

if TYPE_CHECKING:
    from contextlib import AsyncExitStack
    from pathlib import Path

    from hub.broker import Broker
    from hub.context import HubContext
    from hub.crypto import KeyDirectory, PartyKeyring

__all__ = ["AGENCIES", "DEPLOY", "RECIPIENTS", "embedded_hub", "embedded_settings", "hub_on"]

AGENCIES = ("police", "probation", "health", "advocacy")
#: Every party with an inbox: the agencies and the programme's evaluator.
RECIPIENTS = (*AGENCIES, "evaluator")


def embedded_settings(
    workdir: Path, keyring: PartyKeyring, directory: KeyDirectory, **overrides: Any
) -> OwnSettings:
    """Settings of a hub whose keys, ledger key and SQLite ledger live in ``workdir``.

    The hub's private keys and every party's public keys are written to
    ``workdir/keys``; the ledger key is made once and kept. ``overrides`` set any
    other setting (``topology_prefix``, ``delivery_limit``, ...). No ``HUB_*``
    variable applies: a demo or a test never takes a deployment's ledger or keys.
    """
    keys = workdir / "keys"
    save_directory(directory, keys)
    private, _ = save_keyring(keyring, keys)
    ledger_key = workdir / "ledger.key"
    if not ledger_key.exists():
        generate_ledger_key(ledger_key)
    fields: dict[str, Any] = {
        "party": keyring.party,
        "keys_dir": keys,
        "private_keys": private,
        "ledger_key_file": ledger_key,
        "ledger_url": SecretStr(f"sqlite:///{workdir / 'ledger.db'}"),
    }
    return OwnSettings(**(fields | overrides))


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

    Applies the default topology under ``names``; ``stack`` closes the ledger.
    ``shared_broker_user``: see :meth:`HubContext.trusts_signature_alone`.
    """
    names = names or TopologyNames()
    await broker.apply(default_topology(RECIPIENTS, names=names))
    settings = embedded_settings(workdir, keyring, directory, topology_prefix=names.prefix)
    ctx = await build_context(settings, stack, broker=broker)
    if shared_broker_user is None:
        return ctx
    return replace(ctx, shared_broker_user=shared_broker_user)
