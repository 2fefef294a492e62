"""The evaluation feed: each record decided, recorded, signed by the hub and delivered.

A hub that feeds the evaluation (settings ``evaluation_area``, ``evaluation_model``
and ``linkage_key_file``) sends the evaluator, for each event an evaluation clause
covers, the minimised record of ADR 0022 and nothing else; the ledger records the
disclosure like any other, and the evaluator can check the hub signed the record
under that decision.
"""

from __future__ import annotations

import json
import uuid
from contextlib import AsyncExitStack
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from evaluation_checks import WITHHELD, group_strings, references, strings
from feeding import AREA, EVALUATOR, KEY, Feeding, feeding_hub
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from strategies import case_events
from verifier import load_script

from hub.broker.base import OutgoingMessage
from hub.broker.testing import next_delivery
from hub.crypto import EnvelopeError, issue_event, open_record, seal_record, verify_record
from hub.crypto.sdjwt import sign_jwt
from hub.evaluation import minimise
from hub.ledger.verify import verify_entries
from hub.pipeline import EVALUATION_RECORD, process
from hub.policy import PolicyError, load_policy
from schemas.base import new_event_id
from schemas.evaluation import EvaluationRecord
from schemas.samples import sample_event

if TYPE_CHECKING:
    from hub.crypto import KeyDirectory, PartyKeyring
    from schemas.base import CaseEvent

CLAUSES = "national-evaluation-exampleshire@1#"
#: Who provides each event type to the evaluator under the default evaluation agreement.
PROVIDER = {
    "VictimViewRecorded": "advocacy",
    "RiskAssessmentCompleted": "health",
    "InterventionUpdated": "health",
}
FED = (
    "ReferralReceived", "RiskAssessmentCompleted", "ManagementPlanAgreed",
    "ManagementPlanUpdated", "InterventionUpdated", "OrderEvent", "BreachReported",
    "CriminalJusticeOutcome", "CaseClosed", "VictimViewRecorded",
)  # fmt: skip


def _fresh(event_type: str, **changes: Any) -> CaseEvent:
    author = PROVIDER.get(event_type, "police")
    return sample_event(event_type).model_copy(
        update={"event_id": new_event_id(), "author_agency": author, **changes}
    )


async def test_the_evaluator_gets_the_signed_minimised_record_and_the_ledger_says_so(
    feeding: Feeding,
) -> None:
    """A referral: the agencies get theirs, the evaluator its record, one entry each."""
    event = _fresh("ReferralReceived")
    assert await feeding.send(event) == "disclosed"
    [message] = await feeding.inbox(EVALUATOR)
    signed = open_record(message.body.decode(), feeding.keyrings[EVALUATOR], feeding.ctx.directory)
    record = EvaluationRecord.model_validate_json(json.dumps(signed.record))
    assert record == minimise(event, AREA, KEY)
    assert message.headers["kind"] == "evaluation-record"
    assert message.headers["decision-id"] == str(signed.decision_id) == message.message_id
    assert not {"event-id", "sender", "event-type"} & set(message.headers)
    entries = await feeding.ctx.ledger.read()
    [entry] = [e for e in entries if e.recipient == EVALUATOR]
    assert entry.decision_id == signed.decision_id
    assert (entry.outcome, entry.kind, entry.groups_disclosed) == (
        EVALUATION_RECORD,
        "disclosure",
        (),
    )
    assert entry.clause == CLAUSES + "police-to-evaluator-records"
    assert entry.purpose == "evaluate-interventions"
    assert entry.lawful_basis == "UK GDPR Art 6(1)(e); Art 10, DPA 2018 Sch 1 para 4"
    subject = feeding.ctx.pseudonyms.person(event.subject_ref)  # type: ignore[attr-defined]
    assert [(p.pseudonym, p.role) for p in entry.persons] == [(subject, "subject")]
    assert {e.recipient for e in entries} == {"probation", "health", "advocacy", EVALUATOR}
    for agency in ("probation", "health", "advocacy"):
        assert [m.headers["kind"] for m in await feeding.inbox(agency)] == ["delivery"]
    checkpoint = await feeding.ctx.ledger.checkpoint_now()
    assert checkpoint is not None
    assert verify_entries(entries, [checkpoint.token], feeding.ctx.directory).intact
    script = load_script()
    for stored in entries:
        body = stored.model_dump(mode="json", exclude={"entry_hash"})
        assert script.valid_entry(body), stored.outcome


