"""The sample timesheets: exact counts and reason codes, seed data only, regenerable."""

from __future__ import annotations

import importlib.util
import json
from datetime import date
from pathlib import Path
from types import ModuleType

import pytest

from cwbulk.io import read_table
from cwbulk.resources import sample_file
from cwbulk.validate import ReadOptions, ValidationResult, validate_file

NY = "America/New_York"
SEED = json.loads(sample_file("seed/reference.json").read_text(encoding="utf-8"))
MEMBER_MAP = str(sample_file("member-map.csv"))


def _validate(name: str, **options: object) -> ValidationResult:
    return validate_file(sample_file(name), ReadOptions(tz=NY, **options))  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("name", "options", "profile", "counts", "reasons"),
    [
        pytest.param("legacy-timesheet.csv", {}, "canonical",
                     (328, 328, 0, 0, 2, 0), {}, id="legacy-csv"),
        pytest.param("legacy-timesheet.xlsx", {}, "canonical",
                     (328, 328, 0, 0, 2, 0), {}, id="legacy-xlsx-first-sheet"),
        pytest.param("legacy-timesheet.xlsx", {"sheet": "all"}, "canonical",
                     (334, 334, 0, 0, 2, 0), {}, id="legacy-xlsx-all-sheets"),
        pytest.param("toggl-export.csv", {"member_map": MEMBER_MAP}, "toggl",
                     (43, 43, 0, 1, 0, 0), {"overlap": 1}, id="toggl"),
        pytest.param("clockify-export.csv", {"member_map": MEMBER_MAP}, "clockify",
                     (32, 32, 0, 0, 0, 0), {}, id="clockify"),
        pytest.param("harvest-export.csv", {"member_map": MEMBER_MAP}, "harvest",
                     (22, 22, 0, 0, 0, 0), {}, id="harvest"),
        pytest.param("bad-timesheet.csv", {}, "canonical", (30, 6, 24, 2, 0, 1),
                     {"bad_hours": 2, "hours_out_of_range": 2, "invalid_choice": 2,
                      "missing_value": 2, "bad_time": 2, "bad_date": 1, "end_before_start": 1,
                      "deduct_too_large": 1, "missing_company": 1, "nonexistent_local_time": 1,
                      "ambiguous_local_time": 1, "hours_mismatch": 1, "bad_charge_to": 1,
                      "missing_hours": 1, "missing_end": 1, "bad_integer": 1,
                      "missing_charge_to": 1, "missing_charge_to_type": 1, "duplicate_row": 1,
                      "overlap": 1, "bad_datetime": 1, "duplicate_id": 1}, id="bad"),
    ],
)  # fmt: skip
def test_sample_counts(
    name: str,
    options: dict[str, object],
    profile: str,
    counts: tuple[int, ...],
    reasons: dict[str, int],
) -> None:
    result = _validate(name, **options)
    keys = ("read", "valid", "invalid", "warnings", "blank", "duplicate")
    assert tuple(result.counts[k] for k in keys) == counts
    assert result.profile == profile
    assert dict(result.reasons()) == reasons


# One row per common mistake, at its spreadsheet row (header = 1); see make_samples.BAD_ROWS.
BAD_EXPECTED = [
    (2, "date", "bad_date"),
    (3, "hours", "bad_hours"),
    (4, "end", "end_before_start"),
    (5, "hours", "hours_out_of_range"),
    (6, "deduct", "deduct_too_large"),
    (7, "chargeToType", "invalid_choice"),
    (8, "company", "missing_company"),
    (9, "member", "missing_value"),
    (10, "start", "nonexistent_local_time"),
    (11, "start", "ambiguous_local_time"),
    (12, "start", "bad_time"),
    (12, "end", "bad_time"),
    (13, "hours", "hours_mismatch"),
    (14, "chargeTo", "bad_charge_to"),
    (15, "hours", "missing_hours"),
    (16, "end", "missing_end"),
    (17, "billableOption", "invalid_choice"),
    (18, "hours", "hours_out_of_range"),
    (19, "id", "bad_integer"),
    (20, "chargeTo", "missing_charge_to"),
    (21, "chargeToType", "missing_charge_to_type"),
    (23, None, "duplicate_row"),
    (25, "start", "overlap"),
    (26, "lastUpdated", "bad_datetime"),
    (27, "hours", "bad_hours"),
    (28, "date", "missing_value"),
    (30, "id", "duplicate_id"),
]


