"""The envelope recipes of ARCHITECTURE section 5: issue, open, present, open a delivery.

publisher: :func:`issue_event` signs the event as an SD-JWT and seals it to the hub.
hub:       :func:`open_ingress` opens and verifies it into an :class:`Issuance`;
           :func:`present` seals a chosen subset of its disclosures to one recipient
           with a Key Binding JWT.
recipient: :func:`open_delivery` opens and verifies everything end to end.

Each step checks everything it can and raises :class:`EnvelopeError` with a stable
code. Nothing here knows about agreements: which groups to present is decided
elsewhere (``hub.policy``), this room only makes the decision cryptographically true.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from hub.crypto import sdjwt
from hub.crypto.base import (
    ISSUANCE_TYP,
    KB_TYP,
    MAX_CLOCK_SKEW_SECONDS,
    SD_ALG,
    EnvelopeError,
    ErrorCode,
)
from hub.crypto.jwe import seal, unseal
from schemas.base import CaseEvent, FieldGroup, split_groups

if TYPE_CHECKING:
    from collections.abc import Collection, Mapping

    from hub.crypto.keys import KeyDirectory, KeyRecord, PartyKeyring

HUB_PARTY = "hub"


@dataclass(frozen=True)
class EventClaims:
    """The plain (always visible) claims of an issued event: routing metadata only."""

    issuer: str
    event_id: uuid.UUID
    event_type: str
    schema_version: int
    issued_at: datetime

    def as_event_fields(self) -> dict[str, Any]:
        """The header fields these claims stand for, in the event's JSON form."""
        return {
            "event_id": str(self.event_id),
            "event_type": self.event_type,
            "schema_version": self.schema_version,
            "author_agency": self.issuer,
        }


@dataclass(frozen=True)
class Issuance:
    """A verified event as the hub holds it after :func:`open_ingress`."""

    claims: EventClaims
    issuer_jwt: str
    disclosures: Mapping[FieldGroup, str]
    groups: Mapping[FieldGroup, Any]

    def event_data(self) -> dict[str, Any]:
        """The whole event as JSON data, for schema validation.

        Raises:
            EnvelopeError: ``envelope.malformed`` when a field appears in two
                groups or repeats a plain claim; merging would hide one value.
        """
        data = self.claims.as_event_fields()
        for value in self.groups.values():
            if not data.keys().isdisjoint(value):
                raise EnvelopeError(ErrorCode.MALFORMED, "a field appears twice in the event")
            data.update(value)
        return data


@dataclass(frozen=True)
class DecisionHeader:
    """What the hub states, authenticated, about one delivery.

    ``obligations`` (an ODRL policy, ADR 0028) travel inside the Key Binding JWT the
    hub signs, not in the JWE header: only the recipient reads them.
    """

    decision_id: uuid.UUID
    agreement_id: str
    agreement_version: int
    recipient: str
    obligations: Mapping[str, Any] | None = None

    def as_header(self) -> dict[str, Any]:
        """The JWE protected header members."""
        return {
            "decision_id": str(self.decision_id),
            "agreement_id": self.agreement_id,
            "agreement_version": self.agreement_version,
            "recipient": self.recipient,
        }


@dataclass(frozen=True)
class Delivery:
    """A verified delivery as a recipient holds it after :func:`open_delivery`."""

    decision: DecisionHeader
    claims: EventClaims
    groups: Mapping[FieldGroup, Any]
    presented_at: datetime


def _now(now: datetime | None) -> datetime:
    return now if now is not None else datetime.now(UTC)


def _epoch(moment: datetime) -> int:
    return int(moment.timestamp())


def issue_groups(
    claims: EventClaims,
    groups: Mapping[str, Any],
    signing_key: KeyRecord,
    holder_key: KeyRecord,
    salt: sdjwt.Salt = sdjwt.random_salt,
) -> str:
    """Sign event claims and field-group values as an SD-JWT (no I/O, no clock).

    Args:
        claims: the plain claims; ``claims.issuer`` must own ``signing_key``.
        groups: group letter -> the JSON value of that group.
        signing_key: the issuer's private Ed25519 key.
        holder_key: the hub's public signing key, named in ``cnf``.
        salt: source of salts; inject a fixed one only to reproduce test vectors.

    Returns:
        ``<issuer-signed JWT>~<disclosure>~...~``
    """
    disclosures = sdjwt.make_disclosures(groups, salt)
    payload = {
        "iss": claims.issuer,
        "iat": _epoch(claims.issued_at),
        "jti": str(claims.event_id),
        "event_type": claims.event_type,
        "schema_version": claims.schema_version,
        "cnf": {"jwk": sdjwt.public_jwk(holder_key.key)},
        "_sd_alg": SD_ALG,
        "_sd": sdjwt.sd_digests(disclosures, salt),
    }
    header = {"typ": ISSUANCE_TYP, "kid": signing_key.kid}
    token = sdjwt.sign_jwt(header, payload, signing_key.key)
    return "~".join([token, *disclosures.values()]) + "~"


