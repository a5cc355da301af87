"""The console in a real browser (Debian's headless Chromium via Selenium), served by ``nexus console``
as a user starts it: users added with ``nexus console users add``, a login form, every page with
data and no console errors, an approval landing in the audit table with the operator's name, the
live trend growing as the stream commits readings, and the daily report opened from its link with
its sections. Screenshots go to ``test-artifacts/console/`` (``NEXUS_TEST_ARTIFACTS`` overrides)."""

from __future__ import annotations

import datetime as dt
import os
import re
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pyarrow as pa
import pytest

from tests.e2e.services import free_port, wait_for
from warehouse.lake import CommitMeta
from warehouse.tables import FCT_SETPOINT_WRITES, SILVER_SENSOR_READINGS

pytestmark = [pytest.mark.browser, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]
NEXUS = str(Path(sys.executable).with_name("nexus"))
PASSWORD = "operator-pass-1"
#: page -> element that holds its data once rendered
PAGES = {"/": "#fleet-cards .card", "/trends?plant=cstr": "#trend-graph .main-svg", "/events": "#events-table tbody tr",
         "/health": "#health-table tbody tr", "/recommendations": "#recs-table tbody tr",
         "/what-if": "#what-if-graph .main-svg", "/sustainability": "#reports-table tbody tr"}


@pytest.fixture
def artifacts() -> Path:
    folder = Path(os.environ.get("NEXUS_TEST_ARTIFACTS", ROOT / "test-artifacts")) / "console"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@pytest.fixture
