"""The AsyncAPI document: committed and current, self-consistent, deterministic."""

from __future__ import annotations

import base64
import json
import re
import uuid
from datetime import UTC, date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import jsonschema
import pytest
import yaml
from jsonschema import Draft7Validator, Draft202012Validator
from referencing import Registry
from referencing.jsonschema import DRAFT202012

from hub.broker.asyncapi import (
    DOCUMENT,
    JSON_SCHEMA_FORMAT,
    asyncapi_document,
    event_schema_ref,
    render_asyncapi,
)
from hub.broker.topology import TopologyNames
from hub.crypto import ReceiptItem, RefusalNotice, open_receipt, seal_receipt
from hub.crypto import notice as notice_module
from schemas.export import DIALECT
from schemas.registry import CATALOGUE, event_types

if TYPE_CHECKING:
    from hub.crypto.keys import KeyDirectory, PartyKeyring

ROOT = Path(__file__).resolve().parents[3]
DOCUMENT_URI = (ROOT / DOCUMENT).as_uri()
VECTORS = ROOT / "tests" / "vectors" / "envelope" / "vectors.json"


def test_the_committed_document_is_current() -> None:
    """docs/asyncapi.yaml is what the generator writes from today's topology and schemas."""
    committed = (ROOT / DOCUMENT).read_text(encoding="utf-8")
    assert committed == render_asyncapi(), (
        "docs/asyncapi.yaml is stale: run `.venv/bin/python -m hub.broker.asyncapi`"
    )


def _walk(node: Any, path: tuple[str, ...] = ()) -> list[tuple[tuple[str, ...], Any]]:
    """Every (path, value) in ``node``, depth first."""
    found: list[tuple[tuple[str, ...], Any]] = [(path, node)]
    if isinstance(node, dict):
        for key, value in node.items():
            found += _walk(value, (*path, str(key)))
    elif isinstance(node, list):
        for index, item in enumerate(node):
            found += _walk(item, (*path, str(index)))
    return found


def _refs(node: Any) -> list[str]:
    return [
        value["$ref"]
        for _, value in _walk(node)
        if isinstance(value, dict) and isinstance(value.get("$ref"), str)
    ]


def _pointer(node: Any, fragment: str) -> Any:
    for part in fragment.removeprefix("/").split("/") if fragment else []:
        node = node[part.replace("~1", "/").replace("~0", "~")]
    return node


def test_every_reference_resolves() -> None:
    """Each ``$ref`` points inside the document or at a committed file that exists."""
    document = asyncapi_document()
    refs = _refs(document)
    assert refs
    for ref in refs:
        target, _, fragment = ref.partition("#")
        if not target:
            _pointer(document, fragment)
            continue
        path = (ROOT / DOCUMENT).parent / target
        assert path.is_file(), ref
        _pointer(json.loads(path.read_text(encoding="utf-8")), fragment)


def test_no_plaintext_extension_remains() -> None:
    """Nothing is described by a specification extension: the only ``x-`` keys are headers."""
    text = render_asyncapi()
    assert "x-plaintext" not in text
    assert "x-json-schema-file" not in text
    for path, _ in _walk(asyncapi_document()):
        if path and path[-1].startswith("x-"):
            assert path[:2] == ("components", "schemas"), path
            assert path[2].endswith("Headers"), path
            assert path[3] == "properties", path


def test_every_message_has_a_readable_name_and_title() -> None:
    """Messages are named in camelCase after their key, with a title in words."""
    messages = asyncapi_document()["components"]["messages"]
    assert set(messages) == {
        "caseEvent",
        "replay",
        "delivery",
        "refusalNotice",
        "refusal",
        "deadLettered",
        "evaluationRecord",
        "releaseNotice",
        "deliveryReceipt",
        "erasureReceipt",
    }
    for key, message in messages.items():
        assert message["name"] == key
        assert re.fullmatch(r"[a-z]+([A-Z][a-z]+)*", key), key
        assert re.fullmatch(r"[A-Z][a-z-]+( [A-Za-z(),-]+)+", message["title"]), message["title"]
    assert messages["caseEvent"]["title"] == "Case event (JWS inside JWE)"


