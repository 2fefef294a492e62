"""Obligations that travel with a delivery: a W3C ODRL 2.2 policy from the agreement."""

from __future__ import annotations

import uuid
from datetime import date
from typing import TYPE_CHECKING

import pytest

from hub.policy import Decided, Granted, delivery_obligations, load_policy
from hub.settings import DEPLOY

if TYPE_CHECKING:
    from hub.policy import Policy


@pytest.fixture(scope="module")
def policy() -> Policy:
    """The deployment's agreements and rules."""
    return load_policy(DEPLOY / "agreements", DEPLOY / "parties.toml", DEPLOY / "rules.toml")


@pytest.mark.parametrize(
    ("day", "months", "until"),
    [
        (date(2026, 11, 21), 74, date(2033, 1, 21)),
        (date(2027, 1, 31), 1, date(2027, 2, 28)),
        (date(2027, 12, 31), 2, date(2028, 2, 29)),
        (date(2027, 3, 15), 12, date(2028, 3, 15)),
    ],
)
def test_retention_months_are_calendar_months(day: date, months: int, until: date) -> None:
    """A month later is the same day of the next month, or its last day when shorter."""
    from hub.policy.obligations import add_months  # noqa: PLC0415 - the one helper under test

    assert add_months(day, months) == until


def test_a_disclosure_carries_its_purpose_no_onward_sharing_and_its_delete_by_date(
    policy: Policy,
) -> None:
    """Police to probation under the core clause: manage-risk, 74 months, not onward."""
    decision = uuid.uuid4()
    grants = [Granted("masip-exampleshire", 1, "police-to-probation-core", "manage-risk")]
    document = delivery_obligations(
        policy, Decided(decision, "police", "probation", grants, date(2026, 11, 21))
    )
    assert document["@context"] == "http://www.w3.org/ns/odrl.jsonld"
    assert document["@type"] == "Agreement"
    assert document["uid"] == document["target"] == f"urn:uuid:{decision}"
    assert (document["assigner"], document["assignee"]) == (
        "urn:case-event-hub:party:police",
        "urn:case-event-hub:party:probation",
    )
    assert document["permission"] == [
        {
            "action": "use",
            "constraint": [
                {"leftOperand": "purpose", "operator": "isAnyOf", "rightOperand": ["manage-risk"]}
            ],
        }
    ]
    assert document["prohibition"] == [{"action": "distribute"}]
    (duty,) = document["obligation"]
    assert duty["action"] == "delete"
    assert duty["constraint"][0]["rightOperand"] == {"@value": "2033-01-21", "@type": "xsd:date"}
    assert duty["http://purl.org/dc/terms/description"] == "secure deletion after review"


def test_a_grant_the_hub_no_longer_holds_gives_no_invented_date(policy: Policy) -> None:
    """A withdrawn agreement's grant keeps the purpose and the prohibition, and no date."""
    grants = [Granted("withdrawn-agreement", 3, "gone", "manage-risk")]
    document = delivery_obligations(
        policy, Decided(uuid.uuid4(), "police", "probation", grants, date(2026, 11, 21))
    )
    assert "obligation" not in document
    assert document["prohibition"] == [{"action": "distribute"}]
