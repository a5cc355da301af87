"""CO2 electrolyzer identity, historian tag catalogue, DCS calculation sources and activity data."""

from __future__ import annotations

import datetime as dt

from models.base import ActivityStream, PlantInfo, TagSpec

#: Plant type id.
PLANT_ID = "co2_electrolyzer"


INFO = PlantInfo(
    plant_id=PLANT_ID,
    name="CO2-to-formic-acid electrolyzer",
    description="40-cell flow-electrolyzer stack (2500 cm2 Sn GDE cathodes, KHCO3 catholyte, Nafion membrane, "
    "IrO2 anodes) reducing CO2 to formate; Faraday, Butler-Volmer and CO2 mass-transfer physics.",
    sampling=dt.timedelta(minutes=15),
    utc_offset=dt.timedelta(hours=1),
)

_CALC = "DCS calculation"
#: Historian tag catalogue (33 tags). Ranges cover shutdowns, trips, CO2 starvation and stack shorts.
TAGS: tuple[TagSpec, ...] = (
    TagSpec("ECR.IIC101.SP", "Stack current set point (start/stop sequence ramps)", "A", "A", 0.0, 1000.0, "rectifier"),
    TagSpec("ECR.II101", "Stack current", "A", "A", 0.0, 1000.0, "rectifier", 0.1),
    TagSpec("ECR.JI101", f"Current density, II101 / cell area ({_CALC})", "mA/cm**2", "A/m**2", 0.0, 400.0, "stack"),
    TagSpec("ECR.EI101", "Stack voltage", "V", "V", 0.0, 250.0, "rectifier", 0.1),
    TagSpec("ECR.EY101", f"Average cell voltage, EI101 / 40 ({_CALC})", "V", "V", 0.0, 8.0, "stack"),
    TagSpec("ECR.JI102", "Stack DC power, EI101 x II101 (rectifier power meter)", "kW", "kW", 0.0, 250.0, "rectifier",
            0.1),
    TagSpec(
        "ECR.JI103",
        f"Plant electricity import: JI102 / rectifier eff. + balance of plant + chiller (QI501 / COP) ({_CALC})",
        "kW", "kW", 0.0, 300.0, "utilities",
    ),
    TagSpec("ECR.FIC201.SP", "Cathode feed gas flow set point (normal m3/h, 0 degC, 1 atm)", "m**3/h", "m**3/h",
            0.0, 60.0, "feed"),
    TagSpec("ECR.FI201", "Cathode feed gas flow (normal m3/h)", "m**3/h", "m**3/h", 0.0, 60.0, "feed", 0.2),
    TagSpec("ECR.AIC201.SP", "CO2 concentration set point of the CO2/N2 blend", "percent", "percent", 0.0, 100.0,
            "feed"),
    TagSpec("ECR.AI201", "CO2 concentration in the feed gas (NDIR)", "percent", "percent", 0.0, 100.0, "feed", 0.1),
    TagSpec("ECR.FY201", f"CO2 feed, mass of pure CO2: FI201 x AI201 ({_CALC})", "kg/h", "kg/h", 0.0, 120.0, "feed"),
    TagSpec("ECR.PDI201", "Cathode gas-side pressure drop", "kPa", "kPa", 0.0, 80.0, "stack", 0.2),
    TagSpec("ECR.FI202", "Cathode outlet gas flow, dry (normal m3/h)", "m**3/h", "m**3/h", 0.0, 60.0, "cathode_gas",
            0.2),
    TagSpec("ECR.AI202", "H2 in cathode outlet gas, dry (TCD analyser)", "percent", "percent", 0.0, 100.0,
            "cathode_gas", 0.1),
    TagSpec("ECR.AI203", "CO2 in cathode outlet gas, dry (NDIR)", "percent", "percent", 0.0, 100.0, "cathode_gas",
            0.1),
    TagSpec("ECR.FY202", f"Unreacted CO2 vented: FI202 x AI203 ({_CALC})", "kg/h", "kg/h", 0.0, 120.0, "cathode_gas"),
    TagSpec("ECR.XY201", f"CO2 single-pass conversion, 1 - FY202/FY201 ({_CALC})", "percent", "percent", 0.0, 100.0,
            "cathode_gas"),
    TagSpec("ECR.FI301", "Catholyte recirculation flow", "m**3/h", "m**3/h", 0.0, 10.0, "catholyte", 0.2),
    TagSpec("ECR.TIC301.SP", "Catholyte stack-inlet temperature set point", "degC", "K", 0.0, 100.0, "catholyte"),
    TagSpec("ECR.TI301", "Catholyte stack-inlet temperature", "degC", "K", 0.0, 100.0, "catholyte", 0.1),
    TagSpec("ECR.TI302", "Catholyte stack-outlet (cell) temperature", "degC", "K", 0.0, 100.0, "stack", 0.1),
    TagSpec("ECR.AI301", "Catholyte pH", "dimensionless", "dimensionless", 0.0, 14.0, "catholyte", 0.1),
    TagSpec("ECR.AI302", "Formate in product catholyte, as HCOOH (online analyser)", "g/L", "g/L", 0.0, 250.0,
            "product", 0.2),
    TagSpec("ECR.FI302", "Product bleed flow (= KHCO3 make-up flow, ratio to current)", "L/h", "m**3/h", 0.0, 400.0,
            "product", 0.2),
    TagSpec("ECR.FY301", f"Formic acid production, 100 % HCOOH: 40 x II101 x AY301 M/(2F) ({_CALC})", "kg/h", "kg/h",
            0.0, 40.0, "product"),
    TagSpec("ECR.AY301", f"Faradaic efficiency to formate, 1 - H2 (FI202 x AI202) 2F / (40 II101) ({_CALC})",
            "percent", "percent", 0.0, 100.0, "product"),
    TagSpec("ECR.EY102", f"Specific electricity use of the stack, JI102 / FY301 ({_CALC})", "kWh/kg", "kWh/kg",
            0.0, 100.0, "product"),
    TagSpec("ECR.FI401", "Anode O2 flow (normal m3/h)", "m**3/h", "m**3/h", 0.0, 15.0, "anode", 0.3),
    TagSpec("ECR.QI501", "Catholyte cooling duty (heat meter; < 0 when the idle loop is kept warm)", "kW", "kW",
            -30.0, 150.0, "utilities", 0.3),
    TagSpec("ECR.FY303", f"KHCO3 make-up, FI302 x 0.5 mol/L ({_CALC})", "kg/h", "kg/h", 0.0, 30.0, "catholyte"),
    TagSpec("ECR.FY304", f"DI water make-up: catholyte make-up + anode water consumption ({_CALC})", "m**3/h",
            "m**3/h", 0.0, 0.6, "utilities"),
    TagSpec("ECR.KY101", "Electrode (GDE) age since last replacement, calendar hours (DCS counter)", "h", "h",
            0.0, 1500.0, "stack"),
)
_TAG_BY_NAME = {t.tag: t for t in TAGS}

