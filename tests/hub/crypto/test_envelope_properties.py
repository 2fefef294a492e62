"""Property tests: any group values, any subset granted, round-trip exactly."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from strategies import case_events

from hub.crypto import sdjwt
from hub.crypto.base import EnvelopeError, ErrorCode
from hub.crypto.envelope import (
    DecisionHeader,
    EventClaims,
    issue_event,
    issue_groups,
    open_delivery,
    open_ingress,
    present,
)
from hub.crypto.jwe import seal
from hub.events import event_from_issuance, groups_from_delivery
from schemas.base import CaseEvent, FieldGroup, split_groups

if TYPE_CHECKING:
    from hub.crypto.keys import KeyDirectory, PartyKeyring

NOW = datetime.now(UTC)
GROUPS = sorted(FieldGroup)

json_scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**53), max_value=2**53)
    | st.text(max_size=40)
)
json_values = st.recursive(
    json_scalars,
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4)
    ),
    max_leaves=12,
)
group_values = st.dictionaries(
    st.sampled_from(GROUPS),
    st.dictionaries(st.text(min_size=1, max_size=12), json_values, max_size=4),
    min_size=1,
)


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(values=group_values, data=st.data())
def test_presented_groups_are_exactly_the_granted_ones(
    values: dict[FieldGroup, dict[str, Any]],
    data: st.DataObject,
    keyrings: dict[str, PartyKeyring],
    directory: KeyDirectory,
) -> None:
    """For any group values and any granted subset, the recipient gets that subset, unchanged."""
    granted = data.draw(st.sets(st.sampled_from(sorted(values))))
    claims = EventClaims("police", uuid.uuid4(), "ReferralReceived", 1, NOW)
    text = issue_groups(
        claims,
        {g.value: v for g, v in values.items()},
        keyrings["police"].signing_key(NOW),
        directory.valid_keys("hub", "sig", NOW)[0],
    )
    issuance = open_ingress(
        seal(text, directory.encryption_key("hub", NOW)), keyrings["hub"], directory
    )
    assert dict(issuance.groups) == values
    decision = DecisionHeader(uuid.uuid4(), "masip", 1, "health")
    delivery = open_delivery(
        present(issuance, granted, decision, keyrings["hub"], directory),
        keyrings["health"],
        directory,
    )
    assert dict(delivery.groups) == {g: values[g] for g in granted}
    assert delivery.claims.event_id == claims.event_id
    assert delivery.claims.issued_at == NOW.replace(microsecond=0)


@given(
    st.text(
        alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_~.", max_size=200
    )
)
def test_envelope_parsing_never_crashes(text: str) -> None:
    """Arbitrary SD-JWT-alphabet text either splits and decodes or raises EnvelopeError."""
    try:
        _, disclosures, _ = sdjwt.split_sd_jwt(text)
        for disclosure in disclosures:
            sdjwt.decode_disclosure(disclosure)
    except EnvelopeError as error:
        code = error.code
    else:
        code = ErrorCode.MALFORMED
    assert code is ErrorCode.MALFORMED


@settings(
    max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(event=case_events(), data=st.data())
def test_generated_events_round_trip_through_the_envelope(
    event: CaseEvent,
    data: st.DataObject,
    keyrings: dict[str, PartyKeyring],
    directory: KeyDirectory,
) -> None:
    """Any valid event, issued and opened, validates back to itself; any grant arrives intact."""
    author = event.author_agency if event.author_agency in keyrings else "police"
    event = event.model_copy(update={"author_agency": author})
    issuance = open_ingress(
        issue_event(event, keyrings[author], directory), keyrings["hub"], directory
    )
    assert event_from_issuance(issuance) == event
    granted = data.draw(st.sets(st.sampled_from(sorted(issuance.groups))))
    decision = DecisionHeader(uuid.uuid4(), "masip", 1, "probation")
    delivery = open_delivery(
        present(issuance, granted, decision, keyrings["hub"], directory),
        keyrings["probation"],
        directory,
    )
    expected = split_groups(event)
    assert {g: m.model_dump(mode="json") for g, m in groups_from_delivery(delivery).items()} == {
        g: expected[g] for g in granted
    }
