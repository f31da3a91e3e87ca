"""Tests for cwbulk.io: reading CSV and workbooks as text frames, and writing result tables.

Every fixture file is written into tmp_path by the test that reads it.
"""

from __future__ import annotations

import codecs
import os
import random
import zipfile
from datetime import date, datetime, time, timedelta
from pathlib import Path

import openpyxl
import pandas as pd
import pytest
import xlsxwriter

from cwbulk.errors import InputError, UsageError
from cwbulk.io import SheetData, read_table, write_table

HEADER = "date,member,hours,chargeTo,notes"
ROWS = ["2026-10-05,jdoe,1.5,00123,Fixed the printer", "2026-10-06,asmith,2,1002,Backups"]
EXPECTED = [
    {
        "date": "2026-10-05",
        "member": "jdoe",
        "hours": "1.5",
        "chargeTo": "00123",
        "notes": "Fixed the printer",
    },
    {
        "date": "2026-10-06",
        "member": "asmith",
        "hours": "2",
        "chargeTo": "1002",
        "notes": "Backups",
    },
]


def _write(tmp_path: Path, name: str, data: bytes | str, encoding: str = "utf-8") -> Path:
    path = tmp_path / name
    path.write_bytes(data if isinstance(data, bytes) else data.encode(encoding))
    return path


def _read_one(path: Path, **kwargs: object) -> SheetData:
    sheets = read_table(path, **kwargs)  # type: ignore[arg-type]
    assert len(sheets) == 1
    return sheets[0]


def _records(data: SheetData) -> list[dict[str, str]]:
    return data.frame.to_dict("records")


# ------------------------------------------------------------------------- CSV encodings


@pytest.mark.parametrize(
    ("encoding", "prefix", "note"),
    [
        pytest.param("utf-8", b"", None, id="utf-8"),
        pytest.param("utf-8", codecs.BOM_UTF8, None, id="utf-8-bom"),
        pytest.param("utf-16-le", codecs.BOM_UTF16_LE, "read as UTF-16", id="utf-16-le-bom"),
        pytest.param("utf-16-be", codecs.BOM_UTF16_BE, "read as UTF-16", id="utf-16-be-bom"),
        pytest.param(
            "utf-16-le",
            b"",
            "read as UTF-16 (the file has no byte-order mark)",
            id="utf-16-le-no-bom",
        ),
    ],
)
def test_csv_encodings(tmp_path: Path, encoding: str, prefix: bytes, note: str | None) -> None:
    text = "\r\n".join([HEADER, *ROWS, "2026-10-07,zoë,1,1003,Café réseau"]) + "\r\n"
    path = _write(tmp_path, "time.csv", prefix + text.encode(encoding))
    data = _read_one(path)
    assert data.name == "time"
    assert list(data.frame.columns) == HEADER.split(",")
    assert _records(data)[:2] == EXPECTED
    assert data.frame.loc[4, "member"] == "zoë"
    assert data.frame.loc[4, "notes"] == "Café réseau"
    assert data.notes == ((note,) if note else ())


def test_csv_cp1252_fallback_is_noted(tmp_path: Path) -> None:
    path = _write(tmp_path, "legacy.csv", f"{HEADER}\n2026-10-05,zoë,1,1003,Café – €5\n", "cp1252")
    data = _read_one(path)
    assert data.frame.loc[2, "notes"] == "Café – €5"
    assert data.notes == ("read as Windows-1252 (cp1252), not UTF-8: check accented letters",)


def test_csv_latin1_when_not_even_cp1252(tmp_path: Path) -> None:
    path = _write(tmp_path, "odd.csv", HEADER.encode() + b"\n2026-10-05,x\x81y,1,1,n\n")
    data = _read_one(path)
    assert data.frame.loc[2, "member"] == "x\x81y"
    assert data.notes == ("read as Latin-1, not UTF-8: check accented letters",)


# ------------------------------------------------------------------------ CSV delimiters


@pytest.mark.parametrize(
    ("delimiter", "note"),
    [
        pytest.param(",", None, id="comma"),
        pytest.param(";", "delimiter ';' (semicolon)", id="semicolon"),
        pytest.param("\t", "delimiter '\\t' (tab)", id="tab"),
    ],
)
def test_csv_delimiters(tmp_path: Path, delimiter: str, note: str | None) -> None:
    lines = [line.replace(",", delimiter) for line in [HEADER, *ROWS]]
    path = _write(tmp_path, "time.csv", "\n".join(lines) + "\n")
    data = _read_one(path)
    assert _records(data) == EXPECTED
    assert data.notes == ((note,) if note else ())


