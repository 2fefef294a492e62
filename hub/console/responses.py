"""What each JSON route of the console answers, as JSON Schema 2020-12 (pure data).

OpenAPI 3.1 takes these schemas as they are. :data:`SUCCESS` holds each JSON
route's successful answer by route name; :data:`OTHER` the few error statuses that
answer with something else than :data:`ERROR`; :data:`SCHEMAS` the shapes shared
between them, which :mod:`hub.console.openapi` puts under ``components/schemas``
and the others reach by ``$ref``. Objects the handlers build whole are closed
(``required`` and ``additionalProperties: false``), so a field added or dropped in
a handler without its schema fails ``tests/hub/console/test_openapi.py``, which
validates the live answers of an embedded console against these schemas.

The ledger entry comes from the ledger's own model (:class:`~hub.ledger.LedgerEntry`)
and the queue numbers from the fields of :class:`~hub.broker.QueueStats`, so those
follow their sources; the rest is written out from the handlers.
"""

from __future__ import annotations

import dataclasses
import re
from typing import Any, Final

from hub.broker.base import BROKER_HEADERS, PUBLISH_HEADERS, QueueStats
from hub.console.agreements import AGREEMENT_ID, BLOCKED, FLOWS, LIMITED, NONE
from hub.console.operations import MAX_BROWSE
from hub.console.subject_access import UUID_TEXT
from hub.ledger import ROLE_WORDS, LedgerEntry
from hub.ledger.entries import PERSON_PSEUDONYM
from schemas.agreements import AgreementStatus, ClauseForm, ControllerRole
from schemas.base import FieldGroup
from schemas.parties import PARTY_PATTERN

Schema = dict[str, Any]

#: Where the OpenAPI document keeps shared schemas (pydantic's ``ref_template`` too).
REFS: Final = "#/components/schemas/{model}"


def ref(name: str) -> Schema:
    """A reference to the shared schema ``name``."""
    return {"$ref": REFS.format(model=name)}


def nullable(schema: Schema) -> Schema:
    """``schema``, or null."""
    return {"anyOf": [schema, {"type": "null"}]}


def closed(properties: dict[str, Schema], *, optional: tuple[str, ...] = ()) -> Schema:
    """An object with exactly ``properties``, all required but ``optional``."""
    return {
        "type": "object",
        "properties": properties,
        "required": [name for name in properties if name not in optional],
        "additionalProperties": False,
    }


def array(items: Schema, **bounds: int) -> Schema:
    """An array of ``items`` (``minItems``... as keywords)."""
    return {"type": "array", "items": items, **bounds}


def _pattern(text: str | re.Pattern[str]) -> Schema:
    return {"type": "string", "pattern": text if isinstance(text, str) else text.pattern}


def _header(name: str) -> Schema:
    """A header as a quarantine browse shows it: its allow-list pattern, or null."""
    rule = PUBLISH_HEADERS.get(name) or BROKER_HEADERS[name]
    if not isinstance(rule, re.Pattern):
        raise TypeError(f"header {name} is not text")
    return nullable(_pattern(rule))


STRING: Final[Schema] = {"type": "string"}
BOOLEAN: Final[Schema] = {"type": "boolean"}
INTEGER: Final[Schema] = {"type": "integer"}
COUNT: Final[Schema] = {"type": "integer", "minimum": 0}
NUMBER: Final[Schema] = {"type": "number"}
DATE: Final[Schema] = {"type": "string", "format": "date"}
DATE_TIME: Final[Schema] = {"type": "string", "format": "date-time"}
UUID: Final[Schema] = {"type": "string", "format": "uuid", "pattern": UUID_TEXT.pattern}
PARTY: Final[Schema] = _pattern(PARTY_PATTERN)
GROUP: Final[Schema] = {"type": "string", "enum": [g.value for g in FieldGroup]}
ROLE: Final[Schema] = {"type": "string", "enum": sorted(ROLE_WORDS)}
#: Every refusal: a stable code, and a detail that names what failed (never a value).
ERROR: Final[Schema] = closed({"code": STRING, "detail": STRING}, optional=("detail",))

#: The types of :class:`QueueStats` fields, as JSON Schema.
_FIELD_TYPES: Final[dict[str, Schema]] = {
    "str": STRING,
    "bool": BOOLEAN,
    "int": COUNT,
    "int | None": nullable(COUNT),
    "float": NUMBER,
    "float | None": nullable(NUMBER),
}


def _queue_stats() -> dict[str, Schema]:
    """One property per field of :class:`QueueStats`, as its ``as_json`` writes them.

    Raises:
        TypeError: a field of a type with no schema here.
    """
    found = {f.name: str(f.type) for f in dataclasses.fields(QueueStats)}
    unknown = sorted(name for name, kind in found.items() if kind not in _FIELD_TYPES)
    if unknown:
        raise TypeError(f"QueueStats fields with no JSON Schema: {unknown}")
    return {name: _FIELD_TYPES[kind] for name, kind in found.items()}