#: How DCS calculation tags are computed from other tags (used by the surrogate leakage check).
CALC_SOURCES: dict[str, tuple[str, ...]] = {
    "ECR.JI101": ("ECR.II101",),
    "ECR.EY101": ("ECR.EI101",),
    "ECR.JI102": ("ECR.EI101", "ECR.II101"),
    "ECR.JI103": ("ECR.JI102", "ECR.QI501"),
    "ECR.FY201": ("ECR.FI201", "ECR.AI201"),
    "ECR.FY202": ("ECR.FI202", "ECR.AI203"),
    "ECR.XY201": ("ECR.FY202", "ECR.FY201"),
    "ECR.AY301": ("ECR.FI202", "ECR.AI202", "ECR.II101"),
    "ECR.FY301": ("ECR.AY301", "ECR.II101"),
    "ECR.EY102": ("ECR.JI102", "ECR.FY301"),
    "ECR.FY303": ("ECR.FI302",),
    "ECR.FY304": ("ECR.FI302", "ECR.II101"),
}

#: Operator set points, feed conditions and counters: the only admissible surrogate inputs.
INDEPENDENT_TAGS: frozenset[str] = frozenset(
    {
        "ECR.IIC101.SP",
        "ECR.II101",
        "ECR.JI101",
        "ECR.FIC201.SP",
        "ECR.FI201",
        "ECR.AIC201.SP",
        "ECR.AI201",
        "ECR.TIC301.SP",
        "ECR.TI301",
        "ECR.FI301",
        "ECR.KY101",
    }
)

#: Activity data for carbon accounting and LCA (hourly means of the rate tags integrate to amounts).
ACTIVITY: tuple[ActivityStream, ...] = (
    ActivityStream(
        "electricity_import", "electricity", "ECR.JI103", "kWh",
        note="stack DC / rectifier efficiency 0.96 + balance of plant 3 kW + chiller at COP 4",
    ),
    ActivityStream(
        "feedstock", "co2_feed", "ECR.FY201", "t", note="pure CO2 in the cathode feed (N2 diluent excluded)"
    ),
    ActivityStream("product", "formic_acid", "ECR.FY301", "t", note="formate as 100 % HCOOH basis"),
    ActivityStream(
        "process_emission", "co2", "ECR.FY202", "kg", note="unreacted CO2 vented with the cathode gas (after H2 use)"
    ),
    ActivityStream("chemical", "potassium_bicarbonate", "ECR.FY303", "kg", note="KHCO3 in the catholyte make-up"),
    ActivityStream("water_intake", "water", "ECR.FY304", "m**3", note="deionised water, catholyte and anolyte make-up"),
)
