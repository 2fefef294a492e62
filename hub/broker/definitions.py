"""RabbitMQ definitions (vhost, users, permissions, topology) generated from the topology.

``deploy/rabbitmq/definitions.json`` is :func:`render_definitions` of the parties in
``deploy/parties.toml`` and :func:`~hub.broker.topology.default_topology`, committed
and checked up to date by a test, so the users' permissions can never drift from the
names the hub declares. Regenerate with ``hub broker definitions --write``.

Each agency has one broker user, named by its party id (the AMQP ``user_id`` the
hub compares with the signed issuer), allowed exactly:

- configure: nothing (``^$``): the definitions declare every exchange and queue;
- write: ``hub.ingress``, the one exchange it may publish to;
- read: ``agency.<id>.inbox``, the one queue it may consume.

The ``hub`` user may configure, read and write every name of the topology: it
writes to ``hub.ingress`` only to replay a quarantined message, as itself (ADR
0009). No user has the ``impersonator`` tag, so RabbitMQ refuses a ``user_id`` that
is not the connection's own: the hub cannot pose as an agency at ingress
(docs/security/transport.md).

Users come without a password (an empty hash, which RabbitMQ's internal backend
never matches): the operator sets one per user with ``rabbitmqctl change_password``.
:func:`password_hash` exists for tests that import definitions with known passwords.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

from hub.broker.topology import Topology, TopologyNames, default_topology
from hub.errors import HubError
from schemas.parties import PARTY_ID

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping

#: Where the definitions are committed, from the repository root.
DOCUMENT: Final = Path("deploy/rabbitmq/definitions.json")
#: The parties the committed definitions are made from, from the repository root.
PARTIES_FILE: Final = Path("deploy/parties.toml")
#: The repository root, where the committed files live.
ROOT: Final = Path(__file__).resolve().parents[2]
#: The vhost of a deployment (ARCHITECTURE section 7: one vhost per deployment).
DEFAULT_VHOST: Final = "hub"
#: The hub's own broker user; ``default_topology`` leaves this party out too.
HUB_USER: Final = "hub"
HASHING_ALGORITHM: Final = "rabbit_password_hashing_sha256"
NOTHING: Final = "^$"


class DefinitionsError(HubError):
    """The parties file cannot be read or names an invalid party (``definitions.invalid``)."""

    def __init__(self, detail: str) -> None:
        """Name the file and the problem."""
        super().__init__("definitions.invalid", detail)


@dataclass(frozen=True)
class Permission:
    """One user's regular expressions over resource names in one vhost.

    RabbitMQ matches each against the whole name of the exchange or queue an
    operation touches (docs: "Access Control", "How Permissions Work").
    """

    user: str
    configure: str
    write: str
    read: str


def _pattern(names: Iterable[str]) -> str:
    """An anchored alternation of literal names; topology names hold no regex but ``.``."""
    literals = sorted({name.replace(".", r"\.") for name in names})
    if not literals:
        return NOTHING
    return f"^({'|'.join(literals)})$" if len(literals) > 1 else f"^{literals[0]}$"


def permissions(
    agencies: Iterable[str], names: TopologyNames, user_prefix: str = ""
) -> tuple[Permission, ...]:
    """Return the hub's and each agency's permissions (least privilege).

    Args:
        agencies: the agencies' party ids.
        names: the topology's names.
        user_prefix: put before every user name; ``""`` in a deployment.

    Returns:
        The hub's permission first, then one per agency, sorted by party id.
    """
    parties = sorted(set(agencies) - {HUB_USER})
    topology = default_topology(parties, names=names)
    every = _topology_names(topology)
    hub = Permission(
        f"{user_prefix}{HUB_USER}",
        configure=_pattern(every),
        # Binding needs write on the queue; dead-lettering needs write on quarantine;
        # a replay publishes to ingress as the hub itself (ADR 0009), and RabbitMQ's
        # user_id check keeps it from posing as a sender there.
        write=_pattern(every),
        read=_pattern(every),
    )
    return (
        hub,
        *(
            Permission(
                f"{user_prefix}{party}",
                configure=NOTHING,
                write=_pattern([names.ingress]),
                read=_pattern([names.inbox(party)]),
            )
            for party in parties
        ),
    )


def _topology_names(topology: Topology) -> set[str]:
    return {e.name for e in topology.exchanges} | {q.name for q in topology.queues}


def password_hash(password: str, salt: bytes | None = None) -> str:
    """Return RabbitMQ's ``rabbit_password_hashing_sha256`` hash of ``password``.

    The format is base64(salt || SHA-256(salt || password)) with a 4-byte salt
    (docs: "Credentials and Passwords", "Computing Password Hash").
    """
    salt = os.urandom(4) if salt is None else salt
    digest = hashlib.sha256(salt + password.encode()).digest()
    return base64.b64encode(salt + digest).decode("ascii")


def _user(name: str, passwords: Mapping[str, str]) -> dict[str, Any]:
    secret = passwords.get(name)
    return {
        "name": name,
        "password_hash": "" if secret is None else password_hash(secret),
        "hashing_algorithm": HASHING_ALGORITHM,
        "tags": [],
    }


def _topology_definitions(topology: Topology, vhost: str) -> dict[str, list[dict[str, Any]]]:
    return {
        "exchanges": [
            {
                "name": e.name,
                "vhost": vhost,
                "type": e.type.value,
                "durable": True,
                "auto_delete": False,
                "internal": False,
                "arguments": {},
            }
            for e in topology.exchanges
        ],
        "queues": [
            {
                "name": q.name,
                "vhost": vhost,
                "durable": True,
                "auto_delete": False,
                "arguments": q.arguments(),
            }
            for q in topology.queues
        ],
        "bindings": [
            {
                "source": b.exchange,
                "vhost": vhost,
                "destination": b.queue,
                "destination_type": "queue",
                "routing_key": b.routing_key,
                "arguments": {},
            }
            for b in topology.bindings
        ],
    }


def broker_definitions(
    agencies: Iterable[str],
    *,
    vhost: str = DEFAULT_VHOST,
    names: TopologyNames | None = None,
    user_prefix: str = "",
    passwords: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """Return RabbitMQ definitions for the hub and ``agencies`` in ``vhost``.

    Args:
        agencies: the agencies' party ids (``hub`` is left out, as in the topology).
        vhost: the deployment's vhost.
        names: the topology's names; the deployment's by default.
        user_prefix: put before every user name (tests sharing a node use one).
        passwords: cleartext passwords by user name; a user without one gets an
            empty hash and cannot log in until the operator sets a password.

    Returns:
        A document for ``rabbitmqctl import_definitions`` or ``load_definitions``.

    Raises:
        ValueError: a party id is invalid.
    """
    n = names or TopologyNames()
    parties = sorted(set(agencies) - {HUB_USER})
    granted = permissions(parties, n, user_prefix)
    secrets = passwords or {}
    return {
        "vhosts": [{"name": vhost}],
        "users": [_user(p.user, secrets) for p in granted],
        "permissions": [
            {
                "user": p.user,
                "vhost": vhost,
                "configure": p.configure,
                "write": p.write,
                "read": p.read,
            }
            for p in granted
        ],
        "topic_permissions": [],
        "parameters": [],
        "policies": [],
        **_topology_definitions(default_topology(parties, names=n), vhost),
    }


def read_parties(path: Path) -> tuple[str, ...]:
    """Return the party ids of a parties file (``deploy/parties.toml``).

    Raises:
        DefinitionsError: the file is unreadable, not TOML, or names an invalid id.
    """
    try:
        with path.open("rb") as handle:
            data = tomllib.load(handle)
    except OSError as error:
        raise DefinitionsError(f"{path}: {error.strerror or 'cannot read'}") from None
    except UnicodeDecodeError as error:
        raise DefinitionsError(f"{path}: not UTF-8 (byte {error.start})") from None
    except tomllib.TOMLDecodeError as error:
        raise DefinitionsError(f"{path}: not TOML ({error})") from None
    ids = [party.get("id") for party in data.get("party", []) if isinstance(party, dict)]
    for party in ids:
        if not isinstance(party, str) or not PARTY_ID.match(party):
            raise DefinitionsError(f"{path.name}: a party id is not valid")
    return tuple(str(party) for party in ids)


def render_definitions(parties: Iterable[str], vhost: str = DEFAULT_VHOST) -> str:
    """Return the deployment's definitions as deterministic JSON (sorted keys, LF)."""
    return json.dumps(broker_definitions(parties, vhost=vhost), indent=2, sort_keys=True) + "\n"
