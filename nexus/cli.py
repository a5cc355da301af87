"""The ``nexus`` command.

    nexus sql "SELECT * FROM gold.fct_tag_hourly LIMIT 5"   # read-only SQL on raw, bronze, silver and gold
    nexus tables [NAME]                                     # the table registry, with units
    nexus history NAME                                      # a table's commits and their runs
    nexus lineage NAME [--version N] [--where COL=VAL]      # the table versions and runs that fed a table (or rows)
    nexus simulate --plant cstr --start 2026-01-01 --days 2 # historian exports into the landing folder
    nexus simulate-market --start 2026-01-01 --days 5       # vendor price files into the landing folder
    nexus load-market --start 2021-01-01 --end 2026-01-01  # bulk-load price history (same rows as daily runs)
    nexus backfill-history --years 5                        # five years of every plant's history, simulated and loaded
    nexus monitor --start 2026-01-01 --end 2026-02-01       # sensor health, PCA monitoring and events of past days
    nexus evaluate-detectors                                # detectors against the simulator's truth (demo lakes)
    nexus seed-regulatory                                   # the shipped regulatory documents into the landing folder
    nexus rules smelter 2026-03-01                          # rules and factors in force at a plant on a day
    nexus report [2026-03-02] [--scenario S]               # carbon accounting, LCA, pinch and the HTML report of a day
    nexus reports                                           # the sustainability reports written so far
    nexus demo                                              # simulate, ingest through Airflow, query
    nexus console                                           # the operator console on http://127.0.0.1:8050
    nexus airflow ARGS...                                   # the airflow CLI with the project's settings
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import sys
from collections.abc import Sequence

EXAMPLES: dict[str, str] = {
    "": """\
  nexus demo                                     # build the demo lake through Airflow (about ten minutes)
  nexus tables                                   # every table, its layer and version
  nexus sql "SELECT * FROM gold.fct_tag_hourly LIMIT 5"
  nexus rules smelter 2026-03-01
  nexus report 2026-03-02
  nexus COMMAND --help                           # options and examples of one command""",
    "sql": """\
  nexus sql "SELECT tag, unit, round(avg(twa_value), 2) AS mean FROM gold.fct_tag_hourly GROUP BY ALL"
  nexus sql "SELECT source, status, count(*) FROM raw.landing__files GROUP BY ALL"
  nexus sql "SELECT * FROM bronze.market__price_quotes LIMIT 10" --format csv
  nexus sql "DESCRIBE silver.process__sensor_readings"

Queries only (SELECT, WITH, FROM, VALUES, DESCRIBE, SHOW, SUMMARIZE, EXPLAIN, PRAGMA table_info);
no file access. Memory limit: --memory-limit or $NEXUS_SQL_MEMORY_LIMIT (default 4GB).""",
    "tables": """\
  nexus tables
  nexus tables gold.fct_tag_hourly               # columns, units, keys and constraints""",
    "history": """\
  nexus history silver.process__sensor_readings --limit 5""",
    "simulate": """\
  nexus simulate --plant cstr --start 2026-04-01 --days 2
  nexus simulate --plant smelter --start 2026-04-01 --seed 7 --landing /tmp/landing""",
    "monitor": """\
  nexus monitor --start 2026-03-01 --end 2026-03-04 --plants cstr smelter""",
    "backfill-history": """\
  nexus backfill-history --years 5
  nexus backfill-history --start 2025-01-01 --days 31 --plants cstr""",
    "rules": """\
  nexus rules smelter 2026-03-01
  nexus rules biorefinery 2026-03-01 --gwp-set AR5""",
    "report": """\
  nexus report                                   # the latest day gold has complete
  nexus report 2026-03-02 --window-days 7
  nexus report 2026-03-02 --scenario lowgrid --overrides '{"grid_location_kg_per_kwh": 0.1}'""",
    "demo": """\
  nexus demo
  nexus demo --days 1 --start 2026-03-01""",
    "services": """\
  nexus services up --workers 2
  nexus services status
  nexus services down""",
    "console": """\
  nexus console                                  # http://127.0.0.1:8050; first start creates user admin
  nexus console --host 0.0.0.0 --port 8050
  nexus console users add alice --role operator  # prompts for the password (--password-stdin to pipe it)
  nexus console users list
  nexus console users password alice
  nexus console users remove alice

Roles: viewer (reads every page), operator (also approves / rejects setpoint writes and runs what-if
experiments), engineer (also proposes writes and may give the plant's clock).""",
    "airflow": """\
  nexus airflow dags list
  nexus airflow standalone                       # the UI on http://127.0.0.1:8080""",
}


