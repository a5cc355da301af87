"""`nexus report`, `nexus reports` and `nexus tables` as a user runs them."""

from __future__ import annotations

import os

from nexus.cli import main


def test_report_then_list(copy_lake, capsys, monkeypatch):
    monkeypatch.setenv("NEXUS_LAKE_ROOT", copy_lake.root)
    assert main(["--lake", copy_lake.root, "report", "2026-03-02", "--window-days", "2", "--lca-samples", "0"]) == 0
    out = capsys.readouterr()
    path = out.out.splitlines()[0]
    assert path.endswith("reports/sustainability/2026-03-02.html") and os.path.getsize(path) > 1_000_000
    assert "cstr_feed" in out.err  # the activity without a factor is named, not silently dropped
    assert main(["--lake", copy_lake.root, "reports"]) == 0
    assert "2026-03-02" in capsys.readouterr().out
    assert main(["--lake", copy_lake.root, "tables"]) == 0
    listing = capsys.readouterr().out
    assert "gold.fct_emissions_daily" in listing and "gold.v_scenario_comparison" in listing
