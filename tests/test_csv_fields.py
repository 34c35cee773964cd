"""The compiled CSV split (producers/_csvfields.c) is the strict csv reader's, line for line: for
every line it takes it gives the reader's row exactly, and it leaves every line the reader
refuses (or would read on into the next line) to the reader, so a dead letter's reason is always
the reader's. Lines are fuzzed from the characters that steer the reader and from raw bytes."""
from __future__ import annotations

import csv

import pytest
from cdrflow.producers import _csvfields
from cdrflow.producers.parsing import _CSV_DIALECT, RecordError, csv_pick, csv_row
from hypothesis import given, settings
from hypothesis import strategies as st
from support.fuzz import fuzz_examples


def reader_row(raw: bytes, delimiter: str = ",", quotechar: str = '"') -> list[str] | None:
    try:
        return next(csv.reader((raw.decode("utf-8", "replace"),), _CSV_DIALECT, delimiter=delimiter,
                               quotechar=quotechar))
    except (csv.Error, StopIteration):
        return None


PIECES = ["a", "7", ",", '"', " ", "\r", "\n", "\x00", "é", '""', ',"', '",', '","', "\ufffd"]
CSV_LINES = st.one_of(
    st.lists(st.sampled_from(PIECES), max_size=16).map(lambda parts: "".join(parts).encode()),
    # invalid UTF-8 next to the delimiters: each field is decoded alone, the reader decodes the line
    st.lists(st.one_of(st.sampled_from([b",", b'"', b'""', b"\xe2\x82", b"\xff", b"\xc3\xa9"]), st.binary(max_size=3)),
             max_size=10).map(b"".join))


# separators: the excel default, and others cdr_custom's separator_character / quote_character take
SEPARATORS = st.sampled_from([(",", '"'), (";", "'"), ("|", '"'), ("\t", "~"), (" ", "'")])


@pytest.mark.fuzz
@settings(max_examples=fuzz_examples(20_000), deadline=None, database=None)
@given(CSV_LINES, st.lists(st.integers(0, 20), max_size=5).map(tuple), SEPARATORS)
def test_the_split_is_the_readers_or_leaves_the_line_to_it(raw, columns, separators):
    delimiter, quote = separators
    if separators != (",", '"'):   # the same steering, with these characters
        raw = raw.replace(b",", b"\x01").replace(b'"', quote.encode()).replace(b"\x01", delimiter.encode())
    want = reader_row(raw, delimiter, quote)
    got = _csvfields.fields(raw, delimiter, quote)
    picked = (len(want), tuple(want[c] if c < len(want) else "" for c in columns)) if want is not None else None
    if got is not None:
        assert got == want
        assert _csvfields.pick(raw, columns, delimiter, quote) == picked
    else:
        assert _csvfields.pick(raw, columns, delimiter, quote) is None
    if want is None:
        with pytest.raises(RecordError):
            csv_row(raw, delimiter, quote)
    else:
        assert csv_row(raw, delimiter, quote) == want
        assert csv_pick(raw, columns, delimiter, quote) == picked


@pytest.mark.parametrize("raw, row", [
    (b"a,b,", ["a", "b", ""]),
    (b'1,"2024575311","",x"y,"a,b","say ""hi""",\xc3\xa9', ["1", "2024575311", "", 'x"y', "a,b", 'say "hi"', "é"]),
    (b",", ["", ""]),
    (b'""', [""]),
    (b"\xff,z", ["\ufffd", "z"]),
])
def test_well_formed_lines_are_split_without_the_reader(raw, row):
    assert _csvfields.fields(raw) == row == reader_row(raw)


@pytest.mark.parametrize("raw", [b'"ab"c', b'"open', b'a,"b', b"a\rb", b"a\x00b", b"", b"x" * 131_073])
def test_unusual_lines_are_left_to_the_reader(raw):
    assert _csvfields.fields(raw) is None
    assert _csvfields.pick(raw, (0,)) is None


def test_other_separators_are_split_without_the_reader():
    raw = b"1;'a;b';'it''s';x'y;"
    assert _csvfields.fields(raw, ";", "'") == ["1", "a;b", "it's", "x'y", ""] == reader_row(raw, ";", "'")
    assert _csvfields.pick(raw, (1, 2), ";", "'") == (5, ("a;b", "it's"))


@pytest.mark.parametrize("separators", [("é", '"'), (",", ","), (",", "\n")])
def test_separators_the_split_does_not_handle_are_left_to_the_reader(separators):
    assert _csvfields.fields(b"a,b", *separators) is None


def test_the_size_limit_is_the_readers():
    assert _csvfields.FIELD_SIZE_LIMIT == csv.field_size_limit()


def test_pick_refuses_negative_columns():
    with pytest.raises(ValueError):
        _csvfields.pick(b"a,b", (-1,))
