"""The compose deployment agrees with the broker definitions, agreements and settings.

No Docker engine is needed: the files are parsed and compared with what the project
itself generates or loads (``deploy/rabbitmq/definitions.json`` and its generator,
``deploy/rabbitmq/rabbitmq.conf``, the parties and agreements through
``hub.policy.load``, ``hub.settings.HubSettings``, ``adapters.runner.AdapterSettings``,
the console's default port) and with the regional federation fragments.
"""

from __future__ import annotations

import json
import re
import tomllib
from pathlib import Path, PurePosixPath
from typing import Any, Final
from urllib.parse import parse_qs, urlsplit

import pytest
import yaml

from adapters.runner import AdapterSettings
from hub.broker.definitions import DEFAULT_VHOST, HUB_USER, broker_definitions, read_parties
from hub.broker.topology import TopologyNames
from hub.console.serve import DEFAULT_PORT
from hub.policy.load import load_agreements
from hub.settings import HubSettings

ROOT: Final = Path(__file__).resolve().parents[2]
DEPLOY: Final = ROOT / "deploy"
COMPOSE_DIR: Final = DEPLOY / "compose"
COMPOSE: Final = COMPOSE_DIR / "docker-compose.yml"
DEFINITIONS: Final = DEPLOY / "rabbitmq" / "definitions.json"
RABBITMQ_CONF: Final = DEPLOY / "rabbitmq" / "rabbitmq.conf"
PARTIES: Final = DEPLOY / "parties.toml"
MAKE_SECRETS: Final = COMPOSE_DIR / "make-secrets.sh"
PROMETHEUS: Final = COMPOSE_DIR / "prometheus.yml"
PROMETHEUS_EXAMPLE: Final = DEPLOY / "prometheus" / "prometheus.yml"
NORTH: Final = DEPLOY / "regions" / "north" / "definitions.json"
SOUTH: Final = DEPLOY / "regions" / "south" / "definitions.json"
DOCKERFILE: Final = DEPLOY / "Dockerfile"
ADAPTER_PREFIX: Final = "adapter-"
HUB_PREFIX: Final = "HUB_"
ADAPTER_ENV_PREFIX: Final = "HUB_ADAPTER_"
FILE_SUFFIX: Final = "__FILE"
NAMES: Final = TopologyNames()


def _yaml(path: Path) -> dict[str, Any]:
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    return data


