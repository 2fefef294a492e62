"""Each adapter's record listener as OpenAPI 3.1: ``docs/adapters/<agency>.records.openapi.json``.

One document per agency, since one adapter serves one agency: its ``POST /records``
request body is that agency's native record, typed by the record's own pydantic
models (``adapters/<agency>/record.py``, the shape every translator checks), with
the agency's samples as examples. The limits and error codes are the listener's
own. The documents are committed; a test holds each equal to
:func:`records_openapi` and valid OpenAPI 3.1, and every sample valid against its
agency's schema. A system in any language generates its client from them.
``python -m adapters.openapi`` writes them.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any, Final

from adapters.native.shape import record_schema
from adapters.registry import RECORDS, record_model_for
from adapters.runner import MAX_RECORD_BYTES, RECORD_ID

ROOT: Final = Path(__file__).resolve().parent.parent
DOCS: Final = ROOT / "docs" / "adapters"
RECORD_ERROR_CODES: Final = ("record.invalid", "record.unsupported")
#: The agencies with an adapter, each with its own document.
AGENCIES: Final = tuple(RECORDS)


def document_path(agency: str) -> Path:
    """Return where ``agency``'s document is committed."""
    return DOCS / f"{agency}.records.openapi.json"


def samples(agency: str) -> list[Path]:
    """Return the good sample records of ``agency`` (``adapters/<agency>/samples/*.json``)."""
    return sorted((ROOT / "adapters" / agency / "samples").glob("*.json"))


def _error_schema() -> dict[str, Any]:
    return {
        "type": "object",
        "description": "Why the record was not taken; it names the field, never its value.",
        "required": ["code", "record", "field", "problem"],
        "additionalProperties": False,
        "properties": {
            "code": {"type": "string", "enum": list(RECORD_ERROR_CODES)},
            "record": {"type": "string", "description": "the record's id (X-Record-Id, or made)"},
            "field": {
                "type": "string",
                "description": "the native field path, e.g. persons[0].role",
            },
            "problem": {"type": "string", "description": "what is wrong, without the value"},
        },
    }


def _listener_schemas() -> dict[str, Any]:
    return {
        "Accepted": {
            "type": "object",
            "required": ["events", "published"],
            "additionalProperties": False,
            "properties": {
                "events": {
                    "type": "array",
                    "description": "the ids of the case events the record became",
                    "items": {"type": "string", "format": "uuid"},
                },
                "published": {
                    "type": "boolean",
                    "description": (
                        "true: the broker confirmed every event; false: they wait"
                        " in the outbox and go when the broker takes them"
                    ),
                },
            },
        },
        "RecordError": _error_schema(),
        "Unauthorised": {
            "type": "object",
            "required": ["code"],
            "properties": {"code": {"type": "string", "const": "auth.invalid"}},
        },
        "Health": {
            "type": "object",
            "required": ["status"],
            "properties": {"status": {"type": "string", "const": "ok"}},
        },
    }


def _components(agency: str) -> tuple[str, dict[str, Any]]:
    """Return the name of the agency's record schema and every schema of the document.

    Raises:
        ValueError: a record model is named like one of the listener's own schemas.
    """
    model = record_model_for(agency)
    root, schemas = record_schema(model)
    schemas[model.__name__] = root
    listener = _listener_schemas()
    clash = set(schemas) & set(listener)
    if clash:
        raise ValueError(f"{agency} record models clash with the listener's: {sorted(clash)}")
    return model.__name__, dict(sorted(schemas.items())) | listener


def _examples(agency: str) -> dict[str, Any]:
    return {
        path.stem: {
            "summary": f"adapters/{agency}/samples/{path.name} (fictional)",
            "value": json.loads(path.read_text(encoding="utf-8")),
        }
        for path in samples(agency)
    }


def _json(schema: str) -> dict[str, Any]:
    return {"application/json": {"schema": {"$ref": f"#/components/schemas/{schema}"}}}


def _responses() -> dict[str, Any]:
    accepted = "Translated and kept in the outbox: published now, or once the broker takes it."
    unauthorised = "A token is required here and the Authorization header does not carry it."
    refused = (
        "Not a record this adapter translates: it does not fit the request schema, or it"
        " breaks a rule between fields the agency's page names. Kept in input_dir/rejected/"
        " if there is one."
    )
    return {
        "202": {"description": accepted, "content": _json("Accepted")},
        "401": {"description": unauthorised, "content": _json("Unauthorised")},
        "413": {"description": f"The body is longer than {MAX_RECORD_BYTES} bytes."},
        "422": {"description": refused, "content": _json("RecordError")},
    }


def _info(agency: str) -> dict[str, Any]:
    return {
        "title": f"Case-event hub {agency} adapter: record listener",
        "version": "1",
        "description": (
            f"Run `hub-adapter {agency} --config FILE` beside the {agency} system with"
            " `listen_port` set. On loopback no token is needed; on any other address"
            " every POST carries `Authorization: Bearer <token>` (listen_token_file)."
            " Deliveries come back as files in output_dir or as a POST to webhook_url."
            f" What a {agency} record is, field by field: docs/adapters/{agency}.md."
        ),
    }


def _post_records(record: str, agency: str) -> dict[str, Any]:
    return {
        "operationId": "postRecord",
        "summary": f"Translate one {agency} record into case events and publish them",
        "security": [{}, {"bearer": []}],
        "parameters": [
            {
                "name": "X-Record-Id",
                "in": "header",
                "required": False,
                "description": "the record's own id, named in errors; made when absent",
                "schema": {"type": "string", "pattern": RECORD_ID.pattern},
            }
        ],
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {
                    "schema": {"$ref": f"#/components/schemas/{record}"},
                    "examples": _examples(agency),
                }
            },
        },
        "responses": _responses(),
    }


def records_openapi(agency: str) -> dict[str, Any]:
    """The OpenAPI 3.1 document of ``agency``'s ``POST /records`` and ``GET /health``.

    Raises:
        LookupError: no adapter exists for ``agency``.
    """
    record, schemas = _components(agency)
    health = {
        "operationId": "health",
        "summary": "Whether the adapter's loop answers",
        "security": [{}],
        "responses": {"200": {"description": "The adapter runs.", "content": _json("Health")}},
    }
    return {
        "openapi": "3.1.0",
        "info": _info(agency),
        "servers": [{"url": "http://127.0.0.1:8081"}],
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
            "schemas": schemas,
        },
        "paths": {
            "/records": {"post": _post_records(record, agency)},
            "/health": {"get": health},
        },
    }


def render(agency: str) -> str:
    """``agency``'s document as committed: indented, keys in order, one newline at the end."""
    return json.dumps(records_openapi(agency), indent=2, ensure_ascii=False) + "\n"


if __name__ == "__main__":
    for name in AGENCIES:
        document_path(name).write_text(render(name), encoding="utf-8")
        sys.stdout.write(f"{document_path(name)}\n")
