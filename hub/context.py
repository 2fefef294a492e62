"""The hub's parts, held once per worker, and the one place that builds them.

:class:`HubContext` is what the pipeline, the refusals, the sweep and the console
read: keys, policy, ledger, broker, pseudonyms, names and limits.
:func:`build_context` makes one from :class:`~hub.settings.HubSettings`; the
worker, the console, the demo, the benchmarks and the test fixtures all call it,
so a hub is put together the same way everywhere. A caller that already holds a
connected broker or an open ledger (a test on a shared in-memory node, a
benchmark on a PostgreSQL schema of its own) passes it in and keeps owning it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Final

from hub.broker import TopologyNames, default_topology, make_broker
from hub.crypto import KeyDirectory, WitnessPolicy, load_keyring
from hub.evaluation import Area, Feed, LinkageKey
from hub.ledger import (
    CheckpointPolicy,
    LedgerConfig,
    LedgerError,
    Pseudonymizer,
    load_ledger_key,
    open_ledger,
)
from hub.metrics import HubMetrics
from hub.policy import DecisionMemo, load_policy
from hub.settings import SettingsError

if TYPE_CHECKING:
    from collections.abc import Callable
    from contextlib import AsyncExitStack

    from hub.broker import Broker
    from hub.crypto import PartyKeyring
    from hub.ledger import Ledger
    from hub.policy import Policy
    from hub.settings import HubSettings

#: The largest envelope the hub opens, unless settings say otherwise (checked before
#: any decryption; a larger message is refused as ``payload.too_large``).
MAX_ENVELOPE_BYTES: Final = 256 * 1024


def _utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True, kw_only=True)
class HubContext:
    """Everything the pipeline needs, built once per worker (:func:`build_context`)."""

    keyring: PartyKeyring
    directory: KeyDirectory
    policy: Policy
    ledger: Ledger
    broker: Broker
    pseudonyms: Pseudonymizer
    names: TopologyNames = field(default_factory=TopologyNames)
    max_envelope_bytes: int = MAX_ENVELOPE_BYTES
    require_user_id: bool = True
    shared_broker_user: str | None = None
    clock: Callable[[], datetime] = field(default=_utcnow)
    metrics: HubMetrics = field(default_factory=HubMetrics)
    #: Called with a stage name and the ingress message id as a disclosed event
    #: passes each stage (``taken``, ``accepted``, ``recorded``, ``delivered``,
    #: ``acked``); for measuring where the time goes (``bench/hub_vs_raw``). None:
    #: nothing is called.
    trace: Callable[[str, str | None], None] | None = field(default=None, repr=False, compare=False)
    #: The evaluation feed (ADR 0022): this hub's area and the areas' linkage key;
    #: None when the hub feeds no evaluator.
    evaluation: Feed | None = None
    #: The witness policy (ADR 0026), None without witnesses.
    witness_policy: WitnessPolicy | None = None
    #: Built from ``policy`` for each context (``dataclasses.replace`` included),
    #: so a context with another policy never answers from this one's memory.
    decisions: DecisionMemo = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        """Start an empty decision memo for this context's policy and feed."""
        memo = DecisionMemo(self.policy, evaluation=self.evaluation is not None)
        object.__setattr__(self, "decisions", memo)

    def trusts_signature_alone(self, user_id: str | None) -> bool:
        """Whether a message from broker user ``user_id`` rests on its signature alone.

        In a deployment every agency has its own broker user, RabbitMQ checks the
        ``user_id`` property against it, and the hub checks it against the signed
        sender. Three cases skip that second check: ``hub demo --broker URL``, where
        every party shares the one ``shared_broker_user``; benchmarks that publish
        without ``user_id`` (``require_user_id=False``); and the hub's own broker
        user, which publishes to ingress only to replay a quarantined message once
        its cause is fixed (ADR 0009). Only the hub holds that user's credentials,
        and the replayed envelope must still verify as its signed sender's.
        """
        if user_id is None:
            return not self.require_user_id
        return user_id in {self.shared_broker_user, self.broker.user}


