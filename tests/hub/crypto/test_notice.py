"""Refusal notices: signed by the hub, sealed to the sender, carrying codes not content."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest

from hub.crypto.base import EnvelopeError, ErrorCode
from hub.crypto.envelope import open_ingress
from hub.crypto.keys import KeyDirectory, PartyKeyring
from hub.crypto.notice import RefusalNotice, open_notice, seal_notice

NOW = datetime.now(UTC)


def _notice(recipient: str = "police") -> RefusalNotice:
    return RefusalNotice("schema.invalid", uuid.uuid4(), uuid.uuid4(), recipient, NOW)


def test_notice_round_trips(keyrings: dict[str, PartyKeyring], directory: KeyDirectory) -> None:
    """The sender opens and verifies the notice the hub sealed to it."""
    notice = _notice()
    opened = open_notice(
        seal_notice(notice, keyrings["hub"], directory), keyrings["police"], directory
    )
    assert opened == notice.__class__(
        **{**notice.__dict__, "issued_at": NOW.replace(microsecond=0)}
    )


def test_notice_for_another_party_does_not_open(
    keyrings: dict[str, PartyKeyring], directory: KeyDirectory
) -> None:
    """A notice sealed to police cannot be opened by health."""
    sealed = seal_notice(_notice(), keyrings["hub"], directory)
    with pytest.raises(EnvelopeError) as caught:
        open_notice(sealed, keyrings["health"], directory)
    assert caught.value.code is ErrorCode.UNDECRYPTABLE


def test_notice_signed_by_an_agency_is_refused(
    keyrings: dict[str, PartyKeyring], directory: KeyDirectory
) -> None:
    """Only the hub may sign notices: one signed by another party fails signature.invalid."""
    forged = PartyKeyring("hub", keyrings["advocacy"].keys)
    sealed = seal_notice(_notice(), forged, directory)
    with pytest.raises(EnvelopeError) as caught:
        open_notice(sealed, keyrings["police"], directory)
    assert caught.value.code is ErrorCode.SIGNATURE


def test_notice_is_not_an_event(keyrings: dict[str, PartyKeyring], directory: KeyDirectory) -> None:
    """A notice sealed to the hub is not accepted as an ingress event (content types differ)."""
    sealed = seal_notice(_notice("hub"), keyrings["hub"], directory)
    with pytest.raises(EnvelopeError) as caught:
        open_ingress(sealed, keyrings["hub"], directory)
    assert caught.value.code is ErrorCode.MALFORMED


def test_a_message_id_that_is_no_id_is_not_repeated(
    keyrings: dict[str, PartyKeyring], directory: KeyDirectory
) -> None:
    """A sender's message id is repeated only if id-shaped; otherwise the notice says null."""
    odd = RefusalNotice(
        "envelope.malformed",
        uuid.uuid4(),
        None,
        "police",
        NOW,
        message_id="a b\nc",
        body_sha256="0" * 64,
    )
    opened = open_notice(
        seal_notice(odd, keyrings["hub"], directory), keyrings["police"], directory
    )
    assert (opened.message_id, opened.body_sha256) == (None, "0" * 64)
    plain = RefusalNotice("envelope.malformed", uuid.uuid4(), None, "police", NOW, message_id="m-1")
    opened = open_notice(
        seal_notice(plain, keyrings["hub"], directory), keyrings["police"], directory
    )
    assert opened.message_id == "m-1"