def _json(path: Path) -> dict[str, Any]:
    data = json.loads(path.read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    return data


def _conf(path: Path) -> dict[str, str]:
    """Parse RabbitMQ's sysctl-style ``key = value`` file."""
    pairs = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            key, _, value = line.partition("=")
            pairs[key.strip()] = value.strip()
    return pairs


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    """The compose file, parsed (YAML anchors and merge keys resolved)."""
    return _yaml(COMPOSE)


@pytest.fixture(scope="module")
def services(compose: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The compose services by name."""
    found = compose["services"]
    assert isinstance(found, dict)
    return found


@pytest.fixture(scope="module")
def definitions() -> dict[str, Any]:
    """The committed RabbitMQ definitions."""
    return _json(DEFINITIONS)


def _agencies_of(services: dict[str, dict[str, Any]]) -> dict[str, str]:
    """Map adapter service name to the agency its command names."""
    return {
        name: str(service["command"][0])
        for name, service in services.items()
        if name.startswith(ADAPTER_PREFIX)
    }


def _mounts(service: dict[str, Any]) -> dict[str, str]:
    """Map container path to host path of a service's bind mounts."""
    mounts = {}
    for volume in service.get("volumes", []):
        source, target = str(volume).split(":")[:2]
        mounts[target] = source
    return mounts


def _published(service: dict[str, Any]) -> dict[int, str]:
    """Map container port to host address of a service's published ports."""
    published = {}
    for port in service.get("ports", []):
        parts = str(port).split(":")
        # "HOST:CONTAINER" without an address publishes on every interface.
        address = parts[0] if len(parts) == 3 else "0.0.0.0"  # noqa: S104 - the value checked against
        published[int(parts[-1])] = address
    return published


def _option(command: list[str], name: str) -> str:
    return command[command.index(name) + 1]


def test_the_agencies_agree_across_compose_definitions_parties_and_agreements(
    services: dict[str, dict[str, Any]], definitions: dict[str, Any]
) -> None:
    """Broker users, parties and agreement parties name the same; each agency has an adapter.

    The evaluator has a broker user and an inbox but no service here: it receives at
    its own site (``hub-evaluation receive``).
    """
    adapters = set(_agencies_of(services).values())
    users = {u["name"] for u in definitions["users"]} - {HUB_USER}
    parties = set(read_parties(PARTIES)) - {HUB_USER}
    agreements, _ = load_agreements(DEPLOY / "agreements")
    in_agreements = {p.party for a in agreements for p in a.parties}
    assert users == parties == in_agreements
    assert adapters == parties - {"evaluator"}
    assert all(
        name == f"{ADAPTER_PREFIX}{agency}" for name, agency in _agencies_of(services).items()
    )


def test_each_adapter_has_exactly_its_own_broker_user_permissions_and_certificate(
    services: dict[str, dict[str, Any]], definitions: dict[str, Any], compose: dict[str, Any]
) -> None:
    """Each adapter's user may write hub.ingress and read its own inbox, nothing else."""
    granted = {p["user"]: p for p in definitions["permissions"]}
    queues = {q["name"] for q in definitions["queues"]}
    exchanges = {e["name"] for e in definitions["exchanges"]}
    for name, agency in _agencies_of(services).items():
        inbox = NAMES.inbox(agency)
        assert inbox in queues
        assert NAMES.ingress in exchanges
        permission = granted[agency]
        assert permission["vhost"] == DEFAULT_VHOST
        assert (permission["configure"], permission["write"], permission["read"]) == (
            "^$",
            "^" + re.escape(NAMES.ingress) + "$",
            "^" + re.escape(inbox) + "$",
        )
        secrets = set(services[name]["secrets"])
        assert secrets == {
            f"{agency}-private-keys",
            f"{agency}-broker-url",
            f"{agency}-tls-cert",
            f"{agency}-tls-key",
        }
        files = {s: compose["secrets"][s]["file"] for s in secrets}
        assert files[f"{agency}-tls-cert"] == f"./secrets/tls/clients/{agency}.pem"
        assert files[f"{agency}-private-keys"].endswith(f"/{agency}.private.jwks.json")
        assert services[name]["environment"]["HUB_ADAPTER_BROKER_URL__FILE"] == (
            f"/run/secrets/{agency}-broker-url"
        )


def test_broker_urls_name_their_user_the_broker_service_its_tls_port_and_the_vhost(
    services: dict[str, dict[str, Any]], definitions: dict[str, Any]
) -> None:
    """make-secrets.sh writes amqps URLs to the rabbitmq service, TLS port, deployment vhost."""
    script = MAKE_SECRETS.read_text(encoding="utf-8")
    template = re.search(r"'(amqps://%s:%s@[^']+)\\n'", script)
    assert template is not None
    url = urlsplit(template.group(1).replace("%s", "x"))
    port = int(_conf(RABBITMQ_CONF)["listeners.ssl.default"])
    assert (url.hostname, url.port, url.path) == ("rabbitmq", port, f"/{DEFAULT_VHOST}")
    assert "rabbitmq" in services
    assert [v["name"] for v in definitions["vhosts"]] == [DEFAULT_VHOST]
    assert parse_qs(url.query)["cafile"] == ["/etc/hub/tls/ca.pem"]
    for user in re.findall(r"for user in (hub \$AGENCIES)", script):
        assert user == "hub $AGENCIES"
    agencies = re.search(r'^AGENCIES="([^"]+)"', script, re.MULTILINE)
    assert agencies is not None
    assert set(agencies.group(1).split()) == {u["name"] for u in definitions["users"]} - {"hub"}


def test_the_rabbitmq_service_loads_the_committed_config_definitions_and_tls_files(
    services: dict[str, dict[str, Any]],
) -> None:
    """rabbitmq.conf, its definitions path, TLS files and plugins are all mounted."""
    conf = _conf(RABBITMQ_CONF)
    rabbitmq = services["rabbitmq"]
    mounts = _mounts(rabbitmq)
    assert mounts["/etc/rabbitmq/rabbitmq.conf"] == "../rabbitmq/rabbitmq.conf"
    assert mounts["/etc/rabbitmq/enabled_plugins"] == "../rabbitmq/enabled_plugins"
    assert mounts[conf["definitions.local.path"]] == "./secrets/rabbitmq/definitions.json"
    tls_dirs = {str(PurePosixPath(conf[k]).parent) for k in conf if k.endswith("file")}
    assert tls_dirs == {"/etc/rabbitmq/tls"}
    assert mounts["/etc/rabbitmq/tls"] == "./secrets/rabbitmq/tls"
    # The image's 10-defaults.conf would open a plaintext 5672 listener.
    assert "/etc/rabbitmq/conf.d/10-defaults.conf" in mounts
    assert conf["listeners.tcp"] == "none"
    plugins = (DEPLOY / "rabbitmq" / "enabled_plugins").read_text()
    assert "rabbitmq_management" in plugins
    assert "rabbitmq_prometheus" in plugins
    assert str(rabbitmq["image"]).endswith("-management")


def test_published_ports_are_loopback_and_match_the_listeners(
    services: dict[str, dict[str, Any]],
) -> None:
    """Only 127.0.0.1 is published; broker and console ports are their listeners'."""
    for service in services.values():
        assert set(_published(service).values()) <= {"127.0.0.1"}
    conf = _conf(RABBITMQ_CONF)
    assert set(_published(services["rabbitmq"])) == {
        int(conf["listeners.ssl.default"]),
        int(conf["management.ssl.port"]),
    }
    console = services["console"]
    port = int(_option(console["command"], "--port"))
    assert set(_published(console)) == {port} == {DEFAULT_PORT}
    assert "--tls-dir" in console["command"]
    assert "postgres" not in {n for n, s in services.items() if s.get("ports")}


def test_every_service_has_a_healthcheck_and_a_pinned_image(
    services: dict[str, dict[str, Any]],
) -> None:
    """Each service checks its health and runs a pinned image tag, never ``latest``."""
    version = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]
    for name, service in services.items():
        test = service.get("healthcheck", {}).get("test")
        assert test, name
        assert test[0] in {"CMD", "CMD-SHELL"}, name
        image = str(service["image"])
        repository, _, tag = image.rpartition(":")
        assert repository, name
        assert tag != "latest", name
        assert re.search(r"\d+\.\d+", tag), name
        if "build" in service:
            assert service["build"]["dockerfile"] == "deploy/Dockerfile"
            assert tag == version, name


def test_hub_services_run_the_hub_command_and_wait_for_healthy_dependencies(
    services: dict[str, dict[str, Any]],
) -> None:
    """Two workers, the console and the adapters start only after broker and ledger."""
    for name in ("hub-worker-1", "hub-worker-2"):
        command = services[name]["command"]
        assert command[0] == "run"
        assert int(_option(command, "--console-port")) == DEFAULT_PORT
        assert "--console-tls-dir" in command
    assert services["console"]["command"][0] == "console"
    for name, service in services.items():
        for dependency, condition in service.get("depends_on", {}).items():
            assert dependency in services, name
            assert condition == {"condition": "service_healthy"}, name
    for name in ("hub-worker-1", "hub-worker-2", "console"):
        assert set(services[name]["depends_on"]) == {"rabbitmq", "postgres"}


def _setting_names(variable: str) -> tuple[str, set[str]]:
    base = variable.removesuffix(FILE_SUFFIX)
    if base.startswith(ADAPTER_ENV_PREFIX):
        return base.removeprefix(ADAPTER_ENV_PREFIX).lower(), set(AdapterSettings.model_fields)
    return base.removeprefix(HUB_PREFIX).lower(), set(HubSettings.model_fields)


def test_every_hub_variable_is_a_real_setting_and_secrets_come_from_files(
    services: dict[str, dict[str, Any]], compose: dict[str, Any], definitions: dict[str, Any]
) -> None:
    """HUB_* names a setting; a secret is a HUB_*__FILE or *_FILE naming a mounted secret."""
    for name, service in services.items():
        mounted = {f"/run/secrets/{s}" for s in service.get("secrets", [])}
        for variable, value in service.get("environment", {}).items():
            text = str(value)
            assert not re.search(r"://[^/\s]*:[^/\s]*@", text), (name, variable)
            if variable.startswith(HUB_PREFIX):
                setting, fields = _setting_names(variable)
                assert setting in fields, (name, variable)
            if variable.endswith("_FILE") and text.startswith("/run/secrets/"):
                assert text in mounted, (name, variable)
            if "PASSWORD" in variable:
                assert variable.endswith("_FILE"), (name, variable)
        for secret in service.get("secrets", []):
            assert str(compose["secrets"][secret]["file"]).startswith("./secrets/")
    ingress = next(q for q in definitions["queues"] if q["name"] == NAMES.ingress_queue)
    for name in ("hub-worker-1", "hub-worker-2", "console"):
        limit = int(services[name]["environment"]["HUB_DELIVERY_LIMIT"])
        assert limit == ingress["arguments"]["x-delivery-limit"], name


def test_prometheus_scrapes_every_console_with_the_example_job_and_alerts(
    services: dict[str, dict[str, Any]],
) -> None:
    """The scrape targets are the services serving the console, on the console's port."""
    config = _yaml(PROMETHEUS)
    example = _yaml(PROMETHEUS_EXAMPLE)
    names = [j["job_name"] for j in config["scrape_configs"]]
    assert names == [j["job_name"] for j in example["scrape_configs"]]
    (job,) = [j for j in config["scrape_configs"] if j["job_name"] == "hub-console"]
    assert job["scheme"] == "https"
    targets = {t for group in job["static_configs"] for t in group["targets"]}
    consoles = {
        f"{name}:{DEFAULT_PORT}"
        for name, service in services.items()
        if service.get("command") and service["command"][0] in {"run", "console"}
    }
    assert targets == consoles
    prometheus = services["prometheus"]
    mounts = _mounts(prometheus)
    assert mounts["/etc/prometheus/prometheus.yml"] == "./prometheus.yml"
    assert mounts["/etc/prometheus/alerts.yml"] == "../prometheus/alerts.yml"
    assert config["rule_files"] == ["alerts.yml"]
    assert job["tls_config"]["ca_file"] in mounts
    token = job["authorization"]["credentials_file"]
    assert token in {f"/run/secrets/{s}" for s in prometheus["secrets"]}
    port = _conf(RABBITMQ_CONF)["prometheus.ssl.port"]
    for rabbit in (j for j in config["scrape_configs"] if j["job_name"].startswith("rabbitmq")):
        targets = {t for group in rabbit["static_configs"] for t in group["targets"]}
        assert targets == {f"rabbitmq:{port}"}, "the broker's own metrics, on its TLS port"
        assert rabbit["tls_config"]["ca_file"] in mounts


def test_grafana_provisions_the_committed_dashboard(services: dict[str, dict[str, Any]]) -> None:
    """The dashboard file sits in the folder the provider reads."""
    mounts = _mounts(services["grafana"])
    dashboard = next(t for t, s in mounts.items() if s == "../grafana/dashboard.json")
    provider = _yaml(COMPOSE_DIR / "grafana" / "dashboards.yml")["providers"][0]
    assert PurePosixPath(dashboard).parent == PurePosixPath(provider["options"]["path"])
    source = _yaml(COMPOSE_DIR / "grafana" / "datasources.yml")["datasources"][0]
    assert urlsplit(source["url"]).hostname == "prometheus"
    assert "prometheus" in services


def test_definitions_with_passwords_are_the_committed_ones_plus_hashes(
    definitions: dict[str, Any],
) -> None:
    """What make-secrets.sh boots RabbitMQ with differs from the committed file by hashes only."""
    parties = read_parties(PARTIES)
    passwords = {u["name"]: f"password-of-{u['name']}" for u in definitions["users"]}
    generated = broker_definitions(parties, passwords=passwords)
    assert all(u["password_hash"] for u in generated["users"])
    for user in generated["users"]:
        user["password_hash"] = ""
    assert json.loads(json.dumps(generated, sort_keys=True)) == definitions


def _upstream(south: dict[str, Any]) -> dict[str, Any]:
    (parameter,) = south["parameters"]
    assert parameter["component"] == "federation-upstream"
    value = parameter["value"]
    assert isinstance(value, dict)
    return {"name": parameter["name"], **value}


def test_the_regional_link_names_exchanges_queues_and_a_user_that_exist(
    definitions: dict[str, Any],
) -> None:
    """North's outbound exchange, South's federated exchange and the link user agree."""
    north, south = _json(NORTH), _json(SOUTH)
    exchanges = {e["name"] for e in definitions["exchanges"]}
    queues = {q["name"] for q in definitions["queues"]}
    (outbound,) = north["exchanges"]
    (inbound,) = south["exchanges"]
    (north_binding,) = north["bindings"]
    (south_binding,) = south["bindings"]
    assert north_binding["source"] in exchanges
    assert north_binding["destination"] == outbound["name"]
    assert north_binding["destination_type"] == "exchange"
    assert outbound["internal"] is True
    assert south_binding["source"] == inbound["name"]
    assert south_binding["destination"] in queues
    assert south_binding["destination"] == NAMES.ingress_queue
    assert south_binding["routing_key"] == north_binding["routing_key"]
    # The routing key is no party id: North's own hub never consumes it.
    assert north_binding["routing_key"] not in read_parties(PARTIES)
    upstream = _upstream(south)
    assert upstream["exchange"] == outbound["name"]
    (policy,) = south["policies"]
    assert re.fullmatch(policy["pattern"], inbound["name"])
    assert policy["definition"] == {"federation-upstream": upstream["name"]}
    (link_user,) = north["users"]
    assert link_user["tags"] == []
    uri = urlsplit(upstream["uri"])
    assert uri.scheme == "amqps"
    assert uri.username == link_user["name"]
    assert uri.path == f"/{DEFAULT_VHOST}"
    assert parse_qs(uri.query)["verify"] == ["verify_peer"]
    assert upstream["trust-user-id"] is True
    assert upstream["ack-mode"] == "on-confirm"
    assert upstream["max-hops"] == 1
    for fragment in (north, south):
        assert {v["name"] for v in fragment["vhosts"]} == {DEFAULT_VHOST}
        for item in fragment["exchanges"] + fragment["bindings"] + fragment["policies"]:
            assert item["vhost"] == DEFAULT_VHOST


def test_the_link_user_may_read_only_the_outbound_exchange_and_its_own_names() -> None:
    """The link user cannot read hub.ingress, an inbox or any queue of the hub."""
    north = _json(NORTH)
    (permission,) = north["permissions"]
    (link_user,) = north["users"]
    assert permission["user"] == link_user["name"]
    read = re.compile(permission["read"])
    outbound = north["exchanges"][0]["name"]
    assert read.fullmatch(outbound)
    assert read.fullmatch(f"federation: {outbound} -> rabbit@south")
    for name in (NAMES.ingress, NAMES.ingress_queue, NAMES.inbox("police"), NAMES.quarantine):
        assert not read.fullmatch(name)
        assert not re.fullmatch(permission["write"], name)
        assert not re.fullmatch(permission["configure"], name)


def test_the_image_runs_hub_as_a_non_root_user_on_python_311_slim() -> None:
    """The Dockerfile pins python:3.11 slim, drops root, and enters through ``hub``."""
    text = DOCKERFILE.read_text(encoding="utf-8")
    assert re.search(r"^FROM python:3\.11\.\d+-slim", text, re.MULTILINE)
    users = re.findall(r"^USER (\S+)", text, re.MULTILINE)
    assert users
    assert users[-1].split(":")[0] not in {"root", "0"}
    assert 'ENTRYPOINT ["hub-entrypoint", "hub"]' in text
