"""Mapping profiles: other timesheet layouts (Toggl, Clockify, Harvest, yours) → the
canonical sheet.

A profile is a small YAML file (format in docs/mapping.md): which source column feeds which
canonical column, names joined from several columns, constants, value maps (tags → work
types, Yes/No → billable options), and the reading options the layout implies (day-first
dates, its time zone, the day start for hours-only rows). The built-in ones live in
``schemas/mappings/``; :func:`detect_profile` picks one from a header.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from types import MappingProxyType
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import pandas as pd
import yaml

from cwbulk.errors import ConfigError, InputError, UsageError
from cwbulk.fields import canonical_columns, load_reference, suggest
from cwbulk.io import SheetData, read_table
from cwbulk.parse import ParseError, parse_time
from cwbulk.resources import schema_file

__all__ = [
    "BUILTIN_PROFILES",
    "HELPER_COLUMNS",
    "MappedSheet",
    "Profile",
    "ValueMap",
    "apply_profile",
    "detect_profile",
    "load_member_map",
    "load_profile",
    "normalize_header",
]

BUILTIN_PROFILES = ("toggl", "clockify", "harvest", "canonical")

# Columns a profile may fill besides the canonical ones; validation reads them, and they are
# not part of the canonical frame it returns.
HELPER_COLUMNS = ("endDate",)

_TOP_KEYS = ("name", "description", "extends", "detect", "columns", "join", "constants")
_TOP_KEYS += ("values", "ignore", "options")
_OPTION_KEYS = ("dayfirst", "tz", "day_start")
_VALUE_KEYS = ("map", "split", "unmatched")
_DOCS = "See docs/mapping.md for the mapping file format."


def normalize_header(text: str) -> str:
    """A header as profiles match it: case and all whitespace ignored."""
    return "".join(str(text).split()).casefold()


def _normalize_value(text: str) -> str:
    return " ".join(str(text).split()).casefold()


@dataclass(frozen=True)
class ValueMap:
    """Source values → canonical values for one column (matched ignoring case and spacing).

    ``split``: the cell holds a list (Toggl tags); the first item that maps wins.
    ``unmatched``: ``"keep"`` the value as it is, or ``"blank"`` it.
    """

    map: Mapping[str, str]
    split: str | None = None
    unmatched: str = "keep"

    def translate(self, value: str) -> str:
        """The canonical value for one cell."""
        if not value:
            return value
        items = value.split(self.split) if self.split else [value]
        for item in items:
            found = self.map.get(_normalize_value(item))
            if found is not None:
                return found
        return value if self.unmatched == "keep" else ""

    def apply(self, series: pd.Series) -> pd.Series:
        """``series`` with every value translated (each distinct value looked up once)."""
        lookup = {value: self.translate(value) for value in series.unique()}
        return series.map(lookup)


@dataclass(frozen=True)
class Profile:
    """A mapping profile, built in or read from a user's YAML file."""

    name: str
    description: str = ""
    source: str = "built-in"
    detect_all: tuple[str, ...] = ()
    detect_any: tuple[str, ...] = ()
    columns: tuple[tuple[str, str], ...] = ()
    join: Mapping[str, tuple[tuple[str, ...], str]] = field(default_factory=dict)
    constants: Mapping[str, str] = field(default_factory=dict)
    values: Mapping[str, ValueMap] = field(default_factory=dict)
    ignore: tuple[str, ...] = ()
    dayfirst: bool | None = None
    tz: str | None = None
    day_start: str | None = None


@dataclass(frozen=True)
class MappedSheet:
    """One sheet in canonical columns (plus helper columns), on the source sheet's index.

    ``headers`` names, for each filled canonical column, the source column(s) it came from,
    so problems can name the column the user sees.
    """

    name: str
    frame: pd.DataFrame
    headers: Mapping[str, str]
    notes: tuple[str, ...]


# ------------------------------------------------------------------------------ loading


