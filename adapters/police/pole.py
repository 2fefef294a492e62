"""The POLE document: its entities, the links from events to them, and writing one back.

A document holds ``persons``, ``objects`` and ``locations`` (each with a local ``id``)
and ``events`` that link to them by ``personIds``, ``objectIds`` and ``locationIds``.
Persons carry a partnership pseudonym (``partnershipRef``) and a ``role``: ``SUSPECT``,
``VICTIM`` (also people an order protects) or ``OFFICER`` (police-internal: linked
officers are never translated). Objects are ``CRIME_REPORT`` (a crime reference) or
``ORDER``; locations are ``EXCLUSION_ZONE`` or ``BREACH_PLACE`` and feed group G only.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from adapters.native.reading import Node

ENTITY_KINDS = (("persons", "personIds"), ("objects", "objectIds"), ("locations", "locationIds"))
_PREFIX = {"persons": "PER", "objects": "OBJ", "locations": "LOC"}


@dataclass(frozen=True)
class Links:
    """The entities one POLE event links to, grouped by role or type."""

    event: Node
    persons: dict[str, list[Node]]
    objects: dict[str, list[Node]]
    locations: dict[str, list[Node]]

    def refs(self, role: str) -> list[str]:
        """Return the partnership references of the linked persons with ``role``."""
        return [person.get("partnershipRef").text() for person in self.persons.get(role, [])]

    def subject(self, *, required: bool) -> str | None:
        """Return the one linked suspect's reference (``None`` if none and not required)."""
        refs = self.refs("SUSPECT")
        if len(refs) > 1 or (required and not refs):
            raise self.event.get("personIds").fail("needs exactly one linked suspect")
        return refs[0] if refs else None

    def one(self, kinds: dict[str, list[Node]], kind: str, key: str) -> Node | None:
        """Return the at most one linked entity of ``kind``."""
        found = kinds.get(kind, [])
        if len(found) > 1:
            raise self.event.get(key).fail(f"links more than one {kind}")
        return found[0] if found else None


def index(document: Node) -> dict[str, dict[str, Node]]:
    """Index the document's entities by collection and local id."""
    indexed: dict[str, dict[str, Node]] = {}
    for collection, _ in ENTITY_KINDS:
        entities: dict[str, Node] = {}
        for entity in document.get(collection).items():
            local_id = entity.get("id").text()
            if local_id in entities:
                raise entity.get("id").fail("repeats another entity's id")
            entities[local_id] = entity
        indexed[collection] = entities
    return indexed


def links_of(event: Node, entities: dict[str, dict[str, Node]]) -> Links:
    """Resolve an event's links, grouped by person role and entity type."""
    grouped: dict[str, dict[str, list[Node]]] = {}
    for collection, key in ENTITY_KINDS:
        by_kind: dict[str, list[Node]] = {}
        for link in event.get(key).items():
            entity = entities[collection].get(link.text())
            if entity is None:
                raise link.fail(f"refers to no entry of {collection}")
            kind = entity.get("role" if collection == "persons" else "type").text()
            by_kind.setdefault(kind, []).append(entity)
        grouped[collection] = by_kind
    return Links(event, grouped["persons"], grouped["objects"], grouped["locations"])


@dataclass
class DocumentWriter:
    """Builds a POLE document, numbering entities in order of first use."""

    entities: dict[str, list[dict[str, Any]]] = field(
        default_factory=lambda: {collection: [] for collection, _ in ENTITY_KINDS}
    )

    def add(self, collection: str, entity: dict[str, Any]) -> str:
        """Add ``entity`` (without id) unless an equal one exists; return its local id."""
        existing = self.entities[collection]
        for known in existing:
            if {k: v for k, v in known.items() if k != "id"} == entity:
                return str(known["id"])
        local_id = f"{_PREFIX[collection]}-{len(existing) + 1}"
        existing.append({"id": local_id} | entity)
        return local_id

    def person(self, ref: str, role: str) -> str:
        """Add a person by partnership reference and role."""
        return self.add("persons", {"partnershipRef": ref, "role": role})

    def crime_report(self, reference: str) -> str:
        """Add a crime report object by its crime reference."""
        return self.add("objects", {"type": "CRIME_REPORT", "crimeReference": reference})
