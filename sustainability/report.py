"""The daily sustainability report: one self-contained HTML file per day (plotly, no CDN).

The report reads only gold tables (emissions, summary, compliance, LCA, heat integration and,
once the optimizer has written them, setpoint recommendations), so what it shows is what SQL on
gold shows. plotly.js is embedded once in the page, so the file opens offline in any browser.

Sections: headline figures; CO2e by scope, gas and source; trends and intensities over the
trailing window; limits and exceedances; life cycle assessment with its uncertainty; the
heat-integration opportunity; the optimizer's latest recommendations; data quality and lineage.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import html
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from warehouse import storage
from warehouse.lake import Lake
from warehouse.registry import TableSpec
from warehouse.tables import (
    FCT_EMISSION_COMPLIANCE_DAILY,
    FCT_EMISSIONS_DAILY,
    FCT_EMISSIONS_SUMMARY_DAILY,
    REGISTRY,
)

__all__ = ["Report", "build_report", "report_path"]

SCOPE_LABELS = {"1": "Scope 1", "2": "Scope 2 (market-based)", "3": "Scope 3", "biogenic": "Biogenic CO2 (outside scopes)"}
SCOPE_COLORS = {"Scope 1": "#1b4965", "Scope 2 (market-based)": "#5fa8d3", "Scope 3": "#a3c4bc",
                "Biogenic CO2 (outside scopes)": "#7cb518"}
_CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:0;color:#1d2327;background:#f6f7f9}
header{background:#1b4965;color:#fff;padding:18px 32px}header h1{margin:0;font-size:24px}
header p{margin:4px 0 0;opacity:.85}main{padding:8px 32px 40px;max-width:1400px}
section{background:#fff;border-radius:8px;box-shadow:0 1px 3px rgba(0,0,0,.08);margin:18px 0;padding:16px 20px}
h2{font-size:19px;margin:4px 0 10px}p.note{color:#555;font-size:13px}
.cards{display:flex;flex-wrap:wrap;gap:12px}.card{flex:1 1 180px;background:#f0f4f8;border-radius:6px;padding:10px 14px}
.card .v{font-size:22px;font-weight:600}.card .l{font-size:12px;color:#555}
table{border-collapse:collapse;font-size:13px;margin:8px 0}th,td{border-bottom:1px solid #e3e6ea;padding:4px 10px;
text-align:right}th:first-child,td:first-child{text-align:left}th{background:#f0f4f8}
.exceeded{color:#b00020;font-weight:600}.at_risk{color:#b36b00;font-weight:600}.ok{color:#2b7a0b}
.high,.maintenance_due{color:#b00020;font-weight:600}.medium,.plan_maintenance{color:#b36b00;font-weight:600}.low{color:#555}
nav a{color:#fff;margin-right:14px;font-size:13px}.scroll{overflow-x:auto;max-width:100%}
"""


@dataclass
class Report:
    """A written report: where it is and what it shows."""

    path: str  # a local path or an s3:// URI
    sha256: str
    size_bytes: int
    report_date: dt.date
    scenario_id: str
    plants: list[str]
    total_market_tco2e: float | None
    exceedances: int
    sections: list[str] = field(default_factory=list)
    figures: int = 0


REPORTS = "reports/sustainability"  # relative to the lake root


def report_rel(report_date: dt.date, scenario_id: str = "base") -> str:
    """``reports/sustainability/<date>.html`` relative to the lake (scenarios under ``scenarios/<id>/``)."""
    base = REPORTS if scenario_id == "base" else f"{REPORTS}/scenarios/{scenario_id}"
    return f"{base}/{report_date.isoformat()}.html"


def report_path(lake: Lake, report_date: dt.date, scenario_id: str = "base") -> str:
    """Where the report of ``report_date`` is: a local path or an ``s3://`` URI (:func:`report_rel`)."""
    return lake.files.uri(report_rel(report_date, scenario_id))


def _read(lake: Lake, spec: TableSpec | str, **kw: Any) -> pd.DataFrame:
    if isinstance(spec, str):
        if spec not in REGISTRY:
            return pd.DataFrame()
        spec = REGISTRY.get(spec)
    if not lake.exists(spec):
        return pd.DataFrame(columns=spec.column_names)
    return lake.read(spec, **kw).to_pandas()


def _palette(n: int, first: Sequence[str] | None = None) -> list[str]:
    """At least ``n`` colours, no two alike, for ``n`` series: ``first`` (default: plotly's 10-colour cycle) while it
    is long enough, else the long qualitative palettes (Dark24, then Dark24 + Alphabet: 50 colours), beyond that ``n``
    samples of a continuous scale. A chart whose series outnumber its colour cycle would repeat colours."""
    import plotly.express as px

    q = px.colors.qualitative
    for seq in (first or q.Plotly, q.Dark24, q.Dark24 + q.Alphabet):
        if n <= len(seq):
            return list(seq)
    return px.colors.sample_colorscale("Turbo", [i / (n - 1) for i in range(n)])


def _table(df: pd.DataFrame, formats: dict[str, str] | None = None, status_col: str | None = None) -> str:
    formats = formats or {}
    head = "".join(f"<th>{html.escape(str(c))}</th>" for c in df.columns)
    body = []
    for _, r in df.iterrows():
        cells = []
        for c in df.columns:
            v = r[c]
            text = "" if v is None or (isinstance(v, float) and pd.isna(v)) else \
                (format(v, formats[c]) if c in formats and isinstance(v, (int, float)) else str(v))
            cls = f' class="{html.escape(str(v))}"' if c == status_col else ""
            cells.append(f"<td{cls}>{html.escape(text)}</td>")
        body.append("<tr>" + "".join(cells) + "</tr>")
    return (f'<div class="scroll"><table><thead><tr>{head}</tr></thead><tbody>{"".join(body)}</tbody></table>'
            "</div>")


class _Page:
    def __init__(self) -> None:
        self.parts: list[str] = []
        self.sections: list[str] = []
        self.figures = 0

    def section(self, key: str, title: str, body: str) -> None:
        self.sections.append(key)
        self.parts.append(f'<section id="{key}"><h2>{html.escape(title)}</h2>{body}</section>')

    def figure(self, fig: Any, height: int = 420) -> str:
        self.figures += 1
        fig.update_layout(template="plotly_white", margin={"l": 60, "r": 20, "t": 60, "b": 50}, height=height)
        return fig.to_html(full_html=False, include_plotlyjs=False, div_id=f"fig{self.figures}",
                           config={"displaylogo": False, "responsive": True})


