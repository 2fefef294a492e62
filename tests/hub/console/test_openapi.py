"""/openapi.json: a valid OpenAPI 3.1 document listing exactly the routes of the table."""

from __future__ import annotations

from aiohttp import web
from aiohttp.test_utils import TestClient
from openapi_spec_validator import OpenAPIV31SpecValidator

from hub.console.openapi import api_routes, openapi_document
from hub.console.routes import ROUTES

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
    """The web pages are left out of the API document, and only they are."""
    pages = {r.name for r in ROUTES if r.media_type in {"text/html", "text/css"}}
    assert pages, "the console serves web pages"
    assert {r.name for r in API} == {r.name for r in ROUTES} - pages
