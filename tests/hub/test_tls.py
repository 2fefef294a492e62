"""Transport security: ``hub tls`` certificates, HTTPS contexts, and AMQPS to a TLS-only node.

The ``rabbitmq`` cases start a private TLS-only node (``deploy/dev/rabbitmq.sh
start-tls``) in ``HUB_TEST_TLS_DIR`` on ``HUB_TEST_TLS_PORT`` with certificates made
by :func:`hub.crypto.tls.init_tls`, and stop it afterwards.
"""

from __future__ import annotations

import asyncio
import functools
import json
import os
import secrets
from contextlib import AsyncExitStack
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

import aio_pika
import aiohttp
import pytest
from aiohttp import web
from cryptography import x509
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from services import dev_script
from yarl import URL

from adapters.client import AgencyClient
from hub.broker.amqp import AmqpBroker
from hub.broker.base import BrokerError, BrokerErrorCode
from hub.broker.definitions import DOCUMENT
from hub.broker.testing import BrokerHarness, ingress_message, next_delivery
from hub.cli import main
from hub.crypto.tls import (
    TlsError,
    amqps_url,
    client_files,
    client_ssl_context,
    init_tls,
    server_ssl_context,
)
from hub.embedded import hub_on
from hub.pipeline import process
from schemas.base import new_event_id
from schemas.samples import sample_event

if TYPE_CHECKING:
    import ssl
    from collections.abc import AsyncIterator, Iterator

    from hub.crypto.keys import KeyDirectory, PartyKeyring

ROOT = Path(__file__).resolve().parents[2]
rabbitmq = pytest.mark.rabbitmq


@pytest.fixture(scope="module")
def certs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A CA, a server certificate and police's and probation's client certificates."""
    folder = tmp_path_factory.mktemp("tls")
    init_tls(folder, hosts=["broker.example.org", "10.0.0.7"], agencies=["police", "probation"])
    return folder


@pytest.fixture(scope="module")
def other_ca(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Another CA, with a police client certificate of its own: trusted by nobody here."""
    folder = tmp_path_factory.mktemp("other")
    init_tls(folder, agencies=["police"])
    return folder


def _load(path: Path) -> x509.Certificate:
    return x509.load_pem_x509_certificate(path.read_bytes())


def _eku(certificate: x509.Certificate) -> list[x509.ObjectIdentifier]:
    return list(certificate.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value)


def test_the_ca_may_sign_leaves_only(certs: Path) -> None:
    """The CA is self-signed, CA:TRUE with path length 0, keyCertSign, P-256 ECDSA."""
    ca = _load(certs / "ca.pem")
    ca.verify_directly_issued_by(ca)
    constraints = ca.extensions.get_extension_for_class(x509.BasicConstraints)
    assert constraints.critical
    assert constraints.value.ca
    assert constraints.value.path_length == 0
    usage = ca.extensions.get_extension_for_class(x509.KeyUsage)
    assert usage.critical
    assert usage.value.key_cert_sign
    assert usage.value.crl_sign
    assert ca.signature_algorithm_oid == x509.SignatureAlgorithmOID.ECDSA_WITH_SHA256


def test_the_server_certificate_names_loopback_and_the_given_hosts(certs: Path) -> None:
    """Server: issued by the CA, not a CA, serverAuth, SAN loopback plus --hosts."""
    ca, server = _load(certs / "ca.pem"), _load(certs / "server.pem")
    server.verify_directly_issued_by(ca)
    assert not server.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    usage = server.extensions.get_extension_for_class(x509.KeyUsage).value
    assert usage.digital_signature
    assert not usage.key_cert_sign
    assert _eku(server) == [ExtendedKeyUsageOID.SERVER_AUTH]
    san = server.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert set(san.get_values_for_type(x509.DNSName)) == {"localhost", "broker.example.org"}
    assert {str(ip) for ip in san.get_values_for_type(x509.IPAddress)} == {
        "127.0.0.1",
        "::1",
        "10.0.0.7",
    }
    lifetime = server.not_valid_after_utc - server.not_valid_before_utc
    assert timedelta(days=396) < lifetime < timedelta(days=398)
    assert server.not_valid_before_utc <= datetime.now(UTC)