def _targets() -> tuple[str, ...]:
    return (*canonical_columns(), *HELPER_COLUMNS)


class _Checker:
    """Reads one profile document, raising ConfigError that names the file and the key."""

    def __init__(self, where: str) -> None:
        self.where = where

    def fail(self, key: str, problem: str) -> ConfigError:
        return ConfigError(f"mapping {self.where}: {key}: {problem}", hint=_DOCS)

    def mapping(self, value: Any, key: str) -> dict[str, Any]:
        if value is None:
            return {}
        if not isinstance(value, dict):
            raise self.fail(key, f"expected a mapping of names to values, got {value!r}")
        return {str(k): v for k, v in value.items()}

    def strings(self, value: Any, key: str) -> tuple[str, ...]:
        if value is None:
            return ()
        if isinstance(value, str):
            return (value,)
        if not isinstance(value, list) or not all(isinstance(v, str | int) for v in value):
            raise self.fail(key, f"expected a list of column names, got {value!r}")
        return tuple(str(v) for v in value)

    def known(self, keys: Iterable[str], allowed: Iterable[str], key: str) -> None:
        allowed = tuple(allowed)
        for name in keys:
            if name not in allowed:
                close = suggest(name, allowed)
                hint = f"did you mean {close!r}?" if close else f"use one of {', '.join(allowed)}"
                raise self.fail(f"{key}{name}" if key else name, f"unknown key — {hint}")

    def target(self, name: Any, key: str) -> str:
        targets = _targets()
        if name not in targets:
            close = suggest(str(name), targets)
            fix = f"did you mean {close!r}?" if close else f"use one of {', '.join(targets)}"
            raise self.fail(key, f"{name!r} is not a canonical column — {fix}")
        return str(name)


def _read_document(checker: _Checker, data: Any) -> dict[str, Any]:
    if not isinstance(data, dict):
        raise checker.fail("(top)", "the file must be a YAML mapping (key: value lines)")
    checker.known(data, _TOP_KEYS, "")
    doc: dict[str, Any] = {}
    if "detect" in data:
        detect = data["detect"]
        if isinstance(detect, list):
            detect = {"all": detect}
        detect = checker.mapping(detect, "detect")
        checker.known(detect, ("all", "any"), "detect.")
        doc["detect_all"] = checker.strings(detect.get("all"), "detect.all")
        doc["detect_any"] = checker.strings(detect.get("any"), "detect.any")
    columns = checker.mapping(data.get("columns"), "columns")
    doc["columns"] = tuple(
        (source, checker.target(target, f"columns.{source}")) for source, target in columns.items()
    )
    join = {}
    for target, spec in checker.mapping(data.get("join"), "join").items():
        checker.target(target, f"join.{target}")
        spec = checker.mapping(spec, f"join.{target}")
        checker.known(spec, ("columns", "separator"), f"join.{target}.")
        parts = checker.strings(spec.get("columns"), f"join.{target}.columns")
        if not parts:
            raise checker.fail(f"join.{target}.columns", "list the columns to join")
        join[target] = (parts, str(spec.get("separator", " ")))
    doc["join"] = join
    constants = {}
    for target, value in checker.mapping(data.get("constants"), "constants").items():
        checker.target(target, f"constants.{target}")
        constants[target] = "" if value is None else str(value)
    doc["constants"] = constants
    values = {}
    for target, spec in checker.mapping(data.get("values"), "values").items():
        checker.target(target, f"values.{target}")
        values[target] = _value_map(checker, spec, f"values.{target}")
    doc["values"] = values
    doc["ignore"] = checker.strings(data.get("ignore"), "ignore")
    options = checker.mapping(data.get("options"), "options")
    checker.known(options, _OPTION_KEYS, "options.")
    if "dayfirst" in options:
        if not isinstance(options["dayfirst"], bool):
            raise checker.fail("options.dayfirst", "use true or false")
        doc["dayfirst"] = options["dayfirst"]
    if options.get("tz") is not None:
        doc["tz"] = str(options["tz"])
        try:
            ZoneInfo(doc["tz"])
        except (ZoneInfoNotFoundError, ValueError, OSError):
            raise checker.fail("options.tz", f"unknown time zone {doc['tz']!r}") from None
    if options.get("day_start") is not None:
        doc["day_start"] = str(options["day_start"])
        try:
            parse_time(doc["day_start"])
        except ParseError as exc:
            raise checker.fail("options.day_start", exc.message) from None
    for key in ("name", "description"):
        if data.get(key) is not None:
            doc[key] = str(data[key])
    return doc


