"""Reading timesheet files into text-only DataFrames, and writing result tables.

Every cell comes back as text, exactly as a person would read it: nothing is type-guessed,
so ticket numbers such as ``00123`` keep their zeros. Typed spreadsheet cells are written
out the same way a CSV would hold them (dates as ``YYYY-MM-DD``, times as ``HH:MM:SS``,
whole numbers without ``.0``), so the rest of cwbulk has one kind of input to parse.

Row numbers are the ones a person sees in Excel: the frame's index is the spreadsheet row
number of each data row (header row = 1 when it is the first row; blank rows above the
header keep their numbers too).

A header-only file reads as an empty frame (its columns, no rows) rather than an error, so
the caller can say "no data rows" in its own words.
"""

from __future__ import annotations

import codecs
import contextlib
import csv
import os
import re
import tempfile
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Any

import pandas as pd

from cwbulk.errors import InputError, UsageError
from cwbulk.problems import RowProblem

__all__ = ["SheetData", "read_table", "write_table"]

CSV_EXTENSIONS = (".csv", ".tsv", ".txt")
WORKBOOK_EXTENSIONS = (".xlsx", ".xlsm", ".xlsb", ".xls", ".ods")

_ZIP_MAGIC = b"PK\x03\x04"
_OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
_ENCRYPTED_PACKAGE = "EncryptedPackage".encode("utf-16-le")
_SAMPLE_BYTES = 1 << 16
_DELIMITERS = (",", ";", "\t")
_DELIMITER_NAMES = {",": "comma", ";": "semicolon", "\t": "tab"}
_MAX_COLUMNS = 1000

#: A cell starting with one of these is run as a formula (or DDE) by some spreadsheet.
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")
_GUARD_FOLLOWERS = (*FORMULA_PREFIXES, "'")


def guard_formula(text: str) -> str:
    """``text`` made safe to open in a spreadsheet: a leading ``'`` if it could be a formula.

    :func:`unguard_formula` strips one ``'`` that stands before a formula character or
    another ``'``; so text that already starts that way gets one more, and reads back
    exactly as it was.
    """
    first = text[:1]
    if first in FORMULA_PREFIXES or (first == "'" and text[1:2] in _GUARD_FOLLOWERS):
        return "'" + text
    return text


def unguard_formula(text: str) -> str:
    """The inverse of :func:`guard_formula`: the text as it was before export guarded it."""
    if text[:1] == "'" and text[1:2] in _GUARD_FOLLOWERS:
        return text[1:]
    return text


@dataclass(frozen=True)
class SheetData:
    """One sheet (or CSV file) read as text.

    ``frame`` holds every cell as text (``""`` when empty); its columns are the header cells,
    trimmed (blank or repeated names are made unique and explained in ``notes``); its index
    is the spreadsheet row number of each row. Blank rows are left out and counted in
    ``blank_rows``. ``notes`` are things worth telling the user (encoding, delimiter…).
    """

    name: str
    frame: pd.DataFrame
    blank_rows: int
    notes: tuple[str, ...] = ()
    #: Rows that could be read only in part (a CSV row with more fields than the header).
    problems: tuple[RowProblem, ...] = ()


