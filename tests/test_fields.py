"""Tests for cwbulk.fields: the field reference and the pandera schema built from it."""

from __future__ import annotations

import pandas as pd
import pytest
import yaml

from cwbulk.fields import (
    KINDS,
    canonical_columns,
    canonical_schema,
    check_canonical_frame,
    load_reference,
    suggest,
)
from cwbulk.resources import schema_file

# DESIGN.md "The spreadsheet format", in sheet order.
DESIGN_COLUMNS = (
    "id", "member", "date", "start", "end", "hours", "deduct", "chargeToType", "chargeTo",
    "company", "workType", "workRole", "billableOption", "notes", "internalNotes", "status",
    "lastUpdated",
)  # fmt: skip


def test_the_canonical_columns_are_the_design_ones() -> None:
    assert canonical_columns() == DESIGN_COLUMNS


def test_fields_are_grouped_as_the_issue_asks() -> None:
    reference = load_reference()
    assert list(reference.groups) == ["core", "alternative", "billing", "description", "status"]
    assert {f.group for f in reference.fields.values()} == set(reference.groups)


def test_only_time_start_is_required_by_the_api() -> None:
    required = [name for name, f in load_reference().fields.items() if f.required]
    assert required == ["timeStart"]


@pytest.mark.parametrize(
    ("field", "values"),
    [
        pytest.param(
            "chargeToType",
            ("Company", "ServiceTicket", "ProjectTicket", "ChargeCode", "Activity"),
            id="chargeToType",
        ),
        pytest.param(
            "billableOption", ("Billable", "DoNotBill", "NoCharge", "NoDefault"), id="billable"
        ),
    ],
)
def test_enums_come_from_the_spec(field: str, values: tuple[str, ...]) -> None:
    assert load_reference().fields[field].enum == values


def test_every_field_entry_is_complete() -> None:
    raw = yaml.safe_load(schema_file("time_entry.yaml").read_text(encoding="utf-8"))
    for group in raw["fields"].values():
        for name, spec in group["fields"].items():
            assert {"type", "required", "writes", "description"} <= set(spec), name
            if spec["type"] == "reference":
                assert spec.get("ref", "").endswith("Reference"), name


def test_every_column_feeds_a_field_and_has_a_kind() -> None:
    reference = load_reference()
    for column in reference.columns.values():
        assert column.field.split(".")[0] in reference.fields
        assert column.kind in KINDS
        if column.kind == "enum":
            assert column.enum == reference.fields[column.field].enum


def test_cwbulk_writes_what_the_editable_columns_feed() -> None:
    reference = load_reference()
    editable = {c.field for c in reference.columns.values()} - {"id", "status", "_info.lastUpdated"}
    assert editable <= set(reference.written_fields())
    assert "mobileGuid" in reference.written_fields()
    assert "status" not in reference.written_fields()


def test_the_schema_covers_every_canonical_column() -> None:
    assert tuple(canonical_schema().columns) == canonical_columns()


def _frame(**columns: list[str]) -> pd.DataFrame:
    size = len(next(iter(columns.values())))
    frame = pd.DataFrame({c: [""] * size for c in canonical_columns()}, dtype=object)
    for name, values in columns.items():
        frame[name] = values
    return frame


def _check(frame: pd.DataFrame) -> list[tuple[int, str | None, str, str]]:
    rows = pd.Series(range(2, 2 + len(frame)), index=frame.index)
    problems = check_canonical_frame(
        frame, sheets=pd.Series("s", index=frame.index), rows=rows, headers={"member": "Tech"}
    )
    return sorted((p.row, p.column, p.code, p.value or "") for p in problems)


def test_a_filled_frame_has_no_problems() -> None:
    frame = _frame(member=["klopez"], date=["2026-10-05"], chargeToType=["ServiceTicket"])
    assert _check(frame) == []


def test_every_failure_is_collected_with_row_column_and_code() -> None:
    frame = _frame(
        member=["klopez", "", "klopez"],
        date=["2026-10-05", "2026-10-05", ""],
        id=["12", "1x", ""],
        chargeToType=["ServiceTickt", "", "Company"],
        billableOption=["", "Maybe", "Billable"],
        status=["Open", "Closed", ""],
    )
    assert _check(frame) == [
        (2, "chargeToType", "invalid_choice", "ServiceTickt"),
        (3, "Tech", "missing_value", ""),
        (3, "billableOption", "invalid_choice", "Maybe"),
        (3, "id", "bad_integer", "1x"),
        (3, "status", "invalid_choice", "Closed"),
        (4, "date", "missing_value", ""),
    ]


def test_invalid_choice_suggests_the_closest_value() -> None:
    frame = _frame(member=["a"], date=["d"], chargeToType=["ServiceTickt"])
    rows = pd.Series([2])
    (problem,) = check_canonical_frame(frame, sheets=pd.Series(["s"]), rows=rows)
    assert "did you mean 'ServiceTicket'?" in problem.message


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        pytest.param("Remot", "Remote", id="typo"),
        pytest.param("remote", "Remote", id="case"),
        pytest.param("zzzz", None, id="nothing-close"),
        pytest.param("", None, id="blank"),
    ],
)
def test_suggest(value: str, expected: str | None) -> None:
    assert suggest(value, ("Regular", "Remote", "Travel")) == expected