def build_report(lake: Lake, report_date: dt.date, *, scenario_id: str = "base", window_days: int = 30,
                 out: Path | None = None, generated_by: str = "") -> Report:
    """Write the sustainability report of ``report_date`` from gold.

    Args:
        lake: the lake.
        report_date: UTC day reported on; trends cover the ``window_days`` days ending on it.
        scenario_id: ``base`` or a scenario's id (its emissions and compliance rows).
        window_days: length of the trend window.
        out: a local file to write instead of the lake's :func:`report_path`.
        generated_by: run id, shown in the footer.

    Returns:
        The :class:`Report` (path, checksum, headline figures, sections written).
    """
    import plotly.express as px
    import plotly.graph_objects as go
    from plotly.offline import get_plotlyjs

    start = report_date - dt.timedelta(days=window_days - 1)
    end = report_date + dt.timedelta(days=1)
    rng = {"start": start, "end": end}
    summary = _read(lake, FCT_EMISSIONS_SUMMARY_DAILY, **rng)
    summary = summary[summary["scenario_id"] == scenario_id] if len(summary) else summary
    emissions = _read(lake, FCT_EMISSIONS_DAILY, start=report_date, end=end)
    emissions = emissions[emissions["scenario_id"] == scenario_id] if len(emissions) else emissions
    comp = _read(lake, FCT_EMISSION_COMPLIANCE_DAILY, **rng)
    comp = comp[comp["scenario_id"] == scenario_id].copy() if len(comp) else comp
    if len(comp):  # rows written before the column existed (a lake older than it) carry no projection: derive it
        derived = 100.0 * comp["value"].where(comp["averaging"] == "day", comp["projected_value"]) / comp["limit_value"]
        comp["projected_utilisation_pct"] = (comp["projected_utilisation_pct"].fillna(derived)
                                             if "projected_utilisation_pct" in comp else derived)
    today = summary[pd.to_datetime(summary["emission_date"]).dt.date == report_date] if len(summary) else summary
    plants = sorted(today["plant_id"].unique()) if len(today) else []
    page = _Page()

    # -- headline
    comp_today = comp[pd.to_datetime(comp["emission_date"]).dt.date == report_date] if len(comp) else comp
    n_exceeded = int(comp_today["exceeded"].sum()) if len(comp_today) else 0
    total = float(today["total_market_tco2e"].sum()) if len(today) else None
    cards = [("Total CO2e, market-based (Scopes 1+2+3)", f"{total:,.1f} t" if total is not None else "no data"),
             ("Scope 1", f"{today['scope1_tco2e'].sum():,.1f} t"),
             ("Scope 2 location / market", f"{today['scope2_location_tco2e'].sum():,.1f} / "
                                           f"{today['scope2_market_tco2e'].sum():,.1f} t"),
             ("Scope 3 (cat. 1 + 4)", f"{today['scope3_tco2e'].sum():,.1f} t"),
             ("Biogenic CO2 (reported separately)", f"{today['biogenic_co2_t'].sum():,.1f} t"),
             ("Limits exceeded today", str(n_exceeded))]
    card_html = "".join(f'<div class="card"><div class="v">{html.escape(v)}</div><div class="l">{html.escape(k)}</div>'
                        f"</div>" for k, v in cards)
    if not plants:
        card_html += (f'<p class="note">No emissions in gold for {report_date} (scenario {scenario_id}): run the '
                      f"sensor ingestion for that day, then this pipeline again.</p>")
    # units of gold.fct_emissions_summary_daily
    headline_cols = {"plant_id": "Plant", "scope1_tco2e": "Scope 1 CO2e (t)",
                     "scope2_location_tco2e": "Scope 2 location CO2e (t)", "scope2_market_tco2e": "Scope 2 market CO2e (t)",
                     "scope3_tco2e": "Scope 3 CO2e (t)", "total_market_tco2e": "Total CO2e, market (t)",
                     "biogenic_co2_t": "Biogenic CO2 (t)", "product": "Product", "product_t": "Product made (t)",
                     "intensity_s12_market_kg_per_kg": "Intensity S1+2 market (kg CO2e/kg)",
                     "intensity_total_market_kg_per_kg": "Intensity S1+2 market+3 (kg CO2e/kg)",
                     "coverage_fraction": "Measured-hours coverage (fraction)"}
    per_plant = today[list(headline_cols)].rename(columns=headline_cols) if len(today) else pd.DataFrame()
    page.section("headline", f"Headline, {report_date}", f'<div class="cards">{card_html}</div>' + (
        _table(per_plant, {c: ",.3f" for c in per_plant.columns if c not in ("Plant", "Product")})
        if len(per_plant) else ""))

    # -- by scope, gas and source
    if len(emissions):
        e = emissions[(emissions["scope2_basis"] != "location")].copy()
        e["scope_label"] = e["scope"].map(SCOPE_LABELS)
        fig = px.bar(e.groupby(["plant_id", "scope_label"], as_index=False)["co2e_t"].sum(), x="plant_id", y="co2e_t",
                     color="scope_label", color_discrete_map=SCOPE_COLORS, barmode="stack",
                     title=f"CO2e by scope, {report_date} (t; Scope 2 market-based; biogenic CO2 shown apart)",
                     labels={"co2e_t": "t CO2e", "plant_id": "plant", "scope_label": ""})
        fossil = e[e["scope"] != "biogenic"]
        tree = px.sunburst(fossil[fossil["co2e_t"] > 0], path=["plant_id", "scope_label", "gas", "source"],
                           values="co2e_t", title="CO2e by plant, scope, gas and source (t)")
        tree.update_layout(sunburstcolorway=_palette(fossil["plant_id"].nunique()))  # one colour per plant
        by_gas = fossil.groupby(["plant_id", "gas"], as_index=False)["co2e_t"].sum()
        gas_fig = px.bar(by_gas, x="gas", y="co2e_t", color="plant_id", barmode="group",
                         color_discrete_sequence=_palette(by_gas["plant_id"].nunique()),
                         title="CO2e by gas (t, GWP100 of the set in force)",
                         labels={"co2e_t": "t CO2e", "plant_id": "plant"})
        page.section("by-scope", "CO2e by scope, gas and source",
                     page.figure(fig) + page.figure(tree) + page.figure(gas_fig) +
                     '<p class="note">GHG Protocol: Scope 2 is reported location- and market-based (the charts use '
                     "market-based; the headline table has both). Biogenic CO2 from fermentation and biomass "
                     "combustion is reported separately and is not part of any scope total.</p>")
    else:
        page.section("by-scope", "CO2e by scope, gas and source", '<p class="note">No emission rows for the day.</p>')

    # -- trends and intensity
    if len(summary):
        s = summary.sort_values("emission_date").assign(day=lambda f: pd.to_datetime(f["emission_date"]).dt.strftime(
            "%Y-%m-%d"))
        names = {"scope1_tco2e": "Scope 1", "scope2_market_tco2e": "Scope 2 (market-based)", "scope3_tco2e": "Scope 3"}
        long = s.melt(id_vars=["plant_id", "day"], value_vars=list(names), var_name="scope", value_name="t")
        long["scope"] = long["scope"].map(names)
        trend = px.bar(long, x="day", y="t", color="scope", facet_row="plant_id", barmode="stack",
                       color_discrete_map=SCOPE_COLORS, title=f"Daily CO2e over the last {window_days} days (t)",
                       labels={"day": "", "scope": ""})
        trend.update_yaxes(matches=None, title_text="t CO2e")
        trend.for_each_annotation(lambda a: a.update(text=a.text.split("=")[-1]))
        inten = px.line(s, x="day", y="intensity_total_market_kg_per_kg", color="plant_id", markers=True,
                        color_discrete_sequence=_palette(s["plant_id"].nunique()),
                        title="Emission intensity, kg CO2e per kg of product (Scopes 1+2 market+3, no allocation)",
                        labels={"intensity_total_market_kg_per_kg": "kg CO2e / kg", "day": "", "plant_id": "plant"})
        n_plants = max(len(s["plant_id"].unique()), 1)
        page.section("trends", "Trends and intensity", page.figure(trend, height=200 * n_plants + 100) +
                     page.figure(inten))

    # -- limits
    if len(comp):
        c = comp.copy()
        c["limit"] = c["pollutant"] + " (" + c["averaging"] + ")"
        c["day"] = pd.to_datetime(c["emission_date"]).dt.strftime("%Y-%m-%d")
        # Daily limits: the day's value; yearly limits: the year-end projection at the year-to-date rate.
        c["pct"] = c["projected_utilisation_pct"]
        lim_fig = px.line(c.sort_values("emission_date"), x="day", y="pct", color="plant_id",
                          line_dash="limit", markers=True, color_discrete_sequence=_palette(c["plant_id"].nunique()),
                          title="Use of each emission limit (% of the limit; yearly limits: year-end projection)",
                          labels={"pct": "% of limit", "day": "", "plant_id": "plant"})
        lim_fig.add_hline(y=100, line_color="#b00020", line_dash="dash", annotation_text="limit")
        tbl = comp_today[["plant_id", "pollutant", "averaging", "value", "projected_value", "limit_value", "unit",
                          "projected_utilisation_pct", "status", "document_id", "version"]].rename(columns={
            "plant_id": "Plant", "pollutant": "Pollutant", "averaging": "Averaging", "value": "Value (year to date)",
            "projected_value": "Projected (year end)", "limit_value": "Limit", "unit": "Unit",
            "projected_utilisation_pct": "Projected use of the limit, %", "status": "Status",
            "document_id": "Document", "version": "Version"}) if len(comp_today) else pd.DataFrame()
        window_exc = c[c["exceeded"]][["day", "plant_id", "pollutant", "averaging", "value", "limit_value", "unit"]].rename(
            columns={"day": "Day", "plant_id": "Plant", "pollutant": "Pollutant", "averaging": "Averaging",
                     "value": "Value", "limit_value": "Limit", "unit": "Unit"})
        page.section("limits", "Emission limits and exceedances",
                     page.figure(lim_fig) + "<h3>On the day</h3>" +
                     (_table(tbl, {"Value (year to date)": ",.3f", "Projected (year end)": ",.1f", "Limit": ",.3f",
                                   "Projected use of the limit, %": ".1f"}, status_col="Status") if len(tbl) else "") +
                     f"<h3>Exceedances in the last {window_days} days: {len(window_exc)}</h3>" +
                     (_table(window_exc, {"Value": ",.3f", "Limit": ",.3f"}) if len(window_exc) else "") +
                     '<p class="note">A daily limit is the day\'s value, a yearly one the year-to-date total (days in '
                     "the lake) projected to the year end at its daily rate. One rule for both: \"at_risk\" from 90 % "
                     "of the limit projected, \"exceeded\" over it.</p>")
    else:
        page.section("limits", "Emission limits and exceedances", '<p class="note">No limits in force or no data.</p>')

    for key, title, fn in _OPTIONAL_SECTIONS:
        body = fn(lake, report_date, scenario_id, page, go, px)
        page.section(key, title, body)

    # -- executive summary, first on the page
    page.section("summary", f"Executive summary, {report_date}",
                 _summary_html(lake, report_date, scenario_id, summary, comp_today, window_days))
    page.parts.insert(0, page.parts.pop())
    page.sections.insert(0, page.sections.pop())
    page.section("methods", "Methods, CO2e bases and sources", _methods_html(lake, report_date, scenario_id, summary,
                                                                          emissions))

    # -- lineage
    docs = sorted({d.strip() for v in today.get("documents", pd.Series(dtype=str)) for d in str(v).split(",") if d.strip()})
    factors = emissions[["factor_source"]].drop_duplicates() if len(emissions) else pd.DataFrame()
    page.section("lineage", "Data quality and lineage",
                 f"<p>Regulatory documents in force: {html.escape(', '.join(docs) or 'none')}.</p>" +
                 (f"<p>Factor sources used: {html.escape(', '.join(sorted(factors['factor_source'])))}.</p>"
                  if len(factors) else "") +
                 '<p class="note">Activity data are integrals of metered hourly means in gold.fct_tag_hourly; '
                 "coverage_fraction is the share of measured hours (the rest gap-filled with the day's mean). "
                 "Query the same numbers with SQL: <code>nexus sql \"SELECT * FROM gold.fct_emissions_summary_daily "
                 f"WHERE emission_date = DATE '{report_date}'\"</code>.</p>" +
                 _validation_html(lake, report_date, str(out) if out else report_path(lake, report_date, scenario_id)))

    nav = "".join(f'<a href="#{k}">{k.replace("-", " ")}</a>' for k in page.sections)
    title = f"Nexus sustainability report, {report_date}" + ("" if scenario_id == "base" else f" (scenario {scenario_id})")
    doc = (f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)}</title>'
           f'<meta name="viewport" content="width=device-width, initial-scale=1"><style>{_CSS}</style>'
           f'<script type="text/javascript">{get_plotlyjs()}</script></head><body>'
           f"<header><h1>{html.escape(title)}</h1><p>Plants: {html.escape(', '.join(plants) or 'none')} · "
           f"scenario {html.escape(scenario_id)} · GHG Protocol Corporate Standard, GWP100</p><nav>{nav}</nav></header>"
           f"<main>{''.join(page.parts)}<p class=\"note\">Generated {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC"
           f"{' by ' + html.escape(generated_by) if generated_by else ''} from the lake's gold tables.</p></main>"
           "</body></html>")
    data = doc.encode("utf-8")
    if out is not None:
        storage.folder(Path(out).parent).write_bytes(Path(out).name, data)
        path = str(out)
    else:
        lake.files.write_bytes(report_rel(report_date, scenario_id), data)
        path = report_path(lake, report_date, scenario_id)
    return Report(path, hashlib.sha256(data).hexdigest(), len(data), report_date, scenario_id, plants, total,
                  n_exceeded, page.sections, page.figures)