def read_table(path: str | Path, *, sheet: str | int | None = None) -> list[SheetData]:
    """Read a CSV/TSV file or a workbook (XLSX, XLSM, XLSB, XLS, ODS) into text frames.

    ``sheet`` picks workbook sheets: ``None`` the first visible sheet, a name, a 0-based index
    (``2`` or ``"2"``), or ``"all"`` for every visible sheet that has data. A CSV file is one
    sheet named after the file's stem. Raises :class:`~cwbulk.errors.InputError` when the file
    can't be read at all.
    """
    path = Path(path)
    if isinstance(sheet, str) and sheet.strip().lower() == "all":
        sheet = "all"
    suffix = path.suffix.lower()
    if suffix not in CSV_EXTENSIONS + WORKBOOK_EXTENSIONS:
        raise InputError(
            f"{path.name}: can't read {suffix or 'files without an extension'}",
            hint="Save it as .csv or .xlsx (also readable: .tsv, .txt, .xlsm, .xlsb, .xls, .ods).",
        )
    head = _check_file(path)
    if suffix in CSV_EXTENSIONS:
        if head.startswith((_ZIP_MAGIC, _OLE_MAGIC)):
            raise InputError(
                f"{path.name} is a workbook, not a {suffix} text file",
                hint="Rename it to .xlsx (or .xls), or save it from Excel as CSV.",
            )
        _check_csv_sheet(path, sheet)
        return [_read_csv(path)]
    return _read_workbook(path, head, sheet)


@contextlib.contextmanager
def replacing(path: Path) -> Iterator[Path]:
    """A temporary file beside ``path`` that replaces it only when the body succeeds."""
    try:
        fd, name = tempfile.mkstemp(prefix=f".{path.stem}-", suffix=path.suffix, dir=path.parent)
    except OSError as exc:
        raise UsageError(
            f"can't write {path}: {exc.strerror}", hint="Check that the folder exists."
        ) from exc
    os.close(fd)
    try:
        yield Path(name)
        os.replace(name, path)
    except OSError as exc:
        raise UsageError(
            f"can't write {path}: {exc.strerror}",
            hint="Close the file if it is open in Excel, or choose another name.",
        ) from exc
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(name)


def write_table(frame: pd.DataFrame, path: str | Path, *, sheet_name: str = "Sheet1") -> None:
    """Write ``frame`` (without its index) as UTF-8 CSV or as XLSX, chosen by the extension.

    The XLSX has a frozen, filterable header row and columns sized to their contents; cell
    text is never turned into formulas or links. The file is replaced atomically.
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in (".csv", ".xlsx"):
        raise UsageError(
            f"can't write {path.name}: only .csv and .xlsx are supported",
            hint="Give a file name ending in .csv or .xlsx.",
        )
    with replacing(path) as tmp_path:
        if suffix == ".csv":
            frame.to_csv(tmp_path, index=False, encoding="utf-8")
        else:
            _write_xlsx(frame, str(tmp_path), sheet_name)


# ------------------------------------------------------------------------------ the file


def _check_file(path: Path) -> bytes:
    """The file's first bytes, after making sure it is a readable, non-empty file."""
    if not path.exists():
        raise InputError(f"{path}: no such file", hint="Check the name and the folder.")
    if path.is_dir():
        raise InputError(f"{path} is a folder, not a file", hint="Give the path of a file in it.")
    try:
        with path.open("rb") as handle:
            head = handle.read(_SAMPLE_BYTES)
    except OSError as exc:
        raise InputError(f"can't open {path}: {exc.strerror}") from exc
    if not head:
        raise InputError(f"{path.name} is empty (0 bytes)", hint="Export or save it again.")
    return head


# ---------------------------------------------------------------------------------- CSV


def _check_csv_sheet(path: Path, sheet: str | int | None) -> None:
    if sheet is None or str(sheet).strip().lower() in ("all", "0", path.stem.lower()):
        return
    raise InputError(
        f'{path.name} is a CSV file with one sheet, "{path.stem}"; there is no sheet {sheet!r}',
        hint="Leave out --sheet for CSV files.",
    )


