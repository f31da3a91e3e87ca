"""export.py over the in-process sandbox: values, filters, workbook features, formula guard."""

from __future__ import annotations

import asyncio
import csv
import json
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import openpyxl
import pandas as pd
import pytest

from cwbulk.client import CwClient
from cwbulk.errors import InvalidRequest, UsageError
from cwbulk.export import (
    ExportFilters,
    day_window,
    entries_frame,
    export_columns,
    export_entries,
)
from cwbulk.fields import canonical_columns
from cwbulk.io import FORMULA_PREFIXES, guard_formula, unguard_formula
from cwbulk.sandbox import (
    DEFAULT_CLIENT_ID,
    DEFAULT_COMPANY,
    DEFAULT_PRIVATE_KEY,
    DEFAULT_PUBLIC_KEY,
)
from cwbulk.validate import ReadOptions, validate_file

NEW_YORK = ZoneInfo("America/New_York")
HEADER = [c.name for c in export_columns()]


def cw_client(transport: httpx.AsyncBaseTransport) -> CwClient:
    return CwClient(
        site="http://sandbox.invalid",
        company=DEFAULT_COMPANY,
        public_key=DEFAULT_PUBLIC_KEY,
        private_key=DEFAULT_PRIVATE_KEY,
        client_id=DEFAULT_CLIENT_ID,
        transport=transport,
        allow_http=True,
    )


def export(transport: httpx.AsyncBaseTransport, path: Path, **options: Any):
    async def run():
        async with cw_client(transport) as client:
            return await export_entries(client, path, **options)

    return asyncio.run(run())


def api_list(client: httpx.Client, path: str, conditions: str | None = None) -> list[dict]:
    """Every record of ``path``, paged by hand (not through cwbulk's client)."""
    items: list[dict] = []
    page = 1
    while True:
        params: dict[str, Any] = {"pageSize": 1000, "page": page}
        if conditions:
            params["conditions"] = conditions
        batch = client.get(path, params=params).json()
        items += batch
        if len(batch) < 1000:
            return items
        page += 1


def local(text: str | None, tz: ZoneInfo) -> datetime | None:
    if not text:
        return None
    return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(tz)


def expected_row(entry: dict, tz: ZoneInfo, codes: dict[int, str]) -> dict[str, Any]:
    """What the export should show for an API entry, worked out independently."""
    start, end = local(entry["timeStart"], tz), local(entry.get("timeEnd"), tz)
    kind = entry.get("chargeToType")
    charge_to: Any = None
    if kind in ("ServiceTicket", "ProjectTicket", "Activity"):
        charge_to = entry["chargeToId"]
    elif kind == "ChargeCode":
        charge_to = codes[entry["chargeToId"]]
    return {
        "id": entry["id"],
        "member": entry["member"]["identifier"],
        "date": start.date(),
        "start": start.time().replace(tzinfo=None),
        "end": end.time().replace(tzinfo=None) if end else None,
        "hours": entry.get("actualHours"),
        "deduct": entry.get("hoursDeduct"),
        "chargeToType": kind,
        "chargeTo": charge_to,
        "ticketSummary": (entry.get("ticket") or {}).get("summary"),
        "company": (entry.get("company") or {}).get("identifier"),
        "workType": (entry.get("workType") or {}).get("name"),
        "workRole": (entry.get("workRole") or {}).get("name"),
        "billableOption": entry.get("billableOption"),
        "notes": guard_expected(entry.get("notes")),
        "internalNotes": guard_expected(entry.get("internalNotes")),
        "status": entry.get("status"),
        "lastUpdated": entry["_info"]["lastUpdated"],
    }


def guard_expected(text: str | None) -> str | None:
    if not text:
        return None
    risky = "=+-@\t\r"
    quoted = text[0] == "'" and text[1:2] != "" and text[1] in risky + "'"
    return "'" + text if text[0] in risky or quoted else text


def blank(value: Any) -> Any:
    return None if value is None or (isinstance(value, float) and value != value) else value


def charge_codes(client: httpx.Client) -> dict[int, str]:
    return {c["id"]: c["name"] for c in api_list(client, "time/chargeCodes")}


# ------------------------------------------------------------------------ pure pieces