# ----------------------------------------------------------------------------- optional sections
def _summary_html(lake: Lake, on: dt.date, scenario_id: str, summary: pd.DataFrame, comp_today: pd.DataFrame,
                  window_days: int) -> str:
    """Today against the trailing window and the promised targets, per plant, in one table and a sentence."""
    if summary.empty:
        return '<p class="note">No emissions in gold for the window.</p>'
    s = summary.assign(day=pd.to_datetime(summary["emission_date"]).dt.date)
    today, before = s[s["day"] == on], s[s["day"] < on]
    rows = []
    for plant_id, t in today.groupby("plant_id"):
        b = before[before["plant_id"] == plant_id]
        total, mean = float(t["total_market_tco2e"].sum()), (float(b["total_market_tco2e"].mean()) if len(b) else None)
        inten = t["intensity_total_market_kg_per_kg"].iloc[0]
        inten_mean = b["intensity_total_market_kg_per_kg"].mean() if len(b) else None
        c = comp_today[comp_today["plant_id"] == plant_id] if len(comp_today) else comp_today
        rows.append({"Plant": plant_id, "CO2e today, t": total,
                     f"Mean of the {len(b['day'].unique()) if len(b) else 0} days before, t": mean,
                     "Change, %": None if not mean else 100 * (total - mean) / abs(mean),
                     "Intensity, kg CO2e/kg": inten,
                     "Intensity change, %": None if inten_mean is None or pd.isna(inten_mean) or not inten_mean
                     or pd.isna(inten) else 100 * (inten - inten_mean) / abs(inten_mean),
                     "Limits exceeded / at risk": f"{int((c['status'] == 'exceeded').sum()) if len(c) else 0} / "
                                                  f"{int((c['status'] == 'at_risk').sum()) if len(c) else 0}"})
    tbl = pd.DataFrame(rows)
    targets = ""
    b = _read(lake, "gold.fct_benefits_daily")
    if len(b):
        from optimization.benefits import achieved

        b = b[(b["scenario_id"] == scenario_id) & (pd.to_datetime(b["benefit_date"]).dt.date <= on)]
        a = achieved(b)
        a = a[a["policy"] == "max_profit_no_co2e_increase"] if len(a) else a
        if len(a):
            met = a.groupby("plant_id")["met"].agg(lambda v: f"{int(v.fillna(False).sum())} of {len(v)}")
            tbl["Promised targets met (default policy)"] = tbl["Plant"].map(met).fillna("none promised")
            targets = (f" Of the {len(a)} benefits the origin documents promise, the default decision policy meets "
                       f"{int(a['met'].fillna(False).sum())} in the replays (section Optimized vs baseline).")
    fleet = float(today["total_market_tco2e"].sum())
    fleet_mean = float(before.groupby("day")["total_market_tco2e"].sum().mean()) if len(before) else None
    trend = "" if not fleet_mean else f", {100 * (fleet - fleet_mean) / abs(fleet_mean):+.1f} % against the mean of " \
                                      f"the {before['day'].nunique()} days before"
    exceeded = int((comp_today["status"] == "exceeded").sum()) if len(comp_today) else 0
    at_risk = int((comp_today["status"] == "at_risk").sum()) if len(comp_today) else 0
    text = (f"<p><b>{fleet:,.1f} t CO2e</b> today (Scopes 1 + 2 market-based + 3, every plant){trend}. "
            f"{exceeded} emission limit(s) exceeded, {at_risk} at risk (90 % of the limit, projected).{targets}</p>")
    fmt = {"CO2e today, t": ",.1f", "Change, %": "+.1f", "Intensity, kg CO2e/kg": ".3f", "Intensity change, %": "+.1f"}
    fmt |= {c: ",.1f" for c in tbl.columns if c.startswith("Mean of")}
    return text + _table(tbl, fmt) + (f'<p class="note">The trend window is {window_days} days; every CO2e in this '
                                      "summary is market-based Scopes 1 + 2 + 3 (see Methods).</p>")


