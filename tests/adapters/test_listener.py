"""The adapter's record listener, the way in for a system in any language.

Over HTTP in-process (tokens, health, the committed OpenAPI contract), then as the
compose file runs it: ``hub-adapter`` with the compose ``adapter.toml`` as a process
of its own, asked by ``hub-healthcheck adapter`` and posted a sample record.
"""

from __future__ import annotations

import asyncio
import json
import secrets
import signal
import socket
import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

import pytest
from aiohttp import ClientSession
from aiohttp.test_utils import TestClient, TestServer
from jsonschema import Draft202012Validator
from openapi_spec_validator import validate

from adapters.openapi import AGENCIES, DOCS, document_path, render
from adapters.registry import translator_for
from adapters.runner import AdapterSettings, RecordSink, listener_token, records_app
from hub.crypto import save_keyring
from hub.errors import HubError

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

    from adapters.client import AgencyClient
    from hub.crypto import KeyDirectory, PartyKeyring

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = ROOT / "deploy" / "compose"
SAMPLE = ROOT / "adapters" / "police" / "samples" / "referral.json"
TOKEN = secrets.token_urlsafe(32)


@pytest.mark.parametrize("agency", AGENCIES)
def test_the_committed_contract_is_the_generated_one_and_valid_openapi(agency: str) -> None:
    """``docs/adapters/<agency>.records.openapi.json`` is current and valid OpenAPI 3.1."""
    assert document_path(agency).read_text(encoding="utf-8") == render(agency)
    validate(json.loads(render(agency)))


def test_there_is_one_contract_per_agency_and_no_other() -> None:
    """The documents committed are exactly one per agency with an adapter."""
    committed = {path.name for path in DOCS.glob("*.openapi.json")}
    assert committed == {document_path(agency).name for agency in AGENCIES}


@pytest.fixture
async def police(
    tmp_path: Path, keyrings: dict[str, PartyKeyring], directory: KeyDirectory
) -> AsyncIterator[AgencyClient]:
    """A police client on a broker with no hub: what it publishes waits in its outbox."""
    from adapters.client import AgencyClient  # noqa: PLC0415 - only this fixture needs it
    from hub.broker import MemoryBroker  # noqa: PLC0415

    client = AgencyClient(keyrings["police"], directory, MemoryBroker(), tmp_path / "p.db")
    async with client:
        yield client


async def test_a_token_guards_records_but_not_health(police: AgencyClient, tmp_path: Path) -> None:
    """With a token: no or a wrong bearer is 401; the right one gets 202; health needs none."""
    sink = RecordSink(police, translator_for("police"), tmp_path / "rejected")
    body = SAMPLE.read_bytes()
    async with TestClient(TestServer(records_app(sink, TOKEN), host="127.0.0.1")) as http:
        for headers in ({}, {"Authorization": "Bearer not-the-token"}):
            refused = await http.post("/records", data=body, headers=headers)
            assert refused.status == 401
            assert await refused.json() == {"code": "auth.invalid"}
            assert refused.headers["WWW-Authenticate"] == "Bearer"
        assert await police.pending() == []
        taken = await http.post("/records", data=body, headers={"Authorization": f"Bearer {TOKEN}"})
        assert taken.status == 202
        answer = await taken.json()
        assert answer["published"] is False  # no hub on this broker: kept in the outbox
        assert len(answer["events"]) == len(await police.pending()) == 1
        health = await http.get("/health")
        assert (health.status, await health.json()) == (200, {"status": "ok"})


def _request_schema(agency: str) -> Draft202012Validator:
    """A validator of the request body of ``agency``'s committed document."""
    openapi = json.loads(document_path(agency).read_text(encoding="utf-8"))
    body = openapi["paths"]["/records"]["post"]["requestBody"]["content"]["application/json"]
    schema = body["schema"] | {"components": openapi["components"]}
    return Draft202012Validator(schema, format_checker=Draft202012Validator.FORMAT_CHECKER)


def _spoiled(agency: str, sample: str, where: tuple[str | int, ...], value: Any) -> dict[str, Any]:
    """A sample with ``value`` written at ``where`` (an index one past the end appends)."""
    record: dict[str, Any] = json.loads(
        (ROOT / "adapters" / agency / "samples" / sample).read_text()
    )
    parent: Any = record
    for step in where[:-1]:
        parent = parent[step]
    if isinstance(parent, list) and where[-1] == len(parent):
        parent.append(value)
    else:
        parent[where[-1]] = value
    return record


class Refusal(NamedTuple):
    """A sample spoiled so that its agency's schema refuses it, and what the listener says.

    ``value`` is written at ``where`` in ``sample``; ``secret`` is the part of it that
    must never come back; ``field`` is the native field the answer names.
    """

    agency: str
    sample: str
    where: tuple[str | int, ...]
    value: Any
    secret: str
    field: str

    def record(self) -> dict[str, Any]:
        """The spoiled record."""
        return _spoiled(self.agency, self.sample, self.where, self.value)


REFUSED = [
    Refusal(
        "police", "referral.json", ("persons", 2),
        {"id": "PER-3", "role": "SUSPECT", "partnershipRef": "SECRET-NOT-A-REF"},
        "SECRET-NOT-A-REF", "persons[2].partnershipRef",
    ),
    Refusal(
        "police", "referral.json", ("events", 0, "details", "priorityRequested"),
        "SECRET_PRIORITY", "SECRET_PRIORITY", "events[0].details.priorityRequested",
    ),
    Refusal(
        "probation", "intervention_updated.json",
        ("additionalInformation", "intervention", "sessionsMissed"), -31337, "31337",
        "additionalInformation.intervention.sessionsMissed",
    ),
    Refusal(
        "health", "risk_assessment.json", ("entry", 0, "resource", "name"),
        [{"text": "Secret Name"}], "Secret Name", "entry[0].resource.name",
    ),
    Refusal(
        "advocacy", "safety_plan.json", ("safetyPlan", "secretNote"), "SECRET NOTE",
        "SECRET NOTE", "safetyPlan.<key>",  # a key the sender made up is never repeated
    ),
]  # fmt: skip


