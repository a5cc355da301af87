"""The operator console: a Dash app behind a login, on the lake's gold and silver tables.

Pages (each a URL, so a view can be bookmarked or shared):

* ``/`` **Fleet**: one card per plant instance — newest reading and its age, completeness of the
  newest ingested day and the last seven, open events by kind, the latest day's KPIs, the shortest
  remaining useful life, writes waiting for approval.
* ``/trends`` **Tag trends**: hourly (or, beyond 14 days, daily) time-weighted means with their
  min-max band from gold, the current hour's raw readings from silver (what the live stream has
  committed) extended every few seconds, events shaded.
* ``/events`` **Events** with their contributing tags and the tags' trends around the event.
* ``/health`` **Asset health**: each indicator's latest value against its threshold and the
  remaining useful life P10/P50/P90; an indicator's history.
* ``/recommendations`` **Recommendations and write-back**: the newest day's recommended set points,
  proposing them as writes (engineers), approving or rejecting a write (operators and engineers; the
  write-back runs with the user's name, its safety envelope decides), and the audit trail.
* ``/what-if`` **What-if experiments** on the CO2 electrolyzer twin: pick a base run, change its
  inputs, run the twin and see its response against the base's.
* ``/sustainability``: daily KPIs over 90 days, promised against achieved, compliance with limits,
  and a link to every daily report.

Reads go through :mod:`nexus.console.data` (the read-only DuckDB layer); the only writes are the
write-back's (:mod:`optimization.writeback`) and a what-if run's (:mod:`etl.what_if`), each
committed with the user's name in the commit's run id. Roles and login: :mod:`nexus.console.auth`.
"""

from __future__ import annotations

import datetime as dt
import html as html_lib
import logging
import math
import mimetypes
import os
import re
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode

import pandas as pd
import plotly.graph_objects as go
from plotly.colors import qualitative
from plotly.subplots import make_subplots

from nexus.console import data as q
from nexus.console.auth import Throttle, User, Users, console_home, secret_key
from warehouse.lake import CommitMeta, Lake

log = logging.getLogger(__name__)

PAGES: dict[str, str] = {"/": "Fleet", "/trends": "Trends", "/events": "Events", "/health": "Asset health",
                         "/recommendations": "Recommendations", "/what-if": "What-if",
                         "/sustainability": "Sustainability"}
#: Folders under the lake root the console serves files from (the reports and their validation pages).
SERVED_FOLDERS = ("reports", "_validation")
RANGES = {"1 day": 1, "7 days": 7, "30 days": 30, "1 year": 365, "5 years": 1826}
PALETTE = qualitative.D3 + qualitative.Dark24
KIND_COLOURS = {"process_anomaly": "rgba(214,39,40,0.15)", "shutdown": "rgba(80,80,80,0.18)",
                "transient": "rgba(255,127,14,0.14)", "sensor_fault": "rgba(148,103,189,0.14)",
                "balance_violation": "rgba(23,190,207,0.14)"}
STATUS_BADGE = {"ok": "ok", "no_degradation_trend": "ok", "plan_maintenance": "warn", "maintenance_due": "bad",
                "insufficient_data": "info", "at_risk": "warn", "exceeded": "bad", "complete": "ok",
                "partial": "warn", "incomplete": "bad", "empty": "bad", "proposed": "info", "approved": "info",
                "published": "info", "acknowledged": "info", "confirmed": "ok", "rejected": "warn",
                "refused": "bad", "failed": "bad", "reverted": "bad", "high": "bad", "medium": "warn", "low": "info"}
WHAT_IF_INPUTS = (("current_a", "Stack current (A)", 0, 750), ("co2_concentration_pct", "CO2 in feed gas (%)", 1, 100),
                  ("co2_flow_nm3_h", "Feed gas flow (Nm³/h)", 1, 60), ("duration_h", "Duration (h)", 0.25, 168),
                  ("step_minutes", "Time step (min)", 1, 60), ("electrode_age_h", "Electrode age at start (h)", 0, 20000))


# ---------------------------------------------------------------------------------------- helpers


def _fmt(value: Any, fmt: str = "") -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)) or value is pd.NaT:
        return "–"
    if fmt == "date" and isinstance(value, pd.Timestamp | dt.date):
        return pd.Timestamp(value).strftime("%Y-%m-%d")
    if isinstance(value, pd.Timestamp | dt.datetime):
        ts = pd.Timestamp(value)
        ts = ts.tz_convert("UTC") if ts.tzinfo else ts.tz_localize("UTC")
        return ts.strftime("%Y-%m-%d %H:%M")
    if fmt:
        try:
            return format(value, fmt)
        except (TypeError, ValueError):
            return str(value)
    return str(value)


def _age(hours: float | None) -> str:
    if hours is None or (isinstance(hours, float) and math.isnan(hours)):
        return "no data"
    if hours < 1:
        return f"{max(hours * 60, 0):.0f} min ago"
    if hours < 48:
        return f"{hours:.1f} h ago"
    return f"{hours / 24:.0f} d ago"


def _badge(text: Any, kind: str | None = None):
    from dash import html

    text = "–" if text is None or (isinstance(text, float) and math.isnan(text)) else str(text)
    return html.Span(text.replace("_", " "), className=f"badge {kind or STATUS_BADGE.get(text, 'info')}")


def _badge_html(text: Any, kind: str | None = None) -> str:
    text = "–" if text is None or (isinstance(text, float) and math.isnan(text)) else str(text)
    return f'<span class="badge {kind or STATUS_BADGE.get(text, "info")}">{esc(text.replace("_", " "))}</span>'


def esc(value: Any) -> str:
    return html_lib.escape(str(value), quote=True)


def raw_html(markup: str, id: str | None = None):
    """Server-built HTML as one Dash component. Every value in it went through :func:`esc`.

    A table of a few hundred rows built from Dash components is thousands of React components,
    which Dash 4 renders one by one (tens of seconds in the browser); as HTML it is one.
    """
    from dash import dcc

    return dcc.Markdown(markup, dangerously_allow_html=True, id=id or "", className="html")


def _td(inner: str, cls: str = "") -> str:
    return (f"<td class='{cls}'>" if cls else "<td>") + inner + "</td>"


def table(df: pd.DataFrame, columns: list[tuple[str, str, str]], *, badges: tuple[str, ...] = (),
          links: dict[str, Any] | None = None, selected: Any = None, key: str | None = None, id: str | None = None):
    """An HTML table of ``df``: ``columns`` are (column, header with its unit, number format)."""
    head = "".join(f"<th>{esc(h)}</th>" for _, h, _ in columns)
    rows = []
    for rec in df.to_dict("records"):
        cells = []
        for col, _, fmt in columns:
            v = rec.get(col)
            when = isinstance(v, pd.Timestamp | dt.date)
            if col in badges:
                cells.append(f"<td>{_badge_html(v)}</td>")
            elif links and col in links:
                href = links[col](rec)
                # files (reports) open in a new tab; pages load in this one
                extra = ' target="_blank" rel="noopener"' if href and href.startswith("/files/") else ""
                text = esc(_fmt(v, fmt))
                inner = f'<a href="{esc(href)}"{extra}>{text}</a>' if href else text
                cells.append(_td(inner, "ts" if when else ""))
            else:
                numeric = isinstance(v, int | float) and not isinstance(v, bool)
                long_text = isinstance(v, str) and len(v) > 60
                cells.append(_td(esc(_fmt(v, fmt)), "num" if numeric else "text" if long_text else "ts" if when else ""))
        picked = key and selected is not None and rec.get(key) == selected
        rows.append(("<tr class='selected'>" if picked else "<tr>") + "".join(cells) + "</tr>")
    return raw_html(f'<table class="data" id="{esc(id or "")}"><thead><tr>{head}</tr></thead>'
                    f'<tbody>{"".join(rows)}</tbody></table>')


def _rul_badge(days: Any) -> str:
    """Remaining useful life with its urgency (HTML): due within a week, plan within a month."""
    if days is None or (isinstance(days, float) and math.isnan(days)):
        return "–"
    return _badge_html(f"{days:,.0f}", "bad" if days <= 7 else "warn" if days <= 30 else "ok")


