"""The fleet: plant instances (assets) of the plant types, on their sites.

A plant *type* is a twin in ``models/`` (tag template, physics, scenarios); a plant *instance* is an
asset with its own id, site, capacity, parameter overrides and seed, in the hierarchy enterprise →
site → plant → unit → tag (ISA-95 / PI AF). Gold keys on the instance id (the ``plant_id`` column
everywhere), the DAGs map over :func:`instance_ids`, and ``gold.dim_assets`` holds the hierarchy.

The fleet is declared in a TOML file: ``models/fleet.toml`` (the four demo plants, each the single
instance of its type, with the type's id), or the file ``NEXUS_FLEET`` names. Usage::

    from models.fleet import get_instance, instance_ids
    inst = get_instance("cstr_007")
    inst.plant_type, inst.site.grid_region, inst.parameters()
    inst.simulate(start, end, landing_dir="landing", truth_dir="truth", seed=1)

Production code may read the declared facts of an instance (site, region, market series, type,
capacity); the parameter overrides are what the *simulator* runs and are read only by simulation and
evaluation code, as a real plant's true parameters are unknown to the pipeline.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import functools
import os
import re
import tomllib
import zlib
from pathlib import Path
from typing import Any, Mapping

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from nexus.errors import ConfigError

__all__ = ["DEFAULT_FLEET_FILE", "Fleet", "Instance", "SiteSpec", "fleet_path", "get_instance", "instance_ids",
           "load_fleet", "plant_type", "read_fleet", "type_of"]

#: The demo fleet shipped with Nexus.
DEFAULT_FLEET_FILE = Path(__file__).with_name("fleet.toml")

_ID = re.compile(r"^[a-z0-9_]+$")


def _check_id(value: str) -> str:
    if not _ID.match(value):
        raise ValueError(f"{value!r} is not a valid id (lower-case letters, digits and _)")
    return value


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Enterprise(_Strict):
    id: str = Field(pattern=r"^[a-z0-9_]+$")
    name: str


class SiteSpec(_Strict):
    """A site: where its plants buy power and gas, and which grid's emission factors apply."""

    name: str
    country: str = Field(pattern=r"^[A-Z]{2}$", description="ISO 3166 alpha-2 code")
    grid_region: str = Field(description="region key of the grid emission factors (regulatory feed)")
    power_series: str = Field(description="market series of the electricity price (hourly day-ahead)")
    gas_series: str = Field(description="market series of the natural gas price")
    carbon_series: str | None = Field(None, description="carbon allowance price series, if in a trading scheme")


class Leg(_Strict):
    """One transport leg of a purchased item to the plant (Scope 3 category 4 activity data)."""

    item: str
    mode: str
    km: float = Field(gt=0)
    note: str = ""


class PlantSpec(_Strict):
    type: str
    site: str
    name: str | None = None
    capacity: float | None = Field(None, gt=0)
    capacity_unit: str | None = None
    seed: int | None = None
    params: dict[str, Any] = Field(default_factory=dict)
    inbound: tuple[Leg, ...] = ()

    @model_validator(mode="after")
    def _capacity_has_unit(self) -> PlantSpec:
        if (self.capacity is None) != (self.capacity_unit is None):
            raise ValueError("capacity and capacity_unit go together")
        return self


class FleetFile(_Strict):
    enterprise: Enterprise
    sites: dict[str, SiteSpec]
    plants: dict[str, PlantSpec]


@dataclasses.dataclass(frozen=True)
class Site:
    site_id: str
    name: str
    country: str
    grid_region: str
    power_series: str
    gas_series: str
    carbon_series: str | None