def _methods_html(lake: Lake, on: dt.date, scenario_id: str, summary: pd.DataFrame, emissions: pd.DataFrame) -> str:
    """The CO2e basis of each section, the inventory reconciled with the LCA, and the sources of factors."""
    parts = ["<h3>Which CO2e each section shows</h3><ul>"
             "<li><b>Executive summary, headline, trends</b>: the GHG inventory (GHG Protocol), Scopes 1 + 2 "
             "market-based + 3 (categories 1 and 4) per plant and day; Scope 2 location-based beside it in the headline "
             "table; biogenic CO2 apart.</li>"
             "<li><b>Optimizer, Pareto fronts, Optimized vs baseline</b>: Scope 1 + Scope 2 location-based, the physical "
             "footprint the plant's set points move, per hour of operation.</li>"
             "<li><b>Life cycle assessment</b>: cradle-to-gate GWP100 per kg of product (matrix LCA with background "
             "processes, co-product allocation or system expansion).</li></ul>"]
    res = _latest(_read(lake, "gold.fct_lca_results"), "assessment_date", on)
    day = summary[pd.to_datetime(summary["emission_date"]).dt.date == on] if len(summary) else summary
    if len(res) and len(day):
        lca = res[(res["scenario_id"] == scenario_id) & (res["impact_category"] == "climate_change_gwp100")
                  & (res["allocation"] == "system_expansion")].set_index("product")["value"]
        rows = [{"Product": r.product, "Inventory, kg CO2e/kg (S1 + S2 market + S3)": r.intensity_total_market_kg_per_kg,
                 "LCA cradle to gate, kg CO2e/kg": lca.get(r.product),
                 "Difference, kg CO2e/kg": None if r.product not in lca or pd.isna(r.intensity_total_market_kg_per_kg)
                 else lca[r.product] - r.intensity_total_market_kg_per_kg}
                for r in day.dropna(subset=["product"]).itertuples()]
        if rows:
            parts.append("<h3>The inventory reconciled with the LCA</h3>" + _table(pd.DataFrame(rows), {
                "Inventory, kg CO2e/kg (S1 + S2 market + S3)": ".3f", "LCA cradle to gate, kg CO2e/kg": ".3f",
                "Difference, kg CO2e/kg": "+.3f"}) + '<p class="note">They differ by design: the inventory\'s Scope 2 is '
                "market-based (the supplier's or the residual mix), the LCA's electricity the region's location-based "
                "grid mix -- for the smelter's Norwegian power most of the gap; the inventory counts the "
                "day's metered activity with Scope 3 limited to purchased goods (category 1) and inbound transport "
                "(category 4), no co-product credit and no biogenic uptake; the LCA models a design hour of the plant "
                "with full background supply chains, credits the exported electricity (system expansion) and counts the "
                "biogenic carbon taken up by the feedstock.</p>")
    if len(emissions):
        # the market-based inventory (Scope 2 once, biogenic CO2 outside it), as the headline counts it
        counted = emissions[(emissions["scope2_basis"] != "location") & (emissions["scope"] != "biogenic")]
        src = (counted.groupby(["factor_source"], as_index=False).agg(rows=("co2e_t", "size"),
                                                                     t_co2e=("co2e_t", "sum"))
               .sort_values("t_co2e", ascending=False)
               .rename(columns={"factor_source": "Factor source (document and version)", "rows": "Rows",
                                "t_co2e": "t CO2e on the day (market-based)"}))
        gwp = ", ".join(sorted({f"{a} ({b})" for a, b in zip(emissions["gwp_set"], emissions["gwp_source"]) if b}))
        parts.append(f"<h3>Sources of the factors used on {on}</h3>" + _table(src, {
                     "t CO2e on the day (market-based)": ",.2f"})
                     + f'<p class="note">GWP100: {html.escape(gwp)}. LCA background factors, their uncertainty and '
                     "sources: sustainability/data/background.yaml. Grid, fuel and process factors and emission limits "
                     "come from the regulatory feed's documents in force that day (silver.regulatory__rules).</p>")
    return "".join(parts)


