"""Smelter potline identity, historian tag catalogue and activity data."""

from __future__ import annotations

import datetime as dt

from models.smelter.scenarios import PLANT_ID, SLOT
from models.base import ActivityStream, PlantInfo, TagSpec

# --------------------------------------------------------------------------
# Tags and activity data
# --------------------------------------------------------------------------

INFO = PlantInfo(
    plant_id=PLANT_ID,
    name="Aluminium smelter potline section (Hall-Heroult, prebake)",
    description="100 point-fed prebake reduction cells in series at ~350 kA: cell voltage, heat balance and ledge, "
    "alumina feeding and anode effects, PFC and anode CO2 (IPCC 2006 Tier 2/3).",
    sampling=SLOT,
    utc_offset=dt.timedelta(hours=1),
)

#: Historian tag catalogue. Electrical and rate tags are means over the 15-min
#: interval starting at the timestamp; temperatures, concentrations, ledge and
#: metal height are values at the timestamp. "DCS calculation" tags (noise 0)
#: are computed by the pot-control system / DCS from measurements.
TAGS: tuple[TagSpec, ...] = (
    TagSpec("SMT.II101", "Line current (rectifier DC current transducer)", "kA", "kA", 0.0, 420.0, "rectifier", 0.05),
    TagSpec("SMT.IC101.SP", "Line current set point (power contract / dispatcher)", "kA", "kA", 0.0, 420.0,
            "rectifier"),
    TagSpec("SMT.EI101", "Section voltage, 100 cells in series", "V", "V", 0.0, 1000.0, "rectifier", 0.05),
    TagSpec("SMT.JI101", "Section DC power (rectifier metering)", "kW", "kW", 0.0, 400000.0, "rectifier", 0.05),
    TagSpec("SMT.JI100", "AC electricity import of section + auxiliaries (substation meter)", "kW", "kW", 0.0,
            420000.0, "rectifier", 0.05),
    TagSpec("SMT.EI102", "Average cell voltage (mean of 100 pot voltages)", "V", "V", 0.0, 10.0, "potline", 0.1),
    TagSpec("SMT.RC102.SP", "Pot-control pseudo-resistance target, (V - 1.65 V)/I", "microohm", "microohm", 0.0,
            20.0, "potline"),
    TagSpec("SMT.ZY103", "Anode-cathode distance, section mean (pot-control estimate)", "cm", "cm", 0.0, 10.0,
            "potline"),
    TagSpec("SMT.EI104", "Cathode voltage drop, section mean", "V", "V", 0.0, 1.0, "potline", 0.5),
    TagSpec("SMT.LI105", "Metal pad height, section mean (dip measurement)", "cm", "cm", 0.0, 50.0, "potline", 0.3),
    TagSpec("SMT.TI201", "Bath temperature, section mean", "degC", "K", 850.0, 1050.0, "bath", 0.1),
    TagSpec("SMT.TY202", "Bath liquidus temperature (Solheim et al. 1996, from bath analysis)", "degC", "K", 850.0,
            1050.0, "bath"),
    TagSpec("SMT.TY203", "Bath superheat, TI201 - TY202", "delta_degC", "K", -50.0, 80.0, "bath"),
    TagSpec("SMT.AI204", "Excess AlF3 in bath (XRD of bath samples)", "percent", "percent", 0.0, 25.0, "bath", 0.5),
    TagSpec("SMT.AY205", "Bath ratio NaF/AlF3 (mass), from AI204", "dimensionless", "dimensionless", 0.8, 1.6, "bath"),
    TagSpec("SMT.AY206", "Dissolved alumina, section mean (pot-control estimate)", "percent", "percent", 0.0, 10.0,
            "bath"),
    TagSpec("SMT.NY301", "Anode effects started in the interval, section (count rate)", "1/h", "1/h", 0.0, 200.0,
            "anode_effects"),
    TagSpec("SMT.NY302", "Anode-effect minutes in the interval, section (rate)", "min/h", "min/h", 0.0, 1500.0,
            "anode_effects"),
    TagSpec("SMT.FY303", "CF4 emission (IPCC 2006 Tier 2 slope method, CWPB)", "kg/h", "kg/h", 0.0, 500.0,
            "anode_effects"),
    TagSpec("SMT.FY304", "C2F6 emission (IPCC 2006 Tier 2, 0.121 x CF4)", "kg/h", "kg/h", 0.0, 60.0,
            "anode_effects"),
    TagSpec("SMT.FY401", "Aluminium production (Faraday x current efficiency)", "t/h", "t/h", 0.0, 20.0,
            "production"),
    TagSpec("SMT.EY402", "Current efficiency, section", "percent", "percent", 0.0, 100.0, "production"),
    TagSpec("SMT.EY403", "Specific DC energy consumption", "kWh/kg", "kWh/kg", 0.0, 40.0, "production"),
    TagSpec("SMT.FY501", "Alumina feed (feeder shot count x calibrated shot mass)", "t/h", "t/h", 0.0, 80.0, "feed"),
    TagSpec("SMT.FY502", "AlF3 addition (bath-chemistry control)", "kg/h", "kg/h", 0.0, 1000.0, "feed"),
    TagSpec("SMT.FY503", "Net anode consumption (anode mass)", "t/h", "t/h", 0.0, 12.0, "feed"),
    TagSpec("SMT.FY504", "Process CO2 from anode consumption (IPCC 2006 Tier 2/3, prebake)", "t/h", "t/h", 0.0,
            45.0, "feed"),
    TagSpec("SMT.FI505", "Fume duct gas flow (normal conditions)", "m**3/h", "m**3/h", 0.0, 1500000.0, "fume", 0.3),
    TagSpec("SMT.AI506", "Fume duct CO2 (NDIR)", "percent", "percent", 0.0, 5.0, "fume", 0.3),
    TagSpec("SMT.AI507", "Fume duct HF before the dry scrubber (laser analyser)", "mg/m**3", "mg/m**3", 0.0, 1000.0,
            "fume", 0.3),
    TagSpec("SMT.TI601", "Sidewall shell temperature, section mean (shell thermocouples)", "degC", "K", 0.0, 700.0,
            "sidewall", 0.2),
    TagSpec("SMT.ZY602", "Sidewall ledge thickness, section mean (heat-balance estimate)", "cm", "cm", 0.0, 40.0,
            "sidewall"),
    TagSpec("SMT.QY603", "Sidewall heat loss, section", "kW", "kW", 0.0, 60000.0, "sidewall"),
    TagSpec("SMT.QY604", "Total cell heat loss, section", "kW", "kW", 0.0, 150000.0, "sidewall"),
    TagSpec("SMT.TI605", "Potroom air temperature", "degC", "K", -20.0, 60.0, "sidewall", 0.2),
    TagSpec("SMT.P001.EI", "Reference pot P001 voltage", "V", "V", 0.0, 40.0, "pot_p001", 0.05),
    TagSpec("SMT.P001.ZY", "Reference pot P001 anode-cathode distance (estimate)", "cm", "cm", 0.0, 10.0, "pot_p001"),
    TagSpec("SMT.P001.AY", "Reference pot P001 dissolved alumina (estimate)", "percent", "percent", 0.0, 10.0,
            "pot_p001"),
)
_TAG_BY_NAME = {t.tag: t for t in TAGS}
_MEASURED = tuple(t.tag for t in TAGS if t.measured)