def test_every_event_type_and_version_is_referenced() -> None:
    """Each catalogued event is a 2020-12 reference to its committed JSON Schema, in CaseEvent."""
    schemas = asyncapi_document()["components"]["schemas"]
    one_of = schemas["CaseEvent"]["schema"]["oneOf"]
    for event_type, version in CATALOGUE:
        key = f"{event_type}.v{version}"
        assert schemas[key] == {
            "schemaFormat": JSON_SCHEMA_FORMAT,
            "schema": {"$ref": event_schema_ref(event_type, version)},
        }
        assert {"$ref": f"#/components/schemas/{key}/schema"} in one_of
    assert len(one_of) == len(CATALOGUE)
    assert schemas["DeliveredEvent"]["schema"]["properties"]["event_type"]["enum"] == list(
        event_types()
    )
    header = schemas["DeliveryHeaders"]["properties"]["event-type"]
    assert header["enum"] == list(event_types())


def test_schemas_are_valid_in_their_declared_format() -> None:
    """2020-12 schemas check as 2020-12 and reference 2020-12 files; the others as draft-07."""
    for name, entry in asyncapi_document()["components"]["schemas"].items():
        if "schemaFormat" not in entry:
            Draft7Validator.check_schema(entry)
            continue
        assert entry["schemaFormat"] == JSON_SCHEMA_FORMAT, name
        Draft202012Validator.check_schema(entry["schema"])
        for ref in _refs(entry["schema"]):
            if not ref.startswith("#"):
                file = (ROOT / DOCUMENT).parent / ref
                assert json.loads(file.read_text(encoding="utf-8"))["$schema"] == DIALECT


def _validator(component: str) -> Draft202012Validator:
    """A 2020-12 validator for ``components.schemas.<component>.schema``, as a tool reads it.

    The committed schema files are loaded under their file URIs, so the document's
    relative references reach them and nothing else.
    """
    resources = [(DOCUMENT_URI, DRAFT202012.create_resource(asyncapi_document()))]
    for file in sorted((ROOT / "schemas" / "json").glob("*.schema.json")):
        contents = json.loads(file.read_text(encoding="utf-8"))
        resources.append((file.as_uri(), DRAFT202012.create_resource(contents)))
    registry: Registry[Any] = Registry().with_resources(resources)
    ref = f"{DOCUMENT_URI}#/components/schemas/{component}/schema"
    return Draft202012Validator({"$ref": ref}, registry=registry)


def _content(component: str) -> dict[str, Any]:
    """What an envelope's payload holds once opened, one layer down."""
    schema: dict[str, Any] = asyncapi_document()["components"]["schemas"][component]["schema"]
    return schema


def test_the_envelope_vectors_fit_the_payload_schemas() -> None:
    """The envelope test vectors match each layer: JWE, SD-JWT, and the event inside."""
    vectors = json.loads(VECTORS.read_text(encoding="utf-8"))
    case_event, delivery = _content("CaseEventEnvelope"), _content("DeliveryEnvelope")
    assert re.match(case_event["pattern"], vectors["jwe_to_hub"])
    assert re.match(case_event["contentSchema"]["pattern"], vectors["issuance"])
    assert re.match(delivery["pattern"], vectors["jwe_to_health"])
    assert re.match(delivery["contentSchema"]["pattern"], vectors["presentation"])
    assert not re.match(delivery["contentSchema"]["pattern"], vectors["issuance"])
    _validator("CaseEvent").validate(vectors["event"])


@pytest.mark.parametrize(("event_type", "version"), sorted(CATALOGUE))
def test_every_example_event_is_a_case_event(event_type: str, version: int) -> None:
    """Each committed example event validates against CaseEvent, through the file references."""
    example = ROOT / "schemas" / "examples" / f"{event_type}.v{version}.example.json"
    _validator("CaseEvent").validate(json.loads(example.read_text(encoding="utf-8")))


def test_the_notice_claims_are_the_hubs() -> None:
    """RefusalNotice names exactly the claims the hub signs, with crypto's own patterns."""
    notice = RefusalNotice(
        "schema.invalid",
        uuid.uuid4(),
        uuid.uuid4(),
        "police",
        datetime(2026, 5, 4, tzinfo=UTC),
        message_id=str(uuid.uuid4()),
        body_sha256="0" * 64,
    )
    schema = _content("RefusalNotice")
    assert set(schema["properties"]) == set(notice.claims())
    _validator("RefusalNotice").validate(notice.claims())
    patterns = {
        "message_id": notice_module.MESSAGE_ID,
        "field": notice_module.FIELD_POINTER,
        "field_error": notice_module.FIELD_ERROR,
    }
    for claim, pattern in patterns.items():
        assert schema["properties"][claim]["anyOf"][0]["pattern"] == pattern.pattern