def test_sniffing_ignores_delimiters_inside_quotes(tmp_path: Path) -> None:
    # Semicolon file whose quoted notes are full of commas, and whose header is quoted too.
    text = (
        '"date";"member";"hours";"notes"\n'
        '"2026-10-05";"jdoe";"1,5";"a, b, c, d, e, f"\n'
        '"2026-10-06";"asmith";"2";"g, h, i, j, k, l"\n'
    )
    data = _read_one(_write(tmp_path, "semi.csv", text))
    assert list(data.frame.columns) == ["date", "member", "hours", "notes"]
    assert data.frame.loc[2, "hours"] == "1,5"
    assert data.frame.loc[3, "notes"] == "g, h, i, j, k, l"


def test_comma_file_with_semicolons_in_quoted_notes(tmp_path: Path) -> None:
    text = 'date,member,notes\n2026-10-05,jdoe,"a; b; c; d"\n2026-10-06,asmith,"e; f; g"\n'
    data = _read_one(_write(tmp_path, "comma.csv", text))
    assert list(data.frame.columns) == ["date", "member", "notes"]
    assert data.notes == ()


def test_wrong_delimiter_is_noted(tmp_path: Path) -> None:
    data = _read_one(_write(tmp_path, "pipe.csv", "date|member|hours\n2026-10-05|jdoe|1.5\n"))
    assert list(data.frame.columns) == ["date|member|hours"]
    assert data.notes == (
        'everything is in one column ("date|member|hours"): if the file uses a delimiter other '
        "than comma, semicolon or tab, save it again as a comma-separated CSV",
    )


def test_excel_sep_hint_line(tmp_path: Path) -> None:
    text = "sep=;\r\ndate;member;hours\r\n2026-10-05;jdoe;1,5\r\n"
    data = _read_one(_write(tmp_path, "excel.csv", text))
    assert _records(data) == [{"date": "2026-10-05", "member": "jdoe", "hours": "1,5"}]
    assert list(data.frame.index) == [2]  # Excel hides the hint line, so the header is row 1
    assert data.notes == ("delimiter ';' (semicolon)",)


# --------------------------------------------------------------------- CSV quoting, rows


def test_quoted_multiline_fields_crlf_and_all_quoted(tmp_path: Path) -> None:
    text = (
        '"date","member","notes"\r\n'
        '"2026-10-05","jdoe","line one\r\nline two, with ""quotes"""\r\n'
        '"2026-10-06","asmith",""\r\n'
    )
    data = _read_one(_write(tmp_path, "quoted.csv", text))
    # The multi-line note is one spreadsheet row, so the next record is row 3.
    assert list(data.frame.index) == [2, 3]
    assert data.frame.loc[2, "notes"] == 'line one\r\nline two, with "quotes"'
    assert data.frame.loc[3, "notes"] == ""


def test_values_are_never_type_guessed(tmp_path: Path) -> None:
    text = "ticket,hours,flag,empty,na\n00123,1e5,TRUE,,NA\n0042,1.50,false, ,null\n"
    data = _read_one(_write(tmp_path, "text.csv", text))
    assert _records(data) == [
        {"ticket": "00123", "hours": "1e5", "flag": "TRUE", "empty": "", "na": "NA"},
        {"ticket": "0042", "hours": "1.50", "flag": "false", "empty": " ", "na": "null"},
    ]
    assert all(isinstance(v, str) for v in data.frame.to_numpy().ravel())


def test_blank_rows_are_dropped_counted_and_keep_row_numbers(tmp_path: Path) -> None:
    text = f"{HEADER}\n{ROWS[0]}\n\n,,,,\n  , ,\t,,\n{ROWS[1]}\n\n"
    data = _read_one(_write(tmp_path, "gaps.csv", text))
    assert list(data.frame.index) == [2, 6]
    assert data.blank_rows == 4
    assert _records(data) == EXPECTED


def test_short_rows_are_padded(tmp_path: Path) -> None:
    data = _read_one(_write(tmp_path, "short.csv", "date,member,hours\n2026-10-05,jdoe\n"))
    assert _records(data) == [{"date": "2026-10-05", "member": "jdoe", "hours": ""}]


