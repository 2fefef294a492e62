"""The advocate's CSV export: rows become the same events as JSON records; bad rows stand alone."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Any

import pytest

from adapters.advocacy import csv_export
from adapters.advocacy.translate import AdvocacyTranslator, event_id_for
from adapters.base import RecordError
from adapters.native import table
from adapters.native.table import MAX_CELL, TableTranslator
from schemas.base import CaseEvent, FieldGroup, split_groups
from schemas.samples import sample_event

SAMPLES = Path(__file__).parents[3] / "adapters" / "advocacy" / "samples"
CSV_SAMPLE = SAMPLES / "case_records.csv"
BAD_SAMPLE = SAMPLES / "bad" / "case_records_two_bad_rows.csv"
TRANSLATOR = AdvocacyTranslator()
LOCATION_STRINGS = ("1 Example Street", "ZZ1 1ZZ", "Example Works", "2 Sample Road", "ZZ1 2ZZ")


def rows_of(text: str) -> list[dict[str, str]]:
    """Parse CSV text into rows by column."""
    return list(csv.DictReader(io.StringIO(text, newline="")))


def sample_rows() -> list[dict[str, str]]:
    """The good sample's rows by column."""
    return rows_of(CSV_SAMPLE.read_text(encoding="utf-8"))


def to_csv(rows: list[dict[str, str]], columns: tuple[str, ...] = csv_export.COLUMNS) -> bytes:
    """Write rows by column as CSV bytes, every column of ``columns``."""
    out = io.StringIO(newline="")
    writer = csv.DictWriter(out, fieldnames=columns, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue().encode()


def translate(data: bytes, name: str = "export.csv") -> list[Any]:
    """Translate an export; return each row's events or error."""
    _, results = TRANSLATOR.table_to_events(data, file_name=name)
    return [result.error if result.error is not None else list(result.events) for result in results]


def only_row(row: dict[str, str]) -> list[CaseEvent]:
    """Translate an export of one row; return its events, or raise its error."""
    _, (result,) = TRANSLATOR.table_to_events(to_csv([row]), file_name="export.csv")
    if result.error is not None:
        raise result.error
    return list(result.events)


def test_translator_reads_tables() -> None:
    """The advocacy translator is one the runner hands CSV files to."""
    assert isinstance(TRANSLATOR, TableTranslator)


def test_sample_rows_give_the_expected_events() -> None:
    """Each row of the sample becomes one event of its record type, by advocacy."""
    results = translate(CSV_SAMPLE.read_bytes(), CSV_SAMPLE.name)
    assert [[e.event_type for e in events] for events in results] == [
        ["ReferralReceived"],
        ["VictimSafetyPlanUpdated"],
        ["VictimSafetyPlanUpdated"],
    ]
    assert {e.author_agency for events in results for e in events} == {"advocacy"}


def test_sample_round_trips() -> None:
    """CSV -> events -> CSV gives the same rows, the record id having become the event id."""
    events = [e for events in translate(CSV_SAMPLE.read_bytes()) for e in events]
    expected = [row | {"recordId": event_id_for(row["recordId"])} for row in sample_rows()]
    assert rows_of(TRANSLATOR.to_table(events)) == expected


@pytest.mark.parametrize("json_name", ["referral.json", "safety_plan_stalker_unknown.json"])
def test_a_row_gives_the_same_event_as_its_json_record(json_name: str) -> None:
    """The same record exported as a CSV row and as JSON gives the very same event."""
    native = json.loads((SAMPLES / json_name).read_text(encoding="utf-8"))
    (from_json,) = TRANSLATOR.to_events(native, record_id=json_name)
    (row,) = [row for row in sample_rows() if row["recordId"] == native["recordId"]]
    assert only_row(row) == [from_json]


def test_events_written_as_csv_and_read_again_are_equal() -> None:
    """Events come back from their CSV form unchanged, event id included."""
    referral = sample_event("ReferralReceived").model_copy(update={"author_agency": "advocacy"})
    events = [referral, *only_row(sample_rows()[1])]
    again = translate(TRANSLATOR.to_table(events).encode())
    assert again == [[event] for event in events]


def test_location_columns_feed_only_group_g() -> None:
    """The safe address and workplace travel only in the group G field."""
    (event,) = only_row(sample_rows()[1])
    groups = split_groups(event)
    assert groups[FieldGroup.G]["location"]["confidential_home"] is True
    assert groups[FieldGroup.G]["location"]["workplace"]["lines"] == [
        "Example Works",
        "2 Sample Road",
    ]
    for group, values in groups.items():
        dumped = json.dumps(values)
        assert any(s in dumped for s in LOCATION_STRINGS) == (group is FieldGroup.G)


def test_lists_and_measures_are_split_at_semicolons() -> None:
    """Needs and measures are ;-separated, a measure kind:status, a yes/no true or false."""
    (event,) = only_row(sample_rows()[1] | {"safeContactLeaveMessages": "TRUE"})
    data = event.model_dump(mode="json")
    assert data["needs"]["needs"] == [
        "personal_safety",
        "home_security",
        "criminal_justice_support",
    ]
    assert data["safety_plan"]["measures"][1] == {"kind": "safe_route_plan", "status": "in_place"}
    assert data["victim"]["safe_contact"]["leave_messages"] is True


def test_bad_rows_are_refused_alone_naming_row_and_column() -> None:
    """In the bad sample row 2 goes through; rows 3 and 4 are refused by row and column only."""
    text = BAD_SAMPLE.read_text(encoding="utf-8")
    results = translate(text.encode(), BAD_SAMPLE.name)
    assert [e.event_type for e in results[0]] == ["ReferralReceived"]
    errors = [(e.code, e.record, e.field) for e in results[1:]]
    assert errors == [
        ("record.invalid", f"{BAD_SAMPLE.name} row 3", "safeAddressPostcode"),
        ("record.invalid", f"{BAD_SAMPLE.name} row 4", "safetyPlanMeasures"),
    ]
    for error in results[1:]:
        assert "EX1 1AA!" not in str(error)
        assert "phone_and_device_check" not in str(error)


def _changed(change: dict[str, str]) -> dict[str, str]:
    return sample_rows()[1] | change


@pytest.mark.parametrize(
    ("change", "code", "field"),
    [
        ({"recordType": "court_support"}, "record.unsupported", "recordType"),
        ({"recordType": ""}, "record.invalid", "recordType"),
        ({"recordId": ""}, "record.invalid", "recordId"),
        ({"caseReference": "Secret Case"}, "record.invalid", "caseReference"),
        ({"occurredAt": "2026-06-14T10:00:00Z"}, "record.invalid", "recordedAt"),
        ({"concerns": "Secret concern"}, "record.invalid", "concerns"),
        ({"victimReference": ""}, "record.invalid", "victimReference"),
        ({"victimGivenName": ""}, "record.invalid", "victimGivenName"),
        ({"safeContactMethod": "Secret Method"}, "record.invalid", "safeContactMethod"),
        ({"safeContactLeaveMessages": "Secret yes"}, "record.invalid", "safeContactLeaveMessages"),
        ({"safeAddressLines": ""}, "record.invalid", "safeAddressLines"),
        ({"workplaceLines": "Secret Works;"}, "record.invalid", "workplaceLines"),
        ({"needs": "secret_need"}, "record.invalid", "needs"),
        ({"safetyPlanMeasures": "personal_alarm:secret"}, "record.invalid", "safetyPlanMeasures"),
        ({"safetyPlanReviewDate": "Secret date"}, "record.invalid", "safetyPlanReviewDate"),
    ],
)
def test_row_errors_name_the_column_never_the_value(
    change: dict[str, str], code: str, field: str
) -> None:
    """A bad cell is refused naming the row and its column; the cell appears nowhere."""
    with pytest.raises(RecordError) as caught:
        only_row(_changed(change))
    assert (caught.value.code, caught.value.record, caught.value.field) == (
        code,
        "export.csv row 2",
        field,
    )
    for value in change.values():
        if value and value != "court_support":
            assert value not in str(caught.value)


def test_referral_columns_follow_their_own_record_type() -> None:
    """A referral row with a referral cell left empty where required is refused at that column."""
    with pytest.raises(RecordError) as caught:
        only_row(sample_rows()[0] | {"source": ""})
    assert caught.value.field == "source"


def test_a_partial_header_is_enough() -> None:
    """An export with only the referral columns translates its referral rows."""
    columns = (*csv_export.HEADER, *csv_export.KINDS["referral"])
    row = {k: v for k, v in sample_rows()[0].items() if k in columns}
    (events,) = translate(to_csv([row], columns))
    assert [e.event_type for e in events] == ["ReferralReceived"]


def test_short_rows_are_padded_and_long_rows_refused() -> None:
    """Dropped trailing cells are padded, an empty line skipped but counted, extra cells refused."""
    text = to_csv(sample_rows()).decode()
    header, first, *rest = text.splitlines()
    short = first.rstrip(",")
    long = first + ",extra"
    results = translate("\n".join([header, short, "", long, *rest]).encode())
    assert [e.event_type for e in results[0]] == ["ReferralReceived"]
    assert (results[1].record, results[1].field) == ("export.csv row 4", "(row)")
    assert len(results) == 4


def test_too_many_rows_refuse_the_file(monkeypatch: pytest.MonkeyPatch) -> None:
    """A file over the row limit is refused whole, before any row is translated."""
    monkeypatch.setattr(table, "MAX_ROWS", 2)
    with pytest.raises(RecordError) as caught:
        TRANSLATOR.table_to_events(CSV_SAMPLE.read_bytes(), file_name="export.csv")
    assert (caught.value.record, caught.value.field) == ("export.csv", "(document)")


def test_overlong_cell_is_a_row_error() -> None:
    """A cell longer than any field may be is refused at its column, before any parsing."""
    with pytest.raises(RecordError) as caught:
        only_row(sample_rows()[0] | {"concerns": "x" * (MAX_CELL + 1)})
    assert caught.value.field == "concerns"


def test_byte_order_mark_and_crlf_are_read() -> None:
    """A spreadsheet's UTF-8 byte-order mark and CRLF line ends do not matter."""
    data = b"\xef\xbb\xbf" + CSV_SAMPLE.read_bytes().replace(b"\n", b"\r\n")
    assert all(not isinstance(r, RecordError) for r in translate(data))


@pytest.mark.parametrize(
    ("data", "field", "secret"),
    [
        (b"", "(header)", ""),
        (b"\xff\xfe not utf-8", "(document)", ""),
        (b"recordType,recordId,caseReference,occurredAt\n", "recordedAt", ""),
        (
            b"recordType,recordId,caseReference,occurredAt,recordedAt,Alex Example\n",
            "(header)",
            "Alex",
        ),
        (b"recordType,recordId,caseReference,occurredAt,recordedAt,needs,needs\n", "needs", ""),
        (
            b'recordType,recordId,caseReference,occurredAt,recordedAt\n"Secret"x,a,b,c,d\n',
            "(document)",
            "Secret",
        ),
    ],
    ids=["empty", "not-utf8", "missing-column", "unknown-column", "repeated-column", "bad-quote"],
)
def test_unreadable_file_is_refused_whole(data: bytes, field: str, secret: str) -> None:
    """A file that cannot be read is refused as a whole, naming the file, never a cell."""
    with pytest.raises(RecordError) as caught:
        TRANSLATOR.table_to_events(data, file_name="export.csv")
    assert (caught.value.code, caught.value.record, caught.value.field) == (
        "record.invalid",
        "export.csv",
        field,
    )
    if secret:
        assert secret not in str(caught.value)


def test_records_without_a_csv_form_are_not_written() -> None:
    """Routines have no columns: writing a plan with routines raises instead of dropping them."""
    native = json.loads((SAMPLES / "safety_plan.json").read_text(encoding="utf-8"))
    events = TRANSLATOR.to_events(native, record_id="plan")
    with pytest.raises(ValueError, match="routines"):
        TRANSLATOR.to_table(events)
