"""`cdrflow check`: the fixtures' figures, counted by hand in their own tests' comments, come out
of the same file-source path `ingest` uses, and --json prints exactly the issue's keys."""
from __future__ import annotations

import json
from pathlib import Path
from zoneinfo import ZoneInfo

from cdrflow.cli.app import app
from cdrflow.producers.check import CheckReport, check_files, reason_kind
from cdrflow.producers.formats import parser_for
from typer.testing import CliRunner

FIXTURES = Path(__file__).resolve().parent / "fixtures"
UTC = ZoneInfo("UTC")
# 2023-03-16 00:00:00 UTC: with a 1-day retention, calls before 15 March 2023 are outside
NOW_MS = 1_678_924_800_000


def check(path: Path, fmt: str, retention_days: int = 1):
    return check_files([path], parser_for(fmt), retention_days, UTC, now_ms=NOW_MS)


def test_asterisk_export_figures_and_dead_letters_with_line_numbers(tmp_path):
    # the MySQL export (6 CDRs, 2 answered, 245 s; see test_asterisk_export) plus two bad rows:
    # line 8 has 3 columns, line 9 a calldate that is no date
    path = tmp_path / "cdr.csv"
    good = (FIXTURES / "asterisk_export" / "asteriskcdrdb_mysql.csv").read_bytes()
    fields = good.splitlines()[1].split(b",")
    fields[1] = b'"yesterday"'
    path.write_bytes(good + b"1,2,3\n" + b",".join(fields) + b"\n")
    report = check(path, "asterisk_export")
    # line 9 is read leniently too, but refused: only the 2 rows kept count as repairs
    assert (report.lines, report.records, report.dead_letters, report.repairs) == (9, 6, 2, 2)
    assert report.dead_letter_reasons == {"expected 28 columns as in the header, got 3": 1,
                                          "bad date '…', expected YYYY-MM-DD HH:MM:SS or D/M/YYYY H:MM:SS": 1}
    assert report.dead_letter_lines == {"expected 28 columns as in the header, got 3": ["cdr.csv:8"],
                                        "bad date '…', expected YYYY-MM-DD HH:MM:SS or D/M/YYYY H:MM:SS":
                                            ["cdr.csv:9"]}
    assert report.skipped == {"header row": 1}
    assert (report.answered, report.billable_s) == (2, 245)
    assert (report.first_start, report.last_start) == ("2023-03-14T09:00:00Z", "2023-03-14T09:40:00Z")
    assert report.outside_retention == 6
    # egress trunks: carrierA 101, 106 (101 answered); carrierB 103, 104, 105 (104 answered)
    assert report.egress_trunks == {"carrierA": {"seizures": 2, "answered": 1},
                                    "carrierB": {"seizures": 3, "answered": 1}}
    # 5 of 6 rows have a dstchannel; 2 of 6 are answered
    assert report.fields_filled["egress_trunk"] == round(5 / 6, 4)
    assert report.fields_filled["answer_ms"] == round(2 / 6, 4)
    assert report.fields_filled["tenant"] == 0


def test_audiocodes_skipped_lines_by_kind_and_interim_records():
    # sbc_fw74_syslog.log (see test_audiocodes_syslog): 6 CDRs, 2 of them interim CALL_CONNECT;
    # the 4 CALL_END legs: 2 answered (62 s each); skipped: 2 media reports + MEDIA title + 1
    # MEDIA_UPDATE … = 4 media, 3 CALL_START, 1 title. Egress (LCL) legs: IPPBX answered, ITSP not.
    report = check(FIXTURES / "audiocodes" / "sbc_fw74_syslog.log", "audiocodes_syslog", retention_days=10_000)
    assert (report.records, report.dead_letters, report.answered, report.billable_s) == (6, 0, 2, 124)
    assert report.skipped == {"media report": 4, "CALL_START report": 3, "title line": 1}
    assert report.egress_trunks == {"IPPBX": {"seizures": 1, "answered": 1}, "ITSP": {"seizures": 1, "answered": 0}}
    assert report.outside_retention == 0 and report.first_start == "2023-03-14T09:12:03.118Z"


def test_real_master_csv_answered_by_disposition():
    # the real Master.csv sample: 218 rows, 133 ANSWERED (see test_asterisk_csv), 38,839 s
    report = check(FIXTURES / "samples" / "asterisk_cdr_csv" / "cdrcsv-report-generator_cdr.csv", "asterisk_csv")
    assert (report.records, report.dead_letters, report.answered, report.billable_s) == (218, 0, 133, 38_839)
    assert report.skipped == {}


def test_reason_kind_elides_quoted_values():
    assert reason_kind("bad timestamp 'x', expected YYYY") == "bad timestamp '…', expected YYYY"


def test_cli_json_prints_exactly_the_keys(tmp_path):
    result = CliRunner().invoke(app, ["check", str(FIXTURES / "asterisk_export" / "freepbx_cdr_report.csv"),
                                      "--format", "asterisk_export", "--json"])
    assert result.exit_code == 0, result.output
    figures = json.loads(result.output)
    assert tuple(figures) == CheckReport.JSON_KEYS == (
        "records", "dead_letters", "skipped", "answered", "billable_s", "first_start", "last_start",
        "outside_retention", "fields_filled", "egress_trunks", "dead_letter_reasons")
    # test_asterisk_export: 4 CDRs, 2 answered, 370 s
    assert (figures["records"], figures["answered"], figures["billable_s"], figures["dead_letters"]) == (4, 2, 370, 0)
    assert figures["egress_trunks"]["TG-VZ-01"] == {"seizures": 2, "answered": 1}


def test_cli_text_and_unknown_format():
    runner = CliRunner()
    result = runner.invoke(app, ["check", str(FIXTURES / "asterisk_export" / "asteriskcdrdb_headerless.csv"),
                                 "--format", "asterisk_export"])
    assert result.exit_code == 0 and "4 CDRs, 0 dead letters, 1 rows read leniently" in result.output
    assert runner.invoke(app, ["check", ".", "--format", "nope"]).exit_code == 1
