"""Parse plant-historian export files into bronze rows.

The export format (what :mod:`models.historian` writes, and what a real historian's CSV export
is configured to look like)::

    tag,timestamp,value,quality
    CSTR.TI102,2026-01-01T00:01:00Z,51.32,192

- one reading per line; ``timestamp`` is ISO 8601 with an explicit zone (``Z`` or ``+01:00``);
- ``value`` is a decimal in the tag's engineering unit, empty when the historian has no value;
- ``quality`` is the OPC DA quality code (192 good, 64 uncertain, 0 bad, ...).

Every data line becomes exactly one bronze row. A line that cannot be typed keeps its text in
``_raw_line`` and says why in ``_parse_error``; silver quarantines it. Only a file that cannot be
read at all (not text, wrong header) raises :class:`~nexus.errors.UnparseableFile`.
"""

from __future__ import annotations

import csv
import datetime as dt
import re

import numpy as np
import pandas as pd
import pyarrow as pa

from nexus.errors import UnparseableFile
from warehouse.tables import BRONZE_TAG_READINGS

HEADER = ("tag", "timestamp", "value", "quality")
FILE_NAME = re.compile(r"^(?P<plant>[a-z0-9_]+)__(?P<day>\d{4}-\d{2}-\d{2})__(?P<seq>\d{2})\.csv$")

_ISO_WITH_ZONE = r"^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})$"
_ISO_NO_ZONE = r"^\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?)?$"


def parse_file_name(name: str) -> tuple[str, dt.date, int] | None:
    """``(plant_id, day, sequence)`` from ``<plant>__<YYYY-MM-DD>__<NN>.csv``, or None."""
    match = FILE_NAME.match(name)
    if not match:
        return None
    try:
        day = dt.date.fromisoformat(match["day"])
    except ValueError:
        return None
    return match["plant"], day, int(match["seq"])


def _split_lines(content: bytes, source_file: str) -> list[str]:
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


def parse_historian_csv(content: bytes, *, plant_id: str, period_date: dt.date, source_file: str,
                        sha256: str, ingested_at: dt.datetime, run_id: str) -> pa.Table:
    """Type every data line of one export file as a bronze row.

    Raises:
        UnparseableFile: the file is not UTF-8 text or its header is not ``tag,timestamp,value,quality``.
    """
    lines = _split_lines(content, source_file)
    n = max(len(lines) - 1, 0)
    if lines:
        header = tuple(h.strip().lower() for h in next(csv.reader([lines[0]])))
        if header != HEADER:
            raise UnparseableFile(f"{source_file}: header must be {','.join(HEADER)!r}, found {lines[0][:80]!r}")
    raw = lines[1:]
    tags = np.full(n, None, dtype=object)
    ts_text = np.full(n, None, dtype=object)
    val_text = np.full(n, None, dtype=object)
    q_text = np.full(n, None, dtype=object)
    errors = np.full(n, None, dtype=object)
    for i, fields in enumerate(csv.reader(raw)):
        if len(fields) != 4:
            errors[i] = (f"malformed line: expected 4 fields ({','.join(HEADER)}), found {len(fields)}"
                         if raw[i].strip() else "malformed line: empty line inside the file")
            continue
        tags[i], ts_text[i], val_text[i], q_text[i] = (f.strip() for f in fields)

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
            "_line_number": pa.array(np.arange(2, n + 2, dtype=np.int64)),
            "_ingested_at": pa.array([ingested_at] * n, BRONZE_TAG_READINGS.column("_ingested_at").type),
            "_run_id": pa.array([run_id] * n, pa.string()),
        },
        schema=BRONZE_TAG_READINGS.schema,
    )
