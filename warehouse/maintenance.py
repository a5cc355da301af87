"""Lake housekeeping: OPTIMIZE-compact small files, then vacuum files no version within the retention needs."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from warehouse.lake import CommitMeta, Lake
from warehouse.tables import REGISTRY


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