def test_the_bad_sample_has_each_mistake_at_its_row() -> None:
    result = _validate("bad-timesheet.csv")
    assert [(p.row, p.column, p.code) for p in result.problems] == BAD_EXPECTED
    assert sorted(result.rows["row"]) == [22, 23, 24, 25, 29, 31]


def _make_samples() -> ModuleType:
    spec = importlib.util.spec_from_file_location("make_samples", sample_file("make_samples.py"))
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_bad_sample_generator_declares_the_same_mistakes() -> None:
    declared = [
        (n + 2, code)
        for n, (_cells, codes) in enumerate(_make_samples().BAD_ROWS)
        for code in codes
    ]
    assert declared == [(row, code) for row, _column, code in BAD_EXPECTED]


def test_the_xlsx_holds_the_csv_rows() -> None:
    csv_rows = _validate("legacy-timesheet.csv").rows
    xlsx_rows = _validate("legacy-timesheet.xlsx").rows
    # start/end/hours are typed differently (time cells, decimal hours, a formula for hours).
    same = [c for c in csv_rows.columns if c not in ("sheet", "start", "end", "hours")]
    assert csv_rows[same].equals(xlsx_rows[same])
    late = _validate("legacy-timesheet.xlsx", sheet="all").rows
    assert late["sheet"].value_counts().to_dict() == {"Timesheet": 328, "Late entries": 6}


def test_the_legacy_samples_mix_timed_and_hours_only_rows() -> None:
    frame = read_table(sample_file("legacy-timesheet.csv"))[0].frame
    timed = (frame["start"] != "").sum()
    assert 100 < timed < len(frame) - 100
    assert {"ServiceTicket", "ProjectTicket", "ChargeCode", "Company", ""} == set(
        frame["chargeToType"]
    )


def test_the_samples_use_only_seed_data() -> None:
    members = {m["identifier"]: m for m in SEED["members"]}
    open_tickets = {
        str(t["id"]) for t in SEED["serviceTickets"] if t["status"] not in (">Closed", "Resolved")
    } | {str(t["id"]) for t in SEED["projectTickets"] if t["status"] != "Closed"}
    companies = {c["identifier"] for c in SEED["companies"]} | {
        c["name"] for c in SEED["companies"]
    }
    by_name = {f"{m['firstName']} {m['lastName']}": k for k, m in members.items()}
    by_email = {m["email"]: k for k, m in members.items()}
    for name, options in [
        ("legacy-timesheet.xlsx", {"sheet": "all"}),
        ("legacy-timesheet.csv", {}),
        ("toggl-export.csv", {"member_map": MEMBER_MAP}),
        ("clockify-export.csv", {"member_map": MEMBER_MAP}),
        ("harvest-export.csv", {"member_map": MEMBER_MAP}),
    ]:
        rows = _validate(name, **options).rows
        for member in rows["member"]:
            identifier = by_name.get(member) or by_email.get(member) or member
            assert identifier in members, (name, member)
            if name.startswith("legacy"):
                assert not members[identifier]["hasHistory"]
                assert not members[identifier]["inactive"]
        tickets = rows[rows["chargeToType"].isin(["ServiceTicket", "ProjectTicket"])]
        assert set(tickets["chargeTo"]) <= open_tickets, name
        assert set(rows["company"]) - {""} <= companies, name
        days = {date.fromisoformat(t[:10]) for t in rows["timeStart"]}
        assert min(days) >= date(2026, 10, 1) and max(days) <= date(2026, 12, 1), name


def test_the_samples_are_what_the_generator_makes(tmp_path: Path) -> None:
    _make_samples().main(tmp_path)
    made = sorted(p.name for p in tmp_path.iterdir())
    assert made == [
        "bad-timesheet.csv", "clockify-export.csv", "harvest-export.csv",
        "legacy-timesheet.csv", "legacy-timesheet.xlsx", "member-map.csv", "toggl-export.csv",
    ]  # fmt: skip
    for name in made:
        if name.endswith(".csv"):
            assert (tmp_path / name).read_bytes() == sample_file(name).read_bytes(), name
        else:
            fresh = read_table(tmp_path / name, sheet="all")
            kept = read_table(sample_file(name), sheet="all")
            assert [s.name for s in fresh] == [s.name for s in kept]
            for a, b in zip(fresh, kept, strict=True):
                assert a.frame.equals(b.frame), (name, a.name)