def _empty_note(what: str):
    from dash import html

    return html.P(f"No {what} in the lake yet.", className="note")


def _query(search: str | None) -> dict[str, str]:
    return {k: v[-1] for k, v in parse_qs((search or "").lstrip("?")).items()}


def _fig_layout(fig: go.Figure, height: int = 380) -> go.Figure:
    fig.update_layout(height=height, margin=dict(l=60, r=20, t=80, b=40), template="plotly_white",
                      legend=dict(orientation="h", yref="container", yanchor="top", y=0.995, x=0),
                      hovermode="x unified")
    return fig


def default_tags(plant_type: str, catalog: pd.DataFrame) -> list[str]:
    """What an operator watches first: the plant's main output and its first set point (a tag ending in .SP)."""
    from optimization.benefits import KPI_BASES
    from optimization.plants import plant_optimizer

    known = set(catalog["tag"])
    picks = []
    basis = KPI_BASES.get(plant_type)
    if basis is not None and basis.reproduction_tag in known:
        picks.append(basis.reproduction_tag)
    try:
        mapped = [t for t, _ in getattr(plant_optimizer(plant_type), "SETPOINT_TAGS", {}).values()]
    except (KeyError, ValueError):
        mapped = []
    setpoints = [t for t in mapped if t.endswith(".SP") and t in known] or [t for t in mapped if t in known]
    picks += [t for t in setpoints if t not in picks][:1]
    return picks or catalog["tag"].head(2).tolist()


def _utc(ts: Any) -> dt.datetime:
    t = pd.Timestamp(ts)
    return (t.tz_convert("UTC") if t.tzinfo else t.tz_localize("UTC")).to_pydatetime()


# ------------------------------------------------------------------------------------------ pages


