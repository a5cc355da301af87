"""Common plant interface shared by every Nexus plant model.

A *plant type* is a Python package (``models.cstr``, ``models.biorefinery`` ...)
built on the shared simulation engine (:mod:`models.engine`) that exposes

* ``INFO`` -- a :class:`PlantInfo` (identity, historian sampling, clock offset),
* ``TAGS`` -- a tuple of :class:`TagSpec` (the historian tag catalogue),
* ``DEFAULT_PARAMS`` -- the plant's frozen parameter dataclass,
* ``simulate_true(start, end, seed=0, params=..., plant_id=None)`` -- true
  process values and the ground-truth :class:`Episode` list, no files,
* ``simulate(start, end, *, landing_dir, truth_dir, seed=0, params=...,
  plant_id=None)`` -- the same, written as historian export files (see
  :mod:`models.historian`), returning a :class:`SimulationResult`; ``plant_id``
  is the plant *instance* (default: the type id),
* ``ACTIVITY`` -- a tuple of :class:`ActivityStream`: how the activity data
  carbon accounting and LCA need (fuel, electricity, steam, feedstock,
  chemicals, process emissions, biogenic CO2, products) follow from the
  plant's historian tags.

The module-level :class:`Plant` protocol states this contract for type
checkers; :func:`get_plant` resolves a plant id to its module lazily so that
``import models`` stays cheap (no numpy/pandas import).

Conventions
-----------
* All datetimes are timezone-aware and UTC; intervals are half-open
  ``[start, end)``.
* Units are pint-parsable strings (``"degC"``, ``"K"``, ``"L/min"``,
  ``"mol/L"``, ``"percent"``, ``"kW"``).
* Nothing in :mod:`models` imports Airflow or does I/O other than writing the
  files it is asked to write.
"""

from __future__ import annotations

import datetime as dt
import importlib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import Any, Protocol, runtime_checkable

__all__ = [
    "ACTIVITY_KINDS",
    "EPOCH",
    "check_window",
    "clip_episodes",
    "day_range",
    "episode_id",
    "ActivityStream",
    "CATEGORIES",
    "SENSOR_FAULT_LABELS",
    "DeliveryQuirk",
    "Episode",
    "PLANTS",
    "Plant",
    "PlantInfo",
    "SimulationResult",
    "TagSpec",
    "get_plant",
]

#: Episode categories, with the long-run time shares the scenario generators
#: aim for (design target: 70 / 20 / 8 / 2 %).
CATEGORIES: tuple[str, ...] = ("normal", "transient", "abnormal", "extreme")

#: Episode labels that describe a *measurement* fault of one tag (applied by
#: :mod:`models.historian`, the process itself is unaffected).
SENSOR_FAULT_LABELS: frozenset[str] = frozenset({"stuck_sensor", "spiking_sensor", "sensor_drift"})


#: Day numbers count UTC days from this epoch (scenario blocks are aligned to it).
EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.timezone.utc)


