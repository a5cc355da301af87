"""The fleet: plant instances of plant types, declared in a file, through one pipeline to gold."""

from __future__ import annotations

import datetime as dt
import textwrap
from pathlib import Path

import pytest

from models.fleet import get_instance, instance_ids, load_fleet, override, plant_type, read_fleet
from nexus.errors import ConfigError

SITE = """
[enterprise]
id = "acme"
name = "Acme Chemicals"

[sites.plant_a]
name = "Site A"
country = "DE"
grid_region = "DE"
power_series = "eex.power_de_da"
gas_series = "eex.gas_ttf"
carbon_series = "eex.eua"
"""


def write_fleet(path: Path, plants: str) -> Path:
    path.write_text(textwrap.dedent(SITE) + textwrap.dedent(plants), encoding="utf-8")
    return path


def test_default_fleet_is_one_instance_per_type():
    fleet = load_fleet()
    assert sorted(fleet.instances) == ["biorefinery", "co2_electrolyzer", "cstr", "smelter"]
    assert all(i.plant_type == i.plant_id for i in fleet)
    assert get_instance("biorefinery").site.grid_region == "US-MROW"
    assert get_instance("cstr").parameters() == get_instance("cstr").plant.DEFAULT_PARAMS


def test_instances_resolve_to_their_type_and_site(tmp_path, monkeypatch):
    from models import get_plant
    from models.sites import get_site

    path = write_fleet(tmp_path / "fleet.toml", """
        [plants.r_101]
        type = "cstr"
        site = "plant_a"
        name = "Reactor 101"
        seed = 5
        params = { UA = 45000.0, k0 = 7.0e10 }
        [plants.r_102]
        type = "cstr"
        site = "plant_a"
    """)
    monkeypatch.setenv("NEXUS_FLEET", str(path))
    assert instance_ids() == ["r_101", "r_102"]
    assert plant_type("r_101") == "cstr" and plant_type("cstr") == "cstr"
    assert get_plant("r_102") is get_plant("cstr")
    params = get_instance("r_101").parameters()
    assert (params.UA, params.k0, params.V) == (45000.0, 7.0e10, 100.0)
    assert get_site("r_101").power_series == "eex.power_de_da"
    with pytest.raises(KeyError, match="r_999"):
        get_instance("r_999")


@pytest.mark.parametrize("plants, message", [
    ('[plants.r1]\ntype = "pump"\nsite = "plant_a"\n', "unknown plant type 'pump'"),
    ('[plants.r1]\ntype = "cstr"\nsite = "nowhere"\n', "unknown site 'nowhere'"),
    ('[plants.R-1]\ntype = "cstr"\nsite = "plant_a"\n', "not a valid id"),
    ('[plants.r1]\ntype = "cstr"\nsite = "plant_a"\ncolour = "red"\n', "plants.r1.colour: Extra inputs"),
    ('[plants.smelter]\ntype = "cstr"\nsite = "plant_a"\n', "names only an instance of that type"),
    ('[plants.r1]\ntype = "cstr"\nsite = "plant_a"\ncapacity = 5.0\n', "capacity and capacity_unit go together"),
    ('[plants.r1]\ntype = "cstr"\nsite = "plant_a"\n[plants.r1]\ntype = "cstr"\n', "not valid TOML"),
    # parameter overrides are checked when the file is read, not first when the instance is simulated
    ('[plants.r1]\ntype = "cstr"\nsite = "plant_a"\nparams = { ua = 4e4 }\n',
     r"fleet file .*plants\.r1\.params: CSTRParams has no parameter 'ua'"),
    ('[plants.b1]\ntype = "reactor_bank"\nsite = "plant_a"\nparams = { design_seed = 1.5 }\n',
     r"plants\.b1\.params\.design_seed: expected an integer, found 1\.5"),
])
def test_a_bad_fleet_file_says_where(tmp_path, plants, message):
    with pytest.raises(ConfigError, match=message):
        read_fleet(write_fleet(tmp_path / "fleet.toml", plants))


