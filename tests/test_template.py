"""`cwbulk template`: the empty canonical workbook, its dropdowns and its instructions."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import openpyxl
import pytest
from click.testing import CliRunner, Result

from cwbulk.cli import cli
from cwbulk.errors import UsageError
from cwbulk.export import write_template
from cwbulk.fields import load_reference
from cwbulk.validate import ReadOptions, validate_file

COLUMNS = list(load_reference().columns.values())
NAMES = [c.name for c in COLUMNS]


def cwbulk(*args: str) -> Result:
    return CliRunner().invoke(cli, list(args))


def rules_by_column(sheet) -> dict[str, object]:
    found = {}
    for rule in sheet.data_validations.dataValidation:
        first = str(rule.sqref).split(":")[0]
        column = openpyxl.utils.cell.coordinate_from_string(first)[0]
        found[NAMES[openpyxl.utils.column_index_from_string(column) - 1]] = rule
    return found


def active_names(client: httpx.Client, path: str, key: str) -> list[str]:
    records = client.get(path, params={"pageSize": 1000, "conditions": "inactiveFlag = false"})
    return sorted(r[key] for r in records.json())


def test_template_has_the_server_lists_as_dropdowns(
    sandbox_db: Path, sandbox_api: httpx.Client, tmp_path: Path
) -> None:
    out = tmp_path / "timesheet.xlsx"
    result = cwbulk("--sandbox", "--json", "template", "-o", str(out))
    assert result.exit_code == 0, result.output
    members = active_names(sandbox_api, "system/members", "identifier")
    work_types = active_names(sandbox_api, "time/workTypes", "name")
    work_roles = active_names(sandbox_api, "time/workRoles", "name")
    assert json.loads(result.stdout) == {
        "path": str(out),
        "lists": {
            "member": len(members),
            "workType": len(work_types),
            "workRole": len(work_roles),
        },
    }
    book = openpyxl.load_workbook(out)
    assert book.sheetnames == ["Timesheet", "Instructions", "Lists"]
    assert book["Lists"].sheet_state == "hidden"
    sheet = book["Timesheet"]
    assert [c.value for c in sheet[1]] == NAMES
    assert sheet.max_row == 1 and sheet.freeze_panes == "A2"
    rules = rules_by_column(sheet)
    assert set(rules) == {"member", "workType", "workRole", "billableOption", "chargeToType"}

    def listed(column: str) -> list[str]:
        area = rules[column].formula1.split("!")[1].replace("$", "")
        return sorted(row[0].value for row in book["Lists"][area])

    assert listed("member") == members
    assert listed("workType") == work_types
    assert listed("workRole") == work_roles
    billable = load_reference().fields["billableOption"].enum
    assert rules["billableOption"].formula1 == '"' + ",".join(billable) + '"'


def test_instructions_say_what_each_column_takes_with_an_example_row(tmp_path: Path) -> None:
    out = write_template(tmp_path / "t.xlsx", lists={})
    rows = list(openpyxl.load_workbook(out)["Instructions"].iter_rows(values_only=True))
    header = [row[:4] for row in rows].index(("column", "required", "what it takes", "example"))
    table = rows[header + 1 : header + 1 + len(COLUMNS)]
    for column, row in zip(COLUMNS, table, strict=True):
        assert row[0] == column.name
        assert row[1] == ("yes" if column.required else None)
        assert row[2] == column.description
        assert row[3] == (column.example or None)
    example_at = next(n for n, row in enumerate(rows) if row[0] == "Example row")
    assert list(rows[example_at + 1]) == NAMES
    assert [v or "" for v in rows[example_at + 2]] == [c.example for c in COLUMNS]


def test_offline_template_has_only_the_fixed_dropdowns(tmp_path: Path) -> None:
    out = tmp_path / "blank.xlsx"
    result = cwbulk("template", "--offline", "-o", str(out))
    assert result.exit_code == 0, result.output
    assert result.stderr == f"Wrote the template {out} (no server lists in its dropdowns).\n"
    book = openpyxl.load_workbook(out)
    assert book.sheetnames == ["Timesheet", "Instructions"]
    assert set(rules_by_column(book["Timesheet"])) == {"billableOption", "chargeToType"}


def test_the_example_row_typed_into_the_template_is_valid(tmp_path: Path) -> None:
    out = write_template(tmp_path / "filled.xlsx", lists={})
    book = openpyxl.load_workbook(out)
    book["Timesheet"].append([c.example or None for c in COLUMNS])
    book.save(out)
    result = validate_file(out, ReadOptions(tz="America/New_York"))
    assert result.problems == []
    assert len(result.rows) == 1
    assert result.rows.iloc[0]["timeStart"] == "2026-10-05T13:00:00Z"


@pytest.mark.parametrize("name", ["timesheet.csv", "timesheet"])
def test_template_must_be_xlsx(tmp_path: Path, name: str) -> None:
    with pytest.raises(UsageError) as caught:
        write_template(tmp_path / name, lists={})
    assert str(caught.value) == (
        f"can't write {name}: the file name must end in .xlsx\nGive a name such as timesheet.xlsx."
    )
    assert list(tmp_path.iterdir()) == []
