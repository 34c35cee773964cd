"""--format auto: each fixture's format is told from its first lines, with the reason; shapes no
telltale fits are refused rather than guessed."""
from __future__ import annotations

from pathlib import Path

import pytest
from cdrflow.cli.app import app
from cdrflow.producers.sniff import UnsureFormat, sniff_format, sniff_lines
from typer.testing import CliRunner

FIXTURES = Path(__file__).resolve().parent / "fixtures"


@pytest.mark.parametrize("path, fmt, why", [
    ("asterisk_export/asteriskcdrdb_mysql.csv", "asterisk_export", "a header row naming Asterisk CDR columns"),
    ("asterisk_export/freepbx_cdr_report.csv", "asterisk_export", "a header row naming Asterisk CDR columns"),
    ("asterisk_export/asteriskcdrdb_headerless.csv", "asterisk_export", "no header, 26 columns, calldate first"),
    ("samples/asterisk_cdr_csv/cdrcsv-report-generator_cdr.csv", "asterisk_csv", "18 columns"),
    ("samples/cisco_cucm/cucm15_lab_cdr.txt", "cisco_cucm", "the header row names cdrRecordType"),
    ("cisco_cucm/cucm11_headerless_cdr.txt", "cisco_cucm", "129 columns (CUCM 10.x-12.0)"),
    ("cisco_cucm/cucm15_concatenated_headerless_cdr.txt", "cisco_cucm", "133 columns (CUCM 12.5-15)"),
    ("audiocodes/sbc_cdr.log", "audiocodes_syslog", "AudioCodes report lines"),
    ("audiocodes/sbc_fw74_syslog.log", "audiocodes_syslog", "AudioCodes report lines"),
    ("samples/kamailio_acc/dsiprouter_acc.csv", "kamailio_acc", "Kamailio acc columns"),
])
def test_fixtures_are_told_with_the_reason(path, fmt, why):
    chosen, reason = sniff_format([FIXTURES / path])
    assert chosen == fmt and why in reason and Path(path).name in reason


@pytest.mark.parametrize("lines, reason", [
    ([], "the file is empty"),
    ([b"START,ABCGSX1,0x0001042B00000012"], "fits no format's telltale shape"),
    ([b"a;b;c"], "fits no format's telltale shape"),
])
def test_unsure_is_refused(lines, reason):
    with pytest.raises(UnsureFormat, match=reason):
        sniff_lines(lines)


def test_cli_says_what_it_chose_and_refuses_when_unsure(tmp_path):
    runner = CliRunner()
    result = runner.invoke(app, ["check", str(FIXTURES / "asterisk_export"), "--format", "auto",
                                 "--pattern", "freepbx*"])
    assert result.exit_code == 0 and "--format auto: asterisk_export (freepbx_cdr_report.csv" in result.output
    (tmp_path / "x.cdr").write_text("hello;world\n")
    result = runner.invoke(app, ["check", str(tmp_path), "--format", "auto"])
    assert result.exit_code == 1 and "--format auto cannot tell the format" in result.output
