"""`cwbulk rollback RUN`: deletes what that run created, and nothing else.

Against a sandbox served over HTTP, whose request log shows every DELETE.
"""

from __future__ import annotations

import csv
import json
from datetime import date, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from cwbulk.cli import cli
from cwbulk.journal import Journal, RowRecord
from cwbulk.plan import mobile_guid

COLUMNS = ("id", "member", "date", "start", "end", "chargeToType", "chargeTo", "company", "notes")
FIRST_DAY = date.today() + timedelta(days=21)


def cwbulk(served, *args: str, input: str | None = None) -> Result:
    return CliRunner().invoke(cli, list(args), env=served.environment(), input=input)


def sheet(path: Path, rows: list[dict[str, str]]) -> Path:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=COLUMNS)
        writer.writeheader()
        writer.writerows(rows)
    return path


def new_rows(first: int, count: int, member: str = "abaker") -> list[dict[str, str]]:
    return [
        {
            "member": member,
            "date": (FIRST_DAY + timedelta(days=n // 8)).isoformat(),
            "start": f"{8 + n % 8:02d}:00",
            "end": f"{8 + n % 8:02d}:30",
            "chargeToType": "ChargeCode",
            "chargeTo": "ADMIN",
            "company": "Cwbulk",
            "notes": f"row {n}",
        }
        for n in range(first, first + count)
    ]


def api(served, method: str, path: str, **kwargs) -> object:
    with served.client() as http:
        response = http.request(method, path, **kwargs)
    response.raise_for_status()
    return response.json() if response.content else None


def total(served) -> int:
    return api(served, "GET", "/time/entries/count")["count"]


class Imported:
    """Imports into a served sandbox with one journal, and reads the runs back."""

    def __init__(self, served, tmp_path: Path) -> None:
        self.served, self.tmp_path = served, tmp_path
        self.journal = tmp_path / "journal.sqlite"

    def run(self, name: str, rows: list[dict[str, str]]) -> dict:
        path = sheet(self.tmp_path / name, rows)
        result = cwbulk(
            self.served,
            "--json",
            "import",
            str(path),
            "--tz",
            "UTC",
            "--yes",
            "--journal",
            str(self.journal),
        )
        assert result.exit_code == 0, result.output
        return json.loads(result.stdout)

    def created_ids(self, run_id: int) -> set[int]:
        with Journal(self.journal) as journal:
            return {r.entry_id for r in journal.rows(run_id) if r.outcome == "created"}

    def rollback(self, run_id: int, *options: str, input: str | None = None) -> Result:
        args = ["rollback", str(run_id), "--journal", str(self.journal), *options]
        return cwbulk(self.served, *args, input=input)


@pytest.fixture
def imported(served_sandbox, tmp_path: Path) -> Imported:
    return Imported(served_sandbox(), tmp_path)


def open_entry(served) -> dict:
    found = api(
        served,
        "GET",
        "/time/entries",
        params={"conditions": 'status = "Open" and chargeToType = "ServiceTicket"', "pageSize": 50},
    )
    return next(e for e in found if e["timeStart"][:10] == e["timeEnd"][:10])


def test_rollback_deletes_what_the_run_created_and_nothing_else(imported: Imported) -> None:
    served = imported.served
    untouched = total(served)
    target = open_entry(served)
    update = {
        "id": str(target["id"]),
        "member": target["member"]["identifier"],
        "date": target["timeStart"][:10],
        "start": target["timeStart"][11:16],
        "end": target["timeEnd"][11:16],
        "chargeToType": "ServiceTicket",
        "chargeTo": str(target["chargeToId"]),
        "notes": "updated by run 1",
    }
    first = imported.run("a.csv", [*new_rows(0, 10), update])
    second = imported.run("b.csv", new_rows(0, 4, member="bchen"))
    by_hand = api(
        served,
        "POST",
        "/time/entries",
        json={
            "member": {"identifier": "abaker"},
            "chargeToType": "ChargeCode",
            "chargeToId": 23,
            "company": {"identifier": "Cwbulk"},
            "timeStart": f"{FIRST_DAY}T18:00:00Z",
            "actualHours": 1,
        },
    )
    assert (first["run"], second["run"]) == (1, 2)
    assert total(served) == untouched + 15
    served.clear_requests()

    result = imported.rollback(1, "--yes")

    assert result.exit_code == 0, result.output
    deleted = {
        int(r["path"].rsplit("/", 1)[1]) for r in served.requests() if r["method"] == "DELETE"
    }
    assert deleted == imported.created_ids(1) and len(deleted) == 10
    assert total(served) == untouched + 5
    assert api(served, "GET", f"/time/entries/{by_hand['id']}")["id"] == by_hand["id"]
    for entry_id in imported.created_ids(2):
        assert api(served, "GET", f"/time/entries/{entry_id}")["id"] == entry_id
    assert api(served, "GET", f"/time/entries/{target['id']}")["notes"] == "updated by run 1"
    assert "10 deleted" in result.stderr
    assert "the run also updated 1 entries; rollback does not undo updates" in result.stderr
    listed = json.loads(cwbulk(served, "--json", "runs", "--journal", str(imported.journal)).stdout)
    assert [r["status"] for r in listed["runs"]] == ["finished", "rolled back"]

    again = imported.run("a.csv", [*new_rows(0, 10), update])
    assert again["outcomes"]["created"] == 10, "after a rollback, importing again recreates"


def test_a_dry_run_deletes_nothing(imported: Imported) -> None:
    imported.run("a.csv", new_rows(0, 3))
    imported.served.clear_requests()
    result = imported.rollback(1, "--dry-run")
    assert result.exit_code == 0, result.output
    assert "Entries it would delete:" in result.stderr
    assert "Dry run: nothing was deleted." in result.stderr
    assert {r["method"] for r in imported.served.requests()} == {"GET"}
    declined = imported.rollback(1, input="n\n")
    assert declined.exit_code == 1 and "Nothing was deleted." in declined.stderr
    assert not any(r["method"] == "DELETE" for r in imported.served.requests())


def test_billed_and_approved_entries_are_refused_and_reported(imported: Imported) -> None:
    served = imported.served
    imported.run("a.csv", new_rows(0, 10))
    approved_id = min(imported.created_ids(1))
    sheet_id = api(served, "GET", f"/time/entries/{approved_id}")["timeSheet"]["id"]
    api(served, "POST", f"/time/sheets/{sheet_id}/submit")
    api(served, "POST", f"/time/sheets/{sheet_id}/approve")
    on_sheet = {
        e["id"]
        for e in api(
            served, "GET", "/time/entries", params={"conditions": f"timeSheet/id = {sheet_id}"}
        )
    } & imported.created_ids(1)

    result = imported.rollback(1, "--json", "--yes")

    assert result.exit_code == 1
    done = json.loads(result.stdout)
    refused = [i for i in done["items"] if i["outcome"] == "refused"]
    assert {i["entryId"] for i in refused} == on_sheet
    assert all("on a submitted or approved time sheet" in i["message"] for i in refused)
    assert done["counts"]["deleted"] == 10 - len(on_sheet)
    for entry_id in on_sheet:
        assert api(served, "GET", f"/time/entries/{entry_id}")["status"] == "ApprovedByTierOne"
    listed = json.loads(cwbulk(served, "--json", "runs", "--journal", str(imported.journal)).stdout)
    assert listed["runs"][0]["status"] == "partly rolled back"


def test_entries_of_a_killed_run_are_found_by_mobile_guid(imported: Imported) -> None:
    """A run killed mid-batch sent rows whose answers it never recorded."""
    served = imported.served
    in_flight, never_sent = mobile_guid("in-flight"), mobile_guid("never-sent")
    made = api(
        served,
        "POST",
        "/time/entries",
        json={
            "member": {"identifier": "abaker"},
            "chargeToType": "ChargeCode",
            "chargeToId": 23,
            "company": {"identifier": "Cwbulk"},
            "timeStart": f"{FIRST_DAY}T06:00:00Z",
            "actualHours": 1,
            "mobileGuid": in_flight,
        },
    )
    with Journal(imported.journal) as journal:
        run_id = journal.start_run(
            source="/x/t.csv",
            source_sha256="s",
            sheets=["t"],
            site=served.url,
            company=served.company,
            options={},
            rows=[
                RowRecord("t", 2, "k2", "create", mobile_guid=in_flight),
                RowRecord("t", 3, "k3", "create", mobile_guid=never_sent),
            ],
        )
        journal.mark_sent(run_id, [("t", 2), ("t", 3)])
    served.clear_requests()

    result = imported.rollback(run_id, "--json", "--yes")

    done = json.loads(result.stdout)
    assert done["counts"]["deleted"] == 1 and done["counts"]["gone"] == 1
    assert [r["path"] for r in served.requests() if r["method"] == "DELETE"] == [
        f"/v4_6_release/apis/3.0/time/entries/{made['id']}"
    ]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        pytest.param(["rollback", "42"], "There is no run 42 in the journal", id="no-such-run"),
        pytest.param(
            ["--json", "rollback", "1"], "--json can't ask for confirmation.", id="json-needs-yes"
        ),
    ],
)
def test_rollback_usage_errors_exit_2(imported: Imported, args: list[str], message: str) -> None:
    imported.run("a.csv", new_rows(0, 1))
    result = cwbulk(imported.served, *args, "--journal", str(imported.journal))
    assert result.exit_code == 2
    assert message in result.stderr


def test_a_run_is_rolled_back_only_on_its_own_site(imported: Imported, served_sandbox) -> None:
    imported.run("a.csv", new_rows(0, 1))
    other = served_sandbox()
    result = cwbulk(other, "rollback", "1", "--yes", "--journal", str(imported.journal))
    assert result.exit_code == 2
    assert f"Run 1 wrote to {imported.served.url}" in result.stderr
    assert not any(r["method"] == "DELETE" for r in other.requests())
