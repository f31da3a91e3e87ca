"""Tests for cwbulk.mapping: built-in and user profiles, detection, applying a profile."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from cwbulk.errors import ConfigError, InputError, UsageError
from cwbulk.io import SheetData
from cwbulk.mapping import (
    BUILTIN_PROFILES,
    apply_profile,
    detect_profile,
    load_member_map,
    load_profile,
    normalize_header,
)

TOGGL = ["User", "Email", "Client", "Project", "Task", "Description", "Billable",
         "Start date", "Start time", "End date", "End time", "Duration", "Tags",
         "Amount (USD)"]  # fmt: skip
CLOCKIFY = ["Project", "Client", "Description", "Task", "User", "Group", "Email", "Tags",
            "Billable", "Start Date", "Start Time", "End Date", "End Time", "Duration (h)",
            "Duration (decimal)", "Billable Rate (USD)", "Billable Amount (USD)"]  # fmt: skip
HARVEST = ["Date", "Client", "Project", "Project Code", "Task", "Notes", "Hours",
           "Hours Rounded", "Billable?", "Invoiced?", "Approved?", "First Name", "Last Name",
           "Employee Id", "Roles", "Employee?", "Billable Rate", "Billable Amount",
           "Cost Rate", "Cost Amount", "Currency", "External Reference URL"]  # fmt: skip
HARVEST_IMPORT = ["Date", "Client", "Project", "Task", "Notes", "Hours", "First name",
                  "Last name"]  # fmt: skip


def _sheet(rows: list[dict[str, str]], name: str = "s") -> SheetData:
    frame = pd.DataFrame(rows, dtype=object).fillna("")
    frame.index = pd.Index(range(2, 2 + len(frame)), dtype="int64")
    return SheetData(name, frame, 0, ())


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        pytest.param(TOGGL, "toggl", id="toggl"),
        pytest.param(TOGGL[:-1], "toggl", id="toggl-newer-without-amount"),
        pytest.param(["Email", "Start date", "Start time", "Duration"], "toggl", id="toggl-import"),
        pytest.param(CLOCKIFY, "clockify", id="clockify"),
        pytest.param(
            [h for h in CLOCKIFY if h != "Duration (decimal)"], "clockify", id="clockify-h-only"
        ),
        pytest.param([h.upper() for h in CLOCKIFY], "clockify", id="clockify-upper-case"),
        pytest.param(HARVEST, "harvest", id="harvest"),
        pytest.param(HARVEST_IMPORT, "harvest", id="harvest-import"),
        pytest.param([" first  name ", "LAST NAME", "date", "hours"], "harvest", id="spacing"),
        pytest.param(["member", "date", "hours"], "canonical", id="canonical"),
        pytest.param(["foo", "bar"], "canonical", id="unknown-falls-back"),
    ],
)
def test_detect_profile(header: list[str], expected: str) -> None:
    assert detect_profile(header) == expected


def test_every_builtin_profile_loads() -> None:
    for name in BUILTIN_PROFILES:
        profile = load_profile(name)
        assert profile.name == name
        assert profile.source == "built-in"


def test_normalize_header_ignores_case_and_whitespace() -> None:
    assert normalize_header(" Charge  To\tType ") == normalize_header("chargeToType")


def _write(tmp_path: Path, text: str, name: str = "mine.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param("colums: {a: member}\n", "colums: unknown key — did you mean 'columns'?",
                     id="unknown-key"),
        pytest.param("columns: {Who: membr}\n",
                     "columns.Who: 'membr' is not a canonical column — did you mean 'member'?",
                     id="bad-target"),
        pytest.param("columns: [a, b]\n", "columns: expected a mapping", id="columns-not-a-map"),
        pytest.param("values: {workType: {map: {a: b}, unmatched: drop}}\n",
                     "values.workType.unmatched: 'drop' — use keep or blank", id="unmatched"),
        pytest.param("options: {tz: Mars/Base}\n", "options.tz: unknown time zone", id="tz"),
        pytest.param("options: {day_start: '25:00'}\n", "options.day_start:", id="day-start"),
        pytest.param("options: {dayfirst: maybe}\n", "options.dayfirst: use true or false",
                     id="dayfirst"),
        pytest.param("options: {daystart: '08:00'}\n",
                     "options.daystart: unknown key — did you mean 'day_start'?",
                     id="option-key"),
        pytest.param("join: {member: {columns: []}}\n", "join.member.columns: list the columns",
                     id="empty-join"),
        pytest.param("extends: nowhere\n", "extends: 'nowhere' is not", id="extends"),
        pytest.param("columns: [\n", "at line 2", id="broken-yaml"),
        pytest.param("- just\n- a list\n", "the file must be a YAML mapping", id="a-list"),
    ],
)  # fmt: skip
def test_a_broken_mapping_file_names_the_key(tmp_path: Path, text: str, expected: str) -> None:
    path = _write(tmp_path, text)
    with pytest.raises(ConfigError) as caught:
        load_profile(path)
    assert f"mapping {path}" in str(caught.value)
    assert expected in str(caught.value)
    assert "docs/mapping.md" in str(caught.value)


def test_an_unknown_profile_name_is_a_usage_error() -> None:
    with pytest.raises(UsageError, match="--mapping tggl: no such profile or file"):
        load_profile("tggl")


def test_a_file_can_extend_a_builtin_profile(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        "extends: toggl\ncolumns: {Ticket No: chargeTo}\nconstants: {chargeToType: ServiceTicket}\n"
        "options: {tz: Europe/London}\n",
    )
    profile = load_profile(path)
    assert profile.name == "mine"
    assert profile.tz == "Europe/London"
    sheet = _sheet([{"Email": "a@x.example", "Start date": "2026-10-05", "Start time": "09:00",
                     "Duration": "1:00:00", "Ticket No": "1042"}])  # fmt: skip
    frame = apply_profile(sheet, profile).frame
    assert frame.loc[2, ["member", "chargeTo", "chargeToType", "hours"]].tolist() == [
        "a@x.example", "1042", "ServiceTicket", "1:00:00"
    ]  # fmt: skip


def test_harvest_joins_first_and_last_name() -> None:
    row = {"Date": "2026-11-02", "Hours": "1.5", "First Name": " Logan ", "Last Name": "Muller"}
    sheet = _sheet([{**row, "Task": "Remote support", "Billable?": "Yes"}])
    mapped = apply_profile(sheet, load_profile("harvest"))
    assert mapped.frame.loc[2, ["member", "workType", "billableOption"]].tolist() == [
        "Logan Muller", "Remote", "Billable"
    ]  # fmt: skip
    assert mapped.headers["member"] == "First Name + Last Name"


@pytest.mark.parametrize(
    ("tags", "expected"),
    [
        pytest.param("remote", "Remote", id="one-tag"),
        pytest.param("billable, On-Site", "On-site", id="first-mapped-tag-wins"),
        pytest.param("urgent", "", id="unmatched-is-blanked"),
        pytest.param("", "", id="blank"),
    ],
)
def test_toggl_tags_become_work_types(tags: str, expected: str) -> None:
    sheet = _sheet([{"Email": "a@x.example", "Start date": "2026-10-05", "Start time": "9:00",
                     "Duration": "1:00:00", "Tags": tags}])  # fmt: skip
    assert apply_profile(sheet, load_profile("toggl")).frame.at[2, "workType"] == expected


def test_headers_match_by_prefix_and_ignore_case(tmp_path: Path) -> None:
    path = _write(tmp_path, "columns: {'Who (*': member}\n")
    sheet = _sheet([{"WHO (login)": "klopez", "DATE": "2026-10-05", "Hours": "1"}])
    frame = apply_profile(sheet, load_profile(path)).frame
    assert frame.loc[2, ["member", "date", "hours"]].tolist() == ["klopez", "2026-10-05", "1"]


def test_constants_fill_blank_cells_only(tmp_path: Path) -> None:
    path = _write(tmp_path, "constants: {workType: Remote, company: Northwind}\n")
    sheet = _sheet([{"member": "a", "date": "d", "hours": "1", "workType": "Travel"},
                    {"member": "a", "date": "d", "hours": "1", "workType": ""}])  # fmt: skip
    frame = apply_profile(sheet, load_profile(path)).frame
    assert frame["workType"].tolist() == ["Travel", "Remote"]
    assert frame["company"].tolist() == ["Northwind", "Northwind"]


def test_the_member_map_applies_after_the_profile() -> None:
    sheet = _sheet([{"member": "Kai  LOPEZ", "date": "d", "hours": "1"},
                    {"member": "someone else", "date": "d", "hours": "1"}])  # fmt: skip
    mapped = apply_profile(sheet, load_profile("canonical"), member_map={"kai lopez": "klopez"})
    assert mapped.frame["member"].tolist() == ["klopez", "someone else"]


def test_unused_columns_are_noted_and_ignored_ones_are_not() -> None:
    header = {h: "" for h in TOGGL}
    header.update({"Email": "a@x.example", "Start date": "2026-10-05", "Start time": "9:00",
                   "Duration": "1:00:00", "Mood": "good"})  # fmt: skip
    mapped = apply_profile(_sheet([header]), load_profile("toggl"), where="t.csv")
    assert mapped.notes == ("t.csv: columns not used: User, Mood",)


@pytest.mark.parametrize(
    ("row", "expected"),
    [
        pytest.param({"foo": "1", "bar": "2"}, "no column for member, date, hours or start",
                     id="unknown-columns"),
        pytest.param({"Memebr": "a", "date": "d", "hours": "1"}, 'Is "Memebr" meant to be member?',
                     id="did-you-mean"),
        pytest.param({"member": "a", "date": "d"}, "no column for hours or start",
                     id="no-hours-or-start"),
        pytest.param({"member|date|hours": "a|b|c"}, "delimited by '|'", id="one-column"),
    ],
)  # fmt: skip
def test_missing_columns_are_an_input_error(row: dict[str, str], expected: str) -> None:
    with pytest.raises(InputError) as caught:
        apply_profile(_sheet([row]), load_profile("canonical"), where="x.csv")
    assert str(caught.value).startswith("x.csv: no column for")
    assert expected in str(caught.value)


def _member_map(tmp_path: Path, text: str) -> Path:
    return _write(tmp_path, text, "members.csv")


def test_load_member_map(tmp_path: Path) -> None:
    path = _member_map(tmp_path, "Source,Member\nKai  Lopez,klopez\nkai@x.example, klopez\n,\n")
    assert load_member_map(path) == {"kai lopez": "klopez", "kai@x.example": "klopez"}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param("name,id\na,b\n", "has no source or member column", id="columns"),
        pytest.param("source,member\na,\n", "row 2: no member for 'a'", id="blank-member"),
        pytest.param("source,member\na,x\nA,y\n", "row 3: 'A' is mapped to 'x' in row 2",
                     id="conflict"),
    ],
)  # fmt: skip
def test_a_broken_member_map_is_a_usage_error(tmp_path: Path, text: str, expected: str) -> None:
    with pytest.raises(UsageError, match=expected):
        load_member_map(_member_map(tmp_path, text))