def _read_csv(path: Path) -> SheetData:
    encoding, notes = _detect_encoding(path)
    with path.open("rb") as handle:
        sample = handle.read(_SAMPLE_BYTES).decode(encoding, errors="ignore")
    if _looks_binary(sample):
        raise InputError(
            f"{path.name} is a binary file, not CSV text",
            hint="Check that it is the right file; export the timesheet again as CSV.",
        )
    lines = sample.lstrip("\ufeff").splitlines()
    leading_blank = 0
    while leading_blank < len(lines) - 1 and not lines[leading_blank].strip():
        leading_blank += 1
    skip, first_row = leading_blank, leading_blank + 1
    declared = _SEP_LINE.fullmatch(lines[leading_blank].strip()) if lines else None
    if declared and declared.group(1) in _DELIMITERS:
        # Excel's "sep=;" hint line: Excel hides it, so the header it shows is row 1.
        delimiter, skip, first_row = declared.group(1), leading_blank + 1, 1
        leading_blank += 1
    else:
        delimiter = _sniff_delimiter(lines[leading_blank:])
    # Guard pandas against building a frame of millions of columns from one endless line.
    if len(lines) <= leading_blank + 1 and path.stat().st_size > _SAMPLE_BYTES:
        raise InputError(
            f"{path.name} has no line break in its first 64 KB: it is not a timesheet CSV",
            hint="Check that it is the right file; export the timesheet again as CSV.",
        )
    header = lines[leading_blank] if leading_blank < len(lines) else ""
    header_fields = _QUOTED.sub('""', header).count(delimiter) + 1
    if header_fields > _MAX_COLUMNS:
        raise InputError(
            f"{path.name} has {header_fields} columns in its header row: it is not a timesheet",
            hint="Check that it is the right file; export the timesheet again as CSV.",
        )
    if delimiter != ",":
        notes.append(f"delimiter {delimiter!r} ({_DELIMITER_NAMES[delimiter]})")
    try:
        raw = pd.read_csv(
            path,
            sep=delimiter,
            header=None,
            dtype=str,
            keep_default_na=False,
            na_filter=False,
            skip_blank_lines=False,
            skiprows=skip,
            encoding=encoding,
            quotechar='"',
            doublequote=True,
            engine="c",
        )
    except pd.errors.EmptyDataError:
        raise InputError(
            f"{path.name} has no header row (every row is blank)",
            hint="Add a header row and data, or check that it is the right file.",
        ) from None
    except pd.errors.ParserError as exc:
        if _long_row(path, encoding, delimiter):
            return _read_ragged_csv(path, encoding, delimiter, skip, first_row, notes)
        raise InputError(
            f"{path.name} can't be read as CSV: "
            f"{_long_row(path, encoding, delimiter) or _parser_problem(exc, first_row)}",
            hint=f"Fields that contain the delimiter {delimiter!r} or line breaks must be "
            'wrapped in double quotes ("…"); every row needs as many fields as the header.',
        ) from exc
    except UnicodeDecodeError as exc:  # the encoding was checked; this guards odd codecs
        raise InputError(f"{path.name} can't be decoded as {encoding}: {exc.reason}") from exc
    raw.index = raw.index + first_row
    data = _finish(path.stem, path.name, raw, notes)
    if data.frame.shape[1] == 1:
        only = data.frame.columns[0]
        note = (
            f'everything is in one column ("{only[:40]}"): if the file uses a delimiter other '
            "than comma, semicolon or tab, save it again as a comma-separated CSV"
        )
        data = replace(data, notes=(*data.notes, note))
    return data


def _read_ragged_csv(
    path: Path, encoding: str, delimiter: str, skip: int, first_row: int, notes: list[str]
) -> SheetData:
    """A CSV whose rows don't all fit the header: every row is kept (so it still gets a
    result row), cut to the header's width, and each long one is a row problem."""
    with path.open(encoding=encoding, newline="") as handle:
        records = list(csv.reader(handle, delimiter=delimiter))[skip:]
    width = len(records[0])
    fitted = [(record + [""] * width)[:width] for record in records]
    raw = pd.DataFrame(fitted, dtype=object)
    raw.index = raw.index + first_row
    data = _finish(path.stem, path.name, raw, notes)
    problems = tuple(
        RowProblem(
            data.name,
            number,
            None,
            delimiter.join(record[width:])[:200],
            "too_many_fields",
            f"row {number} has {len(record)} fields where the header has {width}: wrap "
            f'fields that contain {delimiter!r} in double quotes ("…") and import it again',
        )
        for number, record in enumerate(records, start=first_row)
        if len(record) > width and number in data.frame.index
    )
    return replace(data, problems=problems)


