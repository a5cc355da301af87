"""Reactor bank identity, historian tag catalogue (1,000 tags) and activity data.

The bank's tag template is the CSTR's, once per reactor: ``CSTR.TI102`` of reactor 17 is
``RB.R017.TI102`` in unit ``reactor_017``.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import replace

from models.base import ActivityStream, PlantInfo, TagSpec
from models.cstr.tags import ACTIVITY as CSTR_ACTIVITY
from models.cstr.tags import TAGS as CSTR_TAGS

#: Plant type id.
PLANT_ID = "reactor_bank"
#: Reactors in the bank (the tag catalogue has ``N_REACTORS * 10`` tags).
N_REACTORS = 100

INFO = PlantInfo(
    plant_id=PLANT_ID,
    name=f"Bank of {N_REACTORS} jacketed CSTRs",
    description=f"{N_REACTORS} parallel 100 L jacketed exothermic CSTRs (the CSTR twin, each with its own jacket UA "
    "and volume) on a common feed header and coolant supply; PI temperature control per reactor.",
    sampling=dt.timedelta(minutes=1),
)


def reactor_tag(k: int, cstr_tag: str) -> str:
    """The bank's tag of reactor ``k`` (1-based) for a CSTR tag: ``CSTR.TI102`` -> ``RB.R017.TI102``."""
    return f"RB.R{k:03d}.{cstr_tag.removeprefix('CSTR.')}"


def reactor_unit(k: int) -> str:
    """The unit (asset) of reactor ``k``."""
    return f"reactor_{k:03d}"


TAGS: tuple[TagSpec, ...] = tuple(
    replace(t, tag=reactor_tag(k, t.tag), description=f"R{k:03d} {t.description}", unit_operation=reactor_unit(k))
    for k in range(1, N_REACTORS + 1) for t in CSTR_TAGS
)

#: Activity data: every reactor's feed and chiller electricity, as for the CSTR.
ACTIVITY: tuple[ActivityStream, ...] = tuple(
    replace(a, tag=reactor_tag(k, a.tag)) for k in range(1, N_REACTORS + 1) for a in CSTR_ACTIVITY
)
