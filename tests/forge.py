"""Forging envelopes for tests: take a good one apart, change one thing, sign and seal it again.

The bad-input corpus (``tests/bad_messages.py``), its fuzz tests and
``bench/bad_traffic.py`` build their messages from these pieces. Everything here
makes *wrong* input on purpose, with real keys, so that each check of the hub is
reached on its own: a JWS re-signed after a change fails only the check that the
change was meant to hit.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from joserfc import jws

from hub.crypto import compact, sdjwt
from hub.crypto.envelope import (
    EventClaims,
    issue_event,
    issue_groups,
    issue_sd_jwt,
    open_ingress,
)
from hub.crypto.jwe import seal
from hub.crypto.keys import KeyDirectory, KeyRecord, PartyKeyring, generate_party_keys
from schemas.base import new_event_id, split_groups
from schemas.samples import sample_event

if TYPE_CHECKING:
    from collections.abc import Mapping

    from schemas.base import CaseEvent

#: Agencies of the default deployment, each with its own broker user.
AGENCIES = ("police", "probation", "health", "advocacy")


@dataclass(frozen=True)
class World:
    """Every party's keys, and the keys made to be refused.

    Attributes:
        keyrings: one per party; the hub's also holds ``expired_hub_enc``.
        directory: public keys of every party plus the expired and not-yet-valid
            police keys (so they are known, only not valid).
        expired_police: police keys whose validity ended weeks ago.
        future_police: police keys valid only from tomorrow.
        stranger: keys that claim to be police's but are in no JWK Set.
        expired_hub_enc: an expired encryption key the hub still holds.
    """

    keyrings: Mapping[str, PartyKeyring]
    directory: KeyDirectory
    expired_police: PartyKeyring
    future_police: PartyKeyring
    stranger: PartyKeyring
    expired_hub_enc: KeyRecord

    @property
    def now(self) -> datetime:
        """The time messages are issued at: the clock, as the hub checks it."""
        return datetime.now(UTC)

    def signing_key(self, party: str) -> KeyRecord:
        """The current signing key of ``party``."""
        return self.keyrings[party].signing_key(self.now)

    def hub_sig(self) -> KeyRecord:
        """The hub's current public signing key, named in ``cnf``."""
        return self.directory.valid_keys("hub", "sig", self.now)[0]

    def hub_enc(self) -> KeyRecord:
        """The hub's current public encryption key."""
        return self.directory.encryption_key("hub", self.now)


def make_world(keyrings: Mapping[str, PartyKeyring]) -> World:
    """Build a :class:`World` around the session's keyrings."""
    now = datetime.now(UTC)
    expired = generate_party_keys("police", now - timedelta(days=30), timedelta(days=10))
    future = generate_party_keys("police", now + timedelta(days=1))
    stranger = generate_party_keys("police", now - timedelta(days=1))
    old_hub = generate_party_keys("hub", now - timedelta(days=30), timedelta(days=10))
    old_enc = next(r for r in old_hub.keys if r.use == "enc")
    rings = dict(keyrings)
    rings["hub"] = PartyKeyring("hub", (*keyrings["hub"].keys, old_enc))
    directory = KeyDirectory.of(*keyrings.values(), expired, future)
    return World(rings, directory, expired, future, stranger, old_enc)


def fresh(event_type: str = "ReferralReceived", **update: Any) -> CaseEvent:
    """A sample event of ``event_type`` with a new event id and ``update`` applied."""
    return sample_event(event_type).model_copy(update={"event_id": new_event_id(), **update})


def good(world: World, event: CaseEvent | None = None) -> bytes:
    """A good envelope of ``event`` (a fresh referral) from its author agency."""
    event = event or fresh()
    return issue_event(event, world.keyrings[event.author_agency], world.directory).encode()


def event_id_of(world: World, body: bytes) -> str:
    """The event id of a good envelope, as the hub opens it."""
    issuance = open_ingress(body.decode(), world.keyrings["hub"], world.directory)
    return str(issuance.claims.event_id)


def to_hub(world: World, text: str) -> bytes:
    """Seal an SD-JWT text to the hub's current key."""
    return seal(text, world.hub_enc()).encode()


def b64json(value: Any) -> str:
    """base64url of compact JSON."""
    return compact.b64url_encode(json.dumps(value, separators=(",", ":")).encode())


