"""Refusal notices: signed by the hub, sealed to the sender, carrying codes not content."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest

from hub.crypto.base import NOTICE_CTY, NOTICE_TYP, EnvelopeError, ErrorCode
from hub.crypto.envelope import open_ingress
from hub.crypto.jwe import seal
from hub.crypto.keys import KeyDirectory, PartyKeyring
from hub.crypto.notice import RefusalNotice, open_notice, seal_notice
from hub.crypto.sdjwt import sign_jwt

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


def _sealed_claims(
    claims: dict[str, object], keyrings: dict[str, PartyKeyring], directory: KeyDirectory
) -> str:
    """Sign ``claims`` as the hub and seal them to police, as any hub version might."""
    key = keyrings["hub"].signing_key(NOW)
    token = sign_jwt({"typ": NOTICE_TYP, "kid": key.kid}, claims, key.key)
    return seal(token, directory.encryption_key("police", NOW), cty=NOTICE_CTY)


def test_a_notice_names_the_field_by_its_pointer(
    keyrings: dict[str, PartyKeyring], directory: KeyDirectory
) -> None:
    """The field pointer and error type travel and open as they were sealed."""
    notice = RefusalNotice(
        "schema.invalid",
        uuid.uuid4(),
        uuid.uuid4(),
        "police",
        NOW,
        field="/exclusion_zones/0/geometry/radius_metres",
        field_error="greater_than_equal",
    )
    opened = open_notice(
        seal_notice(notice, keyrings["hub"], directory), keyrings["police"], directory
    )
    assert (opened.field, opened.field_error) == (notice.field, notice.field_error)
    whole = RefusalNotice(
        "schema.invalid", uuid.uuid4(), None, "police", NOW, field="", field_error="regime_count"
    )
    opened = open_notice(
        seal_notice(whole, keyrings["hub"], directory), keyrings["police"], directory
    )
    assert (opened.field, opened.field_error) == ("", "regime_count")


@pytest.mark.parametrize(
    "field", ["/Alex Example", "/order/<key>", "order", "/order/", "/a\n", "/x" * 17]
)
def test_a_field_that_is_no_schema_path_is_never_sealed(
    keyrings: dict[str, PartyKeyring], directory: KeyDirectory, field: str
) -> None:
    """A field that is not a pointer of snake_case names and indexes is left out, not sent."""
    notice = RefusalNotice(
        "schema.invalid", uuid.uuid4(), None, "police", NOW, field=field, field_error="missing"
    )
    assert (notice.claims()["field"], notice.claims()["field_error"]) == (None, None)
    opened = open_notice(
        seal_notice(notice, keyrings["hub"], directory), keyrings["police"], directory
    )
    assert (opened.field, opened.field_error) == (None, None)


def test_a_notice_from_before_field_claims_still_opens(
    keyrings: dict[str, PartyKeyring], directory: KeyDirectory
) -> None:
    """A notice without ``field``, ``field_error``, ``message_id`` or ``body_sha256`` opens."""
    old = {
        k: v
        for k, v in _notice().claims().items()
        if k not in {"field", "field_error", "message_id", "body_sha256"}
    }
    opened = open_notice(_sealed_claims(old, keyrings, directory), keyrings["police"], directory)
    assert (opened.field, opened.field_error, opened.message_id) == (None, None, None)


@pytest.mark.parametrize(
    ("field", "field_error"),
    [("/Alex Example", "missing"), ("/order", "Alex Example"), (None, "missing"), (7, None)],
)
def test_a_notice_whose_field_claims_are_off_shape_is_refused(
    keyrings: dict[str, PartyKeyring],
    directory: KeyDirectory,
    field: object,
    field_error: object,
) -> None:
    """A signed notice carrying text where a pointer or an error type belongs does not open."""
    claims = _notice().claims() | {"field": field, "field_error": field_error}
    with pytest.raises(EnvelopeError) as caught:
        open_notice(_sealed_claims(claims, keyrings, directory), keyrings["police"], directory)
    assert caught.value.code is ErrorCode.MALFORMED


def test_a_message_id_with_a_final_line_break_is_not_repeated() -> None:
    """``$`` matches before a final line break; the notice's id check does not."""
    notice = RefusalNotice("envelope.malformed", uuid.uuid4(), None, "police", NOW)
    assert (
        RefusalNotice(**{**notice.__dict__, "message_id": "m-1\n"}).claims()["message_id"] is None
    )
