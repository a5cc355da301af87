"""Parse plant-historian export files into bronze rows.

The export format (what :mod:`models.historian` writes, and what a real historian's CSV export
is configured to look like)::

    tag,timestamp,value,quality
    CSTR.TI102,2026-01-01T00:01:00Z,51.32,192

- one reading per line; ``timestamp`` is ISO 8601 with an explicit zone (``Z`` or ``+01:00``);
- ``value`` is a decimal in the tag's engineering unit, empty when the historian has no value;
- ``quality`` is the OPC DA quality code (192 good, 64 uncertain, 0 bad, ...);
- columns are found by their header names, in any order; extra columns are ignored;
- a file may be gzip-compressed (``<plant>__<day>__<NN>.csv.gz``).

Every data record becomes exactly one bronze row, numbered by the physical line it starts on
(RFC 4180: a quoted field may span lines; only ``\n``, ``\r\n`` or ``\r`` end a line, so U+2028
and other Unicode separators inside a field do not split it). A record that cannot be typed keeps its text in
``_raw_line`` and says why in ``_parse_error`` — a line that is not UTF-8, longer than
:data:`MAX_LINE_BYTES`, with an unterminated quote or the wrong number of fields — and silver
quarantines it. Only a file that cannot be read at all (not gzip when it says so, binary, a header
without the required columns) raises :class:`~nexus.errors.UnparseableFile`.
"""

from __future__ import annotations

import csv
import datetime as dt
import gzip
import io
import re
import sys
import zlib
from collections.abc import Iterator

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from nexus.errors import UnparseableFile
from warehouse.duck import scratch
from warehouse.tables import BRONZE_TAG_READINGS

HEADER = ("tag", "timestamp", "value", "quality")
FILE_NAME = re.compile(r"^(?P<plant>[a-z0-9_]+)__(?P<day>\d{4}-\d{2}-\d{2})__(?P<seq>\d{2})\.csv(?P<gz>\.gz)?$")
#: A historian line is under 100 bytes; a longer one is a broken export, not data (quarantined).
MAX_LINE_BYTES = 64 * 1024
#: A quoted field may span at most this many physical lines before the quote counts as unterminated
#: (small: a stray quote must not swallow the good readings after it).
MAX_RECORD_LINES = 3
#: Decompressed size limit of a gzip export (a compression bomb is rejected, not expanded).
MAX_DECOMPRESSED_BYTES = 2 * 1024**3

_ISO_WITH_ZONE = r"^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})$"
_ISO_NO_ZONE = r"^\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?)?$"


def parse_file_name(name: str) -> tuple[str, dt.date, int] | None:
    """``(plant_id, day, sequence)`` from ``<plant>__<YYYY-MM-DD>__<NN>.csv[.gz]``, or None."""
    match = FILE_NAME.match(name)
    if not match:
        return None
    try:
        day = dt.date.fromisoformat(match["day"])
    except ValueError:
        return None
    return match["plant"], day, int(match["seq"])


def decompress(content: bytes, source_file: str, limit: int = MAX_DECOMPRESSED_BYTES) -> bytes:
    """The bytes of a gzip member (by its magic number), else ``content`` unchanged.

    Raises:
        UnparseableFile: a corrupt gzip stream, or one that expands beyond ``limit`` bytes.
    """
    if content[:2] != b"\x1f\x8b":
        return content
    out = bytearray()
    try:
        with gzip.GzipFile(fileobj=io.BytesIO(content)) as fh:
            while block := fh.read(1 << 20):
                out += block
                if len(out) > limit:
                    raise UnparseableFile(f"{source_file}: gzip content expands beyond {limit:,} bytes")
    except (OSError, EOFError, zlib.error) as exc:
        raise UnparseableFile(f"{source_file}: corrupt gzip stream ({exc})") from None
    return bytes(out)