def test_leading_blank_lines_keep_row_numbers(tmp_path: Path) -> None:
    data = _read_one(_write(tmp_path, "late.csv", f"\n\n{HEADER}\n{ROWS[0]}\n"))
    assert list(data.frame.index) == [4]
    assert list(data.frame.columns) == HEADER.split(",")
    assert data.blank_rows == 0


def test_header_cells_trimmed_and_made_unique(tmp_path: Path) -> None:
    text = " date ,Hours,hours,,notes,,Hours (2)\n2026-10-05,1,2,x,n,,3\n"
    data = _read_one(_write(tmp_path, "dupes.csv", text))
    assert list(data.frame.columns) == [
        "date",
        "Hours",
        "hours (2)",
        "Column D",
        "notes",
        "Hours (2) (2)",
    ]
    assert data.frame.loc[2, "Column D"] == "x"
    assert data.frame.loc[2, "Hours (2) (2)"] == "3"
    assert data.notes == (
        'header "hours" appears more than once; column C is "hours (2)"',
        'column D has no header; it is read as "Column D"',
        'header "Hours (2)" appears more than once; column G is "Hours (2) (2)"',
    )


def test_header_only_file_is_an_empty_frame(tmp_path: Path) -> None:
    data = _read_one(_write(tmp_path, "header.csv", HEADER + "\r\n"))
    assert data.frame.empty
    assert list(data.frame.columns) == HEADER.split(",")
    assert data.blank_rows == 0


@pytest.mark.parametrize("sheet", [None, "all", 0, "0", "time"])
def test_csv_accepts_its_only_sheet(tmp_path: Path, sheet: str | int | None) -> None:
    path = _write(tmp_path, "time.csv", "\n".join([HEADER, *ROWS]))
    assert _records(_read_one(path, sheet=sheet)) == EXPECTED


def test_csv_rejects_other_sheets(tmp_path: Path) -> None:
    path = _write(tmp_path, "time.csv", "\n".join([HEADER, *ROWS]))
    with pytest.raises(InputError) as info:
        read_table(path, sheet="Week 2")
    assert str(info.value) == (
        "time.csv is a CSV file with one sheet, \"time\"; there is no sheet 'Week 2'\n"
        "Leave out --sheet for CSV files."
    )


# ---------------------------------------------------------------------------- workbooks


def _typed_workbook(path: Path) -> Path:
    """An xlsx holding every kind of typed cell, written the way Excel stores them."""
    book = xlsxwriter.Workbook(str(path))
    sheet = book.add_worksheet("Time")
    date_format = book.add_format({"num_format": "yyyy-mm-dd"})
    time_format = book.add_format({"num_format": "hh:mm"})
    stamp_format = book.add_format({"num_format": "yyyy-mm-dd hh:mm"})
    duration_format = book.add_format({"num_format": "[h]:mm"})
    sheet.write_row(0, 0, ["date", "start", "stamp", "hours", "ticket", "total", "flag", "span"])
    sheet.write_number(1, 0, 46300, date_format)  # a serial day number shown as a date
    sheet.write_number(1, 1, 13.25 / 24, time_format)
    sheet.write_datetime(1, 2, datetime(2026, 10, 5, 13, 15), stamp_format)
    sheet.write_number(1, 3, 1.5)
    sheet.write_string(1, 4, "00123")
    sheet.write_formula(1, 5, "=D2*2", None, 3)  # a formula with its cached value
    sheet.write_boolean(1, 6, True)
    sheet.write_number(1, 7, 26.5 / 24, duration_format)
    sheet.write_datetime(2, 0, datetime(2026, 10, 6), date_format)
    sheet.write_number(2, 1, 13.25)  # a decimal-hour time typed as a plain number
    sheet.write_datetime(2, 2, datetime(2026, 10, 6), stamp_format)
    sheet.write_number(2, 3, 46300)
    sheet.write_number(2, 4, 1002)
    sheet.write_formula(2, 5, "=D3*2", None, 92600)
    sheet.write_boolean(2, 6, False)
    book.close()
    return path


