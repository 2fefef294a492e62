"""The published shape of a native record: pydantic models, their JSON Schema, one check.

Each agency's adapter declares the record it accepts as pydantic models
(``adapters/<agency>/record.py``). The models are the single source of two things:
the JSON Schema committed in the agency's OpenAPI document (:mod:`adapters.openapi`)
and the check every translator makes of every record (:func:`check_shape`). So the
contract an integrator generates classes from cannot drift from what the adapter
takes: a record the schema refuses, the adapter refuses.

A native value that feeds an event field unchanged is declared with
:class:`EventValue` (the event field's own type, bounds and pattern); a native code
with :class:`Code` (the catalogue's vocabulary in upper case); a native list whose
items are renamed with :class:`EventBounds` (the event list's length bounds). The
vocabularies, patterns and bounds therefore come from :mod:`schemas` and change
with it. Rules between fields (one linked suspect, dates in order) stay with the
translators; JSON Schema states them only where it can.
"""

from __future__ import annotations

import enum
import functools
import json
import types
from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated, Any, Final, Union, get_args, get_origin

import annotated_types
from pydantic import BaseModel, ConfigDict, ValidationError
from pydantic.alias_generators import to_camel
from pydantic.fields import FieldInfo
from pydantic.json_schema import GenerateJsonSchema
from pydantic_core import core_schema

from adapters.base import RecordError
from adapters.native.reading import INVALID
from schemas.base import AsRole, InGroup

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

    from pydantic import GetCoreSchemaHandler
    from pydantic_core import CoreSchema

#: Where the models' JSON Schemas point for each other: the OpenAPI components.
REF_TEMPLATE: Final = "#/components/schemas/{model}"


class NativeModel(BaseModel):
    """A part of a native record whose unknown keys the adapter ignores.

    Keys are camelCase (the Python names in snake case); validation is strict, as
    JSON is: a number is not text, text is not a date unless it is one.
    """

    # Records are validated from JSON by their camelCase keys, never built in Python, and
    # a snake_case key must not pass for its field: so no validation by name.
    model_config = ConfigDict(  # type: ignore[pydantic-alias]
        strict=True, frozen=True, extra="allow", alias_generator=to_camel
    )


class ClosedModel(NativeModel):
    """A part of a native record whose unknown keys the adapter refuses."""

    model_config = ConfigDict(extra="forbid")


@functools.cache
def native_vocabulary(vocabulary: type[enum.StrEnum]) -> type[enum.StrEnum]:
    """Return ``vocabulary`` in native form: the same members, their codes in upper case."""
    members = {member.name: member.value.upper() for member in vocabulary}
    native = enum.StrEnum(vocabulary.__name__, members)  # type: ignore[misc]  # built from the catalogue
    summary = (vocabulary.__doc__ or vocabulary.__name__).strip().splitlines()[0]
    native.__doc__ = f"{summary} Native codes: the catalogue's, in upper case."
    return native


def _event_field(model: type[BaseModel], name: str) -> tuple[Any, list[Any]]:
    """Return one event field's annotation and its metadata, without group or role tags."""
    info = model.model_fields[name]
    kept = [item for item in info.metadata if not isinstance(item, InGroup | AsRole)]
    return info.annotation, kept


def _annotated(annotation: Any, metadata: Sequence[Any]) -> Any:
    return Annotated[(annotation, *metadata)] if metadata else annotation


@dataclass(frozen=True)
class Code:
    """A native code of ``vocabulary``: its catalogue value in upper case (``INTERIM_SPO``)."""

    vocabulary: type[enum.StrEnum]

    def __get_pydantic_core_schema__(
        self, _source: Any, handler: GetCoreSchemaHandler
    ) -> CoreSchema:
        """Validate and describe the value as the native vocabulary."""
        return handler.generate_schema(native_vocabulary(self.vocabulary))


@dataclass(frozen=True)
class Fixed:
    """A value that is always ``value`` (a code system's URI, a fixed id)."""

    value: str

    def __get_pydantic_core_schema__(
        self, _source: Any, _handler: GetCoreSchemaHandler
    ) -> CoreSchema:
        """Validate and describe the value as the one constant."""
        return core_schema.literal_schema([self.value])


