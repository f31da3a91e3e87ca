"""The field reference: ConnectWise's TimeEntry fields and the canonical sheet columns.

Everything here comes from ``schemas/time_entry.yaml`` (loaded once); the pandera schema
that checks a canonical text frame is built from it, so no field or column list is written
a second time in code.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from types import MappingProxyType

import pandas as pd
import pandera.pandas as pa
import yaml
from rapidfuzz import process

from cwbulk.problems import RowProblem
from cwbulk.resources import schema_file

__all__ = [
    "KINDS",
    "Column",
    "Field",
    "FieldReference",
    "canonical_columns",
    "canonical_schema",
    "check_canonical_frame",
    "load_reference",
    "suggest",
]

KINDS = ("text", "integer", "date", "time", "hours", "enum", "datetime")

# Reason codes of the checks the pandera schema runs.
MISSING_VALUE = "missing_value"
INVALID_CHOICE = "invalid_choice"
BAD_INTEGER = "bad_integer"


@dataclass(frozen=True)
class Field:
    """One TimeEntry field of the ConnectWise API."""

    name: str
    group: str
    type: str
    format: str | None
    ref: str | None
    nullable: bool
    required: bool
    enum: tuple[str, ...]
    writes: bool
    description: str


@dataclass(frozen=True)
class Column:
    """One column of the canonical sheet and the TimeEntry field it feeds."""

    name: str
    field: str
    kind: str
    required: bool
    description: str
    example: str
    enum: tuple[str, ...]


@dataclass(frozen=True)
class FieldReference:
    """The whole of ``time_entry.yaml``: field groups, fields and canonical columns."""

    groups: Mapping[str, str]
    fields: Mapping[str, Field]
    columns: Mapping[str, Column]

    def written_fields(self) -> tuple[str, ...]:
        """The TimeEntry fields cwbulk sends on create or update."""
        return tuple(name for name, field in self.fields.items() if field.writes)


def _fail(path: Path, where: str, problem: str) -> ValueError:
    return ValueError(f"{path}: {where}: {problem}")


def _parse_reference(path: Path) -> FieldReference:
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    groups: dict[str, str] = {}
    fields: dict[str, Field] = {}
    for group, body in data["fields"].items():
        groups[group] = body["description"]
        for name, spec in body["fields"].items():
            if name in fields:
                raise _fail(path, f"fields.{group}.{name}", "listed twice")
            fields[name] = Field(
                name=name,
                group=group,
                type=spec["type"],
                format=spec.get("format"),
                ref=spec.get("ref"),
                nullable=bool(spec.get("nullable", False)),
                required=bool(spec["required"]),
                enum=tuple(spec.get("enum", ())),
                writes=bool(spec["writes"]),
                description=spec["description"],
            )
    columns: dict[str, Column] = {}
    for name, spec in data["columns"].items():
        target = spec["field"]
        if target.split(".", 1)[0] not in fields:
            raise _fail(path, f"columns.{name}", f"field {target!r} is not a TimeEntry field")
        if spec["kind"] not in KINDS:
            raise _fail(path, f"columns.{name}", f"kind {spec['kind']!r} is not one of {KINDS}")
        enum = fields[target].enum if spec["kind"] == "enum" else ()
        if spec["kind"] == "enum" and not enum:
            raise _fail(path, f"columns.{name}", f"field {target!r} has no enum values")
        columns[name] = Column(
            name=name,
            field=target,
            kind=spec["kind"],
            required=bool(spec["required"]),
            description=spec["description"],
            example=str(spec.get("example", "")),
            enum=enum,
        )
    return FieldReference(
        groups=MappingProxyType(groups),
        fields=MappingProxyType(fields),
        columns=MappingProxyType(columns),
    )


@cache
def load_reference() -> FieldReference:
    """The field reference from ``schemas/time_entry.yaml``, read once per process."""
    return _parse_reference(schema_file("time_entry.yaml"))


def canonical_columns() -> tuple[str, ...]:
    """The canonical sheet's column names, in sheet order."""
    return tuple(load_reference().columns)


def suggest(value: str, choices: tuple[str, ...] | list[str], *, cutoff: float = 70) -> str | None:
    """The choice closest to ``value`` (for "did you mean …?"), or None if none is close."""
    if not value or not choices:
        return None
    match = process.extractOne(value.lower(), [c.lower() for c in choices], score_cutoff=cutoff)
    return choices[match[2]] if match else None


@cache
def canonical_schema() -> pa.DataFrameSchema:
    """The pandera schema of a canonical text frame (every cell a string, ``""`` when blank).

    It checks what can be told from a single cell without parsing: required cells filled,
    enum cells among their values, integer cells all digits. Each check's ``error`` is the
    stable reason code that :func:`check_canonical_frame` reports. Parsing dates, times and
    hours, and the rules across cells, are validate.py's.
    """
    columns = {}
    for column in load_reference().columns.values():
        checks = []
        if column.required:
            checks.append(pa.Check.str_length(min_value=1, error=MISSING_VALUE))
        if column.kind == "enum":
            checks.append(pa.Check.isin([*column.enum, ""], error=INVALID_CHOICE))
        if column.kind == "integer":
            checks.append(pa.Check.str_matches(r"^[0-9]*$", error=BAD_INTEGER))
        columns[column.name] = pa.Column(checks=checks, required=False, nullable=False)
    return pa.DataFrameSchema(columns, name="canonical sheet")


def _lower_first(text: str) -> str:
    return text[:1].lower() + text[1:].rstrip(".")


def _message(column: Column, code: str, value: str) -> str:
    if code == MISSING_VALUE:
        return f"{column.name} is blank — fill it in: {_lower_first(column.description)}"
    if code == INVALID_CHOICE:
        close = suggest(value, column.enum)
        fix = f"did you mean {close!r}? " if close else ""
        return f'"{value}" is not a valid {column.name} — {fix}use one of {", ".join(column.enum)}'
    if code == BAD_INTEGER:
        return (
            f'"{value}" is not a whole number — {column.name}: {_lower_first(column.description)}'
        )
    return f'"{value}" failed the {code} check of {column.name}'


def check_canonical_frame(
    frame: pd.DataFrame,
    *,
    sheets: pd.Series,
    rows: pd.Series,
    headers: Mapping[str, str] | None = None,
) -> list[RowProblem]:
    """Run :func:`canonical_schema` lazily over ``frame`` and return every failure.

    ``sheets`` and ``rows`` give each frame index its sheet name and spreadsheet row number;
    ``headers`` names the source column of each canonical column (for the user's messages).
    """
    headers = headers or {}
    try:
        canonical_schema().validate(frame, lazy=True)
    except pa.errors.SchemaErrors as exc:
        cases = exc.failure_cases
    else:
        return []
    reference = load_reference().columns
    problems = []
    cases = cases[cases["index"].notna() & cases["column"].isin(list(reference))]
    for name, code, value, index in zip(
        cases["column"], cases["check"], cases["failure_case"], cases["index"], strict=True
    ):
        column = reference[name]
        text = "" if value is None or (isinstance(value, float) and pd.isna(value)) else str(value)
        problems.append(
            RowProblem(
                sheet=str(sheets.at[index]),
                row=int(rows.at[index]),
                column=headers.get(name, name),
                value=text,
                code=str(code),
                message=_message(column, str(code), text),
            )
        )
    return problems