def test_parameter_overrides_are_checked():
    from models.cstr import CSTRParams

    assert override(CSTRParams(), {"UA": 4e4}).UA == 4e4
    with pytest.raises(ConfigError, match="no parameter 'ua'; known: .*UA"):
        override(CSTRParams(), {"ua": 4e4}, where="plants.r1.params")
    with pytest.raises(ConfigError, match="plants.r1.params.UA: expected a number"):
        override(CSTRParams(), {"UA": "high"}, where="plants.r1.params")


def test_dim_assets_holds_the_hierarchy(tmp_path, monkeypatch):
    from etl.assets import publish_assets
    from warehouse.lake import CommitMeta, Lake
    from warehouse.tables import DIM_ASSETS

    path = write_fleet(tmp_path / "fleet.toml", """
        [plants.r_101]
        type = "cstr"
        site = "plant_a"
        capacity = 144.0
        capacity_unit = "m3/d"
        [plants.r_102]
        type = "cstr"
        site = "plant_a"
    """)
    monkeypatch.setenv("NEXUS_FLEET", str(path))
    lake, meta = Lake(tmp_path / "lake"), CommitMeta("test", "fleet", "fleet")
    out = publish_assets(lake, meta)
    # 1 enterprise + 1 site + 2 plants + 2 × (units + 10 tags) of the CSTR template
    from models.cstr import TAGS

    units = {t.unit_operation for t in TAGS}
    assert out == {"assets": 4 + 2 * (len(units) + len(TAGS)), "changed": True, "enterprises": 1, "sites": 1,
                   "plants": 2, "units": 2 * len(units), "tags": 2 * len(TAGS)}
    rows = lake.read(DIM_ASSETS).to_pandas().set_index("asset_id")
    tag = rows[(rows.plant_id == "r_102") & (rows.tag == "CSTR.TI102")].iloc[0]
    assert tag["plant_type"] == "cstr" and tag["level"] == "tag"
    assert tag["parent_id"] == f"acme/plant_a/r_102/{tag['unit_operation']}"
    assert tag.name == f"{tag['parent_id']}/CSTR.TI102"
    assert rows.loc["acme/plant_a/r_101", "capacity"] == 144.0
    assert rows.loc["acme/plant_a", "parent_id"] == "acme"
    # every parent exists
    parents = set(rows["parent_id"].dropna())
    assert parents <= set(rows.index)
    version = lake.version(DIM_ASSETS)
    assert publish_assets(lake, meta) == {"assets": len(rows), "changed": False}
    assert lake.version(DIM_ASSETS) == version, "an unchanged fleet commits nothing"


def test_instances_of_one_type_go_through_one_pipeline(tmp_path, monkeypatch):
    """Three CSTR instances with their own parameters and seeds: own files, own rows in silver and gold."""
    from etl.sensor import Batch, run_batch
    from warehouse.lake import CommitMeta, Lake
    from warehouse.tables import FCT_INGEST_BATCHES, FCT_TAG_HOURLY

    path = write_fleet(tmp_path / "fleet.toml", """
        [plants.r_101]
        type = "cstr"
        site = "plant_a"
        [plants.r_102]
        type = "cstr"
        site = "plant_a"
        seed = 1
        [plants.r_103]
        type = "cstr"
        site = "plant_a"
        params = { UA = 40000.0 }
    """)
    monkeypatch.setenv("NEXUS_FLEET", str(path))
    day = dt.date(2026, 2, 2)
    t0 = dt.datetime.combine(day, dt.time(), tzinfo=dt.timezone.utc)
    landing, lake = tmp_path / "landing", Lake(tmp_path / "lake")
    for pid in instance_ids():
        sim = get_instance(pid).simulate(t0, t0 + dt.timedelta(days=1), landing_dir=landing,
                                         truth_dir=tmp_path / "truth", seed=11)
        assert sim.plant_id == pid and all(pid in p.name for p in sim.paths)
        assert {e.plant_id for e in sim.episodes} == {pid}
        run_batch(lake, landing, Batch(pid, day), CommitMeta("test", f"fleet-{pid}", f"sensor:{pid}"))
    audit = lake.read(FCT_INGEST_BATCHES).to_pandas().set_index("plant_id")
    assert sorted(audit.index) == ["r_101", "r_102", "r_103"]
    assert (audit["status"] == "complete").all()
    hourly = lake.read(FCT_TAG_HOURLY, columns=["plant_id", "tag", "hour_start", "twa_value"]).to_pandas()
    wide = hourly[hourly.tag == "CSTR.TI102"].pivot(index="hour_start", columns="plant_id", values="twa_value")
    assert list(wide.columns) == ["r_101", "r_102", "r_103"] and len(wide) == 24
    # another seed and other parameters give another plant, not a copy
    assert (wide["r_101"] - wide["r_102"]).abs().max() > 0.01
    assert (wide["r_101"] - wide["r_103"]).abs().max() > 0.01