def issue_sd_jwt(
    event: CaseEvent,
    signing_key: KeyRecord,
    holder_key: KeyRecord,
    issued_at: datetime,
    salt: sdjwt.Salt = sdjwt.random_salt,
) -> str:
    """Sign ``event`` as an SD-JWT, one disclosure per field group (:func:`issue_groups`)."""
    claims = EventClaims(
        signing_key.party, event.event_id, event.event_type, event.schema_version, issued_at
    )
    groups = {group.value: value for group, value in split_groups(event).items()}
    return issue_groups(claims, groups, signing_key, holder_key, salt)


def issue_event(
    event: CaseEvent,
    keyring: PartyKeyring,
    directory: KeyDirectory,
    *,
    hub: str = HUB_PARTY,
    now: datetime | None = None,
) -> str:
    """Issue ``event`` as the publishing agency and seal it to the hub.

    Returns:
        The compact JWE to publish on ``hub.ingress``.

    Raises:
        EnvelopeError: ``key.not_valid`` when the agency or the hub lacks a valid key.
    """
    at = _now(now)
    hub_sig = _newest(directory, hub, "sig", at)
    text = issue_sd_jwt(event, keyring.signing_key(at), hub_sig, at)
    return seal(text, directory.encryption_key(hub, at))


def _newest(directory: KeyDirectory, party: str, use: str, at: datetime) -> KeyRecord:
    keys = directory.valid_keys(party, "sig" if use == "sig" else "enc", at)
    if not keys:
        raise EnvelopeError(ErrorCode.KEY_NOT_VALID, f"{party} has no valid {use} key now")
    return keys[0]


def _check_iat(value: Any, at: datetime) -> datetime:
    if not isinstance(value, int) or isinstance(value, bool):
        raise EnvelopeError(ErrorCode.MALFORMED, "iat is not an integer")
    if value > _epoch(at) + MAX_CLOCK_SKEW_SECONDS:
        raise EnvelopeError(ErrorCode.CLOCK_SKEW, "iat lies in the future")
    try:
        return datetime.fromtimestamp(value, tz=UTC)
    except (OverflowError, OSError, ValueError):
        raise EnvelopeError(ErrorCode.MALFORMED, "iat is out of range") from None


def _event_claims(claims: Mapping[str, Any], at: datetime) -> EventClaims:
    try:
        event_id = uuid.UUID(claims["jti"])
        event_type, version = claims["event_type"], claims["schema_version"]
    except (KeyError, TypeError, ValueError, AttributeError):
        raise EnvelopeError(ErrorCode.MALFORMED, "jti or event claims missing") from None
    if not isinstance(event_type, str) or not isinstance(version, int) or isinstance(version, bool):
        raise EnvelopeError(ErrorCode.MALFORMED, "event_type or schema_version has wrong type")
    return EventClaims(
        claims["iss"], event_id, event_type, version, _check_iat(claims.get("iat"), at)
    )


def verify_issuer_jwt(
    token: str, directory: KeyDirectory, at: datetime, hub: str = HUB_PARTY
) -> tuple[EventClaims, dict[str, Any]]:
    """Verify the issuer-signed JWT: algorithm, type, key, signature and sender.

    Returns:
        The event claims and all claims.

    Raises:
        EnvelopeError: ``algorithm.not_allowed``, ``envelope.malformed``,
            ``sender.unknown``, ``key.not_valid`` or ``signature.invalid``.
    """
    jwt = sdjwt.read_jwt(token)
    header = jwt.header
    if header.get("typ") != ISSUANCE_TYP or not isinstance(header.get("kid"), str):
        raise EnvelopeError(ErrorCode.MALFORMED, "issuer JWT lacks typ or kid")
    key = directory.verification_key(header["kid"], at)
    if key.party == hub:  # the holder presents; it never issues (P2: withhold, never forge)
        raise EnvelopeError(ErrorCode.SIGNATURE, "the hub's key cannot issue events")
    claims = jwt.verify(key.key)
    if claims.get("iss") != key.party:
        raise EnvelopeError(ErrorCode.SIGNATURE, "iss is not the owner of the signing key")
    return _event_claims(claims, at), claims


