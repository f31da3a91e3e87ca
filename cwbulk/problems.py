"""One problem found in one spreadsheet row: the unit every check reports in.

Reading, validation and name resolution all collect these lazily, so a user sees every
problem of a file at once, each with its sheet, row, column, value and fix.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Literal

Severity = Literal["error", "warning"]


@dataclass(frozen=True)
class RowProblem:
    """A problem in one cell or row; ``row`` is the spreadsheet row number (header = 1)."""

    sheet: str
    row: int
    column: str | None
    value: str | None
    code: str
    message: str
    severity: Severity = "error"

    def to_dict(self) -> dict[str, object]:
        """The problem as a plain dict (for JSON and errors files)."""
        return asdict(self)