def _decode(line: bytes) -> tuple[str, str | None]:
    """A physical line as text, with the reason when it is not UTF-8 (then with escapes)."""
    try:
        return line.decode("utf-8"), None
    except UnicodeDecodeError as exc:
        return (line.decode("utf-8", errors="backslashreplace"),
                f"line is not UTF-8 text (byte 0x{line[exc.start]:02x} at column {exc.start + 1})")


def iter_records(content: bytes, source_file: str) -> Iterator[tuple[int, str, list[str] | None, str | None]]:
    """``(line_number, raw_text, fields, error)`` for every CSV record of ``content``, header first.

    Lines end at ``\n``, ``\r\n`` or ``\r``; a quoted field may continue on the next lines
    (up to :data:`MAX_RECORD_LINES`). Each line is decoded on its own, so one bad byte costs one
    record. Trailing blank lines are formatting and yield nothing. ``fields`` is None when
    ``error`` says why the record could not be split.
    """
    if content.startswith(b"\xef\xbb\xbf"):
        content = content[3:]
    if b"\r" in content:  # CRLF and classic-Mac CR line ends
        content = content.replace(b"\r\n", b"\n").replace(b"\r", b"\n")
    lines = content.split(b"\n")
    while lines and not lines[-1].strip():
        lines.pop()
    i = 0
    while i < len(lines):
        first = i
        raw = lines[i].removesuffix(b"\r")
        text, error = _decode(raw)
        i += 1
        if error is None and len(raw) > MAX_LINE_BYTES:
            error = f"line of {len(raw):,} bytes exceeds the {MAX_LINE_BYTES:,}-byte limit of a historian line"
            text = text[:200] + "…"
        elif error is None and "\x00" in text:
            error = "line contains NUL bytes (binary content)"
            text = text.replace("\x00", "\\x00")
        if error is None and text.count('"') % 2:  # an open quote: the record continues on the next lines
            parts, j = [text], i
            while j < len(lines) and j - first < MAX_RECORD_LINES:
                more, more_error = _decode(lines[j].removesuffix(b"\r"))
                if more_error:
                    break
                parts.append(more)
                j += 1
                if "\n".join(parts).count('"') % 2 == 0:
                    break
            joined = "\n".join(parts)
            if joined.count('"') % 2 == 0 and len(joined) <= MAX_LINE_BYTES:
                text, i = joined, j
            else:
                error = "unterminated quoted field (a quote opens a field that no later line closes)"
        if error is not None:
            yield first + 1, text, None, error
            continue
        if '"' not in text:
            yield first + 1, text, text.split(","), None
            continue
        try:
            yield first + 1, text, next(csv.reader([text], strict=True)), None
        except (csv.Error, StopIteration) as exc:
            yield first + 1, text, None, f"malformed CSV record ({exc})"


def _split_lines(content: bytes, source_file: str) -> list[str]:
    """Whole-file decoding for feeds that keep it (one bad byte rejects the file)."""
    try:
        text = content.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise UnparseableFile(f"{source_file}: not UTF-8 text ({exc})") from None
    if "\x00" in text:
        raise UnparseableFile(f"{source_file}: binary content (NUL bytes), not a CSV export")
    lines = text.splitlines()
    while lines and not lines[-1].strip():
        lines.pop()  # trailing blank lines are formatting, not data
    return lines


def column_positions(header: list[str] | None, error: str | None, source_file: str,
                     required: tuple[str, ...] = HEADER) -> dict[str, int]:
    """Where each required column is in a header row (by name, any order; extra columns ignored).

    Raises:
        UnparseableFile: the header cannot be read, repeats a name, or lacks a required column.
    """
    if header is None:
        raise UnparseableFile(f"{source_file}: header line cannot be read ({error})")
    names = [h.strip().lower() for h in header]
    repeated = sorted({n for n in names if names.count(n) > 1 and n in required})
    missing = [c for c in required if c not in names]
    if missing or repeated:
        problem = f"missing {', '.join(missing)}" if missing else f"repeats {', '.join(repeated)}"
        raise UnparseableFile(f"{source_file}: header must name the columns {','.join(required)} "
                              f"(any order; {problem}); found {','.join(header)[:80]!r}")
    return {c: names.index(c) for c in required}


