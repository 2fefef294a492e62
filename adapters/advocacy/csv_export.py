"""The CSV export: the advocate's case records one per row, to case events and back.

The columns are the flat part of the JSON record (docs/adapters/advocacy.md has the
table): a nested object becomes several columns (``safeAddressTown``), a list one
cell of ``;``-separated items (``personal_safety;home_security``), a safety measure
``kind:status`` and a yes/no ``true`` or ``false``. An empty cell is an absent value.
Routines have no columns: a record with routines is exported as JSON.

Each column feeds one event field path, and the draft records that column as the
source of that path, so whatever the schema refuses is reported against the column.
Victim location columns feed only paths under ``location`` (group G).
"""

from __future__ import annotations

import copy
from typing import TYPE_CHECKING, Any, Final, NamedTuple

from adapters.base import RecordError
from adapters.native.reading import INVALID
from hub.errors import HubError

if TYPE_CHECKING:
    from collections.abc import Callable

    from adapters.native.reading import Draft

SEPARATOR: Final = ";"
HEADER: Final = ("recordType", "recordId", "caseReference", "occurredAt", "recordedAt")


class Codec(NamedTuple):
    """How one column's cell reads into an event value and writes back."""

    read: Callable[[str], Any]
    write: Callable[[Any], str]


class CellError(HubError, ValueError):
    """A cell is not in its column's form; the detail names the form, not the value."""

    def __init__(self, detail: str) -> None:
        """Say which form the cell should have."""
        super().__init__(INVALID, detail)


def _read_text(cell: str) -> str:
    return cell


def _read_list(cell: str) -> list[str]:
    return cell.split(SEPARATOR)


def _write_list(values: list[str]) -> str:
    return SEPARATOR.join(values)


def _read_flag(cell: str) -> bool:
    if cell.lower() not in {"true", "false"}:
        raise CellError("is not true or false")
    return cell.lower() == "true"


def _read_measures(cell: str) -> list[dict[str, str]]:
    pairs = [item.split(":") for item in cell.split(SEPARATOR)]
    if any(len(pair) != 2 for pair in pairs):  # noqa: PLR2004 - a pair has two parts
        raise CellError("is not kind:status pairs separated by ;")
    return [{"kind": kind, "status": status} for kind, status in pairs]


def _write_measures(measures: list[dict[str, str]]) -> str:
    return SEPARATOR.join(f"{m['kind']}:{m['status']}" for m in measures)


def _write_one(values: list[str]) -> str:
    if len(values) != 1:
        raise ValueError("an advocacy referral record names exactly one victim")
    return values[0]


TEXT: Final = Codec(_read_text, str)
LIST: Final = Codec(_read_list, _write_list)
FLAG: Final = Codec(_read_flag, lambda value: "true" if value else "false")
MEASURES: Final = Codec(_read_measures, _write_measures)
ONE: Final = Codec(lambda cell: [cell], _write_one)

#: ``recordType`` -> column -> (event field path, codec), in the export's column order.
KINDS: Final[dict[str, dict[str, tuple[str, Codec]]]] = {
    "referral": {
        "victimReference": ("victim_refs", ONE),
        "perpetratorReference": ("subject_ref", TEXT),
        "source": ("referral_source", TEXT),
        "behaviourBeganOn": ("behaviour_began_on", TEXT),
        "crimeReferences": ("crime_references", LIST),
        "suspectedOffences": ("suspected_offences", LIST),
        "priorityRequested": ("priority_requested", TEXT),
        "concerns": ("concerns", TEXT),
    },
    "safety_plan": {
        "victimReference": ("victim_ref", TEXT),
        "perpetratorReference": ("subject_ref", TEXT),
        "riskLevel": ("advocate_risk_level", TEXT),
        "victimGivenName": ("victim.given_name", TEXT),
        "victimFamilyName": ("victim.family_name", TEXT),
        "victimPreferredName": ("victim.preferred_name", TEXT),
        "safeContactMethod": ("victim.safe_contact.method", TEXT),
        "safeContactDetail": ("victim.safe_contact.detail", TEXT),
        "safeContactSafeTimes": ("victim.safe_contact.safe_times", TEXT),
        "safeContactLeaveMessages": ("victim.safe_contact.leave_messages", FLAG),
        "safeAddressLines": ("location.home.lines", LIST),
        "safeAddressTown": ("location.home.town", TEXT),
        "safeAddressPostcode": ("location.home.postcode", TEXT),
        "addressConfidential": ("location.confidential_home", FLAG),
        "workplaceLines": ("location.workplace.lines", LIST),
        "workplaceTown": ("location.workplace.town", TEXT),
        "workplacePostcode": ("location.workplace.postcode", TEXT),
        "needs": ("needs.needs", LIST),
        "needsSummary": ("needs.summary", TEXT),
        "safetyPlanMeasures": ("safety_plan.measures", MEASURES),
        "safetyPlanReviewDate": ("safety_plan.review_on", TEXT),
    },
}
#: Every column of the export, in order: the header, then each kind's new columns.
COLUMNS: Final = tuple(dict.fromkeys([*HEADER, *(c for kind in KINDS.values() for c in kind)]))
#: Event fields a kind always has, whatever its cells (a plan may list no measures yet).
_ALWAYS: Final[dict[str, dict[str, Any]]] = {"safety_plan": {"safety_plan": {"measures": []}}}


def _put(data: dict[str, Any], path: str, value: Any) -> None:
    *parents, name = path.split(".")
    for part in parents:
        data = data.setdefault(part, {})
    data[name] = value


def _get(data: dict[str, Any], path: str) -> Any:
    value: Any = data
    for part in path.split("."):
        if value is None:
            return None
        value = value[part]
    return value


def _sources(columns: dict[str, tuple[str, Codec]]) -> dict[str, str]:
    """Map every field path and each of its parents to the first column under it."""
    sources: dict[str, str] = {}
    for column, (path, _) in columns.items():
        parts = path.split(".")
        for end in range(1, len(parts) + 1):
            sources.setdefault(".".join(parts[:end]), column)
    return sources


def check_cells(cells: dict[str, str], record_type: str, record: str) -> None:
    """Refuse a row with a value in a column its record type does not define.

    Raises:
        RecordError: naming the column, never the cell.
    """
    columns = KINDS[record_type]
    for column, cell in cells.items():
        if cell and column not in columns and column not in HEADER:
            raise RecordError(INVALID, record, column, "is not a column of this record type")


def read(cells: dict[str, str], record_type: str, draft: Draft) -> None:
    """Read one row's own cells (by column) into ``draft``, each column its path's source.

    Raises:
        RecordError: a cell not in its column's form, naming the column.
    """
    columns = KINDS[record_type]
    draft.data |= copy.deepcopy(_ALWAYS.get(record_type, {}))
    draft.sources |= _sources(columns)
    for column, (path, codec) in columns.items():
        cell = cells.get(column, "")
        if cell:
            try:
                _put(draft.data, path, codec.read(cell))
            except CellError as error:
                raise RecordError(INVALID, draft.record, column, error.detail) from None


def write(record_type: str, data: dict[str, Any]) -> dict[str, str]:
    """Return one event's own cells (by column) from its JSON data; ``None`` is empty.

    Raises:
        ValueError: the event has no CSV form (a referral naming several victims).
    """
    cells: dict[str, str] = {}
    for column, (path, codec) in KINDS[record_type].items():
        value = _get(data, path)
        if value is not None:
            cells[column] = codec.write(value)
    return cells