def _value_map(checker: _Checker, spec: Any, key: str) -> ValueMap:
    spec = checker.mapping(spec, key)
    if not set(spec) & set(_VALUE_KEYS):
        spec = {"map": spec}  # the short form: just the value pairs
    checker.known(spec, _VALUE_KEYS, f"{key}.")
    pairs = checker.mapping(spec.get("map"), f"{key}.map")
    unmatched = spec.get("unmatched", "keep")
    if unmatched not in ("keep", "blank"):
        raise checker.fail(f"{key}.unmatched", f"{unmatched!r} — use keep or blank")
    split = spec.get("split")
    return ValueMap(
        map=MappingProxyType(
            {_normalize_value(k): "" if v is None else str(v) for k, v in pairs.items()}
        ),
        split=str(split) if split else None,
        unmatched=unmatched,
    )


def _merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    # A file that extends a built-in profile is still its own profile: name and description
    # are not inherited.
    merged = {k: v for k, v in base.items() if k not in ("name", "description")}
    merged.update({k: v for k, v in override.items() if k not in ("columns", "ignore")})
    merged["columns"] = (*override.get("columns", ()), *base.get("columns", ()))
    merged["ignore"] = (*base.get("ignore", ()), *override.get("ignore", ()))
    for key in ("join", "constants", "values"):
        merged[key] = {**base.get(key, {}), **override.get(key, {})}
    return merged


def _load_document(path: Path, where: str, seen: tuple[Path, ...] = ()) -> dict[str, Any]:
    checker = _Checker(where)
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"can't read mapping {where}: {exc.strerror}") from exc
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = f" at line {mark.line + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or "not valid YAML"
        raise ConfigError(f"mapping {where}{line}: {problem}", hint=_DOCS) from exc
    doc = _read_document(checker, data)
    extends = data.get("extends") if isinstance(data, dict) else None
    if extends is None:
        return doc
    if str(extends) in BUILTIN_PROFILES:
        base_path, base_where = schema_file(f"mappings/{extends}.yaml"), f"built-in {extends}"
    else:
        base_path = (path.parent / str(extends)).resolve()
        base_where = str(base_path)
        if base_path in seen or not base_path.is_file():
            names = ", ".join(BUILTIN_PROFILES)
            raise checker.fail("extends", f"{extends!r} is not {names} or another mapping file")
    return _merge(_load_document(base_path, base_where, (*seen, path.resolve())), doc)


def _profile(doc: dict[str, Any], name: str, source: str) -> Profile:
    return Profile(
        name=doc.get("name", name),
        description=doc.get("description", ""),
        source=source,
        detect_all=doc.get("detect_all", ()),
        detect_any=doc.get("detect_any", ()),
        columns=doc.get("columns", ()),
        join=MappingProxyType(doc.get("join", {})),
        constants=MappingProxyType(doc.get("constants", {})),
        values=MappingProxyType(doc.get("values", {})),
        ignore=doc.get("ignore", ()),
        dayfirst=doc.get("dayfirst"),
        tz=doc.get("tz"),
        day_start=doc.get("day_start"),
    )


@cache
def _builtin(name: str) -> Profile:
    path = schema_file(f"mappings/{name}.yaml")
    return _profile(_load_document(path, f"built-in {name}"), name, "built-in")


