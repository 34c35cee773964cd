"""The one registry of CDR formats: name → line parser, or file parser for formats with per-file
state (a header row, records grouped into calls; see parsing.py)."""
from __future__ import annotations

from cdrflow.infra.config import Settings

from .acme_sbc import parse_acme_sbc
from .asterisk_csv import parse_asterisk_csv
from .asterisk_custom import parse_asterisk_custom
from .asterisk_export import parse_asterisk_export
from .audiocodes_syslog import parse_audiocodes_syslog
from .cisco_cucm import parse_cisco_cucm
from .freeswitch import parse_freeswitch_csv, parse_freeswitch_json
from .kamailio_acc import parse_kamailio_acc
from .layout_format import parse_layout
from .parsing import FileParser, LineParser, RecordParser
from .ribbon_sbc import parse_ribbon_sbc
from .wintariff_dbf import parse_wintariff_dbf

FORMATS: dict[str, LineParser | FileParser | RecordParser] = {
    "acme_sbc": parse_acme_sbc,
    "asterisk_csv": parse_asterisk_csv,
    "asterisk_custom": parse_asterisk_custom,
    "asterisk_export": parse_asterisk_export,
    "audiocodes_syslog": parse_audiocodes_syslog,
    "cisco_cucm": parse_cisco_cucm,
    "freeswitch_csv": parse_freeswitch_csv,
    "freeswitch_json": parse_freeswitch_json,
    "kamailio_acc": parse_kamailio_acc,
    "layout": parse_layout,
    "ribbon_sbc": parse_ribbon_sbc,
    "wintariff_dbf": parse_wintariff_dbf,
}


def parser_for(name: str, settings: Settings | None = None) -> LineParser | FileParser | RecordParser:
    """The format's parser; with settings, a format that reads its own configuration file (layout)
    loads and checks it now (a ValueError says what is wrong) instead of at every file."""
    try:
        parser = FORMATS[name]
    except KeyError:
        raise ValueError(f"unknown format {name!r}; known: {', '.join(sorted(FORMATS))}") from None
    configured = getattr(parser, "configured", None)
    return configured(settings) if configured is not None and settings is not None else parser


def describe_formats() -> list[tuple[str, str, tuple[str, ...]]]:
    """(name, one-line summary, CDR fields it fills) per format, for `cdrflow formats`."""
    return [(name, (type(parser).__doc__ or "").strip().splitlines()[0], parser.fields)
            for name, parser in FORMATS.items()]