def _looks_binary(sample: str) -> bool:
    """NUL bytes, or more than 1% control characters, mean this is not text.

    (Ctrl-Z is allowed: old DOS tools end text files with it.)"""
    if "\x00" in sample:
        return True
    controls = sum(1 for ch in sample if ch < " " and ch not in "\t\n\r\x0b\x0c\x1a")
    return controls > len(sample) // 100


def _long_row(path: Path, encoding: str, delimiter: str) -> str | None:
    """Name the first row with more fields than the header, by its spreadsheet row number
    (pandas counts physical lines, which differ once a quoted note spans several)."""
    try:
        with path.open(encoding=encoding, newline="") as handle:
            width = None
            for number, record in enumerate(csv.reader(handle, delimiter=delimiter), start=1):
                if width is None:
                    width = len(record) if any(cell.strip() for cell in record) else None
                elif len(record) > width:
                    return f"row {number} has {len(record)} fields where the header has {width}"
    except (csv.Error, UnicodeDecodeError):
        return None
    return None


def _parser_problem(exc: Exception, first_row: int) -> str:
    text = str(exc).strip().splitlines()[-1] if str(exc).strip() else type(exc).__name__
    unclosed = re.search(r"EOF inside string starting at row (\d+)", text)
    if unclosed:  # pandas counts records from 0 after the skipped lines
        return f'the double quote (") opened in row {int(unclosed[1]) + first_row} is never closed'
    return text.removeprefix("Error tokenizing data. C error: ")


def _detect_encoding(path: Path) -> tuple[str, list[str]]:
    """The file's text encoding: a BOM decides; else UTF-8 if the whole file is valid UTF-8,
    else cp1252 (Excel's "CSV" on Western Windows), else Latin-1; the fallbacks are noted."""
    with path.open("rb") as handle:
        head = handle.read(_SAMPLE_BYTES)
    if head.startswith(codecs.BOM_UTF8):
        return "utf-8-sig", []
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16", ["read as UTF-16"]
    # UTF-16 without a BOM: ASCII text leaves every other byte zero.
    for encoding, zeros in (("utf-16-le", head[1::2]), ("utf-16-be", head[0::2])):
        if len(head) >= 4 and zeros.count(0) > 0.9 * len(zeros):
            return encoding, ["read as UTF-16 (the file has no byte-order mark)"]
    if _decodes_as(path, "utf-8"):
        return "utf-8", []
    if _decodes_as(path, "cp1252"):
        return "cp1252", ["read as Windows-1252 (cp1252), not UTF-8: check accented letters"]
    return "latin-1", ["read as Latin-1, not UTF-8: check accented letters"]


def _decodes_as(path: Path, encoding: str) -> bool:
    """Whether the whole file decodes; streamed, so a large file costs no memory."""
    decoder = codecs.getincrementaldecoder(encoding)()
    try:
        with path.open("rb") as handle:
            while chunk := handle.read(1 << 20):
                decoder.decode(chunk)
            decoder.decode(b"", final=True)
    except UnicodeDecodeError:
        return False
    return True


_QUOTED = re.compile(r'"(?:[^"]|"")*"')
_SEP_LINE = re.compile(r'"?sep=(.)"?,*', re.IGNORECASE)


def _sniff_delimiter(lines: Sequence[str]) -> str:
    """The delimiter whose count in the header is non-zero and most steady over the next
    lines; quoted text is ignored so commas in notes don't count."""
    text = _QUOTED.sub('""', "\n".join(lines[:50]))
    rows = [line for line in text.split("\n") if line.strip()][:20]
    if not rows:
        return ","
    best, best_score = ",", (-1.0, 0)
    for delimiter in _DELIMITERS:
        in_header = rows[0].count(delimiter)
        if not in_header:
            continue
        following = rows[1:]
        steady = sum(row.count(delimiter) == in_header for row in following)
        score = (steady / len(following) if following else 1.0, in_header)
        if score > best_score:
            best, best_score = delimiter, score
    return best