def _operations() -> dict[str, Schema]:
    # the queue view adds the console history's verdict to the broker's numbers
    stats = _queue_stats() | {"growing": BOOLEAN}
    return {
        "QueueStats": closed(stats),
        "QuarantineStats": closed(
            {
                **stats,
                "by_reason": {"type": "object", "additionalProperties": {**COUNT, "minimum": 1}},
                "counted": COUNT,
                "complete": BOOLEAN,
            },
            optional=tuple(name for name in stats if name != "queue"),
        ),
        "QuarantinedMessage": closed(
            {
                "quarantine_id": nullable(UUID),
                "message_id": nullable(STRING),
                "reason": STRING,
                "refusal_id": _header("decision-id"),
                "event_id": _header("event-id"),
                "event_type": _header("event-type"),
                "sender": nullable(PARTY),
                "queued_at": nullable(DATE_TIME),
                "size_bytes": COUNT,
                "origin_exchange": _header("x-first-death-exchange"),
                "origin_queue": _header("x-first-death-queue"),
                "routing_key": nullable(STRING),
            }
        ),
        "ReplayOutcome": {
            "oneOf": [
                closed({"outcome": {"const": "refused"}, "code": STRING}),
                closed({"outcome": {"enum": ["recorded", "pending"]}, "code": {"type": "null"}}),
            ]
        },
    }


def _health() -> dict[str, Schema]:
    checkpoint = {"tree_size": COUNT}
    return {
        "Checkpoint": {
            "oneOf": [
                closed({**checkpoint, "valid": {"const": True}, "time": INTEGER, "age": INTEGER}),
                closed({**checkpoint, "valid": {"const": False}, "code": STRING}),
            ]
        },
        "Probe": {
            "oneOf": [
                closed({"ok": {"const": True}, "code": {"type": "null"}}),
                closed({"ok": {"const": False}, "code": STRING}),
            ]
        },
        "KeyDue": closed(
            {"party": PARTY, "use": {"enum": ["sig", "enc"]}, "not_after": nullable(DATE_TIME)}
        ),
        "AgreementDue": closed(
            {
                "agreement": _pattern(AGREEMENT_ID),
                "version": {**INTEGER, "minimum": 1},
                "date": {"enum": ["review_date", "valid_until"]},
                "on": DATE,
            }
        ),
        "Readiness": closed(
            {
                "ready": BOOLEAN,
                "checks": closed(
                    {
                        "broker": ref("Probe"),
                        "ledger": ref("Probe"),
                        "keys": closed(
                            {
                                "ok": BOOLEAN,
                                "expired": array(ref("KeyDue")),
                                "due": array(ref("KeyDue")),
                            }
                        ),
                    }
                ),
                "checkpoint": nullable(ref("Checkpoint")),
                "agreements_due": array(ref("AgreementDue")),
                "horizon_days": COUNT,
            }
        ),
    }


def _ledger() -> dict[str, Schema]:
    """The ledger entry and its parts from the ledger's model; the console's views of it."""
    entry = LedgerEntry.model_json_schema(ref_template=REFS)
    parts: dict[str, Schema] = entry.pop("$defs")
    grant = parts["GrantRecord"]
    return {
        **parts,
        "LedgerEntry": entry,
        "TitledGroup": closed({"group": GROUP, "title": STRING}),
        "GrantDetail": {
            **grant,
            "title": "GrantDetail",
            "description": "One grant of an entry, with its reference and its groups titled.",
            "properties": {
                **grant["properties"],
                "reference": STRING,
                "titled": array(ref("TitledGroup")),
            },
            "required": [*grant["required"], "reference", "titled"],
        },
    }


def _subject_access() -> dict[str, Schema]:
    rows = array(ref("ReleasedRow"))
    return {
        "ReleasedRow": closed(
            {
                "number": {**INTEGER, "minimum": 1},
                "date": DATE,
                "event": STRING,
                "from": STRING,
                "to": STRING,
                "shared": array(STRING),
                "not_shared": array(STRING),
                "reasons": array(
                    closed({"purpose": STRING, "lawful_basis": STRING, "agreement": STRING})
                ),
            }
        ),
        "SubjectAccessReport": closed(
            {
                "reference": nullable(STRING),
                "produced_on": DATE,
                "about": STRING,
                "rows": rows,
                "note": STRING,
            }
        ),
        "SubjectAccessAnnex": closed(
            {
                "draft_id": UUID,
                "person_pseudonym": _pattern(PERSON_PSEUDONYM),
                "role": ROLE,
                "rows": array(
                    closed(
                        {
                            "number": {**INTEGER, "minimum": 1},
                            "position": COUNT,
                            "entry_hash": _pattern(r"^[0-9a-f]{64}$"),
                            "decision_id": UUID,
                            "recorded_at": DATE_TIME,
                            "clauses": array(STRING),
                        }
                    )
                ),
            }
        ),
    }