@dataclass(frozen=True)
class EventValue:
    """A native value that feeds event field ``name`` of ``model`` as it stands."""

    model: type[BaseModel]
    name: str

    def __get_pydantic_core_schema__(
        self, _source: Any, handler: GetCoreSchemaHandler
    ) -> CoreSchema:
        """Validate and describe the value with the event field's own type."""
        return handler.generate_schema(_annotated(*_event_field(self.model, self.name)))


def _length_bounds(annotation: Any, metadata: Sequence[Any]) -> list[Any]:
    """Collect the length bounds of a field, looking inside ``X | None`` and aliases."""
    found: list[Any] = []
    for item in metadata:
        if isinstance(item, annotated_types.MinLen | annotated_types.MaxLen):
            found.append(item)
        elif isinstance(item, FieldInfo):
            found += _length_bounds(None, item.metadata)
    if get_origin(annotation) is Annotated:
        found += _length_bounds(None, annotation.__metadata__)
    elif get_origin(annotation) in {Union, types.UnionType}:
        for arg in get_args(annotation):
            found += _length_bounds(arg, ())
    return found


@dataclass(frozen=True)
class EventBounds:
    """A native list that feeds list field ``name`` of ``model``, item by item renamed."""

    model: type[BaseModel]
    name: str

    def __get_pydantic_core_schema__(
        self, source: Any, handler: GetCoreSchemaHandler
    ) -> CoreSchema:
        """Validate and describe the native list with the event list's length bounds."""
        bounds = _length_bounds(*_event_field(self.model, self.name))
        if not bounds:
            raise TypeError(f"{self.model.__name__}.{self.name} has no length bounds")
        return handler.generate_schema(_annotated(source, bounds))


class RecordJsonSchema(GenerateJsonSchema):
    """JSON Schema as the OpenAPI documents carry it: no titles on fields, no null defaults.

    A field's title repeats its name, and some generators name classes after it; a
    ``null`` default says no more than the field being optional.
    """

    def field_title_should_be_set(self, schema: Any) -> bool:  # noqa: ARG002 - the hook's signature
        """Never title a field."""
        return False

    def default_schema(self, schema: core_schema.WithDefaultSchema) -> Any:
        """Describe a default, unless it is ``null``."""
        described = super().default_schema(schema)
        if isinstance(described, dict) and described.get("default", 0) is None:
            del described["default"]
        return described


def record_schema(model: type[BaseModel]) -> tuple[dict[str, Any], dict[str, Any]]:
    """Return the JSON Schema of a record model and the schemas it refers to.

    Returns:
        The record's own schema, and name -> schema of every model and vocabulary it
        uses, its references pointing at ``#/components/schemas/<name>``.
    """
    schema = model.model_json_schema(ref_template=REF_TEMPLATE, schema_generator=RecordJsonSchema)
    return schema, schema.pop("$defs", {})


def native_path(loc: Sequence[int | str], record: Any) -> str:
    """Return pydantic's error location as a native path, ``events[0].details.priority``.

    A tagged union adds the tag it tried (``REFERRAL``) to the location; the path
    follows the record itself, so such a step, a value of the object rather than one
    of its keys, is left out.
    """
    path, node = "", record
    for part in loc:
        if isinstance(part, int):
            path += f"[{part}]"
            node = node[part] if isinstance(node, list) and part < len(node) else None
            continue
        if isinstance(node, dict) and part not in node and part in node.values():
            continue
        path += f".{part}" if path else part
        node = node.get(part) if isinstance(node, dict) else None
    return path or "(document)"


def check_shape(model: type[BaseModel], record: Mapping[str, Any], record_id: str) -> None:
    """Hold ``record`` to its published shape, as JSON (strict) validation does.

    Raises:
        RecordError: ``record.invalid`` naming the first native field that does not
            fit, with pydantic's error type and never the value.
    """
    try:
        text = json.dumps(record, allow_nan=False, ensure_ascii=False)
    except (TypeError, ValueError):
        raise RecordError(INVALID, record_id, "(document)", "not JSON") from None
    try:
        model.model_validate_json(text)
    except ValidationError as error:
        first = error.errors(include_url=False, include_input=False, include_context=False)[0]
        loc = first["loc"]
        if first["type"] == "extra_forbidden":  # a key the sender made up is never repeated
            field = f"{native_path(loc[:-1], record)}.<key>".removeprefix("(document).")
        else:
            field = native_path(loc, record)
        problem = f"does not fit the record schema ({first['type']})"
        raise RecordError(INVALID, record_id, field, problem) from None