async def test_a_victims_view_reaches_the_evaluator_only_tied_to_nobody(feeding: Feeding) -> None:
    """The advocate's record of the view: no agency gets it, the record names no case."""
    event = _fresh("VictimViewRecorded")
    assert await feeding.send(event) == "disclosed"
    [message] = await feeding.inbox(EVALUATOR)
    signed = open_record(message.body.decode(), feeding.keyrings[EVALUATOR], feeding.ctx.directory)
    record = EvaluationRecord.model_validate_json(json.dumps(signed.record))
    assert (record.case, record.person, record.case_day) == (None, None, None)
    for agency in ("police", "probation", "health"):
        assert await feeding.inbox(agency) == []
    [entry] = await feeding.ctx.ledger.read()
    victims = {feeding.ctx.pseudonyms.person(event.victim_ref)}  # type: ignore[attr-defined]
    assert {p.pseudonym for p in entry.persons} == victims
    assert {p.role for p in entry.persons} == {"victim"}
    assert entry.clause == CLAUSES + "advocacy-to-evaluator-victim-view"


async def test_without_the_feed_nothing_reaches_the_evaluator(
    tmp_path: Path, keyrings: dict[str, PartyKeyring], directory: KeyDirectory
) -> None:
    """A hub without the settings: no record, no entry, and the view alone is refused."""
    async with AsyncExitStack() as stack:
        feeding = await feeding_hub(stack, tmp_path, keyrings, directory)
        feeding.ctx = replace(feeding.ctx, evaluation=None)
        assert await feeding.send(_fresh("ReferralReceived")) == "disclosed"
        assert await feeding.send(_fresh("VictimViewRecorded")) == "sender.not_entitled"
        assert await feeding.inbox(EVALUATOR) == []
        entries = await feeding.ctx.ledger.read()
        assert EVALUATOR not in {e.recipient for e in entries}


async def test_a_redelivered_event_sends_the_same_record_and_records_nothing_new(
    feeding: Feeding,
) -> None:
    """The same message twice: one entry, the same record (decision and id) each time."""
    event = _fresh("CaseClosed")
    envelope = issue_event(event, feeding.keyrings["police"], feeding.ctx.directory).encode()
    names = feeding.ctx.names
    for outcome in ("disclosed", "redelivered"):
        message = OutgoingMessage(
            names.ingress, "police", envelope, str(event.event_id), user_id="police"
        )
        await feeding.parties["police"].publish(message)
        async with feeding.ctx.broker.consume(names.ingress_queue, 1) as consumer:
            assert await process(feeding.ctx, await next_delivery(consumer)) == outcome
    first, second = await feeding.inbox(EVALUATOR)
    opened = [
        open_record(m.body.decode(), feeding.keyrings[EVALUATOR], feeding.ctx.directory)
        for m in (first, second)
    ]
    assert opened[0].decision_id == opened[1].decision_id
    assert opened[0].record == opened[1].record
    entries = await feeding.ctx.ledger.read()
    assert len([e for e in entries if e.recipient == EVALUATOR]) == 1


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(st.data())
async def test_the_evaluator_never_receives_more_than_the_minimised_record(
    tmp_path_factory: pytest.TempPathFactory,
    keyrings: dict[str, PartyKeyring],
    directory: KeyDirectory,
    data: st.DataObject,
) -> None:
    """Any valid event through the hub: the evaluator's inbox holds the record, no more.

    Whatever reaches the evaluator validates as an evaluation record, equals the
    record minimised from the event, and holds no partnership reference, no value
    of groups D, F, G or H and no free text.
    """
    event_type = data.draw(st.sampled_from(FED))
    drawn = data.draw(case_events(((event_type, 1),)))
    event = drawn.model_copy(update={"author_agency": PROVIDER.get(event_type, "police")})
    async with AsyncExitStack() as stack:
        feeding = await feeding_hub(stack, tmp_path_factory.mktemp("feed"), keyrings, directory)
        assert await feeding.send(event) == "disclosed"
        [message] = await feeding.inbox(EVALUATOR)
    signed = open_record(message.body.decode(), keyrings[EVALUATOR], directory)
    text = json.dumps(signed.record)
    assert EvaluationRecord.model_validate_json(text) == minimise(event, AREA, KEY)
    shown = set(strings(signed.record))
    for reference in references(event):
        assert reference not in text, "a partnership reference reached the evaluator"
    groups = WITHHELD if event_type != "VictimViewRecorded" else WITHHELD[:3]
    withheld = {s for s in group_strings(event, groups) if len(s) > 3}
    assert not withheld & shown, "a value of groups D, F, G or H reached the evaluator"
    free_text = {s for s in group_strings(event, tuple(WITHHELD)) if " " in s}
    assert not free_text & shown, "free text reached the evaluator"