def _summary() -> dict[str, Schema]:
    return {
        "id": _pattern(AGREEMENT_ID),
        "version": {**INTEGER, "minimum": 1},
        "reference": STRING,
        "title": STRING,
        "status": {"type": "string", "enum": [s.value for s in AgreementStatus]},
        "in_force": BOOLEAN,
        "parties": array(PARTY),
        "valid_from": DATE,
        "valid_until": nullable(DATE),
        "review_date": DATE,
        "review_due": BOOLEAN,
        "ending_soon": BOOLEAN,
    }


def _agreements() -> dict[str, Schema]:
    dates = {"valid_from": DATE, "valid_until": nullable(DATE), "review_date": DATE}
    clause = {
        "id": STRING,
        "provider": PARTY,
        "recipient": PARTY,
        "event_types": array(STRING),
        "form": {"enum": [f.value for f in ClauseForm]},
        "groups": array(GROUP),
        "purpose": STRING,
        "lawful_basis": STRING,
        "gateway": STRING,
        **dates,
        "in_force": BOOLEAN,
        "retention": closed({"months": {**INTEGER, "minimum": 1}, "disposal": STRING}),
    }
    role = {"type": "string", "enum": [r.value for r in ControllerRole]}
    version = {
        **_summary(),
        "parties": array(closed({"party": PARTY, "organisation": STRING, "role": role})),
        "classification": {"enum": ["OFFICIAL", "OFFICIAL-SENSITIVE"]},
        "dpia_reference": STRING,
        "source": nullable(STRING),
        "purposes": array(closed({"id": STRING, "description": STRING})),
        "signatories": array(closed({"party": PARTY, "position": STRING, "signed_on": DATE})),
        "clauses": array(ref("AgreementClause")),
    }
    cell = {
        "state": {"enum": [FLOWS, LIMITED, BLOCKED, NONE]},
        "clauses": array(STRING),
        "event_types": array(STRING),
        "blocked_by": array(STRING),
    }
    return {
        "AgreementSummary": closed(_summary()),
        "AgreementVersion": closed(version),
        "AgreementClause": closed(clause),
        "SharingCell": closed(cell),
    }


#: The shapes shared between answers, by their name under ``components/schemas``.
SCHEMAS: Final[dict[str, Schema]] = {
    "Error": ERROR,
    **_operations(),
    **_health(),
    **_ledger(),
    **_subject_access(),
    **_agreements(),
}

_DOCUMENT: Final = closed(
    {
        "openapi": _pattern(r"^3\.1\.[0-9]+$"),
        "info": closed({"title": STRING, "version": STRING}),
        "paths": {"type": "object", "propertyNames": {"pattern": "^/"}},
        "components": closed(
            {
                "securitySchemes": {"type": "object"},
                "schemas": {"type": "object"},
                "responses": {"type": "object"},
            }
        ),
    }
)
_MATRIX: Final = closed(
    {
        "at": DATE_TIME,
        "groups": array(ref("TitledGroup")),
        "parties": array(closed({"party": PARTY, "name": STRING})),
        "rules": array(closed({"id": STRING, "groups": array(GROUP)})),
        "pairs": array(
            closed(
                {
                    "provider": PARTY,
                    "recipient": PARTY,
                    "groups": closed({g.value: ref("SharingCell") for g in FieldGroup}),
                }
            )
        ),
    }
)
_ENTRY_DETAIL: Final = closed(
    {
        "entry": ref("LedgerEntry"),
        "position": COUNT,
        "format": {"enum": [1, 2]},
        "disclosed": array(ref("TitledGroup")),
        "withheld": array(
            closed(
                {
                    "group": GROUP,
                    "title": STRING,
                    "reason": nullable({"enum": ["not_granted", "safety_rule"]}),
                    "rule": nullable(STRING),
                }
            )
        ),
        "clauses": array(STRING),
        "grants": array(ref("GrantDetail")),
        "persons": array(ref("PersonInEvent")),
    }
)
_DRAFT: Final = closed(
    {
        "draft_id": UUID,
        "subject": closed(
            {"person_pseudonym": _pattern(PERSON_PSEUDONYM), "role": ROLE, "role_words": STRING}
        ),
        "drafted_by": STRING,
        "release_by": DATE,
        "rows": array(ref("ReleasedRow")),
        "left_out": closed({"rows": COUNT, "groups": COUNT}),
        "note": STRING,
    }
)

