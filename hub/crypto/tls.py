"""Transport security: a private CA, certificates for the broker, the console and agencies.

``hub tls init --out DIR`` makes a private certificate authority and a server
certificate that RabbitMQ (AMQPS on 5671, its management console over HTTPS) and the
hub's console present; ``--agencies`` adds a client certificate per agency (its
common name is the party id). ``hub tls client --dir DIR AGENCY...`` issues more
client certificates from the same CA later. Files in DIR::

    ca.pem  ca.key                       the CA (keep ca.key offline once issued)
    server.pem  server.key               broker and console; SAN localhost, 127.0.0.1, ::1
    clients/<agency>.pem  <agency>.key   optional client certificates

Keys are ECDSA P-256 (every TLS stack the hub meets, Erlang's included, supports
it), written mode 0600 in the traditional ``EC PRIVATE KEY`` PEM form, which Erlang's
``ssl`` and Python's ``ssl`` both read. Nothing is overwritten without ``--force``.

:func:`server_ssl_context` and :func:`client_ssl_context` build the ``ssl``
contexts for aiohttp (the console) and aio-pika; :func:`amqps_url` adds the same
files to an ``amqps://`` URL, whose ``cafile``, ``certfile`` and ``keyfile`` query
parameters aiormq reads. The reasons are in docs/security/transport.md.

It lives in ``hub/crypto/`` with everything else that imports ``cryptography``,
though it secures the transport, not the messages: none of its keys signs or opens
an envelope.
"""

from __future__ import annotations

import ipaddress
import os
import re
import ssl
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Final

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from yarl import URL

from hub.errors import HubError
from schemas.parties import PARTY_ID

if TYPE_CHECKING:
    from collections.abc import Iterable, Sequence
    from pathlib import Path

#: Days a CA is valid: long enough to outlive several rounds of leaf certificates.
CA_DAYS: Final = 5 * 365
#: Days a leaf is valid by default: the CA/Browser Forum's limit, a habit worth keeping.
LEAF_DAYS: Final = 397
#: Names every server certificate carries, so the dev node and tests on loopback verify.
LOOPBACK_HOSTS: Final = ("localhost", "127.0.0.1", "::1")
_DNS_NAME: Final = re.compile(
    r"^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)*[a-z0-9-]{1,63}$"
)
_BACKDATE: Final = timedelta(minutes=5)  # tolerate a little clock skew between machines


class TlsError(HubError):
    """A certificate could not be made or read; ``code`` is stable."""


@dataclass(frozen=True)
class Issued:
    """A certificate and its private key."""

    certificate: x509.Certificate
    key: ec.EllipticCurvePrivateKey


def _name(common_name: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "case-event-hub"),
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
        ]
    )


def _key_usage(*, sign_certificates: bool) -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=True,
        content_commitment=False,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=sign_certificates,
        crl_sign=sign_certificates,
        encipher_only=False,
        decipher_only=False,
    )


def _builder(
    subject: x509.Name, key: ec.EllipticCurvePrivateKey, days: int
) -> x509.CertificateBuilder:
    now = datetime.now(UTC)
    return (
        x509.CertificateBuilder()
        .subject_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - _BACKDATE)
        .not_valid_after(now + timedelta(days=days))
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
    )


def make_ca(name: str = "case-event-hub private CA", days: int = CA_DAYS) -> Issued:
    """Return a self-signed CA that may sign leaf certificates only (path length 0)."""
    key = ec.generate_private_key(ec.SECP256R1())
    subject = _name(name)
    certificate = (
        _builder(subject, key, days)
        .issuer_name(subject)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(_key_usage(sign_certificates=True), critical=True)
        .sign(key, hashes.SHA256())
    )
    return Issued(certificate, key)


def _leaf(
    ca: Issued,
    common_name: str,
    usage: x509.ObjectIdentifier,
    days: int,
    names: Sequence[x509.GeneralName] = (),
) -> Issued:
    key = ec.generate_private_key(ec.SECP256R1())
    ca_ski = ca.certificate.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
    builder = (
        _builder(_name(common_name), key, days)
        .issuer_name(ca.certificate.subject)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(_key_usage(sign_certificates=False), critical=True)
        .add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ca_ski), critical=False
        )
    )
    if names:
        builder = builder.add_extension(x509.SubjectAlternativeName(names), critical=False)
    return Issued(builder.sign(ca.key, hashes.SHA256()), key)


def _general_name(host: str) -> x509.GeneralName:
    try:
        return x509.IPAddress(ipaddress.ip_address(host))
    except ValueError:
        pass
    if not _DNS_NAME.match(host):
        raise TlsError("tls.invalid_host", "hosts are DNS names (lower case) or IP addresses")
    return x509.DNSName(host)


def issue_server(ca: Issued, hosts: Iterable[str] = (), days: int = LEAF_DAYS) -> Issued:
    """Return a server certificate for the loopback names and ``hosts``.

    Raises:
        TlsError: ``tls.invalid_host``.
    """
    every = list(dict.fromkeys([*LOOPBACK_HOSTS, *hosts]))
    names = [_general_name(host) for host in every]
    common_name = next((h for h in every if h not in LOOPBACK_HOSTS), "localhost")
    return _leaf(ca, common_name, ExtendedKeyUsageOID.SERVER_AUTH, days, names)


def issue_client(ca: Issued, agency: str, days: int = LEAF_DAYS) -> Issued:
    """Return a client certificate whose common name is the party id ``agency``.

    Raises:
        TlsError: ``tls.invalid_party``.
    """
    if not PARTY_ID.match(agency):
        raise TlsError("tls.invalid_party", "not a party id")
    return _leaf(ca, agency, ExtendedKeyUsageOID.CLIENT_AUTH, days)


