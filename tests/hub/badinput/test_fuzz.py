"""A bounded fuzz of envelope parsing: random and mutated input fails only with a refusal.

``open_ingress``, ``open_delivery`` and ``safejson.loads`` get random bytes and
text, and mutations of good envelopes (bit flips, truncation, part swaps, changes
to a decoded part, edits of the SD-JWT inside). Each must either raise its one
documented error type or, for an SD-JWT edit that changes nothing that is signed
(the order and number of disclosures), return the original content. Derandomized and
with no example database, so CI runs the same examples every time.
"""

from __future__ import annotations

import contextlib
import json
import uuid
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import forge
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hub import safejson
from hub.crypto import compact, sdjwt
from hub.crypto.base import EnvelopeError
from hub.crypto.envelope import DecisionHeader, open_delivery, open_ingress, present
from hub.crypto.jwe import seal, unseal
from schemas.base import FieldGroup

if TYPE_CHECKING:
    from forge import World

    from hub.crypto.envelope import Issuance
    from hub.crypto.keys import PartyKeyring

FUZZ = settings(
    max_examples=150,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)
B64URL = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
#: Characters that matter to the compact serializations, and some that do not belong.
ENVELOPE_CHARS = B64URL + ".~=+/ \n\x00é"


@pytest.fixture(scope="module")
def world(keyrings: dict[str, PartyKeyring]) -> World:
    """The parties' keys."""
    return forge.make_world(keyrings)


@pytest.fixture(scope="module")
def envelope(world: World) -> str:
    """A good ingress envelope."""
    return forge.good(world).decode()


@pytest.fixture(scope="module")
def delivery(world: World, envelope: str) -> str:
    """A good delivery of groups A and B to health."""
    issuance = _open(world, envelope)
    decision = DecisionHeader(uuid.uuid4(), "masip-exampleshire", 1, "health")
    groups = {FieldGroup.A, FieldGroup.B}
    return present(issuance, groups, decision, world.keyrings["hub"], world.directory)


def _open(world: World, text: str) -> Issuance:
    return open_ingress(text, world.keyrings["hub"], world.directory)


def _refused(world: World, text: str) -> None:
    with pytest.raises(EnvelopeError):
        _open(world, text)


@FUZZ
@given(data=st.binary(max_size=2048))
def test_safejson_refuses_random_bytes_with_its_error(data: bytes) -> None:
    """Random bytes parse or raise UnsafeJSONError, nothing else."""
    with contextlib.suppress(safejson.UnsafeJSONError):
        safejson.loads(data)


JSONISH = st.text(alphabet='{}[]":,0123456789.eE+-tfrunalsNI \\ud800x', max_size=400)


@FUZZ
@given(text=JSONISH)
def test_safejson_refuses_random_json_like_text_with_its_error(text: str) -> None:
    """Text made of JSON's own characters parses or raises UnsafeJSONError, nothing else."""
    with contextlib.suppress(safejson.UnsafeJSONError):
        safejson.loads(text)


@FUZZ
@given(text=st.text(alphabet=ENVELOPE_CHARS, max_size=600))
def test_random_text_is_refused(world: World, text: str) -> None:
    """Random text over the serialization's alphabet is refused with an EnvelopeError."""
    _refused(world, text)


@FUZZ
@given(parts=st.lists(st.text(alphabet=B64URL, max_size=80), min_size=5, max_size=5))
def test_random_five_part_envelopes_are_refused(world: World, parts: list[str]) -> None:
    """Five random base64url parts (a JWE's shape) are refused with an EnvelopeError."""
    _refused(world, ".".join(parts))


@FUZZ
@given(data=st.data())
def test_mutated_envelopes_are_refused(world: World, envelope: str, data: st.DataObject) -> None:
    """Any change to a good envelope's characters, length or parts is refused."""
    mutated = data.draw(_mutations(envelope), label="mutated")
    if mutated != envelope:
        _refused(world, mutated)


@FUZZ
@given(data=st.data())
def test_mutated_deliveries_are_refused(world: World, delivery: str, data: st.DataObject) -> None:
    """Any change to a good delivery is refused by its recipient."""
    mutated = data.draw(_mutations(delivery), label="mutated")
    if mutated != delivery:
        with pytest.raises(EnvelopeError):
            open_delivery(mutated, world.keyrings["health"], world.directory)


@FUZZ
@given(data=st.data())
def test_edited_sd_jwts_are_refused_or_unchanged(
    world: World, envelope: str, data: st.DataObject
) -> None:
    """An SD-JWT edited inside a fresh seal is refused, or opens to the original's content.

    Leaving disclosures out or reordering them is allowed at this layer (the schema
    check refuses an incomplete event); changing what they say is not.
    """
    at = datetime.now(UTC)
    _, text = unseal(envelope, world.keyrings["hub"], at)
    edited = data.draw(_sd_jwt_edits(text), label="edited")
    try:
        opened = _open(world, seal(edited, world.hub_enc()))
    except EnvelopeError:
        return
    original = _open(world, envelope)
    assert opened.claims == original.claims
    assert all(original.groups[g] == value for g, value in opened.groups.items())