# ----------------------------------------------------------------------------- workbooks


def _read_workbook(path: Path, head: bytes, sheet: str | int | None) -> list[SheetData]:
    from python_calamine import (
        CalamineError,
        CalamineWorkbook,
        PasswordError,
        SheetTypeEnum,
        SheetVisibleEnum,
    )

    suffix = path.suffix.lower()
    if head.startswith(_OLE_MAGIC) and suffix != ".xls":
        if _ENCRYPTED_PACKAGE in path.read_bytes():
            raise _password_protected(path)
        raise InputError(
            f"{path.name} is an old-style Excel (.xls) or other OLE file, not a {suffix} workbook",
            hint="Open it in Excel and save it as .xlsx, or rename it to .xls.",
        )
    if suffix != ".xls" and not head.startswith(_ZIP_MAGIC):
        raise InputError(
            f"{path.name} is not a {suffix} workbook (its content is not a spreadsheet)",
            hint="Check that it is the right file; open it in Excel and save it as .xlsx again.",
        )
    # python-calamine directly rather than pandas.read_excel(engine="calamine"): the same
    # reader, minus pandas' cell-by-cell conversion and TextParser, which cost twice the read.
    try:
        book = CalamineWorkbook.from_path(str(path))
        worksheets = [m for m in book.sheets_metadata if m.typ == SheetTypeEnum.WorkSheet]
        chosen = _choose_sheets(path, worksheets, sheet)
        sheets = []
        skipped_hidden = []
        for meta in chosen:
            if sheet == "all" and meta.visible != SheetVisibleEnum.Visible:
                skipped_hidden.append(meta.name)
                continue
            rows = book.get_sheet_by_name(meta.name).to_python(skip_empty_area=False)
            sheets.append((meta.name, rows))
    except PasswordError as exc:
        raise _password_protected(path) from exc
    except (CalamineError, OSError, ValueError) as exc:
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise InputError(
            f"{path.name} is damaged and can't be read ({reason})",
            hint="Open it in Excel and save it again as a new .xlsx file.",
        ) from exc
    results = []
    for name, rows in sheets:
        if not any(any(v != "" for v in row) for row in rows):
            if sheet == "all":
                continue
            others = ", ".join(f'"{m.name}"' for m in worksheets if m.name != name)
            raise InputError(
                f'sheet "{name}" of {path.name} is empty',
                hint=f"Choose another with --sheet (the sheets: {others})."
                if others
                else "Check that it is the right file.",
            )
        width = max(map(len, rows))
        if any(len(row) != width for row in rows):
            rows = [row + [""] * (width - len(row)) for row in rows]
        columns = [_cells_to_text(column) for column in zip(*rows, strict=True)]
        raw = pd.DataFrame(dict(enumerate(columns)), index=range(1, len(rows) + 1), dtype=str)
        results.append(_finish(name, f'sheet "{name}" of {path.name}', raw, []))
    if not results:
        raise InputError(
            f"{path.name} has no sheet with data",
            hint="Check that it is the right file."
            if not skipped_hidden
            else f"Hidden sheets were skipped ({', '.join(skipped_hidden)}); "
            "pick one by name with --sheet.",
        )
    if skipped_hidden:
        note = f"hidden sheets skipped: {', '.join(skipped_hidden)}"
        results[0] = replace(results[0], notes=(*results[0].notes, note))
    return results


def _password_protected(path: Path) -> InputError:
    return InputError(
        f"{path.name} is password-protected",
        hint="Open it in Excel and save it without a password (File › Info › Protect Workbook).",
    )