def day_range(start: dt.datetime, end: dt.datetime) -> range:
    """Numbers of the UTC days (since :data:`EPOCH`) that ``[start, end)`` touches."""
    first = (start - EPOCH) // dt.timedelta(days=1)
    last = -((EPOCH - end) // dt.timedelta(days=1))  # ceil
    return range(first, last)


def check_window(start: dt.datetime, end: dt.datetime, sampling: dt.timedelta) -> None:
    """Raise ValueError unless ``[start, end)`` is a non-empty UTC window on the ``sampling`` grid."""
    for name, t in (("start", start), ("end", end)):
        if t.tzinfo is None or t.utcoffset() != dt.timedelta(0):
            raise ValueError(f"{name} must be tz-aware UTC, got {t!r}")
        if (t - EPOCH) % sampling:
            raise ValueError(f"{name} must be aligned to the {sampling} sampling, got {t.isoformat()}")
    if not start < end:
        raise ValueError("start must precede end")


def episode_id(day_start: dt.datetime, index: int) -> int:
    """Stable episode id: ``YYYYMMDD * 100 +`` the 1-based position within the UTC day."""
    return int(f"{day_start:%Y%m%d}") * 100 + index + 1


def clip_episodes(episodes: list[Episode], start: dt.datetime, end: dt.datetime) -> list[Episode]:
    """Episodes overlapping ``[start, end)``, cut to it."""
    from dataclasses import replace

    out = []
    for e in episodes:
        if e.end > start and e.start < end:
            if e.start < start or e.end > end:
                e = replace(e, start=max(e.start, start), end=min(e.end, end))
            out.append(e)
    return out


def _require_utc(name: str, value: dt.datetime) -> None:
    if value.tzinfo is None or value.utcoffset() != dt.timedelta(0):
        raise ValueError(f"{name} must be a tz-aware UTC datetime, got {value!r}")


@dataclass(frozen=True)
class TagSpec:
    """One historian tag.

    Parameters
    ----------
    tag : str
        Historian tag name, e.g. ``"CSTR.TI102"`` (must not contain ``,`` or ``"``).
    description : str
        Human description.
    unit : str
        Engineering unit of the historian export (pint-parsable).
    canonical_unit : str
        Unit stored by the lakehouse silver layer (pint-parsable, same dimension).
    range_min, range_max : float
        Calibrated instrument range in ``unit``. A transmitter saturates at its
        range ends, so values outside ``[range_min, range_max]`` can only be
        instrument faults (spikes); the ETL quarantines them.
    unit_operation : str
        Plant section: ``"feed"``, ``"reactor"``, ``"jacket"``, ``"controller"`` ...
    noise_pct : float, default 0.0
        Standard deviation of the measurement noise in percent of span
        (``range_max - range_min``). ``0`` marks values that are not measured
        (set points, controller outputs): the historian exports them exactly and
        never assigns sensor faults to them.
    """

    tag: str
    description: str
    unit: str
    canonical_unit: str
    range_min: float
    range_max: float
    unit_operation: str
    noise_pct: float = 0.0

    def __post_init__(self) -> None:
        if not self.range_max > self.range_min:
            raise ValueError(f"{self.tag}: range_max must exceed range_min")
        if any(c in self.tag for c in ',"\n'):
            raise ValueError(f"{self.tag!r}: tag names must be CSV-safe")
        if self.noise_pct < 0:
            raise ValueError(f"{self.tag}: noise_pct must be >= 0")

    @property
    def span(self) -> float:
        """Instrument span ``range_max - range_min`` in ``unit``."""
        return self.range_max - self.range_min

    @property
    def measured(self) -> bool:
        """True for field measurements (noise, faults), False for set points/outputs."""
        return self.noise_pct > 0


#: Kinds of activity data (GHG Protocol / LCA inventory flows) a plant reports.
#: ``fuel`` (scope 1 stationary combustion, amount in energy units, LHV),
#: ``electricity_import`` / ``electricity_export`` (kWh), ``steam_import`` (GJ),
#: ``feedstock`` and ``chemical`` (purchased materials, mass), ``product``
#: (sold products, mass), ``process_emission`` (direct release of a gas, mass of
#: that gas, e.g. ``cf4``, ``c2f6``, ``co2``, ``ch4``), ``biogenic_co2`` (CO2
#: of biogenic origin, reported outside the scopes), ``water_intake`` (m3).
ACTIVITY_KINDS: tuple[str, ...] = (
    "fuel",
    "electricity_import",
    "electricity_export",
    "steam_import",
    "feedstock",
    "chemical",
    "product",
    "process_emission",
    "biogenic_co2",
    "water_intake",
)


@dataclass(frozen=True)
class ActivityStream:
    """One activity-data flow of a plant, derived from one historian tag.

    The tag is a *rate* (its canonical unit is per time, e.g. ``t/h``,
    ``kW``, ``kg/h``, ``m**3/h``). The amount over a period is the time
    integral of the rate, times ``factor``, expressed in ``unit``: an hourly
    mean of 10 t/h gives 10 t for that hour. Carbon accounting integrates gold
    hourly tag means, so activity data come from measurements, not from the
    simulator's ground truth.

    Parameters
    ----------
    kind : str
        One of :data:`ACTIVITY_KINDS`.
    item : str
        Canonical item key shared with the market and regulatory feeds
        (prices and emission factors are keyed by it): ``natural_gas``,
        ``electricity``, ``corn_stover``, ``cellulase``, ``sulfuric_acid``,
        ``ammonia``, ``co2_feed``, ``alumina``, ``anode_carbon``,
        ``aluminium_fluoride``, ``ethanol``, ``formic_acid``, ``aluminium``,
        ``cf4``, ``c2f6``, ``co2``, ``ch4``, ``water`` ...
    tag : str
        Historian tag of the rate.
    unit : str
        Pint unit of the amount (``t``, ``kg``, ``kWh``, ``GJ``, ``m**3``).
    factor : float, default 1.0
        Dimensionless multiplier (e.g. a mass fraction, or 1/COP for the
        electricity of a chiller from its heat duty); state why in ``note``.
    note : str
        Where the number comes from.
    """

    kind: str
    item: str
    tag: str
    unit: str
    factor: float = 1.0
    note: str = ""

    def __post_init__(self) -> None:
        if self.kind not in ACTIVITY_KINDS:
            raise ValueError(f"unknown activity kind {self.kind!r}; expected one of {ACTIVITY_KINDS}")
        if not self.item or self.item != self.item.lower():
            raise ValueError(f"activity item must be a lower-case key, got {self.item!r}")


@dataclass(frozen=True)
class PlantInfo:
    """Identity and historian settings of a plant.

    Parameters
    ----------
    plant_id : str
        Short id used in paths and tables (``"cstr"``), ``[a-z0-9_]+``.
    name, description : str
        Human text.
    sampling : datetime.timedelta
        Natural historian sampling interval; must divide one day.
    utc_offset : datetime.timedelta, default +1 h
        Fixed offset of the plant's local *standard* time. Historian servers are
        commonly kept on standard time all year to avoid the ambiguous DST
        hour; some daily exports are written in this local time (see
        :mod:`models.historian`).
    """

    plant_id: str
    name: str
    description: str
    sampling: dt.timedelta
    utc_offset: dt.timedelta = dt.timedelta(hours=1)

    def __post_init__(self) -> None:
        pid = self.plant_id
        if not pid or pid != pid.lower() or not all(c.isalnum() or c == "_" for c in pid):
            raise ValueError(f"invalid plant_id {self.plant_id!r}")
        if self.sampling <= dt.timedelta(0) or dt.timedelta(days=1) % self.sampling:
            raise ValueError("sampling must be positive and divide one day")
        if abs(self.utc_offset) >= dt.timedelta(days=1) or self.utc_offset % dt.timedelta(minutes=1):
            raise ValueError("utc_offset must be a whole number of minutes within +-24 h")


@dataclass(frozen=True)
class Episode:
    """Ground truth of one operating episode, ``[start, end)`` in UTC.

    Parameters
    ----------
    plant_id : str
    episode_id : int
        Unique per plant and stable: generators derive it from the UTC day and
        the position within the day, so it does not depend on the simulated window.
    category : str
        One of :data:`CATEGORIES`.
    label : str
        ``"steady"``, ``"setpoint_change"``, ``"startup"``, ``"shutdown"``,
        ``"feed_disruption"``, ``"jacket_fouling"``, ``"stuck_sensor"``,
        ``"spiking_sensor"``, ``"sensor_drift"``, ``"cooling_failure"`` ...
    start, end : datetime.datetime
        tz-aware UTC, ``start < end``.
    tag : str or None
        Affected tag for sensor faults (:data:`SENSOR_FAULT_LABELS`), else None.
    detail : str
        Short human text, e.g. ``"UA falls to 60 % over 3 h"``.
    """

    plant_id: str
    episode_id: int
    category: str
    label: str
    start: dt.datetime
    end: dt.datetime
    tag: str | None
    detail: str

    def __post_init__(self) -> None:
        if self.category not in CATEGORIES:
            raise ValueError(f"unknown category {self.category!r}")
        _require_utc("start", self.start)
        _require_utc("end", self.end)
        if not self.start < self.end:
            raise ValueError("episode start must precede end")
        if (self.label in SENSOR_FAULT_LABELS) != (self.tag is not None):
            raise ValueError("tag is required for sensor-fault labels and only for them")

    @property
    def duration(self) -> dt.timedelta:
        return self.end - self.start


@dataclass(frozen=True)
class DeliveryQuirk:
    """A delivery or data-quality event applied by the historian exporter.

    ``kind`` is one of ``"local_time"`` (file timestamps in plant local time),
    ``"late_partial"`` (last hours in ``__02``), ``"overlap_reexport"``
    (``__03`` repeats an hour of ``__01``), ``"duplicate_file"`` (``__04`` is a
    byte copy of ``__01``) or ``"comm_failure"`` (all tags quality 24 for a few
    minutes). ``path`` is the file concerned.
    """

    day: dt.date
    kind: str
    path: Path
    detail: str


@dataclass(frozen=True)
class SimulationResult:
    """What ``plant.simulate`` returns.

    ``n_readings`` counts distinct (tag, timestamp) readings exported
    (files ``__01`` + ``__02``); ``n_lines`` counts every data line written,
    duplicates included. ``episodes`` are clipped to ``[start, end)``.
    """

    plant_id: str
    start: dt.datetime
    end: dt.datetime
    paths: tuple[Path, ...]
    n_readings: int
    n_lines: int
    quirks: tuple[DeliveryQuirk, ...]
    episodes: tuple[Episode, ...]
    truth_path: Path


@runtime_checkable
class Plant(Protocol):
    """Structural type of a plant module (see module docstring).

    ``params`` is the plant's own frozen parameter dataclass; ``None`` means
    ``DEFAULT_PARAMS``. ``plant_id`` is the plant *instance* id (default: the type
    id ``INFO.plant_id``); it names the export files, the episodes and the result,
    while the data depend only on ``seed`` and ``params`` (an instance simulated
    with the type's seed and params gives the type's rows). ``ACTIVITY`` lists the plant's activity-data flows
    (see :class:`ActivityStream`); every ``tag`` in it is one of ``TAGS``.
    """

    INFO: PlantInfo
    TAGS: tuple[TagSpec, ...]
    DEFAULT_PARAMS: Any
    ACTIVITY: tuple[ActivityStream, ...]

    def simulate_true(
        self, start: dt.datetime, end: dt.datetime, seed: int = 0, params: Any = None, plant_id: str | None = None
    ) -> tuple[Any, list[Episode]]: ...

    def simulate(
        self,
        start: dt.datetime,
        end: dt.datetime,
        *,
        landing_dir: str | Path,
        truth_dir: str | Path,
        seed: int = 0,
        params: Any = None,
        plant_id: str | None = None,
    ) -> SimulationResult: ...


#: plant_id -> importable module implementing :class:`Plant`.
PLANTS: Mapping[str, str] = MappingProxyType({
    "cstr": "models.cstr",
    "biorefinery": "models.biorefinery",
    "co2_electrolyzer": "models.co2_electrolyzer",
    "smelter": "models.smelter",
    "reactor_bank": "models.reactor_bank",  # 1,000 tags: the CSTR a hundred times (not in the demo fleet)
})

#: What each plant type supports beyond ingestion: process monitoring (``etl.monitoring.CONFIGS``),
#: calibration (``models.calibration.CALIBRATED_PLANTS``) and setpoint optimization
#: (``optimization.plants.OPTIMIZED_PLANTS``). Declared here so DAG files can list the instances a
#: pipeline serves without importing those modules; tests keep it equal to the registries.
CAPABILITIES: Mapping[str, frozenset[str]] = MappingProxyType({
    "cstr": frozenset({"monitoring", "calibration", "optimization"}),
    "biorefinery": frozenset({"monitoring", "calibration", "optimization"}),
    "co2_electrolyzer": frozenset({"monitoring", "calibration", "optimization"}),
    "smelter": frozenset({"monitoring", "calibration", "optimization"}),
    "reactor_bank": frozenset(),
})


def forward_to(module_name: str, *parts: Any):
    """A module ``__getattr__`` (PEP 562) that finds a name in ``parts``: a plant package's helpers
    (``models.cstr._x``) for callers and tests written against the flat module it was split from."""

    def __getattr__(name: str) -> Any:
        for part in parts:
            if name in vars(part):
                return vars(part)[name]
        raise AttributeError(f"module {module_name!r} has no attribute {name!r}")

    return __getattr__


def get_plant(plant_id: str) -> Plant:
    """Return the module implementing the plant type of ``plant_id`` (imported on first use).

    ``plant_id`` is a plant type (a key of :data:`PLANTS`) or an instance of the fleet
    (:mod:`models.fleet`), which resolves to its type: instances of a type share its tag
    template, physics and scenarios.

    Raises
    ------
    KeyError
        If ``plant_id`` is neither a registered type nor a fleet instance.
    TypeError
        If the module does not satisfy :class:`Plant`.
    """
    module_name = PLANTS.get(plant_id)
    if module_name is None:
        from models.fleet import plant_type

        module_name = PLANTS[plant_type(plant_id)]
    module = importlib.import_module(module_name)
    if not isinstance(module, Plant):
        raise TypeError(f"{module_name} does not implement the Plant protocol")
    return module  # type: ignore[return-value]