def _split_plain(content: bytes) -> tuple[list[str], pa.Array] | None:
    """Split an export with no quote, NUL, CR or over-long line into lines in Arrow (what nearly every file is).

    Returns ``(header fields, data lines)``: the data lines are numbered 2, 3, ... and are the raw
    texts :func:`iter_records` would give (trailing blank lines dropped). None when the file needs
    the line-by-line reader (quotes, CR line ends, bytes that are not UTF-8, NUL bytes, a line over
    the limit, no header).
    """
    if content.startswith(b"\xef\xbb\xbf"):
        content = content[3:]
    if not content or b'"' in content or b"\r" in content or b"\x00" in content:
        return None
    try:  # Arrow's UTF-8 check refuses what bytes.decode refuses (overlongs, surrogates, > U+10FFFF)
        text = pa.array([content], pa.large_binary()).cast(pa.large_string())
    except pa.ArrowInvalid:
        return None
    lines = pc.list_flatten(pc.split_pattern(text, "\n"))
    n = len(lines)
    while n and not lines[n - 1].as_py().strip():
        n -= 1  # trailing blank lines are formatting, not data
    header = lines[0].as_py() if n else ""
    if not header.strip() or len(header.encode()) > MAX_LINE_BYTES:
        return None
    body = lines.slice(1, n - 1)
    if len(body) and pc.max(pc.binary_length(body)).as_py() > MAX_LINE_BYTES:
        return None
    return header.split(","), body


def _python_whitespace() -> str:
    """The characters ``str.strip()`` removes, in this interpreter (Unicode whitespace, U+001C-U+001F and U+0085 too).

    Fields are stripped in Arrow, whose ``utf8_trim_whitespace`` knows fewer of them (and DuckDB's
    ``trim`` only the space).
    """
    everything = np.arange(sys.maxunicode + 1, dtype="<u4").tobytes().decode("utf-32-le", "surrogatepass")
    return "".join(re.findall(r"\s", everything))


#: What ``str.strip()`` removes around a field, as the typing always stripped.
_WHITESPACE = _python_whitespace()
#: A decimal as ``pandas.to_numeric`` read it (the rule before typing moved to SQL): no ``inf`` or
#: ``nan``, hex, digit separators or non-ASCII digits, which DuckDB's cast alone accepts in part. The
#: cast rounds to the nearest double, where pandas was off by an ulp on about 1 in 6 long decimals
#: with a leading ``+``, and read ``-0`` as +0.0 in a file whose values were all integers.
_DECIMAL = r"^[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]+)?$"
#: Microseconds since the epoch of 0001-01-01T00:00:00Z and of 9999-12-31T23:59:59.999999Z.
_MIN_US, _MAX_US = -62_135_596_800_000_000, 253_402_300_799_999_999

