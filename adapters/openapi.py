"""The adapter's record listener as OpenAPI 3.1: ``docs/adapters/records.openapi.json``.

The document is built here from the listener's own limits and error codes, and
committed; a test holds the committed file equal to :func:`records_openapi` and
valid OpenAPI 3.1. A system in any language generates its client from it.
``python -m adapters.openapi`` writes it.

A native record's own fields differ per agency and are documented with each
adapter (``docs/adapters/<agency>.md``); the document gives each agency's sample
record as an example of the request body.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any, Final

from adapters.registry import TRANSLATORS
from adapters.runner import MAX_RECORD_BYTES, RECORD_ID

ROOT: Final = Path(__file__).resolve().parent.parent
DOCUMENT: Final = ROOT / "docs" / "adapters" / "records.openapi.json"
#: The sample record of each agency shown as an example request.
EXAMPLES: Final = {
    "police": "police/samples/referral.json",
    "probation": "probation/samples/management_plan_updated.json",
    "health": "health/samples/risk_assessment.json",
    "advocacy": "advocacy/samples/referral.json",
}
RECORD_ERROR_CODES: Final = ("record.invalid", "record.unsupported")


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


def _examples() -> dict[str, Any]:
    return {
        agency: {
            "summary": f"a {agency} record (fictional)",
            "value": json.loads((ROOT / "adapters" / path).read_text()),
        }
        for agency, path in EXAMPLES.items()
    }


def _json(schema: str) -> dict[str, Any]:
    return {"application/json": {"schema": {"$ref": f"#/components/schemas/{schema}"}}}


def _responses() -> dict[str, Any]:
    accepted = "Translated and kept in the outbox: published now, or once the broker takes it."
    unauthorised = "A token is required here and the Authorization header does not carry it."
    refused = "Not a record this adapter translates; kept in input_dir/rejected/ if there is one."
    return {
        "202": {"description": accepted, "content": _json("Accepted")},
        "401": {"description": unauthorised, "content": _json("Unauthorised")},
        "413": {"description": f"The body is longer than {MAX_RECORD_BYTES} bytes."},
        "422": {"description": refused, "content": _json("RecordError")},
    }


def records_openapi() -> dict[str, Any]:
    """The OpenAPI 3.1 document of ``POST /records`` and ``GET /health``."""
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Case-event hub agency adapter: record listener",
            "version": "1",
            "description": (
                "Run `hub-adapter AGENCY --config FILE` beside the agency's system with"
                " `listen_port` set. On loopback no token is needed; on any other address"
                " every POST carries `Authorization: Bearer <token>` (listen_token_file)."
                " Deliveries come back as files in output_dir or as a POST to webhook_url."
            ),
        },
        "servers": [{"url": "http://127.0.0.1:8081"}],
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
            "schemas": {
                "NativeRecord": {
                    "type": "object",
                    "description": (
                        "One native record of the agency, as its adapter reads it: "
                        + ", ".join(
                            f"{agency}: docs/adapters/{agency}.md" for agency in TRANSLATORS
                        )
                        + "."
                    ),
                },
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
            },
        },
        "paths": {
            "/records": {
                "post": {
                    "operationId": "postRecord",
                    "summary": "Translate one native record into case events and publish them",
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
                                "schema": {"$ref": "#/components/schemas/NativeRecord"},
                                "examples": _examples(),
                            }
                        },
                    },
                    "responses": _responses(),
                }
            },
            "/health": {
                "get": {
                    "operationId": "health",
                    "summary": "Whether the adapter's loop answers",
                    "security": [{}],
                    "responses": {
                        "200": {
                            "description": "The adapter runs.",
                            "content": _json("Health"),
                        }
                    },
                }
            },
        },
    }


def render() -> str:
    """The document as committed: indented, keys in order, one newline at the end."""
    return json.dumps(records_openapi(), indent=2, ensure_ascii=False) + "\n"


if __name__ == "__main__":
    DOCUMENT.write_text(render(), encoding="utf-8")
    sys.stdout.write(f"{DOCUMENT}\n")