class Console:
    """The pages and actions of one console (a lake, a users file)."""

    def __init__(self, lake: Lake, users: Users, *, ack_timeout_s: float = 10.0, live_interval_ms: int = 3000,
                 broker: tuple[str, int] | None = None) -> None:
        self.lake, self.users = lake, users
        self.reader = q.Reader(lake)
        self.ack_timeout_s, self.live_interval_ms = ack_timeout_s, live_interval_ms
        self.broker = broker

    # .............................................................................. fleet
    def fleet(self, user: User, params: dict[str, str]):
        from dash import html

        df = q.fleet(self.reader)
        if not len(df):
            return [html.H1("Fleet"), _empty_note("plants")]
        cards = []
        for rec in df.to_dict("records"):
            age = rec.get("age_h")
            fresh = "ok" if age is not None and not math.isnan(age) and age < 1 else ("warn" if age is not None and
                                                                                      not math.isnan(age) and age < 26 else "bad")
            compl = rec.get("last_completeness")
            opens = {k[5:]: int(v) for k, v in rec.items() if k.startswith("open_") and k != "open_events"
                     and v is not None and not (isinstance(v, float) and math.isnan(v)) and v > 0}
            unit = rec.get("product_unit") if isinstance(rec.get("product_unit"), str) else "product unit"
            num = (lambda v, f: _fmt(v, f))
            proposed = rec.get("proposed")
            items = [
                ("Newest reading", f'{esc(_fmt(rec.get("newest_ts")))} {_badge_html(_age(age), fresh)}'),
                ("Completeness, newest day",
                 f'{esc(num(compl * 100 if compl is not None and not math.isnan(compl) else None, ".1f"))} % '
                 f'{_badge_html(rec.get("last_status"))}'),
                ("Completeness, last 7 days", f"{esc(num((rec.get('completeness_7d') or float('nan')) * 100, '.1f'))} %"),
                ("Open events", " ".join(_badge_html(f"{n} {k.replace('_', ' ')}",
                                                    "bad" if k in ("process_anomaly", "shutdown") else "warn")
                                         for k, n in sorted(opens.items())) or _badge_html("none", "ok")),
                (f"KPIs on {_fmt(rec.get('kpi_date'), 'date')}", ""),
                (f"Product ({unit})", esc(num(rec.get("product_amount"), ",.2f"))),
                ("Operating profit (USD)", esc(num(rec.get("operating_profit_usd"), ",.0f"))),
                (f"Specific energy (GJ/{unit})", esc(num(rec.get("specific_energy_gj_per_unit"), ",.3f"))),
                ("CO2e, Scope 1+2 location (t)", esc(num(rec.get("co2e_s12_t"), ",.2f"))),
                ("Shortest RUL, P50 (d)", _rul_badge(rec.get("min_rul_p50_days"))),
                ("Writes awaiting approval", str(int(proposed) if isinstance(proposed, int | float)
                                                 and not math.isnan(proposed) else 0)),
            ]
            dl = "".join(f"<dt>{esc(label)}</dt><dd>{value}</dd>" for label, value in items)
            pid = rec["plant_id"]
            cards.append(f'<div class="card" id="card-{esc(pid)}"><h3><a href="/trends?{esc(urlencode({"plant": pid}))}">'
                         f'{esc(rec.get("name") or pid)}</a></h3><div class="sub">{esc(pid)} · '
                         f'{esc(rec.get("plant_type") or "")} · site {esc(rec.get("site_id") or "–")}</div>'
                         f'<dl>{dl}</dl></div>')
        return [html.H1("Fleet"),
                html.P("Every plant instance: how fresh and complete its data are, what is open, and its latest "
                       "day's KPIs (Scope 1 + location-based Scope 2 CO2e). Click a plant for its trends.",
                       className="lead"),
                raw_html(f'<div class="cards" id="fleet-cards">{"".join(cards)}</div>')]

    # ............................................................................. trends
    def trends(self, user: User, params: dict[str, str]):
        from dash import dcc, html

        plants = q.plants(self.reader)
        if not len(plants):
            return [html.H1("Tag trends"), _empty_note("plants")]
        plant = params.get("plant") if params.get("plant") in set(plants["plant_id"]) else plants["plant_id"].iloc[0]
        catalog = q.tags(self.reader, plant)
        ptype = plants.set_index("plant_id").loc[plant, "plant_type"]
        chosen = ([t for t in (params.get("tags") or "").split(",") if t in set(catalog["tag"])]
                  or default_tags(ptype, catalog))
        rng = params.get("range") if params.get("range") in RANGES else "7 days"
        return [
            html.H1("Tag trends"),
            html.P("Gold's hourly time-weighted means with their min–max band (daily beyond 14 days), then the "
                   "current hour's readings as the stream commits them to silver, refreshed every "
                   f"{self.live_interval_ms / 1000:g} s. Shaded: events of the plant.", className="lead"),
            html.Div([
                html.Label(["Plant", dcc.Dropdown(id="trend-plant", options=[{"label": f"{r.name} ({r.plant_id})",
                                                                              "value": r.plant_id} for r in plants.itertuples()],
                                                  value=plant, clearable=False)], className="mid"),
                html.Label(["Tags", dcc.Dropdown(id="trend-tags", options=self._tag_options(catalog), value=chosen,
                                                 multi=True)], className="wide"),
                html.Label(["Range", dcc.RadioItems(id="trend-range", options=list(RANGES), value=rng, inline=True)]),
            ], className="controls"),
            dcc.Loading(dcc.Graph(id="trend-graph", config={"displaylogo": False}), delay_show=500),
            html.Div(id="trend-status", className="note"),
            dcc.Store(id="live-state"),
            dcc.Interval(id="live-tick", interval=self.live_interval_ms),
        ]

    @staticmethod
    def _tag_options(catalog: pd.DataFrame) -> list[dict[str, str]]:
        return [{"label": f"{r.tag} — {r.description} ({r.unit})", "value": r.tag} for r in catalog.itertuples()]

    def trend_figure(self, plant: str, tag_names: list[str], rng: str) -> tuple[go.Figure, dict, str]:
        """The trend figure, the live state (what the live callback extends) and a status line."""
        catalog = q.tags(self.reader, plant).set_index("tag")
        tag_names = [t for t in tag_names if t in catalog.index][:6]
        days = RANGES.get(rng, 7)
        last_day = q.newest_day(self.reader, plant)
        newest = q.newest_reading(self.reader, plant, (last_day or dt.date.today()) - dt.timedelta(days=1))
        if newest is not None:
            live_from = _utc(newest).replace(minute=0, second=0, microsecond=0)
        elif last_day is not None:
            live_from = dt.datetime.combine(last_day + dt.timedelta(days=1), dt.time(), dt.UTC)
        else:
            live_from = dt.datetime.now(dt.UTC).replace(minute=0, second=0, microsecond=0)
        start = live_from - dt.timedelta(days=days)
        hist = q.history(self.reader, plant, tag_names, start, live_from)
        now_pts = q.live(self.reader, plant, tag_names, live_from - dt.timedelta(microseconds=1))
        n = max(len(tag_names), 1)
        fig = make_subplots(rows=n, cols=1, shared_xaxes=True, vertical_spacing=0.04,
                            subplot_titles=[f"{t} — {catalog.loc[t, 'description']} ({catalog.loc[t, 'unit']})"
                                            for t in tag_names] or ["no tag chosen"])
        traces: dict[str, int] = {}
        for i, tag in enumerate(tag_names):
            colour = PALETTE[i % len(PALETTE)]
            h = hist[hist["tag"] == tag]
            unit = catalog.loc[tag, "unit"]
            if len(h):
                fig.add_trace(go.Scatter(x=h["t"], y=h["hi"], mode="lines", line=dict(width=0), showlegend=False,
                                         hoverinfo="skip", name=f"{tag} max"), row=i + 1, col=1)
                fig.add_trace(go.Scatter(x=h["t"], y=h["lo"], mode="lines", line=dict(width=0), fill="tonexty",
                                         fillcolor="rgba(120,120,120,0.15)", showlegend=False, hoverinfo="skip",
                                         name=f"{tag} min"), row=i + 1, col=1)
                fig.add_trace(go.Scatter(x=h["t"], y=h["mean"], mode="lines", line=dict(color=colour, width=1.6),
                                         name=f"{tag} ({'hourly' if days <= q.HOURLY_MAX_DAYS else 'daily'} mean, {unit})"),
                              row=i + 1, col=1)
            p = now_pts[now_pts["tag"] == tag]
            # plain lists, not numpy arrays: plotly.py sends arrays as typed arrays, which extendData cannot grow
            fig.add_trace(go.Scatter(x=[_utc(t).isoformat() for t in p["ts"]], y=[float(v) for v in p["value"]],
                                     mode="lines+markers", marker=dict(size=3),
                                     line=dict(color=colour, width=1, dash="dot"), name=f"{tag} live ({unit})"),
                          row=i + 1, col=1)
            traces[tag] = len(fig.data) - 1
        ev = q.events(self.reader, plant_id=plant, start=start, end=live_from + dt.timedelta(days=1),
                      kinds=("process_anomaly", "shutdown", "transient") if days > 31 else None, limit=300)
        # one layout shape per event over every row, set at once (add_vrect re-validates every shape per call:
        # 15 events cost 0.8 s)
        fig.update_layout(shapes=[dict(type="rect", xref="x", yref="paper", y0=0, y1=1, x0=_utc(e.start_at).isoformat(),
                                       x1=_utc(e.end_at if pd.notna(e.end_at) else live_from + dt.timedelta(hours=1))
                                       .isoformat(), fillcolor=KIND_COLOURS.get(e.kind, "rgba(0,0,0,0.08)"), line_width=0,
                                       layer="below") for e in ev.itertuples()])
        for kind in (sorted(set(ev["kind"])) if len(ev) else []):  # a legend entry per shaded kind
            fig.add_trace(go.Scatter(x=[None], y=[None], mode="markers", name=f"event: {kind.replace('_', ' ')}",
                                     marker=dict(symbol="square", size=12, color=KIND_COLOURS.get(kind, "rgba(0,0,0,0.08)"))),
                          row=1, col=1)
        _fig_layout(fig, height=max(260 * n, 320))
        fig.update_layout(uirevision=f"{plant}|{','.join(tag_names)}|{rng}")
        # a watermark per tag: the stream commits tags independently, so one tag's newest is not another's
        after = {t: _utc(now_pts.loc[now_pts["tag"] == t, "ts"].max() if (now_pts["tag"] == t).any()
                         else live_from - dt.timedelta(microseconds=1)).isoformat() for t in tag_names}
        state = {"plant": plant, "tags": tag_names, "traces": traces, "after": after, "points": int(len(now_pts))}
        kinds = ", ".join(f"{k.replace('_', ' ')} {v}" for k, v in ev["kind"].value_counts().items()) if len(ev) else "none"
        status = (f"History {start:%Y-%m-%d %H:%M} – {live_from:%Y-%m-%d %H:%M} UTC from gold "
                  f"({len(hist)} {'hourly' if days <= q.HOURLY_MAX_DAYS else 'daily'} points); current hour from silver: "
                  f"{len(now_pts)} readings, newest {_fmt(newest)}. Events shaded: {kinds}.")
        return fig, state, status

    def live_update(self, state: dict) -> tuple[list | None, dict]:
        """New silver readings of each tag since that tag's newest shown, as ``extendData`` for the live traces."""
        after = {t: pd.Timestamp(v) for t, v in state["after"].items()}
        if not after:
            return None, state
        pts = q.live(self.reader, state["plant"], state["tags"], min(after.values()).to_pydatetime())
        xs, ys, idx, marks, n = [], [], [], dict(state["after"]), 0
        for tag, trace in state["traces"].items():
            p = pts[(pts["tag"] == tag) & (pd.to_datetime(pts["ts"], utc=True) > after[tag])] if len(pts) else pts
            if len(p):
                xs.append([_utc(t).isoformat() for t in p["ts"]])
                ys.append([float(v) for v in p["value"]])
                idx.append(trace)
                marks[tag] = _utc(p["ts"].max()).isoformat()
                n += len(p)
        if not n:
            return None, state
        return [{"x": xs, "y": ys}, idx], {**state, "after": marks, "points": state.get("points", 0) + n}

    # ............................................................................. events
    def events(self, user: User, params: dict[str, str]):
        from dash import dcc, html

        newest = q.newest_event_start(self.reader)
        if newest is None:
            return [html.H1("Events"), _empty_note("events")]
        plant = params.get("plant") or None
        kind = params.get("kind") or None
        raw = params.get("days", "30")
        days = min(max(int(raw), 1), 3650) if re.fullmatch(r"[0-9]{1,5}", raw) else 30
        open_only = params.get("open") == "1"
        end = _utc(newest) + dt.timedelta(days=1)
        ev = q.events(self.reader, plant_id=plant, kinds=[kind] if kind else None, open_only=open_only,
                      start=end - dt.timedelta(days=days), end=end, limit=300)
        ev["end_txt"] = ev["end_at"].map(lambda t: _fmt(t) if pd.notna(t) else "open")
        ev["top"] = ev["top_tags"].map(lambda s: ", ".join(t for t, _ in q.top_tags(s)[:3]))
        selected = params.get("event")
        base = {k: v for k, v in params.items() if k != "event"}
        plants = q.plants(self.reader)
        controls = html.Div([
            html.Label(["Plant", dcc.Dropdown(id="ev-plant", options=[{"label": p, "value": p} for p in plants["plant_id"]],
                                              value=plant, placeholder="all plants")], className="mid"),
            html.Label(["Kind", dcc.Dropdown(id="ev-kind", options=[{"label": k.replace("_", " "), "value": k}
                                                                    for k in KIND_COLOURS], value=kind,
                                             placeholder="every kind")], className="mid"),
            html.Label(["Days before the newest event", dcc.Input(id="ev-days", type="number", min=1, max=3650, value=days,
                                                                  debounce=True)]),
            dcc.Checklist(id="ev-open", options=[{"label": " open only", "value": "1"}], value=["1"] if open_only else []),
        ], className="controls")
        body = [html.H1("Events"),
                html.P("Event frames detected from the data (sensor faults, process anomalies, transients, shutdowns, "
                       "violated balances), newest first. Open an event for its contributing tags and their trends.",
                       className="lead"), controls]
        if selected:
            body += self._event_detail(selected)
        body.append(table(ev, [("start_at", "Start (UTC)", ""), ("end_txt", "End (UTC)", ""), ("plant_id", "Plant", ""),
                               ("unit", "Unit", ""), ("kind", "Kind", ""), ("severity", "Severity", ""),
                               ("duration_h", "Duration (h)", ",.1f"), ("peak_score", "Peak score (× limit)", ",.2f"),
                               ("top", "Top contributing tags", ""), ("detail", "What was detected", "")],
                          badges=("severity",),
                          links={"start_at": lambda r: "/events?" + urlencode({**base, "event": r["event_id"]})},
                          selected=selected, key="event_id", id="events-table")
                    if len(ev) else _empty_note("events matching the filters"))
        return body

    def _event_detail(self, event_id: str) -> list:
        from dash import dcc, html

        e = q.event(self.reader, event_id)
        if e is None:
            return [html.P(f"No event {event_id}.", className="message bad")]
        contrib = q.top_tags(e.get("top_tags"))
        start = _utc(e["start_at"])
        end = _utc(e["end_at"]) if pd.notna(e.get("end_at")) else start + dt.timedelta(hours=float(e["duration_h"] or 1))
        pad = max(dt.timedelta(hours=6), (end - start) / 2)
        names = [t for t, _ in contrib[:3]]
        hist = q.history(self.reader, e["plant_id"], names, start - pad, end + pad)
        fig = make_subplots(rows=1, cols=2, column_widths=[0.3, 0.7],
                            subplot_titles=["Contribution to the detector statistic (share)",
                                            "Top tags around the event (hourly mean, each scaled to its own range)"])
        if contrib:
            fig.add_trace(go.Bar(x=[s for _, s in contrib][::-1], y=[t for t, _ in contrib][::-1], orientation="h",
                                 marker_color=PALETTE[0], name="share", showlegend=False), row=1, col=1)
        for i, tag in enumerate(names):
            h = hist[hist["tag"] == tag]
            if not len(h):
                continue
            lo, hi = h["mean"].min(), h["mean"].max()
            scaled = (h["mean"] - lo) / (hi - lo) if hi > lo else h["mean"] * 0
            fig.add_trace(go.Scatter(x=h["t"], y=scaled, mode="lines", name=f"{tag} ({_fmt(lo, '.4g')}–{_fmt(hi, '.4g')} "
                                     f"{h['unit'].iloc[0]})", line=dict(color=PALETTE[(i + 1) % len(PALETTE)])),
                          row=1, col=2)
        fig.add_vrect(x0=start, x1=end, fillcolor=KIND_COLOURS.get(e["kind"], "rgba(0,0,0,0.1)"), line_width=0,
                      row=1, col=2)
        _fig_layout(fig, 340)
        return [html.H2(f"{e['kind'].replace('_', ' ')} on {e['plant_id']} / {e['unit']}: {_fmt(start)} – "
                        f"{_fmt(e.get('end_at')) if pd.notna(e.get('end_at')) else 'open'}"),
                html.P([_badge(e["severity"]), f" peak {_fmt(e.get('peak_score'), '.2f')} × limit · {e['detector']} · ",
                        e["detail"]], className="note"),
                dcc.Graph(id="event-graph", figure=fig, config={"displaylogo": False})]

    # ............................................................................. health
    def health(self, user: User, params: dict[str, str]):
        from dash import dcc, html

        df = q.asset_health(self.reader)
        if not len(df):
            return [html.H1("Asset health"), _empty_note("asset health assessments")]
        df["label"] = df["plant_id"] + " · " + df["asset"] + " · " + df["indicator"]
        df["value_txt"] = [f"{_fmt(v, '.4g')} ± {_fmt(s, '.2g')} {u}" for v, s, u in
                           zip(df["indicator_value"], df["indicator_std_error"], df["unit"], strict=True)]
        fig = go.Figure()
        with_rul = df[df["rul_p50_days"].notna()]
        colours = {"ok": "#2ca02c", "plan_maintenance": "#ff7f0e", "maintenance_due": "#d62728"}
        for status, part in with_rul.groupby("status"):
            fig.add_trace(go.Scatter(
                x=part["rul_p50_days"], y=part["label"], mode="markers", name=status.replace("_", " "),
                marker=dict(size=10, color=colours.get(status, "#1f77b4")),
                error_x=dict(type="data", symmetric=False, array=(part["rul_p90_days"] - part["rul_p50_days"]).tolist(),
                             arrayminus=(part["rul_p50_days"] - part["rul_p10_days"]).tolist())))
        _fig_layout(fig, max(220, 34 * len(with_rul) + 120))
        fig.update_layout(hovermode="closest", xaxis_title="Remaining useful life (d): P50, bars P10–P90")
        sel = (params.get("plant"), params.get("asset"), params.get("indicator"))
        body = [html.H1("Asset health"),
                html.P("Each health indicator (a calibrated parameter or a data-derived one) trended since the last "
                       "maintenance and projected to its threshold: remaining useful life P10 / P50 / P90.",
                       className="lead"),
                dcc.Graph(id="rul-graph", figure=fig, config={"displaylogo": False}) if len(with_rul) else
                html.P("No indicator has a degradation trend to project yet.", className="note")]
        if all(sel):
            h = q.health_history(self.reader, *sel)
            if len(h):
                f2 = go.Figure(go.Scatter(x=h["assessed_date"], y=h["indicator_value"], mode="lines+markers",
                                          name="indicator", error_y=dict(type="data", array=h["indicator_std_error"].tolist())))
                last = h.iloc[-1]
                f2.add_hline(y=float(last["threshold"]), line=dict(dash="dash", color="#d62728"),
                             annotation_text=f"maintenance threshold {last['threshold']:.4g}")
                f2.update_layout(yaxis_title=f"{sel[2]} ({df.loc[df['indicator'] == sel[2], 'unit'].iloc[0]})"
                                 if (df["indicator"] == sel[2]).any() else sel[2])
                body += [html.H2(f"{' · '.join(sel)}: {len(h)} assessment(s); RUL P50 {_fmt(last['rul_p50_days'], ',.0f')} d"),
                         dcc.Graph(id="health-history", figure=_fig_layout(f2, 320))]
        body.append(table(df, [("plant_id", "Plant", ""), ("asset", "Asset", ""), ("indicator", "Indicator", ""),
                               ("assessed_date", "Assessed", "date"), ("value_txt", "Value ± SE", ""),
                               ("threshold", "Threshold", ".4g"), ("trend_per_day", "Trend (unit/d)", ".3g"),
                               ("rul_p10_days", "RUL P10 (d)", ",.0f"), ("rul_p50_days", "RUL P50 (d)", ",.0f"),
                               ("rul_p90_days", "RUL P90 (d)", ",.0f"), ("threshold_date_p50", "Threshold date (P50)", "date"),
                               ("status", "Status", ""), ("recommendation", "Recommendation", "")],
                          badges=("status",), id="health-table",
                          links={"indicator": lambda r: "/health?" + urlencode({"plant": r["plant_id"], "asset": r["asset"],
                                                                                "indicator": r["indicator"]})}))
        return body

    # .................................................................... recommendations
    def recommendations(self, user: User, params: dict[str, str]):
        from dash import dcc, html

        recs = q.recommendations(self.reader)
        body = [html.H1("Recommendations and write-back"),
                html.P("The newest day's recommended set points per plant. A recommendation becomes a write when an "
                       "engineer proposes it; an operator or engineer approves (the safety envelope then checks and "
                       "publishes it) or rejects it with a reason. Every state change is in the audit below, with who "
                       "made it.", className="lead")]
        if len(recs):
            recs["policy"] = recs["decision_policy"].fillna("").str.replace("_", " ")
            body.append(table(recs, [("plant_id", "Plant", ""), ("recommendation_date", "Day", "date"), ("setpoint", "Set point", ""),
                                     ("unit", "Unit", ""), ("current_value", "Current", ".4g"),
                                     ("recommended_value", "Recommended", ".4g"), ("lower_bound", "Lower bound", ".4g"),
                                     ("upper_bound", "Upper bound", ".4g"), ("delta_profit_usd_h", "Δ profit (USD/h)", "+,.2f"),
                                     ("delta_co2e_kg_h", "Δ CO2e (kg/h)", "+,.3f"), ("policy", "Decision policy", ""),
                                     ("active_constraints", "Constraints at their bounds", "")], id="recs-table"))
        else:
            body.append(_empty_note("recommendations"))
        days = sorted({(r.plant_id, str(pd.Timestamp(r.recommendation_date).date())) for r in recs.itertuples()}) if len(recs) else []
        writes = q.writes(self.reader)
        proposed = writes[writes["state"] == "proposed"] if len(writes) else writes
        may_act, may_propose = user.may("approve"), user.may("propose")
        body += [
            html.H2("Propose"),
            html.Div([
                html.Label(["Plant and day", dcc.Dropdown(id="wb-propose-day", options=[{"label": f"{p} {d}", "value": f"{p}|{d}"}
                                                                                       for p, d in days],
                                                          value=f"{days[0][0]}|{days[0][1]}" if days else None)], className="mid"),
                html.Button("Propose as writes", id="wb-propose", className="act", disabled=not may_propose),
            ], className="controls"),
            html.P("" if may_propose else f"Proposing needs the engineer role; you are {user.role}.", className="note"),
            html.H2("Approve or reject"),
            html.Div([
                html.Label(["Write", dcc.Dropdown(id="wb-write", options=[
                    {"label": f"{r.plant_id} {r.tag}: {_fmt(r.from_value, '.4g')} → {_fmt(r.to_value, '.4g')} {r.unit} ({r.write_id})",
                     "value": r.write_id} for r in proposed.itertuples()] if len(proposed) else [],
                    value=proposed["write_id"].iloc[0] if len(proposed) else None, placeholder="no write is waiting")],
                    className="wide"),
                html.Label(["Reason", dcc.Input(id="wb-reason", type="text", className="reason",
                                                placeholder="required to reject")]),
                html.Label(["Plant time (UTC, engineers; empty = now)",
                            dcc.Input(id="wb-plant-time", type="text", placeholder="2026-03-04T02:00:00Z", className="plant-time",
                                      disabled=not user.may("plant_time"))]),
                html.Button("Approve", id="wb-approve", className="act", disabled=not may_act),
                html.Button("Reject", id="wb-reject", className="act reject", disabled=not may_act),
            ], className="controls"),
            html.P("" if may_act else f"Approving and rejecting need the operator or engineer role; you are {user.role}.",
                   className="note"),
            dcc.Loading(html.Div(id="wb-message")),
            html.H2("Writes (latest state)"),
            html.Div(self._writes_table(writes), id="wb-writes"),
            html.H2("Audit trail"),
            html.Div(self._audit_table(), id="wb-audit"),
        ]
        return body

    def _writes_table(self, writes: pd.DataFrame):
        if not len(writes):
            return _empty_note("setpoint writes")
        return table(writes, [("changed_at", "Changed (UTC)", ""), ("plant_id", "Plant", ""), ("tag", "Tag", ""),
                              ("from_value", "From", ".4g"), ("to_value", "To", ".4g"), ("unit", "Unit", ""),
                              ("state", "State", ""), ("actor", "By", ""), ("reason", "Reason", ""),
                              ("write_id", "Write", "")], badges=("state",), id="writes-table")

    def _audit_table(self):
        a = q.audit(self.reader)
        if not len(a):
            return _empty_note("write audit rows")
        return table(a, [("changed_at", "Changed (UTC)", ""), ("write_id", "Write", ""), ("step", "Step", "d"),
                         ("state", "State", ""), ("actor", "By", ""), ("plant_id", "Plant", ""), ("tag", "Tag", ""),
                         ("from_value", "From", ".4g"), ("to_value", "To", ".4g"), ("unit", "Unit", ""),
                         ("reason", "Reason", "")], badges=("state",), id="audit-table")

    def _meta(self, user: User, action: str) -> CommitMeta:
        now = dt.datetime.now(dt.UTC)
        return CommitMeta("nexus-console", f"console_{action}__{user.name}__{now:%Y%m%dT%H%M%S%fZ}", "console")

    def propose(self, user: User, plant_day: str | None) -> tuple[str, str]:
        from optimization import writeback as wb

        if not user.may("propose"):
            return "bad", f"{user.name} ({user.role}) may not propose writes: the engineer role is needed."
        if not plant_day:
            return "bad", "Choose a plant and day."
        plant, _, day = plant_day.partition("|")
        try:
            before = {r["write_id"]: r["state"] for r in wb.writes(self.lake, plant_id=plant).to_pylist()}
            ids = wb.propose(self.lake, plant, dt.date.fromisoformat(day), meta=self._meta(user, "propose"),
                             actor=user.name)
        except (wb.InvalidWriteRequest, KeyError, ValueError) as exc:
            return "bad", f"Not proposed: {exc}"
        if not ids:
            return "bad", f"No recommended set point of {plant} on {day} maps to a writable set point tag."
        new = [i for i in ids if i not in before]
        old = [f"{i} ({before[i]})" for i in ids if i in before]
        return ("ok" if new else "bad"), (f"Proposed {len(new)} new write(s) of {plant} for {day} as {user.name}"
                                          + (f": {', '.join(new)}" if new else "")
                                          + (f"; already proposed before: {', '.join(old)}" if old else "") + ".")

    def act(self, user: User, action: str, write_id: str | None, reason: str | None,
            plant_time: str | None) -> tuple[str, str]:
        """Approve (then check and publish) or reject a write as ``user``."""
        from optimization import writeback as wb

        if not user.may(action):
            return "bad", f"{user.name} ({user.role}) may not {action} writes: the operator or engineer role is needed."
        if not write_id:
            return "bad", "Choose a write."
        reason = (reason or "").strip()
        meta = self._meta(user, action)
        now = dt.datetime.now(dt.UTC)
        if plant_time:
            if not user.may("plant_time"):
                return "bad", "Only engineers may give the plant's clock."
            try:
                now = dt.datetime.fromisoformat(plant_time.strip().replace("Z", "+00:00"))
            except ValueError:
                return "bad", f"Plant time {plant_time!r} is not ISO 8601 (e.g. 2026-03-04T02:00:00Z)."
            if now.tzinfo is None:
                return "bad", "Plant time needs a UTC offset (e.g. 2026-03-04T02:00:00Z)."
        try:
            if action == "reject":
                if not reason:
                    return "bad", "Rejecting needs a reason."
                wb.reject(self.lake, write_id, operator=user.name, reason=reason, meta=meta, now=now)
                return "ok", f"Rejected {write_id} by {user.name}: {reason}"
            wb.approve(self.lake, write_id, operator=user.name, reason=reason, meta=meta, now=now)
            host, port = self.broker or _broker()
            out = wb.publish(self.lake, write_id, broker_host=host, broker_port=port, now=now, meta=meta,
                             timeout_s=self.ack_timeout_s)
        except (wb.InvalidWriteRequest, KeyError, ValueError) as exc:
            return "bad", f"Not done: {exc}"
        failed = "; ".join(f"{n}: {c.detail}" for n, c in out.failed_checks.items())
        kind = "ok" if out.state == "acknowledged" else "bad"
        return kind, (f"Approved {write_id} by {user.name}; the write-back says {out.state}"
                      + (f" (failed checks — {failed})" if failed else "") + ".")

    # ............................................................................ what-if
    def what_if(self, user: User, params: dict[str, str]):
        from dash import dcc, html

        runs = q.what_if_runs(self.reader)
        base = params.get("base") if len(runs) and params.get("base") in set(runs["experiment_id"]) else (
            runs["experiment_id"].iloc[0] if len(runs) else None)
        row = runs[runs["experiment_id"] == base].iloc[0].to_dict() if base else {}
        defaults = {"current_a": 500.0, "co2_concentration_pct": 100.0, "co2_flow_nm3_h": 30.0, "duration_h": 8.0,
                    "step_minutes": 5.0, "electrode_age_h": 250.0}
        values = {k: (row.get(k) if row.get(k) is not None and row.get(k) == row.get(k) else v) for k, v in defaults.items()}
        may = user.may("what_if")
        return [
            html.H1("What-if experiments: CO2 electrolyzer"),
            html.P("Pick a base run, change its set points and run the twin (the physics, from the nominal operating "
                   "point, ramping to the new set points); its response is plotted against the base's and stored in "
                   "gold.fct_what_if_runs under your name. The same experiment runs from Airflow as "
                   "simulate_electrolyzer_what_if.", className="lead"),
            html.Div([html.Label(["Base run", dcc.Dropdown(id="wi-base", options=[
                {"label": f"{r.experiment_id} — {r.current_a:g} A, {r.co2_concentration_pct:g} % CO2, {r.co2_flow_nm3_h:g} "
                          f"Nm³/h, {r.duration_h:g} h ({_fmt(r.requested_at)})", "value": r.experiment_id}
                for r in runs.itertuples()] if len(runs) else [], value=base,
                placeholder="no run yet: the inputs start at the nominal point")], className="wide")],
                className="controls"),
            html.Div([html.Label([label, dcc.Input(id=f"wi-{key}", type="number", min=lo, max=hi, value=values[key],
                                                   step="any")]) for key, label, lo, hi in WHAT_IF_INPUTS]
                     + [html.Button("Run the twin", id="wi-run", className="act", disabled=not may)],
                     className="controls"),
            html.P("" if may else f"Running experiments needs the operator or engineer role; you are {user.role}.",
                   className="note"),
            dcc.Loading(html.Div(id="wi-result", children=self._what_if_view(base, None))),
        ]

    def _what_if_view(self, base: str | None, new: dict | None):
        from dash import dcc, html

        base_ts = q.what_if_series(self.reader, base) if base else pd.DataFrame()
        new_ts = q.what_if_series(self.reader, new["experiment_id"]) if new else pd.DataFrame()
        if not len(base_ts) and not len(new_ts):
            return html.P("No experiment to show yet.", className="note")
        panels = [("formic_acid_kg_h", "Formic acid (kg/h)"), ("faradaic_efficiency_pct", "Faradaic efficiency (%)"),
                  ("cell_voltage_v", "Cell voltage (V)"), ("stack_power_kw", "Stack power (kW)"),
                  ("co2_conversion_pct", "Single-pass CO2 conversion (%)"), ("cell_temp_c", "Stack temperature (°C)")]
        fig = make_subplots(rows=2, cols=3, subplot_titles=[t for _, t in panels], horizontal_spacing=0.07)
        for j, (df, name, style) in enumerate(((base_ts, f"base: {base}", dict(color="#7b8794", dash="dash")),
                                               (new_ts, f"new: {new['experiment_id']}" if new else "", dict(color="#1f77b4")))):
            if not len(df):
                continue
            for i, (col, _) in enumerate(panels):
                fig.add_trace(go.Scatter(x=df["elapsed_h"], y=df[col], mode="lines", line=style, name=name,
                                         legendgroup=name, showlegend=i == 0), row=i // 3 + 1, col=i % 3 + 1)
        fig.update_xaxes(title_text="Elapsed (h)", row=2)
        _fig_layout(fig, 560)
        parts = [dcc.Graph(id="what-if-graph", figure=fig, config={"displaylogo": False})]
        ids = [i for i in (base, new["experiment_id"] if new else None) if i]
        runs = q.what_if_runs(self.reader)
        runs = runs[runs["experiment_id"].isin(ids)]
        if len(runs):
            parts.append(table(runs, [("experiment_id", "Experiment", ""), ("current_a", "Current (A)", ",.0f"),
                                      ("co2_concentration_pct", "CO2 in feed (%)", ".1f"), ("co2_flow_nm3_h", "Feed (Nm³/h)", ".1f"),
                                      ("duration_h", "Duration (h)", ".2f"), ("formic_acid_kg", "Formic acid (kg)", ",.1f"),
                                      ("energy_kwh", "Energy (kWh)", ",.0f"), ("specific_energy_kwh_kg", "Specific energy (kWh/kg)", ".2f"),
                                      ("mean_faradaic_efficiency_pct", "Mean FE (%)", ".1f"), ("co2_vented_kg", "CO2 vented (kg)", ",.1f"),
                                      ("co2_starved_fraction", "CO2-starved time (share)", ".2f"), ("notes", "Twin notes", "")],
                               id="what-if-table"))
        return parts

    def run_what_if(self, user: User, base: str | None, values: dict[str, Any]) -> tuple[str, str, dict | None]:
        from etl.what_if import publish_experiment, run_experiment

        if not user.may("what_if"):
            return "bad", f"{user.name} ({user.role}) may not run experiments: the operator or engineer role is needed.", None
        checked = {}
        for key, label, lo, hi in WHAT_IF_INPUTS:
            v = values.get(key)
            if v is None or not isinstance(v, int | float) or not (lo <= float(v) <= hi) or (key != "current_a" and
                                                                                            key != "electrode_age_h" and v <= 0):
                return "bad", f"{label}: expected a number in {lo:g}..{hi:g}, found {v!r}.", None
            checked[key] = float(v)
        now = dt.datetime.now(dt.UTC)
        experiment_id = f"console-{user.name}-{now:%Y%m%dT%H%M%S}{now.microsecond // 1000:03d}"
        meta = self._meta(user, "what_if")
        inputs = {k: checked[k] for k in ("current_a", "co2_concentration_pct", "co2_flow_nm3_h", "duration_h")}
        try:
            traj = run_experiment(**inputs, step_minutes=checked["step_minutes"], electrode_age_h=checked["electrode_age_h"])
            publish_experiment(self.lake, traj, experiment_id=experiment_id, inputs=inputs, meta=meta)
        except ValueError as exc:
            return "bad", f"The twin refused the inputs: {exc}", None
        return "ok", f"Ran {experiment_id} against {base or 'the nominal point'}.", {"experiment_id": experiment_id}

    # ...................................................................... sustainability
    def sustainability(self, user: User, params: dict[str, str]):
        from dash import html

        body = [html.H1("Sustainability"),
                html.P("Daily KPIs measured from the historian (CO2e: Scope 1 + location-based Scope 2), the "
                       "benefits promised against those replayed on the twin, compliance with limits on the newest "
                       "day, and every daily report.", className="lead")]
        k = q.kpi_trend(self.reader)
        if len(k):
            body.append(self._kpi_graph(k))
        else:
            body.append(_empty_note("daily KPIs"))
        t = q.targets(self.reader)
        body.append(html.H2("Promised against achieved (default decision policy, replayed on the twin)"))
        if len(t):
            t["kpi_txt"] = t["kpi"].str.replace("_", " ")
            t["met_txt"] = t["met"].map({True: "met", False: "not met"}).fillna("no replay")
            body.append(table(t, [("plant_id", "Plant", ""), ("kpi_txt", "KPI", ""), ("target_pct", "Target (%)", "+.1f"),
                                  ("target_stretch_pct", "Stretch (%)", "+.1f"), ("achieved_pct", "Achieved (%)", "+.2f"),
                                  ("achieved_sd_pct", "± 1σ (%)", ".2f"), ("met_txt", "Met", ""), ("days", "Days", "d"),
                                  ("last_day", "Last day", "date")], id="targets-table"))
        else:
            body.append(_empty_note("benefit replays"))
        c = q.compliance(self.reader)
        body.append(html.H2("Compliance on the newest day"))
        if len(c):
            body.append(table(c, [("plant_id", "Plant", ""), ("emission_date", "Day", "date"), ("pollutant", "Pollutant", ""),
                                  ("averaging", "Averaging", ""), ("value", "Value", ",.3f"), ("limit_value", "Limit", ",.3f"),
                                  ("unit", "Unit", ""), ("utilisation_pct", "Utilisation (%)", ".1f"),
                                  ("projected_utilisation_pct", "Projected utilisation (%)", ".1f"), ("status", "Status", "")],
                              badges=("status",), id="compliance-table"))
        else:
            body.append(_empty_note("compliance results"))
        months = q.report_months(self.reader)
        month = params.get("month") if params.get("month") in set(months.get("month", [])) else None
        r = q.reports(self.reader, month)
        body.append(html.H2("Daily reports" + (f", {pd.Timestamp(r['report_date'].iloc[0]):%B %Y}" if len(r) else "")))
        if len(months) > 1:
            body.append(raw_html('<p class="note">Every month with reports: ' + " · ".join(
                f'<a href="/sustainability?month={esc(m)}">{esc(m)}</a> ({int(n)})' for m, n in
                zip(months["month"], months["n"], strict=True)) + "</p>", id="report-months"))
        if len(r):
            body.append(table(r, [("report_date", "Day", "date"), ("scenario_id", "Scenario", ""), ("plants", "Plants", ""),
                                  ("total_market_tco2e", "CO2e, Scopes 1+2 market+3 (t)", ",.2f"),
                                  ("exceedances", "Limits exceeded", "d"), ("computed_at", "Written (UTC)", "")],
                              links={"report_date": lambda row: f"/files/{row['path']}"}, id="reports-table"))
        else:
            body.append(_empty_note("reports"))
        return body

    @staticmethod
    def _kpi_graph(k: pd.DataFrame):
        from dash import dcc

        panels = [("intensity_s12_t_per_unit", "CO2e intensity, S1+S2 location (t per product unit)"),
                  ("specific_energy_gj_per_unit", "Specific energy (GJ per product unit)"),
                  ("operating_profit_usd", "Operating profit (USD/d)"), ("co2e_s12_t", "CO2e, S1+S2 location (t/d)")]
        fig = make_subplots(rows=2, cols=2, subplot_titles=[t for _, t in panels], shared_xaxes=True)
        for j, (plant, part) in enumerate(k.groupby("plant_id")):
            unit = part["product_unit"].iloc[0]
            for i, (col, _) in enumerate(panels):
                fig.add_trace(go.Scatter(x=part["kpi_date"], y=part[col], mode="lines+markers", marker=dict(size=4),
                                         line=dict(color=PALETTE[j % len(PALETTE)]), name=f"{plant} (per {unit})",
                                         legendgroup=plant, showlegend=i == 0), row=i // 2 + 1, col=i % 2 + 1)
        _fig_layout(fig, 560)
        return dcc.Graph(id="kpi-graph", figure=fig, config={"displaylogo": False})


def _broker() -> tuple[str, int]:
    from nexus.settings import mqtt_broker

    return mqtt_broker()


# -------------------------------------------------------------------------------------- the app

LOGIN_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Nexus console — sign in</title><link rel="icon" href="data:,">
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>body{{font-family:system-ui,sans-serif;background:#f5f7fa;display:flex;justify-content:center;padding-top:12vh;margin:0}}
form{{background:#fff;border:1px solid #d9e2ec;border-radius:6px;padding:26px 30px;width:300px}}
h1{{font-size:20px;margin:0 0 16px}}label{{display:block;font-size:13px;color:#52606d;margin:10px 0 4px}}
input{{width:100%;box-sizing:border-box;padding:7px;font-size:15px;border:1px solid #bcccdc;border-radius:4px}}
button{{margin-top:18px;width:100%;padding:8px;font-size:15px;background:#334e68;color:#fff;border:0;border-radius:4px}}
.error{{color:#a61b1b;font-size:13px;margin-top:12px}}</style></head>
<body><form method="post" action="/login"><h1>Nexus console</h1>
<input type="hidden" name="next" value="{next}">
<label for="username">User</label><input id="username" name="username" autocomplete="username" autofocus required>
<label for="password">Password</label><input id="password" name="password" type="password" autocomplete="current-password" required>
<button type="submit" id="sign-in">Sign in</button>{error}</form></body></html>"""


def _safe_next(target: str | None) -> str:
    """Where to go after signing in: one of the console's pages (with its query), never another site."""
    from urllib.parse import urlsplit

    if not target or any(ord(c) < 0x21 or ord(c) == 0x7F for c in target) or "\\" in target:
        return "/"
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or parts.path not in PAGES:
        return "/"
    return parts.path + (f"?{parts.query}" if parts.query else "")


def create_app(lake: Lake | None = None, *, home: Path | None = None, ack_timeout_s: float | None = None,
               live_interval_ms: int = 3000, broker: tuple[str, int] | None = None):
    """The console's Dash app (``app.server`` is its Flask WSGI app)."""
    import dash
    import flask
    import flask_login
    from dash import Input, Output, State, dcc, html, no_update
    from dash.exceptions import PreventUpdate

    from nexus.settings import get_settings

    lake = lake or Lake(get_settings().lake_root)
    home = Path(home) if home else console_home()
    users = Users(home)
    console = Console(lake, users, live_interval_ms=live_interval_ms, broker=broker,
                      ack_timeout_s=ack_timeout_s if ack_timeout_s is not None
                      else float(os.environ.get("NEXUS_CONSOLE_ACK_TIMEOUT_S", "10")))
    throttle = Throttle()  # failed sign-ins per user name
    per_address = Throttle(attempts=20)  # and per client address, across names (guessing many names)

    server = flask.Flask("nexus.console")
    server.config.update(SECRET_KEY=secret_key(home), SESSION_COOKIE_HTTPONLY=True, SESSION_COOKIE_SAMESITE="Lax",
                         SESSION_COOKIE_NAME="nexus_console", PERMANENT_SESSION_LIFETIME=dt.timedelta(hours=12),
                         SESSION_COOKIE_SECURE=os.environ.get("NEXUS_CONSOLE_SECURE_COOKIE", "") == "1")
    logins = flask_login.LoginManager(server)

    class SessionUser(flask_login.UserMixin):
        def __init__(self, user: User) -> None:
            self.user, self.id = user, f"{user.name}:{user.session}"  # the session generation, see auth

    @logins.user_loader
    def _load(session_id: str):
        name, _, generation = session_id.rpartition(":")
        user = users.get(name)
        return SessionUser(user) if user and str(user.session) == generation else None

    def current() -> User:
        u = flask_login.current_user
        if not getattr(u, "is_authenticated", False):
            raise PreventUpdate
        return users.get(u.user.name) or User(u.user.name, "viewer")  # a role changed since login applies now

    @server.before_request
    def _guard():
        path = flask.request.path
        if path in ("/login", "/favicon.ico") or flask_login.current_user.is_authenticated:
            return None
        if flask.request.method == "GET" and (path in PAGES or "text/html" in flask.request.headers.get("Accept", "")):
            return flask.redirect("/login?" + urlencode({"next": flask.request.full_path.rstrip("?")}))
        return flask.Response("login required\n", status=401, mimetype="text/plain")

    @server.route("/login", methods=["GET", "POST"])
    def _login():
        nxt = _safe_next(flask.request.values.get("next"))
        error = ""
        if flask.request.method == "POST":
            name = flask.request.form.get("username", "").strip()[:64]
            address = flask.request.remote_addr or "?"
            if per_address.locked(address):
                error = "Too many failed sign-ins from this address; wait five minutes."
            elif throttle.locked(name):
                error = "Too many failed sign-ins for this user; wait five minutes."
            else:
                user = users.verify(name, flask.request.form.get("password", ""))
                if user is not None:
                    throttle.succeeded(name)
                    flask_login.login_user(SessionUser(user))
                    log.info("console: %s (%s) signed in", user.name, user.role)
                    return flask.redirect(nxt)
                throttle.failed(name)
                per_address.failed(address)
                log.warning("console: failed sign-in for %r from %s", name, address)
                error = "Unknown user or wrong password."
        page = LOGIN_PAGE.format(next=html_lib.escape(nxt, quote=True),
                                 error=f'<p class="error" id="login-error">{html_lib.escape(error)}</p>' if error else "")
        return flask.Response(page, status=401 if error else 200, mimetype="text/html")

    @server.route("/logout")
    def _logout():
        u = flask_login.current_user
        if getattr(u, "is_authenticated", False):
            users.end_sessions(u.user.name)  # a copy of the cookie is refused from now on
        flask_login.logout_user()
        return flask.redirect("/login")

    @server.route("/favicon.ico")
    def _favicon():
        return flask.Response(status=204)

    @server.route("/files/<path:rel>")
    def _files(rel: str):
        parts = rel.split("/")
        if parts[0] not in SERVED_FOLDERS or any(p in ("", ".", "..") or p.startswith(".") for p in parts):
            flask.abort(404)
        if lake.remote:  # the lake on object storage: the file's bytes through the lake's file layer
            try:
                response = flask.Response(lake.files.read_bytes(rel),
                                          mimetype=mimetypes.guess_type(rel)[0] or "application/octet-stream")
            except (FileNotFoundError, ValueError):
                flask.abort(404)
        else:
            root = Path(lake.root).resolve()
            target = (root / rel).resolve()
            if not target.is_relative_to(root) or target.relative_to(root).parts[:1] != (parts[0],) or not target.is_file():
                flask.abort(404)
            response = flask.send_file(target)
        # a report runs its own scripts (plotly) but in an opaque origin: no access to the console's session
        response.headers["Content-Security-Policy"] = "sandbox allow-scripts allow-popups"
        return response

    app = dash.Dash("nexus.console", server=server, title="Nexus console", update_title=None,
                    assets_folder=str(Path(__file__).with_name("assets")), suppress_callback_exceptions=True,
                    serve_locally=True, compress=True)

    def layout():
        u = flask_login.current_user
        who = (f"{u.user.name} · {u.user.role}" if getattr(u, "is_authenticated", False) else "")
        return html.Div([
            dcc.Location(id="url", refresh="callback-nav"),
            html.Header([html.Span("Nexus", className="brand")]
                        + [dcc.Link(title, href=path, id=f"nav-{path.strip('/') or 'fleet'}") for path, title in PAGES.items()]
                        + [html.Span([who, html.A("Sign out", href="/logout")], className="user", id="whoami")],
                        className="nav"),
            html.Main(id="page"),
        ])

    app.layout = layout

    @app.callback(Output("page", "children"), Input("url", "pathname"), Input("url", "search"))
    def _route(pathname: str, search: str):
        user = current()
        name = {"/": "fleet", "/trends": "trends", "/events": "events", "/health": "health",
                "/recommendations": "recommendations", "/what-if": "what_if", "/sustainability": "sustainability"}.get(pathname)
        if name is None:
            return [html.H1("Not found"), html.P(f"No page {pathname}.", className="note")]
        return getattr(console, name)(user, _query(search))

    # trends: controls -> figure and live state; the interval extends the live traces
    @app.callback(Output("trend-tags", "options"), Output("trend-tags", "value"), Input("trend-plant", "value"),
                  State("trend-tags", "value"), prevent_initial_call=True)
    def _trend_plant(plant, chosen):
        catalog = q.tags(console.reader, plant)
        keep = [t for t in (chosen or []) if t in set(catalog["tag"])]
        ptype = q.plants(console.reader).set_index("plant_id")["plant_type"].get(plant, plant)
        return Console._tag_options(catalog), keep or default_tags(ptype, catalog)

    # one callback for the figure and its live extension: Dash drops a superseded run of the same
    # callback, so a poll in flight when the tags change can never extend the new figure's traces
    @app.callback(Output("trend-graph", "figure"), Output("trend-graph", "extendData"), Output("live-state", "data"),
                  Output("trend-status", "children"), Input("trend-plant", "value"), Input("trend-tags", "value"),
                  Input("trend-range", "value"), Input("live-tick", "n_intervals"), State("live-state", "data"))
    def _trend(plant, chosen, rng, _tick, state):
        current()
        if dash.ctx.triggered_id == "live-tick":
            if not state or state.get("plant") != plant or set(state.get("tags", [])) - set(chosen or []):
                raise PreventUpdate
            extend, state = console.live_update(state)
            if extend is None:
                raise PreventUpdate
            return no_update, extend, state, no_update
        fig, state, status = console.trend_figure(plant, chosen or [], rng)
        return fig, no_update, state, status

    # events: filters -> URL
    @app.callback(Output("url", "search", allow_duplicate=True), Input("ev-plant", "value"), Input("ev-kind", "value"),
                  Input("ev-days", "value"), Input("ev-open", "value"), State("url", "search"), prevent_initial_call=True)
    def _ev_filters(plant, kind, days, open_, search):
        params = {k: v for k, v in _query(search).items() if k not in ("plant", "kind", "days", "open")}
        params.update({k: v for k, v in {"plant": plant, "kind": kind, "days": days,
                                         "open": "1" if open_ else None}.items() if v})
        new = "?" + urlencode(params) if params else ""
        return new if new != (search or "") else no_update

    # write-back
    @app.callback(Output("wb-message", "children"), Output("wb-writes", "children"), Output("wb-audit", "children"),
                  Output("wb-write", "options"), Output("wb-write", "value"),
                  Input("wb-propose", "n_clicks"), Input("wb-approve", "n_clicks"), Input("wb-reject", "n_clicks"),
                  State("wb-propose-day", "value"), State("wb-write", "value"), State("wb-reason", "value"),
                  State("wb-plant-time", "value"), prevent_initial_call=True)
    def _writeback(_p, _a, _r, plant_day, write_id, reason, plant_time):
        user = current()
        trigger = dash.ctx.triggered_id
        if trigger == "wb-propose":
            kind, text = console.propose(user, plant_day)
        elif trigger in ("wb-approve", "wb-reject"):
            kind, text = console.act(user, "approve" if trigger == "wb-approve" else "reject", write_id, reason, plant_time)
        else:
            raise PreventUpdate
        writes = q.writes(console.reader)
        proposed = writes[writes["state"] == "proposed"] if len(writes) else writes
        options = [{"label": f"{r.plant_id} {r.tag}: {_fmt(r.from_value, '.4g')} → {_fmt(r.to_value, '.4g')} {r.unit} "
                             f"({r.write_id})", "value": r.write_id} for r in proposed.itertuples()] if len(proposed) else []
        return (html.Div(text, className=f"message {kind}", id="wb-result"), console._writes_table(writes),
                console._audit_table(), options, options[0]["value"] if options else None)

    # what-if
    @app.callback(*[Output(f"wi-{k}", "value") for k, *_ in WHAT_IF_INPUTS], Output("wi-result", "children"),
                  Input("wi-base", "value"), prevent_initial_call=True)
    def _wi_base(base):
        current()
        runs = q.what_if_runs(console.reader)
        row = runs[runs["experiment_id"] == base]
        if not len(row):
            raise PreventUpdate
        rec = row.iloc[0].to_dict()
        vals = [rec.get(k) if rec.get(k) == rec.get(k) and rec.get(k) is not None else no_update for k, *_ in WHAT_IF_INPUTS]
        return *vals, console._what_if_view(base, None)

    @app.callback(Output("wi-result", "children", allow_duplicate=True), Input("wi-run", "n_clicks"),
                  State("wi-base", "value"), *[State(f"wi-{k}", "value") for k, *_ in WHAT_IF_INPUTS],
                  prevent_initial_call=True)
    def _wi_run(_, base, *values):
        user = current()
        kind, text, new = console.run_what_if(user, base, dict(zip([k for k, *_ in WHAT_IF_INPUTS], values, strict=True)))
        return [html.Div(text, className=f"message {kind}", id="wi-message")] + (
            console._what_if_view(base, new) if new else [])

    app.console = console  # for tests and the benchmark
    return app


def serve(app, *, host: str = "127.0.0.1", port: int = 8050, threads: int = 4) -> None:
    """Serve the console with Waitress (a production WSGI server, pure Python)."""
    from waitress import serve as waitress_serve

    waitress_serve(app.server, host=host, port=port, threads=threads, ident="nexus-console")


__all__ = ["Console", "create_app", "serve", "table"]