def test_a_client_certificate_names_its_agency(certs: Path) -> None:
    """Client: issued by the CA, CN = party id, clientAuth only."""
    ca = _load(certs / "ca.pem")
    police = _load(client_files(certs, "police")[0])
    police.verify_directly_issued_by(ca)
    [common_name] = police.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    assert common_name.value == "police"
    assert _eku(police) == [ExtendedKeyUsageOID.CLIENT_AUTH]
    assert not police.extensions.get_extension_for_class(x509.BasicConstraints).value.ca


def test_keys_are_private_and_nothing_is_overwritten(tmp_path: Path) -> None:
    """Key files are mode 0600; a second init refuses tls.exists unless forced."""
    written = init_tls(tmp_path, agencies=["health"])
    keys = [path for path in written if path.suffix == ".key"]
    assert len(keys) == 3
    assert all(path.stat().st_mode & 0o777 == 0o600 for path in keys)
    before = (tmp_path / "ca.key").read_bytes()
    with pytest.raises(TlsError) as refused:
        init_tls(tmp_path)
    assert refused.value.code == "tls.exists"
    assert (tmp_path / "ca.key").read_bytes() == before
    init_tls(tmp_path, force=True)
    assert (tmp_path / "ca.key").read_bytes() != before


def test_bad_hosts_and_parties_are_refused_before_anything_is_written(tmp_path: Path) -> None:
    """A host that is neither a DNS name nor an IP, or a bad party id, writes no file."""
    with pytest.raises(TlsError) as host:
        init_tls(tmp_path, hosts=["bad host!"])
    assert host.value.code == "tls.invalid_host"
    with pytest.raises(TlsError) as party:
        init_tls(tmp_path, agencies=["Not A Party"])
    assert party.value.code == "tls.invalid_party"
    assert list(tmp_path.iterdir()) == []


