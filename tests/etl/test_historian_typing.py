"""The typing of historian lines in DuckDB/Arrow gives exactly the table the pandas typing gave.

``reference_parse`` below is the pre-change implementation of :func:`etl.historian.parse_historian_csv`
(its Arrow split and pandas/numpy typing, copied here unchanged and used only as the reference).
Every input is parsed by both and the tables compared column by column, floats bit for bit:
simulated exports of the four plant types (plain and gzip, every delivery quirk on), every hostile
file of ``test_historian.py`` and ``test_sensor_hostile.py``, and a corpus of odd field strings, each
through the Arrow split and through the line reader.

Where the reference raised on a line (the whole file failed) or gave a file-dependent answer, the
new typing differs on purpose; those cases are the ``test_*_where_the_reference_*`` tests at the end.
"""

from __future__ import annotations

import datetime as dt
import gzip
import itertools
import struct

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pytest

import etl.historian as historian
from etl.historian import (
    HEADER,
    MAX_LINE_BYTES,
    column_positions,
    decompress,
    iter_records,
    parse_historian_csv,
)
from nexus.errors import UnparseableFile
from warehouse.tables import BRONZE_TAG_READINGS

UTC = dt.timezone.utc
NOW = dt.datetime(2026, 1, 2, tzinfo=UTC)
KWARGS = dict(plant_id="cstr", period_date=dt.date(2026, 1, 1), source_file="raw/x.csv", sha256="abc",
              ingested_at=NOW, run_id="r")


# --------------------------------------------------------------------------------------------------
# The pre-change reference (etl/historian.py before the typing moved to DuckDB), kept only here.
# --------------------------------------------------------------------------------------------------
_REF_ISO_WITH_ZONE = r"^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})$"
_REF_ISO_NO_ZONE = r"^\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?)?$"


def _reference_split_plain(content: bytes):
    if content.startswith(b"\xef\xbb\xbf"):
        content = content[3:]
    if not content or b'"' in content or b"\r" in content or b"\x00" in content:
        return None
    try:
        text = content.decode("utf-8")
    except UnicodeDecodeError:
        return None
    lines = text.split("\n")
    while lines and not lines[-1].strip():
        lines.pop()
    if not lines or not lines[0].strip() or len(lines[0].encode()) > MAX_LINE_BYTES:
        return None
    body = pa.array(lines[1:], pa.string())
    if len(body) and pc.max(pc.binary_length(body)).as_py() > MAX_LINE_BYTES:
        return None
    n = len(body)
    return (lines[0].split(","), lines[1:], np.arange(2, n + 2, dtype=np.int64), pc.split_pattern(body, ","),
            np.full(n, None, dtype=object))