def test_xlsx_typed_cells_become_documented_text(tmp_path: Path) -> None:
    data = _read_one(_typed_workbook(tmp_path / "typed.xlsx"))
    assert data.name == "Time"
    assert _records(data) == [
        {
            "date": "2026-10-05",
            "start": "13:15:00",
            "stamp": "2026-10-05 13:15:00",
            "hours": "1.5",
            "ticket": "00123",
            "total": "3",
            "flag": "TRUE",
            "span": "26:30:00",
        },
        {
            "date": "2026-10-06",
            "start": "13.25",
            "stamp": "2026-10-06",
            "hours": "46300",
            "ticket": "1002",
            "total": "92600",
            "flag": "FALSE",
            "span": "",
        },
    ]
    assert list(data.frame.index) == [2, 3]


def _workbook(path: Path, sheets: dict[str, list[list[object]]], hidden: tuple[str, ...] = ()):
    book = openpyxl.Workbook()
    book.remove(book.active)
    for name, rows in sheets.items():
        sheet = book.create_sheet(name)
        for row in rows:
            sheet.append(row)
        if name in hidden:
            sheet.sheet_state = "hidden"
    book.save(path)
    return path


WEEK1 = [["date", "hours"], [date(2026, 10, 5), 1.5], [], [date(2026, 10, 6), time(1, 30)]]
WEEK2 = [["hours", "date", "member"], [2, "2026-10-12", "jdoe"]]


@pytest.fixture
def weeks(tmp_path: Path) -> Path:
    return _workbook(
        tmp_path / "weeks.xlsx",
        {"Lists": [["Remote"]], "Week 1": WEEK1, "Empty": [], "Week 2": WEEK2},
        hidden=("Lists",),
    )


def test_default_sheet_is_the_first_visible_one(weeks: Path) -> None:
    data = _read_one(weeks)
    assert data.name == "Week 1"
    assert _records(data) == [
        {"date": "2026-10-05", "hours": "1.5"},
        {"date": "2026-10-06", "hours": "01:30:00"},
    ]
    assert list(data.frame.index) == [2, 4]
    assert data.blank_rows == 1


@pytest.mark.parametrize(
    ("sheet", "name"),
    [
        pytest.param("Week 2", "Week 2", id="name"),
        pytest.param("week 2 ", "Week 2", id="name-any-case"),
        pytest.param(3, "Week 2", id="index"),
        pytest.param("3", "Week 2", id="index-as-text"),
        pytest.param("Lists", "Lists", id="hidden-by-name"),
    ],
)
def test_sheet_by_name_or_index(weeks: Path, sheet: str | int, name: str) -> None:
    assert _read_one(weeks, sheet=sheet).name == name


@pytest.mark.parametrize("word", ["all", " ALL "])
def test_all_sheets_skips_empty_and_hidden(weeks: Path, word: str) -> None:
    sheets = read_table(weeks, sheet=word)
    assert [s.name for s in sheets] == ["Week 1", "Week 2"]
    assert _records(sheets[1]) == [{"hours": "2", "date": "2026-10-12", "member": "jdoe"}]
    assert sheets[0].notes == ("hidden sheets skipped: Lists",)


@pytest.mark.parametrize(
    ("sheet", "message"),
    [
        pytest.param(
            "Week 3",
            'weeks.xlsx has no sheet named "Week 3"; its sheets are 0: "Lists", 1: "Week 1", '
            '2: "Empty", 3: "Week 2"\nUse --sheet with one of these names, its number (from 0), '
            'or "all".',
            id="unknown-name",
        ),
        pytest.param(
            9,
            'weeks.xlsx has no sheet 9; its sheets are 0: "Lists", 1: "Week 1", 2: "Empty", '
            '3: "Week 2"\nUse --sheet with one of these names, its number (from 0), or "all".',
            id="index-out-of-range",
        ),
        pytest.param(
            "Empty",
            'sheet "Empty" of weeks.xlsx is empty\nChoose another with --sheet (the sheets: '
            '"Lists", "Week 1", "Week 2").',
            id="empty-sheet",
        ),
    ],
)
def test_bad_sheet_choice(weeks: Path, sheet: str | int, message: str) -> None:
    with pytest.raises(InputError) as info:
        read_table(weeks, sheet=sheet)
    assert str(info.value) == message


def test_xlsx_header_below_blank_rows_keeps_sheet_row_numbers(tmp_path: Path) -> None:
    path = _workbook(tmp_path / "low.xlsx", {"S": [[], [None, "date", "hours"], [None, "x", 1]]})
    data = _read_one(path)
    assert list(data.frame.columns) == ["date", "hours"]  # the empty column A is dropped
    assert list(data.frame.index) == [3]
    assert _records(data) == [{"date": "x", "hours": "1"}]


