"""The console through its HTTP interface (Flask's test client, the same requests a browser sends):
login and refusal, roles enforced on the server, every page rendered with data, write-back with the
user's identity in the audit, the live trend, what-if runs and report files."""

from __future__ import annotations

import datetime as dt
import json
import stat
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pytest

from nexus.console import data as q
from nexus.console.app import PAGES, create_app
from nexus.console.auth import ROLES, Throttle, Users
from nexus.errors import ConfigError
from warehouse.lake import CommitMeta
from warehouse.tables import FCT_SETPOINT_WRITES, FCT_WHAT_IF_RUNS, SILVER_SENSOR_READINGS

PASSWORD = "correct horse"


@pytest.fixture
def console(console_lake, tmp_path):
    home = tmp_path / "console-home"
    users = Users(home)
    for role in ROLES:
        users.add(role, PASSWORD, role)
    # no broker is needed: on this lake the envelope refuses before anything is published (old data)
    app = create_app(console_lake, home=home, ack_timeout_s=1.0, broker=("127.0.0.1", 1))
    return app, console_lake, users


def login(app, name: str, password: str = PASSWORD):
    client = app.server.test_client()
    r = client.post("/login", data={"username": name, "password": password})
    assert r.status_code == 302, r.data[:300]
    return client


def callback(client, outputs: list[tuple[str, str]], inputs: list[tuple[str, str, object]],
             state: list[tuple[str, str, object]] = (), changed: str | None = None) -> dict:
    """POST one Dash callback as the browser does; returns the response's ``response`` mapping."""
    if len(outputs) == 1:
        output = f"{outputs[0][0]}.{outputs[0][1]}"
        outs = {"id": outputs[0][0], "property": outputs[0][1]}
    else:
        output = ".." + "...".join(f"{i}.{p}" for i, p in outputs) + ".."
        outs = [{"id": i, "property": p} for i, p in outputs]
    body = {"output": output, "outputs": outs,
            "inputs": [{"id": i, "property": p, "value": v} for i, p, v in inputs],
            "state": [{"id": i, "property": p, "value": v} for i, p, v in state],
            "changedPropIds": [changed or f"{inputs[0][0]}.{inputs[0][1]}"]}
    r = client.post("/_dash-update-component", json=body)
    assert r.status_code in (200, 204), (r.status_code, r.data[:500])
    return json.loads(r.data)["response"] if r.status_code == 200 else {}


def page(client, path: str, search: str = "") -> str:
    out = callback(client, [("page", "children")], [("url", "pathname", path), ("url", "search", search)])
    return json.dumps(out["page"]["children"])


# ----------------------------------------------------------------------------------------- login


def test_nothing_without_a_login(console):
    app, _, _ = console
    anon = app.server.test_client()
    r = anon.get("/trends?plant=cstr")
    assert r.status_code == 302 and r.headers["Location"].startswith("/login?next=%2Ftrends")
    assert anon.post("/_dash-update-component", json={}).status_code == 401
    assert anon.get("/_dash-layout").status_code == 401
    assert anon.get("/files/reports/sustainability/2026-03-02.html").status_code == 401
    login_page = anon.get("/login")
    assert login_page.status_code == 200 and b'name="password"' in login_page.data
    bad = anon.post("/login", data={"username": "operator", "password": "wrong password"})
    assert bad.status_code == 401 and b"wrong password" in bad.data
    assert anon.get("/").status_code == 302  # still refused
    client = login(app, "operator")
    assert client.get("/").status_code == 200
    assert client.get("/logout").status_code == 302
    assert client.get("/").status_code == 302


def test_login_goes_back_to_the_page_asked_for_and_never_off_site(console):
    app, _, _ = console
    r = app.server.test_client().post("/login", data={"username": "viewer", "password": PASSWORD, "next": "/events?days=3"})
    assert r.headers["Location"] == "/events?days=3"
    for evil in ("//evil.example/x", "/\t/evil.example", "/\n/evil.example", "https://evil.example/",
                 "/\\evil.example", "/nowhere"):
        r = app.server.test_client().post("/login", data={"username": "viewer", "password": PASSWORD, "next": evil})
        assert r.status_code == 302 and r.headers["Location"] == "/", evil


