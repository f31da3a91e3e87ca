"""Tests for cwbulk.validate: the rules, the canonical frame, stacking, overlaps, duplicates."""

from __future__ import annotations

from pathlib import Path
from zoneinfo import ZoneInfo

import pandas as pd
import pytest

from cwbulk.errors import InputError, UsageError
from cwbulk.fields import canonical_columns
from cwbulk.io import SheetData
from cwbulk.validate import (
    ReadOptions,
    ValidationResult,
    resolve_zone,
    system_zone,
    validate_file,
    validate_sheets,
)

NY = "America/New_York"
BASE = {"member": "klopez", "date": "2026-10-05", "chargeToType": "ServiceTicket",
        "chargeTo": "1001"}  # fmt: skip


def _sheet(rows: list[dict[str, str]], name: str = "sheet", first_row: int = 2) -> SheetData:
    frame = pd.DataFrame(rows, dtype=object).fillna("")
    frame.index = pd.Index(range(first_row, first_row + len(frame)), dtype="int64")
    return SheetData(name, frame, 0, ())


def _validate(rows: list[dict[str, str]], **kwargs: object) -> ValidationResult:
    kwargs.setdefault("tz", NY)
    return validate_sheets([_sheet([{**BASE, **r} for r in rows])], **kwargs)  # type: ignore[arg-type]


def _codes(result: ValidationResult) -> list[tuple[int, str | None, str]]:
    return [(p.row, p.column, p.code) for p in result.problems]


@pytest.mark.parametrize(
    ("cells", "expected"),
    [
        pytest.param({"start": "09:00", "end": "10:30"}, [], id="start-end"),
        pytest.param({"hours": "1h30m"}, [], id="hours-only"),
        pytest.param({"start": "09:00", "hours": "1.5"}, [], id="start-hours"),
        pytest.param({"start": "09:00", "end": "10:20", "hours": "1.33"}, [],
                     id="rounded-hours-agree"),
        pytest.param({"date": "2026-10-32", "hours": "1"}, [(2, "date", "bad_date")],
                     id="bad-date"),
        pytest.param({"start": "9:7x", "end": "10:00"}, [(2, "start", "bad_time")],
                     id="bad-time"),
        pytest.param({"hours": "1..5"}, [(2, "hours", "bad_hours")], id="bad-hours"),
        pytest.param({"hours": "0"}, [(2, "hours", "hours_out_of_range")], id="zero-hours"),
        pytest.param({"hours": "24:30"}, [(2, "hours", "hours_out_of_range")], id="over-24"),
        pytest.param({"hours": "24"}, [], id="exactly-24"),
        pytest.param({"start": "10:00", "end": "10:00"}, [(2, "end", "end_before_start")],
                     id="zero-length"),
        pytest.param({"start": "17:00", "end": "09:00"}, [(2, "end", "end_before_start")],
                     id="swapped"),
        pytest.param({"start": "09:00", "end": "10:00", "deduct": "1"},
                     [(2, "deduct", "deduct_too_large")], id="deduct-too-large"),
        pytest.param({"start": "09:00", "end": "10:00", "deduct": "x"},
                     [(2, "deduct", "bad_hours")], id="bad-deduct"),
        pytest.param({"start": "09:00", "end": "10:00", "hours": "2"},
                     [(2, "hours", "hours_mismatch")], id="mismatch"),
        pytest.param({"start": "09:00", "end": "10:30", "deduct": "0.5", "hours": "1"}, [],
                     id="hours-net-of-deduct"),
        pytest.param({"end": "10:00", "hours": ""}, [(2, "start", "missing_start")],
                     id="end-without-start"),
        pytest.param({"start": "10:00"}, [(2, "end", "missing_end")], id="start-alone"),
        pytest.param({"hours": ""}, [(2, "hours", "missing_hours")], id="nothing"),
        pytest.param({"member": "", "hours": "1"}, [(2, "member", "missing_value")],
                     id="no-member"),
        pytest.param({"date": "", "hours": "1"}, [(2, "date", "missing_value")], id="no-date"),
        pytest.param({"hours": "1", "chargeToType": "Ticket"},
                     [(2, "chargeToType", "invalid_choice")], id="bad-type"),
        pytest.param({"hours": "1", "billableOption": "Sometimes"},
                     [(2, "billableOption", "invalid_choice")], id="bad-billable"),
        pytest.param({"hours": "1", "chargeTo": ""}, [(2, "chargeTo", "missing_charge_to")],
                     id="ticket-without-number"),
        pytest.param({"hours": "1", "chargeTo": "T-1042"}, [(2, "chargeTo", "bad_charge_to")],
                     id="ticket-not-a-number"),
        pytest.param({"hours": "1", "chargeToType": "ChargeCode", "chargeTo": "MTNG"},
                     [(2, "company", "missing_company")], id="charge-code-without-company"),
        pytest.param({"hours": "1", "chargeToType": "ChargeCode", "chargeTo": "MTNG",
                      "company": "Cwbulk"}, [], id="charge-code"),
        pytest.param({"hours": "1", "chargeToType": "Activity", "chargeTo": "x"},
                     [(2, "chargeTo", "bad_charge_to")], id="activity-not-a-number"),
        pytest.param({"hours": "1", "chargeToType": "Company", "chargeTo": "",
                      "company": ""}, [(2, "company", "missing_company")],
                     id="company-time-without-company"),
        pytest.param({"hours": "1", "chargeToType": "Company", "chargeTo": "1001",
                      "company": "Northwind"}, [(2, "chargeTo", "unexpected_charge_to")],
                     id="company-time-with-target"),
        pytest.param({"hours": "1", "chargeToType": ""},
                     [(2, "chargeToType", "missing_charge_to_type")], id="target-without-type"),
        pytest.param({"hours": "1", "id": "12a"}, [(2, "id", "bad_integer")], id="bad-id"),
        pytest.param({"hours": "1", "lastUpdated": "2026-10-05 10:00"},
                     [(2, "lastUpdated", "bad_datetime")], id="bad-last-updated"),
        pytest.param({"hours": "1", "lastUpdated": "2026-10-05T10:00:00Z", "status": "Open"},
                     [], id="export-columns"),
        pytest.param({"date": "2026-03-08", "start": "02:30", "end": "03:30"},
                     [(2, "start", "nonexistent_local_time")], id="dst-gap"),
        pytest.param({"date": "2026-11-01", "start": "00:30", "end": "01:30"},
                     [(2, "end", "ambiguous_local_time")], id="dst-overlap"),
    ],
)  # fmt: skip
def test_rules(cells: dict[str, str], expected: list[tuple[int, str, str]]) -> None:
    result = _validate([cells])
    assert _codes(result) == expected
    assert result.invalid == (1 if expected else 0)
    assert len(result.rows) == (0 if expected else 1)