def test_xlsm_reads_like_xlsx(tmp_path: Path) -> None:
    path = _workbook(tmp_path / "macro.xlsm", {"T": [["ticket", "start"], [1002, time(13, 15)]]})
    assert _records(_read_one(path)) == [{"ticket": "1002", "start": "13:15:00"}]


def test_ods(tmp_path: Path) -> None:
    frame = pd.DataFrame(
        {"date": [date(2026, 10, 5)], "hours": [1.5], "ticket": ["00123"], "whole": [3]}
    )
    path = tmp_path / "time.ods"
    with pd.ExcelWriter(path, engine="odf") as writer:
        frame.to_excel(writer, sheet_name="Time", index=False)
    data = _read_one(path)
    assert data.name == "Time"
    assert _records(data) == [
        {"date": "2026-10-05", "hours": "1.5", "ticket": "00123", "whole": "3"}
    ]


# ---------------------------------------------------------------------------- bad files


def _fake_encrypted_xlsx(path: Path) -> Path:
    # Excel saves a password-protected .xlsx as an OLE compound file whose directory holds
    # an "EncryptedPackage" stream; the signature plus that stream name is what gives it away.
    header = bytes.fromhex("D0CF11E0A1B11AE1") + bytes(504)
    entry = "EncryptedPackage".encode("utf-16-le").ljust(64, b"\0")
    path.write_bytes(header + bytes(512) + entry + bytes(448))
    return path


def _zip_without_workbook(path: Path) -> Path:
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("hello.txt", "not a workbook")
    return path


