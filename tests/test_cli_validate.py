"""`cwbulk validate` through the CLI: summaries, JSON, errors files, exit codes, bad files."""

from __future__ import annotations

import json
import random
import shutil
from collections.abc import Callable
from pathlib import Path

import openpyxl
import pytest
import xlsxwriter
from click.testing import CliRunner, Result

from cwbulk.cli import cli
from cwbulk.io import read_table
from cwbulk.report import PROBLEM_COLUMNS
from cwbulk.resources import sample_file

NY = ["--tz", "America/New_York"]


def _run(*args: str) -> Result:
    return CliRunner().invoke(cli, list(args))


def test_a_valid_file_exits_0_with_a_summary() -> None:
    result = _run("validate", str(sample_file("legacy-timesheet.csv")), *NY)
    assert result.exit_code == 0, result.output
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert lines[0] == "legacy-timesheet.csv: profile canonical, time zone America/New_York"
    assert lines[1].split() == ["rows", "read", "328"]
    assert lines[6].split() == ["blank", "rows", "skipped", "2"]
    assert lines[-1] == "All rows are valid."


def test_the_profile_used_is_named() -> None:
    result = _run(
        "validate", str(sample_file("toggl-export.csv")), *NY,
        "--member-map", str(sample_file("member-map.csv")),
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert result.stderr.startswith("toggl-export.csv: profile toggl, time zone America/New_York")
    assert "warning: overlaps row 43 of the same member" in result.stderr


def test_invalid_rows_exit_1_with_the_most_common_reasons() -> None:
    result = _run("validate", str(sample_file("bad-timesheet.csv")), *NY)
    assert result.exit_code == 1
    err = result.stderr
    assert "Most common problems:" in err
    assert "       2  bad_hours " in err
    assert 'row 2, date: "2026-10-32" is not a real date — use a date like 2026-10-05' in err
    assert "Write every problem with its original row: --errors FILE.csv (or .xlsx)" in err
    assert err.rstrip().endswith("24 rows are invalid: fix them first.")
    assert "Traceback" not in result.output


@pytest.mark.parametrize(
    "args",
    [
        pytest.param(["--json", "validate"], id="global-flag"),
        pytest.param(["validate", "--json"], id="command-flag"),
    ],
)
def test_json_prints_one_object_on_stdout(args: list[str]) -> None:
    result = _run(*args, str(sample_file("bad-timesheet.csv")), *NY)
    assert result.exit_code == 1
    data = json.loads(result.stdout)
    assert data["command"] == "validate"
    assert data["counts"] == {
        "read": 30, "valid": 6, "invalid": 24, "warnings": 2, "blank": 0, "duplicate": 1
    }  # fmt: skip
    assert data["problems"][0]["code"] == "bad_date"
    assert data["profile"] == "canonical"
    assert data["errorsFile"] is None
    assert result.stderr == ""


def test_quiet_prints_nothing() -> None:
    result = _run("-q", "validate", str(sample_file("bad-timesheet.csv")), *NY)
    assert (result.exit_code, result.stdout, result.stderr) == (1, "", "")


@pytest.mark.parametrize("suffix", [".csv", ".xlsx"])
def test_the_errors_file_has_every_problem_and_the_original_row(
    tmp_path: Path, suffix: str
) -> None:
    errors = tmp_path / f"problems{suffix}"
    result = _run("validate", str(sample_file("bad-timesheet.csv")), *NY, "--errors", str(errors))
    assert result.exit_code == 1
    assert f"Every problem, with its original row: {errors}" in result.stderr
    frame = read_table(errors)[0].frame
    assert list(frame.columns[:7]) == list(PROBLEM_COLUMNS)
    assert list(frame.columns[7:9]) == ["id", "member"]
    assert len(frame) == 27
    first = frame.iloc[0]
    assert first[["sheet", "row", "column", "value", "code", "severity"]].tolist() == [
        "bad-timesheet", "2", "date", "2026-10-32", "bad_date", "error"
    ]  # fmt: skip
    assert (first["date"], first["start"], first["chargeTo"]) == ("2026-10-32", "09:00", "1001")
    duplicate = frame[frame["code"] == "duplicate_row"].iloc[0]
    assert (duplicate["column"], duplicate["severity"], duplicate["notes"]) == (
        "", "warning", "copied"
    )  # fmt: skip


def test_the_errors_file_of_a_workbook_names_the_sheets(tmp_path: Path) -> None:
    book = tmp_path / "two.xlsx"
    workbook = xlsxwriter.Workbook(book)
    for name, hours in (("Oct", "1"), ("Nov", "x")):
        sheet = workbook.add_worksheet(name)
        sheet.write_row(0, 0, ["member", "date", "hours", "company"])
        sheet.write_row(1, 0, ["klopez", "2026-10-05", hours, "Northwind"])
    workbook.close()
    errors = tmp_path / "errors.xlsx"
    result = _run("validate", str(book), *NY, "--sheet", "all", "--errors", str(errors))
    assert result.exit_code == 1
    assert 'sheet "Nov" row 2, hours: "x" is not a duration' in result.stderr
    rows = list(openpyxl.load_workbook(errors).active.iter_rows(values_only=True))
    assert rows[1][:5] == ("Nov", 2, "hours", "x", "bad_hours")


def _empty(path: Path) -> None:
    path.write_bytes(b"")


def _header_only(path: Path) -> None:
    path.write_text("member,date,hours\n", encoding="utf-8")


def _blank_rows(path: Path) -> None:
    path.write_text("member,date,hours\n,,\n\n ,\t,\n", encoding="utf-8")


def _junk(path: Path) -> None:
    path.write_bytes(random.Random(1).randbytes(4096))


def _truncated_xlsx(path: Path) -> None:
    data = sample_file("legacy-timesheet.xlsx").read_bytes()
    path.write_bytes(data[: len(data) // 2])


def _password_protected(path: Path) -> None:
    # The shape of an encrypted OOXML file: an OLE container with an EncryptedPackage stream.
    ole = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(504)
    path.write_bytes(ole + "EncryptedPackage".encode("utf-16-le") + bytes(4096))


def _noise(path: Path) -> None:
    alphabet = b"abcdefghijklmnopqrstuvwxyz0123456789 ,,,,\n"
    table = bytes(alphabet[i % len(alphabet)] for i in range(256))
    path.write_bytes(random.Random(7).randbytes(50 * 1024 * 1024).translate(table))


def _pipes(path: Path) -> None:
    path.write_text("member|date|hours\nklopez|2026-10-05|1\n", encoding="utf-8")


def _unknown_columns(path: Path) -> None:
    path.write_text("who,when,how long\nklopez,2026-10-05,1\n", encoding="utf-8")


def _copy_legacy_xlsx(path: Path) -> None:
    shutil.copy(sample_file("legacy-timesheet.xlsx"), path)


@pytest.mark.parametrize(
    ("name", "make", "extra", "message"),
    [
        pytest.param("t.csv", _empty, [], "Error: t.csv is empty (0 bytes)", id="empty"),
        pytest.param("t.csv", _header_only, [],
                     "Error: t.csv has a header but no data rows\n"
                     "Add time entries below the header, or check that it is the right file.\n",
                     id="header-only"),
        pytest.param("t.csv", _blank_rows, [],
                     "Error: t.csv has a header but no data rows (3 blank rows skipped)\n",
                     id="all-blank-rows"),
        pytest.param("t.xlsx", _junk, [], "Error: t.xlsx is not a .xlsx workbook", id="junk"),
        pytest.param("t.xlsx", _truncated_xlsx, [], "Error: t.xlsx is damaged and can't be read",
                     id="corrupt-xlsx"),
        pytest.param("t.xlsx", _password_protected, [], "Error: t.xlsx is password-protected",
                     id="password"),
        pytest.param("t.csv", _noise, [],
                     "Error: t.csv: no column for member, date, hours or start", id="50mb-noise"),
        pytest.param("t.csv", _pipes, [],
                     "Error: t.csv: no column for member, date, hours or start (read with the "
                     "canonical profile)\nThe whole header is one column, \"member|date|hours\": "
                     "the file seems to be delimited by '|'.", id="wrong-delimiter"),
        pytest.param("t.csv", _unknown_columns, [],
                     "Error: t.csv: no column for member, date, hours or start (read with the "
                     "canonical profile)\nThe header has: who, when, how long.",
                     id="unknown-columns"),
        pytest.param("t.xlsx", _copy_legacy_xlsx, ["--sheet", "Nope"],
                     'Error: t.xlsx has no sheet named "Nope"; its sheets are 0: "Timesheet", '
                     '1: "Late entries"', id="no-such-sheet"),
        pytest.param("t.csv", None, [], "Error: ", id="missing-file"),
    ],
)  # fmt: skip
def test_unusable_files_exit_2_with_a_clear_message(
    tmp_path: Path,
    name: str,
    make: Callable[[Path], None] | None,
    extra: list[str],
    message: str,
) -> None:
    path = tmp_path / name
    if make is not None:
        make(path)
    result = _run("validate", str(path), *NY, *extra)
    assert result.exit_code == 2, result.output
    assert result.stderr.startswith(message)
    assert "Traceback" not in result.output
    assert result.stdout == ""


@pytest.mark.parametrize(
    ("options", "message"),
    [
        pytest.param(["--tz", "Mars/Olympus"], "Invalid value for '--tz': unknown time zone",
                     id="tz"),
        pytest.param(["--day-start", "nine"], "Invalid value for '--day-start'", id="day-start"),
        pytest.param(["--ambiguous", "both"], "Invalid value for '--ambiguous'", id="ambiguous"),
        pytest.param(["--mapping", "tggl"], "Error: --mapping tggl: no such profile or file",
                     id="mapping-name"),
    ],
)  # fmt: skip
def test_bad_options_exit_2(options: list[str], message: str) -> None:
    result = _run("validate", str(sample_file("legacy-timesheet.csv")), *options)
    assert result.exit_code == 2
    assert message in result.stderr


def test_a_broken_mapping_file_exits_2_naming_the_key(tmp_path: Path) -> None:
    mapping = tmp_path / "mine.yaml"
    mapping.write_text("columns: {Who: member}\nvalue: {}\n", encoding="utf-8")
    result = _run("validate", str(sample_file("legacy-timesheet.csv")), "--mapping", str(mapping))
    assert result.exit_code == 2
    assert result.stderr.startswith(
        f"Error: mapping {mapping}: value: unknown key — did you mean 'values'?\n"
    )


def test_a_broken_member_map_exits_2(tmp_path: Path) -> None:
    members = tmp_path / "members.csv"
    members.write_text("name,login\na,b\n", encoding="utf-8")
    result = _run("validate", str(sample_file("harvest-export.csv")), "--member-map", str(members))
    assert result.exit_code == 2
    assert "Error: member map members.csv has no source or member column" in result.stderr


def test_a_users_mapping_is_used_and_named(tmp_path: Path) -> None:
    mapping = tmp_path / "tracker.yaml"
    mapping.write_text(
        "columns: {Who: member, Day: date, Time: hours, Ticket No: chargeTo}\n"
        "constants: {chargeToType: ServiceTicket}\noptions: {dayfirst: true}\n",
        encoding="utf-8",
    )
    sheet = tmp_path / "tracker.csv"
    sheet.write_text("Who,Day,Time,Ticket No\nklopez,05/10/2026,1:30,1001\n", encoding="utf-8")
    result = _run("--json", "validate", str(sheet), "--mapping", str(mapping), *NY)
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert (data["profile"], data["counts"]["valid"]) == ("tracker", 1)


def test_an_errors_file_for_a_clean_file_has_only_the_header(tmp_path: Path) -> None:
    errors = tmp_path / "none.csv"
    result = _run("validate", str(sample_file("harvest-export.csv")), *NY, "--errors", str(errors))
    assert result.exit_code == 0
    assert (
        errors.read_text(encoding="utf-8")
        .splitlines()[0]
        .startswith("sheet,row,column,value,code,message,severity,Date,Client,")
    )
    assert len(errors.read_text(encoding="utf-8").splitlines()) == 1


def test_a_row_with_too_many_fields_is_one_more_invalid_row_not_a_file_error(
    tmp_path: Path,
) -> None:
    path = tmp_path / "ragged.csv"
    path.write_text(
        "member,date,hours,chargeToType,chargeTo,notes\n"
        "abaker,2026-10-05,1,ServiceTicket,1001,ok\n"
        "abaker,2026-10-06,2,ServiceTicket,1001,Fixed printer, rebooted\n"
        "abaker,2026-10-07,25,ServiceTicket,1001,too long\n",
        encoding="utf-8",
    )
    result = CliRunner().invoke(cli, ["--json", "validate", str(path)])
    assert result.exit_code == 1, result.output
    report = json.loads(result.stdout)
    assert (report["counts"]["read"], report["counts"]["invalid"]) == (3, 2)
    assert [(p["row"], p["code"]) for p in report["problems"]] == [
        (3, "too_many_fields"),
        (4, "hours_out_of_range"),
    ]