@pytest.mark.parametrize(
    ("text", "written"),
    [
        pytest.param("=1+2", "'=1+2", id="equals"),
        pytest.param("+1", "'+1", id="plus"),
        pytest.param("-1", "'-1", id="minus"),
        pytest.param("@SUM(A1)", "'@SUM(A1)", id="at"),
        pytest.param("\tcmd", "'\tcmd", id="tab"),
        pytest.param("\rcmd", "'\rcmd", id="carriage-return"),
        pytest.param("'=x", "''=x", id="quote-then-formula"),
        pytest.param("''x", "'''x", id="two-quotes"),
        pytest.param("'quoted", "'quoted", id="quote-then-text"),
        pytest.param("a=b", "a=b", id="inner-equals"),
        pytest.param(" =x", " =x", id="leading-space"),
        pytest.param("", "", id="empty"),
    ],
)
def test_guard_formula(text: str, written: str) -> None:
    assert guard_formula(text) == written
    assert unguard_formula(written) == text


@pytest.mark.parametrize(
    ("day_from", "day_to", "tz", "conditions"),
    [
        pytest.param(
            date(2026, 11, 1),
            date(2026, 11, 1),
            "America/New_York",
            "timeStart >= [2026-11-01T04:00:00Z] and timeStart < [2026-11-02T05:00:00Z]",
            id="25-hour-day-when-clocks-go-back",
        ),
        pytest.param(
            date(2026, 3, 8),
            date(2026, 3, 8),
            "America/New_York",
            "timeStart >= [2026-03-08T05:00:00Z] and timeStart < [2026-03-09T04:00:00Z]",
            id="23-hour-day-when-clocks-go-forward",
        ),
        pytest.param(
            date(2026, 9, 6),
            None,
            "America/Santiago",
            "timeStart >= [2026-09-06T04:00:00Z]",
            id="midnight-skipped-starts-at-the-jump",
        ),
        pytest.param(
            None,
            date(2026, 1, 31),
            "Asia/Kolkata",
            "timeStart < [2026-01-31T18:30:00Z]",
            id="only-to",
        ),
        pytest.param(None, None, "UTC", "", id="open"),
    ],
)
def test_day_window_is_inclusive_local_days(
    day_from: date | None, day_to: date | None, tz: str, conditions: str
) -> None:
    assert day_window(day_from, day_to, ZoneInfo(tz)) == conditions


def test_day_window_refuses_from_after_to() -> None:
    with pytest.raises(UsageError) as caught:
        day_window(date(2026, 5, 2), date(2026, 5, 1), NEW_YORK)
    assert str(caught.value) == (
        "--from 2026-05-02 is after --to 2026-05-01\n"
        "Swap them: --from is the first day, --to the last (both included)."
    )


def test_entries_frame_has_names_local_times_and_blanks() -> None:
    entries = [
        {
            "id": 7,
            "member": {"id": 1, "identifier": "abaker", "name": "Avery Baker"},
            "timeStart": "2026-10-31T13:00:00Z",
            "timeEnd": "2026-10-31T14:30:00Z",
            "actualHours": 1.5,
            "hoursDeduct": 0.0,
            "chargeToType": "ServiceTicket",
            "chargeToId": 1042,
            "ticket": {"id": 1042, "summary": "Printer offline"},
            "company": {"id": 2, "identifier": "Northwind", "name": "Northwind Traders"},
            "workType": {"id": 1, "name": "Remote"},
            "workRole": {"id": 3, "name": "Level 2 Tech"},
            "billableOption": "Billable",
            "notes": "Ünïcödé\nsecond line",
            "status": "Open",
            "_info": {"lastUpdated": "2026-10-31T15:00:00Z"},
        },
        {
            "id": 8,
            "member": {"id": 1, "identifier": "abaker"},
            "timeStart": "2026-11-02T14:00:00Z",
            "chargeToType": "ChargeCode",
            "chargeToId": 26,
            "company": {"id": 250, "identifier": "Cwbulk"},
            "_info": {"lastUpdated": "2026-11-02T15:00:00Z"},
        },
        {
            "id": 9,
            "member": {"id": 1, "identifier": "abaker"},
            "timeStart": "2026-11-02T14:00:00Z",
            "chargeToType": "Company",
            "chargeToId": 2,
            "company": {"id": 2, "identifier": "Northwind"},
        },
    ]
    frame = entries_frame(entries, NEW_YORK, charge_codes={26: "ONCALL"})
    assert list(frame.columns) == HEADER
    first, second, third = (frame.iloc[n] for n in range(3))
    assert first["date"] == pd.Timestamp("2026-10-31")
    assert first["start"] == pd.Timestamp("2026-10-31 09:00")  # EDT, UTC-4
    assert first["end"] == pd.Timestamp("2026-10-31 10:30")
    assert second["start"] == pd.Timestamp("2026-11-02 09:00")  # EST, UTC-5
    assert pd.isna(second["end"])
    assert (first["chargeTo"], second["chargeTo"], third["chargeTo"]) == (1042, "ONCALL", None)
    assert first["ticketSummary"] == "Printer offline"
    assert (first["member"], first["company"], first["workRole"]) == (
        "abaker",
        "Northwind",
        "Level 2 Tech",
    )
    assert first["notes"] == "Ünïcödé\nsecond line"
    assert second["notes"] is None and second["workType"] is None
    assert pd.isna(second["hours"]) and second["lastUpdated"] == "2026-11-02T15:00:00Z"
    assert third["lastUpdated"] is None