#: Activity data for carbon accounting and LCA (all from DCS / metered rate tags).
ACTIVITY: tuple[ActivityStream, ...] = (
    ActivityStream("electricity_import", "electricity", "SMT.JI100", "kWh",
                   note="AC import at the section substation: rectifier input plus auxiliaries"),
    ActivityStream("feedstock", "alumina", "SMT.FY501", "t", note="smelter-grade alumina fed by the point feeders"),
    ActivityStream("feedstock", "anode_carbon", "SMT.FY503", "t",
                   note="net prebaked-anode consumption; its CO2 is the process_emission co2 stream, "
                        "do not apply a combustion factor to it"),
    ActivityStream("chemical", "aluminium_fluoride", "SMT.FY502", "kg", note="AlF3 additions for bath acidity"),
    ActivityStream("product", "aluminium", "SMT.FY401", "t", note="liquid metal, Faraday x current efficiency"),
    ActivityStream("process_emission", "co2", "SMT.FY504", "t",
                   note="IPCC 2006 Vol. 3 Eq. 4.21 (NAC x (100 - S - ash)/100 x 44/12)"),
    ActivityStream("process_emission", "cf4", "SMT.FY303", "kg",
                   note="IPCC 2006 Tier 2 slope 0.143 (kg CF4/t Al)/(AE-min/cell-day), CWPB"),
    ActivityStream("process_emission", "c2f6", "SMT.FY304", "kg", note="IPCC 2006 Tier 2, C2F6/CF4 = 0.121, CWPB"),
)
