"""The hub as it was before a lever, for the benchmark's A/B runs in one invocation.

Each variant is a context manager that puts one earlier way back for as long as it
is entered, in the process that enters it (the hub's child and the load process
each enter the run's variant):

- ``joserfc``: :func:`joserfc_envelope` swaps :mod:`hub.crypto.compact`'s four
  operations for joserfc's own, with the same wire format and registry, as before
  ADR 0031. ``make bench-envelope`` times both engines too.
- ``reread``: :func:`reread` makes the ledger read back every decision a receipt
  names, as before it answered those it had just committed itself.
- ``no-wait``: :func:`no_wait` makes each agency commit the deliveries it holds as
  soon as none is at hand, as before it waited ``GROUP_WAIT_SECONDS`` for more.
- ``frame-writes``: :func:`frame_writes` makes every AMQP connection write each
  frame as aiormq queues it, as before :mod:`hub.broker.frames` sent the frames of
  one turn of the loop together.
- ``as-built``: nothing changed.
"""

from __future__ import annotations

import contextlib
from typing import TYPE_CHECKING, Any, Final, cast
from unittest import mock

from joserfc import jwe, jws
from joserfc.errors import JoseError
from joserfc.registry import HeaderParameter

from adapters import client
from hub.broker import amqp
from hub.crypto import compact
from hub.crypto.base import CONTENT_ALG, KEY_ALG, MAX_ENVELOPE_CHARS, EnvelopeError, ErrorCode
from hub.crypto.jwe import DELIVERY_HEADER
from hub.ledger import service

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator, Mapping

    from joserfc.jwk import OKPKey

#: The envelope engines ``make bench-envelope`` sets side by side: ours, then before.
ENGINES: Final = ("as-built", "joserfc")


def _jwe_registry() -> jwe.JWERegistry:
    registry = jwe.JWERegistry(
        header_registry={
            name: HeaderParameter(name, "int" if name == "agreement_version" else "str")
            for name in DELIVERY_HEADER
        },
        algorithms=[KEY_ALG, CONTENT_ALG],
    )
    registry.max_ciphertext_length = MAX_ENVELOPE_CHARS
    return registry


_JWE_REGISTRY: Final = _jwe_registry()


def _sign(header: Mapping[str, Any], payload: bytes, key: OKPKey) -> str:
    return jws.serialize_compact(dict(header), payload, key, registry=compact.JWS_REGISTRY)


def _verify(signing_input: str, signature: bytes, payload_chars: int, key: OKPKey) -> None:
    del payload_chars  # joserfc checks the sizes itself
    token = f"{signing_input}.{compact.b64url_encode(signature)}"
    try:
        jws.deserialize_compact(token, key, registry=compact.JWS_REGISTRY)
    except JoseError:
        raise EnvelopeError(ErrorCode.SIGNATURE, "JWS signature does not verify") from None


def _encrypt(header: Mapping[str, Any], plaintext: bytes, recipient: OKPKey) -> str:
    return jwe.encrypt_compact(dict(header), plaintext, recipient, registry=_JWE_REGISTRY)


def _decrypt(header_segment: str, parts: list[bytes], epk: bytes, key: OKPKey) -> bytes:
    del epk  # joserfc reads it from the header
    envelope = ".".join([header_segment, *(compact.b64url_encode(p) for p in parts)])
    try:
        plaintext = jwe.decrypt_compact(envelope, key, registry=_JWE_REGISTRY).plaintext
    except (JoseError, ValueError, KeyError, TypeError):
        raise EnvelopeError(ErrorCode.UNDECRYPTABLE, "JWE does not decrypt") from None
    return plaintext or b""


@contextlib.contextmanager
def joserfc_envelope() -> Iterator[None]:
    """Within the block, the envelope signs, verifies, seals and opens with joserfc."""
    saved = (compact.sign, compact.verify, compact.encrypt, compact.decrypt)
    compact.sign, compact.verify, compact.encrypt, compact.decrypt = (
        _sign,
        _verify,
        _encrypt,
        _decrypt,
    )
    try:
        yield
    finally:
        compact.sign, compact.verify, compact.encrypt, compact.decrypt = saved


def _zeroed(module: object, name: str) -> contextlib.AbstractContextManager[None]:
    """Within the block, ``module.name`` is 0 (a size or a wait turned off)."""
    return cast("contextlib.AbstractContextManager[None]", mock.patch.object(module, name, 0))


def reread() -> contextlib.AbstractContextManager[None]:
    """Within the block, the ledger keeps no recent entries: every decision is read back."""
    return _zeroed(service, "RECENT_ENTRIES")


def no_wait() -> contextlib.AbstractContextManager[None]:
    """Within the block, an agency commits its group as soon as nothing more is at hand."""
    return _zeroed(client, "GROUP_WAIT_SECONDS")


def frame_writes() -> contextlib.AbstractContextManager[None]:
    """Within the block, each new AMQP connection writes every frame on its own."""
    return cast(
        "contextlib.AbstractContextManager[None]",
        mock.patch.object(amqp, "BATCHED_WRITES", new=False),
    )


#: Every variant a run may ask for, by name.
VARIANTS: Final[dict[str, Callable[[], contextlib.AbstractContextManager[None]]]] = {
    "as-built": contextlib.nullcontext,
    "joserfc": joserfc_envelope,
    "reread": reread,
    "no-wait": no_wait,
    "frame-writes": frame_writes,
}


def variant(name: str) -> contextlib.AbstractContextManager[None]:
    """The variant ``name`` (:data:`VARIANTS`) for the block."""
    return VARIANTS[name]()
