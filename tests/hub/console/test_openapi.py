"""/openapi.json: a valid OpenAPI 3.1 document listing exactly the routes of the table.

The document is committed (docs/console/openapi.json) and kept current; every JSON
answer has a typed schema, and the live answers of an embedded console match them.
"""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient
from jsonschema import Draft202012Validator
from openapi_spec_validator import OpenAPIV31SpecValidator
from referencing import Registry
from referencing.jsonschema import DRAFT202012

from hub.broker import OutgoingMessage
from hub.console.base import Role
from hub.console.openapi import DOCUMENT, api_routes, openapi_document, render_openapi
from hub.console.responses import SUCCESS
from hub.console.routes import ROUTES, ROUTES_BY_NAME
from schemas.samples import SUBJECT

from .ledger_case import bearer

if TYPE_CHECKING:
    from collections.abc import Iterator

    from hub.console.base import Route
    from hub.context import HubContext

API = api_routes(ROUTES)

Client = TestClient[web.Request, web.Application]


async def test_served_without_auth_and_valid(client: Client) -> None:
    """The document is public and validates as OpenAPI 3.1."""
    response = await client.get("/openapi.json")
    assert response.status == 200
    document = await response.json()
    assert document["openapi"].startswith("3.1")
    OpenAPIV31SpecValidator(document).validate()


def test_lists_exactly_the_table() -> None:
    """Every (method, path) of the table, and nothing else, with its roles as x-roles."""
    document = openapi_document(ROUTES)
    listed = {
        (method.upper(), path, op["operationId"], tuple(op["x-roles"]))
        for path, operations in document["paths"].items()
        for method, op in operations.items()
    }
    expected = {
        (r.method, r.path, r.name, tuple(sorted(role.value for role in r.roles))) for r in API
    }
    assert listed == expected


def test_protected_routes_need_the_bearer_scheme() -> None:
    """Protected operations require the bearer scheme and document 401 and 403."""
    for route in API:
        op = openapi_document(ROUTES)["paths"][route.path][route.method.lower()]
        if route.public:
            assert op["security"] == []
        else:
            assert op["security"] == [{"bearer": []}]
            assert {"401", "403"} <= set(op["responses"])


def test_pages_are_not_api_operations() -> None:
    """The web pages and their pictures are left out of the API document, and only they are."""
    pages = {r.name for r in ROUTES if r.media_type in {"text/html", "text/css"} or r.session}
    assert pages, "the console serves web pages"
    assert {r.name for r in API} == {r.name for r in ROUTES} - pages


# --- the committed document and its typed answers ------------------------------------

ROOT = Path(__file__).resolve().parents[3]
JSON = "application/json"
UNTYPED = {"type": "object"}
#: Where the live tests find the document, so its ``#/components/...`` references resolve.
URI = "urn:case-event-hub:console:openapi"
#: The JSON routes other than GET, each answered live by the POST test below.
POSTED = frozenset(
    {"ledger_search", "subject_access", "subject_access_release", "quarantine_replay"}
)
PURPOSE = {"purpose": "audit", "reference": "INC-1"}


def test_the_committed_document_is_current() -> None:
    """docs/console/openapi.json is what the generator writes from today's route table."""
    committed = (ROOT / DOCUMENT).read_text(encoding="utf-8")
    assert committed == render_openapi(), (
        "docs/console/openapi.json is stale: run `make console-openapi`"
    )


def test_the_committed_document_is_valid() -> None:
    """The committed file validates as OpenAPI 3.1."""
    OpenAPIV31SpecValidator(json.loads((ROOT / DOCUMENT).read_text(encoding="utf-8"))).validate()


def _json_answers(document: dict[str, Any]) -> Iterator[tuple[str, str, str, Any]]:
    for path, operations in document["paths"].items():
        for method, op in operations.items():
            for status, answer in op["responses"].items():
                schema = answer.get("content", {}).get(JSON, {}).get("schema")
                if schema is not None:
                    yield path, method, status, schema


def test_no_json_success_is_an_untyped_object() -> None:
    """Every JSON 2xx answer has a schema of its own, not a bare object."""
    untyped = [
        (method, path, status)
        for path, method, status, schema in _json_answers(openapi_document(ROUTES))
        if status.startswith("2") and schema == UNTYPED
    ]
    assert untyped == [], "add their schemas to hub/console/responses.py"
    assert set(SUCCESS) <= {route.name for route in API}, "a schema for no route"


