"""The asset hierarchy in gold: ``gold.dim_assets`` from the fleet file.

enterprise → site → plant (instance) → unit (unit operation) → tag, one row per asset, each naming
its parent, the way PI AF / ISA-95 model a fleet. The table is rewritten only when the fleet or a
plant type's tag catalogue changed (a daily run of a hundred instances commits nothing here).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from models.fleet import Fleet, load_fleet
from warehouse.lake import CommitMeta, Lake
from warehouse.tables import DIM_ASSETS

__all__ = ["asset_rows", "publish_assets"]


def asset_rows(fleet: Fleet | None = None) -> pa.Table:
    """Every asset of ``fleet`` (default: the fleet in use), sorted by ``asset_id``."""
    from models.base import get_plant

    fleet = fleet or load_fleet()
    ent = fleet.enterprise_id
    empty = dict.fromkeys(DIM_ASSETS.column_names)
    rows: list[dict[str, Any]] = [{**empty, "asset_id": ent, "level": "enterprise", "name": fleet.enterprise_name,
                                   "enterprise_id": ent}]
    used_sites = {i.site.site_id for i in fleet}
    for site in fleet.sites.values():
        if site.site_id not in used_sites:
            continue
        rows.append({**empty, "asset_id": f"{ent}/{site.site_id}", "level": "site", "name": site.name,
                     "parent_id": ent, "enterprise_id": ent, "site_id": site.site_id, "country": site.country,
                     "grid_region": site.grid_region})
    for inst in fleet:
        site = inst.site
        common = {"enterprise_id": ent, "site_id": site.site_id, "plant_id": inst.plant_id,
                  "plant_type": inst.plant_type, "country": site.country, "grid_region": site.grid_region}
        plant_path = f"{ent}/{site.site_id}/{inst.plant_id}"
        rows.append({**empty, **common, "asset_id": plant_path, "level": "plant", "name": inst.name,
                     "parent_id": f"{ent}/{site.site_id}", "capacity": inst.capacity,
                     "capacity_unit": inst.capacity_unit})
        units: dict[str, None] = {}
        tags = get_plant(inst.plant_type).TAGS
        for t in tags:
            units.setdefault(t.unit_operation)
        for unit in units:
            rows.append({**empty, **common, "asset_id": f"{plant_path}/{unit}", "level": "unit", "name": unit,
                         "parent_id": plant_path, "unit_operation": unit})
        for t in tags:
            rows.append({**empty, **common, "asset_id": f"{plant_path}/{t.unit_operation}/{t.tag}", "level": "tag",
                         "name": t.description, "parent_id": f"{plant_path}/{t.unit_operation}",
                         "unit_operation": t.unit_operation, "tag": t.tag, "unit": t.canonical_unit})
    table = pa.Table.from_pylist(rows, schema=DIM_ASSETS.schema)
    return table.take(pc.sort_indices(table, [("asset_id", "ascending")]))


def publish_assets(lake: Lake, meta: CommitMeta, fleet: Fleet | None = None) -> dict[str, Any]:
    """Make ``gold.dim_assets`` equal the fleet's hierarchy; commit only if it differs."""
    rows = asset_rows(fleet)
    if lake.exists(DIM_ASSETS):
        current = lake.read(DIM_ASSETS)
        current = current.take(pc.sort_indices(current, [("asset_id", "ascending")]))
        if current.select(DIM_ASSETS.column_names).equals(rows):
            return {"assets": rows.num_rows, "changed": False}
    lake.overwrite(DIM_ASSETS, rows, meta=meta)
    levels, counts = np.unique(np.asarray(rows["level"].to_pylist(), dtype=object), return_counts=True)
    return {"assets": rows.num_rows, "changed": True, **{f"{lv}s": int(n) for lv, n in zip(levels, counts)}}