def test_refusal_notices_correlate_with_what_was_sent() -> None:
    """A notice's correlation id is its message_id claim; the case event's, its message_id."""
    document = asyncapi_document()
    messages, ids = document["components"]["messages"], document["components"]["correlationIds"]

    def location(message: str) -> str:
        name = messages[message]["correlationId"]["$ref"].rsplit("/", 1)[-1]
        return str(ids[name]["location"])

    assert location("caseEvent") == "$message.header#/message_id"
    assert location("refusal") == "$message.header#/message_id"
    assert location("refusalNotice") == "$message.payload#/message_id"
    assert "message_id" in _content("RefusalNotice")["properties"]
    reply = document["operations"]["sendCaseEvent"]["reply"]
    assert reply["messages"] == [{"$ref": "#/channels/inbox/messages/refusalNotice"}]


def _kinds(headers: dict[str, Any]) -> set[str | None]:
    """The ``kind`` header values a message may have (``None``: no kind header)."""
    kind = headers["properties"].get("kind")
    if kind is None:
        return {None}
    values: set[str | None] = {kind["const"]} if "const" in kind else set(kind["enum"])
    return values if "kind" in headers.get("required", []) else values | {None}


def test_messages_on_one_channel_are_told_apart() -> None:
    """On each channel the messages' ``kind`` headers differ, so a message matches one only."""
    document = asyncapi_document()
    messages, schemas = document["components"]["messages"], document["components"]["schemas"]
    for channel in document["channels"].values():
        seen: set[str | None] = set()
        for ref in channel["messages"].values():
            message = messages[ref["$ref"].rsplit("/", 1)[-1]]
            kinds = _kinds(schemas[message["headers"]["$ref"].rsplit("/", 1)[-1]])
            assert not kinds & seen, channel["title"]
            seen |= kinds


def test_channels_are_the_topologys_names() -> None:
    """Queue channels are the queues the broker declares; routing-key channels their exchanges."""
    names = TopologyNames()
    channels = asyncapi_document()["channels"].values()
    queues = {c["address"] for c in channels if c["bindings"]["amqp"]["is"] == "queue"}
    exchanges = {
        c["bindings"]["amqp"]["exchange"]["name"]: c["address"]
        for c in channels
        if c["bindings"]["amqp"]["is"] == "routingKey"
    }
    assert queues == {
        names.ingress_queue,
        names.quarantine,
        names.quarantine_log,
        "agency.{party}.inbox",
    }
    assert exchanges == {
        names.ingress: "{party}",
        names.deliveries: "{party}",
        names.quarantine: None,
        names.quarantine_log: None,
    }


def test_publishing_names_the_user_and_the_routing_key() -> None:
    """An agency publishes as its own broker user, mandatory and persistent."""
    binding = asyncapi_document()["operations"]["sendCaseEvent"]["bindings"]["amqp"]
    assert binding["userId"] == "{party}"
    assert binding["mandatory"] is True
    assert binding["deliveryMode"] == 2


def test_the_yaml_is_deterministic_and_plain() -> None:
    """Rendering twice gives the same text, with no YAML anchors or aliases, and it parses back."""
    text = render_asyncapi()
    assert text == render_asyncapi()
    events = list(yaml.parse(text))
    assert not any(getattr(e, "anchor", None) for e in events)
    assert yaml.safe_load(text) == asyncapi_document()


@pytest.mark.parametrize("erasure", [False, True])
def test_a_sealed_receipt_fits_its_schemas(
    keyrings: dict[str, PartyKeyring],
    directory: KeyDirectory,
    erasure: bool,  # noqa: FBT001
) -> None:
    """What the SDK seals matches the envelope's pattern, and its claims ReceiptClaims."""
    items = [ReceiptItem(uuid.uuid4(), "ab" * 32, None if erasure else date(2032, 12, 6))]
    at = datetime.now(UTC)
    sealed = seal_receipt(
        uuid.uuid4(), items, at, keyrings["health"], directory, "hub", erasure=erasure
    )
    envelope = _content("ErasureReceiptEnvelope" if erasure else "DeliveryReceiptEnvelope")
    assert re.match(envelope["pattern"], sealed)
    opened = open_receipt(sealed, keyrings["hub"], directory, now=at, erasure=erasure)
    claims = json.loads(base64.urlsafe_b64decode(opened.token.split(".")[1] + "=="))
    _validator("ReceiptClaims").validate(claims)
    with pytest.raises(jsonschema.ValidationError):
        _validator("ReceiptClaims").validate({**claims, "receipts": []})