def _validation_html(lake: Lake, on: dt.date, page_path: str | Path) -> str:
    """The day's validation results (gold.fct_validation_results) with links into the Data Docs site.

    Links are relative to the page (``page_path``, a local path or an ``s3://`` URI), so they work
    wherever the lake's files are opened or served from.
    """
    import posixpath

    from warehouse.validation_docs import RESULTS_PAGE, docs_index, results_page

    def bare(location: str | Path) -> str:
        return str(location).split("://", 1)[-1]

    def link(target: str | Path, text: str) -> str:
        rel = posixpath.relpath(bare(target), posixpath.dirname(bare(page_path)))
        return f'<a href="{html.escape(rel)}">{html.escape(text)}</a>'

    index, listing = docs_index(lake), results_page(lake)
    if not lake.files.exists(RESULTS_PAGE):
        out = '<p class="note">No validation results yet (they are recorded when a pipeline validates a batch).</p>'
    elif index is not None and index.exists():
        out = (f"<p>Validation results, every batch and expectation: {link(listing, 'all validation results')} "
               f"(a plain list that works offline) and the {link(index, 'Great Expectations Data Docs')} site "
               "(its index lists results with scripts from public CDNs).</p>")
    else:
        out = (f"<p>Validation results, every batch and expectation: {link(listing, 'all validation results')}, "
               "each linked to its Great Expectations Data Docs page.</p>")
    res = _read(lake, "gold.fct_validation_results")
    if len(res):
        first = pd.to_datetime(res["first_day"]).dt.date
        last = pd.to_datetime(res["last_day"]).dt.date
        res = res[(first <= on) & (last >= on)].sort_values("validated_at").drop_duplicates(["suite", "batch_id"], keep="last")
    if len(res):
        rows = []
        for _, r in res.sort_values(["suite", "batch_id"]).iterrows():
            page = (link(lake.files.uri(r["data_docs_path"]), "result") if isinstance(r["data_docs_path"], str) else "")
            rows.append(f"<tr><td>{html.escape(r['suite'])}</td><td>{html.escape(r['batch_id'])}</td>"
                        f'<td class="{"ok" if r["success"] else "exceeded"}">{"passed" if r["success"] else "failed"}</td>'
                        f"<td>{int(r['rows_failed']):,} / {int(r['rows_validated']):,}</td>"
                        f"<td>{html.escape(r['failures'] if isinstance(r['failures'], str) else '')}</td>"
                        f"<td>{page}</td></tr>")
        out += ('<h3>Validations of the day</h3><div class="scroll"><table><thead><tr><th>Suite</th><th>Batch</th>'
                "<th>Outcome</th><th>Rows failed / validated</th><th>Failures</th><th>Data Docs</th></tr></thead>"
                f"<tbody>{''.join(rows)}</tbody></table></div>")
    return out + ('<p class="note">Trace any gold table to the Delta versions and runs it was computed from: '
                  "<code>nexus lineage gold.fct_reports</code>.</p>")


def _latest(df: pd.DataFrame, date_col: str, on: dt.date) -> pd.DataFrame:
    if df.empty:
        return df
    d = pd.to_datetime(df[date_col]).dt.date
    df = df[d <= on]
    if df.empty:
        return df
    last = pd.to_datetime(df[date_col]).dt.date.max()
    return df[pd.to_datetime(df[date_col]).dt.date == last]


def _lca_section(lake: Lake, on: dt.date, scenario_id: str, page: _Page, go: Any, px: Any) -> str:
    res = _latest(_read(lake, "gold.fct_lca_results"), "assessment_date", on)
    if len(res):
        res = res[res["scenario_id"] == scenario_id]
    if res.empty:
        return '<p class="note">No LCA results in gold.fct_lca_results yet.</p>'
    parts = []
    gwp = res[res["impact_category"] == "climate_change_gwp100"]
    fig = go.Figure()
    for alloc, g in gwp.groupby("allocation"):
        fig.add_trace(go.Bar(x=g["product"], y=g["value"], name=alloc,
                             error_y={"type": "data", "symmetric": False, "array": (g["p97_5"] - g["value"]).clip(lower=0),
                                      "arrayminus": (g["value"] - g["p2_5"]).clip(lower=0)}))
    fig.update_layout(title="Cradle-to-gate GWP100 per kg of product, with the 95 % Monte Carlo interval",
                      yaxis_title="kg CO2e / kg", barmode="group")
    parts.append(page.figure(fig))
    contrib = _latest(_read(lake, "gold.fct_lca_contributions"), "assessment_date", on)
    if len(contrib):
        c = contrib[(contrib["scenario_id"] == scenario_id) & (contrib["impact_category"] == "climate_change_gwp100")]
        default = "system_expansion" if (c["allocation"] == "system_expansion").any() else \
            (c["allocation"].iloc[0] if len(c) else None)
        c = c[c["allocation"] == default]
        if len(c):
            # one distinct colour per process (plotly's default 10-colour cycle repeats over 15 processes)
            parts.append(page.figure(px.bar(c, x="product", y="value", color="process", barmode="relative",
                                            color_discrete_sequence=_palette(c["process"].nunique(),
                                                                             px.colors.qualitative.Dark24),
                                            title=f"Contribution of each process to GWP100 ({default} allocation)",
                                            labels={"value": "kg CO2e / kg"})))
    # the unit of each value is its row's (per kg of product): kg CO2e, MJ or m3
    tbl = res[["product", "allocation", "impact_category", "unit", "value", "p2_5", "p97_5", "n_samples"]]
    tbl = tbl.sort_values(["product", "impact_category", "allocation"]).rename(columns={
        "product": "Product", "allocation": "Allocation", "impact_category": "Impact category",
        "unit": "Unit (per kg of product)", "value": "Value", "p2_5": "2.5th percentile",
        "p97_5": "97.5th percentile", "n_samples": "Monte Carlo samples"})
    parts.append(_table(tbl, {"Value": ".4g", "2.5th percentile": ".4g", "97.5th percentile": ".4g"}))
    return "".join(parts)


def _heat_section(lake: Lake, on: dt.date, scenario_id: str, page: _Page, go: Any, px: Any) -> str:
    hi = _latest(_read(lake, "gold.fct_heat_integration"), "assessment_date", on)
    if hi.empty:
        return '<p class="note">No heat-integration results in gold.fct_heat_integration yet.</p>'
    from sustainability.pinch import (
        Stream,
        composite_curves_figure,
        grand_composite_figure,
        pinch_analysis,
    )

    parts = []
    for r in hi.itertuples():
        streams = [Stream(s["name"], s["supply_c"], s["target_c"], s["cp_kw_k"]) for s in json.loads(r.streams_json)]
        result = pinch_analysis(streams, r.dt_min_k)
        parts.append(f"<h3>{html.escape(r.plant_id)}</h3><p>Minimum hot utility {r.hot_utility_min_kw:,.0f} kW against "
                     f"{r.current_hot_kw:,.0f} kW used today (saving {r.hot_saving_kw:,.0f} kW, {r.hot_saving_pct:.1f} %); "
                     f"minimum cold utility {r.cold_utility_min_kw:,.0f} kW against {r.current_cold_kw:,.0f} kW "
                     f"(saving {r.cold_saving_kw:,.0f} kW, {r.cold_saving_pct:.1f} %). "
                     + (f"Pinch at {r.pinch_hot_c:.1f} °C (hot side) / {r.pinch_cold_c:.1f} °C (cold side), "
                        if pd.notna(r.pinch_hot_c) else "No pinch (threshold problem), ")
                     + f"ΔTmin = {r.dt_min_k:g} K.</p>")
        parts.append(page.figure(composite_curves_figure(result)) + page.figure(grand_composite_figure(result)))
    return "".join(parts)


