"""The Airflow UI, used as a user would: headless Chromium (Debian's chromium + chromedriver) via Selenium.

Logs in with the generated admin password (read from Airflow's file, never printed), finds every
Nexus DAG with its tags, opens each DAG's documentation, triggers the what-if DAG from its form
with changed params, and sees the run succeed — in the UI and in gold. Screenshots are kept as
test artifacts in ``test-artifacts/airflow-ui/`` (``NEXUS_TEST_ARTIFACTS`` overrides the folder).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from tests.e2e.services import airflow, airflow_env, running, wait_for
from warehouse.lake import Lake
from warehouse.tables import FCT_WHAT_IF_RUNS

pytestmark = [pytest.mark.airflow, pytest.mark.slow, pytest.mark.browser]

ROOT = Path(__file__).resolve().parents[2]
NEXUS_DAGS = {
    "ingest_sensor_data": "Ingest sensor data",
    "ingest_market_data": "Ingest market data",
    "ingest_regulatory_data": "Ingest regulatory data",
    "sustainability_report": "Daily sustainability report",
    "calibrate_models": "Calibrate models",
    "optimize_setpoints": "Optimize setpoints",
    "replay_scenario": "Replay a scenario",
    "simulate_electrolyzer_what_if": "What-if experiment on the CO2 electrolyzer",
}


@pytest.fixture
def artifacts() -> Path:
    folder = Path(os.environ.get("NEXUS_TEST_ARTIFACTS", ROOT / "test-artifacts")) / "airflow-ui"
    folder.mkdir(parents=True, exist_ok=True)
    return folder




def body(driver) -> str:
    return driver.find_element("tag name", "body").text


def button(driver, text: str | None = None, label: str | None = None):
    for b in driver.find_elements("tag name", "button"):
        if (text is not None and b.text.strip() == text) or (label is not None and b.get_attribute("aria-label") == label):
            return b
    raise AssertionError(f"no button {text or label!r}")


def test_airflow_ui_as_a_user(tmp_path, browser, artifacts):
    env = airflow_env(tmp_path / "airflow", tmp_path / "lake", tmp_path / "landing")
    airflow(env, "db", "migrate")
    base = env["AIRFLOW__API__BASE_URL"]
    with running(env, tmp_path / "logs", {"standalone": ["standalone"]}) as services:
        airflow(env, "dags", "unpause", "simulate_electrolyzer_what_if")
        password = json.loads((tmp_path / "airflow" / "simple_auth_manager_passwords.json.generated").read_text())["admin"]

        # The UI requires a login.
        browser.get(base + "/dags")
        wait_for(browser, lambda d: "/auth/login" in d.current_url and d.find_elements("name", "username"), what="the login form")
        browser.find_element("name", "username").send_keys("admin")
        browser.find_element("name", "password").send_keys(password)
        button(browser, "Sign in").click()
        wait_for(browser, lambda d: "/auth/login" not in d.current_url, what="the login to succeed")
        browser.get_log("browser")  # drop the 401s of the anonymous visit that led to the login form

        # Every Nexus DAG is listed with its tags.
        browser.get(base + "/dags")
        wait_for(browser, lambda d: all(dag in body(d) for dag in NEXUS_DAGS), what="every Nexus DAG in the list")
        listing = body(browser)
        for tag in ("nexus", "ingest", "sensor", "market", "regulatory", "what-if"):
            assert tag in listing, tag
        browser.save_screenshot(str(artifacts / "01-dag-list.png"))

        # Each DAG's documentation opens from its page.
        for dag_id, heading in NEXUS_DAGS.items():
            browser.get(f"{base}/dags/{dag_id}")
            wait_for(browser, lambda d: d.find_elements("css selector", "button[aria-label='Dag Docs']"), what=f"{dag_id}'s page")
            button(browser, label="Dag Docs").click()
            wait_for(browser, lambda d, h=heading: h in body(d), what=f"{dag_id}'s documentation")
            browser.save_screenshot(str(artifacts / f"02-docs-{dag_id}.png"))

        # The sensor DAG's trigger form offers its params with their descriptions.
        browser.get(f"{base}/dags/ingest_sensor_data")
        wait_for(browser, lambda d: d.find_elements("css selector", "button[aria-label='Trigger Dag']"), what="the trigger button")
        button(browser, label="Trigger Dag").click()
        wait_for(browser, lambda d: "Plants whose historian exports to ingest" in body(d), what="the plants param")
        form = body(browser)
        assert all(p in form for p in ("biorefinery", "co2_electrolyzer", "cstr", "smelter"))
        browser.save_screenshot(str(artifacts / "03-sensor-trigger-form.png"))

        # Trigger the what-if experiment from its form, with params changed as an operator would.
        browser.get(f"{base}/dags/simulate_electrolyzer_what_if")
        wait_for(browser, lambda d: d.find_elements("css selector", "button[aria-label='Trigger Dag']"), what="the trigger button")
        button(browser, label="Trigger Dag").click()
        wait_for(browser, lambda d: d.find_elements("name", "element_current_a"), what="the trigger form with params")
        for name, value in {"element_current_a": "450", "element_duration_h": "1", "element_step_minutes": "10",
                            "element_experiment_id": "ui-experiment"}.items():
            field = browser.find_element("name", name)
            field.send_keys("\ue009a")  # Ctrl+A, then type over
            field.send_keys(value)
        for label in ("co2_concentration_pct", "co2_flow_nm3_h", "training_days"):
            assert browser.find_elements("name", f"element_{label}"), label
        browser.save_screenshot(str(artifacts / "04-what-if-trigger-form.png"))
        dialog_buttons = browser.find_elements("css selector", "[role=dialog] button")
        next(b for b in dialog_buttons if b.text.strip() == "Trigger").click()

        services.wait(lambda: any(s == "success" for s in services.runs("simulate_electrolyzer_what_if").values())
                      or any(s == "failed" for s in services.runs("simulate_electrolyzer_what_if").values()),
                      240, "the triggered what-if run to finish")
        states = services.runs("simulate_electrolyzer_what_if")
        assert list(states.values()) == ["success"], states

        # The run shows as successful in the UI.
        browser.get(f"{base}/dags/simulate_electrolyzer_what_if/runs")
        wait_for(browser, lambda d: "success" in body(d).lower(), what="the successful run in the runs list")
        browser.save_screenshot(str(artifacts / "05-run-success.png"))
        severe = [e for e in browser.get_log("browser") if e.get("level") == "SEVERE" and "favicon" not in e.get("message", "")]

    row = Lake(tmp_path / "lake").read(FCT_WHAT_IF_RUNS, where={"experiment_id": "ui-experiment"}).to_pylist()
    assert len(row) == 1 and row[0]["current_a"] == 450.0 and row[0]["duration_h"] == 1.0
    assert not severe, severe
