"""The console's OpenAPI 3.1 document, generated from the route table (pure)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Final

if TYPE_CHECKING:
    from collections.abc import Iterable

    from hub.console.base import Route

TITLE: Final = "case-event-hub console"
VERSION: Final = "0.1.0"
_DESCRIPTIONS: Final = {200: "OK", 503: "Not ready, or a dependency is unavailable"}
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


def _operation(route: Route) -> dict[str, Any]:
    return {
        "operationId": route.name,
        "summary": route.summary,
        "security": [] if route.public else [{"bearer": []}],
        "x-roles": sorted(role.value for role in route.roles),
        "responses": _responses(route),
    }


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
