"""The envelope end to end: issue, open, present, verify; and every way it must fail."""

from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import UTC, datetime
from functools import partial
from typing import TYPE_CHECKING

import pytest

from hub.crypto import sdjwt
from hub.crypto.base import EnvelopeError, ErrorCode
from hub.crypto.envelope import (
    DecisionHeader,
    Issuance,
    build_presentation,
    issue_event,
    issue_sd_jwt,
    open_delivery,
    open_ingress,
    present,
)
from hub.crypto.jwe import seal, unseal
from hub.crypto.keys import KeyDirectory, PartyKeyring
from schemas.base import CaseEvent, FieldGroup, split_groups
from schemas.registry import parse_event
from schemas.samples import all_samples, sample_event

if TYPE_CHECKING:
    from collections.abc import Callable

Rings = dict[str, PartyKeyring]
NOW = datetime.now(UTC)


def _decision(recipient: str) -> DecisionHeader:
    return DecisionHeader(uuid.uuid4(), "masip-thames-valley", 2, recipient)


def _issue_text(event: CaseEvent, rings: Rings, directory: KeyDirectory) -> str:
    signing = rings[event.author_agency].signing_key(NOW)
    return issue_sd_jwt(event, signing, directory.valid_keys("hub", "sig", NOW)[0], NOW)


def _seal_to_hub(text: str, directory: KeyDirectory) -> str:
    return seal(text, directory.encryption_key("hub", NOW))


def _code(call: Callable[[], object]) -> ErrorCode:
    with pytest.raises(EnvelopeError) as caught:
        call()
    return caught.value.code


@pytest.mark.parametrize(
    "event", all_samples(), ids=lambda e: f"{e.event_type}.v{e.schema_version}"
)
def test_every_event_type_round_trips(
    event: CaseEvent, keyrings: Rings, directory: KeyDirectory
) -> None:
    """Every catalogued event survives issue, open, present-all and verify unchanged."""
    envelope = issue_event(event, keyrings[event.author_agency], directory)
    issuance = open_ingress(envelope, keyrings["hub"], directory)
    assert parse_event(issuance.event_data()) == event
    groups = set(issuance.groups)
    delivery = open_delivery(
        present(issuance, groups, _decision("advocacy"), keyrings["hub"], directory),
        keyrings["advocacy"],
        directory,
    )
    assert delivery.groups == split_groups(event)
    assert delivery.claims == issuance.claims


def test_withheld_groups_are_not_sent_even_encrypted(
    keyrings: Rings, directory: KeyDirectory
) -> None:
    """A presentation without G carries neither G's value nor its disclosure (P3)."""
    event = sample_event("VictimSafetyPlanUpdated")
    issuance = open_ingress(
        issue_event(event, keyrings["advocacy"], directory), keyrings["hub"], directory
    )
    assert FieldGroup.G in issuance.groups
    granted = {FieldGroup.A, FieldGroup.E}
    envelope = present(issuance, granted, _decision("health"), keyrings["hub"], directory)
    _, plaintext = unseal(envelope, keyrings["health"], NOW)
    assert issuance.disclosures[FieldGroup.G] not in plaintext
    assert set(open_delivery(envelope, keyrings["health"], directory).groups) == granted & set(
        issuance.groups
    )


def test_decision_header_and_claims_reach_the_recipient(
    keyrings: Rings, directory: KeyDirectory
) -> None:
    """The recipient learns the decision id, agreement and version it was disclosed under."""
    event = sample_event("ReferralReceived")
    issuance = open_ingress(
        issue_event(event, keyrings["police"], directory), keyrings["hub"], directory
    )
    decision = _decision("probation")
    delivery = open_delivery(
        present(issuance, {FieldGroup.A}, decision, keyrings["hub"], directory),
        keyrings["probation"],
        directory,
    )
    assert delivery.decision == decision
    assert delivery.claims.issuer == "police"
    assert delivery.claims.event_id == event.event_id


