"""Two regional brokers linked as deploy/regions/ describes (ADR 0010), on loopback.

North (``127.0.0.1:10810``) and South (``127.0.0.1:10820``) are private RabbitMQ
nodes started with ``deploy/dev/rabbitmq.sh`` in folders under ``/tmp/hub-regions/``,
with the ``rabbitmq_federation`` plugin, and stopped at the end of the session.
Each gets its hub's generated definitions (``hub.broker.definitions``: one user per
party, least privilege, the topology) in vhost ``hub`` plus its region's fragment
from ``deploy/regions/``, unchanged but for two things a deployment renders too:
the link user's password, and the upstream URI. The deployment's URI is AMQPS with
``verify_peer`` against North's CA; here it is plain AMQP on loopback, since the
link's TLS is the same RabbitMQ client TLS the rest of the hub already tests
(``tests/hub/test_tls.py``) and the question here is what crosses and as whom.

They run where the services of `make test` run (``HUB_TEST_AMQP_URL`` set, so the
RabbitMQ binaries exist), skip otherwise, and fail under ``HUB_REQUIRE_SERVICES=1``.
"""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final
from urllib.parse import quote

import pytest
from services import amqp_url, dev_script, import_definitions, stop_in_background

from hub.broker.definitions import DEFAULT_VHOST, HUB_USER, broker_definitions, password_hash

if TYPE_CHECKING:
    from collections.abc import Iterator

REGIONS_DIR: Final = Path("/tmp/hub-regions")  # noqa: S108 - the folder these nodes are given
NORTH_PORT: Final = 10810
SOUTH_PORT: Final = 10820
DEPLOY_REGIONS: Final = Path(__file__).resolve().parents[3] / "deploy" / "regions"
LINK_USER: Final = "link-south"
#: North's agencies and South's; South also lists North's sender (its refusal inbox)
#: and the programme's evaluator, which South's hub feeds.
NORTH_AGENCIES: Final = ("north-police",)
SOUTH_AGENCIES: Final = ("south-probation", "north-police", "evaluator")


@dataclass
class Region:
    """One regional broker: its folder, port and the passwords of its users."""

    name: str
    folder: Path
    port: int
    passwords: dict[str, str] = field(default_factory=dict)

    def url(self, user: str) -> str:
        """``user``'s AMQP URL in the deployment's vhost on this node."""
        vhost = quote(DEFAULT_VHOST, safe="")
        return f"amqp://{user}:{self.passwords[user]}@127.0.0.1:{self.port}/{vhost}"

    def ctl(self, *args: str) -> str:
        """Run ``rabbitmqctl`` against this node; its output."""
        return dev_script("rabbitmq.sh", "ctl", self.folder, *args)

    def import_definitions(self, definitions: dict[str, Any]) -> None:
        """Import ``definitions`` (written mode 0600, removed afterwards)."""
        import_definitions(self.folder, definitions, f"{self.name}-definitions")


def merged(*parts: dict[str, Any]) -> dict[str, Any]:
    """Definitions documents joined list by list, as RabbitMQ imports a folder of them."""
    keys = ("users", "vhosts", "permissions", "exchanges", "queues", "bindings")
    joined: dict[str, Any] = {key: [] for key in (*keys, "parameters", "policies")}
    for part in parts:
        for key, items in part.items():
            if isinstance(items, list):
                joined.setdefault(key, []).extend(items)
    joined["vhosts"] = [{"name": name} for name in {v["name"] for v in joined["vhosts"]}]
    return joined


def fragment_of(region: str) -> dict[str, Any]:
    """deploy/regions/<region>/definitions.json as committed."""
    text = (DEPLOY_REGIONS / region / "definitions.json").read_text(encoding="utf-8")
    fragment: dict[str, Any] = json.loads(text)
    return fragment


def north_fragment(link_password: str) -> dict[str, Any]:
    """deploy/regions/north/definitions.json with the link user's password set."""
    fragment: dict[str, Any] = json.loads(
        (DEPLOY_REGIONS / "north" / "definitions.json").read_text()
    )
    (user,) = fragment["users"]
    assert user["name"] == LINK_USER
    user["password_hash"] = password_hash(link_password)
    return fragment


def south_fragment(north: Region, *, trust_user_id: bool = True) -> dict[str, Any]:
    """deploy/regions/south/definitions.json pointing its upstream at ``north`` (plain AMQP)."""
    fragment: dict[str, Any] = json.loads(
        (DEPLOY_REGIONS / "south" / "definitions.json").read_text()
    )
    (parameter,) = fragment["parameters"]
    parameter["value"]["uri"] = north.url(LINK_USER)
    parameter["value"]["trust-user-id"] = trust_user_id
    parameter["value"]["reconnect-delay"] = 1
    return fragment


def upstream_value(north: Region, *, trust_user_id: bool) -> str:
    """The ``north`` upstream parameter's value, as JSON for ``rabbitmqctl set_parameter``."""
    (parameter,) = south_fragment(north, trust_user_id=trust_user_id)["parameters"]
    return json.dumps(parameter["value"])


def start(region: Region) -> None:
    """Start ``region``'s node with the federation plugin, without a previous run's vhost."""
    dev_script("rabbitmq.sh", "start", region.folder, region.port)
    dev_script("rabbitmq.sh", "enable-plugin", region.folder, "rabbitmq_federation")
    if DEFAULT_VHOST in region.ctl("list_vhosts", "--no-table-headers").split():
        region.ctl("delete_vhost", DEFAULT_VHOST)


def stop(region: Region) -> None:
    """Stop ``region``'s node, and remove its vhost first so a rerun starts clean."""
    try:
        region.ctl("delete_vhost", DEFAULT_VHOST)
    finally:
        dev_script("rabbitmq.sh", "stop", region.folder)


@pytest.fixture(scope="session")
def regions() -> Iterator[tuple[Region, Region]]:
    """North and South, linked North -> South; both stopped at the end."""
    amqp_url()  # skips, or fails under HUB_REQUIRE_SERVICES=1, as every service test does
    REGIONS_DIR.mkdir(exist_ok=True)
    north = Region("north", REGIONS_DIR / "north", NORTH_PORT)
    south = Region("south", REGIONS_DIR / "south", SOUTH_PORT)
    north.passwords = {u: secrets.token_hex(12) for u in (HUB_USER, *NORTH_AGENCIES, LINK_USER)}
    south.passwords = {u: secrets.token_hex(12) for u in (HUB_USER, "south-probation", "evaluator")}
    try:
        for region in (north, south):
            start(region)
        north.import_definitions(
            merged(
                broker_definitions(NORTH_AGENCIES, passwords=north.passwords),
                north_fragment(north.passwords[LINK_USER]),
            )
        )
        south.import_definitions(
            merged(
                broker_definitions(SOUTH_AGENCIES, passwords=south.passwords),
                south_fragment(north),
            )
        )
        yield north, south
    finally:
        for region in (north, south):
            if (region.folder / "port").exists():
                stop_in_background(f"the {region.name} region's node", partial(stop, region))