JSON = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**64), 2**64)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=12),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)


@st.composite
def _members(draw: st.DrawFn, real: dict[str, Any]) -> Any:
    """A JSON value, or ``real`` with members removed, replaced or added at random."""
    if draw(st.integers(0, 4)) == 0:
        return draw(JSON)
    names = sorted(real)
    changed = {k: v for k, v in real.items() if k not in draw(st.sets(st.sampled_from(names)))}
    for name in draw(st.lists(st.sampled_from(names) | st.text(max_size=6), max_size=3)):
        changed[name] = draw(JSON)
    return changed


@FUZZ
@given(data=st.data())
def test_random_jwe_headers_are_refused(world: World, envelope: str, data: st.DataObject) -> None:
    """A good envelope under any other protected header is refused with an EnvelopeError."""
    parts = envelope.split(".")
    header = data.draw(_members(forge.json_of(parts[0])), label="header")
    if forge.b64json(header) != parts[0]:
        _refused(world, ".".join([forge.b64json(header), *parts[1:]]))


@FUZZ
@given(data=st.data())
def test_random_signed_claims_open_or_are_refused(world: World, data: st.DataObject) -> None:
    """Claims changed at random and signed by police open, or raise only an EnvelopeError."""
    pieces = forge.take_apart(world)
    claims = data.draw(_members(pieces.claims), label="claims")
    token = forge.sign_raw(
        {"typ": "case-event+sd-jwt"}, json.dumps(claims).encode(), world.signing_key("police")
    )
    with contextlib.suppress(EnvelopeError):
        _open(
            world, forge.to_hub(world, forge.joined(token, [*pieces.disclosures.values()])).decode()
        )


@FUZZ
@given(data=st.data())
def test_random_signed_disclosures_open_or_are_refused(world: World, data: st.DataObject) -> None:
    """A disclosure of any JSON, its digest signed, opens or raises only an EnvelopeError."""
    value = data.draw(
        JSON
        | st.tuples(st.just(forge.salt()), st.sampled_from("ABEGZ"), JSON).map(list)
        | st.lists(JSON, max_size=4),
        label="disclosure",
    )
    disclosure = forge.raw_disclosure(json.dumps(value).encode())
    pieces = forge.take_apart(world).with_disclosure("E", disclosure)
    with contextlib.suppress(EnvelopeError):
        _open(world, forge.to_hub(world, pieces.sign(world.signing_key("police"))).decode())


def _mutations(text: str) -> st.SearchStrategy[str]:
    return st.one_of(
        _char_flip(text),
        st.integers(0, len(text) - 1).map(lambda n: text[:n]),
        st.permutations(text.split(".")).map(".".join),
        _part_bit_flip(text),
        _insertion(text),
    )


@st.composite
def _char_flip(draw: st.DrawFn, text: str) -> str:
    at = draw(st.integers(0, len(text) - 1))
    bit = draw(st.integers(0, 6))
    return text[:at] + chr(ord(text[at]) ^ (1 << bit)) + text[at + 1 :]


@st.composite
def _part_bit_flip(draw: st.DrawFn, text: str) -> str:
    parts = text.split(".")
    index = draw(st.integers(0, len(parts) - 1))
    data = compact.b64url_decode(parts[index])
    if data:
        parts[index] = forge.flip(
            parts[index], draw(st.integers(0, len(data) - 1)), draw(st.integers(0, 7))
        )
    return ".".join(parts)


@st.composite
def _insertion(draw: st.DrawFn, text: str) -> str:
    at = draw(st.integers(0, len(text)))
    return text[:at] + draw(st.text(alphabet=ENVELOPE_CHARS, min_size=1, max_size=4)) + text[at:]


@st.composite
def _sd_jwt_edits(draw: st.DrawFn, text: str) -> str:
    token, disclosures, _ = sdjwt.split_sd_jwt(text)
    kind = draw(st.sampled_from(["order", "drop", "duplicate", "flip", "truncate", "splice"]))
    if kind == "order":
        return forge.joined(token, draw(st.permutations(disclosures)))
    if kind == "drop":
        return forge.joined(token, draw(st.lists(st.sampled_from(disclosures), unique=True)))
    if kind == "duplicate":
        return forge.joined(token, [*disclosures, draw(st.sampled_from(disclosures))])
    if kind == "flip":
        return draw(_char_flip(text))
    if kind == "truncate":
        return text[: draw(st.integers(0, len(text) - 1))]
    head, payload, _signature = token.split(".")
    return forge.joined(
        f"{head}.{payload}.{draw(st.text(alphabet=B64URL, max_size=90))}", disclosures
    )