def test_every_problem_of_a_row_is_reported() -> None:
    result = _validate([{"member": "", "date": "x", "hours": "-1", "chargeToType": "Tick"}])
    assert sorted(code for _row, _col, code in _codes(result)) == [
        "bad_date", "bad_hours", "invalid_choice", "missing_value"
    ]  # fmt: skip
    assert result.counts == {
        "read": 1, "valid": 0, "invalid": 1, "warnings": 0, "blank": 0, "duplicate": 0
    }  # fmt: skip


def test_problems_name_the_value_and_the_fix() -> None:
    (problem,) = _validate([{"hours": "1..5"}]).problems
    assert problem.value == "1..5"
    assert problem.message == '"1..5" is not a duration — use hours like 1.5, 1:30 or 1h30m'


def test_the_canonical_frame() -> None:
    result = _validate([{"start": "9:00 AM", "end": "10:30", "deduct": "0.25", "notes": " x "}])
    rows = result.rows
    assert list(rows.columns) == [
        "sheet", "row", *canonical_columns(), "timeStart", "timeEnd", "actualHours",
        "hoursDeduct",
    ]  # fmt: skip
    first = rows.iloc[0]
    assert (first["sheet"], first["row"]) == ("sheet", 2)
    assert (first["timeStart"], first["timeEnd"]) == (
        "2026-10-05T13:00:00Z",
        "2026-10-05T14:30:00Z",
    )
    assert (first["actualHours"], first["hoursDeduct"]) == (1.25, 0.25)
    assert first["notes"] == "x"
    assert rows["actualHours"].dtype == "float64"


def test_invalid_rows_with_a_whole_natural_key_are_held_for_planning() -> None:
    result = _validate(
        [
            {"hours": "1", "billableOption": "Maybe"},
            {"hours": "1..5", "billableOption": "Maybe"},
            {"start": "14:00", "hours": "2"},
            {"hours": "1", "notes": "fine"},
        ]
    )
    assert {(p.row, p.code) for p in result.problems if p.severity == "error"} >= {
        (2, "invalid_choice"),
        (3, "bad_hours"),
    }
    assert list(result.rows["row"]) == [4, 5]
    held = result.held
    assert list(held["row"]) == [2], "a row with a broken key is not held"
    assert list(held.columns) == list(result.rows.columns)
    assert (held.iloc[0]["actualHours"], held.iloc[0]["timeStart"]) == (1.0, "2026-10-05T13:00:00Z")


