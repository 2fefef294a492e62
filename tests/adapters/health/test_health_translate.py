import json
import uuid
from pathlib import Path
from typing import Any

import pytest
from fhir.resources.R4B.communication import Communication

from adapters.advocacy.translate import AdvocacyTranslator
from adapters.base import ReceivedEvent, RecordError
from adapters.health.fhir import event_id_for
from adapters.health.translate import HealthTranslator
from schemas.base import FieldGroup, fields_by_group, split_groups

SAMPLES = Path(__file__).parents[3] / "adapters" / "health" / "samples"
ADVOCACY_PLAN = Path(__file__).parents[3] / "adapters" / "advocacy" / "samples" / "safety_plan.json"
GOOD = sorted(SAMPLES.glob("*.json"))
EXPECTED = {
    "risk_assessment.json": ("RiskAssessmentCompleted", {"A", "D", "E"}),
    "intervention_update.json": ("InterventionUpdated", {"A", "D", "E"}),
}


def _load(path: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return data


def _normalise(native: dict[str, Any]) -> dict[str, Any]:
    """The documented normalisation: the bundle id becomes the event id."""
    return native | {"id": event_id_for(native["id"])}


@pytest.mark.parametrize("path", GOOD, ids=lambda p: p.name)
def test_sample_round_trips(path: Path) -> None:
    """Every sample bundle comes back equal after native -> events -> native."""
    translator = HealthTranslator()
    native = _load(path)
    events = translator.to_events(native, record_id=path.name)
    assert translator.to_native(events) == _normalise(native)


@pytest.mark.parametrize("path", GOOD, ids=lambda p: p.name)
def test_sample_events_carry_expected_groups(path: Path) -> None:
    """Every produced event is of the expected type, by health, in the expected groups."""
    (event,) = HealthTranslator().to_events(_load(path), record_id=path.name)
    event_type, groups = EXPECTED[path.name]
    assert event.event_type == event_type
    assert event.author_agency == "health"
    assert {group.value for group in fields_by_group(type(event))} == groups


def test_event_id_is_deterministic() -> None:
    """The same bundle always gives the same event id, a uuid5 of its id."""
    path = SAMPLES / "risk_assessment.json"
    first = HealthTranslator().to_events(_load(path), record_id="a")[0].event_id
    second = HealthTranslator().to_events(_load(path), record_id="b")[0].event_id
    assert first == second
    assert first.version == 5


def test_patient_with_nhs_number_is_refused() -> None:
    """A Patient carrying an NHS number is refused, naming the field but not the number."""
    path = SAMPLES / "bad" / "patient_with_nhs_number.json"
    with pytest.raises(RecordError) as caught:
        HealthTranslator().to_events(_load(path), record_id=path.name)
    assert caught.value.code == "record.invalid"
    assert caught.value.record == path.name
    assert caught.value.field == "entry[0].resource.identifier[1].system"
    assert "9999999999" not in str(caught.value)


def test_patient_name_is_refused() -> None:
    """A Patient with a name is refused without the name in the error."""
    native = _load(SAMPLES / "risk_assessment.json")
    native["entry"][0]["resource"]["name"] = [{"family": "Examplesecret"}]
    with pytest.raises(RecordError) as caught:
        HealthTranslator().to_events(native, record_id="r1")
    assert caught.value.field == "entry[0].resource.name"
    assert "Examplesecret" not in str(caught.value)


def test_bad_judgement_names_the_native_field() -> None:
    """A judgement outside the vocabulary is reported against the RiskAssessment."""
    native = _load(SAMPLES / "risk_assessment.json")
    native["entry"][1]["resource"]["prediction"][0]["qualitativeRisk"]["coding"][0]["code"] = "vhi"
    with pytest.raises(RecordError) as caught:
        HealthTranslator().to_events(native, record_id="r2")
    assert caught.value.field == "entry[1].resource.prediction"
    assert "vhi" not in str(caught.value)


def test_invalid_fhir_is_refused() -> None:
    """A bundle that fails FHIR R4B validation is refused by fhir.resources."""
    native = _load(SAMPLES / "intervention_update.json")
    native["entry"][1]["resource"]["subject"] = ["Patient/subject"]
    with pytest.raises(RecordError, match="not valid FHIR R4B"):
        HealthTranslator().to_events(native, record_id="r3")


def test_unknown_kind_is_unsupported() -> None:
    """A bundle of a kind the adapter does not translate is record.unsupported."""
    native = _load(SAMPLES / "risk_assessment.json")
    native["meta"]["tag"][0]["code"] = "discharge-summary"
    with pytest.raises(RecordError) as caught:
        HealthTranslator().to_events(native, record_id="r4")
    assert caught.value.code == "record.unsupported"
    assert caught.value.field == "meta.tag[0].code"


def _strings(value: Any) -> set[str]:
    if isinstance(value, str):
        return {value}
    if isinstance(value, dict):
        return set().union(*(_strings(v) for v in value.values())) if value else set()
    if isinstance(value, list):
        return set().union(*(_strings(v) for v in value)) if value else set()
    return set()


def _as_health_receives(
    groups: set[FieldGroup],
) -> tuple[ReceivedEvent, dict[FieldGroup, dict[str, Any]]]:
    (plan,) = AdvocacyTranslator().to_events(_load(ADVOCACY_PLAN), record_id="plan")
    split = split_groups(plan)
    received = ReceivedEvent(
        event_id=plan.event_id,
        event_type=plan.event_type,
        schema_version=plan.schema_version,
        sender="advocacy",
        recipient="health",
        decision_id=uuid.UUID("00000000-0000-4000-8000-0000000000d1"),
        agreement_id="isa-example-2026",
        agreement_version=1,
        groups={group: split[group] for group in groups},
    )
    withheld = {group: split[group] for group in split if group not in groups}
    return received, withheld


def test_safety_plan_rendered_for_health_leaks_nothing_withheld() -> None:
    """A safety plan rendered for health (A and E) holds no byte of F, G or H."""
    received, withheld = _as_health_receives({FieldGroup.A, FieldGroup.E})
    output = HealthTranslator().render_delivery(received)
    residual = json.dumps(output, ensure_ascii=False)
    # Disclosed values may contain a withheld one by chance ("10:00" in a timestamp).
    for disclosed in sorted(_strings(dict(received.groups)), key=len, reverse=True):
        residual = residual.replace(disclosed, "")
    secrets = _strings(withheld)
    assert {"1 Example Street", "Alex", "07700 900123", "Example Works"} <= secrets
    for secret in secrets:
        assert secret not in residual, "a withheld value reached the Communication"
    assert Communication.model_validate(output).status == "completed"


def test_delivery_never_renders_victim_location() -> None:
    """Even if group G reached the adapter, the Communication never holds it."""
    received, _ = _as_health_receives({FieldGroup.A, FieldGroup.E, FieldGroup.G})
    text = json.dumps(HealthTranslator().render_delivery(received), ensure_ascii=False)
    assert "Example Street" not in text
    assert "Exampletown" not in text


def test_delivery_carries_decision_agreement_and_subject() -> None:
    """The Communication names the decision, the agreement and the pseudonymous subject."""
    received, _ = _as_health_receives({FieldGroup.A, FieldGroup.E})
    output = HealthTranslator().render_delivery(received)
    values = {item["value"] for item in output["identifier"]}
    assert str(received.decision_id) in values
    assert {"code": "isa-example-2026", "version": "1"}.items() <= output["meta"]["tag"][0].items()
    assert output["subject"]["identifier"]["value"] == "P-00000000S1"
    groups = [json.loads(item["contentString"])["group"] for item in output["payload"]]
    assert groups == ["A", "E"]