def load_profile(spec: str | Path) -> Profile:
    """A built-in profile by name (toggl, clockify, harvest, canonical) or a YAML file.

    Raises :class:`ConfigError` naming the key for a broken file, and
    :class:`UsageError` when ``spec`` is neither a profile name nor an existing file.
    """
    text = str(spec).strip()
    if text.lower() in BUILTIN_PROFILES:
        return _builtin(text.lower())
    path = Path(text).expanduser()
    if not path.is_file():
        raise UsageError(
            f"--mapping {text}: no such profile or file",
            hint=f"Use one of {', '.join(BUILTIN_PROFILES)}, or the path of a YAML file. " + _DOCS,
        )
    return _profile(_load_document(path, str(path)), path.stem, str(path))


def _matches(pattern: str, header: str) -> bool:
    """Whether a profile's column name matches a normalised header (``"Amount (*"`` is a
    prefix, for currency codes in header names)."""
    wanted = normalize_header(pattern)
    if wanted.endswith("*"):
        return header.startswith(wanted[:-1])
    return header == wanted


def _present(patterns: Iterable[str], headers: Iterable[str]) -> list[bool]:
    normalized = [normalize_header(h) for h in headers]
    return [any(_matches(p, h) for h in normalized) for p in patterns]


def detect_profile(columns: Iterable[str]) -> str:
    """The name of the built-in profile whose stable columns are all in ``columns``.

    When several fit, the one that names more of them wins; ``"canonical"`` when none does.
    """
    columns = list(columns)
    best, best_score = "canonical", 0
    for name in BUILTIN_PROFILES:
        profile = _builtin(name)
        if not profile.detect_all and not profile.detect_any:
            continue
        if not all(_present(profile.detect_all, columns)):
            continue
        found_any = sum(_present(profile.detect_any, columns))
        if profile.detect_any and not found_any:
            continue
        score = len(profile.detect_all) + found_any
        if score > best_score:
            best, best_score = name, score
    return best


# ----------------------------------------------------------------------------- applying


def load_member_map(path: str | Path) -> dict[str, str]:
    """Read a member map (CSV or XLSX with columns ``source`` and ``member``): legacy names
    or e-mails → ConnectWise member identifiers. Keys are matched ignoring case and spacing.
    """
    sheet = read_table(path)[0]
    headers = {normalize_header(h): h for h in sheet.frame.columns}
    missing = [name for name in ("source", "member") if name not in headers]
    if missing:
        raise UsageError(
            f"member map {Path(path).name} has no {' or '.join(missing)} column "
            f"(its columns: {', '.join(map(str, sheet.frame.columns))})",
            hint="Give it a header row `source,member`: the name or e-mail in the timesheet, "
            "then the ConnectWise member identifier.",
        )
    result: dict[str, tuple[str, int]] = {}
    for row, source, member in zip(
        sheet.frame.index,
        sheet.frame[headers["source"]],
        sheet.frame[headers["member"]],
        strict=True,
    ):
        key, member = _normalize_value(source), member.strip()
        if not key:
            continue
        if not member:
            raise UsageError(
                f"member map {Path(path).name} row {row}: no member for {source.strip()!r}",
                hint="Fill in the ConnectWise member identifier, or delete the row.",
            )
        if key in result and result[key][0] != member:
            first_member, first_row = result[key]
            raise UsageError(
                f"member map {Path(path).name} row {row}: {source.strip()!r} is mapped to "
                f"{first_member!r} in row {first_row} and to {member!r} here",
                hint="Keep one of the two rows.",
            )
        result[key] = (member, row)
    return {key: member for key, (member, _row) in result.items()}


