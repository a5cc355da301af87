"""The daily sustainability report, opened in a real browser (Debian's headless Chromium).

Checks that every chart renders (plotly draws its SVG), the page logs no errors, the file needs no
network (plotly.js is embedded: no external script, stylesheet or CDN), and keeps a screenshot in
``test-artifacts/sustainability-report/`` (``NEXUS_TEST_ARTIFACTS`` overrides the folder).
"""

from __future__ import annotations

import datetime as dt
import os
import re
import time
from html.parser import HTMLParser
from pathlib import Path

import pandas as pd
import pytest

from sustainability.pipeline import compute_emissions, compute_heat_integration, compute_lca, write_report
from warehouse.lake import CommitMeta
from warehouse.tables import (
    FCT_ASSET_HEALTH,
    FCT_EMISSION_COMPLIANCE_DAILY,
    FCT_REPORTS,
    FCT_SETPOINT_RECOMMENDATIONS,
)

ROOT = Path(__file__).resolve().parents[2]
META = CommitMeta(dag_id="pytest", run_id="report-test", source="test")
DAY = dt.date(2026, 3, 2)


@pytest.fixture
def artifacts() -> Path:
    folder = Path(os.environ.get("NEXUS_TEST_ARTIFACTS", ROOT / "test-artifacts")) / "sustainability-report"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@pytest.fixture
def report(copy_lake):
    compute_emissions(copy_lake, dt.date(2026, 3, 1), DAY + dt.timedelta(days=1), meta=META)
    compute_heat_integration(copy_lake, DAY, meta=META)
    return copy_lake, write_report(copy_lake, DAY, meta=META)


def test_report_is_listed_in_gold_and_self_contained(report):
    lake, out = report
    listed = lake.read(FCT_REPORTS).to_pandas()
    assert listed[["report_date", "path"]].astype(str).values.tolist() == [["2026-03-02",
                                                                            "reports/sustainability/2026-03-02.html"]]
    path = Path(out["absolute_path"])
    assert (path.parent / "latest.html").read_bytes() == path.read_bytes()
    text = path.read_text(encoding="utf-8")
    assert not re.search(r"<script[^>]+src=|<link[^>]+href=", text), "the report must not load anything"
    head, _, rest = text.partition('<script type="text/javascript">')
    plotly_js, _, page = rest.partition("</script>")
    assert len(plotly_js) > 1_000_000  # plotly.js itself, embedded
    assert not re.search(r"https?://", head + page), "no URL outside the embedded library"
    for section in ("summary", "headline", "by-scope", "trends", "limits", "lca", "heat-integration", "recommendations",
                    "benefits", "methods",
                    "sensitivity"):
        assert f'id="{section}"' in text
    assert out["total_market_tco2e"] > 0 and out["exceedances"] >= 0


@pytest.mark.browser
def test_report_renders_in_chromium_without_errors(report, browser, artifacts):
    _, out = report
    browser.get(Path(out["absolute_path"]).as_uri())
    deadline = time.time() + 30
    while time.time() < deadline:
        drawn = browser.execute_script(
            "return [document.querySelectorAll('.js-plotly-plot').length,"
            " document.querySelectorAll('.js-plotly-plot .main-svg').length]")
        if drawn[0] == out["figures"] and drawn[1] >= drawn[0]:
            break
        time.sleep(0.5)
    assert drawn[0] == out["figures"] >= 6, drawn
    # Every chart has data drawn: bars, lines, points or sunburst sectors.
    empty = browser.execute_script(
        "return [...document.querySelectorAll('.js-plotly-plot')].filter(p =>"
        " !p.querySelector('.trace, .slice, .point, .bars path, .scatterlayer path')).map(p => p.id)")
    assert empty == []
    title = browser.title
    assert title == "Nexus sustainability report, 2026-03-02"
    errors = [e for e in browser.get_log("browser") if e["level"] in ("SEVERE", "ERROR")]
    height = browser.execute_script("return document.body.scrollHeight")
    browser.set_window_size(1400, min(height, 12000))
    browser.save_screenshot(str(artifacts / "report-2026-03-02.png"))
    assert errors == []


class _Headers(HTMLParser):
    """The text of every ``<th>`` cell, with the id of the section it is in (plotly.js is a script: skipped)."""

    def __init__(self) -> None:
        super().__init__()
        self.section: str | None = None
        self.cells: list[tuple[str | None, str]] = []
        self._in_th = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "section":
            self.section = dict(attrs).get("id")
        elif tag == "th":
            self._in_th = True
            self.cells.append((self.section, ""))

    def handle_endtag(self, tag: str) -> None:
        if tag == "th":
            self._in_th = False

    def handle_data(self, data: str) -> None:
        if self._in_th:
            section, text = self.cells[-1]
            self.cells[-1] = (section, text + data)


