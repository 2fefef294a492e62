"""The console's OpenAPI 3.1 document, generated from the route table (pure)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Final

if TYPE_CHECKING:
    from collections.abc import Iterable

    from hub.console.base import Param, Route

TITLE: Final = "case-event-hub console"
VERSION: Final = "0.1.0"
_DESCRIPTIONS: Final = {
    200: "OK",
    303: "See other (a form's result page)",
    400: "The request is malformed; the code says how",
    404: "No such item",
    409: "Conflicts with the item's current state",
    503: "Not ready, or a dependency is unavailable",
}
_FIRST_NON_SUCCESS: Final = 300
#: Media types of the web pages and their stylesheet: served to browsers, not the API.
PAGE_MEDIA_TYPES: Final = frozenset({"text/html", "text/css"})
_ERROR: Final = {
    "type": "object",
    "required": ["code"],
    "properties": {"code": {"type": "string"}, "detail": {"type": "string"}},
}


def _content(media_type: str) -> dict[str, Any]:
    return {"schema": {"type": "object" if media_type == "application/json" else "string"}}


def _responses(route: Route) -> dict[str, Any]:
    success = {route.media_type: _content(route.media_type)} | {
        media_type: _content(media_type) for media_type in route.alternatives
    }
    responses: dict[str, Any] = {
        str(status): {
            "description": _DESCRIPTIONS.get(status, "Answer"),
            "content": success
            if status < _FIRST_NON_SUCCESS
            else {"application/json": _content("application/json")},
        }
        for status in route.statuses
    }
    if not route.public:
        responses["401"] = {"$ref": "#/components/responses/Unauthorized"}
        responses["403"] = {"$ref": "#/components/responses/Forbidden"}
    return responses


def _parameter(param: Param) -> dict[str, Any]:
    described = {"description": param.description} if param.description else {}
    return {
        "name": param.name,
        "in": param.location,
        "required": param.location == "path" or param.required,
        "schema": param.schema,
        **described,
    }


def _operation(route: Route) -> dict[str, Any]:
    operation: dict[str, Any] = {
        "operationId": route.name,
        "summary": route.summary,
        "security": [] if route.public else [{"bearer": []}],
        "x-roles": sorted(role.value for role in route.roles),
        "responses": _responses(route),
    }
    if route.parameters:
        operation["parameters"] = [_parameter(p) for p in route.parameters]
    if route.body is not None:
        body = {k: v for k, v in route.body.items() if k != "$defs"}
        operation["requestBody"] = {
            "required": True,
            "content": {"application/json": {"schema": body}},
        }
    return operation


def _shared_schemas(routes: Iterable[Route]) -> dict[str, Any]:
    """The ``$defs`` of every request body, kept once under ``components/schemas``.

    Bodies are generated with references to ``#/components/schemas/{name}``
    (pydantic's ``ref_template``), so hoisting their definitions there resolves them.
    """
    shared: dict[str, Any] = {}
    for route in routes:
        shared.update((route.body or {}).get("$defs", {}))
    return shared


def _error_response(description: str) -> dict[str, Any]:
    return {
        "description": description,
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
    }


def api_routes(routes: Iterable[Route]) -> tuple[Route, ...]:
    """The routes of the JSON API: all but the web pages (see :data:`PAGE_MEDIA_TYPES`)."""
    return tuple(route for route in routes if route.media_type not in PAGE_MEDIA_TYPES)


def openapi_document(routes: Iterable[Route]) -> dict[str, Any]:
    """Describe the API among ``routes``: one operation each, with its roles as ``x-roles``."""
    routes = api_routes(routes)
    paths: dict[str, dict[str, Any]] = {}
    for route in routes:
        paths.setdefault(route.path, {})[route.method.lower()] = _operation(route)
    return {
        "openapi": "3.1.0",
        "info": {"title": TITLE, "version": VERSION},
        "paths": paths,
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
            "schemas": {"Error": _ERROR, **_shared_schemas(routes)},
            "responses": {
                "Unauthorized": _error_response("No token, or not a valid one"),
                "Forbidden": _error_response("The token's role may not use this route"),
            },
        },
    }