def _cnf_key(claims: Mapping[str, Any], directory: KeyDirectory, hub: str, at: datetime) -> Any:
    """The hub's valid signing key that ``cnf`` names, from the directory.

    The ``cnf`` JWK is compared member by member (``x``, with ``kty`` and ``crv``
    fixed) against the hub's valid keys rather than imported and thumbprinted:
    the same key is accepted, and the key used to verify a binding is the
    directory's own, never one built from the message.
    """
    cnf = claims.get("cnf")
    x = sdjwt.public_jwk_x(cnf.get("jwk") if isinstance(cnf, dict) else None)
    for record in directory.valid_keys(hub, "sig", at):
        if record.public_x == x:
            return record.key
    raise EnvelopeError(ErrorCode.BINDING, "cnf names no valid key of the hub")


def open_ingress(
    envelope: str,
    keyring: PartyKeyring,
    directory: KeyDirectory,
    *,
    now: datetime | None = None,
) -> Issuance:
    """Open and verify an event sealed to the hub.

    Args:
        envelope: the compact JWE from ``hub.ingress``.
        keyring: the hub's private keys.
        directory: every party's public keys.
        now: the verification time; the clock if not given.

    Returns:
        The verified issuance, holding every disclosure.

    Raises:
        EnvelopeError: with the code of the first check that fails.
    """
    at = _now(now)
    _, text = unseal(envelope, keyring, at)
    token, disclosures, kb = sdjwt.split_sd_jwt(text)
    if kb is not None:
        raise EnvelopeError(ErrorCode.MALFORMED, "an issuance carries no key binding")
    event_claims, claims = verify_issuer_jwt(token, directory, at, keyring.party)
    _cnf_key(claims, directory, keyring.party, at)
    matched = sdjwt.match_disclosures(claims, disclosures)
    return Issuance(
        claims=event_claims,
        issuer_jwt=token,
        disclosures={FieldGroup(name): text for name, (text, _) in matched.items()},
        groups={FieldGroup(name): value for name, (_, value) in matched.items()},
    )


def build_presentation(
    issuance: Issuance,
    groups: Collection[FieldGroup],
    decision: DecisionHeader,
    hub_key: KeyRecord,
    presented_at: datetime,
) -> str:
    """Build ``<jwt>~<granted disclosures>~<KB-JWT>`` (no I/O, no clock).

    Raises:
        ValueError: a granted group is not in the issuance.
    """
    missing = set(groups) - set(issuance.disclosures)
    if missing:
        raise ValueError(f"groups not in the event: {sorted(missing)}")
    chosen = [issuance.disclosures[g] for g in sorted(groups)]
    prefix = "~".join([issuance.issuer_jwt, *chosen]) + "~"
    kb_claims: dict[str, Any] = {
        "iat": _epoch(presented_at),
        "aud": decision.recipient,
        "nonce": str(decision.decision_id),
        "sd_hash": sdjwt.sd_hash(prefix),
        # ECDH-ES does not authenticate the sealer: the hub signs the agreement too.
        "agreement_id": decision.agreement_id,
        "agreement_version": decision.agreement_version,
    }
    if decision.obligations is not None:
        kb_claims["odrl"] = dict(decision.obligations)
    return prefix + sdjwt.sign_jwt({"typ": KB_TYP}, kb_claims, hub_key.key)


def present(  # noqa: PLR0913 - each argument is one distinct input of the step
    issuance: Issuance,
    groups: Collection[FieldGroup],
    decision: DecisionHeader,
    keyring: PartyKeyring,
    directory: KeyDirectory,
    *,
    now: datetime | None = None,
) -> str:
    """Seal the granted groups of ``issuance`` to ``decision.recipient``.

    Withheld disclosures are not sent at all, not even encrypted (P3).

    Returns:
        The compact JWE for ``agency.<recipient>.inbox``.

    Raises:
        EnvelopeError: ``key.not_valid`` when the hub or the recipient lacks a valid key.
    """
    at = _now(now)
    text = build_presentation(issuance, groups, decision, keyring.signing_key(at), at)
    recipient_key = directory.encryption_key(decision.recipient, at)
    return seal(text, recipient_key, decision.as_header())