def _recommendations_section(lake: Lake, on: dt.date, scenario_id: str, page: _Page, go: Any, px: Any) -> str:
    rec = _read(lake, "gold.fct_setpoint_recommendations")
    if rec.empty:
        return ('<p class="note">No setpoint recommendations yet: the optimize_setpoints pipeline has not written '
                "gold.fct_setpoint_recommendations.</p>")
    rec = _latest(rec[rec["scenario_id"] == scenario_id], "recommendation_date", on)
    if rec.empty:
        return '<p class="note">No recommendations on or before this day for this scenario.</p>'
    day = pd.to_datetime(rec["recommendation_date"]).dt.date.max()
    per_plant = rec.groupby("plant_id", as_index=False).first()
    fig = go.Figure()
    front = _read(lake, "gold.fct_pareto_front")
    if len(front):
        front = front[(front["scenario_id"] == scenario_id)
                      & (pd.to_datetime(front["recommendation_date"]).dt.date == day)]
    for plant_id, f in front.groupby("plant_id") if len(front) else []:
        f = f.sort_values("point")
        cur = per_plant[per_plant["plant_id"] == plant_id]
        fig = go.Figure()
        fig.add_trace(go.Scatter(x=f["co2e_kg_h"], y=f["profit_usd_h"], mode="lines+markers", name="Pareto front",
                                 hovertext=f["setpoints_json"]))
        if len(cur):
            fig.add_trace(go.Scatter(x=cur["current_co2e_kg_h"], y=cur["current_profit_usd_h"], mode="markers",
                                     marker={"size": 12, "symbol": "x"}, name="current operating point"))
            fig.add_trace(go.Scatter(x=cur["expected_co2e_kg_h"], y=cur["expected_profit_usd_h"], mode="markers",
                                     marker={"size": 12, "symbol": "star"}, name="recommendation"))
        fig.update_layout(title=f"{plant_id}: profit vs CO2e (epsilon-constraint front), {day}",
                          xaxis_title="CO2e, kg/h (Scope 1 + Scope 2 location)", yaxis_title="operating profit, USD/h")
        page_fig = page.figure(fig, height=360)
        per_plant.loc[per_plant["plant_id"] == plant_id, "chart"] = page_fig
    # units of gold.fct_setpoint_recommendations; CO2e is Scope 1 + location-based Scope 2
    summary = per_plant[["plant_id", "current_profit_usd_h", "expected_profit_usd_h", "delta_profit_usd_h",
                         "current_co2e_kg_h", "expected_co2e_kg_h", "delta_co2e_kg_h", "model_version",
                         "active_constraints"]].rename(columns={
        "plant_id": "Plant", "current_profit_usd_h": "Current profit (USD/h)",
        "expected_profit_usd_h": "Expected profit (USD/h)", "delta_profit_usd_h": "Δ profit (USD/h)",
        "current_co2e_kg_h": "Current CO2e (kg/h)", "expected_co2e_kg_h": "Expected CO2e (kg/h)",
        "delta_co2e_kg_h": "Δ CO2e (kg/h)", "model_version": "Model version", "active_constraints": "Active constraints"})
    setpoints = rec[["plant_id", "setpoint", "unit", "current_value", "recommended_value", "lower_bound",
                     "upper_bound"]].sort_values(["plant_id", "setpoint"]).rename(columns={
        "plant_id": "Plant", "setpoint": "Setpoint", "unit": "Unit", "current_value": "Current value",
        "recommended_value": "Recommended value", "lower_bound": "Lower bound", "upper_bound": "Upper bound"})
    charts = "".join(per_plant["chart"].dropna()) if "chart" in per_plant else ""
    return (f"<p>Recommendations for {day} (prices, carbon price and limits in force that day; latest calibration)."
            "</p>" + _table(summary, {c: ",.2f" for c in summary.columns if summary[c].dtype.kind == "f"})
            + _table(setpoints, {c: ".4g" for c in ("Current value", "Recommended value", "Lower bound", "Upper bound")})
            + charts)