def json_of(part: str) -> dict[str, Any]:
    """The JSON object in a base64url part."""
    value = json.loads(compact.b64url_decode(part))
    assert isinstance(value, dict)
    return value


def flip(part: str, index: int, bit: int = 0) -> str:
    """Flip one bit of the decoded bytes of a base64url part; re-encode canonically."""
    data = bytearray(compact.b64url_decode(part))
    data[index % len(data)] ^= 1 << bit
    return compact.b64url_encode(bytes(data))


@dataclass(frozen=True)
class Pieces:
    """A good issuance taken apart: JWS header, claims and disclosures by group."""

    header: dict[str, Any]
    claims: dict[str, Any]
    disclosures: dict[str, str]

    def with_claims(self, **claims: Any) -> Pieces:
        """The same pieces with some claims replaced."""
        return replace(self, claims=self.claims | claims)

    def without_claim(self, name: str) -> Pieces:
        """The same pieces with one claim left out."""
        return replace(self, claims={k: v for k, v in self.claims.items() if k != name})

    def with_disclosure(self, group: str, disclosure: str) -> Pieces:
        """Replace (or add) ``group``'s disclosure and its signed digest, keeping 8 digests."""
        old = self.disclosures.get(group)
        digests = list(self.claims["_sd"])
        real = {sdjwt.disclosure_digest(d) for d in self.disclosures.values()}
        gone = sdjwt.disclosure_digest(old) if old else next(d for d in digests if d not in real)
        digests[digests.index(gone)] = sdjwt.disclosure_digest(disclosure)
        return Pieces(
            self.header,
            self.claims | {"_sd": sorted(digests)},
            self.disclosures | {group: disclosure},
        )

    def sign(self, key: KeyRecord, *, tail: str = "", extra: list[str] | None = None) -> str:
        """Sign the claims with ``key`` (its kid in the header) into an SD-JWT text."""
        header = {k: v for k, v in self.header.items() if k != "alg"} | {"kid": key.kid}
        token = sdjwt.sign_jwt(header, self.claims, key.key)
        return joined(token, [*self.disclosures.values(), *(extra or [])], tail)


def joined(token: str, disclosures: list[str], tail: str = "") -> str:
    """``<jws>~<d1>~...~<dn>~<tail>``."""
    return "~".join([token, *disclosures]) + "~" + tail


def take_apart(world: World, event: CaseEvent | None = None) -> Pieces:
    """Issue ``event`` (a fresh referral) as its author and take the SD-JWT apart."""
    event = event or fresh()
    signer = world.signing_key(event.author_agency)
    text = issue_sd_jwt(event, signer, world.hub_sig(), world.now)
    token, disclosures, _ = sdjwt.split_sd_jwt(text)
    header = json.loads(compact.b64url_decode(token.split(".")[0]))
    claims = sdjwt.verify_jwt(token, signer.key)
    by_group = {sdjwt.decode_disclosure(d)[1] or "": d for d in disclosures}
    return Pieces(header, claims, by_group)


def sign_raw(header: Mapping[str, Any], payload: bytes, key: KeyRecord) -> str:
    """Sign arbitrary payload bytes (not necessarily JSON) as an Ed25519 compact JWS."""
    protected = {"alg": "Ed25519", "kid": key.kid, **header}
    return jws.serialize_compact(protected, payload, key.key, algorithms=["Ed25519"])


def raw_disclosure(text: bytes) -> str:
    """A disclosure of arbitrary bytes (JSON or not)."""
    return compact.b64url_encode(text)


def salt() -> str:
    """A fresh 16-byte salt."""
    return sdjwt.random_salt()


def regroup(
    world: World,
    event: CaseEvent,
    groups: Mapping[str, Any],
    **claims: Any,
) -> bytes:
    """Issue ``groups`` under ``event``'s claims (``claims`` replacing some) and seal."""
    base = EventClaims(
        event.author_agency, event.event_id, event.event_type, event.schema_version, world.now
    )
    text = issue_groups(
        replace(base, **claims), groups, world.signing_key(base.issuer), world.hub_sig()
    )
    return to_hub(world, text)


def groups_of(event: CaseEvent) -> dict[str, Any]:
    """An event's group values by letter, as JSON data."""
    return {g.value: value for g, value in split_groups(event).items()}


def new_id() -> str:
    """A random UUID as text."""
    return str(uuid.uuid4())
