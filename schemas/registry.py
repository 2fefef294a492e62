"""The catalogue: which model validates an event, and the one way to parse one.

:func:`parse_event` is the schema room's front door. It reads ``event_type`` and
``schema_version``, picks the model, and validates strictly in JSON mode (strict
Python-mode validation would refuse ISO date strings; JSON mode reads them as the
wire carries them). Every failure is a :class:`~schemas.errors.SchemaError` with a
stable code and no input values in it.

A model enters the catalogue only if its group tags pass :func:`schemas.audit.audit`:
a mis-tagged model fails at import, before it can disclose anything.
"""

import json
from collections.abc import Callable, Iterable, Mapping
from types import MappingProxyType
from typing import Any, Final, get_args

from pydantic import ValidationError

from schemas.audit import audit
from schemas.base import CaseEvent
from schemas.errors import FieldProblem, SchemaError, SchemaErrorCode
from schemas.events import EVENT_MODELS
from schemas.events.referral import upcast_referral_v1

#: One step of evolution: an event of version n in, the same event as version n + 1 out.
Upcaster = Callable[[CaseEvent], CaseEvent]


def catalogue_key(model: type[CaseEvent]) -> tuple[str, int]:
    """Return the ``(event_type, schema_version)`` a model's literals declare.

    Raises:
        TypeError: the model does not pin both to exactly one literal value.
    """
    event_types = get_args(model.model_fields["event_type"].annotation)
    versions = get_args(model.model_fields["schema_version"].annotation)
    if len(event_types) != 1 or len(versions) != 1:
        raise TypeError(f"{model.__name__} must pin event_type and schema_version as literals")
    event_type, version = event_types[0], versions[0]
    if not isinstance(event_type, str) or not isinstance(version, int):
        raise TypeError(f"{model.__name__} has literals of the wrong type")
    return event_type, version


def build_catalogue(
    models: Iterable[type[CaseEvent]],
) -> Mapping[tuple[str, int], type[CaseEvent]]:
    """Index ``models`` by type and version after auditing their field groups.

    Raises:
        TypeError: a model is mis-tagged, lacks its literals, or repeats a key.
    """
    catalogue: dict[tuple[str, int], type[CaseEvent]] = {}
    for model in models:
        key = catalogue_key(model)
        problems = audit(model)
        if problems:
            raise TypeError(f"{model.__name__} fails the field-group audit: {problems}")
        if key in catalogue:
            raise TypeError(f"{model.__name__} repeats {key}")
        catalogue[key] = model
    return MappingProxyType(catalogue)


#: (event_type, schema_version) -> model, every version ever published.
CATALOGUE: Final = build_catalogue(EVENT_MODELS)
#: (event_type, version) -> the step to version + 1.
UPCASTERS: Final[Mapping[tuple[str, int], Upcaster]] = MappingProxyType(
    {("ReferralReceived", 1): upcast_referral_v1}
)


def event_types() -> tuple[str, ...]:
    """Return every catalogued event type, sorted."""
    return tuple(sorted({event_type for event_type, _ in CATALOGUE}))


def versions(event_type: str) -> tuple[int, ...]:
    """Return the catalogued versions of ``event_type``, oldest first (empty if unknown)."""
    return tuple(sorted(v for t, v in CATALOGUE if t == event_type))


def latest_version(event_type: str) -> int:
    """Return the newest version of ``event_type``.

    Raises:
        SchemaError: ``schema.unknown_type``.
    """
    known = versions(event_type)
    if not known:
        raise SchemaError(SchemaErrorCode.UNKNOWN_TYPE, "event_type is not catalogued")
    return known[-1]


def model_for(event_type: str, version: int) -> type[CaseEvent]:
    """Return the model of one event type and version.

    Raises:
        SchemaError: ``schema.unknown_type`` or ``schema.unknown_version``.
    """
    model = CATALOGUE.get((event_type, version))
    if model is None:
        latest_version(event_type)
        raise SchemaError(SchemaErrorCode.UNKNOWN_VERSION, "schema_version is not catalogued")
    return model


def _invalid(loc: str, kind: str) -> SchemaError:
    return SchemaError(SchemaErrorCode.INVALID, "not a case event", [FieldProblem(loc, kind)])


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result = dict(pairs)
    if len(result) != len(pairs):
        raise ValueError("duplicate key")  # one value per key, as the envelope demands
    return result


def _no_constants(_: str) -> Any:
    raise ValueError("NaN and Infinity are not JSON")


def _json_text(data: bytes | str | Mapping[str, Any]) -> str:
    try:
        if isinstance(data, bytes):
            return data.decode("utf-8")
        if isinstance(data, str):
            return data
        return json.dumps(data, allow_nan=False, ensure_ascii=False)
    except UnicodeDecodeError:
        raise _invalid("", "json_invalid") from None
    except (TypeError, ValueError, RecursionError):
        raise _invalid("", "json_type") from None


def _head(text: str) -> tuple[str, int]:
    try:
        data = json.loads(text, object_pairs_hook=_no_duplicates, parse_constant=_no_constants)
    except (ValueError, RecursionError):
        raise _invalid("", "json_invalid") from None
    if not isinstance(data, dict):
        raise _invalid("", "model_type")
    event_type, version = data.get("event_type"), data.get("schema_version")
    if not isinstance(event_type, str):
        raise _invalid("event_type", "missing" if event_type is None else "string_type")
    if not isinstance(version, int) or isinstance(version, bool):
        raise _invalid("schema_version", "missing" if version is None else "int_type")
    return event_type, version


def parse_event(data: bytes | str | Mapping[str, Any]) -> CaseEvent:
    """Validate one case event strictly against the model its type and version name.

    Args:
        data: the event as JSON text (``bytes`` in UTF-8 or ``str``) or as JSON data.

    Returns:
        The validated, frozen event.

    Raises:
        SchemaError: ``schema.invalid``, ``schema.unknown_type`` or
            ``schema.unknown_version``; never with input values in it.
    """
    text = _json_text(data)
    model = model_for(*_head(text))
    try:
        return model.model_validate_json(text)
    except ValidationError as error:
        raise SchemaError.invalid(error, model) from None


def upcast(event: CaseEvent) -> CaseEvent:
    """Return ``event`` as the latest version of its type (itself if already latest).

    Upcasting serves readers that handle only the latest version. The hub never
    upcasts what it forwards: the issuer signed the version it wrote.
    """
    while (step := UPCASTERS.get((event.event_type, event.schema_version))) is not None:
        event = step(event)
    return event


__all__ = [
    "CATALOGUE",
    "UPCASTERS",
    "FieldProblem",
    "SchemaError",
    "SchemaErrorCode",
    "Upcaster",
    "build_catalogue",
    "catalogue_key",
    "event_types",
    "latest_version",
    "model_for",
    "parse_event",
    "upcast",
    "versions",
]
