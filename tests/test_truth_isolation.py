"""The simulator's ground truth stays out of the production path.

``sim.truth__operating_episodes`` (the twins' answer key) may be written by the simulator harness
and read by evaluation code and tests only. A real plant has no such table, so a pipeline that
read it would work here and have nothing to run on in a plant.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("dags", "etl", "models", "optimization", "sustainability", "warehouse", "nexus")
#: Modules allowed to touch the truth: its declaration, the simulator harness that writes it
#: (simulate, history backfill, the demo) and the evaluation that reads it.
ALLOWED = {
    "warehouse/tables.py",          # declares the table
    "nexus/truth.py",               # writes and reads it
    "nexus/history.py",             # the simulator harness records what it simulated
    "nexus/demo.py",
    "nexus/evaluation.py",          # evaluates detectors against it
    "nexus/maintenance_eval.py",    # evaluates remaining-useful-life predictions against the twins
    "nexus/cli.py",                 # the commands that run the harness and the evaluation
}
MARKERS = ("truth__operating_episodes", "operating_episodes", "SIM_OPERATING_EPISODES", "FCT_OPERATING_EPISODES")
TRUTH_MODULES = ("nexus.truth", "nexus.evaluation", "nexus.maintenance_eval")


def _offences(path: Path) -> list[str]:
    """What in ``path`` touches the truth: names, imports, or SQL text naming the table (docstrings aside)."""
    tree = ast.parse(path.read_text(), filename=str(path))
    for node in ast.walk(tree):
        for child in ast.iter_child_nodes(node):
            child.parent = node  # type: ignore[attr-defined]
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Name) and node.id in MARKERS:
            found.append(f"names {node.id}")
        elif isinstance(node, ast.alias) and (node.name in MARKERS or node.name in TRUTH_MODULES):
            found.append(f"imports {node.name}")
        elif isinstance(node, ast.ImportFrom) and node.module in TRUTH_MODULES:
            found.append(f"imports from {node.module}")
        elif (isinstance(node, ast.Constant) and isinstance(node.value, str)
              and "operating_episodes" in node.value and not isinstance(node.parent, ast.Expr)):
            found.append(f"mentions {node.value[:60]!r}")
    return sorted(set(found))


def test_no_production_module_reads_the_simulator_truth():
    offences = {}
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            rel = path.relative_to(ROOT).as_posix()
            if rel not in ALLOWED and (found := _offences(path)):
                offences[rel] = found
    assert not offences, f"production modules that touch the simulator's ground truth: {offences}"


def test_the_check_catches_a_reader(tmp_path):
    """The scan above sees a module that reads the truth table (guards the guard)."""
    bad = tmp_path / "bad.py"
    bad.write_text('"""Docstrings may name operating_episodes."""\n'
                   "from warehouse.tables import SIM_OPERATING_EPISODES\n"
                   "rows = lake.read(SIM_OPERATING_EPISODES)\n"
                   "sql = 'SELECT * FROM sim.truth__operating_episodes'\n"
                   "from nexus.truth import read_episodes\n")
    assert _offences(bad) == ["imports SIM_OPERATING_EPISODES", "imports from nexus.truth",
                              "mentions 'SELECT * FROM sim.truth__operating_episodes'", "names SIM_OPERATING_EPISODES"]
    good = tmp_path / "good.py"
    good.write_text('"""Calibration never reads gold.fct_operating_episodes."""\nfrom etl.monitoring import steady_normal_hours\n')
    assert _offences(good) == []


def test_the_truth_table_is_declared_as_simulator_data():
    from warehouse.tables import SIM_OPERATING_EPISODES

    assert SIM_OPERATING_EPISODES.layer == "sim"
    assert "SIMULATOR TRUTH" in SIM_OPERATING_EPISODES.description