def _benefits_section(lake: Lake, on: dt.date, scenario_id: str, page: _Page, go: Any, px: Any) -> str:
    """Optimized vs baseline: the origin documents' targets against the counterfactual replays."""
    from optimization.benefits import KPI_LABELS, achieved

    b = _read(lake, "gold.fct_benefits_daily")
    if len(b):
        b = b[(b["scenario_id"] == scenario_id) & (pd.to_datetime(b["benefit_date"]).dt.date <= on)]
    if b.empty:
        return ('<p class="note">No replays yet: the replay_benefits task of this pipeline (benefit_days > 0) or '
                "replay_scenario writes gold.fct_benefits_daily.</p>")
    days = sorted(pd.to_datetime(b["benefit_date"]).dt.date.unique())
    a = achieved(b)
    parts = [f"<p>The calibrated twin re-ran {len(days)} day(s) ({days[0]} to {days[-1]}) over their steady hours: "
             "once as operated (the baseline) and once per decision policy, each applied through the write-back's "
             "steps and ramps. Changes are the period's totals against the baseline, &plusmn; one sigma from the "
             "calibration's uncertainty.</p>"]
    base = b[b["policy"] == "baseline"]
    repro = base.groupby("plant_id").agg(days=("benefit_date", "nunique"), hours=("hours_replayed", "sum"),
                                         bias=("reproduction_bias_pct", "mean"), mape=("reproduction_mape_pct", "mean"),
                                         ok=("reproduces", lambda v: bool(v.fillna(False).all())),
                                         tag=("reproduction_tag", "first")).reset_index()
    parts.append("<h3>Does the baseline replay reproduce the historian?</h3>" + _table(
        repro.rename(columns={"plant_id": "Plant", "days": "Days", "hours": "Steady hours replayed",
                              "tag": "Checked against", "bias": "Bias of the day, %", "mape": "Hourly error, %",
                              "ok": "Reproduces (bias <= 2 %, error <= 3 %)"}),
        {"Bias of the day, %": "+.2f", "Hourly error, %": ".2f"}))
    if len(a):
        rows = []
        for (plant_id, kpi), g in a.groupby(["plant_id", "kpi"], sort=True):
            default = g[g["policy"] == "max_profit_no_co2e_increase"]
            up = g["target_pct"].iloc[0] >= 0
            best = g.sort_values("achieved_pct", ascending=not up).iloc[0]
            promised = g["target_pct"].iloc[0]
            stretch = g["target_stretch_pct"].iloc[0]
            met_by = sorted(g.loc[g["met"].fillna(False).astype(bool), "policy"])
            why = ""
            if not met_by:
                params = b[(b["plant_id"] == plant_id) & (b["policy"] == best["policy"])]["policy_params_json"]
                active = sorted({c for raw in params for c in json.loads(raw).get("active_constraints", [])})
                why = (f"best {best['achieved_pct']:+.1f} % ({best['policy']}), "
                       f"{abs(promised - best['achieved_pct']):.1f} points short"
                       + (f"; at its bounds: {', '.join(active)}" if active else "")
                       + ("" if best["baseline_reproduces"] else "; the baseline replay misses the historian"))
            fmt = lambda r: "" if r is None or pd.isna(r["achieved_pct"]) else (  # noqa: E731
                f"{r['achieved_pct']:+.1f} %" + (f" ± {r['achieved_sd_pct']:.1f}" if pd.notna(r["achieved_sd_pct"])
                                                  else ""))
            rows.append({"Plant": plant_id, "Promise": KPI_LABELS.get(kpi, kpi),
                         "Target": f"{promised:+g} %" + ("" if stretch == promised else f" to {stretch:+g} %"),
                         "Default policy": fmt(default.iloc[0]) if len(default) else "",
                         "Best policy": best["policy"], "Best achieves": fmt(best),
                         "Met by": ", ".join(met_by) or "none", "Why not": why,
                         "status": "ok" if met_by else "exceeded"})
        tbl = pd.DataFrame(rows)
        parts.append("<h3>Promised against replayed</h3>" + _table(tbl.drop(columns="status"))
                     + f'<p class="note">Sources: {html.escape("; ".join(sorted(set(a["source"]))))}. The default '
                     "policy (max_profit_no_co2e_increase) never raises the day's CO2e above the baseline's (where the ramps "
                     "to its point would, the replay cuts the move short and says so in policy_params_json); "
                     "SQL: <code>nexus sql \"SELECT * FROM gold.v_benefit_targets\"</code>.</p>")
    policies = [p for p in ("max_profit", "max_profit_no_co2e_increase", "internal_carbon_price",
                            "min_co2e_profit_floor", "co2e_budget") if p in set(b["policy"])]
    colors = dict(zip(policies, px.colors.qualitative.Safe))
    kpis = ["profit", "specific_energy", "energy_cost_per_unit", "waste_per_unit", "co2e", "co2e_per_unit"]
    pol = b[b["policy"] != "baseline"]
    for plant_id, g in pol.groupby("plant_id"):
        fig = go.Figure()
        means = g.groupby("policy")[[f"delta_{k}_pct" for k in kpis] + [f"delta_{k}_pct_sd" for k in kpis]].mean()
        for p in policies:
            if p not in means.index:
                continue
            fig.add_trace(go.Bar(name=p, x=[KPI_LABELS[k] for k in kpis], marker_color=colors[p],
                                 y=[means.loc[p, f"delta_{k}_pct"] for k in kpis],
                                 error_y={"type": "data", "array": [means.loc[p, f"delta_{k}_pct_sd"] for k in kpis]}))
        fig.add_hline(y=0, line_color="#555")
        fig.update_layout(barmode="group", title=f"{plant_id}: change against the baseline by decision policy "
                          f"(mean of {g['benefit_date'].nunique()} replayed day(s))", yaxis_title="change, %")
        parts.append(page.figure(fig, height=360))
    k = _read(lake, "gold.fct_kpis_daily")
    if len(k):
        k = k[(k["scenario_id"] == scenario_id) & (pd.to_datetime(k["kpi_date"]).dt.date == on)]
    if len(k):
        tbl = pd.DataFrame({"Plant": k["plant_id"], "Product": k["product"] + ", " + k["product_unit"],
                            "Made": k["product_amount"], "Operating profit, USD": k["operating_profit_usd"],
                            "Energy, GJ per unit": k["specific_energy_gj_per_unit"],
                            "Waste per unit": k["waste_per_unit"].map(lambda v: f"{v:.4g}") + " " + k["waste_unit"]
                            + "/" + k["product_unit"],
                            "CO2e (S1+S2 location), t per unit": k["intensity_s12_t_per_unit"],
                            "Water, m3 per unit": k["water_m3_per_unit"]})
        parts.append(f"<h3>Measured KPIs on {on}</h3>" + _table(tbl, {
            "Made": ",.2f", "Operating profit, USD": ",.0f", "Energy, GJ per unit": ".3g",
            "CO2e (S1+S2 location), t per unit": ".4g", "Water, m3 per unit": ".3g"})
            + '<p class="note">Measured from the historian (gold.fct_kpis_daily); waste and energy are defined per '
            "plant type in the table's waste_definition and energy_definition columns.</p>")
    return "".join(parts)


