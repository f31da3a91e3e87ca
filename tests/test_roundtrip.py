"""The spreadsheet round trip: `cwbulk export`, edit, `cwbulk import` (DESIGN.md invariant 5).

Over a served sandbox seeded for 2026-11-04, so that the last two weeks (open time sheets)
hold the US change back from daylight saving time (2026-11-01), and older weeks hold
billed entries. Added to the seed: unicode and multi-line notes, notes that look like
formulas, entries on both sides of the DST change, and an entry with blank optional
fields. What each import wrote is read from the sandbox's request log.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Callable
from datetime import date
from pathlib import Path

import openpyxl
import pandas as pd
import pytest
from click.testing import CliRunner, Result
from sandbox_fixtures import copy_database, in_process_client

from cwbulk.cli import cli
from cwbulk.sandbox import SandboxConfig, create_app, reset

TODAY = date(2026, 11, 4)
TZ = ["--tz", "America/New_York"]
OPEN_WEEKS = ["--from", "2026-10-26", "--to", "2026-11-04"]

SPECIAL = {
    "unicode-multiline": {
        "timeStart": "2026-10-30T13:00:00Z",  # 09:00 EDT, before the change
        "timeEnd": "2026-10-30T14:30:00Z",
        "notes": "Ünïcödé ✓ 日本語 — ça marche\nsecond line\n\nfourth line",
        "internalNotes": "line one\r\nline two",
    },
    "formula-notes": {
        "timeStart": "2026-10-30T15:00:00Z",
        "timeEnd": "2026-10-30T15:30:00Z",
        "notes": '=HYPERLINK("http://attacker.invalid","open")',
        "internalNotes": "@SUM(A1:A3)",
    },
    "dst-night": {
        "timeStart": "2026-11-01T07:30:00Z",  # 02:30 EST, just after the clocks went back
        "timeEnd": "2026-11-01T08:30:00Z",
        "notes": "Overnight patching",
    },
    "after-dst": {
        "timeStart": "2026-11-02T14:00:00Z",  # 09:00 EST
        "timeEnd": "2026-11-02T15:15:00Z",
        "hoursDeduct": 0.25,
        "notes": "Migrated mailboxes",
        "internalNotes": "Check the archive",
    },
    "blank-optional": {
        "timeStart": "2026-11-03T14:00:00Z",
        "actualHours": 0.75,
    },
}


@pytest.fixture(scope="module")
def roundtrip_template(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, int]]:
    """A sandbox database seeded for TODAY plus the SPECIAL entries; their ids by name."""
    path = tmp_path_factory.mktemp("roundtrip") / "template.sqlite"
    reset(path, today=TODAY)
    app = create_app(SandboxConfig(db_path=path))
    ids = {}
    with in_process_client(app) as client:
        found = client.get(
            "time/entries",
            params={
                "conditions": 'status = "Open" and chargeToType = "ServiceTicket"',
                "orderBy": "id asc",
                "pageSize": 1,
            },
        ).json()
        model = found[0]
        for name, fields in SPECIAL.items():
            body = {
                "member": {"id": model["member"]["id"]},
                "chargeToType": "ServiceTicket",
                "chargeToId": model["chargeToId"],
                **fields,
            }
            response = client.post("time/entries", json=body)
            assert response.status_code == 201, response.text
            ids[name] = response.json()["id"]
    app.state.store.checkpoint()
    app.state.store.close()
    return path, ids


@pytest.fixture
def served(served_sandbox, roundtrip_template, tmp_path: Path):
    template, _ids = roundtrip_template
    return served_sandbox(db_path=copy_database(template, tmp_path / "sandbox.sqlite"))


@pytest.fixture
def special(roundtrip_template) -> dict[str, int]:
    return roundtrip_template[1]


def cwbulk(served, *args: str) -> Result:
    env = served.environment()
    return CliRunner().invoke(cli, ["--json", *args], env=env)


def export(served, path: Path, *filters: str) -> int:
    result = cwbulk(served, "export", "-o", str(path), *TZ, *filters)
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)["rows"]


def import_(served, path: Path, *options: str) -> dict:
    result = cwbulk(served, "import", str(path), *TZ, *options)
    assert result.exit_code in (0, 1), result.output
    return json.loads(result.stdout)


def plan_items(report: dict) -> dict[int, dict]:
    """The plan's items by the entry id of their row (invalid rows carry no entry id)."""
    source = Path(report["source"])
    ids = list(read_rows(source))  # in sheet order: spreadsheet row 2, 3, …
    plan = json.loads(Path(report["plan"]).read_text(encoding="utf-8"))
    return {ids[item["row"] - 2]: item for item in plan["items"]}


def entry(served, entry_id: int) -> dict:
    with served.client() as http:
        response = http.get(f"/time/entries/{entry_id}")
    response.raise_for_status()
    return response.json()


