"""`nexus` as a user mistypes it: one clear line on stderr and an exit status, never a traceback."""

from __future__ import annotations

import datetime as dt
import subprocess
import sys
from pathlib import Path

import pyarrow as pa
import pytest

from nexus.cli import main
from warehouse.tables import REGISTRY

NEXUS = str(Path(sys.executable).with_name("nexus"))


@pytest.fixture
def lake_root(tmp_path, monkeypatch):
    """A lake folder for the command (`--lake` also sets $NEXUS_LAKE_ROOT; monkeypatch restores it)."""
    root = tmp_path / "lake"
    monkeypatch.setenv("NEXUS_LAKE_ROOT", str(root))
    return root


def run(argv, capsys) -> tuple[int, str, str]:
    try:
        status = main(argv)
    except SystemExit as exc:  # argparse: usage errors and --help
        status = exc.code
    out = capsys.readouterr()
    assert "Traceback" not in out.err
    return status, out.out, out.err


@pytest.mark.parametrize("argv, message", [
    (["rules", "smelter", "2026-13-01"], "argument date: invalid date '2026-13-01': month must be in 1..12"),
    (["report", "2026-02-30"], "argument date: invalid date '2026-02-30': day is out of range for month"),
    (["simulate", "--plant", "cstr", "--start", "yesterday"], "argument --start: invalid date 'yesterday'"),
    (["monitor", "--start", "2026-01-01", "--end", "2026-02-31"], "argument --end: invalid date '2026-02-31'"),
    (["simulate", "--plant", "nosuch", "--start", "2026-01-01"],
     "argument --plant: unknown plant 'nosuch' (known: biorefinery, co2_electrolyzer, cstr, smelter)"),
    (["rules", "nosuch", "2026-01-01"], "argument plant: unknown plant 'nosuch'"),
    (["monitor", "--start", "2026-01-01", "--end", "2026-01-02", "--plants", "cstr", "nosuch"],
     "argument --plants: unknown plant 'nosuch'"),
    (["report", "--overrides", "{grid: 0.1}"], "argument --overrides: not JSON"),
    (["maintain", "--temporary-age-hours", "0"], "argument --temporary-age-hours: must be at least 1 hour"),
])
def test_usage_errors_are_one_line_with_status_2(argv, message, capsys, lake_root):
    status, out, err = run(argv, capsys)
    assert status == 2 and out == ""
    assert f"nexus {argv[0]}: error: {message}" in err
    assert err.strip().splitlines()[-1].startswith(f"nexus {argv[0]}: error: ")  # after argparse's usage line


def test_a_broken_fleet_file_is_one_line_not_a_traceback(capsys, lake_root, tmp_path, monkeypatch):
    (tmp_path / "fleet.toml").write_text("plants = [\n", encoding="utf-8")
    monkeypatch.setenv("NEXUS_FLEET", str(tmp_path / "fleet.toml"))
    status, out, err = run(["monitor", "--start", "2026-01-01", "--plants", "cstr"], capsys)
    assert status == 2 and out == ""
    assert f"nexus monitor: error: argument --plants: fleet file {tmp_path / 'fleet.toml'}: not valid TOML" in err


def test_sql_on_a_missing_lake_says_where_it_looked(capsys, lake_root):
    status, _, err = run(["--lake", str(lake_root), "sql", "SELECT * FROM gold.fct_tag_hourly"], capsys)
    assert status == 1
    assert err == (f"error: no lake tables under {lake_root} (the folder does not exist); run `make demo` "
                   "(or `nexus demo`) to build one, or point --lake / $NEXUS_LAKE_ROOT at an existing lake\n")
    lake_root.mkdir()
    status, _, err = run(["--lake", str(lake_root), "sql", "SELECT * FROM gold.fct_tag_hourly"], capsys)
    assert status == 1 and f"no lake tables under {lake_root};" in err
    # a query that needs no table still runs
    status, out, _ = run(["--lake", str(lake_root), "sql", "SELECT 42 AS answer", "--format", "csv"], capsys)
    assert status == 0 and out.split() == ["answer", "42"]


def test_other_commands_on_an_empty_lake_say_where_it_looked(capsys, lake_root):
    for argv in (["rules", "smelter", "2026-03-01"], ["history", "gold.fct_tag_hourly"], ["report", "2026-03-02"]):
        status, _, err = run(["--lake", str(lake_root), *argv], capsys)
        assert status == 1, argv
        assert len(err.strip().splitlines()) == 1 and f"no lake tables under {lake_root}" in err, argv