def _choose_sheets(path: Path, worksheets: list[Any], sheet: str | int | None) -> list[Any]:
    """The sheets ``sheet`` asks for, by name (exact, then ignoring case), index or "all"."""
    from python_calamine import SheetVisibleEnum

    if not worksheets:
        raise InputError(f"{path.name} has no worksheets", hint="Check that it is the right file.")
    if sheet is None:
        visible = [m for m in worksheets if m.visible == SheetVisibleEnum.Visible]
        return [(visible or worksheets)[0]]
    if sheet == "all":
        return list(worksheets)
    if isinstance(sheet, str):
        wanted = sheet.strip()
        for match in (
            [m for m in worksheets if m.name == sheet],
            [m for m in worksheets if m.name.strip().lower() == wanted.lower()],
        ):
            if match:
                return match[:1]
        if wanted.isdigit():
            sheet = int(wanted)
    if isinstance(sheet, int) and 0 <= sheet < len(worksheets):
        return [worksheets[sheet]]
    listed = ", ".join(f'{i}: "{m.name}"' for i, m in enumerate(worksheets))
    what = f"no sheet {sheet}" if isinstance(sheet, int) else f'no sheet named "{sheet}"'
    raise InputError(
        f"{path.name} has {what}; its sheets are {listed}",
        hint='Use --sheet with one of these names, its number (from 0), or "all".',
    )


def _text_float(value: float) -> str:
    if value.is_integer():
        return str(int(value))
    # Excel keeps 15 significant digits: 0.1+0.2 shows as 0.3, not 0.30000000000000004.
    text = f"{value:.15g}"
    return text if "e" not in text else repr(value)


def _text_datetime(value: datetime) -> str:
    value = _round_second(value)
    if value.hour == value.minute == value.second == 0:
        return value.date().isoformat()
    return value.isoformat(sep=" ")


def _round_second(value: datetime) -> datetime:
    # Excel stores times as fractions of a day; 13:15 often comes back as 13:14:59.997.
    if value.microsecond:
        return value.replace(microsecond=0) + timedelta(seconds=value.microsecond >= 500000)
    return value


def _text_time(value: time) -> str:
    if value.microsecond:
        moment = _round_second(datetime.combine(date.min, value))
        return "23:59:59" if moment.date() != date.min else moment.time().isoformat()
    return value.isoformat()


def _text_timedelta(value: timedelta) -> str:
    seconds = round(value.total_seconds())
    sign, seconds = ("-", -seconds) if seconds < 0 else ("", seconds)
    minutes, s = divmod(seconds, 60)
    h, m = divmod(minutes, 60)
    return f"{sign}{h}:{m:02d}:{s:02d}"


_TO_TEXT: dict[type, Callable[[Any], str]] = {
    str: str,
    float: _text_float,
    int: str,
    bool: lambda value: "TRUE" if value else "FALSE",
    datetime: _text_datetime,
    date: date.isoformat,
    time: _text_time,
    timedelta: _text_timedelta,
}


def _cells_to_text(values: tuple[Any, ...]) -> Sequence[str]:
    """One column of typed cells as text; columns that are all text pass straight through.

    Each distinct value is converted once (dates, times and hours repeat a lot) and the
    column is then a dictionary lookup per cell.
    """
    kinds = set(map(type, values))
    if kinds <= {str}:
        return values
    convert = {kind: _TO_TEXT.get(kind, str) for kind in kinds}
    # True == 1 == 1.0 share one dict key, so mixed bool/number columns go cell by cell.
    if not (bool in kinds and kinds & {int, float}):
        lookup = {value: convert[type(value)](value) for value in set(values)}
        with contextlib.suppress(KeyError):  # NaN is never equal to itself
            return [lookup[value] for value in values]
    return [convert[type(value)](value) for value in values]


# ---------------------------------------------------------------------- shared finishing