def _truncated_xlsx(path: Path) -> Path:
    full = _typed_workbook(path.with_name("full.xlsx")).read_bytes()
    path.write_bytes(full[: len(full) // 2])
    return path


@pytest.mark.parametrize(
    ("make", "message"),
    [
        pytest.param(
            lambda p: p / "missing.csv",
            "{tmp}/missing.csv: no such file\nCheck the name and the folder.",
            id="missing",
        ),
        pytest.param(
            lambda p: (p / "folder.csv").mkdir() or p / "folder.csv",
            "{tmp}/folder.csv is a folder, not a file\nGive the path of a file in it.",
            id="directory",
        ),
        pytest.param(
            lambda p: _write(p, "empty.csv", b""),
            "empty.csv is empty (0 bytes)\nExport or save it again.",
            id="empty-csv",
        ),
        pytest.param(
            lambda p: _write(p, "empty.xlsx", b""),
            "empty.xlsx is empty (0 bytes)\nExport or save it again.",
            id="empty-xlsx",
        ),
        pytest.param(
            lambda p: _write(p, "blank.csv", "\n \n,,\n"),
            "blank.csv has no header row (every row is blank)\n"
            "Add a header row and data, or check that it is the right file.",
            id="all-blank-rows",
        ),
        pytest.param(
            lambda p: _write(p, "junk.xlsx", random.Random(3).randbytes(4096)),
            "junk.xlsx is not a .xlsx workbook (its content is not a spreadsheet)\n"
            "Check that it is the right file; open it in Excel and save it as .xlsx again.",
            id="binary-junk-xlsx",
        ),
        pytest.param(
            lambda p: _fake_encrypted_xlsx(p / "locked.xlsx"),
            "locked.xlsx is password-protected\n"
            "Open it in Excel and save it without a password (File › Info › Protect Workbook).",
            id="password-protected",
        ),
        pytest.param(
            lambda p: _write(p, "old.xlsx", bytes.fromhex("D0CF11E0A1B11AE1") + bytes(1024)),
            "old.xlsx is an old-style Excel (.xls) or other OLE file, not a .xlsx workbook\n"
            "Open it in Excel and save it as .xlsx, or rename it to .xls.",
            id="ole-not-encrypted",
        ),
        pytest.param(
            lambda p: _write(p, "pdf.pdf", b"%PDF-1.4"),
            "pdf.pdf: can't read .pdf\n"
            "Save it as .csv or .xlsx (also readable: .tsv, .txt, .xlsm, .xlsb, .xls, .ods).",
            id="unsupported-extension",
        ),
        pytest.param(
            lambda p: _write(p, "wide.csv", ",".join(f"c{i}" for i in range(1500)) + "\n1\n"),
            "wide.csv has 1500 columns in its header row: it is not a timesheet\n"
            "Check that it is the right file; export the timesheet again as CSV.",
            id="too-many-columns",
        ),
        pytest.param(
            lambda p: _write(p, "long.csv", "x" * 200_000),
            "long.csv has no line break in its first 64 KB: it is not a timesheet CSV\n"
            "Check that it is the right file; export the timesheet again as CSV.",
            id="endless-first-line",
        ),
        pytest.param(
            lambda p: _write(p, "ctrl.csv", "a,b\n" + "\x01\x02,\x03\n" * 50),
            "ctrl.csv is a binary file, not CSV text\n"
            "Check that it is the right file; export the timesheet again as CSV.",
            id="control-characters",
        ),
        pytest.param(
            lambda p: _write(p, "quote.csv", 'date,notes\n2026-10-05,ok\n2026-10-06,"open\nx,y\n'),
            "quote.csv can't be read as CSV: the double quote (\") opened in row 3 is never "
            "closed\nFields that contain the delimiter ',' or line breaks must be wrapped in "
            'double quotes ("…"); every row needs as many fields as the header.',
            id="unclosed-quote",
        ),
        pytest.param(
            lambda p: _write(p, "book.csv", b"PK\x03\x04" + bytes(100)),
            "book.csv is a workbook, not a .csv text file\n"
            "Rename it to .xlsx (or .xls), or save it from Excel as CSV.",
            id="workbook-named-csv",
        ),
    ],
)
def test_unreadable_files(tmp_path: Path, make, message: str) -> None:
    path = make(tmp_path)
    with pytest.raises(InputError) as info:
        read_table(path)
    assert str(info.value) == message.format(tmp=tmp_path)


@pytest.mark.parametrize(
    ("make", "fragment"),
    [
        pytest.param(_zip_without_workbook, "is damaged and can't be read", id="zip-not-xlsx"),
        pytest.param(_truncated_xlsx, "is damaged and can't be read", id="truncated"),
    ],
)
def test_corrupt_xlsx(tmp_path: Path, make, fragment: str) -> None:
    path = make(tmp_path / "broken.xlsx")
    with pytest.raises(InputError, match=fragment) as info:
        read_table(path)
    assert info.value.hint == "Open it in Excel and save it again as a new .xlsx file."


def test_50mb_of_binary_noise_fails_fast(tmp_path: Path) -> None:
    path = tmp_path / "noise.csv"
    path.write_bytes(os.urandom(50 * 1024 * 1024))
    with pytest.raises(InputError, match=r"^noise\.csv is a binary file, not CSV text"):
        read_table(path)


def test_text_noise_is_rejected_or_read_as_garbage(tmp_path: Path) -> None:
    rng = random.Random(7)
    alphabet = bytes(range(0x20, 0x100)) + b'\n\n\n,,,;;""\t'
    path = tmp_path / "noise.csv"
    path.write_bytes(bytes(rng.choices(alphabet, k=2 * 1024 * 1024)))
    try:
        sheets = read_table(path)
    except InputError as exc:
        assert str(exc).startswith("noise.csv can't be read as CSV: ")
    else:
        assert all(isinstance(s.frame, pd.DataFrame) for s in sheets)


# ------------------------------------------------------------------------------ writing


def _errors_frame() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "sheet": ["Time", "Time"],
            "row": [2, 14],
            "value": ['=HYPERLINK("http://x")', "00123"],
            "message": ["looks like a formula", "zoë's ticket"],
        }
    )


def test_write_csv_round_trips(tmp_path: Path) -> None:
    path = tmp_path / "errors.csv"
    write_table(_errors_frame(), path)
    assert path.read_bytes().startswith(b"sheet,row,value,message")
    assert _records(_read_one(path)) == [
        {
            "sheet": "Time",
            "row": "2",
            "value": '=HYPERLINK("http://x")',
            "message": "looks like a formula",
        },
        {"sheet": "Time", "row": "14", "value": "00123", "message": "zoë's ticket"},
    ]


