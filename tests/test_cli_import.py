"""`cwbulk import`, `cwbulk runs` through the CLI, against the sandbox served over HTTP.

What each import wrote is checked in the sandbox itself (entries found by mobileGuid) and
in its request log (which requests were sent).
"""

from __future__ import annotations

import csv
import json
import shutil
from datetime import date, timedelta
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner, Result

from cwbulk.cli import cli
from cwbulk.conditions import and_, cond, in_chunks
from cwbulk.io import read_table
from cwbulk.resources import sample_file

UTC = ["--tz", "UTC"]
MEMBER_MAP = ["--member-map", str(sample_file("member-map.csv"))]
COLUMNS = ("id", "member", "date", "start", "end", "hours", "chargeToType", "chargeTo")
COLUMNS += ("company", "notes", "lastUpdated")
FIRST_DAY = date.today() + timedelta(days=21)


def cwbulk(served, *args: str, input: str | None = None) -> Result:
    return CliRunner().invoke(cli, list(args), env=served.environment(), input=input)


def as_json(result: Result) -> dict:
    assert result.exit_code in (0, 1), result.output
    return json.loads(result.stdout)


def entries_by_guid(served, guids: list[str]) -> dict[str, list[dict]]:
    """The entries carrying each of ``guids`` (asked in chunks of ``mobileGuid in (...)``)."""
    found: dict[str, list[dict]] = {guid: [] for guid in guids}
    with served.client() as http:
        for condition in in_chunks("mobileGuid", guids):
            page = http.get("/time/entries", params={"conditions": condition, "pageSize": 1000})
            page.raise_for_status()
            for item in page.json():
                found[item["mobileGuid"]].append(item)
    return found


def entry(served, entry_id: int) -> dict:
    with served.client() as http:
        found = http.get(f"/time/entries/{entry_id}")
    found.raise_for_status()
    return found.json()


def writes(served) -> list[str]:
    return [r["method"] for r in served.requests() if r["method"] in ("POST", "PATCH", "DELETE")]


def write_sheet(path: Path, rows: list[dict[str, str]]) -> Path:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=COLUMNS)
        writer.writeheader()
        writer.writerows(rows)
    return path


