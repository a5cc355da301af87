"""Parsing historian export files into bronze rows."""

from __future__ import annotations

import datetime as dt

import pytest

from etl.historian import parse_file_name, parse_historian_csv
from nexus.errors import UnparseableFile

UTC = dt.timezone.utc
NOW = dt.datetime(2026, 1, 2, tzinfo=UTC)


def parse(text: str | bytes):
    content = text.encode() if isinstance(text, str) else text
    table = parse_historian_csv(content, plant_id="cstr", period_date=dt.date(2026, 1, 1), source_file="raw/x.csv",
                                sha256="abc", ingested_at=NOW, run_id="r")
    return table.to_pylist()


def test_good_lines_are_typed_and_converted_to_utc():
    rows = parse("tag,timestamp,value,quality\n"
                 "CSTR.TI102,2026-01-01T00:01:00Z,51.32,192\n"
                 "CSTR.TI102,2026-01-01T01:02:00+01:00,51.4,192\n"
                 "CSTR.AI102,2026-01-01T00:03:00.500Z,,0\n")
    assert [(r["tag"], r["timestamp"], r["value"], r["quality"], r["_line_number"], r["_parse_error"]) for r in rows] == [
        ("CSTR.TI102", dt.datetime(2026, 1, 1, 0, 1, tzinfo=UTC), 51.32, 192, 2, None),
        ("CSTR.TI102", dt.datetime(2026, 1, 1, 0, 2, tzinfo=UTC), 51.4, 192, 3, None),
        ("CSTR.AI102", dt.datetime(2026, 1, 1, 0, 3, 0, 500000, tzinfo=UTC), None, 0, 4, None),
    ]
    assert rows[0]["_raw_line"] == "CSTR.TI102,2026-01-01T00:01:00Z,51.32,192"
    assert {r["_source_file"] for r in rows} == {"raw/x.csv"}


@pytest.mark.parametrize(("line", "error"), [
    ("CSTR.TI102,2026-01-01T00:03:00,51.4,192", "timestamp '2026-01-01T00:03:00' has no UTC offset"),
    ("CSTR.TI102,yesterday,51.4,192", "timestamp 'yesterday' is not an ISO 8601 time"),
    ("CSTR.TI102,2026-02-30T00:00:00Z,1,192", "timestamp '2026-02-30T00:00:00Z' is not a valid date and time"),
    ("CSTR.TI102,2026-01-01T00:04:00Z,abc,192", "value 'abc' is not a finite number"),
    ("CSTR.TI102,2026-01-01T00:04:00Z,inf,192", "value 'inf' is not a finite number"),
    ("CSTR.TI102,2026-01-01T00:04:00Z,1.0", "malformed line: expected 4 fields"),
    ("CSTR.TI102,2026-01-01T00:04:00Z,1.0,192,extra", "malformed line: expected 4 fields"),
    (",2026-01-01T00:04:00Z,1.0,192", "tag is empty"),
    ("CSTR.TI102,2026-01-01T00:04:00Z,1.0,good", "quality 'good' is not an OPC DA quality code"),
    ("CSTR.TI102,2026-01-01T00:04:00Z,1.0,300", "quality '300' is not an OPC DA quality code"),
])
def test_bad_lines_keep_their_text_and_say_why(line, error):
    rows = parse(f"tag,timestamp,value,quality\nCSTR.TI102,2026-01-01T00:00:00Z,1,192\n{line}\n")
    assert rows[0]["_parse_error"] is None
    assert rows[1]["_parse_error"].startswith(error)
    assert rows[1]["_raw_line"] == line
    assert rows[1]["timestamp"] is None and rows[1]["value"] is None


def test_blank_line_inside_is_a_row_trailing_blank_lines_are_not():
    rows = parse("tag,timestamp,value,quality\nA,2026-01-01T00:00:00Z,1,192\n\nA,2026-01-01T00:01:00Z,1,192\n\n\n")
    assert len(rows) == 3
    assert rows[1]["_parse_error"] == "malformed line: empty line inside the file"


def test_empty_and_header_only_files_have_no_rows():
    assert parse(b"") == []
    assert parse("tag,timestamp,value,quality\n") == []


def test_unreadable_files_raise():
    with pytest.raises(UnparseableFile, match="header must name the columns .* missing tag"):
        parse("time;tag;value\n2026-01-01;A;1\n")
    with pytest.raises(UnparseableFile, match="repeats tag"):
        parse("tag,timestamp,value,quality,tag\n")
    with pytest.raises(UnparseableFile, match="corrupt gzip"):
        parse(b"\x1f\x8b\x08\x00garbage")
    with pytest.raises(UnparseableFile, match="not UTF-8"):
        parse(b"\xff\xfe\x00garbage\x81")
    with pytest.raises(UnparseableFile, match="binary"):
        parse(b"PK\x03\x04\x00\x00\n\x00")
    # NUL bytes on a data line cost that line only
    assert [r["_parse_error"] for r in parse(b"tag,timestamp,value,quality\n\x00\x00")] == [
        "line contains NUL bytes (binary content)"]


def test_file_names():
    assert parse_file_name("cstr__2026-01-05__01.csv") == ("cstr", dt.date(2026, 1, 5), 1)
    assert parse_file_name("cstr__2026-01-05__02.csv.gz") == ("cstr", dt.date(2026, 1, 5), 2)
    assert parse_file_name("cstr__2026-02-30__01.csv") is None
    assert parse_file_name("export.csv") is None


