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
_ERROR: Final = {
    "type": "object",
    "required": ["code"],
    "properties": {"code": {"type": "string"}, "detail": {"type": "string"}},
}


def _responses(route: Route) -> dict[str, Any]:
    responses: dict[str, Any] = {
        str(status): {
            "description": _DESCRIPTIONS.get(status, "Answer"),
            "content": {route.media_type: {"schema": {"type": "string"}}}
            if route.media_type != "application/json"
            else {"application/json": {"schema": {"type": "object"}}},
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
        operation["requestBody"] = {
            "required": True,
            "content": {"application/json": {"schema": route.body}},
        }
    return operation


def _error_response(description: str) -> dict[str, Any]:
    return {
        "description": description,
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
    }


def openapi_document(routes: Iterable[Route]) -> dict[str, Any]:
    """Describe ``routes``: one operation each, with its roles as ``x-roles``."""
    paths: dict[str, dict[str, Any]] = {}
    for route in routes:
        paths.setdefault(route.path, {})[route.method.lower()] = _operation(route)
    return {
        "openapi": "3.1.0",
        "info": {"title": TITLE, "version": VERSION},
        "paths": paths,
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
            "schemas": {"Error": _ERROR},
            "responses": {
                "Unauthorized": _error_response("No token, or not a valid one"),
                "Forbidden": _error_response("The token's role may not use this route"),
            },
        },
    }