def reference_parse(content: bytes, *, plant_id: str, period_date: dt.date, source_file: str,
                    sha256: str, ingested_at: dt.datetime, run_id: str, arrow_split: bool = True) -> pa.Table:
    """The pre-change ``parse_historian_csv`` (``arrow_split=False`` forces its line reader)."""
    content = decompress(content, source_file)
    fast = _reference_split_plain(content) if arrow_split else None
    if fast is not None:
        header, raw, line_numbers, fields, errors = fast
        pos = column_positions(header, None, source_file)
        width, n = len(header), len(raw)
        tags, ts_text, val_text, q_text = (np.full(n, None, dtype=object) for _ in range(4))
        good = np.array([e is None for e in errors], dtype=bool)
        if width:
            short = pc.list_value_length(fields).to_numpy(zero_copy_only=False) != width
            for i in np.flatnonzero(short & good):
                errors[i] = (f"malformed line: expected {width} fields ({','.join(header)}), "
                             f"found {len(fields[i])}" if raw[i].strip() else "malformed line: empty line inside the file")
            good &= ~short
            if good.any():
                flat = pc.list_flatten(fields.filter(pa.array(good))).to_numpy(zero_copy_only=False).reshape(-1, width)
                idx = np.flatnonzero(good)
                for out, col in ((tags, "tag"), (ts_text, "timestamp"), (val_text, "value"), (q_text, "quality")):
                    out[idx] = np.char.strip(flat[:, pos[col]].astype(str)).astype(object)
    else:
        records = iter_records(content, source_file)
        head = next(records, None)
        if head is not None and head[3] == "line contains NUL bytes (binary content)":
            raise UnparseableFile(f"{source_file}: binary content (NUL bytes), not a CSV export")
        if head is not None and head[3] and head[3].startswith("line is not UTF-8"):
            raise UnparseableFile(f"{source_file}: not UTF-8 text ({head[3]})")
        pos = column_positions(head[2], head[3], source_file) if head is not None else {}
        width = len(head[2]) if head is not None else len(HEADER)
        body = list(records)
        n = len(body)
        raw = [text for _, text, _, _ in body]
        line_numbers = np.fromiter((number for number, _, _, _ in body), dtype=np.int64, count=n)
        tags = np.full(n, None, dtype=object)
        ts_text = np.full(n, None, dtype=object)
        val_text = np.full(n, None, dtype=object)
        q_text = np.full(n, None, dtype=object)
        errors = np.full(n, None, dtype=object)
        it, its, iv, iq = pos.get("tag"), pos.get("timestamp"), pos.get("value"), pos.get("quality")
        for i, (_, text, fields, error) in enumerate(body):
            if error is not None:
                errors[i] = error
            elif len(fields) != width:
                errors[i] = (f"malformed line: expected {width} fields ({','.join(head[2])}), found {len(fields)}"
                             if text.strip() else "malformed line: empty line inside the file")
            else:
                tags[i], ts_text[i], val_text[i], q_text[i] = (fields[it].strip(), fields[its].strip(),
                                                                 fields[iv].strip(), fields[iq].strip())

    frame = pd.DataFrame({"tag": tags, "ts": ts_text, "value": val_text, "quality": q_text, "error": errors})
    ok = frame["error"].isna()

    def flag(mask: pd.Series, message: pd.Series | str) -> None:
        mask = mask & ok & frame["error"].isna()
        frame.loc[mask, "error"] = message if isinstance(message, str) else message[mask]

    flag(frame["tag"].fillna("").eq(""), "tag is empty")

    ts_str = frame["ts"].fillna("")
    has_zone = ts_str.str.match(_REF_ISO_WITH_ZONE)
    no_zone = ts_str.str.match(_REF_ISO_NO_ZONE)
    flag(no_zone, "timestamp '" + ts_str + "' has no UTC offset (expected e.g. 2026-01-01T00:00:00Z)")
    flag(~has_zone & ~no_zone, "timestamp '" + ts_str + "' is not an ISO 8601 time")
    parsed_ts = pd.Series(pd.NaT, index=frame.index, dtype="datetime64[us, UTC]")
    if has_zone.any():
        parsed_ts[has_zone] = pd.to_datetime(ts_str[has_zone], utc=True, format="ISO8601", errors="coerce")
    flag(has_zone & parsed_ts.isna(), "timestamp '" + ts_str + "' is not a valid date and time")

    val_str = frame["value"].fillna("")
    values = pd.to_numeric(val_str.where(val_str != ""), errors="coerce")
    flag((val_str != "") & ~np.isfinite(values.fillna(np.inf).where(val_str != "", 0.0)),
         "value '" + val_str + "' is not a finite number")

    q_str = frame["quality"].fillna("")
    quality = pd.to_numeric(q_str.where(q_str.str.fullmatch(r"\d{1,3}")), errors="coerce")
    flag(quality.isna() | (quality > 255), "quality '" + q_str + "' is not an OPC DA quality code (integer 0-255)")

    good = frame["error"].isna()
    return pa.table(
        {
            "plant_id": pa.array([plant_id] * n, pa.string()),
            "period_date": pa.array([period_date] * n, pa.date32()),
            "tag": pa.array(frame["tag"].where(frame["tag"].fillna("") != "", None), pa.string()),
            "timestamp": pa.array(parsed_ts.where(good), BRONZE_TAG_READINGS.column("timestamp").type),
            "value": pa.array(values.where(good & (val_str != "")), pa.float64()),
            "quality": pa.array(quality.where(good & quality.le(255)), pa.int32()),
            "_raw_line": pa.array(raw, pa.string()),
            "_parse_error": pa.array(frame["error"], pa.string()),
            "_source_file": pa.array([source_file] * n, pa.string()),
            "_source_sha256": pa.array([sha256] * n, pa.string()),
            "_line_number": pa.array(line_numbers),
            "_ingested_at": pa.array([ingested_at] * n, BRONZE_TAG_READINGS.column("_ingested_at").type),
            "_run_id": pa.array([run_id] * n, pa.string()),
        },
        schema=BRONZE_TAG_READINGS.schema,
    )