def test_an_entry_past_midnight_ends_the_next_day() -> None:
    rows = _validate([{"start": "22:00", "end": "01:30"}]).rows
    assert rows.loc[0, ["timeStart", "timeEnd", "actualHours"]].tolist() == [
        "2026-10-06T02:00:00Z", "2026-10-06T05:30:00Z", 3.5
    ]  # fmt: skip


def test_an_end_date_column_is_used() -> None:
    result = _validate([{"start": "20:00", "end": "10:00", "endDate": "2026-10-06"}])
    assert result.rows.loc[0, "actualHours"] == 14.0
    bad = _validate([{"start": "20:00", "end": "10:00", "endDate": "2026-10-04"}])
    assert _codes(bad) == [(2, "end", "end_before_start")]


def test_hours_only_rows_are_stacked_per_member_and_day_in_file_order() -> None:
    result = _validate(
        [
            {"hours": "1.5"},
            {"member": "lmuller", "hours": "2"},
            {"hours": "0:45", "deduct": "0.25"},
            {"hours": "1"},
            {"date": "2026-10-06", "hours": "1"},
        ],
        day_start="08:30",
    )
    starts = result.rows[["member", "timeStart", "timeEnd"]].values.tolist()
    assert starts == [
        ["klopez", "2026-10-05T12:30:00Z", "2026-10-05T14:00:00Z"],
        ["lmuller", "2026-10-05T12:30:00Z", "2026-10-05T14:30:00Z"],
        ["klopez", "2026-10-05T14:00:00Z", "2026-10-05T15:00:00Z"],
        ["klopez", "2026-10-05T15:00:00Z", "2026-10-05T16:00:00Z"],
        ["klopez", "2026-10-06T12:30:00Z", "2026-10-06T13:30:00Z"],
    ]
    assert result.rows["actualHours"].tolist() == [1.5, 2.0, 0.75, 1.0, 1.0]


@pytest.mark.parametrize(
    ("ambiguous", "start"),
    [
        pytest.param("earlier", "2026-11-01T05:30:00Z", id="earlier"),
        pytest.param("later", "2026-11-01T06:30:00Z", id="later"),
    ],
)
def test_ambiguous_times_can_be_chosen(ambiguous: str, start: str) -> None:
    result = _validate(
        [{"date": "2026-11-01", "start": "01:30", "end": "03:00"}], ambiguous=ambiguous
    )
    assert result.rows.loc[0, "timeStart"] == start
    assert result.rows.loc[0, "timeEnd"] == "2026-11-01T08:00:00Z"


def test_text_is_trimmed_and_guards_and_spellings_are_normalised() -> None:
    result = _validate(
        [
            {
                "hours": "1",
                "chargeToType": " service ticket ",
                "chargeTo": "#1042",
                "billableOption": "do not bill",
                "notes": "'=SUM(A1)",
                "internalNotes": "'plain",
            }
        ]
    )
    row = result.rows.iloc[0]
    assert (row["chargeToType"], row["chargeTo"]) == ("ServiceTicket", "1042")
    assert (row["billableOption"], row["notes"]) == ("DoNotBill", "=SUM(A1)")
    assert row["internalNotes"] == "'plain"


def test_rows_without_a_target_are_company_time() -> None:
    result = _validate([{"hours": "1", "chargeToType": "", "chargeTo": "", "company": "Contoso"}])
    assert result.rows.loc[0, "chargeToType"] == "Company"


def test_duplicates_are_warnings_and_a_repeated_id_is_an_error() -> None:
    result = _validate(
        [
            {"start": "09:00", "end": "10:00"},
            {"start": "09:00", "end": "10:00"},
            {"id": "7", "hours": "1"},
            {"id": "7", "hours": "2"},
        ]
    )
    assert _codes(result) == [(3, None, "duplicate_row"), (5, "id", "duplicate_id")]
    assert result.problems[0].message.startswith("the same as row 2")
    assert (result.duplicate, result.warnings, result.invalid, len(result.rows)) == (1, 1, 1, 3)


def test_overlapping_entries_of_one_member_are_warnings() -> None:
    result = _validate(
        [
            {"start": "09:00", "end": "11:00"},
            {"start": "10:30", "end": "11:30"},
            {"member": "lmuller", "start": "10:00", "end": "11:00"},
            {"start": "11:30", "end": "12:00"},
            {"hours": "3"},  # stacked rows are not compared
        ]
    )
    assert _codes(result) == [(3, "start", "overlap")]
    assert (
        "overlaps row 2 of the same member (2026-10-05 09:00–11:00)" in result.problems[0].message
    )
    assert result.ok