#: Types stripped fields (``body(error, tag, ts, val, q)``; the fields are null where ``error`` says
#: the line could not be split). The first failing check names a line's error, in this order: the
#: split, the tag, the timestamp's shape, its date and time, the value, the quality. The typed
#: columns are null on a line with an error; the tag is kept unless empty.
_TYPING = f"""
WITH shaped AS (
    SELECT *, regexp_full_match(ts, '{_ISO_WITH_ZONE.replace(chr(92) + "d", "[0-9]")}') AS zoned FROM body
),
parts AS (
    -- the shape is checked, so the parts are at known places: date and time, then Z, +hh:mm or +hhmm
    SELECT *, strlen(ts) - zone_len AS body_len
    FROM (SELECT *, CASE WHEN NOT zoned THEN NULL WHEN right(ts, 1) = 'Z' THEN 1
                         WHEN substr(ts, strlen(ts) - 5, 1) IN ('+', '-') THEN 6 ELSE 5 END AS zone_len
          FROM shaped)
),
stamped AS (
    SELECT *,
           -- DuckDB reads the local date and time as pandas did (calendar checked, seconds 0-59, year 0
           -- the year before 1) but for the hour 24, refused here. Fraction digits past the microsecond
           -- are cut: pandas raised on them unless zeros (the whole file failed). Then the offset,
           -- hours 0-23 and minutes 0-59.
           CASE WHEN zoned AND substr(ts, 12, 2) < '24'
                     AND (zone_len = 1 OR (substr(ts, body_len + 2, 2) < '24' AND right(ts, 2) < '60'))
                THEN epoch_us(TRY_CAST(left(ts, least(body_len, 26)) AS TIMESTAMP))
                     - CASE WHEN zone_len = 1 THEN 0
                            ELSE CASE WHEN substr(ts, body_len + 1, 1) = '-' THEN -60000000 ELSE 60000000 END
                                 * (substr(ts, body_len + 2, 2)::BIGINT * 60 + right(ts, 2)::BIGINT) END
           END AS micros,
           CASE WHEN regexp_full_match(val, '{_DECIMAL}') THEN TRY_CAST(val AS DOUBLE) END AS v,
           CASE WHEN regexp_full_match(q, '[0-9]{{1,3}}') THEN q::INTEGER END AS qv
    FROM parts
),
judged AS (
    SELECT tag, ts, micros, v, qv, coalesce(error, CASE
        WHEN tag = '' THEN 'tag is empty'
        -- named in Python by _unshaped_timestamp (rare: always an error line)
        WHEN NOT zoned THEN ''
        -- outside years 1-9999 UTC pandas raised OverflowError (the whole file failed); now the line is quarantined
        WHEN micros IS NULL OR micros NOT BETWEEN {_MIN_US} AND {_MAX_US}
            THEN 'timestamp ''' || ts || ''' is not a valid date and time'
        WHEN val <> '' AND (v IS NULL OR NOT isfinite(v)) THEN 'value ''' || val || ''' is not a finite number'
        WHEN qv IS NULL OR qv > 255 THEN 'quality ''' || q || ''' is not an OPC DA quality code (integer 0-255)'
        END) AS error
    FROM stamped
)
SELECT CASE WHEN tag <> '' THEN tag END AS tag, CASE WHEN error = '' THEN ts END AS ts,
       CASE WHEN error IS NULL THEN micros END AS micros,
       CASE WHEN error IS NULL THEN v END AS value,
       CASE WHEN error IS NULL THEN qv END AS quality,
       error
FROM judged
"""


def _unshaped_timestamp(ts: str) -> str:
    """Why a timestamp without the ISO 8601 shape in ASCII digits and with a zone cannot be typed.

    By the rule's own regexes in Python's ``re``, whose ``\\d`` takes any Unicode decimal digit:
    the shape written in other digits is "not a valid date and time", as pandas' parser refused it.
    """
    if re.match(_ISO_WITH_ZONE, ts):
        return f"timestamp '{ts}' is not a valid date and time"
    if re.match(_ISO_NO_ZONE, ts):
        return f"timestamp '{ts}' has no UTC offset (expected e.g. 2026-01-01T00:00:00Z)"
    return f"timestamp '{ts}' is not an ISO 8601 time"


def _type_fields(error: pa.Array, tag: pa.Array, ts: pa.Array, val: pa.Array, q: pa.Array) -> pa.Table:
    """``(tag, micros, value, quality, error)`` of every line, in order: the fields stripped, then typed in DuckDB."""
    body = pa.table({"error": error, **{name: pc.utf8_trim(field, _WHITESPACE)
                                        for name, field in (("tag", tag), ("ts", ts), ("val", val), ("q", q))}})
    with scratch() as con:
        con.register("body", body)
        typed = con.sql(_TYPING).to_arrow_table()
    unshaped = np.flatnonzero(pc.fill_null(pc.equal(typed["error"], ""), False).to_numpy(zero_copy_only=False))
    if len(unshaped):
        errors = typed["error"].to_numpy(zero_copy_only=False)
        stamps = typed["ts"]
        for i in unshaped:
            errors[i] = _unshaped_timestamp(stamps[int(i)].as_py())
        typed = typed.set_column(typed.schema.get_field_index("error"), "error", pa.array(errors, pa.string()))
    return typed.drop_columns(["ts"])