@dataclasses.dataclass(frozen=True)
class Instance:
    """One plant instance (asset) of a plant type.

    Attributes:
        plant_id: instance id, the ``plant_id`` of every table (``[a-z0-9_]+``).
        plant_type: id of the plant type (a key of :data:`models.base.PLANTS`).
        name: display name.
        enterprise: enterprise id.
        site: the instance's site.
        capacity, capacity_unit: nameplate capacity, if declared.
        seed: added to a run's seed when this instance is simulated (default: 0 for an instance named
            like its type, else a stable number from the id, so instances differ unless told otherwise).
        params: overrides of the type's parameter dataclass (simulation only).
        inbound: transport legs of purchased items.
    """

    plant_id: str
    plant_type: str
    name: str
    enterprise: str
    site: Site
    capacity: float | None
    capacity_unit: str | None
    seed: int
    params: Mapping[str, Any]
    inbound: tuple[Leg, ...]

    @property
    def plant(self):
        """The plant type's module (tag catalogue, physics, simulator)."""
        from models.base import get_plant

        return get_plant(self.plant_type)

    def parameters(self) -> Any:
        """The type's default parameters with this instance's overrides (what its twin simulates)."""
        return override(self.plant.DEFAULT_PARAMS, self.params, where=f"plants.{self.plant_id}.params")

    def simulate(self, start: dt.datetime, end: dt.datetime, *, landing_dir: str | Path, truth_dir: str | Path,
                 seed: int = 0):
        """Simulate this instance's historian exports for ``[start, end)`` (see the type's ``simulate``)."""
        return self.plant.simulate(start, end, landing_dir=landing_dir, truth_dir=truth_dir, seed=seed + self.seed,
                                   params=self.parameters(), plant_id=self.plant_id)

    def simulate_true(self, start: dt.datetime, end: dt.datetime, seed: int = 0):
        """Noise-free trajectories and episodes of this instance (evaluation and tests only)."""
        return self.plant.simulate_true(start, end, seed=seed + self.seed, params=self.parameters(),
                                        plant_id=self.plant_id)


def override(params: Any, changes: Mapping[str, Any], *, where: str = "params") -> Any:
    """``params`` (a dataclass) with ``changes`` applied; nested tables override nested dataclasses.

    Raises:
        ConfigError: a name that is not a field, or a value of the wrong kind.
    """
    if not changes:
        return params
    fields = {f.name: f for f in dataclasses.fields(params)}
    updates: dict[str, Any] = {}
    for name, value in changes.items():
        if name not in fields:
            raise ConfigError(f"{where}: {type(params).__name__} has no parameter {name!r}; "
                              f"known: {', '.join(sorted(fields))}")
        current = getattr(params, name)
        if dataclasses.is_dataclass(current):
            if not isinstance(value, Mapping):
                raise ConfigError(f"{where}.{name}: expected a table of {type(current).__name__} fields")
            updates[name] = override(current, value, where=f"{where}.{name}")
        elif isinstance(current, bool) or not isinstance(current, (int, float)):
            if type(value) is not type(current):
                raise ConfigError(f"{where}.{name}: expected {type(current).__name__}, found {value!r}")
            updates[name] = value
        elif isinstance(current, int):  # a count or a seed: 1.5 would fail deep inside the simulator
            if isinstance(value, bool) or not isinstance(value, int):
                raise ConfigError(f"{where}.{name}: expected an integer, found {value!r}")
            updates[name] = value
        else:
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise ConfigError(f"{where}.{name}: expected a number, found {value!r}")
            updates[name] = type(current)(value)
    try:
        return dataclasses.replace(params, **updates)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"{where}: {exc}") from None


@dataclasses.dataclass(frozen=True)
class Fleet:
    """Every instance of a fleet file, in file order."""

    path: Path
    enterprise_id: str
    enterprise_name: str
    sites: Mapping[str, Site]
    instances: Mapping[str, Instance]

    def __iter__(self):
        return iter(self.instances.values())

    def __len__(self) -> int:
        return len(self.instances)

    def get(self, plant_id: str) -> Instance:
        try:
            return self.instances[plant_id]
        except KeyError:
            raise KeyError(f"unknown plant instance {plant_id!r} in {self.path}; known: "
                           f"{_preview(sorted(self.instances))}") from None


def _preview(names: list[str], limit: int = 12) -> str:
    shown = ", ".join(names[:limit])
    return shown + (f" … ({len(names)} in all)" if len(names) > limit else "")


def fleet_path() -> Path:
    """The fleet file in use: ``NEXUS_FLEET`` if set, else :data:`DEFAULT_FLEET_FILE`."""
    value = os.environ.get("NEXUS_FLEET", "").strip()
    return Path(value).expanduser().resolve() if value else DEFAULT_FLEET_FILE


