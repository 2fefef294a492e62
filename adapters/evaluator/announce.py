"""Announcing a release: every area hub records what left the evaluator's store.

:func:`release_of` turns a written report's ``manifest.json`` into the release the
hubs record (ADR 0024): a new release id, the day it is as of, the tables it let
out, the rule, and the SHA-256 of the manifest (which holds the SHA-256 of every
table and file, so it fixes the whole output). :func:`announce` signs it as the
evaluator, seals it to one hub, and publishes it on that hub's ingress
(``kind: evaluation-release``); the hub records a ``release`` entry.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Final

from hub.broker import OutgoingMessage
from hub.crypto import seal_release
from hub.errors import HubError

if TYPE_CHECKING:
    from pathlib import Path

    from hub.broker import Broker, TopologyNames
    from hub.crypto import KeyDirectory, PartyKeyring

#: The AMQP ``kind`` of a release notice (hub/releases.py).
KIND: Final = "evaluation-release"


def release_of(report: Path) -> dict[str, Any]:
    """The release a report folder's manifest describes (the same each time it is read).

    Raises:
        HubError: ``report.invalid`` when the folder holds no readable manifest.
    """
    path = report / "manifest.json"
    try:
        data = path.read_bytes()
        manifest = json.loads(data)
        rule, tables = manifest["rule"], sorted(manifest["tables"])
        release_id, as_of = manifest["release_id"], manifest["as_of"]
        privacy = manifest.get("privacy")
    except (OSError, ValueError, KeyError, TypeError):
        raise HubError("report.invalid", f"{path}: not a report's manifest") from None
    release = {
        "release_id": release_id,
        "as_of": as_of,
        "tables": tables,
        "mechanism": "suppression",
        "rule": rule["name"],
        "threshold": rule["threshold"],
        "rounding": rule["rounding"],
        "epsilon": None,
        "spent": None,
        "budget": None,
        "output_sha256": hashlib.sha256(data).hexdigest(),
    }
    if isinstance(privacy, dict):
        release |= {"mechanism": "laplace", "threshold": None, "rounding": None}
        release |= {k: privacy.get(k) for k in ("epsilon", "spent", "budget")}
    return release


async def announce(  # noqa: PLR0913, PLR0917 - the release, who signs, where it goes
    release: dict[str, Any],
    keyring: PartyKeyring,
    directory: KeyDirectory,
    broker: Broker,
    names: TopologyNames,
    hub: str,
) -> None:
    """Sign ``release``, seal it to ``hub`` and publish it on that hub's ingress."""
    body = seal_release(release, datetime.now(UTC), keyring, directory, hub)
    await broker.publish(
        OutgoingMessage(
            names.ingress,
            keyring.party,
            body.encode("ascii"),
            str(uuid.uuid4()),
            user_id=keyring.party,
            headers={"kind": KIND},
        )
    )