def _mutations(text: str, positions: int) -> list[tuple[int, str]]:
    """Change single characters, spread over ``text``, to another base64url character."""
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    step = max(1, len(text) // positions)
    changed = []
    for index in range(0, len(text), step):
        char = text[index]
        if char in alphabet:
            replacement = alphabet[(alphabet.index(char) + 1) % len(alphabet)]
            changed.append((index, text[:index] + replacement + text[index + 1 :]))
    return changed


JWE_PART_CODES = {
    0: {ErrorCode.MALFORMED, ErrorCode.ALGORITHM, ErrorCode.UNDECRYPTABLE},
    1: {ErrorCode.MALFORMED, ErrorCode.UNDECRYPTABLE},
    2: {ErrorCode.MALFORMED, ErrorCode.UNDECRYPTABLE},
    3: {ErrorCode.MALFORMED, ErrorCode.UNDECRYPTABLE},
    4: {ErrorCode.MALFORMED, ErrorCode.UNDECRYPTABLE},
}


@pytest.mark.parametrize("part", range(5))
def test_any_changed_character_of_the_jwe_is_refused(
    part: int, keyrings: Rings, directory: KeyDirectory
) -> None:
    """Changing any character of any JWE part fails with that part's codes."""
    envelope = issue_event(sample_event("ReferralReceived"), keyrings["police"], directory)
    parts = envelope.split(".")
    for _, changed in _mutations(parts[part], 64):
        tampered = ".".join([*parts[:part], changed, *parts[part + 1 :]])
        code = _code(partial(open_ingress, tampered, keyrings["hub"], directory))
        assert code in JWE_PART_CODES[part]


SD_JWT_PART_CODES = {
    "header": {
        ErrorCode.MALFORMED,
        ErrorCode.ALGORITHM,
        ErrorCode.SIGNATURE,
        ErrorCode.SENDER_UNKNOWN,
    },
    "payload": {ErrorCode.MALFORMED, ErrorCode.SIGNATURE},
    "signature": {ErrorCode.MALFORMED, ErrorCode.SIGNATURE},
    "disclosure": {ErrorCode.DISCLOSURE},
}


@pytest.mark.parametrize("part", sorted(SD_JWT_PART_CODES))
def test_any_changed_character_inside_the_sd_jwt_is_refused(
    part: str, keyrings: Rings, directory: KeyDirectory
) -> None:
    """Changed inside the seal (by whoever sealed it), each SD-JWT part fails with its codes."""
    text = _issue_text(sample_event("ReferralReceived"), keyrings, directory)
    token, disclosures, _ = sdjwt.split_sd_jwt(text)
    header, payload, signature = token.split(".")
    pieces = {
        "header": header,
        "payload": payload,
        "signature": signature,
        "disclosure": disclosures[0],
    }
    for _, changed in _mutations(pieces[part], 48):
        swapped = dict(pieces, **{part: changed})
        jwt = ".".join([swapped["header"], swapped["payload"], swapped["signature"]])
        tampered = "~".join([jwt, swapped["disclosure"], *disclosures[1:]]) + "~"
        sealed = _seal_to_hub(tampered, directory)
        assert (
            _code(partial(open_ingress, sealed, keyrings["hub"], directory))
            in SD_JWT_PART_CODES[part]
        )


def test_changed_key_binding_is_refused(keyrings: Rings, directory: KeyDirectory) -> None:
    """Any changed character of the hub's Key Binding JWT is refused."""
    issuance = _open(sample_event("ReferralReceived"), keyrings, directory)
    decision = _decision("health")
    text = build_presentation(
        issuance, {FieldGroup.A}, decision, keyrings["hub"].signing_key(NOW), NOW
    )
    prefix, kb = text.rsplit("~", 1)
    for _, changed in _mutations(kb, 48):
        sealed = seal(
            f"{prefix}~{changed}", directory.encryption_key("health", NOW), decision.as_header()
        )
        code = _code(partial(open_delivery, sealed, keyrings["health"], directory))
        assert code in {ErrorCode.BINDING, ErrorCode.MALFORMED, ErrorCode.ALGORITHM}


def _open(event: CaseEvent, rings: Rings, directory: KeyDirectory) -> Issuance:
    return open_ingress(
        issue_event(event, rings[event.author_agency], directory), rings["hub"], directory
    )


def test_disclosure_from_another_event_is_refused(keyrings: Rings, directory: KeyDirectory) -> None:
    """A signed disclosure moved from one event into another fails with disclosure.mismatch."""
    first = _issue_text(sample_event("ReferralReceived"), keyrings, directory)
    second = _issue_text(sample_event("ReferralReceived"), keyrings, directory)
    token, disclosures, _ = sdjwt.split_sd_jwt(first)
    _, foreign, _ = sdjwt.split_sd_jwt(second)
    spliced = "~".join([token, *disclosures[:-1], foreign[-1]]) + "~"
    sealed = _seal_to_hub(spliced, directory)
    assert _code(lambda: open_ingress(sealed, keyrings["hub"], directory)) is ErrorCode.DISCLOSURE


def test_repeated_disclosure_is_refused(keyrings: Rings, directory: KeyDirectory) -> None:
    """The same disclosure twice fails with disclosure.mismatch."""
    token, disclosures, _ = sdjwt.split_sd_jwt(
        _issue_text(sample_event("ReferralReceived"), keyrings, directory)
    )
    sealed = _seal_to_hub("~".join([token, *disclosures, disclosures[0]]) + "~", directory)
    assert _code(lambda: open_ingress(sealed, keyrings["hub"], directory)) is ErrorCode.DISCLOSURE


def test_presentation_for_one_recipient_fails_for_another(
    keyrings: Rings, directory: KeyDirectory
) -> None:
    """A delivery cannot be opened, re-addressed or re-sealed for anyone but its recipient."""
    issuance = _open(sample_event("ReferralReceived"), keyrings, directory)
    decision = _decision("health")
    envelope = present(issuance, {FieldGroup.A}, decision, keyrings["hub"], directory)
    assert (
        _code(lambda: open_delivery(envelope, keyrings["advocacy"], directory))
        is ErrorCode.UNDECRYPTABLE
    )
    text = build_presentation(
        issuance, {FieldGroup.A}, decision, keyrings["hub"].signing_key(NOW), NOW
    )
    advocacy_key = directory.encryption_key("advocacy", NOW)
    as_is = seal(text, advocacy_key, decision.as_header())
    assert _code(lambda: open_delivery(as_is, keyrings["advocacy"], directory)) is ErrorCode.BINDING
    same_decision = DecisionHeader(
        decision.decision_id, decision.agreement_id, decision.agreement_version, "advocacy"
    )
    readdressed = seal(text, advocacy_key, same_decision.as_header())
    assert (
        _code(lambda: open_delivery(readdressed, keyrings["advocacy"], directory))
        is ErrorCode.BINDING
    )


def test_presentation_under_another_decision_is_refused(
    keyrings: Rings, directory: KeyDirectory
) -> None:
    """A key binding made for one decision does not verify under another decision id."""
    issuance = _open(sample_event("ReferralReceived"), keyrings, directory)
    text = build_presentation(
        issuance, {FieldGroup.A}, _decision("health"), keyrings["hub"].signing_key(NOW), NOW
    )
    other = seal(text, directory.encryption_key("health", NOW), _decision("health").as_header())
    assert _code(lambda: open_delivery(other, keyrings["health"], directory)) is ErrorCode.BINDING


def test_delivery_without_key_binding_is_refused(keyrings: Rings, directory: KeyDirectory) -> None:
    """A presentation stripped of its Key Binding JWT fails with binding.invalid."""
    issuance = _open(sample_event("ReferralReceived"), keyrings, directory)
    decision = _decision("health")
    text = build_presentation(
        issuance, {FieldGroup.A}, decision, keyrings["hub"].signing_key(NOW), NOW
    )
    stripped = text.rsplit("~", 1)[0] + "~"
    sealed = seal(stripped, directory.encryption_key("health", NOW), decision.as_header())
    assert _code(lambda: open_delivery(sealed, keyrings["health"], directory)) is ErrorCode.BINDING


def test_hub_cannot_forge_content(keyrings: Rings, directory: KeyDirectory) -> None:
    """A hub that rewrites a disclosure's value fails verification at the recipient (P2)."""
    issuance = _open(sample_event("ReferralReceived"), keyrings, directory)
    salt, name, value = sdjwt.decode_disclosure(issuance.disclosures[FieldGroup.A])
    assert name == "A"
    forged_value = dict(value, case_reference="MASIP-2026-999999")
    forged = Issuance(
        claims=issuance.claims,
        issuer_jwt=issuance.issuer_jwt,
        disclosures={FieldGroup.A: sdjwt.encode_disclosure(salt, "A", forged_value)},
        groups={FieldGroup.A: forged_value},
    )
    envelope = present(forged, {FieldGroup.A}, _decision("health"), keyrings["hub"], directory)
    assert (
        _code(lambda: open_delivery(envelope, keyrings["health"], directory))
        is ErrorCode.DISCLOSURE
    )


def test_sender_claiming_another_agency_is_refused(
    keyrings: Rings, directory: KeyDirectory
) -> None:
    """An agency signing with its own key under another agency's name fails signature.invalid."""
    police = keyrings["police"].signing_key(NOW)
    text = _issue_text(sample_event("ReferralReceived"), keyrings, directory)
    token = sdjwt.split_sd_jwt(text)[0]
    claims = sdjwt.verify_jwt(token, police.key)
    header = {"typ": "case-event+sd-jwt", "kid": police.kid}
    resigned = sdjwt.sign_jwt(header, dict(claims, iss="health"), police.key)
    spoofed = _seal_to_hub(text.replace(token, resigned), directory)
    assert _code(lambda: open_ingress(spoofed, keyrings["hub"], directory)) is ErrorCode.SIGNATURE


def test_disclosures_changed_after_key_binding_are_refused(
    keyrings: Rings, directory: KeyDirectory
) -> None:
    """Adding or removing a disclosure after the hub bound the presentation is refused."""
    issuance = _open(sample_event("VictimSafetyPlanUpdated"), keyrings, directory)
    decision = _decision("health")
    hub_key = keyrings["hub"].signing_key(NOW)
    text = build_presentation(issuance, {FieldGroup.A, FieldGroup.E}, decision, hub_key, NOW)
    token, disclosures, kb = sdjwt.split_sd_jwt(text)
    added = [*disclosures, issuance.disclosures[FieldGroup.G]]
    for changed in (disclosures[:1], added):
        tampered = "~".join([token, *changed, kb or ""])
        sealed = seal(tampered, directory.encryption_key("health", NOW), decision.as_header())
        code = _code(partial(open_delivery, sealed, keyrings["health"], directory))
        assert code is ErrorCode.BINDING


def _referral(keyrings: Rings, directory: KeyDirectory) -> Issuance:
    """A referral from police, opened by the hub."""
    event = issue_event(sample_event("ReferralReceived"), keyrings["police"], directory)
    return open_ingress(event, keyrings["hub"], directory)


def _obligations(decision: DecisionHeader, **changed: object) -> dict[str, object]:
    target = f"urn:uuid:{decision.decision_id}"
    document: dict[str, object] = {
        "@context": "http://www.w3.org/ns/odrl.jsonld",
        "@type": "Agreement",
        "uid": target,
        "target": target,
        "assignee": f"urn:case-event-hub:party:{decision.recipient}",
        "prohibition": [{"action": "distribute"}],
    }
    return document | changed


def test_obligations_reach_the_recipient_inside_what_the_hub_signs(
    keyrings: Rings, directory: KeyDirectory
) -> None:
    """The ODRL policy comes out as it went in; none in, none out."""
    issuance = _referral(keyrings, directory)
    plain = _decision("probation")
    decision = replace(plain, obligations=_obligations(plain))
    delivery = open_delivery(
        present(issuance, {FieldGroup.A}, decision, keyrings["hub"], directory),
        keyrings["probation"],
        directory,
    )
    assert delivery.decision.obligations == _obligations(decision)
    bare = open_delivery(
        present(issuance, {FieldGroup.A}, plain, keyrings["hub"], directory),
        keyrings["probation"],
        directory,
    )
    assert bare.decision.obligations is None


@pytest.mark.parametrize(
    "changed",
    [
        {"uid": "urn:uuid:00000000-0000-4000-8000-000000000000"},
        {"target": "urn:uuid:00000000-0000-4000-8000-000000000000"},
        {"assignee": "urn:case-event-hub:party:health"},
        {"@type": "Offer"},
    ],
    ids=["another uid", "another target", "another assignee", "not an agreement"],
)
def test_obligations_about_another_delivery_are_refused(
    changed: dict[str, object], keyrings: Rings, directory: KeyDirectory
) -> None:
    """A policy signed for one delivery cannot ride on another: ``binding.invalid``."""
    issuance = _referral(keyrings, directory)
    plain = _decision("probation")
    decision = replace(plain, obligations=_obligations(plain, **changed))
    sealed = present(issuance, {FieldGroup.A}, decision, keyrings["hub"], directory)
    code = _code(lambda: open_delivery(sealed, keyrings["probation"], directory))
    assert code is ErrorCode.BINDING