def read_fleet(path: str | Path) -> Fleet:
    """Parse and check a fleet file.

    Raises:
        ConfigError: the file is missing, not TOML, or breaks the fleet schema (unknown key, unknown
            site or plant type, invalid id, unknown parameter), with the location of the problem.
    """
    from models.base import PLANTS

    path = Path(path)
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"fleet file {path} not found (NEXUS_FLEET)") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"fleet file {path}: not valid TOML: {exc}") from None
    try:
        spec = FleetFile.model_validate(raw)
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors())
        raise ConfigError(f"fleet file {path}: {problems}") from None
    sites = {}
    for site_id, s in spec.sites.items():
        try:
            _check_id(site_id)
        except ValueError as exc:
            raise ConfigError(f"fleet file {path}: sites: {exc}") from None
        sites[site_id] = Site(site_id, s.name, s.country, s.grid_region, s.power_series, s.gas_series, s.carbon_series)
    if not spec.plants:
        raise ConfigError(f"fleet file {path}: no plants declared")
    instances = {}
    for plant_id, p in spec.plants.items():
        where = f"fleet file {path}: plants.{plant_id}"
        if not _ID.match(plant_id):
            raise ConfigError(f"{where}: {plant_id!r} is not a valid id (lower-case letters, digits and _)")
        if plant_id in PLANTS and p.type != plant_id:
            raise ConfigError(f"{where}: the id of plant type {plant_id!r} names only an instance of that type")
        if p.type not in PLANTS:
            raise ConfigError(f"{where}: unknown plant type {p.type!r}; known: {', '.join(sorted(PLANTS))}")
        if p.site not in sites:
            raise ConfigError(f"{where}: unknown site {p.site!r}; declared: {', '.join(sorted(sites))}")
        if p.params:  # checked now, not first when the instance is simulated
            from models.base import get_plant

            override(get_plant(p.type).DEFAULT_PARAMS, p.params, where=f"{where}.params")
        instances[plant_id] = Instance(
            plant_id=plant_id, plant_type=p.type, name=p.name or plant_id, enterprise=spec.enterprise.id,
            site=sites[p.site], capacity=p.capacity, capacity_unit=p.capacity_unit, seed=_default_seed(plant_id, p),
            params=dict(p.params), inbound=tuple(p.inbound))
    return Fleet(path, spec.enterprise.id, spec.enterprise.name, sites, instances)


def _default_seed(plant_id: str, spec: PlantSpec) -> int:
    """The declared seed; else 0 for the type's own instance, a stable number from the id for others."""
    if spec.seed is not None:
        return spec.seed
    return 0 if plant_id == spec.type else zlib.crc32(plant_id.encode()) % 1_000_003


@functools.lru_cache(maxsize=8)
def _cached(path: Path, mtime_ns: int) -> Fleet:
    return read_fleet(path)


def load_fleet(path: str | Path | None = None) -> Fleet:
    """The fleet of ``path`` (default :func:`fleet_path`), cached until the file changes."""
    path = Path(path) if path is not None else fleet_path()
    try:
        mtime = path.stat().st_mtime_ns
    except FileNotFoundError:
        raise ConfigError(f"fleet file {path} not found (NEXUS_FLEET)") from None
    return _cached(path, mtime)


def get_instance(plant_id: str) -> Instance:
    """The instance ``plant_id`` of the fleet in use (``KeyError`` if it is not declared)."""
    return load_fleet().get(plant_id)


def instance_ids(plant_type: str | None = None, *, capability: str | None = None) -> list[str]:
    """Instance ids of the fleet in use, in file order: only of ``plant_type``, and only of types with
    ``capability`` (``monitoring``, ``calibration``, ``optimization``: :data:`models.base.CAPABILITIES`), if given."""
    from models.base import CAPABILITIES

    return [i.plant_id for i in load_fleet() if (plant_type is None or i.plant_type == plant_type)
            and (capability is None or capability in CAPABILITIES.get(i.plant_type, ()))]



def type_of(plant_id: str) -> str:
    """:func:`plant_type`, or ``plant_id`` itself when it names no instance or type (callers that
    then report the id as unknown in their own terms)."""
    try:
        return plant_type(plant_id)
    except KeyError:
        return plant_id


def plant_type(plant_id: str) -> str:
    """The plant type of an instance id; a type id is its own type (the demo's single instances)."""
    from models.base import PLANTS

    fleet = load_fleet()
    if plant_id in fleet.instances:
        return fleet.instances[plant_id].plant_type
    if plant_id in PLANTS:
        return plant_id
    raise KeyError(f"unknown plant {plant_id!r}: neither an instance in {fleet.path} nor a plant type "
                   f"({', '.join(sorted(PLANTS))})")