def test_export_columns_are_the_canonical_ones_plus_ticket_summary() -> None:
    canonical = list(canonical_columns())
    assert [c for c in HEADER if c != "ticketSummary"] == canonical
    assert HEADER.index("ticketSummary") == canonical.index("chargeTo") + 1


# ------------------------------------------------------------------------ over the sandbox


def test_xlsx_reads_back_as_the_api_values(
    sandbox_transport: httpx.ASGITransport, sandbox_api: httpx.Client, tmp_path: Path
) -> None:
    entries = api_list(sandbox_api, "time/entries")
    assert len(entries) > 2000, "the seed should need several pages"
    codes = charge_codes(sandbox_api)
    progress: list[tuple[int, int]] = []
    path = tmp_path / "entries.xlsx"
    result = export(
        sandbox_transport,
        path,
        tz=NEW_YORK,
        on_progress=lambda done, total: progress.append((done, total)),
    )
    pages = -(-len(entries) // 1000)
    assert result.rows == len(entries)
    assert progress == [(n, pages) for n in range(1, pages + 1)]
    frame = pd.read_excel(path, sheet_name="Time entries", engine="calamine")
    assert list(frame.columns) == HEADER
    assert len(frame) == len(entries)
    by_id = {e["id"]: e for e in entries}
    for row in frame.to_dict("records"):
        got = {name: blank(value) for name, value in row.items()}
        got["date"] = got["date"].date()
        want = expected_row(by_id[got["id"]], NEW_YORK, codes)
        assert got == want, f"entry {got['id']}"


def test_xlsx_cells_are_typed_and_the_header_is_frozen_and_filtered(
    sandbox_transport: httpx.ASGITransport, tmp_path: Path
) -> None:
    path = tmp_path / "entries.xlsx"
    result = export(sandbox_transport, path, tz=NEW_YORK, filters=ExportFilters(statuses=("Open",)))
    sheet = openpyxl.load_workbook(path)["Time entries"]
    assert sheet.freeze_panes == "A2"
    assert sheet.auto_filter.ref == f"A1:{_letter(len(HEADER))}{result.rows + 1}"
    cells = {name: sheet.cell(2, n + 1) for n, name in enumerate(HEADER)}
    assert cells["id"].data_type == "n"
    assert cells["hours"].data_type == "n" and cells["hours"].number_format == "0.00"
    assert cells["date"].is_date and cells["date"].number_format == "yyyy-mm-dd"
    assert cells["start"].is_date and cells["start"].number_format == "hh:mm"
    assert cells["member"].data_type == "s"
    assert sheet.cell(1, 1).comment is not None  # the column's description
    assert all(sheet.column_dimensions[_letter(n)].width > 5 for n in range(1, len(HEADER)))


def _letter(position: int) -> str:
    return openpyxl.utils.get_column_letter(position)


def test_xlsx_has_the_dropdowns_from_the_server_lists(
    sandbox_transport: httpx.ASGITransport, sandbox_api: httpx.Client, tmp_path: Path
) -> None:
    path = tmp_path / "entries.xlsx"
    export(sandbox_transport, path, tz=NEW_YORK, filters=ExportFilters(statuses=("Open",)))
    book = openpyxl.load_workbook(path)
    assert book.sheetnames == ["Time entries", "Export", "Lists"]
    assert book["Lists"].sheet_state == "hidden"
    sheet = book["Time entries"]
    rules = {}
    for rule in sheet.data_validations.dataValidation:
        column = HEADER[openpyxl.utils.column_index_from_string(str(rule.sqref)[0]) - 1]
        rules[column] = rule
    assert set(rules) == {"member", "workType", "workRole", "billableOption", "chargeToType"}
    assert all(str(r.sqref).endswith("1048576") for r in rules.values())
    assert rules["billableOption"].formula1 == '"Billable,DoNotBill,NoCharge,NoDefault"'
    assert rules["chargeToType"].formula1 == (
        '"Company,ServiceTicket,ProjectTicket,ChargeCode,Activity"'
    )

    def listed(column: str) -> list[str]:
        source = rules[column].formula1  # Lists!$A$2:$A$17
        cells = book["Lists"][source.split("!")[1].replace("$", "")]
        return [row[0].value for row in cells]

    members = api_list(sandbox_api, "system/members", "inactiveFlag = false")
    work_types = api_list(sandbox_api, "time/workTypes", "inactiveFlag = false")
    work_roles = api_list(sandbox_api, "time/workRoles", "inactiveFlag = false")
    assert sorted(listed("member")) == sorted(m["identifier"] for m in members)
    assert sorted(listed("workType")) == sorted(w["name"] for w in work_types)
    assert sorted(listed("workRole")) == sorted(w["name"] for w in work_roles)


def test_xlsx_info_sheet_records_filters_site_and_time(
    sandbox_transport: httpx.ASGITransport, tmp_path: Path
) -> None:
    path = tmp_path / "entries.xlsx"
    moment = datetime(2026, 11, 3, 17, 5, 9, tzinfo=UTC)
    filters = ExportFilters(
        date_from=date(2026, 10, 1), statuses=("Open", "Rejected"), billable=("Billable",)
    )
    result = export(sandbox_transport, path, tz=NEW_YORK, filters=filters, now=moment)
    info = dict(openpyxl.load_workbook(path)["Export"].iter_rows(values_only=True))
    assert info["site"] == "http://sandbox.invalid"
    assert info["company"] == DEFAULT_COMPANY
    assert info["exported at"] == "2026-11-03T17:05:09Z"
    assert info["time zone"] == "America/New_York"
    assert info["rows"] == str(result.rows)
    assert info["filter: from"] == "2026-10-01"
    assert info["filter: status"] == "Open, Rejected"
    assert info["filter: billable"] == "Billable"
    assert (
        info["conditions sent"]
        == result.conditions
        == (
            'timeStart >= [2026-10-01T04:00:00Z] and status in ("Open","Rejected") '
            'and billableOption in ("Billable")'
        )
    )


@pytest.mark.parametrize("excel", [pytest.param(True, id="bom"), pytest.param(False, id="plain")])
def test_csv_is_utf8_with_a_bom_only_for_excel(
    sandbox_transport: httpx.ASGITransport,
    sandbox_api: httpx.Client,
    tmp_path: Path,
    excel: bool,
) -> None:
    path = tmp_path / "entries.csv"
    filters = ExportFilters(statuses=("Open",))
    result = export(sandbox_transport, path, tz=NEW_YORK, filters=filters, excel=excel)
    raw = path.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbfid,member,date,") is excel
    with path.open(encoding="utf-8-sig", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert list(rows[0]) == HEADER
    assert len(rows) == result.rows > 0
    entries = {e["id"]: e for e in api_list(sandbox_api, "time/entries", 'status = "Open"')}
    assert set(entries) == {int(r["id"]) for r in rows}
    for row in rows:
        entry = entries[int(row["id"])]
        start = local(entry["timeStart"], NEW_YORK)
        assert row["date"] == start.strftime("%Y-%m-%d")
        assert row["start"] == start.strftime("%H:%M")
        assert float(row["hours"]) == entry["actualHours"]
        assert row["lastUpdated"] == entry["_info"]["lastUpdated"]


def test_json_is_the_records_as_the_api_returns_them(
    sandbox_transport: httpx.ASGITransport, sandbox_api: httpx.Client, tmp_path: Path
) -> None:
    path = tmp_path / "entries.json"
    filters = ExportFilters(billable=("NoCharge",))
    result = export(sandbox_transport, path, tz=NEW_YORK, filters=filters)
    written = json.loads(path.read_text(encoding="utf-8"))
    expected = api_list(sandbox_api, "time/entries", 'billableOption = "NoCharge"')
    assert expected and result.rows == len(expected)
    assert written == expected


# --------------------------------------------------------------------------- filters


def _pick(entries: list[dict]) -> dict:
    return next(e for e in entries if e["chargeToType"] == "ServiceTicket")


FILTER_CASES = {
    "member-identifier": (
        lambda e: ExportFilters(members=(e["member"]["identifier"],)),
        lambda e, x: x["member"]["id"] == e["member"]["id"],
    ),
    "member-full-name": (
        lambda e: ExportFilters(members=(e["member"]["name"].upper(),)),
        lambda e, x: x["member"]["id"] == e["member"]["id"],
    ),
    "company-name": (
        lambda e: ExportFilters(companies=(e["company"]["name"],)),
        lambda e, x: x["company"]["id"] == e["company"]["id"],
    ),
    "ticket": (
        lambda e: ExportFilters(tickets=(e["chargeToId"],)),
        lambda e, x: (
            x["chargeToId"] == e["chargeToId"]
            and x["chargeToType"] in ("ServiceTicket", "ProjectTicket")
        ),
    ),
    "status-and-billable": (
        lambda e: ExportFilters(statuses=(e["status"],), billable=(e["billableOption"],)),
        lambda e, x: x["status"] == e["status"] and x["billableOption"] == e["billableOption"],
    ),
    "local-days": (
        lambda e: ExportFilters(
            date_from=local(e["timeStart"], NEW_YORK).date(),
            date_to=local(e["timeStart"], NEW_YORK).date() + timedelta(days=2),
        ),
        lambda e, x: (
            0
            <= (
                local(x["timeStart"], NEW_YORK).date() - local(e["timeStart"], NEW_YORK).date()
            ).days
            <= 2
        ),
    ),
    "raw-conditions-and-member": (
        lambda e: ExportFilters(
            members=(e["member"]["identifier"],), conditions="actualHours >= 1 or hoursDeduct > 0"
        ),
        lambda e, x: (
            x["member"]["id"] == e["member"]["id"]
            and (x["actualHours"] >= 1 or x["hoursDeduct"] > 0)
        ),
    ),
}


@pytest.mark.parametrize("case", [pytest.param(name, id=name) for name in FILTER_CASES])
def test_filters_select_what_the_api_holds(
    sandbox_transport: httpx.ASGITransport,
    sandbox_api: httpx.Client,
    tmp_path: Path,
    case: str,
) -> None:
    make_filters, wanted = FILTER_CASES[case]
    entries = api_list(sandbox_api, "time/entries")
    sample = _pick(entries)
    expected = {x["id"] for x in entries if wanted(sample, x)}
    assert 0 < len(expected) < len(entries)
    path = tmp_path / "filtered.csv"
    result = export(sandbox_transport, path, tz=NEW_YORK, filters=make_filters(sample))
    with path.open(encoding="utf-8", newline="") as handle:
        exported = {int(row["id"]) for row in csv.DictReader(handle)}
    assert exported == expected
    assert result.rows == len(expected)


@pytest.mark.parametrize(
    ("filters", "message"),
    [
        pytest.param(
            ExportFilters(members=("abakr",)),
            "--member 'abakr': there is no such member in ConnectWise\n"
            "Did you mean 'Avery Baker (abaker)', 'Sage Baker (sbaker)' or 'Blake Chen (bchen)'? "
            "See `cwbulk lookup members`.",
            id="unknown-member",
        ),
        pytest.param(
            ExportFilters(companies=("Nowhere Ltd",)),
            "--company 'Nowhere Ltd': there is no such company in ConnectWise\n"
            "Did you mean 'Northwind Traders Ltd (Northwind)'? See `cwbulk lookup companies`.",
            id="unknown-company",
        ),
        pytest.param(
            ExportFilters(date_from=date(2026, 2, 1), date_to=date(2026, 1, 1)),
            "--from 2026-02-01 is after --to 2026-01-01\n"
            "Swap them: --from is the first day, --to the last (both included).",
            id="from-after-to",
        ),
    ],
)
def test_bad_filters_are_usage_errors(
    sandbox_transport: httpx.ASGITransport, tmp_path: Path, filters: ExportFilters, message: str
) -> None:
    with pytest.raises(UsageError) as caught:
        export(sandbox_transport, tmp_path / "x.xlsx", tz=NEW_YORK, filters=filters)
    assert str(caught.value) == message
    assert not list(tmp_path.iterdir())


def test_filters_too_long_for_a_url_are_refused(
    sandbox_transport: httpx.ASGITransport, tmp_path: Path
) -> None:
    filters = ExportFilters(tickets=tuple(range(1_000_000, 1_000_400)))
    with pytest.raises(UsageError) as caught:
        export(sandbox_transport, tmp_path / "x.xlsx", tz=NEW_YORK, filters=filters)
    assert str(caught.value).startswith("the filters make a condition of ")
    assert caught.value.hint == "Export in parts (fewer --member or --ticket values at a time)."


def test_a_failed_export_leaves_the_old_file_and_no_temporary_file(
    sandbox_transport: httpx.ASGITransport, tmp_path: Path
) -> None:
    path = tmp_path / "entries.csv"
    path.write_text("old contents\n", encoding="utf-8")
    with pytest.raises(InvalidRequest):
        export(sandbox_transport, path, tz=NEW_YORK, filters=ExportFilters(conditions="nope ="))
    assert path.read_text(encoding="utf-8") == "old contents\n"
    assert [p.name for p in tmp_path.iterdir()] == ["entries.csv"]


class FailOnPage(httpx.AsyncBaseTransport):
    """The sandbox, except that one page of time entries answers 400 (a network stand-in)."""

    def __init__(self, inner: httpx.AsyncBaseTransport, page: str) -> None:
        self.inner, self.page = inner, page

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/time/entries") and request.url.params.get("page") == (
            self.page
        ):
            return httpx.Response(400, json={"code": "InvalidRequest", "message": "no"})
        return await self.inner.handle_async_request(request)


@pytest.mark.parametrize("suffix", [".xlsx", ".csv", ".json"])
def test_a_failure_mid_export_keeps_the_old_file(
    sandbox_transport: httpx.ASGITransport, tmp_path: Path, suffix: str
) -> None:
    path = tmp_path / f"entries{suffix}"
    path.write_text("old contents\n", encoding="utf-8")
    pages: list[int] = []
    with pytest.raises(InvalidRequest):
        export(
            FailOnPage(sandbox_transport, "3"),
            path,
            tz=NEW_YORK,
            on_progress=lambda done, total: pages.append(done),
        )
    assert pages == [1, 2]
    assert path.read_text(encoding="utf-8") == "old contents\n"
    assert [p.name for p in tmp_path.iterdir()] == [path.name]


@pytest.mark.parametrize("name", ["entries.txt", "entries", "entries.xls"])
def test_unknown_extensions_are_refused(
    sandbox_transport: httpx.ASGITransport, tmp_path: Path, name: str
) -> None:
    with pytest.raises(UsageError) as caught:
        export(sandbox_transport, tmp_path / name, tz=NEW_YORK)
    assert str(caught.value) == (
        f"can't write {name}: the file name must end in .xlsx or .csv or .json\n"
        "Give a name such as entries.xlsx."
    )


@pytest.mark.parametrize("suffix", [".xlsx", ".csv", ".json"])
def test_an_empty_export_still_writes_a_usable_file(
    sandbox_transport: httpx.ASGITransport, tmp_path: Path, suffix: str
) -> None:
    path = tmp_path / f"none{suffix}"
    result = export(sandbox_transport, path, tz=NEW_YORK, filters=ExportFilters(tickets=(99999,)))
    assert result.rows == 0
    if suffix == ".json":
        assert json.loads(path.read_text(encoding="utf-8")) == []
    elif suffix == ".csv":
        assert path.read_text(encoding="utf-8").splitlines() == [",".join(HEADER)]
    else:
        sheet = openpyxl.load_workbook(path)["Time entries"]
        assert [c.value for c in sheet[1]] == HEADER
        assert sheet.max_row == 1


# ----------------------------------------------------------------- formula injection

DANGEROUS = {
    "equals": '=HYPERLINK("http://attacker.invalid","open me")',
    "plus": "+1+1",
    "minus": "-5",
    "at": "@SUM(A1:A2)",
    "tab": "\tcmd /c calc",
    "carriage-return": "\rcmd /c calc",
    "quoted-formula": "'=1+1",
    "two-quotes": "''twice",
}


@pytest.fixture
def dangerous_entries(sandbox_api: httpx.Client) -> dict[str, int]:
    """One new entry per dangerous note (copied from an open service-ticket entry)."""
    entries = api_list(sandbox_api, "time/entries", 'status = "Open"')
    template = _pick(entries)
    ids = {}
    for name, notes in DANGEROUS.items():
        body = {
            "member": {"id": template["member"]["id"]},
            "chargeToType": "ServiceTicket",
            "chargeToId": template["chargeToId"],
            "timeStart": template["timeStart"],
            "actualHours": 0.5,
            "notes": notes,
            "internalNotes": notes,
        }
        response = sandbox_api.post("time/entries", json=body)
        assert response.status_code == 201, response.text
        ids[name] = response.json()["id"]
    return ids


def _written_notes(path: Path) -> dict[int, dict[str, Any]]:
    if path.suffix == ".csv":
        with path.open(encoding="utf-8", newline="") as handle:
            return {int(r["id"]): r for r in csv.DictReader(handle)}
    # calamine, as cwbulk reads workbooks: openpyxl leaves "_x000D_" escapes in the text.
    frame = pd.read_excel(path, sheet_name="Time entries", engine="calamine")
    return {int(r["id"]): r for r in frame.to_dict("records")}


@pytest.mark.parametrize("suffix", [".xlsx", ".csv"])
def test_formula_injection_is_guarded_in_text_cells_only(
    sandbox_transport: httpx.ASGITransport,
    dangerous_entries: dict[str, int],
    tmp_path: Path,
    suffix: str,
) -> None:
    path = tmp_path / f"dangerous{suffix}"
    ids = dangerous_entries.values()
    filters = ExportFilters(conditions=f"id in ({','.join(map(str, ids))})")
    export(sandbox_transport, path, tz=NEW_YORK, filters=filters)
    written = _written_notes(path)
    for name, entry_id in dangerous_entries.items():
        assert written[entry_id]["notes"] == "'" + DANGEROUS[name], name
        assert written[entry_id]["internalNotes"] == "'" + DANGEROUS[name], name
        # Numbers are numbers: hours are not text, so never guarded.
        assert written[entry_id]["hours"] in (0.5, "0.5")
    if suffix == ".xlsx":
        sheet = openpyxl.load_workbook(path)["Time entries"]
        assert not [c.coordinate for row in sheet.iter_rows() for c in row if c.data_type == "f"]
        hours = HEADER.index("hours") + 1
        assert {sheet.cell(r, hours).data_type for r in range(2, sheet.max_row + 1)} == {"n"}


@pytest.mark.parametrize("suffix", [".xlsx", ".csv"])
def test_import_strips_the_guard_again(
    sandbox_transport: httpx.ASGITransport,
    dangerous_entries: dict[str, int],
    tmp_path: Path,
    suffix: str,
) -> None:
    path = tmp_path / f"dangerous{suffix}"
    ids = ",".join(map(str, dangerous_entries.values()))
    export(sandbox_transport, path, tz=NEW_YORK, filters=ExportFilters(conditions=f"id in ({ids})"))
    rows = validate_file(path, ReadOptions(tz="America/New_York")).rows
    read_back = dict(zip(rows["id"].astype(int), rows["notes"], strict=True))
    assert {name: read_back[i] for name, i in dangerous_entries.items()} == DANGEROUS


def test_guard_covers_every_prefix_the_tests_use() -> None:
    assert {text[0] for text in DANGEROUS.values()} - {"'"} == set(FORMULA_PREFIXES)
    assert {text[:2] for text in DANGEROUS.values() if text[0] == "'"} == {"'=", "''"}