def _finish(name: str, where: str, raw: pd.DataFrame, notes: list[str]) -> SheetData:
    """Find the header (the first non-blank row), drop blank rows and name the columns."""
    filled = pd.Series(False, index=raw.index)
    for position in range(raw.shape[1]):
        column = raw[position]
        nonempty = column != ""
        if nonempty.any():
            # Whitespace-only cells count as empty; checking only non-empty cells keeps it cheap.
            filled |= nonempty & ~column.where(nonempty, "x").str.isspace().astype(bool)
    filled_rows = raw.index[filled.to_numpy()]
    if len(filled_rows) == 0:
        raise InputError(
            f"{where} has no header row (every row is blank)",
            hint="Add a header row and data, or check that it is the right file.",
        )
    header_row = filled_rows[0]
    header = [cell.strip() for cell in raw.loc[header_row]]
    if len(filled_rows) == len(raw) and header_row == raw.index[0]:
        data = raw.iloc[1:]  # the usual case: no blank rows, so no need to copy rows
    else:
        data = raw.loc[filled_rows[1:]]
    blank_rows = int((raw.index > header_row).sum()) - len(data)
    keep, names = [], []
    seen: dict[str, int] = {}
    for position, title in enumerate(header):
        letter = _column_letter(position)
        if not title:
            if not (data[position] != "").any():
                continue  # an empty column at the edge of a formatted range
            title = f"Column {letter}"
            notes.append(f'column {letter} has no header; it is read as "{title}"')
        if title.lower() in seen:
            count = seen[title.lower()]
            while (unique := f"{title} ({count + 1})").lower() in seen:
                count += 1
            seen[title.lower()] = count + 1
            notes.append(f'header "{title}" appears more than once; column {letter} is "{unique}"')
            title = unique
        seen.setdefault(title.lower(), 1)
        keep.append(position)
        names.append(title)
    frame = data[keep] if keep != list(range(raw.shape[1])) else data.copy(deep=False)
    frame.columns = pd.Index(names, dtype=object)
    frame.index = pd.Index(frame.index, dtype="int64")
    return SheetData(name, frame, blank_rows, tuple(notes))


def _column_letter(position: int) -> str:
    """0 → A, 25 → Z, 26 → AA, as Excel names columns."""
    letters = ""
    position += 1
    while position:
        position, rest = divmod(position - 1, 26)
        letters = chr(65 + rest) + letters
    return letters


# ------------------------------------------------------------------------------ writing


_FORBIDDEN_SHEET_CHARS = re.compile(r"[\[\]:*?/\\]")


def _write_xlsx(frame: pd.DataFrame, path: str, sheet_name: str) -> None:
    import xlsxwriter

    options = {
        "constant_memory": True,  # rows stream to disk: a 1,000,000-row results file fits
        "strings_to_formulas": False,  # a note starting with "=" must not become a formula
        "strings_to_urls": False,
        "strings_to_numbers": False,
        "remove_timezone": True,
        "default_date_format": "yyyy-mm-dd hh:mm:ss",
    }
    book = xlsxwriter.Workbook(path, options)
    sheet = book.add_worksheet(_FORBIDDEN_SHEET_CHARS.sub("_", sheet_name)[:31] or "Sheet1")
    columns = [str(column) for column in frame.columns]
    cells = frame.to_numpy(dtype=object, na_value=None)
    for position, column in enumerate(columns):
        sample = cells[:1000, position]
        longest = max([len(column), *(len(str(v)) for v in sample if v is not None)])
        sheet.set_column(position, position, min(max(longest + 2, 8), 60))
    sheet.freeze_panes(1, 0)
    if columns:
        sheet.autofilter(0, 0, len(frame), len(columns) - 1)
    sheet.write_row(0, 0, columns, book.add_format({"bold": True}))
    for number, row in enumerate(cells.tolist(), start=1):
        sheet.write_row(number, 0, row)
    book.close()
