"""Land files from the inbox (landing folder) into raw, with a manifest.

Raw keeps every received file byte for byte under ``raw/<source>/<plant>/<day>/<sha12>__<name>``
and records one row per (content hash, file name) in ``raw.landing__files``. A file whose content
has already landed is recorded as a duplicate and not stored or loaded again; a file whose name
does not say which plant and day it covers, or that names another plant than its folder, is kept
under ``raw/<source>/<plant>/_rejected/`` and recorded as rejected on the day of the run that
received it, so gold accounts for every file that arrives. The landing copy is removed only after
raw and the manifest hold the file, so a crash at any point leaves a state that the next run
completes; two runs of the same inbox at once each write under their own temporary names, and a
file the other run already took is skipped.

The inbox and the lake may each be a local folder or an S3 location (:mod:`warehouse.storage`).
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc

from etl.historian import parse_file_name
from warehouse import storage
from warehouse.lake import CommitMeta, Lake
from warehouse.tables import RAW_FILES

log = logging.getLogger(__name__)


@dataclass
class LandingReport:
    """What one landing pass did, by file name."""

    landed: list[str] = field(default_factory=list)
    duplicates: list[str] = field(default_factory=list)
    rejected: list[str] = field(default_factory=list)
    already_landed: list[str] = field(default_factory=list)
    waiting_for_earlier_days: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, list[str]]:
        return {"landed": self.landed, "duplicates": self.duplicates, "rejected": self.rejected,
                "already_landed": self.already_landed, "waiting_for_earlier_days": self.waiting_for_earlier_days}




def manifest(lake: Lake, *, source: str, plant_id: str | None = None, day: dt.date | None = None) -> pa.Table:
    """Manifest rows of a source (optionally one plant and day); empty if nothing landed yet."""
    if not lake.exists(RAW_FILES):
        return RAW_FILES.schema.empty_table()
    where: dict[str, object] = {"source": source}
    if plant_id is not None:
        where["plant_id"] = plant_id
    if day is not None:
        where["period_date"] = day
    return lake.read(RAW_FILES, where=where)


def land_files(lake: Lake, landing_dir: str | Path, *, source: str, plant_id: str, day: dt.date,
               meta: CommitMeta, now: dt.datetime | None = None, last_day: dt.date | None = None) -> LandingReport:
    """Land the files of one plant and day (and any misnamed file) from ``landing_dir/<source>/<plant>/``.

    Files of other days stay in the inbox for their own run, so a run handles exactly its interval.
    ``last_day`` extends the batch to the days ``day`` to ``last_day`` (bulk loads), in one
    manifest commit.
    """
    last_day = last_day or day
    inbox = storage.folder(landing_dir).sub(f"{source}/{plant_id}")
    report = LandingReport()
    entries = inbox.files()
    if not entries:
        log.info("nothing in the inbox %s", inbox.uri())
        return report
    now = now or dt.datetime.now(dt.timezone.utc)
    # What this plant's inbox already delivered: a re-delivery of the same (content, name) is done;
    # new content equal to a file landed before is a duplicate. A rejected file counts for neither,
    # so a misrouted or misnamed file put right (other inbox, new name) lands.
    known = manifest(lake, source=source, plant_id=plant_id)
    known_keys = set(zip(known["sha256"].to_pylist(), known["file_name"].to_pylist()))
    first_path = {}
    for sha, path, status in zip(known["sha256"].to_pylist(), known["raw_path"].to_pylist(), known["status"].to_pylist()):
        if status not in ("duplicate", "rejected"):
            first_path.setdefault(sha, path)

    rows, landed_files = [], []
    for entry in entries:
        name = entry.name
        parsed = parse_file_name(name)
        wrong_plant = parsed is not None and parsed[0] != plant_id
        if parsed is not None and not wrong_plant and not day <= parsed[1] <= last_day:
            if parsed[1] < day:
                report.waiting_for_earlier_days.append(name)  # arrived after its day's run
            continue  # another day's file: its own run lands it
        try:
            sha, size = inbox.sha256(name)
        except FileNotFoundError:  # a concurrent run of the same inbox took it
            continue
        except storage.ChangedWhileRead as exc:
            log.warning("%s; it stays in the inbox for the next run", exc)
            continue
        if (sha, name) in known_keys:
            report.already_landed.append(name)
            landed_files.append(name)
            continue
        ok = parsed is not None and not wrong_plant
        row = {"sha256": sha, "file_name": name, "source": source, "plant_id": plant_id,
               # a file that names no day (or another plant) is booked on the day of the run that received it
               "period_date": parsed[1] if ok else day, "size_bytes": size,
               "received_at": now, "reason": None, "rows_loaded": None, "_run_id": meta.run_id}
        if sha in first_path:
            row.update(status="duplicate", raw_path=first_path[sha],
                       reason=f"same content as {first_path[sha]} (sha256 {sha[:12]}…)")
            report.duplicates.append(name)
        else:
            folder = parsed[1].isoformat() if ok else "_rejected"
            raw_rel = f"raw/{source}/{plant_id}/{folder}/{sha[:12]}__{name}"
            try:  # the copy must be the bytes hashed: a re-delivery in between is not landed half
                lake.files.copy_from(inbox, name, raw_rel, sha256=sha)
            except FileNotFoundError:  # taken by a concurrent run between hashing and copying
                continue
            except storage.ChangedWhileRead as exc:
                log.warning("%s; it stays in the inbox for the next run", exc)
                continue
            first_path[sha] = raw_rel
            if ok:
                row.update(status="landed", raw_path=raw_rel)
                report.landed.append(name)
            elif wrong_plant:
                row.update(status="rejected", raw_path=raw_rel,
                           reason=f"file {name!r} names plant {parsed[0]!r} but arrived in the inbox of "
                                  f"{plant_id!r}; received on {day}")
                report.rejected.append(name)
            else:
                row.update(status="rejected", raw_path=raw_rel,
                           reason=f"file name {name!r} does not follow <plant>__<YYYY-MM-DD>__<NN>.csv[.gz]; "
                                  f"received on {day}")
                report.rejected.append(name)
        known_keys.add((sha, name))
        rows.append(row)
        landed_files.append(name)

    if rows:
        lake.upsert(RAW_FILES, pa.Table.from_pylist(rows, schema=RAW_FILES.schema), meta=meta)
    for name in landed_files:  # only now is the file safe in raw and in the manifest
        inbox.remove(name)
    log.info("landed %s/%s %s..%s: %s", source, plant_id, day, last_day, {k: len(v) for k, v in report.as_dict().items()})
    if report.waiting_for_earlier_days:
        log.warning("late files for earlier days wait in %s: %s; rerun (clear) those days' runs to ingest them",
                    inbox.uri(), report.waiting_for_earlier_days)
    return report


def files_to_load(lake: Lake, *, source: str, plant_id: str, day: dt.date) -> pa.Table:
    """Manifest rows of files whose rows belong in bronze for this plant and day."""
    rows = manifest(lake, source=source, plant_id=plant_id, day=day)
    keep = pc.is_in(rows["status"], pa.array(["landed", "loaded", "empty"]))
    return rows.filter(keep).sort_by([("received_at", "ascending"), ("file_name", "ascending")])


def land_documents(lake: Lake, landing_dir: str | Path, *, source: str, meta: CommitMeta,
                   suffixes: tuple[str, ...] = (".yaml", ".yml", ".json"),
                   now: dt.datetime | None = None) -> LandingReport:
    """Land every document in ``landing_dir/<source>/`` (any name), for feeds not split by plant and day.

    Raw path ``raw/<source>/<received UTC date>/<sha12>__<name>``. A file with an unexpected
    suffix is kept under ``_rejected`` and reported; one whose content already landed is a
    duplicate.
    """
    inbox = storage.folder(landing_dir).sub(source)
    report = LandingReport()
    entries = inbox.files()
    if not entries:
        return report
    now = now or dt.datetime.now(dt.timezone.utc)
    known = manifest(lake, source=source)
    known_keys = set(zip(known["sha256"].to_pylist(), known["file_name"].to_pylist()))
    first_path = {}
    for sha, path, status in zip(known["sha256"].to_pylist(), known["raw_path"].to_pylist(), known["status"].to_pylist()):
        if status != "duplicate":
            first_path.setdefault(sha, path)
    rows, done = [], []
    for entry in entries:
        name = entry.name
        try:
            sha, size = inbox.sha256(name)
        except FileNotFoundError:  # a concurrent run of the same inbox took it
            continue
        except storage.ChangedWhileRead as exc:
            log.warning("%s; it stays in the inbox for the next run", exc)
            continue
        done.append(name)
        if (sha, name) in known_keys:
            report.already_landed.append(name)
            continue
        row = {"sha256": sha, "file_name": name, "source": source, "plant_id": None, "period_date": None,
               "size_bytes": size, "received_at": now, "reason": None, "rows_loaded": None,
               "_run_id": meta.run_id}
        if sha in first_path:
            row.update(status="duplicate", raw_path=first_path[sha],
                       reason=f"same content as {first_path[sha]} (sha256 {sha[:12]}…)")
            report.duplicates.append(name)
        else:
            ok = Path(name).suffix.lower() in suffixes
            raw_rel = f"raw/{source}/{now.date().isoformat() if ok else '_rejected'}/{sha[:12]}__{name}"
            try:
                lake.files.copy_from(inbox, name, raw_rel, sha256=sha)
            except FileNotFoundError:
                done.pop()
                continue
            except storage.ChangedWhileRead as exc:
                log.warning("%s; it stays in the inbox for the next run", exc)
                done.pop()
                continue
            first_path[sha] = raw_rel
            if ok:
                row.update(status="landed", raw_path=raw_rel)
                report.landed.append(name)
            else:
                row.update(status="rejected", raw_path=raw_rel,
                           reason=f"{name!r}: expected a document ending in {', '.join(suffixes)}")
                report.rejected.append(name)
        known_keys.add((sha, name))
        rows.append(row)
    if rows:
        lake.upsert(RAW_FILES, pa.Table.from_pylist(rows, schema=RAW_FILES.schema), meta=meta)
    for name in done:
        inbox.remove(name)
    log.info("landed %s documents: %s", source, {k: len(v) for k, v in report.as_dict().items()})
    return report