def test_signing_out_or_a_new_password_ends_the_session(console):
    app, _, users = console
    client = login(app, "operator")
    cookie = client.get_cookie("nexus_console").value
    assert client.get("/").status_code == 200
    client.get("/logout")
    replay = app.server.test_client()
    replay.set_cookie("nexus_console", cookie)
    assert replay.get("/").status_code == 302  # a copy of the signed-out cookie is refused
    client = login(app, "operator")
    cookie = client.get_cookie("nexus_console").value
    users.set_password("operator", "a brand new password")
    replay = app.server.test_client()
    replay.set_cookie("nexus_console", cookie)
    assert replay.get("/").status_code == 302 and client.get("/").status_code == 302
    html_page = app.server.test_client().get("/nowhere", headers={"Accept": "text/html"})
    assert html_page.status_code == 302 and "/login" in html_page.headers["Location"]


def test_five_failures_lock_the_name(console):
    app, _, _ = console
    client = app.server.test_client()
    for _ in range(5):
        assert client.post("/login", data={"username": "viewer", "password": "nope nope"}).status_code == 401
    r = client.post("/login", data={"username": "viewer", "password": PASSWORD})
    assert r.status_code == 401 and b"Too many failed" in r.data
    assert login(app, "operator")  # another name is not locked
    guesser = app.server.test_client()
    for i in range(20):  # many names from one address
        guesser.post("/login", data={"username": f"guess{i}", "password": "nope nope"},
                     environ_base={"REMOTE_ADDR": "10.9.9.9"})
    r = guesser.post("/login", data={"username": "engineer", "password": PASSWORD}, environ_base={"REMOTE_ADDR": "10.9.9.9"})
    assert r.status_code == 401 and b"from this address" in r.data
    assert login(app, "engineer")  # from another address it works
    t = Throttle(attempts=2, window_s=10)
    t.failed("a", now=0.0), t.failed("a", now=1.0)
    assert t.locked("a", now=5.0) and not t.locked("a", now=11.5)


def test_passwords_are_stored_hashed_in_a_private_file(tmp_path):
    users = Users(tmp_path / "home")
    users.add("alice", "s3cret-pass", "operator")
    text = users.path.read_text()
    assert "s3cret-pass" not in text and json.loads(text)["users"]["alice"]["password_hash"].startswith("scrypt:")
    assert stat.S_IMODE(users.path.stat().st_mode) == 0o600
    assert users.verify("alice", "s3cret-pass").role == "operator"
    assert users.verify("alice", "wrong") is None and users.verify("nobody", "s3cret-pass") is None
    with pytest.raises(ConfigError, match="exists"):
        users.add("alice", "another-pass", "viewer")
    with pytest.raises(ConfigError, match="role"):
        users.add("bob", "long-enough", "admin")
    with pytest.raises(ConfigError, match="at least 8"):
        users.add("bob", "short", "viewer")
    users.set_password("alice", "new-password")
    assert users.verify("alice", "new-password") and not users.verify("alice", "s3cret-pass")
    fresh = Users(tmp_path / "other")
    path = fresh.ensure_admin()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert fresh.verify("admin", path.read_text().strip()).role == "engineer"
    assert fresh.ensure_admin() is None  # only on the first start


# ----------------------------------------------------------------------------------------- pages


def test_every_page_renders_with_data(console):
    app, lake, _ = console
    client = login(app, "viewer")
    text = {path: page(client, path) for path in PAGES}
    assert "card-cstr" in text["/"] and "card-smelter" in text["/"] and "Completeness, newest day" in text["/"]
    assert "Operating profit (USD)" in text["/"]
    assert "trend-graph" in text["/trends"] and "BIO.FI507" in text["/trends"]  # the first plant's main output
    assert '"value": ["CSTR.AY102", "CSTR.TC102.SP"]' in page(client, "/trends", "?plant=cstr")
    assert "events-table" in text["/events"]
    assert "health-table" in text["/health"] and "RUL P50 (d)" in text["/health"]
    assert "recs-table" in text["/recommendations"] and "audit-table" in text["/recommendations"]
    assert "base-run" in text["/what-if"] and "what-if-graph" in text["/what-if"]
    assert "/files/reports/sustainability/2026-03-02.html" in text["/sustainability"]
    assert "kpi-graph" in text["/sustainability"] and "compliance-table" in text["/sustainability"]
    for body in text.values():
        assert "_id\"" not in body  # no snake_case column name as a header ("plant_id" and the like)
    report = client.get("/files/reports/sustainability/2026-03-02.html")
    assert report.status_code == 200 and b"Executive summary" in report.data
    assert report.headers["Content-Security-Policy"].startswith("sandbox")  # no access to the console's session
    for days in ("%C2%B9", "99999999", "0", "-3"):  # bookmarks and typos never break the page
        assert "events-table" in page(client, "/events", f"?days={days}"), days
    assert client.get("/files/../../etc/passwd").status_code == 404
    assert client.get("/files/_delta_log/x").status_code == 404
    assert client.get("/files/gold/fct_events/_delta_log/00000000000000000000.json").status_code == 404