# --------------------------------------------------------------------------------------------------
# Comparison
# --------------------------------------------------------------------------------------------------
def _bits(value: float | None) -> int | None:
    return None if value is None else struct.unpack("<q", struct.pack("<d", value))[0]


def _float_bits(column: pa.ChunkedArray) -> list[int | None]:
    return [_bits(v) for v in column.to_pylist()]


def assert_same_table(new: pa.Table, ref: pa.Table) -> None:
    """Equal schemas, and every column equal; floats bit for bit (so -0.0 is not 0.0)."""
    assert new.schema == ref.schema
    assert new.num_rows == ref.num_rows
    for name in ref.column_names:
        a, b = new[name], ref[name]
        if name == "value":
            same = _float_bits(a) == _float_bits(b)
        else:
            same = a.combine_chunks().equals(b.combine_chunks())
        if not same:
            pairs = zip(a.to_pylist(), b.to_pylist())
            rows = [(i, x, y) for i, (x, y) in enumerate(pairs)
                    if x != y or (isinstance(x, float) and _bits(x) != _bits(y))]
            raw = ref["_raw_line"].to_pylist()
            detail = [(i, raw[i], f"new={x!r}", f"ref={y!r}") for i, x, y in rows[:10]]
            pytest.fail(f"column {name}: {len(rows)} rows differ, first: {detail}")


def outcome(parse, content: bytes, **extra):
    """The table, or the UnparseableFile message."""
    try:
        return parse(content, **KWARGS, **extra)
    except UnparseableFile as exc:
        return f"UnparseableFile: {exc}"


def assert_same_both_ways(content: bytes, monkeypatch) -> None:
    """New and reference agree through the Arrow split and through the line reader."""
    for arrow_split in (True, False):
        with monkeypatch.context() as m:
            if not arrow_split:
                m.setattr(historian, "_split_plain", lambda content: None)
            new = outcome(parse_historian_csv, content)
        ref = outcome(reference_parse, content, arrow_split=arrow_split)
        if isinstance(ref, str) or isinstance(new, str):
            assert new == ref
        else:
            assert_same_table(new, ref)


# --------------------------------------------------------------------------------------------------
# Simulated exports of the four plant types
# --------------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def simulated(tmp_path_factory):
    """Four hours of every plant type with every delivery quirk on: ``{file name: bytes}``."""
    from models import get_plant
    from models.historian import HistorianConfig

    quirks = HistorianConfig(p_comm_failure=1.0, p_local_time=1.0, p_late_partial=1.0, p_overlap=1.0,
                             p_duplicate_file=1.0)
    root = tmp_path_factory.mktemp("typing")
    start = dt.datetime(2026, 3, 28, tzinfo=UTC)
    files = {}
    for plant in ("cstr", "biorefinery", "co2_electrolyzer", "smelter"):
        get_plant(plant).simulate(start, start + dt.timedelta(hours=4), landing_dir=root / "landing",
                                  truth_dir=root / "truth", seed=5, config=quirks)
        for path in sorted((root / "landing" / "sensor" / plant).iterdir()):
            files[path.name] = path.read_bytes()
    assert {name.split("__")[0] for name in files} == {"cstr", "biorefinery", "co2_electrolyzer", "smelter"}
    return files


@pytest.mark.parametrize("plant", ["cstr", "biorefinery", "co2_electrolyzer", "smelter"])
def test_simulated_exports_type_the_same(simulated, plant, monkeypatch):
    names = [n for n in simulated if n.startswith(f"{plant}__")]
    assert names
    for name in names:
        content = decompress(simulated[name], name)
        assert_same_both_ways(content, monkeypatch)
        assert_same_both_ways(gzip.compress(content), monkeypatch)


# --------------------------------------------------------------------------------------------------
# Hostile files (those of test_historian.py and test_sensor_hostile.py)
# --------------------------------------------------------------------------------------------------
GOOD = "CSTR.TI102,2026-01-01T00:00:00Z,1,192"
H = "tag,timestamp,value,quality\n"


def _hostile_line(minute: int, value: float = 50.0, zone: str = "Z") -> str:
    stamp = dt.datetime(2026, 3, 3) + dt.timedelta(minutes=minute)
    if zone != "Z":
        stamp += dt.timedelta(hours=int(zone[:3]))
    return f"CSTR.TI102,{stamp.isoformat()}{zone},{value},192\n"