def test_write_xlsx_is_formatted_and_round_trips(tmp_path: Path) -> None:
    path = tmp_path / "errors.xlsx"
    write_table(_errors_frame(), path, sheet_name="Errors: week [1]")
    book = openpyxl.load_workbook(path)
    sheet = book["Errors_ week _1_"]
    assert sheet.freeze_panes == "A2"
    assert sheet.auto_filter.ref == "A1:D3"
    assert sheet["C2"].data_type == "s"  # text that looks like a formula stays text
    assert sheet.column_dimensions["C"].width > sheet.column_dimensions["B"].width
    assert _records(_read_one(path)) == [
        {
            "sheet": "Time",
            "row": "2",
            "value": '=HYPERLINK("http://x")',
            "message": "looks like a formula",
        },
        {"sheet": "Time", "row": "14", "value": "00123", "message": "zoë's ticket"},
    ]
    assert [p.name for p in tmp_path.iterdir()] == ["errors.xlsx"]  # no temporary file left


def test_write_xlsx_cell_types(tmp_path: Path) -> None:
    frame = pd.DataFrame(
        {
            "row": [2, 3],
            "hours": [1.5, float("nan")],
            "when": [pd.Timestamp("2026-10-05 13:15", tz="UTC"), pd.NaT],
            "text": ["x", None],
        }
    )
    path = tmp_path / "types.xlsx"
    write_table(frame, path)
    sheet = openpyxl.load_workbook(path)["Sheet1"]
    assert [[c.value for c in row] for row in sheet.iter_rows()] == [
        ["row", "hours", "when", "text"],
        [2, 1.5, datetime(2026, 10, 5, 13, 15), "x"],
        [3, None, None, None],
    ]


def test_write_replaces_an_existing_file(tmp_path: Path) -> None:
    path = tmp_path / "out.csv"
    path.write_text("old")
    write_table(pd.DataFrame({"a": ["1"]}), path)
    assert path.read_text() == "a\n1\n"


@pytest.mark.parametrize(
    ("name", "message"),
    [
        pytest.param(
            "out.json",
            "can't write out.json: only .csv and .xlsx are supported\n"
            "Give a file name ending in .csv or .xlsx.",
            id="extension",
        ),
        pytest.param(
            "nowhere/out.csv",
            "can't write {tmp}/nowhere/out.csv: No such file or directory\n"
            "Check that the folder exists.",
            id="missing-folder",
        ),
    ],
)
def test_write_errors(tmp_path: Path, name: str, message: str) -> None:
    with pytest.raises(UsageError) as info:
        write_table(pd.DataFrame({"a": [1]}), tmp_path / name)
    assert str(info.value) == message.format(tmp=tmp_path)


def test_read_large_typed_column_mixes(tmp_path: Path) -> None:
    # A column mixing text, numbers, booleans and dates converts each cell by its own type.
    path = tmp_path / "mixed.xlsx"
    book = xlsxwriter.Workbook(str(path))
    sheet = book.add_worksheet()
    sheet.write_row(0, 0, ["mixed"])
    date_format = book.add_format({"num_format": "yyyy-mm-dd"})
    values: list[tuple[str, object]] = [
        ("n", 1),
        ("b", True),
        ("s", "x"),
        ("n", 2.25),
        ("b", False),
        ("n", 0.1 + 0.2),
        ("n", 1e-20),
    ]
    for row, (kind, value) in enumerate(values, start=1):
        if kind == "b":
            sheet.write_boolean(row, 0, value)
        else:
            sheet.write(row, 0, value)
    sheet.write_datetime(len(values) + 1, 0, datetime(2026, 1, 2) + timedelta(hours=8), date_format)
    book.close()
    frame = _read_one(path).frame
    assert list(frame["mixed"]) == [
        "1",
        "TRUE",
        "x",
        "2.25",
        "FALSE",
        "0.3",
        "1e-20",
        "2026-01-02 08:00:00",
    ]


def test_a_row_with_too_many_fields_is_kept_and_reported(tmp_path: Path) -> None:
    path = _write(tmp_path, "ragged.csv", 'a,b\n1,2\n"multi\nline",2\n1,2,3,4\n5,6\n')
    [sheet] = read_table(path)
    assert sheet.frame.to_dict("index") == {
        2: {"a": "1", "b": "2"},
        3: {"a": "multi\nline", "b": "2"},
        4: {"a": "1", "b": "2"},
        5: {"a": "5", "b": "6"},
    }
    [problem] = sheet.problems
    assert (problem.row, problem.code, problem.value) == (4, "too_many_fields", "3,4")
    assert problem.message.startswith("row 4 has 4 fields where the header has 2")