def served(console_lake, tmp_path):
    env = {**os.environ, "NEXUS_LAKE_ROOT": str(console_lake.root), "NEXUS_CONSOLE_HOME": str(tmp_path / "home"),
           "NEXUS_MQTT_URL": "127.0.0.1:1", "NEXUS_CONSOLE_ACK_TIMEOUT_S": "1"}
    add = subprocess.run([NEXUS, "console", "users", "add", "olga", "--role", "operator", "--password-stdin"],
                         input=PASSWORD + "\n", env=env, capture_output=True, text=True)
    assert add.returncode == 0, add.stderr
    port = free_port()
    log = (tmp_path / "console.log").open("w")
    proc = subprocess.Popen([NEXUS, "console", "--port", str(port)], env=env, stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            urllib.request.urlopen(base + "/login", timeout=2)
            break
        except OSError:
            assert proc.poll() is None and time.monotonic() < deadline, (tmp_path / "console.log").read_text()[-3000:]
            time.sleep(0.3)
    yield base, console_lake
    proc.terminate()
    proc.wait(timeout=20)
    log.close()


def severe(driver) -> list[dict]:
    return [e for e in driver.get_log("browser") if e.get("level") == "SEVERE"]


def live_points(driver) -> int:
    return driver.execute_script(
        "const g = document.querySelector('#trend-graph .js-plotly-plot');"
        "return g.data.filter(t => t.name.includes(' live')).reduce((n, t) => n + t.x.length, 0);")


def test_console_in_a_browser(served, browser, artifacts):
    base, lake = served
    # no page without a login: the browser lands on the form, and a wrong password is refused
    browser.get(base + "/trends?plant=cstr")
    wait_for(browser, lambda d: "/login" in d.current_url and d.find_elements("id", "password"), what="the login form")
    browser.find_element("id", "username").send_keys("olga")
    browser.find_element("id", "password").send_keys("not-the-password")
    browser.find_element("id", "sign-in").click()
    wait_for(browser, lambda d: d.find_elements("id", "login-error"), what="the refusal")
    assert "wrong password" in browser.find_element("id", "login-error").text
    browser.get_log("browser")  # the refused sign-in's 401 is expected
    browser.find_element("id", "username").clear()
    browser.find_element("id", "username").send_keys("olga")
    browser.find_element("id", "password").send_keys(PASSWORD)
    browser.find_element("id", "sign-in").click()
    wait_for(browser, lambda d: "/trends" in d.current_url and d.find_elements("css selector", PAGES["/trends?plant=cstr"]),
             what="the trends page after signing in")
    assert "olga · operator" in browser.find_element("id", "whoami").text

    # every page renders its data, without an error in the browser's console
    for i, (path, selector) in enumerate(PAGES.items()):
        browser.get(base + path)
        wait_for(browser, lambda d, s=selector: d.find_elements("css selector", s), what=f"{path} with data")
        time.sleep(0.3)
        browser.save_screenshot(str(artifacts / f"{i + 1:02d}-{path.strip('/').split('?')[0] or 'fleet'}.png"))
        assert not severe(browser), (path, severe(browser))
    browser.get(base + "/")
    wait_for(browser, lambda d: d.find_elements("id", "card-smelter"), what="the smelter's card")
    card = browser.find_element("id", "card-cstr").text
    assert "Completeness, newest day" in card and "Open events" in card

    # an approval lands in the audit table with the operator's name (the envelope refuses it: old data)
    [write_id] = lake.read(FCT_SETPOINT_WRITES).column("write_id").to_pylist()
    browser.get(base + "/recommendations")
    wait_for(browser, lambda d: write_id in d.find_element("id", "wb-write").text, what="the proposed write")
    browser.find_element("id", "wb-reason").send_keys("shift plan")
    browser.find_element("id", "wb-approve").click()
    wait_for(browser, lambda d: d.find_elements("id", "wb-result"), what="the write-back's answer")
    assert "the write-back says refused" in browser.find_element("id", "wb-result").text
    audit = browser.find_element("id", "audit-table").text
    assert re.search(r"approved\s+olga", audit) and "refused" in audit
    rows = lake.read(FCT_SETPOINT_WRITES, where={"write_id": write_id}).to_pandas().sort_values("step")
    assert rows["state"].tolist() == ["proposed", "approved", "refused"] and rows["actor"].iloc[1] == "olga"
    browser.save_screenshot(str(artifacts / "08-approval-audited.png"))
    assert not severe(browser), severe(browser)

    # the live trend grows as the stream commits readings to silver
    browser.get(base + "/trends?plant=cstr&tags=CSTR.TI102")
    wait_for(browser, lambda d: live_points(d) > 0, what="the live trace")
    before = live_points(browser)
    newest = lake.read(SILVER_SENSOR_READINGS, where={"plant_id": "cstr", "reading_date": dt.date(2026, 3, 2)},
                       columns=["ts"]).column("ts").to_pylist()
    t0 = max(newest)
    rows = [{"plant_id": "cstr", "reading_date": (t0 + dt.timedelta(seconds=s)).date(), "tag": "CSTR.TI102",
             "ts": t0 + dt.timedelta(seconds=s), "value": 351.0 + s / 10, "unit": "K", "quality": "good",
             "quality_code": 192, "flag": None, "flag_reason": None, "_source_file": "mqtt", "_line_number": s,
             "_ingested_at": dt.datetime.now(dt.UTC), "_run_id": "browser-stream"} for s in (1, 2, 3)]
    lake.append(SILVER_SENSOR_READINGS, pa.Table.from_pylist(rows, schema=SILVER_SENSOR_READINGS.schema),
                meta=CommitMeta("pytest", "stream", "test"))
    wait_for(browser, lambda d: live_points(d) == before + 3, timeout=20, what="the live trace to grow by 3")
    browser.save_screenshot(str(artifacts / "09-live-trend.png"))
    assert not severe(browser), severe(browser)

    # the daily report opens from its link, with its sections, readable headers and no console error
    browser.get(base + "/sustainability")
    wait_for(browser, lambda d: d.find_elements("css selector", PAGES["/sustainability"]), what="the reports list")
    link = browser.find_element("css selector", "#reports-table a")
    assert link.get_attribute("href").endswith("/files/reports/sustainability/2026-03-02.html")
    browser.get(link.get_attribute("href"))
    wait_for(browser, lambda d: len(d.find_elements("css selector", ".main-svg")) >= 3, timeout=60, what="the report's charts")
    text = browser.find_element("tag name", "body").text
    for heading in ("Executive summary", "Optimized vs baseline", "Methods", "Emission limits"):
        assert heading in text, heading
    headers = [th.text for th in browser.find_elements("css selector", "th")]
    assert headers and not [h for h in headers if re.search(r"[a-z]+_[a-z]+", h)], headers
    browser.save_screenshot(str(artifacts / "10-report.png"))
    assert not severe(browser), severe(browser)
