"""CSTR identity, historian tag catalogue and activity data."""

from __future__ import annotations

import datetime as dt

from models.base import ActivityStream, PlantInfo, TagSpec

#: Plant type id.
PLANT_ID = "cstr"

INFO = PlantInfo(
    plant_id=PLANT_ID,
    name="Jacketed exothermic CSTR (A -> B)",
    description="100 L CSTR, first-order exothermic reaction, PI control of reactor temperature via jacket "
    "temperature (Seborg et al.; APMonitor benchmark).",
    sampling=dt.timedelta(minutes=1),
)

#: Historian tag catalogue. Ranges cover shutdown (idle 300 K, no feed) and the
#: interlocked cooling failures (T < 360 K); noise is 0.1-0.2 % of span.
TAGS: tuple[TagSpec, ...] = (
    TagSpec("CSTR.FI101", "Feed flow", "L/min", "L/min", 0.0, 150.0, "feed", 0.2),
    TagSpec("CSTR.TI101", "Feed temperature", "degC", "K", 0.0, 120.0, "feed", 0.1),
    TagSpec("CSTR.AI101", "Feed concentration of A", "mol/L", "mol/L", 0.0, 2.0, "feed", 0.2),
    TagSpec("CSTR.TI102", "Reactor temperature", "degC", "K", 0.0, 150.0, "reactor", 0.1),
    TagSpec("CSTR.AI102", "Reactor outlet concentration of A", "mol/L", "mol/L", 0.0, 2.0, "reactor", 0.2),
    TagSpec("CSTR.AY102", "Conversion of A, 1 - AI102/AI101", "percent", "percent", 0.0, 100.0, "reactor", 0.1),
    TagSpec("CSTR.TC102.SP", "Reactor temperature set point", "degC", "K", 0.0, 150.0, "controller"),
    TagSpec("CSTR.TC102.OUT", "TC102 output = jacket temperature set point", "degC", "K", -40.0, 120.0, "controller"),
    TagSpec("CSTR.TI103", "Jacket temperature", "degC", "K", -40.0, 120.0, "jacket", 0.1),
    TagSpec("CSTR.QI101", "Heat removed by the jacket, UA (T - Tj)", "kW", "kW", -50.0, 150.0, "jacket", 0.2),
)
_TAG_BY_NAME = {t.tag: t for t in TAGS}

#: Activity data for carbon accounting. The pilot reactor buys its feed solution
#: and the electricity of the chiller that cools the jacket; its product is not sold.
ACTIVITY: tuple[ActivityStream, ...] = (
    ActivityStream("feedstock", "cstr_feed", "CSTR.FI101", "m**3", note="feed solution of A, 1 mol/L"),
    ActivityStream(
        "electricity_import",
        "electricity",
        "CSTR.QI101",
        "kWh",
        factor=0.25,
        note="chiller electricity = jacket heat duty / COP, COP 4 (typical water-cooled chiller at 7 degC supply)",
    ),
)