def _decision_header(header: Mapping[str, Any], me: str) -> DecisionHeader:
    version = header.get("agreement_version")
    if not isinstance(version, int) or isinstance(version, bool):
        raise EnvelopeError(ErrorCode.BINDING, "delivery header agreement_version is not an int")
    if not all(
        isinstance(header.get(k), str) for k in ("agreement_id", "recipient", "decision_id")
    ):
        raise EnvelopeError(ErrorCode.BINDING, "delivery header members have wrong types")
    try:
        decision = DecisionHeader(
            decision_id=uuid.UUID(header["decision_id"]),
            agreement_id=header["agreement_id"],
            agreement_version=header["agreement_version"],
            recipient=header["recipient"],
        )
    except (KeyError, TypeError, ValueError, AttributeError):
        raise EnvelopeError(ErrorCode.BINDING, "delivery header incomplete") from None
    if decision.recipient != me:
        raise EnvelopeError(ErrorCode.BINDING, "delivery is addressed to another party")
    return decision


def _obligations(value: Any, decision: DecisionHeader) -> Mapping[str, Any] | None:
    """The ODRL policy a Key Binding JWT carries, checked to be about this delivery."""
    if value is None:
        return None
    target = f"urn:uuid:{decision.decision_id}"
    if (
        not isinstance(value, dict)
        or value.get("@type") != "Agreement"
        or value.get("uid") != target
        or value.get("target") != target
        or value.get("assignee") != f"urn:case-event-hub:party:{decision.recipient}"
    ):
        raise EnvelopeError(ErrorCode.BINDING, "key binding obligations are not this delivery's")
    return value


def verify_key_binding(
    kb_jwt: str, prefix: str, holder_key: Any, decision: DecisionHeader, at: datetime
) -> tuple[datetime, Mapping[str, Any] | None]:
    """Verify the hub's Key Binding JWT against the decision it claims to carry.

    Returns:
        The presentation time (``iat``), and the obligations it carries (None from
        a hub that sends none).

    Raises:
        EnvelopeError: ``binding.invalid`` for any mismatch, ``clock.skew`` for a
            future ``iat``.
    """
    jwt = sdjwt.read_jwt(kb_jwt)
    if jwt.header.get("typ") != KB_TYP:
        raise EnvelopeError(ErrorCode.BINDING, "key binding JWT has the wrong typ")
    try:
        claims = jwt.verify(holder_key)
    except EnvelopeError:
        raise EnvelopeError(ErrorCode.BINDING, "key binding signature does not verify") from None
    if claims.get("aud") != decision.recipient:
        raise EnvelopeError(ErrorCode.BINDING, "key binding aud is another party")
    if claims.get("nonce") != str(decision.decision_id):
        raise EnvelopeError(ErrorCode.BINDING, "key binding nonce is another decision")
    if claims.get("sd_hash") != sdjwt.sd_hash(prefix):
        raise EnvelopeError(ErrorCode.BINDING, "key binding sd_hash does not match")
    signed = (claims.get("agreement_id"), claims.get("agreement_version"))
    if signed != (decision.agreement_id, decision.agreement_version):
        raise EnvelopeError(ErrorCode.BINDING, "key binding names another agreement")
    obligations = _obligations(claims.get("odrl"), decision)
    return _check_iat(claims.get("iat"), at), obligations


def open_delivery(
    envelope: str,
    keyring: PartyKeyring,
    directory: KeyDirectory,
    *,
    hub: str = HUB_PARTY,
    now: datetime | None = None,
) -> Delivery:
    """Open and verify a delivery end to end, as its recipient.

    Checks the recipient's own key, the issuer's signature and key, every
    disclosure digest, and the hub's key binding to this recipient and decision.

    Raises:
        EnvelopeError: with the code of the first check that fails.
    """
    at = _now(now)
    header, text = unseal(envelope, keyring, at)
    decision = _decision_header(header, keyring.party)
    token, disclosures, kb = sdjwt.split_sd_jwt(text)
    if kb is None:
        raise EnvelopeError(ErrorCode.BINDING, "delivery carries no key binding")
    event_claims, claims = verify_issuer_jwt(token, directory, at, hub)
    matched = sdjwt.match_disclosures(claims, disclosures)
    holder_key = _cnf_key(claims, directory, hub, at)
    prefix = text[: len(text) - len(kb)]
    presented_at, obligations = verify_key_binding(kb, prefix, holder_key, decision, at)
    return Delivery(
        decision=replace(decision, obligations=obligations),
        claims=event_claims,
        groups={FieldGroup(name): value for name, (_, value) in matched.items()},
        presented_at=presented_at,
    )