GOOD = "CSTR.TI102,2026-01-01T00:00:00Z,1,192"


def test_a_field_over_128_kib_is_one_quarantined_line_not_a_crash():
    huge = "CSTR.TI102,2026-01-01T00:01:00Z," + "9" * (130 * 1024) + ",192"
    rows = parse(f"tag,timestamp,value,quality\n{GOOD}\n{huge}\n{GOOD.replace('00:00:00', '00:02:00')}\n")
    assert [r["_line_number"] for r in rows] == [2, 3, 4]
    assert rows[1]["_parse_error"].startswith("line of 133,")
    assert "exceeds the 65,536-byte limit" in rows[1]["_parse_error"]
    assert rows[0]["_parse_error"] is None and rows[2]["_parse_error"] is None


def test_unicode_line_separators_do_not_split_and_quoted_newlines_join():
    # U+2028 inside a field is data, not a line break; a quoted field spanning two lines is one record
    content = ("tag,timestamp,value,quality\n"
               f"{GOOD}\n"
               "CSTR.TI102,2026-01-01T00:01:00Z,1\u20282,192\n"
               '"CSTR.TI\n102",2026-01-01T00:02:00Z,3,192\n'
               "CSTR.TI102,2026-01-01T00:03:00Z,4,192\n")
    rows = parse(content)
    assert len(rows) == 4
    assert [r["_line_number"] for r in rows] == [2, 3, 4, 6]  # the quoted record takes lines 4-5
    assert rows[1]["_parse_error"] == "value '1\u20282' is not a finite number"
    assert rows[2]["_raw_line"] == '"CSTR.TI\n102",2026-01-01T00:02:00Z,3,192'
    assert rows[3]["value"] == 4.0 and rows[3]["_parse_error"] is None


def test_an_unterminated_quote_costs_one_line():
    rows = parse(f'tag,timestamp,value,quality\n"CSTR.TI102,2026-01-01T00:01:00Z,1,192\n{GOOD}\n')
    assert rows[0]["_parse_error"].startswith("unterminated quoted field")
    assert rows[1]["_parse_error"] is None and rows[1]["_line_number"] == 3


def test_an_undecodable_byte_quarantines_its_line_only():
    content = (b"tag,timestamp,value,quality\n" + GOOD.encode() + b"\n"
               b"CSTR.TI102,2026-01-01T00:01:00Z,1\xff,192\n" + GOOD.replace("00:00:00", "00:02:00").encode() + b"\n")
    rows = parse(content)
    assert [r["_parse_error"] for r in rows][::2] == [None, None]
    assert rows[1]["_parse_error"] == "line is not UTF-8 text (byte 0xff at column 34)"
    assert rows[1]["_raw_line"] == "CSTR.TI102,2026-01-01T00:01:00Z,1\\xff,192"


def test_columns_are_mapped_by_header_name_and_gzip_is_read():
    import gzip

    content = ("quality,value,comment,timestamp,tag\n"
               "192,51.5,from shift B,2026-01-01T00:01:00Z,CSTR.TI102\n")
    for data in (content.encode(), gzip.compress(content.encode())):
        rows = parse(data)
        assert [(r["tag"], r["value"], r["quality"], r["_parse_error"]) for r in rows] == [
            ("CSTR.TI102", 51.5, 192, None)]
        assert rows[0]["_raw_line"] == "192,51.5,from shift B,2026-01-01T00:01:00Z,CSTR.TI102"


def test_cr_only_and_crlf_line_ends_are_lines():
    rows = parse(f"tag,timestamp,value,quality\r{GOOD}\r{GOOD.replace('00:00:00', '00:01:00')}\r\n")
    assert [(r["_line_number"], r["_parse_error"]) for r in rows] == [(2, None), (3, None)]


def test_a_stray_quote_does_not_swallow_the_readings_after_it():
    lines = [GOOD.replace("00:00:00", f"00:{m:02d}:00") for m in range(1, 6)]
    lines[0] = lines[0].replace(",1,", ',"1,')  # opens a quote ...
    lines[4] = lines[4].replace(",1,", ',1",')  # ... that only this line closes
    rows = parse("tag,timestamp,value,quality\n" + "\n".join(lines) + "\n")
    assert rows[0]["_parse_error"].startswith("unterminated quoted field")
    assert [r["_parse_error"] for r in rows[1:4]] == [None, None, None]  # the good readings stay rows


def test_the_arrow_split_gives_what_the_line_reader_gives(monkeypatch):
    """Plain files (no quote, CR, NUL or bad byte) are split in Arrow; the outcome is the line reader's."""
    import etl.historian as historian

    text = ("value,tag, timestamp ,quality,extra\n"
            "51.3,CSTR.TI102,2026-01-01T00:01:00Z,192,x\n"
            "\n"
            "7,CSTR.TI102,2026-01-01T00:02:00+01:00,192,x\n"
            "1,2,3\n"
            ", CSTR.FI101 ,2026-01-01T00:03:00Z,0,\n"
            "nan,CSTR.FI101,2026-01-01T00:04:00,192,x\n"
            "1e3,,2026-01-01T00:05:00Z,300,x\n\n\n")
    assert historian._split_plain(text.encode()) is not None
    fast = parse(text)
    monkeypatch.setattr(historian, "_split_plain", lambda content: None)
    slow = parse(text)
    assert len(fast) == len(slow) == 7
    assert fast == slow
    assert [r["_parse_error"] is None for r in fast] == [True, False, True, False, True, False, False]