def test_trend_has_gold_history_events_and_the_live_hour(console):
    app, lake, _ = console
    console_ = app.console
    fig, state, status = console_.trend_figure("cstr", ["CSTR.TI102", "CSTR.FI101"], "7 days")
    names = [t.name for t in fig.data]
    assert any("hourly mean" in n for n in names) and sum("live" in n for n in names) == 2
    hourly = next(t for t in fig.data if t.name.startswith("CSTR.TI102 (hourly"))
    assert len(hourly.x) >= 40  # two days of hours, less the live one
    live = fig.data[state["traces"]["CSTR.TI102"]]
    assert len(live.x) > 10 and pd.Timestamp(min(live.x)) >= pd.Timestamp(max(hourly.x)).tz_localize("UTC")
    assert "from gold" in status and len(fig.layout.shapes) > 0  # events shaded
    # the stream commits new readings: the live update returns exactly them, for the right traces
    after = max(pd.Timestamp(v) for v in state["after"].values())
    rows = [{"plant_id": "cstr", "reading_date": (after + pd.Timedelta(seconds=s)).date(), "tag": tag,
             "ts": (after + pd.Timedelta(seconds=s)).to_pydatetime(), "value": v, "unit": unit, "quality": "good",
             "quality_code": 192, "flag": None, "flag_reason": None, "_source_file": "mqtt", "_line_number": s,
             "_ingested_at": dt.datetime.now(dt.UTC), "_run_id": "test-stream"}
            for s, (tag, v, unit) in enumerate([("CSTR.TI102", 351.5, "K"), ("CSTR.FI101", 1.9, "L/min"),
                                                ("CSTR.TI102", 351.7, "K")], start=1)]
    lake.append(SILVER_SENSOR_READINGS, pa.Table.from_pylist(rows, schema=SILVER_SENSOR_READINGS.schema),
                meta=CommitMeta("pytest", "stream", "test"))
    extend, new_state = console_.live_update(state)
    data, traces = extend
    got = dict(zip(traces, data["y"], strict=True))
    assert got == {state["traces"]["CSTR.TI102"]: [351.5, 351.7], state["traces"]["CSTR.FI101"]: [1.9]}
    assert new_state["points"] == state["points"] + 3
    assert console_.live_update(new_state)[0] is None  # nothing newer
    # a tag whose reading commits after another tag's newer one is not skipped (a watermark per tag)
    late = {**rows[1], "ts": rows[2]["ts"], "_line_number": 9, "value": 2.1}  # FI101 at TI102's newest time
    lake.append(SILVER_SENSOR_READINGS, pa.Table.from_pylist([late], schema=SILVER_SENSOR_READINGS.schema),
                meta=CommitMeta("pytest", "stream-late", "test"))
    extend, _ = console_.live_update(new_state)
    assert extend is not None and extend[0]["y"] == [[2.1]] and extend[1] == [state["traces"]["CSTR.FI101"]]


def test_events_page_shows_an_events_contributing_tags(console):
    app, lake, _ = console
    client = login(app, "viewer")
    ev = q.events(app.console.reader, kinds=["process_anomaly"])
    if not len(ev):
        ev = q.events(app.console.reader)
    event = ev.iloc[0]
    text = page(client, "/events", f"?event={event['event_id']}&days=30")
    assert "event-graph" in text and event["kind"].replace("_", " ") in text
    detail = app.console._event_detail(event["event_id"])
    fig = detail[2].figure
    bars = [t for t in fig.data if t.type == "bar"]
    if q.top_tags(event["top_tags"]):
        assert list(bars[0].y)[::-1][0] == q.top_tags(event["top_tags"])[0][0]


def test_top_tags_parses_shares():
    assert q.top_tags("CSTR.TI102:0.61, CSTR.FI101:0.2") == [("CSTR.TI102", 0.61), ("CSTR.FI101", 0.2)]
    assert q.top_tags(None) == []


# ------------------------------------------------------------------------------------- write-back

WB_OUT = [("wb-message", "children"), ("wb-writes", "children"), ("wb-audit", "children"), ("wb-write", "options"),
          ("wb-write", "value")]