def _missing_columns_error(
    where: str, missing: list[str], sheet: SheetData, profile: Profile
) -> InputError:
    headers = [str(h) for h in sheet.frame.columns]
    listed = ", ".join(headers[:12]) + (", …" if len(headers) > 12 else "")
    message = f"{where}: no column for {', '.join(missing)} (read with the {profile.name} profile)"
    separators = [sep for sep in "|:^~/" if len(headers) == 1 and sep in headers[0]]
    if separators:
        sep = max(separators, key=headers[0].count)
        return InputError(
            message,
            hint=f'The whole header is one column, "{headers[0][:60]}": the file seems to be '
            f"delimited by {sep!r}. Save it with commas, semicolons or tabs between the fields.",
        )
    guesses = []
    for name in missing:
        for option in name.split(" or "):
            close = suggest(option, headers, cutoff=75)
            if close:
                guesses.append(f'Is "{close}" meant to be {option}?')
    hint = f"The header has: {listed}. " + "".join(f"{g} " for g in guesses)
    hint += (
        "Name the columns as in docs/mapping.md (member, date, start, end, hours, …), "
        "or give --mapping toggl|clockify|harvest|FILE.yaml."
    )
    return InputError(message, hint=hint)


def apply_profile(
    sheet: SheetData,
    profile: Profile,
    *,
    member_map: Mapping[str, str] | None = None,
    where: str | None = None,
) -> MappedSheet:
    """Turn one sheet into canonical columns (text, not yet trimmed or checked).

    Raises :class:`InputError` when the sheet has no column for member or date, or none for
    hours or start: nothing in it could become a time entry.
    """
    where = where or f'sheet "{sheet.name}"'
    frame = sheet.frame
    # The first of two headers that differ only in case or spacing wins.
    normalized = {normalize_header(h): h for h in reversed(list(frame.columns))}
    used: set[str] = set()
    sources: dict[str, list[str]] = {}

    def take(target: str, headers: list[str]) -> None:
        sources[target] = headers
        used.update(headers)

    for pattern, target in profile.columns:
        if target in sources:
            continue
        hits = [h for h in frame.columns if _matches(pattern, normalize_header(h))]
        hits = [h for h in hits if h not in used]
        if hits:
            take(target, hits[:1])
    for target, (parts, _separator) in profile.join.items():
        if target not in sources:
            hits = [normalized[n] for n in map(normalize_header, parts) if n in normalized]
            if hits:
                take(target, hits)
    for target in _targets():
        header = normalized.get(normalize_header(target))
        if target not in sources and header is not None and header not in used:
            take(target, [header])

    out = {}
    for target in _targets():
        headers = sources.get(target)
        if not headers:
            out[target] = pd.Series("", index=frame.index, dtype=object)
        elif len(headers) == 1:
            out[target] = frame[headers[0]]
        else:
            separator = profile.join[target][1]
            parts = [frame[h].str.strip() for h in headers]
            joined = parts[0].str.cat(parts[1:], sep=separator)
            out[target] = joined.str.strip()
    mapped = pd.DataFrame(out, index=frame.index, copy=False)
    for target, value in profile.constants.items():
        if target in sources:
            mapped[target] = mapped[target].where(mapped[target].str.strip() != "", value)
        else:
            mapped[target] = value
    for target, value_map in profile.values.items():
        mapped[target] = value_map.apply(mapped[target])
    if member_map:
        lookup = {_normalize_value(k): v for k, v in member_map.items()}
        mapped["member"] = ValueMap(map=lookup).apply(mapped["member"])

    filled = set(sources) | set(profile.constants)
    missing = [c for c, col in load_reference().columns.items() if col.required and c not in filled]
    if not {"hours", "start"} & filled:
        missing.append("hours or start")
    if missing:
        raise _missing_columns_error(where, missing, sheet, profile)
    ignored = [
        str(h)
        for h in frame.columns
        if h not in used and not any(_matches(p, normalize_header(h)) for p in profile.ignore)
    ]
    notes = (f"{where}: columns not used: {', '.join(ignored)}",) if ignored else ()
    headers = {target: " + ".join(map(str, hs)) for target, hs in sources.items()}
    return MappedSheet(sheet.name, mapped, MappingProxyType(headers), notes)