def parse_historian_csv(content: bytes, *, plant_id: str, period_date: dt.date, source_file: str,
                        sha256: str, ingested_at: dt.datetime, run_id: str) -> pa.Table:
    """Type every data line of one export file as a bronze row.

    Lines are split in Arrow (plain files) or by :func:`iter_records` (quotes, CR line ends, bad
    bytes); then the fields are stripped as ``str.strip()`` strips and typed in one DuckDB query:
    the tag, the timestamp (ISO 8601 with a zone, converted to UTC, kept to the microsecond), the
    value (a finite decimal, or empty) and the quality (an integer 0-255), in that order.

    Raises:
        UnparseableFile: the file is not UTF-8 text or its header is not ``tag,timestamp,value,quality``.
    """
    content = decompress(content, source_file)
    fast = _split_plain(content)
    if fast is not None:  # the common case, split in Arrow: same fields, errors and line numbers
        header, lines = fast
        pos = column_positions(header, None, source_file)
        width, n = len(header), len(lines)
        fields = pc.split_pattern(lines, ",")
        good = pc.list_value_length(fields).to_numpy(zero_copy_only=False) == width
        errors = np.full(n, None, dtype=object)
        for i in np.flatnonzero(~good):
            text = lines[int(i)].as_py()
            errors[i] = (f"malformed line: expected {width} fields ({','.join(header)}), found {text.count(',') + 1}"
                         if text.strip() else "malformed line: empty line inside the file")
        first = fields.offsets.to_numpy()[:-1]
        tag, ts, val, q = (pc.take(fields.values, pa.array(first + pos[col], mask=~good))
                           for col in ("tag", "timestamp", "value", "quality"))
        typed = _type_fields(pa.array(errors, pa.string()), tag, ts, val, q)
        raw = lines.cast(pa.string())
        line_numbers = pa.array(np.arange(2, n + 2, dtype=np.int64))
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
        raw = pa.array([text for _, text, _, _ in body], pa.string())
        line_numbers = pa.array(np.fromiter((number for number, _, _, _ in body), dtype=np.int64, count=n))
        columns: list[list[str | None]] = [[None] * n for _ in range(5)]
        errors, tags, stamps, values, qualities = columns
        it, its, iv, iq = pos.get("tag"), pos.get("timestamp"), pos.get("value"), pos.get("quality")
        for i, (_, text, fields, error) in enumerate(body):
            if error is not None:
                errors[i] = error
            elif len(fields) != width:
                errors[i] = (f"malformed line: expected {width} fields ({','.join(head[2])}), found {len(fields)}"
                             if text.strip() else "malformed line: empty line inside the file")
            else:
                tags[i], stamps[i], values[i], qualities[i] = fields[it], fields[its], fields[iv], fields[iq]
        typed = _type_fields(*(pa.array(column, pa.string()) for column in columns))

    def constant(value: object, type_: pa.DataType) -> pa.Array:
        return pa.repeat(pa.scalar(value, type_), n)

    return pa.table(
        {
            "plant_id": constant(plant_id, pa.string()),
            "period_date": constant(period_date, pa.date32()),
            "tag": typed["tag"].cast(pa.string()),
            "timestamp": typed["micros"].cast(pa.int64()).cast(BRONZE_TAG_READINGS.column("timestamp").type),
            "value": typed["value"].cast(pa.float64()),
            "quality": typed["quality"].cast(pa.int32()),
            "_raw_line": raw,
            "_parse_error": typed["error"].cast(pa.string()),
            "_source_file": constant(source_file, pa.string()),
            "_source_sha256": constant(sha256, pa.string()),
            "_line_number": line_numbers,
            "_ingested_at": constant(ingested_at, BRONZE_TAG_READINGS.column("_ingested_at").type),
            "_run_id": constant(run_id, pa.string()),
        },
        schema=BRONZE_TAG_READINGS.schema,
    )