def test_sheets_are_validated_together() -> None:
    first = _sheet([{**BASE, "start": "09:00", "end": "10:00"}], name="Oct")
    second = _sheet(
        [{"Technician": "klopez", "Date": "2026-10-05", "Start time": "9.5", "End time": "11",
          "Ticket": "1002", "Charge type": "ServiceTicket"}],
        name="Late",
    )  # fmt: skip
    result = validate_sheets([first, second], tz=NY)
    assert result.sheets == ("Oct", "Late")
    (problem,) = result.problems
    assert (problem.sheet, problem.row, problem.column, problem.code) == (
        "Late", 2, "Start time", "overlap"
    )  # fmt: skip
    assert 'overlaps row 2 of sheet "Oct"' in problem.message
    assert result.rows["timeStart"].tolist() == ["2026-10-05T13:00:00Z", "2026-10-05T13:30:00Z"]


def test_a_sheet_that_does_not_fit_is_skipped_when_reading_several() -> None:
    good = _sheet([{**BASE, "hours": "1"}], name="Data")
    summary = _sheet([{"Total": "12"}], name="Summary")
    result = validate_sheets([good, summary], tz=NY)
    assert _codes(result) == [(1, None, "sheet_skipped")]
    assert result.valid == 1
    with pytest.raises(InputError, match='sheet "Summary": no column for member'):
        validate_sheets([summary], tz=NY)
    with pytest.raises(InputError, match='sheet "Summary"'):
        validate_sheets([summary, summary], tz=NY)


def test_profile_options_apply_and_arguments_win(tmp_path: Path) -> None:
    mapping = tmp_path / "dayfirst.yaml"
    mapping.write_text("options: {dayfirst: true, tz: Europe/London, day_start: '08:00'}\n")
    rows = [{**BASE, "date": "05/10/2026", "hours": "1"}]
    result = validate_sheets([_sheet(rows)], mapping=str(mapping))
    assert (result.tz, result.profile) == ("Europe/London", "dayfirst")
    assert result.rows.loc[0, "timeStart"] == "2026-10-05T07:00:00Z"
    result = validate_sheets([_sheet(rows)], mapping=str(mapping), dayfirst=False, tz="UTC")
    assert result.rows.loc[0, "timeStart"] == "2026-05-10T08:00:00Z"


def test_to_dict() -> None:
    result = _validate([{"hours": "x"}, {"hours": "y"}, {"hours": "1"}])
    data = result.to_dict(problem_limit=1)
    assert data["counts"] == {
        "read": 3, "valid": 1, "invalid": 2, "warnings": 0, "blank": 0, "duplicate": 0
    }  # fmt: skip
    assert data["reasons"] == {"bad_hours": 2}
    assert data["problemsTruncated"] is True
    assert data["problems"] == [result.problems[0].to_dict()]
    assert (data["profile"], data["timeZone"]) == ("canonical", NY)


def test_resolve_zone() -> None:
    assert resolve_zone("Europe/London") == (ZoneInfo("Europe/London"), None)
    with pytest.raises(UsageError, match="did you mean Europe/London"):
        resolve_zone("Europe/Lodnon")
    with pytest.raises(UsageError, match="unknown time zone 'America'"):
        resolve_zone("America")


def test_the_system_zone_comes_from_tz(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TZ", "Asia/Tokyo")
    assert system_zone() == ZoneInfo("Asia/Tokyo")
    assert resolve_zone(None) == (ZoneInfo("Asia/Tokyo"), None)


@pytest.mark.parametrize(
    ("options", "expected"),
    [
        pytest.param(ReadOptions(ambiguous="sometimes"), "--ambiguous 'sometimes'", id="ambig"),
        pytest.param(ReadOptions(day_start="noonish"), "--day-start 'noonish'", id="day-start"),
        pytest.param(ReadOptions(tz="Nowhere/City"), "unknown time zone", id="tz"),
    ],
)
def test_bad_options_are_usage_errors(tmp_path: Path, options: ReadOptions, expected: str) -> None:
    path = tmp_path / "t.csv"
    path.write_text("member,date,hours\nklopez,2026-10-05,1\n", encoding="utf-8")
    with pytest.raises(UsageError, match=expected):
        validate_file(path, options)


def test_a_file_without_data_rows_is_an_input_error(tmp_path: Path) -> None:
    path = tmp_path / "t.csv"
    path.write_text("member,date,hours\n\n,,\n", encoding="utf-8")
    with pytest.raises(InputError, match=r"t.csv has a header but no data rows \(2 blank rows"):
        validate_file(path, ReadOptions(tz=NY))
