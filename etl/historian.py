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
import zlib
from collections.abc import Iterator

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from nexus.errors import UnparseableFile
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


def _split_plain(content: bytes) -> tuple[list[str], list[str], np.ndarray, pa.ListArray, np.ndarray] | None:
    """Split an export with no quote, NUL, CR or over-long line in Arrow (what nearly every file is).

    Returns ``(header, raw lines, line numbers, fields per line, errors)`` exactly as
    :func:`iter_records` would give them, or None when the file needs the line-by-line reader
    (quotes, CR line ends, bytes that are not UTF-8, NUL bytes, a line over the limit, no header).
    """
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


def parse_historian_csv(content: bytes, *, plant_id: str, period_date: dt.date, source_file: str,
                        sha256: str, ingested_at: dt.datetime, run_id: str) -> pa.Table:
    """Type every data line of one export file as a bronze row.

    Raises:
        UnparseableFile: the file is not UTF-8 text or its header is not ``tag,timestamp,value,quality``.
    """
    content = decompress(content, source_file)
    fast = _split_plain(content)
    if fast is not None:  # the common case, split in Arrow: same fields, errors and line numbers
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
    has_zone = ts_str.str.match(_ISO_WITH_ZONE)
    no_zone = ts_str.str.match(_ISO_NO_ZONE)
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