async def build_context(
    settings: HubSettings,
    stack: AsyncExitStack,
    *,
    broker: Broker | None = None,
    ledger: Ledger | None = None,
) -> HubContext:
    """Load keys, policy and the ledger key; open the ledger and the broker; apply the topology.

    ``stack`` closes what this opens. A ``broker`` passed in must be connected and
    a ``ledger`` passed in open; their owner closes them, and applies the topology
    it wants on that broker. On a broker opened here, the topology of every party
    in the policy is applied.
    """
    keyring = load_keyring(settings.private_keys)
    policy = load_policy(settings.agreements_dir, settings.parties_file, settings.rules_file)
    if ledger is None:
        ledger = await _open_ledger(settings, keyring, stack)
    # Every party shares one process on ``memory://`` of its own; a broker passed in
    # carries each party's user, as RabbitMQ does.
    require_user_id = broker is not None or not settings.broker_url.get_secret_value().startswith(
        "memory://"
    )
    names = TopologyNames(settings.topology_prefix)
    if broker is None:
        broker = await _connect_broker(settings, stack)
        parties = [p.id for p in policy.rules.parties]
        await broker.apply(default_topology(parties, settings.delivery_limit, names=names))
    return HubContext(
        keyring=keyring,
        directory=KeyDirectory.load(settings.keys_dir),
        policy=policy,
        ledger=ledger,
        broker=broker,
        pseudonyms=Pseudonymizer(load_ledger_key(settings.ledger_key_file)),
        names=names,
        max_envelope_bytes=settings.max_envelope_bytes,
        require_user_id=require_user_id,
        evaluation=evaluation_feed(settings),
        witness_policy=witness_policy(settings),
    )


def witness_policy(settings: HubSettings) -> WitnessPolicy | None:
    """The witness policy the settings name, or None.

    Raises:
        SettingsError: the file cannot be read; PolicyError: it is not a policy.
    """
    if settings.witness_policy_file is None:
        return None
    try:
        text = settings.witness_policy_file.read_bytes().decode("utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise SettingsError("witness_policy_file", type(error).__name__) from None
    return WitnessPolicy.parse(text)


def evaluation_feed(settings: HubSettings) -> Feed | None:
    """The evaluation feed the settings configure, or None.

    Raises:
        SettingsError: ``linkage_key_file`` is not a key only its owner can read.
    """
    if (
        settings.linkage_key_file is None
        or settings.evaluation_area is None
        or settings.evaluation_model is None
    ):
        return None
    try:
        key = LinkageKey(load_ledger_key(settings.linkage_key_file))
    except LedgerError as error:
        raise SettingsError("linkage_key_file", error.detail) from None
    except OSError as error:
        raise SettingsError("linkage_key_file", error.strerror or "cannot read") from None
    return Feed(Area(settings.evaluation_area, settings.evaluation_model), key)


async def _open_ledger(
    settings: HubSettings, keyring: PartyKeyring, stack: AsyncExitStack
) -> Ledger:
    checkpoints = CheckpointPolicy(
        settings.checkpoint_every_entries, settings.checkpoint_every_seconds
    )
    ledger = await open_ledger(
        settings.ledger_url.get_secret_value(),
        keyring=keyring,
        config=LedgerConfig(checkpoints, origin=settings.ledger_origin),
    )
    stack.push_async_callback(ledger.close)
    return ledger


async def _connect_broker(settings: HubSettings, stack: AsyncExitStack) -> Broker:
    management = settings.broker_management_url
    broker = make_broker(
        settings.broker_url.get_secret_value(),
        management.get_secret_value() if management else None,
        settings.broker_failover,
    )
    await broker.connect()
    stack.push_async_callback(broker.close)
    return broker
