"""The AsyncAPI document: committed and current, self-consistent, deterministic."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from hub.broker.asyncapi import DOCUMENT, asyncapi_document, render_asyncapi
from hub.broker.topology import TopologyNames
from schemas.registry import CATALOGUE, event_types

ROOT = Path(__file__).resolve().parents[3]


def test_the_committed_document_is_current() -> None:
    """docs/asyncapi.yaml is what the generator writes from today's topology and schemas."""
    committed = (ROOT / DOCUMENT).read_text(encoding="utf-8")
    assert committed == render_asyncapi(), (
        "docs/asyncapi.yaml is stale: run `.venv/bin/python -m hub.broker.asyncapi`"
    )


def _refs(node: Any) -> list[str]:
    if isinstance(node, dict):
        own = [node["$ref"]] if isinstance(node.get("$ref"), str) else []
        return own + [ref for value in node.values() for ref in _refs(value)]
    if isinstance(node, list):
        return [ref for item in node for ref in _refs(item)]
    return []


def _resolve(document: dict[str, Any], ref: str) -> Any:
    node: Any = document
    for part in ref.removeprefix("#/").split("/"):
        node = node[part.replace("~1", "/").replace("~0", "~")]
    return node


def test_every_reference_resolves() -> None:
    """Each ``$ref`` in the document points at something inside it."""
    document = asyncapi_document()
    refs = _refs(document)
    assert refs
    for ref in refs:
        assert ref.startswith("#/"), ref
        _resolve(document, ref)


def test_every_event_schema_and_type_is_described() -> None:
    """Each catalogued event type and version has a schema; the type header lists them all."""
    schemas = asyncapi_document()["components"]["schemas"]
    for event_type, version in CATALOGUE:
        assert f"{event_type}.v{version}" in schemas
    header = schemas["PublishedHeaders"]["properties"]["event-type"]
    assert header["enum"] == list(event_types())
    assert schemas["PublishedHeaders"]["additionalProperties"] is False


def test_channels_are_the_topologys_names() -> None:
    """The channels' addresses are the exchanges and queues the broker declares."""
    names = TopologyNames()
    addresses = {c["address"] for c in asyncapi_document()["channels"].values()}
    assert addresses == {
        names.ingress,
        names.ingress_queue,
        names.deliveries,
        names.quarantine,
        "agency.{party}.inbox",
    }


def test_the_yaml_is_deterministic_and_plain() -> None:
    """Rendering twice gives the same text, with no YAML anchors or aliases, and it parses back."""
    text = render_asyncapi()
    assert text == render_asyncapi()
    events = list(yaml.parse(text))
    assert not any(getattr(e, "anchor", None) for e in events)
    assert yaml.safe_load(text) == asyncapi_document()