_STRAY = [GOOD.replace("00:00:00", f"00:{m:02d}:00") for m in range(1, 6)]
_STRAY[0] = _STRAY[0].replace(",1,", ',"1,')
_STRAY[4] = _STRAY[4].replace(",1,", ',1",')
HOSTILE: dict[str, str | bytes] = {
    "good lines": H + "CSTR.TI102,2026-01-01T00:01:00Z,51.32,192\nCSTR.TI102,2026-01-01T01:02:00+01:00,51.4,192\n"
                      "CSTR.AI102,2026-01-01T00:03:00.500Z,,0\n",
    **{f"bad line {i}": f"{H}{GOOD}\n{line}\n" for i, line in enumerate([
        "CSTR.TI102,2026-01-01T00:03:00,51.4,192", "CSTR.TI102,yesterday,51.4,192",
        "CSTR.TI102,2026-02-30T00:00:00Z,1,192", "CSTR.TI102,2026-01-01T00:04:00Z,abc,192",
        "CSTR.TI102,2026-01-01T00:04:00Z,inf,192", "CSTR.TI102,2026-01-01T00:04:00Z,1.0",
        "CSTR.TI102,2026-01-01T00:04:00Z,1.0,192,extra", ",2026-01-01T00:04:00Z,1.0,192",
        "CSTR.TI102,2026-01-01T00:04:00Z,1.0,good", "CSTR.TI102,2026-01-01T00:04:00Z,1.0,300"])},
    "blank lines": H + "A,2026-01-01T00:00:00Z,1,192\n\nA,2026-01-01T00:01:00Z,1,192\n\n\n",
    "empty": b"",
    "header only": H,
    "no tag column": "time;tag;value\n2026-01-01;A;1\n",
    "repeated column": "tag,timestamp,value,quality,tag\n",
    "corrupt gzip": b"\x1f\x8b\x08\x00garbage",
    "not utf-8": b"\xff\xfe\x00garbage\x81",
    "binary": b"PK\x03\x04\x00\x00\n\x00",
    "nul line": b"tag,timestamp,value,quality\n\x00\x00",
    "huge field": f"{H}{GOOD}\nCSTR.TI102,2026-01-01T00:01:00Z,{'9' * (130 * 1024)},192\n"
                  f"{GOOD.replace('00:00:00', '00:02:00')}\n",
    "unicode separators and quoted newline": (f"{H}{GOOD}\nCSTR.TI102,2026-01-01T00:01:00Z,1\u20282,192\n"
                                              '"CSTR.TI\n102",2026-01-01T00:02:00Z,3,192\n'
                                              "CSTR.TI102,2026-01-01T00:03:00Z,4,192\n"),
    "unterminated quote": f'{H}"CSTR.TI102,2026-01-01T00:01:00Z,1,192\n{GOOD}\n',
    "undecodable byte": (H + GOOD + "\n").encode() + b"CSTR.TI102,2026-01-01T00:01:00Z,1\xff,192\n"
                        + GOOD.replace("00:00:00", "00:02:00").encode() + b"\n",
    "columns by name": "quality,value,comment,timestamp,tag\n192,51.5,from shift B,2026-01-01T00:01:00Z,CSTR.TI102\n",
    "columns by name gzip": gzip.compress(
        b"quality,value,comment,timestamp,tag\n192,51.5,from shift B,2026-01-01T00:01:00Z,CSTR.TI102\n"),
    "cr and crlf": f"tag,timestamp,value,quality\r{GOOD}\r{GOOD.replace('00:00:00', '00:01:00')}\r\n",
    "stray quote": H + "\n".join(_STRAY) + "\n",
    "arrow split": ("value,tag, timestamp ,quality,extra\n51.3,CSTR.TI102,2026-01-01T00:01:00Z,192,x\n\n"
                    "7,CSTR.TI102,2026-01-01T00:02:00+01:00,192,x\n1,2,3\n, CSTR.FI101 ,2026-01-01T00:03:00Z,0,\n"
                    "nan,CSTR.FI101,2026-01-01T00:04:00,192,x\n1e3,,2026-01-01T00:05:00Z,300,x\n\n\n"),
    "hostile 01": H + _hostile_line(0) + _hostile_line(1, 50.0) + _hostile_line(1, 51.0) + _hostile_line(2) * 2
                  + _hostile_line(3),
    "hostile 02": H + "CSTR.TI102," + "9" * (130 * 1024) + ",1,192\n" + _hostile_line(4)
                  + _hostile_line(3, 49.0, zone="+01:00") + _hostile_line(0),
    "hostile 03": gzip.compress(f"quality,comment,value,tag,timestamp\n192,ok,42.5,CSTR.TI101,2026-03-03T00:05:00Z\n"
                                .encode()),
    "hostile 06": b"\x1f\x8b\x08\x00not really gzip",
    "hostile 30 files": H + _hostile_line(7, 7.0) * 200,
    "bom and trailing whitespace lines": "\ufeff" + H + GOOD + "\n \t\n\u3000\n",
    "nul in a quoted continuation": (b'tag,timestamp,value,quality\nA,"2026-01-01T00:00:00Z\n\x00",1,192\n'
                                     + GOOD.encode()),
    "quoted whitespace": f'{H}" A ",\t2026-01-01T00:00:00Z ," 5 ", 192\u00a0\n',
}


