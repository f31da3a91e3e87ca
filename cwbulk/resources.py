"""Where the files that ship with cwbulk live: the field reference, mappings and samples.

In a checkout (and an editable install) they are the repository's top-level ``schemas/``
and ``samples/``; an installed wheel carries the same folders as ``cwbulk._schemas`` and
``cwbulk._samples`` (see pyproject.toml).
"""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

_CHECKOUT = Path(__file__).resolve().parent.parent


def _shipped(folder: str, package: str, name: str) -> Path:
    in_checkout = _CHECKOUT / folder / name
    if in_checkout.exists():
        return in_checkout
    return Path(str(files(package).joinpath(name)))


def schema_file(name: str) -> Path:
    """A file under schemas/, e.g. ``schema_file("time_entry.yaml")``."""
    return _shipped("schemas", "cwbulk._schemas", name)


def sample_file(name: str) -> Path:
    """A file under samples/, e.g. ``sample_file("seed/reference.json")``."""
    return _shipped("samples", "cwbulk._samples", name)