def test_a_record_not_signed_by_the_hub_or_not_for_me_is_refused(
    keyrings: dict[str, PartyKeyring], directory: KeyDirectory
) -> None:
    """Signed by an agency, changed, or addressed to another party: each refused by code."""
    now = datetime.now(UTC)
    record = minimise(sample_event("CaseClosed"), AREA, KEY).model_dump(mode="json")
    decision = uuid.uuid4()
    good = seal_record(record, decision, EVALUATOR, now, keyrings["hub"], directory)
    assert open_record(good, keyrings[EVALUATOR], directory).record == record
    police = keyrings["police"].signing_key(now)
    claims = {"iss": "hub", "aud": EVALUATOR, "iat": int(now.timestamp()),
              "decision_id": str(decision), "record": record}  # fmt: skip
    forged = sign_jwt({"typ": "evaluation-record+jwt", "kid": police.kid}, claims, police.key)
    with pytest.raises(EnvelopeError) as raised:
        verify_record(forged, directory, me=EVALUATOR, at=now)
    assert raised.value.code == "signature.invalid"
    token = open_record(good, keyrings[EVALUATOR], directory).token
    head, body, signature = token.split(".")
    changed = body[:-4] + ("AAAA" if body[-4:] != "AAAA" else "BBBB")
    with pytest.raises(EnvelopeError) as raised:
        verify_record(f"{head}.{changed}.{signature}", directory, me=EVALUATOR, at=now)
    assert raised.value.code in {"signature.invalid", "envelope.malformed"}
    with pytest.raises(EnvelopeError) as raised:
        verify_record(token, directory, me="police", at=now)
    assert raised.value.code == "binding.invalid"


def _agreement_with(tmp_path: Path, old: str, new: str) -> Path:
    folder = tmp_path / "agreements"
    folder.mkdir()
    deploy = Path(__file__).resolve().parents[2] / "deploy" / "agreements"
    for source in deploy.glob("*.toml"):
        text = source.read_text(encoding="utf-8")
        (folder / source.name).write_text(text.replace(old, new, 1), encoding="utf-8")
    return folder


@pytest.mark.parametrize(
    ("old", "new", "problem"),
    [
        (
            'recipient = "evaluator"\nform = "evaluation_record"',
            'recipient = "health"\nform = "evaluation_record"',
            "only a party of kind evaluator receives evaluation records",
        ),
        (
            'form = "evaluation_record"\nevent_types = ["VictimViewRecorded"]',
            'form = "presentation"\ngroups = ["H"]\nevent_types = ["VictimViewRecorded"]',
            "an evaluator receives evaluation records only",
        ),
        (
            'form = "evaluation_record"\nevent_types = ["VictimViewRecorded"]',
            'form = "evaluation_record"\ngroups = ["H"]\nevent_types = ["VictimViewRecorded"]',
            "grants no group",
        ),
    ],
)
def test_an_evaluation_clause_out_of_place_is_refused_at_load(
    tmp_path: Path, old: str, new: str, problem: str
) -> None:
    """A record to an agency, a presentation to the evaluator, groups in a record clause."""
    folder = _agreement_with(tmp_path, old, new)
    with pytest.raises(PolicyError) as raised:
        load_policy(folder, _deploy("parties.toml"), _deploy("rules.toml"))
    assert raised.value.code == "policy.invalid"
    assert problem in raised.value.detail
    assert "national-evaluation-exampleshire.toml" in raised.value.detail


def _deploy(name: str) -> Path:
    return Path(__file__).resolve().parents[2] / "deploy" / name