def test_backfill_simulates_in_a_worker_with_the_same_rows(tmp_path):
    """The overlapped backfill (a worker process simulates the next chunk) loads what the serial one does."""
    from nexus.history import backfill_history
    from warehouse.lake import Lake
    from warehouse.tables import SIM_OPERATING_EPISODES, SILVER_SENSOR_READINGS

    start = dt.date(2026, 1, 1)
    counts = {}
    for overlap in (True, False):
        lake = Lake(tmp_path / f"lake-{overlap}")
        res = backfill_history(["co2_electrolyzer"], start, start + dt.timedelta(days=2), lake=lake, seed=5,
                               chunk_days=1, overlap=overlap)
        silver = lake.read(SILVER_SENSOR_READINGS, columns=["tag", "ts", "value"]).to_pandas()
        episodes = lake.read(SIM_OPERATING_EPISODES).num_rows
        counts[overlap] = (res[0].days, res[0].readings, res[0].silver_rows, episodes,
                           float(silver["value"].sum()), len(silver))
    assert counts[True] == counts[False]
    assert counts[True][0] == 2 and counts[True][2] == counts[True][5] > 0


def test_an_instance_of_a_type_without_monitoring_or_calibration_says_its_type(tmp_path, monkeypatch):
    from etl.monitoring import CONFIGS, config_for
    from models.calibration import _binding

    monkeypatch.setenv("NEXUS_FLEET", str(write_fleet(tmp_path / "fleet.toml", """
        [plants.bank_1]
        type = "reactor_bank"
        site = "plant_a"
    """)))
    with pytest.raises(KeyError, match="plant 'bank_1' of type 'reactor_bank'; plant types with one: .*cstr"):
        config_for("bank_1")
    with pytest.raises(ValueError, match="plant 'bank_1' of type 'reactor_bank'; expected one of .*cstr"):
        _binding("bank_1")
    with pytest.raises(ValueError, match="unknown plant 'nosuch'"):
        _binding("nosuch")
    assert config_for("cstr") is CONFIGS["cstr"]


def test_capabilities_match_the_registries(tmp_path, monkeypatch):
    from etl.monitoring import CONFIGS
    from models.base import CAPABILITIES, PLANTS
    from models.calibration import CALIBRATED_PLANTS
    from optimization.plants import OPTIMIZED_PLANTS

    assert set(CAPABILITIES) == set(PLANTS)
    for kind, registry in (("monitoring", CONFIGS), ("calibration", CALIBRATED_PLANTS),
                           ("optimization", OPTIMIZED_PLANTS)):
        assert {t for t, caps in CAPABILITIES.items() if kind in caps} == set(registry), kind
    monkeypatch.setenv("NEXUS_FLEET", str(write_fleet(tmp_path / "fleet.toml", """
        [plants.r_101]
        type = "cstr"
        site = "plant_a"
        [plants.bank_1]
        type = "reactor_bank"
        site = "plant_a"
    """)))
    assert instance_ids() == ["r_101", "bank_1"]
    assert instance_ids(capability="monitoring") == instance_ids(capability="optimization") == ["r_101"]