def writes(served) -> list[dict]:
    return [r for r in served.requests() if r["method"] != "GET"]


def edit(path: Path, entry_id: int, change: Callable[[dict], None] | None) -> None:
    """Change (or, with None, delete) the row of ``entry_id`` as a person would in a sheet."""
    if path.suffix == ".csv":
        with path.open(encoding="utf-8", newline="") as handle:
            reader = csv.DictReader(handle)
            header, rows = reader.fieldnames, list(reader)
        kept = []
        for row in rows:
            if int(row["id"]) == entry_id:
                if change is None:
                    continue
                change(row)
            kept.append(row)
        assert len(kept) == len(rows) - (change is None)
        with path.open("w", encoding="utf-8", newline="") as handle:
            writer = csv.DictWriter(handle, fieldnames=header)
            writer.writeheader()
            writer.writerows(kept)
        return
    book = openpyxl.load_workbook(path)
    sheet = book["Time entries"]
    header = [c.value for c in sheet[1]]
    number = next(r for r in range(2, sheet.max_row + 1) if sheet.cell(r, 1).value == entry_id)
    if change is None:
        sheet.delete_rows(number)
    else:
        cells = {name: sheet.cell(number, n + 1) for n, name in enumerate(header)}
        values = {name: cell.value for name, cell in cells.items()}
        change(values)
        for name, cell in cells.items():
            if values[name] != cell.value:
                cell.value = values[name]
    book.save(path)


# ---------------------------------------------------------------------------- unchanged


@pytest.mark.parametrize("suffix", [".xlsx", ".csv"])
def test_unchanged_export_plans_no_writes(
    served, special: dict[str, int], tmp_path: Path, suffix: str
) -> None:
    path = tmp_path / f"everything{suffix}"
    rows = export(served, path)
    report = import_(served, path, "--dry-run")
    counts = report["counts"]
    assert sum(counts.values()) == rows
    assert (counts["create"], counts["update"]) == (0, 0)
    assert (counts["conflict"], counts["duplicate"]) == (0, 0)
    items = plan_items(report)
    assert {name: items[i]["action"] for name, i in special.items()} == dict.fromkeys(
        special, "unchanged"
    )
    billed = [e["id"] for e in _billed(served)]
    assert billed and all(i in items for i in billed), "billed entries are exported"
    assert {items[i]["action"] for i in billed} <= {"unchanged", "invalid"}
    assert writes(served) == []


def _billed(served) -> list[dict]:
    with served.client() as http:
        found = http.get(
            "/time/entries", params={"conditions": 'status = "Billed"', "pageSize": 1000}
        )
    return found.json()


def test_unchanged_export_has_no_invalid_rows(served, tmp_path: Path) -> None:
    """Rows that change nothing must not be refused for an inactive member or a closed ticket."""
    path = tmp_path / "everything.xlsx"
    export(served, path)
    counts = import_(served, path, "--dry-run")["counts"]
    assert counts["invalid"] == 0, counts


@pytest.mark.parametrize("suffix", [".xlsx", ".csv"])
def test_export_shows_local_times_on_both_sides_of_the_dst_change(
    served, special: dict[str, int], tmp_path: Path, suffix: str
) -> None:
    path = tmp_path / f"dst{suffix}"
    export(served, path, *OPEN_WEEKS)
    rows = read_rows(path)
    shown = {
        name: (str(rows[special[name]]["date"])[:10], str(rows[special[name]]["start"])[:5])
        for name in ("unicode-multiline", "dst-night", "after-dst")
    }
    assert shown == {
        "unicode-multiline": ("2026-10-30", "09:00"),
        "dst-night": ("2026-11-01", "02:30"),
        "after-dst": ("2026-11-02", "09:00"),
    }
    for name in ("unicode-multiline", "formula-notes"):
        written = rows[special[name]]
        assert written["notes"].removeprefix("'") == SPECIAL[name]["notes"]
        assert written["internalNotes"].removeprefix("'") == SPECIAL[name]["internalNotes"]
    blank = rows[special["blank-optional"]]
    assert all(not blank[c] or blank[c] != blank[c] for c in ("notes", "internalNotes"))


def read_rows(path: Path) -> dict[int, dict]:
    """The exported rows by id: CSV text, or workbook cells as pandas reads them."""
    if path.suffix == ".csv":
        with path.open(encoding="utf-8", newline="") as handle:
            return {int(row["id"]): row for row in csv.DictReader(handle)}
    frame = pd.read_excel(path, sheet_name="Time entries", engine="calamine")
    return {int(row["id"]): row for row in frame.to_dict("records")}


# ------------------------------------------------------------------------------- edits

EDITS = {
    "notes": ("notes", "Replaced the toner — and tested ✓", "notes"),
    "workType": ("workType", "Remote", "workType"),
    "billableOption": ("billableOption", "NoCharge", "billableOption"),
}


