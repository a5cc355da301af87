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
from pathlib import Path

import pytest

from sustainability.pipeline import compute_emissions, compute_heat_integration, write_report
from warehouse.lake import CommitMeta
from warehouse.tables import FCT_REPORTS

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