def test_monitor_without_readings_says_so_and_writes_nothing(capsys, lake_root):
    status, out, err = run(["--lake", str(lake_root), "monitor", "--start", "2026-03-01", "--end", "2026-03-02",
                            "--plants", "cstr"], capsys)
    assert status == 1 and "monitored" not in out
    assert f"cstr: no silver readings from 2026-03-01 to 2026-03-01 under {lake_root}" in err
    assert not (lake_root / "gold").exists()


@pytest.fixture
def raw_lake(lake_root, meta):
    from warehouse.lake import Lake

    lake = Lake(lake_root)
    spec = REGISTRY.get("raw.landing__files")
    lake.append(spec, pa.Table.from_pylist([
        {"sha256": f"{i:064x}", "file_name": f"cstr__2026-03-0{i}__01.csv", "source": "sensor", "plant_id": "cstr",
         "period_date": dt.date(2026, 3, i), "raw_path": f"raw/sensor/cstr/{i}.csv", "size_bytes": 100 * i,
         "received_at": dt.datetime(2026, 3, i + 1, tzinfo=dt.UTC), "status": "loaded", "reason": None,
         "rows_loaded": 10, "_run_id": "run-1"} for i in range(1, 4)], schema=spec.schema), meta=meta)
    return lake_root


def test_sql_serves_the_raw_manifest(capsys, raw_lake):
    status, out, _ = run(["--lake", str(raw_lake), "sql", "SELECT status, sum(size_bytes)::BIGINT AS bytes FROM "
                          "raw.landing__files GROUP BY ALL", "--format", "csv"], capsys)
    assert status == 0 and out.split() == ["status,bytes", "loaded,600"]


def test_sql_unknown_table_points_to_nexus_tables(capsys, raw_lake):
    status, _, err = run(["--lake", str(raw_lake), "sql", "SELECT * FROM gold.nosuch"], capsys)
    assert status == 2 and "Table with name nosuch does not exist" in err
    assert f"`nexus tables` lists the tables of the lake at {raw_lake}" in err


@pytest.mark.parametrize("query", ["CREATE TABLE t AS SELECT 1", "COPY (SELECT 1) TO 'x.csv'",
                                   "SELECT 1; DROP VIEW raw.landing__files"])
def test_sql_refuses_writes_with_status_2(capsys, raw_lake, query):
    status, out, err = run(["--lake", str(raw_lake), "sql", query], capsys)
    assert status == 2 and out == ""
    assert err.startswith("error: read-only connection: ") and "allowed are queries only" in err


def test_services_up_failure_is_one_line(capsys, monkeypatch):
    from nexus import services

    def up(**kwargs):
        raise RuntimeError("already running: ['scheduler']; `nexus services down` first")

    monkeypatch.setattr(services, "up", up)
    status, out, err = run(["services", "up"], capsys)
    assert status == 1 and out == ""
    assert err == "error: already running: ['scheduler']; `nexus services down` first\n"


class ClosedPipe:
    """stdout whose reader has gone away (`nexus sql ... | head -1` after head exits)."""

    def write(self, text: str) -> int:
        raise BrokenPipeError(32, "Broken pipe")

    def flush(self) -> None:
        raise BrokenPipeError(32, "Broken pipe")

    def fileno(self) -> int:
        raise OSError("not a real file")


def test_closed_pipe_is_quiet_in_process(capsys, raw_lake, monkeypatch):
    monkeypatch.setattr(sys, "stdout", ClosedPipe())
    assert main(["--lake", str(raw_lake), "sql", "SELECT * FROM raw.landing__files", "--format", "csv"]) == 141
    assert capsys.readouterr().err == ""


def test_closed_pipe_is_quiet_for_real(lake_root):
    """The shell case: the reader closes the pipe after one line."""
    proc = subprocess.Popen([NEXUS, "--lake", str(lake_root), "sql", "SELECT * FROM range(1000000)", "--format", "csv"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert proc.stdout.readline() == b"range\n"
    proc.stdout.close()
    err = proc.stderr.read().decode()
    assert proc.wait(timeout=120) == 141
    assert err == ""  # no traceback, no "Exception ignored ... BrokenPipeError"


@pytest.mark.parametrize("command", [None, "sql", "tables", "history", "simulate", "monitor", "rules", "report",
                                     "demo", "services", "airflow"])
def test_help_shows_examples(capsys, command):
    status, out, _ = run([command, "--help"] if command else ["--help"], capsys)
    assert status == 0
    examples = out[out.index("examples:\n"):].splitlines()[1:]
    assert examples and all(line.startswith("  nexus ") for line in examples[:2])
    if command:
        assert all(f"nexus {command}" in line for line in examples[:2])