#: The successful JSON answer of each JSON route, by route name.
SUCCESS: Final[dict[str, Schema]] = {
    "openapi": _DOCUMENT,
    "health": closed({"status": {"const": "alive"}}),
    "ready": ref("Readiness"),
    "ledger_status": closed(
        {
            "intact": BOOLEAN,
            "entries": COUNT,
            "checkpoints": COUNT,
            "checkpoint_size": COUNT,
            "broken_at": nullable(COUNT),
            "code": nullable(STRING),
            "detail": STRING,
            "latest_checkpoint": nullable(ref("Checkpoint")),
            "notes": COUNT,
            "witnessed_size": nullable(COUNT),
            "witnessed_by": array(STRING),
            "witnesses": array(
                closed(
                    {
                        "name": STRING,
                        "cosigned_size": COUNT,
                        "status": STRING,
                        "code": STRING,
                        "answered_at": nullable(COUNT),
                        "refused_size": nullable(COUNT),
                        "fork": BOOLEAN,
                    }
                )
            ),
        }
    ),
    "duties": closed(
        {
            "read_at": nullable(STRING),
            "receipts": array(
                closed(
                    {
                        "recipient": _pattern(PARTY_PATTERN),
                        "count": COUNT,
                        "at_least": BOOLEAN,
                        "oldest": STRING,
                        "age_seconds": nullable(COUNT),
                    }
                )
            ),
            "erasures": array(
                closed(
                    {
                        "recipient": _pattern(PARTY_PATTERN),
                        "count": COUNT,
                        "at_least": BOOLEAN,
                        "earliest": DATE,
                        "days_overdue": nullable(COUNT),
                    }
                )
            ),
        }
    ),
    "ledger_search": closed({"entries": array(ref("LedgerEntry")), "next_after": nullable(COUNT)}),
    "ledger_entry": _ENTRY_DETAIL,
    "subject_access": _DRAFT,
    "subject_access_release": {"oneOf": [ref("SubjectAccessReport"), ref("SubjectAccessAnnex")]},
    "queues": closed(
        {
            "ingress": nullable(ref("QueueStats")),
            "inboxes": {
                "type": "object",
                "propertyNames": {"pattern": PARTY_PATTERN},
                "additionalProperties": nullable(ref("QueueStats")),
            },
            "quarantine": ref("QuarantineStats"),
            "dead_letters": nullable(ref("QueueStats")),
        }
    ),
    "quarantine": closed(
        {
            "messages": array(ref("QuarantinedMessage"), maxItems=MAX_BROWSE),
            "limit": {**INTEGER, "minimum": 1, "maximum": MAX_BROWSE},
        }
    ),
    "quarantine_replay": closed(
        {
            "quarantine_id": UUID,
            "replayed": {"const": True},
            "removed": BOOLEAN,
            "next": ref("ReplayOutcome"),
        }
    ),
    "agreements": closed(
        {"at": DATE_TIME, "horizon_days": COUNT, "agreements": array(ref("AgreementSummary"))}
    ),
    "agreements_matrix": _MATRIX,
    "agreement": closed(
        {
            "id": _pattern(AGREEMENT_ID),
            "current": {**INTEGER, "minimum": 1},
            "versions": array(ref("AgreementVersion"), minItems=1),
        }
    ),
    "evaluation": closed(
        {
            "feed": closed(
                {
                    "feeds": BOOLEAN,
                    "area": nullable(STRING),
                    "model": nullable(STRING),
                    "clauses": array(
                        closed(
                            {
                                "agreement": STRING,
                                "clause": STRING,
                                "provider": PARTY,
                                "recipient": PARTY,
                                "event_types": array(STRING),
                                "purpose": STRING,
                                "lawful_basis": STRING,
                            }
                        )
                    ),
                }
            ),
            "releases": array(
                {
                    "allOf": [ref("ReleaseRecord")],
                    "properties": {
                        "position": COUNT,
                        "recorded_at": DATE_TIME,
                        "evaluator": nullable(PARTY),
                    },
                    "required": ["position", "recorded_at", "evaluator"],
                }
            ),
            "reports": array(
                closed(
                    {
                        "name": STRING,
                        "verified": BOOLEAN,
                        "problem": nullable(STRING),
                        "manifest_sha256": nullable(STRING),
                        "release_id": nullable(STRING),
                        "charts": array(STRING),
                    }
                )
            ),
        }
    ),
}
#: Error statuses whose answer is not :data:`ERROR`, by (route name, status).
OTHER: Final[dict[tuple[str, int], Schema]] = {
    # Not ready: the same report, so a probe or an operator sees which check failed.
    ("ready", 503): ref("Readiness"),
}
