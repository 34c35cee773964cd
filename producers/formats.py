"""The one registry of CDR formats: name → line parser."""
from __future__ import annotations

from .asterisk_csv import parse_asterisk_csv
from .parsing import LineParser

FORMATS: dict[str, LineParser] = {
    "asterisk_csv": parse_asterisk_csv,
}


def parser_for(name: str) -> LineParser:
    try:
        return FORMATS[name]
    except KeyError:
        raise ValueError(f"unknown format {name!r}; known: {', '.join(sorted(FORMATS))}") from None