def test_the_command_line_makes_and_adds_certificates(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """``hub tls init`` then ``hub tls client`` issue from one CA; no key is printed."""
    assert main(["tls", "init", "--out", str(tmp_path), "--hosts", "hub.example.org"]) == 0
    assert main(["tls", "client", "--dir", str(tmp_path), "advocacy"]) == 0
    ca = _load(tmp_path / "ca.pem")
    _load(client_files(tmp_path, "advocacy")[0]).verify_directly_issued_by(ca)
    out = capsys.readouterr().out
    assert "PRIVATE KEY" not in out
    assert main(["tls", "init", "--out", str(tmp_path)]) == 1
    assert "error tls.exists" in capsys.readouterr().err


def test_amqps_url_carries_the_files_aiormq_reads() -> None:
    """The URL becomes amqps:// with cafile, certfile and keyfile; other parameters stay."""
    url = URL(
        amqps_url(
            "amqp://u:p@127.0.0.1:5671/hub?heartbeat=30",
            Path("/c/ca.pem"),
            Path("/c/police.pem"),
            Path("/c/police.key"),
        )
    )
    assert url.scheme == "amqps"
    assert dict(url.query) == {
        "heartbeat": "30",
        "cafile": "/c/ca.pem",
        "certfile": "/c/police.pem",
        "keyfile": "/c/police.key",
    }


async def _hello(_: web.Request) -> web.Response:
    return web.Response(text="hello")


@pytest.fixture
async def https(certs: Path) -> AsyncIterator[str]:
    """An aiohttp site on 127.0.0.1 with :func:`server_ssl_context`; yields its base URL."""
    app = web.Application()
    app.router.add_get("/", _hello)
    runner = web.AppRunner(app)
    await runner.setup()
    context = server_ssl_context(certs / "server.pem", certs / "server.key", certs / "ca.pem")
    site = web.TCPSite(runner, "127.0.0.1", 0, ssl_context=context)
    await site.start()
    port = runner.addresses[0][1]
    try:
        yield f"127.0.0.1:{port}"
    finally:
        await runner.cleanup()


async def _get(url: str, context: ssl.SSLContext | None = None) -> str:
    timeout = aiohttp.ClientTimeout(total=5)
    async with (
        aiohttp.ClientSession(timeout=timeout) as session,
        session.get(url, ssl=context if context is not None else False) as response,
    ):
        return await response.text()


async def test_the_console_context_serves_https(https: str, certs: Path) -> None:
    """A client trusting the CA gets the page, with or without a client certificate."""
    assert await _get(f"https://{https}/", client_ssl_context(certs / "ca.pem")) == "hello"
    police, key = client_files(certs, "police")
    with_cert = client_ssl_context(certs / "ca.pem", police, key)
    assert await _get(f"https://{https}/", with_cert) == "hello"


async def test_plain_http_to_the_console_is_refused(https: str) -> None:
    """Plain HTTP to the HTTPS port gets no page."""
    with pytest.raises(aiohttp.ClientError):
        await _get(f"http://{https}/")


async def test_a_console_certificate_from_another_ca_is_refused(https: str, other_ca: Path) -> None:
    """A client that trusts another CA refuses the console's certificate."""
    with pytest.raises(aiohttp.ClientConnectorCertificateError):
        await _get(f"https://{https}/", client_ssl_context(other_ca / "ca.pem"))


async def test_a_required_client_certificate_is_enforced(certs: Path, other_ca: Path) -> None:
    """With require_client, only a certificate from the CA gets in."""
    app = web.Application()
    app.router.add_get("/", _hello)
    runner = web.AppRunner(app)
    await runner.setup()
    context = server_ssl_context(
        certs / "server.pem", certs / "server.key", certs / "ca.pem", require_client=True
    )
    site = web.TCPSite(runner, "127.0.0.1", 0, ssl_context=context)
    await site.start()
    base = f"https://127.0.0.1:{runner.addresses[0][1]}/"
    try:
        police, key = client_files(certs, "police")
        assert await _get(base, client_ssl_context(certs / "ca.pem", police, key)) == "hello"
        for cert_dir in (None, other_ca):
            files = client_files(cert_dir, "police") if cert_dir else (None, None)
            with pytest.raises(aiohttp.ClientError):
                await _get(base, client_ssl_context(certs / "ca.pem", *files))
    finally:
        await runner.cleanup()


script = functools.partial(dev_script, "rabbitmq.sh")


@dataclass(frozen=True)
class TlsNode:
    """A running TLS-only node: its folder, the certificates, the admin's amqps:// URL."""

    folder: Path
    certs: Path
    admin: str

    def plain(self) -> str:
        """The admin URL over plain AMQP to the same port."""
        return str(URL(self.admin).with_scheme("amqp").with_query(None))

    def as_user(self, user: str, password: str, vhost: str) -> URL:
        """The amqps:// URL of ``user`` in ``vhost``, trusting the CA only."""
        url = URL(self.admin).with_user(user).with_password(password).with_path(f"/{vhost}")
        return URL(amqps_url(str(url), self.certs / "ca.pem"))


def _tls_service() -> tuple[Path, int]:
    folder, port = os.environ.get("HUB_TEST_TLS_DIR", ""), os.environ.get("HUB_TEST_TLS_PORT")
    if not folder or not port:
        reason = "TLS node tests need HUB_TEST_TLS_DIR and HUB_TEST_TLS_PORT (a free port)"
        if os.environ.get("HUB_REQUIRE_SERVICES") == "1":
            pytest.fail(f"HUB_REQUIRE_SERVICES=1 but {reason}")
        pytest.skip(reason)
    return Path(folder), int(port)


@pytest.fixture(scope="module")
def node(certs: Path) -> Iterator[TlsNode]:
    """A TLS-only RabbitMQ with :func:`certs`, started for this module and stopped after."""
    folder, port = _tls_service()
    script("stop", folder)  # a node left running would still hold older certificates
    admin = script("start-tls", folder, port, certs)
    try:
        yield TlsNode(folder, certs, admin)
    finally:
        script("stop", folder)


async def _round_trip(url: str) -> None:
    harness = BrokerHarness("rabbitmq", url=url)
    try:
        broker = await harness.connect()
        await broker.apply(harness.topology())
        await broker.publish(ingress_message(harness.names, user_id=harness.user))
        async with broker.consume(harness.names.ingress_queue, 1) as consumer:
            await (await next_delivery(consumer)).ack()
    finally:
        await harness.cleanup()


@rabbitmq
async def test_amqps_without_a_client_certificate(node: TlsNode) -> None:
    """AmqpBroker over amqps:// (the CA in ?cafile=) publishes and consumes."""
    await _round_trip(amqps_url(node.admin, node.certs / "ca.pem"))


@rabbitmq
async def test_amqps_with_a_client_certificate(node: TlsNode) -> None:
    """The same with police's client certificate, which the broker verifies and accepts."""
    police, key = client_files(node.certs, "police")
    await _round_trip(amqps_url(node.admin, node.certs / "ca.pem", police, key))


@rabbitmq
async def test_plain_amqp_is_refused(node: TlsNode) -> None:
    """Plain AMQP to the TLS port fails, and the node has no plain AMQP listener at all."""
    with pytest.raises(aio_pika.exceptions.AMQPConnectionError):
        await aio_pika.connect(node.plain(), timeout=5)
    status = json.loads(script("ctl", node.folder, "status", "--formatter", "json"))
    protocols = {listener["protocol"] for listener in status["listeners"]}
    assert protocols == {"amqp/ssl", "clustering"}


@rabbitmq
async def test_a_broker_certificate_from_another_ca_is_refused(
    node: TlsNode, other_ca: Path
) -> None:
    """A client trusting another CA will not talk to the broker: broker.unavailable."""
    broker = AmqpBroker(amqps_url(node.admin, other_ca / "ca.pem"), connect_timeout=5)
    with pytest.raises(BrokerError) as refused:
        await broker.connect()
    assert refused.value.code is BrokerErrorCode.UNAVAILABLE
    with pytest.raises(aio_pika.exceptions.AMQPConnectionError) as raw:
        await aio_pika.connect(amqps_url(node.admin, other_ca / "ca.pem"), timeout=5)
    assert "CERTIFICATE_VERIFY_FAILED" in repr(raw.value)


@rabbitmq
async def test_a_client_certificate_from_another_ca_is_refused(
    node: TlsNode, other_ca: Path
) -> None:
    """Client certificates are optional, but one that does not chain to the CA is refused."""
    police, key = client_files(other_ca, "police")
    with pytest.raises(aio_pika.exceptions.AMQPConnectionError):
        await aio_pika.connect(amqps_url(node.admin, node.certs / "ca.pem", police, key), timeout=5)


@rabbitmq
async def test_an_event_crosses_the_committed_definitions_over_tls(
    node: TlsNode,
    tmp_path: Path,
    keyrings: dict[str, PartyKeyring],
    directory: KeyDirectory,
) -> None:
    """deploy/rabbitmq/definitions.json on the TLS node: police to the hub to probation.

    Each party logs in as its own least-privileged user, over amqps:// only.
    """
    vhost = json.loads((ROOT / DOCUMENT).read_text())["vhosts"][0]["name"]
    _delete_vhost(node, vhost)  # nothing left over from an earlier run
    script("import", node.folder, ROOT / DOCUMENT)
    try:
        await _police_to_probation(node, vhost, tmp_path, keyrings, directory)
    finally:
        _delete_vhost(node, vhost)


def _delete_vhost(node: TlsNode, vhost: str) -> None:
    if vhost in script("ctl", node.folder, "list_vhosts").split():
        script("ctl", node.folder, "delete_vhost", vhost)


async def _police_to_probation(
    node: TlsNode,
    vhost: str,
    tmp_path: Path,
    keyrings: dict[str, PartyKeyring],
    directory: KeyDirectory,
) -> None:
    urls = {}
    for party in ("hub", "police", "probation"):
        password = secrets.token_hex(16)
        script("ctl", node.folder, "change_password", party, password)
        urls[party] = str(node.as_user(party, password, vhost))
    event = sample_event("ReferralReceived").model_copy(update={"event_id": new_event_id()})
    async with AsyncExitStack() as stack:
        hub = await hub_on(
            stack, tmp_path, keyrings["hub"], directory, await _open(stack, urls["hub"])
        )
        police = await stack.enter_async_context(
            AgencyClient(
                keyrings["police"], directory, await _open(stack, urls["police"]), tmp_path / "p"
            )
        )
        await police.publish(event)
        async with hub.broker.consume(hub.names.ingress_queue, 1) as ingress:
            assert await process(hub, await next_delivery(ingress)) == "disclosed"
        probation = await stack.enter_async_context(
            AgencyClient(
                keyrings["probation"],
                directory,
                await _open(stack, urls["probation"]),
                tmp_path / "r",
            )
        )
        received = []
        async with asyncio.timeout(10):
            async for delivery in probation.deliveries():
                received.append((delivery.event_id, delivery.sender, delivery.recipient))
                break
    assert received == [(event.event_id, "police", "probation")]


async def _open(stack: AsyncExitStack, url: str) -> AmqpBroker:
    broker = AmqpBroker(url, connect_timeout=5, confirm_timeout=5)
    await stack.enter_async_context(broker)
    return broker