def _certificate_pem(certificate: x509.Certificate) -> bytes:
    return certificate.public_bytes(serialization.Encoding.PEM)


def _key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption(),
    )


def _write(path: Path, data: bytes, mode: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    with os.fdopen(descriptor, "wb") as handle:
        os.fchmod(handle.fileno(), mode)  # an existing file keeps its mode otherwise
        handle.write(data)


def _refuse_existing(paths: Iterable[Path], *, force: bool) -> None:
    existing = [path.name for path in paths if path.exists()]
    if existing and not force:
        raise TlsError("tls.exists", f"{', '.join(existing)} exist; use --force to replace")


def _save(out: Path, stem: str, issued: Issued) -> tuple[Path, Path]:
    certificate, key = out / f"{stem}.pem", out / f"{stem}.key"
    _write(key, _key_pem(issued.key), 0o600)
    _write(certificate, _certificate_pem(issued.certificate), 0o644)
    return certificate, key


def client_files(out: Path, agency: str) -> tuple[Path, Path]:
    """Return where ``agency``'s client certificate and key are under ``out``."""
    return out / "clients" / f"{agency}.pem", out / "clients" / f"{agency}.key"


def init_tls(
    out: Path,
    hosts: Iterable[str] = (),
    agencies: Iterable[str] = (),
    *,
    days: int = LEAF_DAYS,
    force: bool = False,
) -> list[Path]:
    """Write a new CA, a server certificate and client certificates to ``out``.

    Returns:
        The files written, certificates and keys (keys mode 0600).

    Raises:
        TlsError: ``tls.exists`` (without ``force``), ``tls.invalid_host`` or
            ``tls.invalid_party``.
    """
    parties = list(dict.fromkeys(agencies))
    targets = [out / "ca.pem", out / "ca.key", out / "server.pem", out / "server.key"]
    targets += [path for party in parties for path in client_files(out, party)]
    _refuse_existing(targets, force=force)
    ca = make_ca()
    server = issue_server(ca, hosts, days)
    clients = {party: issue_client(ca, party, days) for party in parties}
    written = [*_save(out, "ca", ca), *_save(out, "server", server)]
    for party, issued in clients.items():
        written += _save(out / "clients", party, issued)
    return written


def load_ca(folder: Path) -> Issued:
    """Read ``ca.pem`` and ``ca.key`` from ``folder``.

    Raises:
        TlsError: ``tls.unreadable``: missing, unreadable or not a P-256 CA.
    """
    try:
        certificate = x509.load_pem_x509_certificate((folder / "ca.pem").read_bytes())
        key = serialization.load_pem_private_key((folder / "ca.key").read_bytes(), None)
    except (OSError, ValueError) as error:
        raise TlsError(
            "tls.unreadable", f"ca.pem/ca.key in {folder}: {type(error).__name__}"
        ) from None
    if not isinstance(key, ec.EllipticCurvePrivateKey):
        raise TlsError("tls.unreadable", "ca.key is not an EC key")
    return Issued(certificate, key)


def issue_clients(
    folder: Path, agencies: Iterable[str], *, days: int = LEAF_DAYS, force: bool = False
) -> list[Path]:
    """Issue client certificates for ``agencies`` from the CA in ``folder``.

    Raises:
        TlsError: ``tls.unreadable``, ``tls.exists`` or ``tls.invalid_party``.
    """
    parties = list(dict.fromkeys(agencies))
    _refuse_existing([p for party in parties for p in client_files(folder, party)], force=force)
    ca = load_ca(folder)
    written: list[Path] = []
    for party in parties:
        written += _save(folder / "clients", party, issue_client(ca, party, days))
    return written


def server_ssl_context(
    certificate: Path, key: Path, ca: Path | None = None, *, require_client: bool = False
) -> ssl.SSLContext:
    """Return a TLS 1.2+ server context, for the console's aiohttp site.

    Args:
        certificate: the server certificate (PEM).
        key: its private key (PEM).
        ca: the CA that client certificates must chain to; ``None`` asks for none.
        require_client: refuse clients without a certificate (needs ``ca``).
    """
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.load_cert_chain(certificate, key)
    if ca is not None:
        context.load_verify_locations(cafile=ca)
        context.verify_mode = ssl.CERT_REQUIRED if require_client else ssl.CERT_OPTIONAL
    elif require_client:
        raise ValueError("require_client needs the CA of the client certificates")
    return context


def client_ssl_context(
    ca: Path, certificate: Path | None = None, key: Path | None = None
) -> ssl.SSLContext:
    """Return a TLS 1.2+ client context that trusts ``ca`` only and checks the host name.

    Args:
        ca: the private CA (PEM); the system's CAs are not trusted.
        certificate: a client certificate to present, or ``None``.
        key: its private key.
    """
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)  # verifies peer and host name
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.load_verify_locations(cafile=ca)
    if certificate is not None:
        context.load_cert_chain(certificate, key)
    return context


def amqps_url(url: str, ca: Path, certificate: Path | None = None, key: Path | None = None) -> str:
    """Return ``url`` as ``amqps://`` with aiormq's ``cafile``/``certfile``/``keyfile``.

    aiormq verifies the server against ``cafile`` and the URL's host name; the URL
    may then go to :class:`~hub.broker.amqp.AmqpBroker` or the ``HUB_BROKER_URL``
    setting unchanged.
    """
    query: dict[str, str] = {**URL(url).query, "cafile": str(ca)}
    if certificate is not None:
        query["certfile"] = str(certificate)
        query["keyfile"] = str(key or certificate)
    return str(URL(url).with_scheme("amqps").with_query(query))
