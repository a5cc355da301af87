"""Lake housekeeping: OPTIMIZE-compact small files, then vacuum files no version within the retention
needs; and remove the temporary files writers killed mid-write left beside the tables and in the inbox."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Sequence
from typing import Any

from warehouse.lake import CommitMeta, Lake
from warehouse.storage import Folder, folder
from warehouse.tables import REGISTRY

#: A temporary file this old is a dead writer's: a live one renames (copies) it within seconds to
#: minutes (the largest file Nexus writes is a historian export or a report of a few MB).
TEMPORARY_AGE = dt.timedelta(hours=24)
#: The folders Nexus writes plain files into: below the lake root (raw files, reports, validation
#: pages, model artifacts) and below the landing inbox (deliveries by source). Nothing else is swept.
LAKE_FILE_FOLDERS = ("raw", "reports", "_validation", "artifacts")
INBOX_FOLDERS = ("sensor", "market", "regulatory")

log = logging.getLogger(__name__)


def maintain(lake: Lake, *, meta: CommitMeta, tables: Sequence[str] = (), retention_hours: int = 168,
             dry_run: bool = False) -> list[dict[str, Any]]:
    """Compact and vacuum ``tables`` (default: every table that exists); one result row per table.

    Time travel keeps working for ``retention_hours``: vacuum removes only files that no version
    written within that window references. ``dry_run`` lists what vacuum would remove.
    """
    specs = [REGISTRY.get(n) for n in tables] if tables else list(REGISTRY)
    out = []
    for spec in specs:
        if not lake.exists(spec):
            continue
        compacted = lake.compact(spec, meta=meta)
        removed = lake.vacuum(spec, retention_hours=retention_hours, dry_run=dry_run)
        out.append({"table": spec.name, "files_removed_by_compaction": compacted["files_removed"],
                    "files_added_by_compaction": compacted["files_added"], "unreferenced_files": len(removed),
                    "dry_run": dry_run})
    return out


def file_folders(lake: Lake, landing_dir: str) -> list[Folder]:
    """The folders :func:`sweep_temporaries` looks in: :data:`LAKE_FILE_FOLDERS` of the lake and
    :data:`INBOX_FOLDERS` of the inbox."""
    return ([lake.files.sub(name) for name in LAKE_FILE_FOLDERS]
            + [folder(landing_dir).sub(name) for name in INBOX_FOLDERS])


def sweep_temporaries(folders: Sequence[Folder], *, older_than: dt.timedelta = TEMPORARY_AGE,
                      now: dt.datetime | None = None, dry_run: bool = False) -> list[str]:
    """Remove the temporary files (``storage.TEMPORARY_NAME``) below ``folders`` last modified more than
    ``older_than`` before ``now``: what a writer killed between writing and renaming left behind (on S3
    a hidden key that listings skip but the bucket bills). Returns their locations, sorted; with
    ``dry_run`` only lists them. A folder inside another one given is swept once; a folder that
    cannot be listed or a file that cannot be removed (permissions) is logged and skipped (and not
    returned), so it does not stop the others.
    """
    if older_than < dt.timedelta(0):
        raise ValueError(f"older_than must not be negative, found {older_than}")
    before = (now or dt.datetime.now(dt.UTC)) - older_than
    roots: list[Folder] = []
    for f in sorted(folders, key=lambda f: len(f.uri().rstrip("/"))):
        if not any(f.uri().rstrip("/") == r.uri().rstrip("/") or f.uri().startswith(r.uri().rstrip("/") + "/")
                   for r in roots):
            roots.append(f)
    found = []
    for root in roots:
        try:
            stale = root.temporaries(before=before)
        except OSError as exc:
            log.warning("could not look for temporary files in %s: %s", root.uri(), exc)
            continue
        for rel in stale:
            if not dry_run:
                try:
                    root.remove(rel)
                except OSError as exc:
                    log.warning("could not remove the temporary %s: %s", root.uri(rel), exc)
                    continue
                log.info("removed the temporary %s (a writer stopped before finishing it)", root.uri(rel))
            found.append(root.uri(rel))
    return sorted(found)