def new_row(n: int, **changes: str) -> dict[str, str]:
    """A new one-hour ADMIN charge-code row for abaker, three weeks ahead."""
    row = {
        "member": "abaker",
        "date": (FIRST_DAY + timedelta(days=n // 8)).isoformat(),
        "start": f"{8 + n % 8:02d}:00",
        "end": f"{8 + n % 8:02d}:50",
        "chargeToType": "ChargeCode",
        "chargeTo": "ADMIN",
        "company": "Cwbulk",
        "notes": f"row {n}",
    }
    return {**row, **changes}


def exported_row(served, status: str = "Open") -> tuple[dict, dict[str, str]]:
    """An existing entry and its row as an export would write it (id, lastUpdated)."""
    with served.client() as http:
        found = http.get(
            "/time/entries",
            params={
                "conditions": f'status = "{status}" and chargeToType = "ServiceTicket"',
                "pageSize": 200,
            },
        ).json()
    for item in found:
        if item["timeStart"][:10] == item["timeEnd"][:10] and not item.get("hoursDeduct"):
            return item, {
                "id": str(item["id"]),
                "member": item["member"]["identifier"],
                "date": item["timeStart"][:10],
                "start": item["timeStart"][11:16],
                "end": item["timeEnd"][11:16],
                "chargeToType": "ServiceTicket",
                "chargeTo": str(item["chargeToId"]),
                "notes": item.get("notes", ""),
                "lastUpdated": item["_info"]["lastUpdated"],
            }
    raise AssertionError(f"no single-day {status} ticket entry in the seed")


SAMPLES = [
    pytest.param("legacy-timesheet.xlsx", [], id="legacy-xlsx"),
    pytest.param("toggl-export.csv", MEMBER_MAP, id="toggl"),
    pytest.param("clockify-export.csv", MEMBER_MAP, id="clockify"),
    pytest.param("harvest-export.csv", MEMBER_MAP, id="harvest"),
]


@pytest.mark.parametrize(("sample", "options"), SAMPLES)
def test_a_sample_creates_exactly_the_planned_entries_and_a_rerun_sends_no_write(
    served_sandbox, tmp_path: Path, sample: str, options: list[str]
) -> None:
    served = served_sandbox()
    source = Path(shutil.copy(sample_file(sample), tmp_path / sample))
    common = ["import", str(source), *UTC, *options, "--max-rate", "0"]

    planned = as_json(cwbulk(served, "--json", *common, "--dry-run"))
    assert writes(served) == []
    assert len(served.requests()) <= 25, "existing entries are read in pages, not per row"
    plan = json.loads(Path(planned["plan"]).read_text(encoding="utf-8"))
    creates = [i for i in plan["items"] if i["action"] == "create"]
    rows = sum(len(s.frame) for s in read_table(source))
    assert planned["counts"]["create"] == len(creates) == rows - planned["counts"]["duplicate"]
    assert planned["counts"]["invalid"] == 0

    done = as_json(cwbulk(served, "--json", *common, "--yes"))
    assert done["outcomes"]["created"] == len(creates) and done["outcomes"]["failed"] == 0
    assert writes(served).count("POST") == len(creates) == done["sent"]
    assert done["seconds"]["plan"] > 0 and done["seconds"]["send"] > 0
    made_by_guid = entries_by_guid(served, [item["mobileGuid"] for item in creates])
    for item in creates:
        [made] = made_by_guid[item["mobileGuid"]]
        body = item["body"]
        assert made["member"]["id"] == body["member"]["id"]
        assert (made["chargeToType"], made["timeStart"]) == (
            body["chargeToType"],
            body["timeStart"],
        )
        assert made["actualHours"] == pytest.approx(body["actualHours"])
        assert made.get("notes") == body.get("notes")

    served.clear_requests()
    again = as_json(cwbulk(served, "--json", *common, "--yes"))
    assert again["counts"]["unchanged"] == len(creates)
    assert again["outcomes"]["unchanged"] == len(creates)
    assert again["outcomes"]["created"] == again["outcomes"]["updated"] == 0
    assert writes(served) == [], "a rerun sends no POST or PATCH"
    assert (again["sent"], again["seconds"]["send"]) == (0, 0)
    results = read_table(Path(again["results"]))[0].frame
    assert len(results) == rows
    assert set(results["outcome"]) <= {"unchanged", "skipped"}


def test_the_dry_run_shows_counts_and_the_diff_and_writes_the_plan(
    served_sandbox, tmp_path: Path
) -> None:
    served = served_sandbox()
    target, row = exported_row(served)
    sheet = write_sheet(
        tmp_path / "t.csv", [new_row(0), new_row(1), new_row(2), {**row, "notes": "new notes"}]
    )

    result = cwbulk(served, "import", str(sheet), *UTC, "--dry-run", "--show", "2")

    assert result.exit_code == 0, result.output
    err = result.stderr
    assert err.startswith(f"t.csv → {served.url}: profile canonical, time zone UTC\nPlan:\n")
    assert "\n  create           3\n  update           1\n  unchanged        0\n" in err
    assert "Creates (first 2 of 3; --show all for every one):" in err
    day = FIRST_DAY.isoformat()
    assert f'  row 2: abaker · {day} 08:00 · 0.833333 h · ChargeCode ADMIN · "row 0"' not in err
    assert f'  row 2: abaker · {day} 08:00 · 0.83 h · ChargeCode ADMIN · "row 0"' in err
    assert "  row 4:" not in err.split("Updates")[0]
    before = target.get("notes", "")
    assert f'  row 5: entry {target["id"]}: notes: "{before[:29]}' in err
    assert '→ "new notes"' in err
    assert f"Plan written to {sheet}.plan.json" in err
    assert (tmp_path / "t.csv.plan.json").exists()
    assert writes(served) == []
    everything = cwbulk(served, "import", str(sheet), *UTC, "--dry-run", "--show", "all")
    assert "  row 4: abaker" in everything.stderr


def test_json_without_yes_is_refused_rather_than_asked(served_sandbox, tmp_path: Path) -> None:
    served = served_sandbox()
    sheet = write_sheet(tmp_path / "t.csv", [new_row(0)])
    result = cwbulk(served, "--json", "import", str(sheet), *UTC)
    assert result.exit_code == 2
    assert result.stderr.startswith("Error: --json can't ask for confirmation.\n")
    assert "--dry-run, then run again with --yes" in result.stderr
    assert served.requests() == []


@pytest.mark.parametrize(
    ("answer", "code", "created"),
    [pytest.param("n\n", 1, 0, id="no"), pytest.param("y\n", 0, 1, id="yes")],
)
def test_the_confirmation_shows_the_plan_first(
    served_sandbox, tmp_path: Path, answer: str, code: int, created: int
) -> None:
    served = served_sandbox()
    sheet = write_sheet(tmp_path / "t.csv", [new_row(0)])
    result = cwbulk(served, "import", str(sheet), *UTC, input=answer)
    assert result.exit_code == code, result.output
    assert result.stderr.index("Plan:") < result.stderr.index("Write 1 new and 0 changed")
    assert writes(served).count("POST") == created
    if not created:
        assert "Nothing was written to ConnectWise." in result.stderr


def test_an_edited_cell_becomes_one_patch_of_that_field(served_sandbox, tmp_path: Path) -> None:
    served = served_sandbox()
    target, row = exported_row(served)
    sheet = write_sheet(tmp_path / "t.csv", [{**row, "notes": "Edited in the sheet"}])
    served.clear_requests()

    done = as_json(cwbulk(served, "--json", "import", str(sheet), *UTC, "--yes"))

    assert done["outcomes"]["updated"] == 1
    [patch] = [r for r in served.requests() if r["method"] == "PATCH"]
    assert patch["path"].endswith(f"/time/entries/{target['id']}")
    assert writes(served) == ["PATCH"]
    after = entry(served, target["id"])
    assert after["notes"] == "Edited in the sheet"
    assert {k: v for k, v in after.items() if k not in ("notes", "_info")} == {
        k: v for k, v in target.items() if k not in ("notes", "_info")
    }


def test_an_entry_changed_after_the_dry_run_is_a_conflict_left_alone(
    served_sandbox, tmp_path: Path
) -> None:
    served = served_sandbox()
    target, row = exported_row(served)
    row.pop("lastUpdated")
    sheet = write_sheet(tmp_path / "t.csv", [{**row, "notes": "mine"}])
    planned = as_json(cwbulk(served, "--json", "import", str(sheet), *UTC, "--dry-run"))
    assert planned["counts"]["update"] == 1
    with served.client() as http:
        http.patch(
            f"/time/entries/{target['id']}",
            json=[{"op": "replace", "path": "notes", "value": "theirs"}],
        ).raise_for_status()
    served.clear_requests()

    done = cwbulk(served, "import", str(sheet), *UTC, "--yes")

    assert done.exit_code == 0, done.output
    assert "  conflict         1" in done.stderr
    assert f"entry {target['id']} changed in ConnectWise at" in done.stderr
    assert "after the plan you saw" in done.stderr
    assert writes(served) == []
    assert entry(served, target["id"])["notes"] == "theirs"
    results = read_table(tmp_path / "t.results.csv")[0].frame
    assert list(results.loc[2, ["action", "outcome", "errorCode"]]) == [
        "conflict",
        "skipped",
        "changed_since_plan",
    ]


@pytest.mark.parametrize(
    ("choice", "code", "outcome", "notes"),
    [
        pytest.param("skip", 0, "skipped", "theirs", id="skip"),
        pytest.param("overwrite", 0, "updated", "mine", id="overwrite"),
        pytest.param("fail", 1, "failed", "theirs", id="fail"),
    ],
)
def test_on_conflict_with_a_sheet_exported_before_the_change(
    served_sandbox, tmp_path: Path, choice: str, code: int, outcome: str, notes: str
) -> None:
    served = served_sandbox()
    target, row = exported_row(served)
    with served.client() as http:
        http.patch(
            f"/time/entries/{target['id']}",
            json=[{"op": "replace", "path": "notes", "value": "theirs"}],
        ).raise_for_status()
    sheet = write_sheet(tmp_path / "t.csv", [{**row, "notes": "mine"}, new_row(0)])
    served.clear_requests()

    result = cwbulk(served, "--json", "import", str(sheet), *UTC, "--yes", "--on-conflict", choice)

    assert result.exit_code == code, result.output
    done = json.loads(result.stdout)
    assert done["counts"]["conflict"] == 1
    assert done["outcomes"][outcome] >= 1
    assert entry(served, target["id"])["notes"] == notes
    results = read_table(Path(done["results"]))[0].frame
    assert results.loc[2, "outcome"] == outcome
    if choice == "fail":
        assert writes(served) == [], "nothing at all is written"
        assert results.loc[3, "outcome"] == "skipped"
        assert "--on-conflict is fail" in results.loc[3, "message"]
    else:
        assert results.loc[3, "outcome"] == "created"


def on_a_submitted_sheet(served) -> dict[str, str]:
    """A new row in the week of a submitted time sheet: ConnectWise refuses to add it."""
    with served.client() as http:
        [submitted] = http.get(
            "/time/sheets", params={"conditions": 'status = "PendingApproval"', "pageSize": 1}
        ).json()
    when = {"date": submitted["dateStart"][:10], "start": "22:00", "end": "22:30"}
    return new_row(9, member=submitted["member"]["identifier"], **when)


def test_invalid_and_failed_rows_are_in_the_results_and_the_errors_only_file(
    served_sandbox, tmp_path: Path
) -> None:
    served = served_sandbox()
    billed, billed_row = exported_row(served, "Billed")
    late = on_a_submitted_sheet(served)
    rows = [
        new_row(0),
        new_row(1, member="nobody-here"),
        {**billed_row, "notes": "too late"},
        new_row(2, hours="x", end=""),
        new_row(0),
        late,
    ]
    sheet = write_sheet(tmp_path / "t.csv", rows)
    errors = tmp_path / "fix-me.csv"
    served.clear_requests()

    result = cwbulk(
        served, "--json", "import", str(sheet), *UTC, "--yes", "--errors-only", str(errors)
    )

    assert result.exit_code == 1
    done = json.loads(result.stdout)
    assert done["counts"] == {
        "create": 2,
        "update": 0,
        "unchanged": 0,
        "conflict": 0,
        "duplicate": 1,
        "invalid": 3,
    }
    assert done["outcomes"] == {
        "created": 1,
        "updated": 0,
        "unchanged": 0,
        "skipped": 1,
        "invalid": 3,
        "failed": 1,
    }
    assert writes(served) == ["POST", "POST"], "the billed entry is never patched"
    results = pd.read_csv(done["results"], dtype=str, keep_default_na=False)
    assert list(results.columns[:7]) == [
        "sheet",
        "row",
        "action",
        "outcome",
        "connectwiseId",
        "errorCode",
        "message",
    ]
    assert list(results.columns[7:]) == list(COLUMNS)
    assert list(results["row"]) == ["2", "3", "4", "5", "6", "7"]
    assert list(results["outcome"]) == [
        "created",
        "invalid",
        "invalid",
        "invalid",
        "skipped",
        "failed",
    ]
    assert "nobody-here" in results.loc[1, "message"]
    assert results.loc[2, "errorCode"] == "entry_billed"
    assert results.loc[2, "message"].startswith(f"entry {billed['id']} is Billed")
    assert results.loc[3, "errorCode"] == "bad_hours"
    assert results.loc[4, "message"].startswith("repeats row 2")
    assert results.loc[5, "errorCode"] == "TimeEntryApi"
    assert "PendingApproval" in results.loc[5, "message"]

    fix = pd.read_csv(errors, dtype=str, keep_default_na=False)
    assert list(fix.columns) == list(COLUMNS)
    assert list(fix["member"]) == [
        "nobody-here",
        billed_row["member"],
        "abaker",
        late["member"],
    ]
    fix.loc[0, "member"] = "bchen"
    fix.loc[2, "hours"] = ""
    fix.loc[2, "end"] = "10:50"
    fix = fix.drop(index=[1, 3])
    fix.to_csv(errors, index=False)
    again = as_json(cwbulk(served, "--json", "import", str(errors), *UTC, "--yes"))
    assert again["outcomes"]["created"] == 2 and again["outcomes"]["failed"] == 0


@pytest.mark.parametrize(
    ("column", "broken", "fixed"),
    [
        pytest.param("company", "No Such Company", "Cwbulk", id="resolution-error"),
        pytest.param("billableOption", "Maybe", "Billable", id="validation-error"),
    ],
)
def test_a_fixed_row_from_the_errors_only_file_leaves_its_twins_entry_alone(
    served_sandbox, tmp_path: Path, column: str, broken: str, fixed: str
) -> None:
    # Rows 2 and 3 share member, date, charge-to, hours and start: only the notes differ.
    served = served_sandbox()
    rows = pd.DataFrame([new_row(0, notes="first"), new_row(0, notes="second")])
    rows.loc[0, column] = broken
    sheet = tmp_path / "twins.csv"
    rows.fillna("").to_csv(sheet, index=False)
    errors = tmp_path / "fix-me.csv"
    first = as_json(
        cwbulk(served, "--json", "import", str(sheet), *UTC, "--yes", "--errors-only", str(errors))
    )
    assert (first["outcomes"]["created"], first["outcomes"]["invalid"]) == (1, 1)
    twin_id = int(pd.read_csv(first["results"], dtype=str).loc[1, "connectwiseId"])

    fix = pd.read_csv(errors, dtype=str, keep_default_na=False)
    assert list(fix[column]) == [broken]
    fix.loc[0, column] = fixed
    fix.to_csv(errors, index=False)
    shown = cwbulk(served, "import", str(errors), *UTC, "--dry-run")
    assert "Check 1 of the creates" in shown.stderr
    assert f"ConnectWise already has entry {twin_id} with this member" in shown.stderr
    served.clear_requests()
    again = as_json(cwbulk(served, "--json", "import", str(errors), *UTC, "--yes"))

    assert again["counts"]["create"] == 1 and again["counts"]["update"] == 0
    assert writes(served) == ["POST"]
    assert entry(served, twin_id)["notes"] == "second"
    made = int(pd.read_csv(again["results"], dtype=str).loc[0, "connectwiseId"])
    assert entry(served, made)["notes"] == "first"


def test_a_new_twin_in_another_file_is_created_but_an_edit_of_the_same_file_updates(
    served_sandbox, tmp_path: Path
) -> None:
    served = served_sandbox()
    week = write_sheet(tmp_path / "week.csv", [new_row(0, notes="first")])
    journal = ["--journal", str(tmp_path / "journal.sqlite")]
    common = [*UTC, "--yes", *journal]
    first = as_json(cwbulk(served, "--json", "import", str(week), *common))
    made = int(pd.read_csv(first["results"], dtype=str).loc[0, "connectwiseId"])

    extra = write_sheet(tmp_path / "late-additions.csv", [new_row(0, notes="second")])
    shown = cwbulk(served, "import", str(extra), *UTC, "--dry-run", *journal)
    assert f"ConnectWise already has entry {made} with this member" in shown.stderr
    added = as_json(cwbulk(served, "--json", "import", str(extra), *common))
    assert (added["counts"]["create"], added["counts"]["update"]) == (1, 0)
    assert entry(served, made)["notes"] == "first"

    write_sheet(week, [new_row(0, notes="first, edited")])
    edited = as_json(cwbulk(served, "--json", "import", str(week), *common))
    assert (edited["counts"]["create"], edited["counts"]["update"]) == (0, 1)
    assert entry(served, made)["notes"] == "first, edited"


def test_results_of_a_workbook_are_a_workbook(served_sandbox, tmp_path: Path) -> None:
    served = served_sandbox()
    source = tmp_path / "t.xlsx"
    pd.DataFrame([new_row(0), new_row(1)]).to_excel(source, index=False)
    done = as_json(cwbulk(served, "--json", "import", str(source), *UTC, "--yes"))
    assert done["results"] == str(tmp_path / "t.results.xlsx")
    results = pd.read_excel(done["results"], dtype=str, engine="calamine")
    assert list(results["outcome"]) == ["created", "created"]
    assert list(results["notes"]) == ["row 0", "row 1"]
    custom = tmp_path / "out" / "r.csv"
    custom.parent.mkdir()
    done = as_json(
        cwbulk(served, "--json", "import", str(source), *UTC, "--yes", "--results", str(custom))
    )
    assert done["results"] == str(custom) and custom.exists()


def test_runs_lists_the_imports(served_sandbox, tmp_path: Path) -> None:
    served = served_sandbox()
    sheet = write_sheet(tmp_path / "t.csv", [new_row(0), new_row(1)])
    journal = ["--journal", str(tmp_path / "j.sqlite")]
    as_json(cwbulk(served, "--json", "import", str(sheet), *UTC, "--yes", *journal))
    as_json(cwbulk(served, "--json", "import", str(sheet), *UTC, "--yes", *journal))

    listed = json.loads(cwbulk(served, "--json", "runs", *journal).stdout)
    assert [r["id"] for r in listed["runs"]] == [2, 1]
    assert listed["runs"][1]["counts"]["outcomes"]["created"] == 2
    assert listed["runs"][0]["counts"]["outcomes"]["unchanged"] == 2
    assert {r["site"] for r in listed["runs"]} == {served.url}
    assert all(served.private_key not in json.dumps(r) for r in listed["runs"])
    text = cwbulk(served, "runs", *journal)
    assert text.exit_code == 0
    header, newest, oldest = text.stdout.splitlines()
    assert header.split() == [
        "run",
        "started",
        "status",
        "created",
        "updated",
        "failed",
        "site",
        "source",
    ]
    assert newest.split()[0::2][:2] == ["2", "finished"]
    assert oldest.split()[3] == "2"


def test_a_bad_option_or_file_exits_2_without_a_traceback(served_sandbox, tmp_path: Path) -> None:
    served = served_sandbox()
    missing = cwbulk(served, "import", str(tmp_path / "nope.csv"), "--dry-run")
    assert missing.exit_code == 2 and "Traceback" not in missing.output
    sheet = write_sheet(tmp_path / "t.csv", [new_row(0)])
    bad_show = cwbulk(served, "import", str(sheet), "--dry-run", "--show", "some")
    assert bad_show.exit_code == 2 and "give a number of rows, or all" in bad_show.output


@pytest.mark.parametrize(
    ("status", "code", "says"),
    [
        pytest.param(">Closed", "ticket_closed", "does not allow time", id="closed"),
        pytest.param("Resolved", "ticket_no_time", "a status that takes no time", id="no-time"),
    ],
)
def test_an_entry_on_a_closed_ticket_may_stay_there_but_not_be_moved_onto_one(
    served_sandbox, tmp_path: Path, status: str, code: str, says: str
) -> None:
    served = served_sandbox()
    reference = json.loads(sample_file("seed/reference.json").read_text(encoding="utf-8"))
    closed = [t["id"] for t in reference["serviceTickets"] if t["status"] == status]
    with served.client() as http:
        found = http.get(
            "/time/entries",
            params={
                "conditions": and_(
                    cond("chargeToType", "=", "ServiceTicket"), cond("chargeToId", "in", closed)
                ),
                "pageSize": 100,
            },
        ).json()
    on_closed = next(e for e in found if e["timeStart"][:10] == e["timeEnd"][:10])
    _open_entry, row = exported_row(served)
    stay = {
        **row,
        "id": str(on_closed["id"]),
        "member": on_closed["member"]["identifier"],
        "date": on_closed["timeStart"][:10],
        "start": on_closed["timeStart"][11:16],
        "end": on_closed["timeEnd"][11:16],
        "chargeTo": str(on_closed["chargeToId"]),
        "notes": on_closed.get("notes", ""),
        "lastUpdated": on_closed["_info"]["lastUpdated"],
    }
    move = {**row, "chargeTo": str(closed[0])}
    sheet = write_sheet(tmp_path / "t.csv", [stay, move])

    planned = as_json(cwbulk(served, "--json", "import", str(sheet), *UTC, "--dry-run"))

    plan = json.loads(Path(planned["plan"]).read_text(encoding="utf-8"))
    assert [(i["action"], i["code"]) for i in plan["items"]] == [
        ("unchanged", None),
        ("invalid", code),
    ]
    assert says in plan["items"][1]["message"]


def test_rows_an_earlier_run_wrote_are_announced_in_the_plan_before_they_are_skipped(
    served_sandbox, tmp_path: Path
) -> None:
    served = served_sandbox()
    source = write_sheet(tmp_path / "two.csv", [new_row(0), new_row(1)])
    common = ["--json", "import", str(source), *UTC, "--max-rate", "0"]
    done = as_json(cwbulk(served, *common, "--yes"))
    assert done["outcomes"]["created"] == 2
    created = read_table(Path(done["results"]))[0].frame["connectwiseId"].tolist()
    with served.client() as http:
        http.delete(f"/time/entries/{created[0]}").raise_for_status()

    planned = as_json(cwbulk(served, *common, "--dry-run"))
    assert planned["counts"]["create"] == 1
    assert planned["alreadyDone"] == 1
    text = cwbulk(served, *common[1:], "--dry-run")
    assert "1 were already written by an earlier import of this file" in text.stderr

    served.clear_requests()
    again = as_json(cwbulk(served, *common, "--yes"))
    assert again["outcomes"]["skipped"] == 1 and again["outcomes"]["unchanged"] == 1
    assert writes(served) == []