@pytest.mark.parametrize("case", REFUSED, ids=lambda case: f"{case.agency}-{case.field}")
async def test_a_record_the_schema_refuses_the_listener_refuses_naming_the_field(
    case: Refusal, tmp_path: Path, keyrings: dict[str, PartyKeyring], directory: KeyDirectory
) -> None:
    """POSTed, a record its schema refuses is a 422 naming the native field, never the value."""
    from adapters.client import AgencyClient  # noqa: PLC0415 - only this test and a fixture need it
    from hub.broker import MemoryBroker  # noqa: PLC0415

    record = case.record()
    assert not _request_schema(case.agency).is_valid(record)
    client = AgencyClient(keyrings[case.agency], directory, MemoryBroker(), tmp_path / "a.db")
    async with client:
        sink = RecordSink(client, translator_for(case.agency), None)
        async with TestClient(TestServer(records_app(sink), host="127.0.0.1")) as http:
            body = json.dumps(record).encode()
            answer = await http.post("/records", data=body, headers={"X-Record-Id": "spoiled-1"})
            text = await answer.text()
        assert answer.status == 422
        assert json.loads(text) | {"problem": ""} == {
            "code": "record.invalid",
            "record": "spoiled-1",
            "field": case.field,
            "problem": "",
        }
        assert case.secret not in text
        assert await client.pending() == []


def _settings(tmp_path: Path, **fields: Any) -> AdapterSettings:
    keys = tmp_path / "keys"
    keys.mkdir(exist_ok=True)
    return AdapterSettings(
        keys_dir=keys, private_keys=keys / "x", state_file=tmp_path / "s.db", **fields
    )


def test_a_listener_off_loopback_needs_a_token(tmp_path: Path) -> None:
    """``listen_host`` not loopback and no ``listen_token_file``: refused before starting."""
    with pytest.raises(HubError) as caught:
        listener_token(_settings(tmp_path, listen_host="0.0.0.0", listen_port=8081))  # noqa: S104
    assert (caught.value.code, caught.value.detail) == (
        "settings.invalid",
        "listen_token_file: required when listen_host is not a loopback address",
    )
    short = tmp_path / "short.token"
    short.write_text("too-short\n")
    with pytest.raises(HubError, match="at least 32 characters"):
        listener_token(_settings(tmp_path, listen_host="0.0.0.0", listen_token_file=short))  # noqa: S104
    good = tmp_path / "good.token"
    good.write_text(f"{TOKEN}\n")
    assert (
        listener_token(_settings(tmp_path, listen_host="10.0.0.5", listen_token_file=good)) == TOKEN
    )
    assert listener_token(_settings(tmp_path, listen_host="::1")) is None


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _healthcheck(port: int) -> subprocess.CompletedProcess[str]:
    return subprocess.run(  # noqa: S603 - the compose health check, fixed arguments
        [sys.executable, str(COMPOSE / "healthcheck.py"), "adapter", "--port", str(port)],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip


async def test_the_compose_adapter_passes_its_health_check_and_takes_records(
    tmp_path: Path, keyrings: dict[str, PartyKeyring]
) -> None:
    """``hub-adapter police`` on the compose settings: unhealthy before, healthy once started."""
    port = _free_port()
    settings = (
        (COMPOSE / "adapter.toml")
        .read_text()
        .replace("listen_port = 8081", f"listen_port = {port}")
        .replace('keys_dir = "/etc/hub/keys"', 'keys_dir = "keys"')
    )
    assert f"listen_port = {port}" in settings
    (tmp_path / "adapter.toml").write_text(settings)
    for party in ("hub", "police"):
        save_keyring(keyrings[party], tmp_path / "keys")
    env = {
        "HUB_ADAPTER_PRIVATE_KEYS": str(tmp_path / "keys" / "police.private.jwks.json"),
        "HUB_ADAPTER_STATE_FILE": str(tmp_path / "state.db"),
        "HUB_ADAPTER_BROKER_URL": "memory://",
        "PATH": "/usr/bin:/bin",
    }
    assert _healthcheck(port).stdout == "unhealthy\n"
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "adapters.cli", "police", "--config", str(tmp_path / "adapter.toml"),
        cwd=ROOT, env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    try:
        async with asyncio.timeout(60):
            while (await asyncio.to_thread(_healthcheck, port)).returncode != 0:
                assert process.returncode is None, "the adapter stopped"
                await asyncio.sleep(0.2)
        assert (await asyncio.to_thread(_healthcheck, port)).stdout == "healthy\n"
        async with ClientSession() as http:
            url = f"http://127.0.0.1:{port}/records"
            async with http.post(url, data=SAMPLE.read_bytes()) as answer:
                assert answer.status == 202
                assert len((await answer.json())["events"]) == 1
            async with http.post(url, data=b"[1, 2]") as refused:
                assert refused.status == 422
                assert (await refused.json())["code"] == "record.invalid"
    finally:
        process.send_signal(signal.SIGTERM)
        async with asyncio.timeout(30):
            await process.communicate()
    assert process.returncode == 0
