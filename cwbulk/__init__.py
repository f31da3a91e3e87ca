"""cwbulk: move ConnectWise PSA time entries between spreadsheets and ConnectWise, safely."""

from __future__ import annotations

__version__ = "0.1.0"

__all__ = ["__version__"]
