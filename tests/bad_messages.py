"""The bad-input corpus (issue 5): named bad ingress messages, each with its refusal code.

Each :class:`BadMessage` builds one raw AMQP body (and the broker user that
publishes it) from a :class:`forge.World`, and says which documented code the hub
must refuse it with and which party must be told. The cases run, in order, from
the outside in: bytes, the JWE, the SD-JWT and its JWS, claims, disclosures and
the JSON inside them, the event's schema, and the hub's own checks (sender,
entitlement, replay). ``tests/hub/badinput/test_corpus.py`` sends the whole corpus
through one running hub; ``bench/bad_traffic.py`` interleaves it with good traffic.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING, Final

import forge
from forge import World, b64json, flip, fresh, good, regroup, take_apart, to_hub

from hub.crypto import compact, sdjwt
from hub.crypto.base import MAX_ENVELOPE_CHARS
from hub.crypto.jwe import seal

if TYPE_CHECKING:
    from collections.abc import Callable

    from hub.crypto.keys import KeyRecord

#: The hub's own refusal codes beside the envelope's (docs/envelope.md, "At the hub").
HUB_CODES: Final = frozenset(
    {"sender.mismatch", "sender.not_entitled", "event.replayed", "message.unprocessable"}
)


@dataclass(frozen=True)
class Built:
    """One bad message as published: body, broker user, and good messages sent first."""

    body: bytes
    user: str = "police"
    prelude: tuple[bytes, ...] = ()


@dataclass(frozen=True)
class BadMessage:
    """A named bad message and what the hub must do with it.

    Attributes:
        name: the test id.
        code: the documented refusal code.
        build: makes the message from the world's keys.
        told: the party that must receive a refusal notice (``None``: nobody
            identifiable, e.g. a broker user with no keys).
        own_users: whether the case needs per-agency broker users (a ``user_id``
            other than the signer's), which the memory broker has and the test
            RabbitMQ vhost, with its one user, does not.
    """

    name: str
    code: str
    build: Callable[[World], Built]
    told: str | None = "police"
    own_users: bool = False


CORPUS: list[BadMessage] = []


def bad(
    name: str, code: str, *, told: str | None = "police", own_users: bool = False
) -> Callable[[Callable[[World], Built]], Callable[[World], Built]]:
    """Register a builder in :data:`CORPUS`."""

    def register(build: Callable[[World], Built]) -> Callable[[World], Built]:
        CORPUS.append(BadMessage(name, code, build, told, own_users))
        return build

    return register


def _parts(world: World) -> list[str]:
    return good(world).decode().split(".")


def _dotted(parts: list[str]) -> Built:
    return Built(".".join(parts).encode())


def _header(world: World, **members: object) -> Built:
    """A good envelope whose JWE protected header is replaced by ``members``."""
    parts = _parts(world)
    parts[0] = b64json(members)
    return _dotted(parts)


def _jwe_header(world: World) -> dict[str, object]:
    return forge.json_of(_parts(world)[0])


# --- bytes -------------------------------------------------------------------------------


@bad("empty-body", "envelope.malformed")
def _empty(_: World) -> Built:
    """No bytes at all."""
    return Built(b"")


@bad("not-utf8", "envelope.malformed")
def _not_utf8(world: World) -> Built:
    """Bytes that are not UTF-8 before a good envelope."""
    return Built(b"\xff\xfe" + good(world))


@bad("utf8-bom", "envelope.malformed")
def _bom(world: World) -> Built:
    """A UTF-8 byte-order mark before a good envelope."""
    return Built(b"\xef\xbb\xbf" + good(world))


@bad("non-ascii-utf8", "envelope.malformed")
def _non_ascii(world: World) -> Built:
    """Valid UTF-8 that is not ASCII inside the compact serialization."""
    parts = _parts(world)
    parts[3] = parts[3][:8] + "é" + parts[3][8:]
    return Built(".".join(parts).encode())


@bad("oversized", "payload.too_large")
def _oversized(world: World) -> Built:
    """A good envelope padded past 256 KiB."""
    envelope = good(world)
    return Built(envelope + b"A" * (MAX_ENVELOPE_CHARS + 1 - len(envelope)))


@bad("oversized-sealed", "payload.too_large")
def _oversized_sealed(world: World) -> Built:
    """A properly signed and sealed event with a group larger than the limit allows."""
    event = fresh()
    groups = forge.groups_of(event)
    groups["E"] = groups["E"] | {"concerns": "x" * MAX_ENVELOPE_CHARS}
    return Built(regroup(world, event, groups))


# --- the JWE -----------------------------------------------------------------------------


@bad("truncated", "envelope.malformed")
def _truncated(world: World) -> Built:
    """A good envelope cut in half."""
    envelope = good(world)
    return Built(envelope[: len(envelope) // 2])


@bad("truncated-tag", "envelope.undecryptable")
def _truncated_tag(world: World) -> Built:
    """A good envelope whose authentication tag lost its last bytes."""
    parts = _parts(world)
    parts[4] = parts[4][:-2]
    return _dotted(parts)


@bad("jwe-four-parts", "envelope.malformed")
def _four_parts(world: World) -> Built:
    """A compact JWE with its tag part removed."""
    return _dotted(_parts(world)[:4])


@bad("jwe-six-parts", "envelope.malformed")
def _six_parts(world: World) -> Built:
    """A compact JWE with an extra part."""
    parts = _parts(world)
    return _dotted([*parts, parts[4]])


@bad("base64-standard-alphabet", "envelope.malformed")
def _std_alphabet(world: World) -> Built:
    """A part in the standard base64 alphabet (``+`` and ``/``) instead of base64url."""
    parts = _parts(world)
    parts[3] = parts[3].replace("-", "+").replace("_", "/") + "+/"
    return _dotted(parts)


@bad("base64-padding", "envelope.malformed")
def _padding(world: World) -> Built:
    """A part with ``=`` padding, which compact serialization forbids."""
    parts = _parts(world)
    parts[4] = parts[4] + "=="
    return _dotted(parts)


@bad("base64-non-canonical", "envelope.malformed")
def _non_canonical(world: World) -> Built:
    """A tag whose last character carries stray low bits (two encodings of one value)."""
    parts = _parts(world)
    last = parts[4][-1]
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    parts[4] = parts[4][:-1] + alphabet[alphabet.index(last) ^ 1]
    return _dotted(parts)


@bad("jwe-header-not-json", "envelope.malformed")
def _header_not_json(world: World) -> Built:
    """A protected header that is not JSON."""
    parts = _parts(world)
    parts[0] = compact.b64url_encode(b"alg=ECDH-ES+A256KW")
    return _dotted(parts)


@bad("jwe-header-duplicate-key", "envelope.malformed")
def _header_duplicate(world: World) -> Built:
    """A protected header naming ``alg`` twice: two readers could see two algorithms."""
    parts = _parts(world)
    text = compact.b64url_decode(parts[0]).decode()
    parts[0] = compact.b64url_encode(('{"alg":"dir",' + text[1:]).encode())
    return _dotted(parts)


@bad("jwe-header-deep-nesting", "envelope.malformed")
def _header_deep(world: World) -> Built:
    """A protected header nested 5,000 arrays deep."""
    parts = _parts(world)
    parts[0] = compact.b64url_encode(b"[" * 5000 + b"]" * 5000)
    return _dotted(parts)


@bad("jwe-alg-none", "algorithm.not_allowed")
def _jwe_none(world: World) -> Built:
    """A JWE claiming ``alg: none``."""
    return _header(world, **(_jwe_header(world) | {"alg": "none"}))


@bad("jwe-alg-dir", "algorithm.not_allowed")
def _jwe_dir(world: World) -> Built:
    """A JWE with direct symmetric encryption (``dir``)."""
    return _header(world, **(_jwe_header(world) | {"alg": "dir"}))


@bad("jwe-alg-rsa", "algorithm.not_allowed")
def _jwe_rsa(world: World) -> Built:
    """A JWE with RSA1_5 key transport."""
    return _header(world, **(_jwe_header(world) | {"alg": "RSA1_5"}))


@bad("jwe-enc-cbc", "algorithm.not_allowed")
def _jwe_cbc(world: World) -> Built:
    """A JWE with the right key algorithm but ``A128CBC-HS256`` content encryption."""
    return _header(world, **(_jwe_header(world) | {"enc": "A128CBC-HS256"}))


@bad("jwe-zip", "envelope.malformed")
def _jwe_zip(world: World) -> Built:
    """A JWE asking for DEFLATE (``zip``): decompression bombs are out of the profile."""
    return _header(world, **(_jwe_header(world) | {"zip": "DEF"}))


@bad("jwe-crit", "envelope.malformed")
def _jwe_crit(world: World) -> Built:
    """A JWE with a ``crit`` extension the hub cannot honour."""
    return _header(world, **(_jwe_header(world) | {"crit": ["exp"], "exp": 1}))


@bad("jwe-epk-not-x25519", "envelope.malformed")
def _jwe_epk(world: World) -> Built:
    """An ephemeral key on another curve (invalid-curve attacks)."""
    header = _jwe_header(world)
    return _header(world, **(header | {"epk": {"kty": "EC", "crv": "P-256", "x": "A", "y": "B"}}))


@bad("jwe-cty-notice", "envelope.malformed")
def _jwe_cty(world: World) -> Built:
    """A JWE whose content type is a notice, not an SD-JWT."""
    text = sdjwt.sign_jwt({"typ": "JWT"}, {"iss": "police"}, world.signing_key("police").key)
    return Built(seal(text, world.hub_enc(), cty="JWT").encode())


@bad("jwe-kid-unknown", "envelope.undecryptable")
def _jwe_kid(world: World) -> Built:
    """A JWE naming a key id the hub does not hold."""
    return _header(world, **(_jwe_header(world) | {"kid": "A" * 43}))


@bad("sealed-to-wrong-key", "envelope.undecryptable")
def _wrong_key(world: World) -> Built:
    """A good SD-JWT sealed to health's key instead of the hub's."""
    pieces = take_apart(world)
    text = pieces.sign(world.signing_key("police"))
    return Built(seal(text, world.directory.encryption_key("health", world.now)).encode())


@bad("sealed-to-expired-hub-key", "key.not_valid")
def _expired_hub(world: World) -> Built:
    """A good SD-JWT sealed to an encryption key of the hub that has expired."""
    text = take_apart(world).sign(world.signing_key("police"))
    return Built(seal(text, world.expired_hub_enc.public()).encode())


@bad("bit-flip-jwe-header", "envelope.undecryptable")
def _flip_header(world: World) -> Built:
    """One bit flipped in the ephemeral public key of the protected header."""
    parts = _parts(world)
    text = compact.b64url_decode(parts[0]).decode()
    x = forge.json_of(parts[0])["epk"]["x"]
    parts[0] = compact.b64url_encode(text.replace(x, flip(x, 5)).encode())
    return _dotted(parts)


@bad("bit-flip-jwe-header-json", "envelope.malformed")
def _flip_header_json(world: World) -> Built:
    """One bit flipped in the protected header's opening brace: no longer JSON."""
    parts = _parts(world)
    parts[0] = flip(parts[0], 0, 1)
    return _dotted(parts)


@bad("bit-flip-encrypted-key", "envelope.undecryptable")
def _flip_key(world: World) -> Built:
    """One bit flipped in the wrapped content key."""
    parts = _parts(world)
    parts[1] = flip(parts[1], 7)
    return _dotted(parts)


@bad("bit-flip-iv", "envelope.undecryptable")
def _flip_iv(world: World) -> Built:
    """One bit flipped in the initialization vector."""
    parts = _parts(world)
    parts[2] = flip(parts[2], 3)
    return _dotted(parts)


@bad("bit-flip-ciphertext", "envelope.undecryptable")
def _flip_ciphertext(world: World) -> Built:
    """One bit flipped in the ciphertext."""
    parts = _parts(world)
    parts[3] = flip(parts[3], 100, 4)
    return _dotted(parts)


@bad("bit-flip-tag", "envelope.undecryptable")
def _flip_tag(world: World) -> Built:
    """One bit flipped in the authentication tag."""
    parts = _parts(world)
    parts[4] = flip(parts[4], 15, 7)
    return _dotted(parts)


@bad("parts-swapped", "envelope.undecryptable")
def _swapped(world: World) -> Built:
    """IV and tag of one envelope spliced into another (cut and paste)."""
    parts, other = _parts(world), _parts(world)
    parts[2], parts[4] = other[2], other[4]
    return _dotted(parts)


# --- the SD-JWT and its JWS --------------------------------------------------------------


@bad("not-an-sd-jwt", "envelope.malformed")
def _not_sd_jwt(world: World) -> Built:
    """A sealed plaintext that is a bare JWS with no ``~``."""
    return Built(to_hub(world, take_apart(world).sign(world.signing_key("police")).split("~")[0]))


@bad("issuance-with-key-binding", "envelope.malformed")
def _with_kb(world: World) -> Built:
    """An issuance carrying a Key Binding JWT, as if it were a presentation."""
    kb = sdjwt.sign_jwt({"typ": "kb+jwt"}, {"iat": 1}, world.signing_key("police").key)
    return Built(to_hub(world, take_apart(world).sign(world.signing_key("police"), tail=kb)))


@bad("empty-disclosure", "envelope.malformed")
def _empty_disclosure(world: World) -> Built:
    """An SD-JWT with an empty disclosure (``~~``)."""
    text = take_apart(world).sign(world.signing_key("police"))
    return Built(to_hub(world, text + "~"))


@bad("jws-alg-none", "algorithm.not_allowed")
def _jws_none(world: World) -> Built:
    """An unsigned issuer JWT (``alg: none``, empty signature)."""
    pieces = take_apart(world)
    header = pieces.header | {"alg": "none", "kid": world.signing_key("police").kid}
    token = f"{b64json(header)}.{b64json(pieces.claims)}."
    return Built(to_hub(world, forge.joined(token, list(pieces.disclosures.values()))))


@bad("jws-alg-hs256", "algorithm.not_allowed")
def _jws_hmac(world: World) -> Built:
    """An issuer JWT 'signed' with HS256 over a public key (key confusion)."""
    pieces = take_apart(world)
    header = pieces.header | {"alg": "HS256", "kid": world.signing_key("police").kid}
    token = f"{b64json(header)}.{b64json(pieces.claims)}.{compact.b64url_encode(b'x' * 32)}"
    return Built(to_hub(world, forge.joined(token, list(pieces.disclosures.values()))))


@bad("jws-alg-eddsa-generic", "algorithm.not_allowed")
def _jws_eddsa(world: World) -> Built:
    """An issuer JWT with the polymorphic ``EdDSA`` instead of ``Ed25519`` (RFC 9864)."""
    return _jws_header(world, alg="EdDSA")


def _jws_header(world: World, **members: object) -> Built:
    """A good issuance whose JWS header gets ``members`` after signing."""
    token, *rest = take_apart(world).sign(_police(world)).split("~")
    head, payload, signature = token.split(".")
    head = b64json(forge.json_of(head) | members)
    return Built(to_hub(world, "~".join([f"{head}.{payload}.{signature}", *rest])))


@bad("jws-crit", "envelope.malformed")
def _jws_crit(world: World) -> Built:
    """An issuer JWT with a ``crit`` header naming an extension the hub does not know."""
    return _jws_header(world, crit=["urn:example:x"])


@bad("jws-typ-wrong", "envelope.malformed")
def _jws_typ(world: World) -> Built:
    """An issuer JWT typed as a plain JWT, not ``case-event+sd-jwt``."""
    pieces = take_apart(world)
    pieces = forge.Pieces(pieces.header | {"typ": "JWT"}, pieces.claims, pieces.disclosures)
    return Built(to_hub(world, pieces.sign(world.signing_key("police"))))


@bad("jws-kid-unknown", "sender.unknown")
def _kid_unknown(world: World) -> Built:
    """Signed by a key that claims to be police's but is in no JWK Set."""
    return Built(to_hub(world, take_apart(world).sign(world.stranger.signing_key(world.now))))


@bad("unknown-sender", "sender.unknown", told=None, own_users=True)
def _unknown_sender(world: World) -> Built:
    """A broker user with no keys, sending an event signed by a key nobody published."""
    text = take_apart(world).sign(world.stranger.signing_key(world.now))
    return Built(to_hub(world, text), user="intruder")


@bad("signed-with-expired-key", "key.not_valid")
def _expired(world: World) -> Built:
    """Signed with a police key whose validity ended."""
    return Built(to_hub(world, take_apart(world).sign(world.expired_police.keys[0])))


@bad("signed-with-not-yet-valid-key", "key.not_valid")
def _not_yet(world: World) -> Built:
    """Signed with a police key whose ``nbf`` is tomorrow."""
    return Built(to_hub(world, take_apart(world).sign(world.future_police.keys[0])))


@bad("jws-kid-of-encryption-key", "key.not_valid")
def _enc_kid(world: World) -> Built:
    """An issuer JWT naming police's *encryption* key as its signing key."""
    pieces = take_apart(world)
    signer = world.signing_key("police")
    enc_kid = world.directory.encryption_key("police", world.now).kid
    header = {k: v for k, v in pieces.header.items() if k != "alg"} | {"kid": enc_kid}
    token = forge.sign_raw(header, compact.b64url_decode(b64json(pieces.claims)), signer)
    return Built(to_hub(world, forge.joined(token, list(pieces.disclosures.values()))))


@bad("signed-by-the-hub", "signature.invalid")
def _by_hub(world: World) -> Built:
    """An event 'issued' with the hub's own key: the holder may not forge."""
    pieces = take_apart(world).with_claims(iss="hub")
    return Built(to_hub(world, pieces.sign(world.signing_key("hub"))))


@bad("wrong-author-agency", "signature.invalid")
def _wrong_author(world: World) -> Built:
    """Health's key signing an event whose ``iss`` says police."""
    return Built(to_hub(world, take_apart(world).sign(world.signing_key("health"))))


@bad("unicode-homoglyph-issuer", "signature.invalid")
def _homoglyph(world: World) -> Built:
    """``iss`` spelled with a Cyrillic letter o: looks like police, is not police."""
    pieces = take_apart(world).with_claims(iss="p\u043elice")
    return Built(to_hub(world, pieces.sign(world.signing_key("police"))))


@bad("bit-flip-jws-header", "sender.unknown")
def _flip_jws_header(world: World) -> Built:
    """One bit flipped in the issuer JWT header's ``kid`` (a letter changes case)."""
    token, *rest = take_apart(world).sign(world.signing_key("police")).split("~")
    head, payload, signature = token.split(".")
    text = compact.b64url_decode(head).decode()
    kid = forge.json_of(head)["kid"]
    assert isinstance(kid, str)
    at = next(i for i, c in enumerate(kid) if c.isalpha())
    changed = kid[:at] + kid[at].swapcase() + kid[at + 1 :]
    head = compact.b64url_encode(text.replace(kid, changed).encode())
    return Built(to_hub(world, "~".join([f"{head}.{payload}.{signature}", *rest])))


@bad("bit-flip-jws-payload", "signature.invalid")
def _flip_payload(world: World) -> Built:
    """One bit flipped in the issuer JWT's claims."""
    token, *rest = take_apart(world).sign(world.signing_key("police")).split("~")
    head, payload, signature = token.split(".")
    return Built(to_hub(world, "~".join([f"{head}.{flip(payload, 9, 1)}.{signature}", *rest])))


@bad("bit-flip-jws-signature", "signature.invalid")
def _flip_signature(world: World) -> Built:
    """One bit flipped in the issuer JWT's signature."""
    token, *rest = take_apart(world).sign(world.signing_key("police")).split("~")
    head, payload, signature = token.split(".")
    return Built(to_hub(world, "~".join([f"{head}.{payload}.{flip(signature, 20)}", *rest])))


@bad("bit-flip-disclosure", "disclosure.mismatch")
def _flip_disclosure(world: World) -> Built:
    """One bit flipped in a disclosure: its digest is no longer signed."""
    pieces = take_apart(world)
    disclosures = [*pieces.disclosures.values()]
    disclosures[0] = flip(disclosures[0], 30, 2)
    token = pieces.sign(world.signing_key("police")).split("~")[0]
    return Built(to_hub(world, forge.joined(token, disclosures)))


# --- claims ------------------------------------------------------------------------------


@bad("iat-far-future", "clock.skew")
def _iat_future(world: World) -> Built:
    """Issued an hour from now."""
    pieces = take_apart(world)
    pieces = pieces.with_claims(iat=pieces.claims["iat"] + 3600)
    return Built(to_hub(world, pieces.sign(world.signing_key("police"))))


@bad("iat-out-of-range", "envelope.malformed")
def _iat_range(world: World) -> Built:
    """An ``iat`` of -10^19: a 64-bit-sized integer no calendar holds."""
    pieces = take_apart(world).with_claims(iat=-(10**19))
    return Built(to_hub(world, pieces.sign(world.signing_key("police"))))


@bad("iat-float", "envelope.malformed")
def _iat_float(world: World) -> Built:
    """An ``iat`` written as a huge float."""
    pieces = take_apart(world).with_claims(iat=1e308)
    return Built(to_hub(world, pieces.sign(world.signing_key("police"))))


@bad("claims-huge-integer", "envelope.malformed")
def _claims_huge(world: World) -> Built:
    """Claims holding a 401-digit integer (quadratic to convert)."""
    pieces = take_apart(world)
    text = b64json(pieces.claims)
    raw = compact.b64url_decode(text).replace(
        b'"schema_version":2', b'"schema_version":1' + b"0" * 400
    )
    token = forge.sign_raw(_typ(pieces), raw, world.signing_key("police"))
    return Built(to_hub(world, forge.joined(token, list(pieces.disclosures.values()))))


@bad("claims-duplicate-key", "envelope.malformed")
def _claims_duplicate(world: World) -> Built:
    """Claims naming ``iss`` twice."""
    pieces = take_apart(world)
    raw = b'{"iss":"health",' + compact.b64url_decode(b64json(pieces.claims))[1:]
    token = forge.sign_raw(_typ(pieces), raw, world.signing_key("police"))
    return Built(to_hub(world, forge.joined(token, list(pieces.disclosures.values()))))


@bad("claims-not-an-object", "envelope.malformed")
def _claims_array(world: World) -> Built:
    """Signed claims that are a JSON array."""
    pieces = take_apart(world)
    token = forge.sign_raw(_typ(pieces), b'["police"]', world.signing_key("police"))
    return Built(to_hub(world, forge.joined(token, list(pieces.disclosures.values()))))


@bad("jti-not-a-uuid", "envelope.malformed")
def _jti(world: World) -> Built:
    """An event id that is not a UUID."""
    pieces = take_apart(world).with_claims(jti="0000")
    return Built(to_hub(world, pieces.sign(world.signing_key("police"))))


@bad("schema-version-string", "envelope.malformed")
def _version_string(world: World) -> Built:
    """``schema_version`` as a string."""
    pieces = take_apart(world).with_claims(schema_version="2")
    return Built(to_hub(world, pieces.sign(world.signing_key("police"))))


@bad("sd-alg-missing", "envelope.malformed")
def _no_sd_alg(world: World) -> Built:
    """No ``_sd_alg`` claim."""
    pieces = take_apart(world).without_claim("_sd_alg")
    return Built(to_hub(world, pieces.sign(world.signing_key("police"))))


@bad("sd-alg-sha512", "envelope.malformed")
def _sd_alg(world: World) -> Built:
    """``_sd_alg`` other than sha-256."""
    pieces = take_apart(world).with_claims(_sd_alg="sha-512")
    return Built(to_hub(world, pieces.sign(world.signing_key("police"))))


@bad("sd-seven-digests", "envelope.malformed")
def _sd_short(world: World) -> Built:
    """Seven digests instead of eight: the count would leak which groups exist."""
    pieces = take_apart(world)
    real = {sdjwt.disclosure_digest(d) for d in pieces.disclosures.values()}
    digests = [d for d in pieces.claims["_sd"] if d in real]
    digests += [d for d in pieces.claims["_sd"] if d not in real][1:]
    pieces = pieces.with_claims(_sd=sorted(digests))
    return Built(to_hub(world, pieces.sign(world.signing_key("police"))))


@bad("group-as-plain-claim", "envelope.malformed")
def _plain_group(world: World) -> Built:
    """A victim-location group as a plain, always-visible claim."""
    pieces = take_apart(world).with_claims(G={"address": "x"})
    return Built(to_hub(world, pieces.sign(world.signing_key("police"))))


@bad("cnf-missing", "binding.invalid")
def _no_cnf(world: World) -> Built:
    """No holder key: anyone could present the event onwards."""
    pieces = take_apart(world).without_claim("cnf")
    return Built(to_hub(world, pieces.sign(world.signing_key("police"))))


@bad("cnf-other-holder", "binding.invalid")
def _other_cnf(world: World) -> Built:
    """Bound to police's key instead of the hub's."""
    jwk = sdjwt.public_jwk(world.signing_key("police").key)
    pieces = take_apart(world).with_claims(cnf={"jwk": jwk})
    return Built(to_hub(world, pieces.sign(world.signing_key("police"))))


def _police(world: World) -> KeyRecord:
    return world.signing_key("police")


def _typ(pieces: forge.Pieces) -> dict[str, object]:
    return {k: v for k, v in pieces.header.items() if k not in ("alg", "kid")}


# --- disclosures and the JSON inside them ------------------------------------------------


def _disclosed(world: World, raw: bytes, group: str = "E") -> Built:
    """A good referral whose ``group`` disclosure is replaced by ``raw`` bytes, signed."""
    pieces = take_apart(world).with_disclosure(group, forge.raw_disclosure(raw))
    return Built(to_hub(world, pieces.sign(world.signing_key("police"))))


def _salted(body: str) -> bytes:
    return f'["{forge.salt()}",{body}]'.encode()


@bad("disclosure-not-signed", "disclosure.mismatch")
def _unsigned_disclosure(world: World) -> Built:
    """An extra disclosure whose digest the issuer never signed."""
    extra = sdjwt.encode_disclosure(forge.salt(), "G", {"address": "x"})
    return Built(to_hub(world, take_apart(world).sign(world.signing_key("police"), extra=[extra])))


@bad("disclosure-from-another-event", "disclosure.mismatch")
def _foreign(world: World) -> Built:
    """Group E of another event in place of this event's group E."""
    pieces, other = take_apart(world), take_apart(world)
    token = pieces.sign(world.signing_key("police")).split("~")[0]
    disclosures = pieces.disclosures | {"E": other.disclosures["E"]}
    return Built(to_hub(world, forge.joined(token, list(disclosures.values()))))


@bad("disclosure-repeated", "disclosure.mismatch")
def _repeated(world: World) -> Built:
    """The same disclosure sent twice."""
    pieces = take_apart(world)
    return Built(
        to_hub(world, pieces.sign(world.signing_key("police"), extra=[pieces.disclosures["A"]]))
    )


@bad("disclosure-names-no-group", "disclosure.mismatch")
def _no_group(world: World) -> Built:
    """A signed disclosure named ``Z``."""
    return _disclosed(world, _salted('"Z",{"concerns":"x"}'))


@bad("disclosure-array-element", "disclosure.mismatch")
def _array_element(world: World) -> Built:
    """A two-element (array-element) disclosure, which this profile never uses."""
    return _disclosed(world, _salted('{"concerns":"x"}'))


@bad("disclosure-four-elements", "envelope.malformed")
def _four(world: World) -> Built:
    """A disclosure array of four elements."""
    return _disclosed(world, _salted('"E",{"concerns":"x"},"extra"'))


@bad("disclosure-short-salt", "envelope.malformed")
def _short_salt(world: World) -> Built:
    """A salt of 5 bytes: guessable, so the digest could be brute-forced."""
    return _disclosed(world, b'["c2hvcnQ","E",{"concerns":"x"}]')


@bad("disclosure-value-not-object", "envelope.malformed")
def _not_object(world: World) -> Built:
    """A group whose value is a string."""
    return _disclosed(world, _salted('"E","high"'))


@bad("json-nan", "envelope.malformed")
def _nan(world: World) -> Built:
    """``NaN`` in a group."""
    return _disclosed(world, _salted('"E",{"priority_requested":NaN}'))


@bad("json-infinity", "envelope.malformed")
def _infinity(world: World) -> Built:
    """``-Infinity`` in a group."""
    return _disclosed(world, _salted('"E",{"priority_requested":-Infinity}'))


@bad("json-float-overflow", "envelope.malformed")
def _float_overflow(world: World) -> Built:
    """``1e400``, which a reader rounds to infinity."""
    return _disclosed(world, _salted('"E",{"priority_requested":1e400}'))


@bad("json-integer-10e400", "envelope.malformed")
def _huge_int(world: World) -> Built:
    """A 401-digit integer in a group."""
    return _disclosed(world, _salted('"E",{"priority_requested":1' + "0" * 400 + "}"))


@bad("json-duplicate-key", "envelope.malformed")
def _dup(world: World) -> Built:
    """A group naming one field twice: two readers could see two values."""
    return _disclosed(world, _salted('"E",{"priority_requested":"high","priority_requested":"x"}'))


@bad("json-deep-nesting", "envelope.malformed")
def _deep(world: World) -> Built:
    """A group nested 40 levels deep (the limit is 32)."""
    return _disclosed(world, _salted('"E",{"concerns":' + "[" * 40 + "]" * 40 + "}"))


@bad("json-very-deep-nesting", "envelope.malformed")
def _very_deep(world: World) -> Built:
    """A group nested 50,000 levels deep: past the parser's recursion limit."""
    return _disclosed(world, _salted('"E",{"concerns":' + "[" * 50_000 + "]" * 50_000 + "}"))


@bad("json-lone-surrogate", "envelope.malformed")
def _surrogate(world: World) -> Built:
    """A lone UTF-16 surrogate escape in a string."""
    return _disclosed(world, _salted('"E",{"concerns":"a\\ud800b"}'))


@bad("json-overlong-utf8", "envelope.malformed")
def _overlong(world: World) -> Built:
    """An overlong UTF-8 encoding of ``/`` (``C0 AF``)."""
    return _disclosed(world, _salted('"E",{"concerns":"a') + b"\xc0\xaf" + b'"}]')


@bad("json-bom", "envelope.malformed")
def _json_bom(world: World) -> Built:
    """A byte-order mark before a disclosure's JSON."""
    return _disclosed(world, b"\xef\xbb\xbf" + _salted('"E",{"concerns":"x"}'))


@bad("json-trailing-garbage", "envelope.malformed")
def _trailing(world: World) -> Built:
    """Two JSON values in one disclosure."""
    return _disclosed(world, _salted('"E",{"concerns":"x"}') + b"[]")


# --- the event's schema ------------------------------------------------------------------


@bad("unknown-schema-version", "schema.unknown_version")
def _unknown_version(world: World) -> Built:
    """A referral of schema version 9."""
    event = fresh()
    return Built(regroup(world, event, forge.groups_of(event), schema_version=9))


@bad("unknown-event-type", "schema.unknown_type")
def _unknown_type(world: World) -> Built:
    """An event type nobody catalogued."""
    event = fresh()
    return Built(regroup(world, event, forge.groups_of(event), event_type="PizzaOrdered"))


@bad("unicode-zero-width-event-type", "schema.unknown_type")
def _zero_width(world: World) -> Built:
    """A zero-width space (U+200B) inside the known type name ``ReferralReceived``."""
    event = fresh()
    groups = forge.groups_of(event)
    return Built(regroup(world, event, groups, event_type="Referral\u200bReceived"))


@bad("missing-field", "schema.invalid")
def _missing(world: World) -> Built:
    """A referral whose case group lacks ``case_reference``."""
    event = fresh()
    groups = forge.groups_of(event)
    groups["A"] = {k: v for k, v in groups["A"].items() if k != "case_reference"}
    return Built(regroup(world, event, groups))


@bad("extra-field", "schema.invalid")
def _extra(world: World) -> Built:
    """A referral whose risk group holds a field no schema has."""
    event = fresh()
    groups = forge.groups_of(event)
    groups["E"] = groups["E"] | {"hidden": "x"}
    return Built(regroup(world, event, groups))


@bad("field-in-wrong-group", "schema.invalid")
def _wrong_group(world: World) -> Built:
    """The risk summary moved into the case group, which goes to more recipients."""
    event = fresh()
    groups = forge.groups_of(event)
    groups["A"] = groups["A"] | groups.pop("E")
    return Built(regroup(world, event, groups))


@bad("author-agency-in-a-group", "schema.invalid")
def _author_in_group(world: World) -> Built:
    """``author_agency`` smuggled into a group to contradict the signed ``iss``."""
    event = fresh()
    groups = forge.groups_of(event)
    groups["A"] = groups["A"] | {"author_agency": "health"}
    return Built(regroup(world, event, groups))


@bad("future-date", "schema.invalid")
def _future(world: World) -> Built:
    """An event that occurred a year from now."""
    event = fresh()
    groups = forge.groups_of(event)
    later = (world.now + timedelta(days=365)).strftime("%Y-%m-%dT%H:%M:%SZ")
    groups["A"] = groups["A"] | {"occurred_at": later, "recorded_at": later}
    return Built(regroup(world, event, groups))


@bad("unicode-homoglyph-case-reference", "schema.invalid")
def _homoglyph_case(world: World) -> Built:
    """A case reference with a Cyrillic A: another case that looks the same."""
    event = fresh()
    groups = forge.groups_of(event)
    groups["A"] = groups["A"] | {"case_reference": "M\u0410SIP-2026-000123"}
    return Built(regroup(world, event, groups))


@bad("unicode-rtl-override", "schema.invalid")
def _rtl(world: World) -> Built:
    """A right-to-left override in free text, which makes a reader see other words."""
    event = fresh()
    groups = forge.groups_of(event)
    groups["E"] = groups["E"] | {"concerns": "visits \u202enoitcelloc\u202c at night"}
    return Built(regroup(world, event, groups))


@bad("unicode-control-character", "schema.invalid")
def _control(world: World) -> Built:
    """A NUL and an escape sequence in free text (log and terminal injection)."""
    event = fresh()
    groups = forge.groups_of(event)
    groups["E"] = groups["E"] | {"concerns": "visits\x00\x1b[2J at night"}
    return Built(regroup(world, event, groups))


# --- the hub's own checks ----------------------------------------------------------------


@bad("amqp-user-mismatch", "sender.mismatch", told="advocacy", own_users=True)
def _user_mismatch(world: World) -> Built:
    """A good police event published over advocacy's broker connection."""
    return Built(good(world), user="advocacy")


@bad("sender-not-entitled", "sender.not_entitled", told="health")
def _not_entitled(world: World) -> Built:
    """Health providing a victim safety plan, which no agreement lets it provide."""
    event = fresh("VictimSafetyPlanUpdated", author_agency="health")
    return Built(good(world, event), user="health")


@bad("replay", "event.replayed")
def _replay(world: World) -> Built:
    """A second envelope with an event id already disclosed and other content."""
    event = fresh()
    other = event.model_copy(update={"concerns": "Other concerns under the same event id."})
    return Built(good(world, other), prelude=(good(world, event),))


def by_name() -> dict[str, BadMessage]:
    """The corpus by test id."""
    return {case.name: case for case in CORPUS}