@pytest.mark.parametrize(
    ("suffix", "edit_name"),
    [
        pytest.param(".xlsx", "notes", id="xlsx-notes"),
        pytest.param(".csv", "notes", id="csv-notes"),
        pytest.param(".xlsx", "workType", id="xlsx-workType"),
        pytest.param(".csv", "billableOption", id="csv-billableOption"),
    ],
)
def test_an_edited_cell_becomes_one_patch_of_that_field(
    served, special: dict[str, int], tmp_path: Path, suffix: str, edit_name: str
) -> None:
    column, value, field = EDITS[edit_name]
    target = special["after-dst"]
    before = entry(served, target)
    path = tmp_path / f"edited{suffix}"
    export(served, path, *OPEN_WEEKS)
    edit(path, target, lambda row: row.update({column: value}))
    dry = import_(served, path, "--dry-run")
    assert (dry["counts"]["create"], dry["counts"]["update"]) == (0, 1)
    assert [c["field"] for c in plan_items(dry)[target]["changes"]] == [field]
    served.clear_requests()
    done = import_(served, path, "--yes")
    assert done["outcomes"]["updated"] == 1
    sent = writes(served)
    assert [(w["method"], w["path"].rsplit("/", 1)[-1]) for w in sent] == [("PATCH", str(target))]
    after = entry(served, target)
    got = after[field]["name"] if isinstance(after[field], dict) else after[field]
    assert got == value
    kept = {"member", "timeStart", "timeEnd", "actualHours", "hoursDeduct", "chargeToType"}
    kept |= {"chargeToId", "company", "workType", "workRole", "notes", "internalNotes"}
    kept -= {field}
    assert {k: after.get(k) for k in kept} == {k: before.get(k) for k in kept}


# ---------------------------------------------------------------------------- conflicts


@pytest.mark.parametrize(
    "also_edited_in_sheet",
    [pytest.param(True, id="edited-in-both"), pytest.param(False, id="edited-in-cw-only")],
)
def test_an_entry_changed_in_connectwise_since_the_export_is_a_conflict(
    served, special: dict[str, int], tmp_path: Path, also_edited_in_sheet: bool
) -> None:
    target = special["after-dst"]
    path = tmp_path / "stale.xlsx"
    export(served, path, *OPEN_WEEKS)
    with served.client() as http:
        patched = http.patch(
            f"/time/entries/{target}",
            json=[{"op": "replace", "path": "notes", "value": "Changed in ConnectWise"}],
        )
    assert patched.status_code == 200, patched.text
    if also_edited_in_sheet:
        edit(path, target, lambda row: row.update({"internalNotes": "Changed in the sheet"}))
    dry = import_(served, path, "--dry-run")
    assert (dry["counts"]["conflict"], dry["counts"]["update"]) == (1, 0)
    assert plan_items(dry)[target]["action"] == "conflict"
    served.clear_requests()
    done = import_(served, path, "--yes")
    assert done["counts"]["conflict"] == 1
    assert writes(served) == []
    assert entry(served, target)["notes"] == "Changed in ConnectWise"
    assert entry(served, target)["internalNotes"] == SPECIAL["after-dst"]["internalNotes"]


# --------------------------------------------------------------- deleted rows, billed rows


@pytest.mark.parametrize("suffix", [".xlsx", ".csv"])
def test_a_row_deleted_from_the_sheet_is_left_alone(
    served, special: dict[str, int], tmp_path: Path, suffix: str
) -> None:
    target = special["dst-night"]
    path = tmp_path / f"fewer{suffix}"
    rows = export(served, path, *OPEN_WEEKS)
    edit(path, target, None)
    served.clear_requests()
    report = import_(served, path, "--yes")
    assert sum(report["counts"].values()) == rows - 1
    assert writes(served) == []
    assert entry(served, target)["notes"] == SPECIAL["dst-night"]["notes"]


def test_billed_entries_are_exported_and_never_patched(served, tmp_path: Path) -> None:
    path = tmp_path / "billed.xlsx"
    rows = export(served, path, "--status", "Billed")
    assert rows > 0
    sheet = openpyxl.load_workbook(path)["Time entries"]
    header = [c.value for c in sheet[1]]
    statuses = {sheet.cell(r, header.index("status") + 1).value for r in range(2, rows + 2)}
    assert statuses == {"Billed"}
    target = sheet.cell(2, 1).value
    before = entry(served, target)
    edit(path, target, lambda row: row.update({"notes": "Rewritten after billing"}))
    dry = import_(served, path, "--dry-run")
    assert plan_items(dry)[target]["action"] != "update", plan_items(dry)[target]
    served.clear_requests()
    import_(served, path, "--yes")
    assert [w for w in writes(served) if w["path"].endswith(f"/{target}")] == []
    assert entry(served, target) == before