def _health_section(lake: Lake, on: dt.date, scenario_id: str, page: _Page, go: Any, px: Any) -> str:
    """The day's detected events, sensor health and remaining useful life (monitoring, from the data alone)."""
    day0 = pd.Timestamp(on).tz_localize("UTC")
    day1 = day0 + pd.Timedelta(days=1)
    parts = []
    events = _read(lake, "gold.fct_events")
    if events.empty:
        parts.append('<p class="note">No event frames yet: the monitor_plants pipeline has not written gold.fct_events.</p>')
    else:
        ev = events[(events["start_at"] < day1) & (events["end_at"].isna() | (events["end_at"] > day0))]
        ev = ev[ev["kind"] != "transient"]
        parts.append(f"<h3>Events on {on}: {len(ev)} (transients left out)</h3>")
        if len(ev):
            ev = ev.sort_values(["plant_id", "start_at"]).assign(
                start=lambda d: d["start_at"].dt.strftime("%Y-%m-%d %H:%M"),
                end=lambda d: d["end_at"].dt.strftime("%Y-%m-%d %H:%M").fillna("open"))
            ev = ev[["plant_id", "unit", "kind", "start", "end", "duration_h", "severity", "peak_score", "top_tags",
                     "detail"]].rename(columns={
                "plant_id": "Plant", "unit": "Unit operation", "kind": "Kind", "start": "Start (UTC)", "end": "End (UTC)",
                "duration_h": "Duration (h)", "severity": "Severity", "peak_score": "Peak score (× limit)",
                "top_tags": "Top tags", "detail": "Detail"})
            parts.append(_table(ev, {"Duration (h)": ".0f", "Peak score (× limit)": ".2f"}, status_col="Severity"))
    health = _read(lake, "gold.fct_tag_health", start=day0.to_pydatetime(), end=day1.to_pydatetime())
    if len(health):
        per_tag = (health[health["flagged_count"] > 0].groupby(["plant_id", "tag"], as_index=False)
                   .agg(flagged_hours=("hour_start", "nunique"), flagged_readings=("flagged_count", "sum"),
                        stuck=("stuck_count", "sum"), spike=("spike_count", "sum"), drift=("drift_count", "sum"),
                        noise=("noise_count", "sum"), reason=("reason", "first")))
        n_tags = health.groupby("plant_id")["tag"].nunique()
        parts.append(f"<h3>Sensor health on {on}: {len(per_tag)} of {int(n_tags.sum())} tags with flagged readings</h3>")
        if len(per_tag):
            parts.append(_table(per_tag.sort_values(["plant_id", "flagged_readings"], ascending=[True, False]).rename(
                columns={"plant_id": "Plant", "tag": "Tag", "flagged_hours": "Hours with flags",
                         "flagged_readings": "Flagged readings", "stuck": "Stuck", "spike": "Spike", "drift": "Drift",
                         "noise": "Noise", "reason": "Main reason"})))
    scores = _read(lake, "gold.fct_monitor_scores", where={"unit": "plant"}, start=(day0 - pd.Timedelta(days=6)).to_pydatetime(),
                   end=day1.to_pydatetime())
    scores = scores.dropna(subset=["t2"]) if len(scores) else scores
    if len(scores):
        fig = go.Figure()
        colours = _palette(scores["plant_id"].nunique())
        for i, (plant_id, g) in enumerate(scores.groupby("plant_id")):
            g = g.sort_values("hour_start")
            ratio = np.fmax(g["t2"] / g["t2_limit"], g["spe"] / g["spe_limit"])
            fig.add_trace(go.Scatter(x=g["hour_start"], y=ratio, mode="lines", name=plant_id,
                                     line={"color": colours[i]}))
        fig.add_hline(y=1.0, line_dash="dash", annotation_text="control limit")
        fig.update_layout(title="PCA monitoring, last 7 days: max(T2/limit, SPE/limit) per plant (above 1 = alarm)",
                          yaxis_type="log", yaxis_title="statistic / limit")
        parts.append(page.figure(fig, height=340))
    assets = _latest(_read(lake, "gold.fct_asset_health"), "assessed_date", on)
    if len(assets):
        parts.append("<h3>Asset health and remaining useful life</h3>")
        # units of gold.fct_asset_health; the indicator's own unit is its row's
        tbl = assets[["plant_id", "asset", "indicator", "indicator_value", "unit", "threshold", "rul_p10_days",
                      "rul_p50_days", "rul_p90_days", "status", "recommendation"]].rename(columns={
            "plant_id": "Plant", "asset": "Asset", "indicator": "Indicator", "indicator_value": "Indicator value",
            "unit": "Unit", "threshold": "Threshold", "rul_p10_days": "RUL P10 (d)", "rul_p50_days": "RUL P50 (d)",
            "rul_p90_days": "RUL P90 (d)", "status": "Status", "recommendation": "Recommendation"})
        parts.append(_table(tbl, {"Indicator value": ".4g", "Threshold": ".4g", "RUL P10 (d)": ".0f",
                                  "RUL P50 (d)": ".0f", "RUL P90 (d)": ".0f"}, status_col="Status"))
    else:
        parts.append('<p class="note">No remaining-useful-life assessment yet (gold.fct_asset_health).</p>')
    parts.append('<p class="note">Detected from historian data alone (models.sensor_health, models.monitoring): '
                 "flagged readings stay in silver with their reason; <code>nexus sql \"SELECT * FROM gold.fct_events "
                 "ORDER BY start_at DESC\"</code>.</p>")
    return "".join(parts)


def _sensitivity_section(lake: Lake, on: dt.date, scenario_id: str, page: _Page, go: Any, px: Any) -> str:
    """Sobol' total- and first-order indices of profit and CO2e per plant (gold.fct_sensitivity_indices)."""
    idx = _read(lake, "gold.fct_sensitivity_indices", where={"scenario_id": scenario_id},
                end=on + dt.timedelta(days=1))
    if idx.empty:
        return ('<p class="note">No sensitivity indices on or before this day: the sensitivity step has not written '
                "gold.fct_sensitivity_indices.</p>")
    idx = pd.concat([_latest(g, "analysis_date", on) for _, g in idx.groupby("plant_id")], ignore_index=True)
    outputs = {"profit_usd_h": "Profit, USD/h", "co2e_kg_h": "CO2e, kg/h"}
    idx = idx.assign(output_label=idx["output"].map(outputs).fillna(idx["output"]))
    idx = idx.sort_values(["plant_id", "output", "total_order"], ascending=[True, False, True])
    parameters = sorted(idx["parameter"].unique())  # 19 over the default fleet; Dark24 would cycle past 24
    palette = dict(zip(parameters, _palette(len(parameters), px.colors.qualitative.Dark24), strict=False))
    fig = px.bar(idx, x="total_order", y="output_label", color="parameter", orientation="h", barmode="group",
                 facet_row="plant_id", color_discrete_map=palette,
                 error_x=(idx["total_order_high"] - idx["total_order"]).clip(lower=0),
                 error_x_minus=(idx["total_order"] - idx["total_order_low"]).clip(lower=0),
                 labels={"total_order": "total-order index S_T (share of the output variance)", "output_label": "",
                         "parameter": "parameter", "plant_id": "plant"},
                 title="Total-order Sobol' index of each calibrated parameter, with the bootstrap 95 % interval")
    fig.update_yaxes(matches=None)
    fig.for_each_annotation(lambda a: a.update(text=a.text.split("=")[-1]))
    n_plants = idx["plant_id"].nunique()
    chart = page.figure(fig, height=170 * n_plants + 120)
    tbl = idx.assign(interval=[f"{lo:.2f} to {hi:.2f}" if pd.notna(lo) and pd.notna(hi) else ""
                               for lo, hi in zip(idx["total_order_low"], idx["total_order_high"], strict=True)])
    tbl = tbl[["plant_id", "output_label", "parameter", "total_order", "interval", "first_order", "output_mean",
               "output_sd", "n_samples", "model_version", "analysis_date"]].rename(columns={
        "plant_id": "Plant", "output_label": "Output", "parameter": "Parameter", "total_order": "Total order S_T",
        "interval": "S_T 95 % interval", "first_order": "First order S_1", "output_mean": "Output mean",
        "output_sd": "Output SD", "n_samples": "Model runs", "model_version": "Calibration",
        "analysis_date": "Day"})
    tbl = tbl.sort_values(["Plant", "Output", "Total order S_T"], ascending=[True, True, False])
    note = ('<p class="note">Method: Sobol\' variance decomposition (Saltelli et al. 2010 sampling, Jansen total '
            "order, bootstrap 95 % intervals; models.sensitivity) of each plant's profit and CO2e at the day's current "
            "operating point, with each calibrated parameter drawn from a normal law (estimate, standard error) "
            "truncated to its physical range and taken as independent; S_T is the share of the output's variance a "
            "parameter explains with its interactions, S_1 alone; parameters without a standard error are held "
            "fixed (0).</p>")
    return chart + _table(tbl, {"Total order S_T": ".2f", "First order S_1": ".2f", "Output mean": ",.4g",
                                "Output SD": ".3g"}) + note


_OPTIONAL_SECTIONS: Sequence[tuple[str, str, Callable[..., str]]] = (
    ("plant-health", "Plant health: events, sensor health and remaining useful life", _health_section),
    ("lca", "Life cycle assessment (cradle to gate, per kg of product)", _lca_section),
    ("heat-integration", "Heat integration opportunity (pinch analysis)", _heat_section),
    ("recommendations", "Optimizer recommendations", _recommendations_section),
    ("benefits", "Optimized vs baseline: the promised benefits, replayed", _benefits_section),
    ("sensitivity", "What drives profit and CO2e: sensitivity to the calibrated parameters", _sensitivity_section),
)