def wb_click(client, button: str, write_id: str | None, reason: str = "", plant_time: str | None = None):
    return callback(client, WB_OUT, [("wb-propose", "n_clicks", 1 if button == "wb-propose" else None),
                                     ("wb-approve", "n_clicks", 1 if button == "wb-approve" else None),
                                     ("wb-reject", "n_clicks", 1 if button == "wb-reject" else None)],
                    [("wb-propose-day", "value", "cstr|2026-03-02"), ("wb-write", "value", write_id),
                     ("wb-reason", "value", reason), ("wb-plant-time", "value", plant_time)], changed=f"{button}.n_clicks")


def audit_rows(lake, write_id):
    return lake.read(FCT_SETPOINT_WRITES, where={"write_id": write_id}).to_pandas().sort_values("step")


def test_roles_decide_who_may_write_and_the_audit_names_them(console):
    app, lake, _ = console
    [write_id] = lake.read(FCT_SETPOINT_WRITES).column("write_id").to_pylist()
    viewer = login(app, "viewer")
    out = wb_click(viewer, "wb-approve", write_id, "looks good")
    assert "may not approve" in json.dumps(out["wb-message"]["children"])
    assert audit_rows(lake, write_id)["state"].tolist() == ["proposed"]
    operator = login(app, "operator")
    out = wb_click(operator, "wb-propose", None)
    assert "engineer role is needed" in json.dumps(out["wb-message"]["children"])
    out = wb_click(operator, "wb-approve", write_id, "shift plan", plant_time="2026-03-03T00:00:00Z")
    assert "Only engineers may give the plant" in json.dumps(out["wb-message"]["children"])
    out = wb_click(operator, "wb-approve", write_id, "shift plan")
    msg = json.dumps(out["wb-message"]["children"])
    rows = audit_rows(lake, write_id)
    # approved by the operator, then refused by the envelope: the lake's readings are months old
    assert rows["state"].tolist() == ["proposed", "approved", "refused"], rows
    assert rows["actor"].tolist()[1] == "operator" and rows["reason"].tolist()[1] == "shift plan"
    assert "refused" in msg and "fresh_data" in msg
    assert "operator" in json.dumps(out["wb-audit"]["children"])
    assert out["wb-write"]["options"] == []  # nothing waits any more


def test_reject_needs_a_reason_and_an_engineer_proposes(console):
    app, lake, _ = console
    [write_id] = lake.read(FCT_SETPOINT_WRITES).column("write_id").to_pylist()
    engineer = login(app, "engineer")
    out = wb_click(engineer, "wb-reject", write_id, "")
    assert "needs a reason" in json.dumps(out["wb-message"]["children"])
    out = wb_click(engineer, "wb-reject", write_id, "feed change due")
    rows = audit_rows(lake, write_id)
    assert rows["state"].tolist() == ["proposed", "rejected"] and rows["actor"].tolist()[1] == "engineer"
    out = wb_click(engineer, "wb-propose", None)
    msg = json.dumps(out["wb-message"]["children"])
    assert "Proposed 0 new write(s)" in msg and f"already proposed before: {write_id} (rejected)" in msg
    assert lake.read(FCT_SETPOINT_WRITES).num_rows == 2  # idempotent: the same write id, no new row


# ---------------------------------------------------------------------------------------- what-if


def test_what_if_runs_the_twin_as_the_user(console):
    app, lake, _ = console
    values = {"current_a": 400.0, "co2_concentration_pct": 90.0, "co2_flow_nm3_h": 25.0, "duration_h": 0.5,
              "step_minutes": 10.0, "electrode_age_h": 250.0}
    kind, text, new = app.console.run_what_if(Users(Path("x")).get("x") or _user("viewer"), "base-run", values)
    assert kind == "bad" and "may not run" in text
    kind, text, new = app.console.run_what_if(_user("operator"), "base-run", {**values, "current_a": 900.0})
    assert kind == "bad" and "Stack current" in text
    kind, text, new = app.console.run_what_if(_user("operator"), "base-run", values)
    assert kind == "ok" and new["experiment_id"].startswith("console-operator-")
    run = lake.read(FCT_WHAT_IF_RUNS, where={"experiment_id": new["experiment_id"]}).to_pylist()[0]
    assert run["current_a"] == 400.0 and run["duration_h"] == 0.5 and run["run_id"].startswith("console_what_if__operator__")
    base = lake.read(FCT_WHAT_IF_RUNS, where={"experiment_id": "base-run"}).to_pylist()[0]
    assert run["formic_acid_kg"] < base["formic_acid_kg"]  # less current for half the time
    view = app.console._what_if_view("base-run", new)
    fig = view[0].figure
    assert {t.name for t in fig.data} == {"base: base-run", f"new: {new['experiment_id']}"}


def _user(role: str):
    from nexus.console.auth import User

    return User(role, role)