@pytest.mark.parametrize("name", list(HOSTILE))
def test_hostile_files_type_the_same(name, monkeypatch):
    content = HOSTILE[name]
    assert_same_both_ways(content.encode() if isinstance(content, str) else content, monkeypatch)


# --------------------------------------------------------------------------------------------------
# Odd field strings
# --------------------------------------------------------------------------------------------------
VALUES = ["1e5", "+5", ".5", "5.", "1_000", "0x10", "inf", "-inf", "Infinity", "nan", "NaN", '"1,5"', '" 5 "',
          "1e400", "-0", "-0.0", "00012", "1e-400", "\u0661\u0662", "", "1E5", "+.5", "-.5e-3", ".", "+", "-", "e5",
          "1e", "5e+", "1.2.3", "1 2", "0.1", "0.30000000000000004", "4.9e-324", "2.2250738585072014e-308",
          "1.7976931348623157e308", "1.7976931348623159e308", "123456789012345678901234567890", "9007199254740993",
          "-9223372036854775809", "0." + "1" * 40, "1" * 30 + "." + "7" * 30 + "e-15", "\uff11\uff12", "TRUE", "1.5f",
          "1e0001", "1e-0001", "1d5", "--1", "+-1", "0b1"]
_T = "2026-01-01T12:34:56"
TIMESTAMPS = ([_T + z for z in ("Z", "+01:00", "+0100", "+01", "-05:30", "+23:59", "-23:59", "+24:00", "+12:60",
                                "+00:99", "-00:00", "+15:00", "z", "+1:00", "+01:0", "UTC", " Z")]
              + [_T + ("." + "123456"[:f] if f else "") + "Z" for f in range(0, 7)]
              + [_T + ".Z", "2026-01-01 12:34:56Z", "2026-01-01t12:34:56Z", "2026-01-01T24:00:00Z",
                 "2026-01-01T23:59:60Z", "2026-02-30T00:00:00Z", "2026-01-01", "2026-01-01Z", _T, _T + ".5",
                 "2026-01-01 12:34", "2026-01-01T12:34Z", "2026-01-01T12:34+01:00", "2026-01-01T12Z",
                 "0001-01-01T00:00:00Z", "0001-01-01T01:30:00+01:00", "9999-12-31T23:59:59Z",
                 "9999-12-31T23:00:00-00:59", "9999-12-31T23:59:59.999999Z", "1969-12-31T23:59:59.999999Z",
                 "1900-02-28T23:59:59-01:00", "2024-02-29T00:00:00Z", "2025-02-29T00:00:00Z", "1900-02-29T00:00:00Z",
                 "2000-02-29T00:00:00Z", "0100-02-29T00:00:00Z", "2026-13-01T00:00:00Z", "2026-00-01T00:00:00Z",
                 "2026-01-00T00:00:00Z", "2026-04-31T00:00:00Z", "2026-12-31T23:59:59+14:00",
                 "2026-01-01T25:00:00Z", "2026-01-01T12:60:00Z", "\u0662\u0660\u0662\u0666-01-01T00:00:00Z",
                 "\u0662\u0660\u0662\u0666-01-01T00:00:00", "2026-01-01T00:00:00.\u0665Z", "20260101T000000Z",
                 "2026-1-1T00:00:00Z", "", "yesterday", "2026-01-01T00:00:00+01:00 trailing"])