def _refs(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        if isinstance(node.get("$ref"), str):
            yield node["$ref"]
        for value in node.values():
            yield from _refs(value)
    elif isinstance(node, list):
        for item in node:
            yield from _refs(item)


def test_every_reference_resolves() -> None:
    """Each ``$ref`` names a component the document holds."""
    document = openapi_document(ROUTES)
    for reference in set(_refs(document)):
        assert reference.startswith("#/components/"), reference
        kind, _, name = reference.removeprefix("#/components/").partition("/")
        assert name in document["components"].get(kind, {}), reference


def _pointer(*parts: str) -> str:
    return "/".join(part.replace("~", "~0").replace("/", "~1") for part in parts)


def check_answer(document: dict[str, Any], route: Route, status: int, answer: Any) -> None:
    """Validate ``answer`` against the schema the document gives ``route`` for ``status``."""
    responses = document["paths"][route.path][route.method.lower()]["responses"]
    assert str(status) in responses, f"{route.name} answered an undocumented {status}"
    pointer = _pointer(route.path, route.method.lower(), "responses", str(status), "content", JSON)
    registry = Registry().with_resource(URI, DRAFT202012.create_resource(document))
    validator = Draft202012Validator(
        {"$ref": f"{URI}#/paths/{pointer}/schema"},
        registry=registry,
        format_checker=Draft202012Validator.FORMAT_CHECKER,
    )
    errors = [f"{list(e.absolute_path)}: {e.message}" for e in validator.iter_errors(answer)]
    assert errors == [], f"{route.name} {status} does not match its schema: {errors}"


def _in_quarantine(ctx: HubContext) -> OutgoingMessage:
    """A refusal as the hub quarantines it, naming its sender (so it can be replayed)."""
    decision = str(uuid.uuid4())
    return OutgoingMessage(
        ctx.names.quarantine_log,
        "",
        b"not-a-jwe",
        decision,
        content_type="application/octet-stream",
        headers={
            "kind": "refusal",
            "reason": "schema.invalid",
            "decision-id": decision,
            "sender": "police",
            "event-id": str(uuid.uuid4()),
            "event-type": "ReferralReceived",
        },
    )


@pytest.mark.usefixtures("case")
async def test_live_gets_match_their_schemas(
    client: Client, hub_ctx: HubContext, tokens: dict[Role, str]
) -> None:
    """Every JSON GET route answers the embedded hub, a case and a quarantine as documented."""
    await hub_ctx.broker.publish(_in_quarantine(hub_ctx))
    document = openapi_document(ROUTES)
    gets = [r for r in API if r.method == "GET" and r.media_type == JSON]
    for route in gets:
        response = await client.get(route.sample_url, headers=bearer(tokens[Role.ADMIN]))
        answer = await response.json()
        assert response.status == 200 or route.name == "ready", (route.name, answer)
        check_answer(document, route, response.status, answer)
    assert {"queues", "quarantine", "ledger_entry", "agreement"} <= {r.name for r in gets}


@pytest.mark.usefixtures("case")
async def test_live_posts_match_their_schemas(
    client: Client, hub_ctx: HubContext, tokens: dict[Role, str]
) -> None:
    """Search, subject access draft and release (report and annex), and a replay, as documented."""
    document = openapi_document(ROUTES)
    officer, admin = bearer(tokens[Role.IG_OFFICER]), bearer(tokens[Role.ADMIN])
    answered: set[str] = set()

    async def call(name: str, path: str, body: Any, headers: dict[str, str]) -> Any:
        response = await client.post(path, json=body, headers=headers)
        answer = await response.json()
        assert response.status < 300, (name, answer)
        check_answer(document, ROUTES_BY_NAME[name], response.status, answer)
        answered.add(name)
        return answer

    await call("ledger_search", "/api/ledger/search", {**PURPOSE, "limit": 5}, officer)
    draft = {**PURPOSE, "person": SUBJECT}
    made = await call("subject_access", "/api/subject-access", draft, officer)
    release = f"/api/subject-access/{made['draft_id']}/release"
    for fmt in ("json", "annex"):
        await call("subject_access_release", release, {**PURPOSE, "format": fmt}, admin)
    held = _in_quarantine(hub_ctx)
    await hub_ctx.broker.publish(held)
    replay = f"/api/quarantine/{held.message_id}/replay"
    await call("quarantine_replay", replay, {"reason": "cause_fixed"}, admin)
    posts = {r.name for r in API if r.method != "GET" and r.media_type == JSON}
    assert answered == POSTED == posts, "answer every JSON route that is not a GET here"
