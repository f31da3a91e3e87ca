"""Importing through faults: lost answers and 5xx never duplicate or lose a row.

The sandbox is served with 30 % of writes losing their answer after committing (a 500 or
a dropped connection) and 10 % of all requests failing before doing anything.
"""

from __future__ import annotations

import csv
import json
from collections import Counter
from datetime import date, timedelta
from pathlib import Path

import pandas as pd
from click.testing import CliRunner, Result

from cwbulk.cli import cli

MEMBERS = ("abaker", "bchen", "cdiaz", "devans", "efoster", "fgarcia", "ghughes", "hito")
ROWS = 1000


def thousand_rows(path: Path) -> Path:
    """1,000 new rows on distinct natural keys: 8 members × 25 days × 5 start times."""
    first = date.today() + timedelta(days=14)
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["member", "date", "start", "hours", "chargeToType", "chargeTo", "company"])
        for n in range(ROWS):
            member, rest = MEMBERS[n % 8], n // 8
            day, slot = first + timedelta(days=rest // 5), rest % 5
            writer.writerow(
                [member, day, f"{8 + slot:02d}:00", 0.75, "ChargeCode", "ADMIN", "Cwbulk"]
            )
    return path


def cwbulk(served, *args: str) -> Result:
    env = served.environment()
    return CliRunner().invoke(cli, list(args), env=env)


def entries_by_guid(served) -> Counter[str]:
    """How many entries carry each mobileGuid (charge-code entries: the seed has few)."""
    found: list[dict] = []
    with served.client() as http:
        for page in (1, 2, 3):
            found += http.get(
                "/time/entries",
                params={
                    "conditions": 'chargeToType = "ChargeCode" and mobileGuid != null',
                    "fields": "id,mobileGuid",
                    "pageSize": 1000,
                    "page": page,
                },
            ).json()
    return Counter(e["mobileGuid"] for e in found)


def test_a_thousand_rows_through_lost_answers_and_failures_make_a_thousand_entries(
    served_sandbox, tmp_path: Path
) -> None:
    served = served_sandbox(lost_response_rate=0.3, fail_rate=0.1, fault_seed=11)
    sheet = thousand_rows(tmp_path / "big.csv")
    args = ["--json", "import", str(sheet), "--tz", "UTC", "--max-rate", "0"]
    args += ["--journal", str(tmp_path / "j.sqlite")]
    planned = json.loads(cwbulk(served, *args, "--dry-run").stdout)
    assert planned["counts"]["create"] == ROWS
    plan = json.loads(Path(planned["plan"]).read_text(encoding="utf-8"))
    guids = {item["mobileGuid"] for item in plan["items"]}
    assert len(guids) == ROWS

    runs = []
    for attempt in range(3):
        result = cwbulk(served, *args, "--yes", "--results", str(tmp_path / f"r{attempt}.csv"))
        assert result.exit_code in (0, 1), result.output
        runs.append(json.loads(result.stdout))
        if runs[-1]["outcomes"]["failed"] == 0:
            break
    first = runs[0]
    assert first["outcomes"]["created"] + first["outcomes"]["failed"] == ROWS
    assert first["outcomes"]["created"] > 0.95 * ROWS
    assert runs[-1]["outcomes"]["failed"] == 0, "a rerun finishes what lost answers left open"
    counters = served.counters()
    assert counters["lost"] > 200 and counters["failed"] > 100, "the faults really happened"

    results = pd.read_csv(first["results"], dtype=str, keep_default_na=False)
    assert len(results) == ROWS
    assert list(results["row"]) == [str(n) for n in range(2, ROWS + 2)]
    assert set(results["outcome"]) <= {"created", "failed"}
    assert (results["connectwiseId"] != "").sum() == first["outcomes"]["created"]
    assert set(results.loc[results["outcome"] == "failed", "errorCode"]) <= {"outcome_unknown"}

    served.set_faults(lost_response_rate=0.0, fail_rate=0.0)
    carried = entries_by_guid(served)
    assert {g: carried[g] for g in guids} == dict.fromkeys(guids, 1), (
        "exactly one entry per row, found by mobileGuid"
    )
    final = json.loads(cwbulk(served, *args, "--yes").stdout)
    assert final["outcomes"]["unchanged"] == ROWS