QUALITIES = ["192", "0192", "256", "255", "0", "000", "-1", "1.0", "+1", "", "1e2", "\u0661\u0669\u0662", " 64 ",
             "good", "1 9"]
TAGS = ["CSTR.TI102", "", " CSTR.TI102 ", "\tA\u00a0", "\u3000", "A\u2028B", "x\x1f"]
PADS = ["", " ", "\t", "\u00a0", "\u2003", "\x0b", "\x1c"]


def _corpus() -> list[str]:
    """Every value with every timestamp and every quality with every timestamp; tags and padding cycle."""
    lines, k = [], 0
    pairs = [(v, t, QUALITIES[i % len(QUALITIES)]) for i, (v, t) in enumerate(itertools.product(VALUES, TIMESTAMPS))]
    pairs += [(VALUES[i % len(VALUES)], t, q) for i, (q, t) in enumerate(itertools.product(QUALITIES, TIMESTAMPS))]
    for value, stamp, quality in pairs:
        pad = PADS[k % len(PADS)]
        tag = TAGS[k // 3 % len(TAGS)]
        lines.append(f"{tag},{pad}{stamp}{pad},{value}{PADS[(k + 1) % len(PADS)]},{pad}{quality}")
        k += 1
    # each odd field alone on an otherwise good line, so that the typed columns are compared too
    lines += [f"CSTR.TI102,{pad}{stamp}{pad},1.5,192" for stamp in TIMESTAMPS for pad in PADS]
    lines += [f"CSTR.TI102,2026-01-01T00:00:00Z,{pad}{value},192" for value in VALUES for pad in PADS]
    lines += [f"CSTR.TI102,2026-01-01T00:00:00Z,1,{quality}{pad}" for quality in QUALITIES for pad in PADS]
    lines += [f"{tag},2026-01-01T00:00:00Z,1,192" for tag in TAGS]
    # decimals of every length and exponent: the parsed doubles must be the same bits
    rng = np.random.default_rng(14)
    for _ in range(3000):
        digits = "".join(map(str, rng.integers(0, 10, rng.integers(1, 26))))
        cut = int(rng.integers(0, len(digits) + 1))
        # (a leading '+' is left out: pandas misrounded those, see the test at the end)
        number = f"{rng.choice(['', '-'])}{digits[:cut]}.{digits[cut:]}"
        if rng.random() < 0.4:
            number += f"{rng.choice(['e', 'E'])}{int(rng.integers(-330, 310))}"
        lines.append(f"CSTR.TI102,2026-01-01T00:00:00Z,{number},192")
    return lines


def test_odd_field_strings_type_the_same(monkeypatch):
    lines = _corpus()
    content = ("tag,timestamp,value,quality\n" + "\n".join(lines) + "\n").encode()
    assert_same_both_ways(content, monkeypatch)
    # the quoted values send the whole file to the line reader: the plain lines also through the Arrow split
    plain = [line for line in lines if '"' not in line]
    assert_same_both_ways(("tag,timestamp,value,quality\n" + "\n".join(plain) + "\n").encode(), monkeypatch)
    # columns in another order, with an extra one
    moved = ["quality,extra,value,tag,timestamp"] + [
        ",".join((q, "x", v, t, s)) for t, s, v, q in (line.split(",") for line in plain)]
    assert_same_both_ways(("\n".join(moved) + "\n").encode(), monkeypatch)


def test_every_error_kind_is_in_the_corpus():
    table = parse_historian_csv(("tag,timestamp,value,quality\n" + "\n".join(_corpus()) + "\n").encode(), **KWARGS)
    errors = pc.drop_null(table["_parse_error"]).to_pylist()
    for start in ("tag is empty", "timestamp"):
        assert any(e.startswith(start) for e in errors)
    for end in ("has no UTC offset (expected e.g. 2026-01-01T00:00:00Z)", "is not an ISO 8601 time",
                "is not a valid date and time", "is not a finite number", "(integer 0-255)"):
        assert any(end in e for e in errors), end
    assert pc.sum(pc.is_valid(table["timestamp"])).as_py() > 1000


# --------------------------------------------------------------------------------------------------
# Where the reference failed: the new typing differs on purpose
# --------------------------------------------------------------------------------------------------
def _one(line: str, parse=parse_historian_csv) -> dict:
    rows = parse(f"{H}{line}\nA,2026-01-01T00:00:00Z,,1\n".encode(), **KWARGS).to_pylist()
    return rows[0]


@pytest.mark.parametrize(("stamp", "expected"), [
    ("2026-01-01T12:34:56.1234567Z", dt.datetime(2026, 1, 1, 12, 34, 56, 123456, tzinfo=UTC)),
    ("2026-01-01T12:34:56.999999999+01:00", dt.datetime(2026, 1, 1, 11, 34, 56, 999999, tzinfo=UTC)),
    ("1969-12-31T23:59:59.9999999Z", dt.datetime(1969, 12, 31, 23, 59, 59, 999999, tzinfo=UTC)),
])
def test_fraction_digits_past_microseconds_are_cut_where_the_reference_raised(stamp, expected):
    """pandas parsed to nanoseconds and the assignment to the microsecond column raised (the file failed)."""
    with pytest.raises(TypeError):
        _one(f"A,{stamp},1,192", reference_parse)
    row = _one(f"A,{stamp},1,192")
    assert (row["timestamp"], row["_parse_error"]) == (expected, None)


def test_zeros_past_microseconds_are_as_before():
    stamp = "2026-01-01T12:34:56.1000000Z"
    assert _one(f"A,{stamp},1,192") == _one(f"A,{stamp},1,192", reference_parse)


@pytest.mark.parametrize("stamp", ["0001-01-01T00:30:00+01:00", "0000-01-01T00:00:00Z", "0000-12-31T12:00:00Z",
                                   "9999-12-31T23:00:00-01:00"])
def test_instants_outside_years_1_to_9999_are_quarantined_where_the_reference_raised(stamp):
    with pytest.raises(OverflowError):
        _one(f"A,{stamp},1,192", reference_parse)
    row = _one(f"A,{stamp},1,192")
    assert row["_parse_error"] == f"timestamp '{stamp}' is not a valid date and time"
    assert row["timestamp"] is None


def test_year_zero_that_lands_in_year_one_is_kept():
    row = _one("A,0000-12-31T23:30:00-01:00,1,192")
    assert (row["timestamp"], row["_parse_error"]) == (dt.datetime(1, 1, 1, 0, 30, tzinfo=UTC), None)


def test_integers_beyond_2_to_53_in_an_all_integer_file_where_the_reference_raised():
    """pandas read an all-integer column as int64/uint64, and Arrow refused to round it to float64."""
    content = f"{H}A,2026-01-01T00:00:00Z,9007199254740993,192\nA,2026-01-01T00:01:00Z,9223372036854775808,192\n"
    with pytest.raises(pa.ArrowInvalid):
        reference_parse(content.encode(), **KWARGS)
    table = parse_historian_csv(content.encode(), **KWARGS)
    assert table["value"].to_pylist() == [9007199254740992.0, 9223372036854775808.0]


def test_minus_zero_is_minus_zero_in_every_file():
    """The reference gave +0.0 for '-0' only when every value of the file was an integer (int64 inference)."""
    all_integers = f"{H}A,2026-01-01T00:00:00Z,-0,192\n".encode()
    mixed = f"{H}A,2026-01-01T00:00:00Z,-0,192\nA,2026-01-01T00:01:00Z,1.5,192\n".encode()
    assert _float_bits(reference_parse(all_integers, **KWARGS)["value"]) == [0]
    assert _float_bits(reference_parse(mixed, **KWARGS)["value"])[0] == _bits(-0.0)
    for content in (all_integers, mixed):
        assert _float_bits(parse_historian_csv(content, **KWARGS)["value"])[0] == _bits(-0.0)


@pytest.mark.parametrize("number", ["+165.6690146014E248", "+862981821683772.22", "+2643.3179e-122",
                                    "+17471876964.8382358"])
def test_a_plus_sign_no_longer_changes_the_double_where_the_reference_misrounded(number):
    """pandas.to_numeric rounds some '+'-signed decimals to a neighbouring double (about 1 in 6 with
    many digits); without the sign it rounds them correctly. Now both are the nearest double, as float() gives."""
    ref = _one(f"A,2026-01-01T00:00:00Z,{number},192", reference_parse)["value"]
    unsigned = _one(f"A,2026-01-01T00:00:00Z,{number[1:]},192", reference_parse)["value"]
    assert ref != float(number) and unsigned == float(number)
    assert _one(f"A,2026-01-01T00:00:00Z,{number},192")["value"] == float(number)