def _date(text: str) -> dt.date:
    """argparse type of a YYYY-MM-DD argument."""
    try:
        return dt.date.fromisoformat(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"invalid date {text!r}: {exc} (expected YYYY-MM-DD)") from None


def _plant(text: str) -> str:
    """argparse type of a plant instance id (of the fleet in use)."""
    from models.fleet import instance_ids
    from nexus.errors import NexusError

    try:
        known = sorted(instance_ids())
    except NexusError as exc:  # a missing or broken fleet file: one line from argparse, not a traceback
        raise argparse.ArgumentTypeError(str(exc)) from None
    if text not in known:
        shown = ", ".join(known[:12]) + (f" … ({len(known)} in all)" if len(known) > 12 else "")
        raise argparse.ArgumentTypeError(f"unknown plant {text!r} (known: {shown})")
    return text


def _json_object(text: str) -> dict:
    """argparse type of a JSON object argument."""
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise argparse.ArgumentTypeError(f"not JSON ({exc}): {text!r}") from None
    if not isinstance(value, dict):
        raise argparse.ArgumentTypeError(f"expected a JSON object like '{{\"name\": 1.0}}', found {text!r}")
    return value


def _hours_at_least_1(text: str) -> int:
    """argparse type of an age in whole hours, at least 1 (a younger temporary may be a write under way)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"invalid number of hours {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(
            f"must be at least 1 hour (a younger file may be a write under way), found {value}")
    return value


def _lake_is_empty(root: str) -> bool:
    from warehouse.lake import Lake
    from warehouse.tables import REGISTRY

    lake = Lake(root)
    if not lake.remote and not os.path.isdir(root):
        return True
    return not any(lake.exists(spec) for spec in REGISTRY)


def _no_tables_hint(root: str) -> str:
    from warehouse.storage import is_remote

    missing = not is_remote(root) and not os.path.isdir(root)
    return (f"no lake tables under {root}"
            f"{' (the folder does not exist)' if missing else ''}; run `make demo` (or `nexus demo`) "
            "to build one, or point --lake / $NEXUS_LAKE_ROOT at an existing lake")


def _cmd_sql(args: argparse.Namespace) -> int:
    import duckdb

    from warehouse.lake import Lake
    from warehouse.sql import connect

    from warehouse.sql import list_views

    lake = Lake(args.lake) if args.lake else Lake()
    con = connect(lake, memory_limit=args.memory_limit)
    try:
        rel = con.sql(args.query)
    except duckdb.CatalogException as exc:
        if not list_views(con):
            print(f"error: {_no_tables_hint(lake.root)}", file=sys.stderr)
            return 1
        print(f"error: {exc}\n(`nexus tables` lists the tables of the lake at {lake.root})", file=sys.stderr)
        return 2
    except duckdb.Error as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if rel is None:  # a statement without a result
        return 0
    if args.format == "table":
        rel.show(max_rows=args.max_rows, max_width=args.max_width)
    elif args.format == "csv":
        df = rel.df()
        df.to_csv(sys.stdout, index=False)
    else:
        for row in rel.df().to_dict(orient="records"):
            print(json.dumps(row, default=str))
    return 0


def _cmd_tables(args: argparse.Namespace) -> int:
    from warehouse.lake import Lake
    from warehouse.sql import VIEWS
    from warehouse.tables import REGISTRY

    lake = Lake(args.lake) if args.lake else Lake()
    if args.name in VIEWS:
        description, needs, sql = VIEWS[args.name]
        print(f"{args.name}  (SQL view over {', '.join(needs)})\n  {description}\n{sql}")
        return 0
    if args.name:
        spec = REGISTRY.get(args.name)
        print(f"{spec.name}  ({lake.path(spec)})\n  {spec.description}")
        if spec.primary_key:
            print(f"  primary key: {', '.join(spec.primary_key)}")
        if spec.partition_by:
            print(f"  partitioned by: {', '.join(spec.partition_by)}")
        for name, expr in spec.constraints.items():
            print(f"  check {name}: {expr}")
        width = max(len(c.name) for c in spec.columns)
        for c in spec.columns:
            unit = f" [{c.unit}]" if c.unit else ""
            null = "" if c.nullable else " not null"
            print(f"  {c.name:<{width}}  {c.type!s:<24}{null:<9} {c.description}{unit}")
        return 0
    for spec in REGISTRY:
        state = "v" + str(lake.version(spec)) if lake.exists(spec) else "not created"
        summary = spec.description.split(". ")[0]
        print(f"{spec.name:<36} {state:<12} {summary[:90] + ('…' if len(summary) > 90 else '')}")
    for name, (description, needs, _) in VIEWS.items():
        state = "view" if all(lake.exists(REGISTRY.get(t)) for t in needs) else "view (no data)"
        summary = description.split(": ")[0]
        print(f"{name:<36} {state:<12} {summary[:90] + ('…' if len(summary) > 90 else '')}")
    return 0


def _cmd_history(args: argparse.Namespace) -> int:
    from warehouse.lake import Lake
    from warehouse.tables import REGISTRY

    lake = Lake(args.lake) if args.lake else Lake()
    spec = REGISTRY.get(args.name)
    for commit in lake.history(spec, limit=args.limit):
        when = dt.datetime.fromtimestamp(commit.get("timestamp", 0) / 1000, dt.UTC).isoformat(timespec="seconds")
        print(f"v{commit.get('version', '?'):<5} {when}  {commit.get('operation', ''):<14} "
              f"{commit.get('nexus_operation', ''):<17} dag={commit.get('dag_id', '-')} run={commit.get('run_id', '-')}")
    return 0


def _cmd_lineage(args: argparse.Namespace) -> int:
    from nexus.lineage import format_trail, trail
    from warehouse.lake import Lake

    lake = Lake(args.lake) if args.lake else Lake()
    layers = tuple(args.layers.split(",")) if args.layers else None
    versions: list[int | None] = [args.version]
    if args.where:
        from nexus.lineage import rows_by_version

        bad = [w for w in args.where if "=" not in w]
        if bad:
            print(f"error: --where takes COLUMN=VALUE, found {bad}", file=sys.stderr)
            return 2
        where = dict(w.split("=", 1) for w in args.where)
        counts = rows_by_version(lake, args.name, where)
        print(f"{sum(counts.values())} row(s) of {args.name} where {where}: "
              + ", ".join(f"{n} written by v{v}" if v is not None else f"{n} by a commit no longer in the log"
                          for v, n in counts.items()))
        versions = [v for v in counts if v is not None]
    for version in versions:
        root = trail(lake, args.name, version, max_depth=args.depth)
        print(json.dumps(root.to_dict(), indent=2) if args.json else format_trail(root, layers))
    return 0


def _cmd_simulate(args: argparse.Namespace) -> int:
    from nexus.demo import simulate

    start = args.start
    summary = simulate(args.plant, start, args.days, seed=args.seed, landing_dir=args.landing)
    print(json.dumps(summary, indent=2, default=str))
    return 0


def _cmd_simulate_market(args: argparse.Namespace) -> int:
    from nexus.demo import simulate_market

    summary = simulate_market(args.start, args.days, seed=args.seed, landing_dir=args.landing)
    print(json.dumps(summary, indent=2, default=str))
    return 0


def _cmd_load_market(args: argparse.Namespace) -> int:
    from etl.market import load_history
    from nexus.settings import get_settings
    from warehouse.lake import CommitMeta, Lake

    settings = get_settings()
    start, end = args.start, args.end
    out = load_history(Lake(settings.lake_root), settings.landing_dir, start, end,
                       CommitMeta("nexus-cli", f"load_market__{start}__{end}", "market"),
                       chunk_days=args.chunk_days, reporting_currency=settings.reporting_currency)
    print(json.dumps(out, indent=2))
    return 0


def _cmd_backfill_history(args: argparse.Namespace) -> int:
    from models.fleet import instance_ids
    from nexus.history import backfill_history
    from nexus.settings import get_settings
    from warehouse.lake import Lake

    start = args.start
    end = start.replace(year=start.year + args.years) if args.years else start + dt.timedelta(days=args.days)
    results = backfill_history(args.plants or sorted(instance_ids()), start, end, lake=Lake(get_settings().lake_root),
                               seed=args.seed, progress=print)
    for r in results:
        print(f"{r.plant_id}: {r.days} days, {r.readings:,} readings, {r.silver_rows:,} to silver, "
              f"{r.quarantined_rows:,} quarantined, {r.episodes:,} episodes in {r.simulate_s + r.load_s:.0f} s "
              f"({r.points_per_s:,.0f} points/s)")
    return 0


def _cmd_monitor(args: argparse.Namespace) -> int:
    from etl.monitoring import monitor_range
    from models.fleet import instance_ids
    from nexus.settings import get_settings
    from warehouse.lake import CommitMeta, Lake

    from warehouse.tables import SILVER_SENSOR_READINGS

    lake = Lake(get_settings().lake_root)
    start, end = args.start, args.end
    first = dt.datetime.combine(start, dt.time(), tzinfo=dt.timezone.utc)
    last = dt.datetime.combine(end, dt.time(), tzinfo=dt.timezone.utc)
    missing = []
    for plant_id in args.plants or sorted(instance_ids()):
        readings = (lake.read(SILVER_SENSOR_READINGS, where={"plant_id": plant_id}, start=first, end=last,
                              columns=["ts"]).num_rows if lake.exists(SILVER_SENSOR_READINGS) else 0)
        if not readings:  # nothing to monitor: say so rather than write empty results
            print(f"{plant_id}: no silver readings from {start} to {end - dt.timedelta(days=1)} under "
                  f"{lake.root}; ingest them first (make demo, or the ingest_sensor_data DAG)", file=sys.stderr)
            missing.append(plant_id)
            continue
        meta = CommitMeta("nexus-monitor", f"monitor__{plant_id}__{start}__{end}", f"monitoring:{plant_id}")
        monitor_range(lake, plant_id, start, end, meta, progress=print if args.verbose else None)
        print(f"{plant_id}: monitored {start} .. {end - dt.timedelta(days=1)}")
    return 1 if missing else 0


def _cmd_evaluate_detectors(args: argparse.Namespace) -> int:
    from models.fleet import instance_ids
    from nexus.evaluation import evaluate_detectors, summary
    from nexus.settings import get_settings
    from warehouse.lake import CommitMeta, Lake

    rows = evaluate_detectors(Lake(get_settings().lake_root), args.plants or sorted(instance_ids()),
                              CommitMeta("nexus-evaluate", "evaluate-detectors", "simulator-truth"))
    if rows.empty:
        print("nothing to evaluate: the lake has no simulator truth or no monitored hours")
        return 1
    print(summary(rows).to_string(index=False, float_format=lambda v: f"{v:.3f}"))
    print("\nall rows: nexus sql \"SELECT * FROM gold.fct_detector_evaluation ORDER BY ALL\"")
    return 0


def _cmd_seed_regulatory(args: argparse.Namespace) -> int:
    from nexus.demo import seed_regulatory

    for name in seed_regulatory(args.landing):
        print(name)
    return 0


def _cmd_rules(args: argparse.Namespace) -> int:
    from etl.regulatory import rules_in_force
    from warehouse.lake import Lake

    rules = rules_in_force(args.plant, args.date, lake=Lake(args.lake) if args.lake else None,
                           gwp_set=args.gwp_set)
    out = {k: (v if not isinstance(v, dict) else {str(kk): vv for kk, vv in v.items()})
           for k, v in rules.__dict__.items()}
    print(json.dumps(out, indent=2, default=str))
    return 0


def _cmd_report(args: argparse.Namespace) -> int:
    from nexus.settings import get_settings
    from sustainability.pipeline import (
        compute_emissions,
        compute_heat_integration,
        compute_lca,
        latest_complete_day,
        write_report,
    )
    from warehouse.lake import CommitMeta, Lake

    lake = Lake(get_settings().lake_root)
    day = args.date or latest_complete_day(lake)
    meta = CommitMeta("nexus-cli", f"report__{args.scenario}__{day}", "sustainability")
    end = day + dt.timedelta(days=1)
    overrides = args.overrides
    emissions = compute_emissions(lake, end - dt.timedelta(days=args.window_days), end, meta=meta,
                                  scenario_id=args.scenario, overrides=overrides)
    compute_lca(lake, day, meta=meta, scenario_id=args.scenario, overrides=overrides, n_samples=args.lca_samples)
    compute_heat_integration(lake, day, meta=meta)
    out = write_report(lake, day, meta=meta, scenario_id=args.scenario, window_days=args.window_days)
    for plant_id, r in emissions.items():
        if r["factor_gaps"]:
            print(f"{plant_id}: left out (no factor): {'; '.join(r['factor_gaps'])}", file=sys.stderr)
    print(f"{out['absolute_path']}\n  total {out['total_market_tco2e'] or 0:,.1f} t CO2e (market-based), "
          f"{out['exceedances']} limit(s) exceeded, sections: {out['sections']}")
    return 0


def _cmd_reports(args: argparse.Namespace) -> int:
    import duckdb

    from nexus.settings import get_settings
    from warehouse.sql import connect

    con = connect()
    try:
        con.sql("SELECT report_date, scenario_id, plants, round(total_market_tco2e, 1) AS total_tco2e, exceedances, "
                "path FROM gold.fct_reports ORDER BY report_date DESC, scenario_id").show(max_width=200)
    except duckdb.CatalogException:  # the table does not exist yet
        print(f"no reports yet in the lake at {get_settings().lake_root}: run the sustainability_report DAG "
              "or `nexus report`", file=sys.stderr)
        return 1
    print(f"paths are relative to the lake: {get_settings().lake_root}")
    return 0


def _cmd_demo(args: argparse.Namespace) -> int:
    from nexus.demo import run_demo

    return run_demo(days=args.days, start=args.start, seed=args.seed)


def _cmd_maintain(args: argparse.Namespace) -> int:
    from nexus.settings import get_settings
    from warehouse.lake import CommitMeta, Lake
    from warehouse.maintenance import file_folders, maintain, sweep_temporaries

    lake = Lake(args.lake) if args.lake else Lake()
    meta = CommitMeta("nexus-maintain", f"maintain__{dt.datetime.now(dt.UTC):%Y%m%dT%H%M%SZ}", "maintenance")
    results = maintain(lake, meta=meta, tables=args.tables, retention_hours=args.retention_hours, dry_run=args.dry_run)
    verb = "would remove" if args.dry_run else "removed"
    for r in results:
        print(f"{r['table']:<36} compacted {r['files_removed_by_compaction']} -> {r['files_added_by_compaction']} "
              f"files; {verb} {r['unreferenced_files']} unreferenced files")
    if args.tables:  # named tables: their housekeeping only
        return 0
    left = sweep_temporaries(file_folders(lake, get_settings().landing_dir), dry_run=args.dry_run,
                             older_than=dt.timedelta(hours=args.temporary_age_hours))
    for uri in left:
        print(f"{verb} {uri} (a temporary file a writer stopped before finishing)")
    print(f"{verb} {len(left)} temporary file{'' if len(left) == 1 else 's'} older than {args.temporary_age_hours} h")
    return 0


def _cmd_services(args: argparse.Namespace) -> int:
    from nexus import services

    if args.action == "up":
        try:
            state = services.up(workers=args.workers)
        except RuntimeError as exc:  # already running, or a component did not start (its log says why)
            print(f"error: {exc}", file=sys.stderr)
            return 1
        print(json.dumps(state, indent=2))
        from nexus.console.auth import console_home

        print(f"console: http://{os.environ.get('NEXUS_CONSOLE_HOST', '127.0.0.1')}:"
              f"{os.environ.get('NEXUS_CONSOLE_PORT', '8050')} (first start: user admin, password in "
              f"{console_home() / 'admin_password.generated'})")
        print("logs: $AIRFLOW_HOME/logs/services/ — stop with `nexus services down`")
    elif args.action == "down":
        print("stopped:", ", ".join(services.down()) or "nothing was running")
    else:
        print(json.dumps(services.status(), indent=2))
    return 0


def _cmd_console(args: argparse.Namespace) -> int:
    import getpass
    import logging

    from nexus.console.auth import Users, console_home
    from nexus.errors import ConfigError

    users = Users(console_home())
    action = getattr(args, "console_action", None)
    if action is None:  # serve
        from nexus.console.app import create_app, serve

        logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
        created = users.ensure_admin()
        if created:
            print(f"created user admin (engineer); its password is in {created} (readable by you only)")
        app = create_app()
        print(f"Nexus console on http://{args.host}:{args.port} (Ctrl-C stops it); users: "
              f"{', '.join(f'{u.name} ({u.role})' for u in users.list())}", flush=True)
        serve(app, host=args.host, port=args.port, threads=args.threads)
        return 0
    if action == "list":
        for u in users.list():
            print(f"{u.name}\t{u.role}")
        return 0
    if action == "remove":
        users.remove(args.name)
        print(f"removed {args.name}")
        return 0

    def password() -> str:
        if args.password_stdin:
            return sys.stdin.readline().rstrip("\n")
        first = getpass.getpass(f"password for {args.name}: ")
        if first != getpass.getpass("again: "):
            raise ConfigError("the two passwords differ")
        return first

    if action == "add":
        u = users.add(args.name, password(), args.role)
        print(f"added {u.name} ({u.role})")
    else:  # password
        users.set_password(args.name, password())
        print(f"password of {args.name} changed")
    return 0


def _cmd_edge(args: argparse.Namespace) -> int:
    import logging

    from nexus.edge import main as edge_main

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    return edge_main(args.rest)


def _cmd_collect(args: argparse.Namespace) -> int:
    import logging

    from etl.stream import main as collect_main

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    return collect_main(args.rest)


def _cmd_setpoints(args: argparse.Namespace) -> int:
    from optimization.writeback import main as setpoints_main

    return setpoints_main(args.rest)


def _cmd_airflow(args: argparse.Namespace) -> int:
    from nexus.airflow_env import airflow_environ
    from nexus.services import protect_password_file

    env = airflow_environ()
    if args.rest[:1] in (["standalone"], ["api-server"]):
        protect_password_file(env)
    airflow = os.path.join(os.path.dirname(sys.executable), "airflow")
    os.execve(airflow, [airflow, *args.rest], env)
    return 0  # not reached


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="nexus", description="Nexus lakehouse and digital twins for process plants.",
                                     epilog="examples:\n" + EXAMPLES[""],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--lake", help="lake root (default: $NEXUS_LAKE_ROOT or ./lake)")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("sql", help="run a query on the raw, bronze, silver and gold tables (DuckDB, read-only)")
    p.add_argument("query")
    p.add_argument("--memory-limit", help="DuckDB memory limit, e.g. 2GB (default: $NEXUS_SQL_MEMORY_LIMIT or 4GB)")
    p.add_argument("--format", choices=["table", "csv", "jsonl"], default="table")
    p.add_argument("--max-rows", type=int, default=40)
    p.add_argument("--max-width", type=int, default=200)
    p.set_defaults(func=_cmd_sql)

    p = sub.add_parser("tables", help="list the table registry, or describe one table")
    p.add_argument("name", nargs="?")
    p.set_defaults(func=_cmd_tables)

    p = sub.add_parser("history", help="a table's Delta commits with their run metadata")
    p.add_argument("name")
    p.add_argument("--limit", type=int, default=20)
    p.set_defaults(func=_cmd_history)

    p = sub.add_parser("lineage", help="which table versions, written by which runs, fed a table (recursively)")
    p.add_argument("name")
    p.add_argument("--version", type=int, help="the table version to trace (default: the latest)")
    p.add_argument("--depth", type=int, default=12, help="levels of inputs to follow")
    p.add_argument("--where", action="append", metavar="COLUMN=VALUE",
                   help="trace the versions that wrote the current rows matching this (repeatable)")
    p.add_argument("--layers", help="show only these layers, e.g. gold,silver (default: all)")
    p.add_argument("--json", action="store_true", help="the trail as JSON")
    p.set_defaults(func=_cmd_lineage)

    p = sub.add_parser("simulate", help="write simulated historian exports into the landing folder")
    p.add_argument("--plant", default="cstr", type=_plant)
    p.add_argument("--start", required=True, type=_date, help="first UTC day, YYYY-MM-DD")
    p.add_argument("--days", type=int, default=1)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--landing", help="landing folder (default: $NEXUS_LANDING_DIR or ./landing)")
    p.set_defaults(func=_cmd_simulate)

    p = sub.add_parser("simulate-market", help="write simulated vendor price files into the landing folder")
    p.add_argument("--start", required=True, type=_date, help="first publication day, YYYY-MM-DD")
    p.add_argument("--days", type=int, default=1)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--landing", help="landing folder (default: $NEXUS_LANDING_DIR or ./landing)")
    p.set_defaults(func=_cmd_simulate_market)

    p = sub.add_parser("load-market", help="bulk-load the vendor files published in [start, end) (initial history)")
    p.add_argument("--start", required=True, type=_date, help="first publication day, YYYY-MM-DD")
    p.add_argument("--end", required=True, type=_date, help="day after the last publication day, YYYY-MM-DD")
    p.add_argument("--chunk-days", type=int, default=31)
    p.set_defaults(func=_cmd_load_market)

    p = sub.add_parser("backfill-history", help="simulate years of plant history and bulk-load it (month by month)")
    p.add_argument("--start", default="2021-01-01", type=_date)
    span = p.add_mutually_exclusive_group(required=True)
    span.add_argument("--years", type=int)
    span.add_argument("--days", type=int)
    p.add_argument("--plants", nargs="+", type=_plant, help="default: every plant")
    p.add_argument("--seed", type=int, default=0)
    p.set_defaults(func=_cmd_backfill_history)

    p = sub.add_parser("monitor", help="sensor health, process monitoring and event frames of the days [start, end)")
    p.add_argument("--start", required=True, type=_date, help="first day, YYYY-MM-DD")
    p.add_argument("--end", required=True, type=_date, help="day after the last, YYYY-MM-DD")
    p.add_argument("--plants", nargs="+", type=_plant, help="default: every plant")
    p.add_argument("--verbose", action="store_true", help="one line per plant-day")
    p.set_defaults(func=_cmd_monitor)

    p = sub.add_parser("evaluate-detectors",
                       help="compare the detectors with the simulator's truth (gold.fct_detector_evaluation)")
    p.add_argument("--plants", nargs="+", type=_plant, help="default: every plant")
    p.set_defaults(func=_cmd_evaluate_detectors)

    p = sub.add_parser("seed-regulatory", help="copy the shipped regulatory documents into the landing folder")
    p.add_argument("--landing", help="landing folder (default: $NEXUS_LANDING_DIR or ./landing)")
    p.set_defaults(func=_cmd_seed_regulatory)

    p = sub.add_parser("rules", help="the rules and factors in force at a plant on a date")
    p.add_argument("plant", type=_plant)
    p.add_argument("date", type=_date, help="YYYY-MM-DD")
    p.add_argument("--gwp-set", default="AR6", choices=["AR4", "AR5", "AR6"])
    p.set_defaults(func=_cmd_rules)

    p = sub.add_parser("report", help="carbon accounting, LCA, heat integration and the HTML report of a day")
    p.add_argument("date", nargs="?", type=_date, help="YYYY-MM-DD (default: the latest day gold has complete)")
    p.add_argument("--scenario", default="base", help="scenario id (rows keyed by it; needs --overrides to differ)")
    p.add_argument("--overrides", type=_json_object,
                   help="JSON overrides of the rules, e.g. '{\"grid_location_kg_per_kwh\": 0.1}'")
    p.add_argument("--window-days", type=int, default=30)
    p.add_argument("--lca-samples", type=int, default=500)
    p.set_defaults(func=_cmd_report)

    p = sub.add_parser("reports", help="list the sustainability reports in gold.fct_reports")
    p.set_defaults(func=_cmd_reports)

    p = sub.add_parser("demo", help="simulate a few days, ingest them through Airflow, query gold")
    p.add_argument("--days", type=int, default=3)
    p.add_argument("--start", default="2026-03-01", type=_date)
    p.add_argument("--seed", type=int, default=57, help="57 gives a rich mix: start-up, shut-down, a cooling failure, spikes, late and overlapping files")
    p.set_defaults(func=_cmd_demo)

    p = sub.add_parser("maintain", help="compact small files and vacuum files no version within the retention needs")
    p.add_argument("tables", nargs="*", help="default: every table")
    p.add_argument("--retention-hours", type=int, default=168,
                   help="keep files time travel may need for this long (default 7 days)")
    p.add_argument("--dry-run", action="store_true", help="list what vacuum and the sweep would remove")
    p.add_argument("--temporary-age-hours", type=_hours_at_least_1, default=24, metavar="H",
                   help="remove temporary files killed writers left, once this old (default 24)")
    p.set_defaults(func=_cmd_maintain)

    p = sub.add_parser("services", help="start / stop / list the Airflow components of this host (process groups, logs)")
    p.add_argument("action", choices=["up", "status", "down"])
    p.add_argument("--workers", type=int, default=2, help="Celery workers to start with the CeleryExecutor")
    p.set_defaults(func=_cmd_services)

    p = sub.add_parser("console", help="the operator console (web, behind a login); `console users ...` manages its users")
    p.add_argument("--host", default=os.environ.get("NEXUS_CONSOLE_HOST", "127.0.0.1"),
                   help="address to listen on (default 127.0.0.1, or $NEXUS_CONSOLE_HOST)")
    p.add_argument("--port", type=int, default=int(os.environ.get("NEXUS_CONSOLE_PORT", "8050")),
                   help="port (default 8050, or $NEXUS_CONSOLE_PORT)")
    p.add_argument("--threads", type=int, default=4, help="request threads")
    p.set_defaults(func=_cmd_console)
    cs = p.add_subparsers(dest="console_users", required=False)
    pu = cs.add_parser("users", help="add | list | remove | password")
    us = pu.add_subparsers(dest="console_action", required=True)
    a = us.add_parser("add", help="add a user with a role")
    a.add_argument("name")
    a.add_argument("--role", required=True, choices=["viewer", "operator", "engineer"])
    a.add_argument("--password-stdin", action="store_true", help="read the password from stdin (else prompt twice)")
    us.add_parser("list", help="users and their roles")
    a = us.add_parser("remove", help="remove a user")
    a.add_argument("name")
    a = us.add_parser("password", help="set a user's password")
    a.add_argument("name")
    a.add_argument("--password-stdin", action="store_true")

    p = sub.add_parser("edge", help="run plant instances as live plants publishing over MQTT (the plant side)",
                       add_help=False)
    p.add_argument("rest", nargs=argparse.REMAINDER)
    p.set_defaults(func=_cmd_edge)

    p = sub.add_parser("collect", help="the MQTT collector: live readings into bronze, silver and gold",
                       add_help=False)
    p.add_argument("rest", nargs=argparse.REMAINDER)
    p.set_defaults(func=_cmd_collect)

    p = sub.add_parser("setpoints", help="setpoint writes: list | propose | approve | reject | confirm",
                       add_help=False)
    p.add_argument("rest", nargs=argparse.REMAINDER)
    p.set_defaults(func=_cmd_setpoints)

    p = sub.add_parser("airflow", help="the airflow command with the project's settings (AIRFLOW_HOME=.airflow)")
    p.add_argument("rest", nargs=argparse.REMAINDER)
    p.set_defaults(func=_cmd_airflow)
    for name, examples in EXAMPLES.items():
        if name in sub.choices:
            sub.choices[name].epilog = "examples:\n" + examples
            sub.choices[name].formatter_class = argparse.RawDescriptionHelpFormatter
    return parser


#: Commands whose module parses its own arguments.
PASS_THROUGH = {"edge": _cmd_edge, "collect": _cmd_collect, "setpoints": _cmd_setpoints}


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command; errors are one line on stderr (exit 2: wrong usage, 1: failed), never a traceback."""
    argv = list(sys.argv[1:] if argv is None else argv)
    # edge, collect and setpoints have their own parsers (their --help included): pass the rest through
    at = 2 if argv[:1] == ["--lake"] else 1 if argv[:1] and argv[0].startswith("--lake=") else 0
    if len(argv) > at and argv[at] in PASS_THROUGH:
        if at:
            os.environ["NEXUS_LAKE_ROOT"] = argv[1] if at == 2 else argv[0].split("=", 1)[1]
        return PASS_THROUGH[argv[at]](argparse.Namespace(rest=argv[at + 1:]))
    args = build_parser().parse_args(argv)
    if args.lake:
        os.environ["NEXUS_LAKE_ROOT"] = args.lake
    from nexus.errors import NexusError

    try:
        status = args.func(args)
        sys.stdout.flush()  # a reader that went away (`| head`) shows up here, not at interpreter exit
        return status
    except BrokenPipeError:
        _silence_stdout()
        return 141  # 128 + SIGPIPE, as a shell reports a command killed by a closed pipe
    except KeyboardInterrupt:
        return 130
    except NexusError as exc:
        from nexus.settings import get_settings

        root = str(get_settings().lake_root)
        print(f"error: {exc}" + (f" — {_no_tables_hint(root)}" if _lake_is_empty(root) else ""), file=sys.stderr)
        return 1


def _silence_stdout() -> None:
    """Point stdout at /dev/null so the interpreter's final flush does not fail again (Python's SIGPIPE recipe)."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):  # stdout is not a file (replaced in process)
        sys.stdout = open(os.devnull, "w")  # noqa: SIM115 - lives until the process ends
    finally:
        os.close(devnull)


if __name__ == "__main__":
    sys.exit(main())
