"""The console's OpenAPI 3.1 document, generated from the route table (pure but the writer).

Operations, parameters and request bodies come from the route table
(:mod:`hub.console.routes`); the answers' schemas from :mod:`hub.console.responses`.
The document is served at ``/openapi.json`` and committed as
``docs/console/openapi.json`` (sorted keys, two-space indent), checked up to date by
a test. Regenerate it with ``make console-openapi``, which calls
:func:`write_openapi`. (Not ``python -m``: ``hub.console`` imports this module
first, through the app, and runpy warns about running it a second time.)
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

from hub.console import responses
from hub.console.routes import ROUTES

if TYPE_CHECKING:
    from collections.abc import Iterable

    from hub.console.base import Param, Route

#: Where the document is committed, from the repository root.
DOCUMENT: Final = Path("docs/console/openapi.json")
ROOT: Final = Path(__file__).resolve().parents[2]
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
_JSON: Final = "application/json"
#: A JSON answer :mod:`hub.console.responses` has no schema for yet (a test forbids it).
UNTYPED: Final = {"type": "object"}


def _success(route: Route, media_type: str) -> dict[str, Any]:
    if media_type != _JSON:
        return {"schema": {"type": "string"}}
    return {"schema": responses.SUCCESS.get(route.name, UNTYPED)}


def _content(route: Route, status: int) -> dict[str, Any]:
    if status < _FIRST_NON_SUCCESS:
        return {
            media_type: _success(route, media_type)
            for media_type in (route.media_type, *route.alternatives)
        }
    error = responses.OTHER.get((route.name, status), responses.ref("Error"))
    return {_JSON: {"schema": error}}


def _responses(route: Route) -> dict[str, Any]:
    answers: dict[str, Any] = {
        str(status): {
            "description": _DESCRIPTIONS.get(status, "Answer"),
            "content": _content(route, status),
        }
        for status in route.statuses
    }
    if not route.public:
        answers["401"] = {"$ref": "#/components/responses/Unauthorized"}
        answers["403"] = {"$ref": "#/components/responses/Forbidden"}
    return answers


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
    """The shared answer schemas and the ``$defs`` of every request body, kept once.

    Bodies are generated with references to ``#/components/schemas/{name}``
    (pydantic's ``ref_template``), so hoisting their definitions there resolves them.

    Raises:
        ValueError: two different schemas would take one name.
    """
    shared: dict[str, Any] = dict(responses.SCHEMAS)
    for route in routes:
        for name, schema in (route.body or {}).get("$defs", {}).items():
            if shared.setdefault(name, schema) != schema:
                raise ValueError(f"two schemas are named {name}")
    return shared


def _error_response(description: str) -> dict[str, Any]:
    return {
        "description": description,
        "content": {_JSON: {"schema": responses.ref("Error")}},
    }


def api_routes(routes: Iterable[Route]) -> tuple[Route, ...]:
    """The routes of the API: all but the web pages and their assets (see :data:`PAGE_MEDIA_TYPES`).

    A page's own pictures (``Route.session``) are served to a signed-in browser,
    never to a token, so they are no part of the API either.
    """
    return tuple(
        route for route in routes if route.media_type not in PAGE_MEDIA_TYPES and not route.session
    )


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
            "schemas": _shared_schemas(routes),
            "responses": {
                "Unauthorized": _error_response("No token, or not a valid one"),
                "Forbidden": _error_response("The token's role may not use this route"),
            },
        },
    }


def render_openapi() -> str:
    """The document of the console's route table as committed: sorted keys, two-space indent."""
    return json.dumps(openapi_document(ROUTES), indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def write_openapi(path: Path = ROOT / DOCUMENT) -> Path:
    """Write the document to ``path`` and return it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render_openapi(), encoding="utf-8", newline="\n")
    return path