@pytest.fixture
def full_report(copy_lake):
    """The report of ``report`` with every table of it filled: the LCA computed, and one setpoint recommendation, one
    asset assessment and one exceedance (the day before) written to gold as the optimizer and monitor would."""
    lake = copy_lake
    compute_emissions(lake, dt.date(2026, 3, 1), DAY + dt.timedelta(days=1), meta=META)
    compute_heat_integration(lake, DAY, meta=META)
    compute_lca(lake, DAY, meta=META, n_samples=20)
    stamp = {"run_id": META.run_id, "computed_at": pd.Timestamp.now(tz="UTC")}
    rec = [{"scenario_id": "base", "plant_id": "cstr", "recommendation_date": DAY, "setpoint": sp, "unit": unit,
            "current_value": cur, "recommended_value": new, "lower_bound": lo, "upper_bound": hi,
            "expected_profit_usd_h": 1250.0, "current_profit_usd_h": 1200.0, "delta_profit_usd_h": 50.0,
            "expected_co2e_kg_h": 80.0, "current_co2e_kg_h": 82.5, "delta_co2e_kg_h": -2.5,
            "model_version": "cstr@2026-03-01", "prices_json": "{}", "carbon_price_usd_t": 80.0,
            "grid_kg_co2e_per_kwh": 0.35, "limits_json": "{}", "active_constraints": "", "termination": "optimal",
            "solve_seconds": 0.4, "decision_policy": "max_profit_no_co2e_increase", **stamp}
           for sp, unit, cur, new, lo, hi in (("jacket_temperature", "K", 300.0, 302.5, 280.0, 320.0),)]
    lake.upsert(FCT_SETPOINT_RECOMMENDATIONS, pd.DataFrame(rec, columns=FCT_SETPOINT_RECOMMENDATIONS.column_names),
                meta=META)
    asset = {"plant_id": "cstr", "asset": "jacket", "indicator": "UA", "assessed_date": DAY, "indicator_value": 4.1,
             "indicator_std_error": 0.1, "unit": "kW/K", "threshold": 3.5, "trend_per_day": -0.02,
             "trend_std_error": 0.005, "rul_p10_days": 20.0, "rul_p50_days": 30.0, "rul_p90_days": 45.0,
             "threshold_date_p50": DAY + dt.timedelta(days=30), "history_points": 30,
             "since_maintenance_date": dt.date(2026, 2, 1), "method": "linear trend", "status": "plan_maintenance",
             "recommendation": "plan a jacket cleaning", **stamp}
    lake.upsert(FCT_ASSET_HEALTH, pd.DataFrame([asset], columns=FCT_ASSET_HEALTH.column_names), meta=META)
    comp = lake.read(FCT_EMISSION_COMPLIANCE_DAILY).to_pandas()
    row = comp[pd.to_datetime(comp["emission_date"]).dt.date == DAY - dt.timedelta(days=1)].head(1).copy()
    assert len(row), "the lake has limits to exceed"
    row = row.assign(value=row["limit_value"] * 1.5, status="exceeded", exceeded=True)
    lake.upsert(FCT_EMISSION_COMPLIANCE_DAILY, row[FCT_EMISSION_COMPLIANCE_DAILY.column_names], meta=META)
    return lake, write_report(lake, DAY, meta=META)


SNAKE_CASE = re.compile(r"\b[a-z][a-z0-9]*(?:_[a-z0-9]+)+\b")


def test_report_tables_have_readable_headers_with_units(full_report):
    _, out = full_report
    parser = _Headers()
    parser.feed(Path(out["absolute_path"]).read_text(encoding="utf-8"))
    headers = parser.cells
    sections = {s for s, _ in headers}
    # every kind of table is in the page, so every one is checked
    assert {"summary", "headline", "limits", "plant-health", "lca", "recommendations", "methods"} <= sections, sections
    raw = [(s, h) for s, h in headers if SNAKE_CASE.search(h)]
    assert raw == [], f"table headers in snake_case: {raw}"
    texts = {h for _, h in headers}
    for expected in ("Plant", "Scope 1 CO2e (t)", "Scope 2 location CO2e (t)", "Total CO2e, market (t)",
                     "Biogenic CO2 (t)", "Product made (t)", "Intensity S1+2 market+3 (kg CO2e/kg)",  # headline
                     "Duration (h)",  # events
                     "RUL P10 (d)", "RUL P50 (d)", "RUL P90 (d)",  # asset health
                     "Current profit (USD/h)", "Δ profit (USD/h)", "Δ CO2e (kg/h)", "Recommended value",  # optimizer
                     "Unit (per kg of product)", "Monte Carlo samples"):  # LCA
        assert expected in texts, (expected, sorted(texts))
    assert "Exceedances in the last 30 days: 1" in Path(out["absolute_path"]).read_text(encoding="utf-8")
    limits = [h for s, h in headers if s == "limits"]
    assert limits.count("Day") == 1 and limits.count("Limit") == 2  # the window's exceedances: readable too


def test_palette_gives_every_series_its_own_colour():
    import plotly.express as px

    from sustainability.report import _palette

    assert _palette(4) == list(px.colors.qualitative.Plotly)  # the default look while it is long enough
    assert _palette(4, px.colors.qualitative.Dark24) == list(px.colors.qualitative.Dark24)
    for n in (10, 11, 17, 24, 25, 30, 50, 51, 100):
        colours = _palette(n)
        assert len(set(colours[:n])) == n, n
