"""Data-driven surrogate of the CO2 electrolyzer and the hybrid (mechanistic + surrogate) twin.

The origin project's "hybrid" model trained one neural network per output and fed each network
its own target as an input, so the networks learnt the identity and their validation scores
meant nothing. Here the inputs of a surrogate are restricted to variables the operator sets or
the plant receives (current, CO2 feed flow and concentration, catholyte temperature and flow,
electrode age), and :func:`check_surrogate_inputs` raises :class:`ValueError` when an input is
an output, is computed from an output (a DCS calculation downstream of it), is a measurement an
output is computed from, or is any other process response.

* :func:`train_surrogate` fits one scikit-learn ``MLPRegressor`` per output, inside a
  ``Pipeline`` with a ``StandardScaler`` on the inputs (and a standardised target), with early
  stopping and a fixed ``random_state``; it reports R2 and MAPE on a held-out split. About 0.4 s
  per output on 5,000 rows (2 cores).
* :class:`MechanisticTwin` answers the same variables from
  :func:`models.co2_electrolyzer.steady_state`.
* :class:`HybridTwin` answers each variable from the source chosen for it.

Variables are named as in :data:`VARIABLES` and returned in their historian tag's unit
(FE and conversion in percent). sklearn is imported on first use only, so importing the plant
module stays cheap. This module is re-exported by :mod:`models.co2_electrolyzer`.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

import numpy as np
import pandas as pd

__all__ = [
    "DEFAULT_SURROGATE_INPUTS",
    "DEFAULT_SURROGATE_OUTPUTS",
    "VARIABLES",
    "HybridTwin",
    "MechanisticTwin",
    "Surrogate",
    "SurrogateMetrics",
    "check_surrogate_inputs",
    "train_surrogate",
]

#: Twin output variables and the historian tag (and unit) each one stands for.
VARIABLES: Mapping[str, str] = MappingProxyType(
    {
        "faradaic_efficiency": "ECR.AY301",  # percent
        "cell_voltage": "ECR.EY101",  # V
        "h2_outlet": "ECR.AI202",  # percent, dry cathode gas
        "co2_conversion": "ECR.XY201",  # percent, single pass
        "formic_acid_rate": "ECR.FY301",  # kg/h, 100 % HCOOH
        "specific_energy": "ECR.EY102",  # kWh/kg, stack DC
        "stack_power": "ECR.JI102",  # kW
    }
)
DEFAULT_SURROGATE_OUTPUTS: tuple[str, ...] = ("faradaic_efficiency", "cell_voltage", "h2_outlet", "co2_conversion")
#: Current density, CO2 feed flow and concentration, catholyte inlet temperature, electrode age.
DEFAULT_SURROGATE_INPUTS: tuple[str, ...] = ("ECR.JI101", "ECR.FI201", "ECR.AI201", "ECR.TI301", "ECR.KY101")

_SOURCES = ("mechanistic", "surrogate")


def _plant():
    # Imported lazily: the plant module re-exports this one at its end.
    from models import co2_electrolyzer

    return co2_electrolyzer


def _closure(start: str, edges: Mapping[str, Sequence[str]]) -> set[str]:
    seen: set[str] = set()
    todo = list(edges.get(start, ()))
    while todo:
        t = todo.pop()
        if t not in seen:
            seen.add(t)
            todo.extend(edges.get(t, ()))
    return seen


def _derived_from(tag: str) -> set[str]:
    """Tags the DCS computes (directly or transitively) from ``tag``."""
    sources = _plant().CALC_SOURCES
    return {t for t in sources if tag in _closure(t, sources)}


def _output_names(outputs: Sequence[str] | str) -> tuple[str, ...]:
    if isinstance(outputs, str):
        outputs = (outputs,)
    by_tag = {tag: name for name, tag in VARIABLES.items()}
    names = []
    for o in outputs:
        if o in VARIABLES:
            names.append(o)
        elif o in by_tag:
            names.append(by_tag[o])
        else:
            raise ValueError(f"unknown output {o!r}; expected one of {sorted(VARIABLES)} (or their tags)")
    if not names:
        raise ValueError("at least one output is required")
    if len(set(names)) != len(names):
        raise ValueError(f"outputs must be unique, got {list(outputs)}")
    return tuple(names)


def check_surrogate_inputs(inputs: Sequence[str], outputs: Sequence[str]) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """Validate surrogate inputs against outputs; return ``(input tags, output variable names)``.

    Raises
    ------
    ValueError
        If an input is unknown or repeated, if an output is among the inputs, if an input is
        computed from an output (e.g. specific energy for FE), if an output is computed from a
        measured input (e.g. the H2 analyser for FE), or if an input is not one of the
        independent (operator-set / feed / counter) tags in
        :data:`models.co2_electrolyzer.INDEPENDENT_TAGS`.
    """
    plant = _plant()
    if isinstance(inputs, str):
        inputs = (inputs,)
    names = _output_names(outputs)
    ins = tuple(inputs)
    if not ins:
        raise ValueError("at least one input is required")
    if len(set(ins)) != len(ins):
        raise ValueError(f"inputs must be unique, got {list(ins)}")
    known = {t.tag for t in plant.TAGS}
    for i in ins:
        if i not in known:
            raise ValueError(f"unknown input tag {i!r}; inputs must be historian tags of {plant.PLANT_ID}")
    sources = plant.CALC_SOURCES
    for name in names:
        out_tag = VARIABLES[name]
        downstream = _derived_from(out_tag)
        upstream = _closure(out_tag, sources)
        for i in ins:
            if i == out_tag:
                raise ValueError(f"leakage: output {name} ({out_tag}) is also an input")
            if i in downstream:
                raise ValueError(f"leakage: input {i} is computed from output {name} ({out_tag})")
            if i in upstream and i not in plant.INDEPENDENT_TAGS:
                raise ValueError(f"leakage: output {name} ({out_tag}) is computed from input {i}")
    for i in ins:
        if i not in plant.INDEPENDENT_TAGS:
            raise ValueError(
                f"input {i} is a process response, not an operator-set or independent variable; "
                f"allowed inputs: {sorted(plant.INDEPENDENT_TAGS)}"
            )
    return ins, names


@dataclass(frozen=True)
class SurrogateMetrics:
    """Held-out validation of one output: R2 (-), MAPE (fraction), row counts, fit time (s)."""

    r2: float
    mape: float
    n_train: int
    n_test: int
    fit_seconds: float


@dataclass(frozen=True, eq=False)
class Surrogate:
    """Fitted per-output regressors (inputs = independent tags, outputs = :data:`VARIABLES` names)."""

    inputs: tuple[str, ...]
    outputs: tuple[str, ...]
    models: Mapping[str, Any]
    metrics: Mapping[str, SurrogateMetrics]
    seed: int

    def predict(self, frame: pd.DataFrame) -> pd.DataFrame:
        """Predict every output for the rows of ``frame`` (input tag columns); NaN where an input is missing."""
        missing = [c for c in self.inputs if c not in frame.columns]
        if missing:
            raise ValueError(f"frame lacks surrogate input columns {missing}")
        x = frame[list(self.inputs)].to_numpy(dtype=float)
        ok = np.isfinite(x).all(axis=1)
        out = pd.DataFrame(index=frame.index, columns=list(self.outputs), dtype=float)
        if ok.any():
            for name in self.outputs:
                col = np.full(len(frame), np.nan)
                col[ok] = self.models[name].predict(x[ok])
                out[name] = col
        return out


def train_surrogate(
    frame: pd.DataFrame,
    *,
    outputs: Sequence[str] = DEFAULT_SURROGATE_OUTPUTS,
    inputs: Sequence[str] = DEFAULT_SURROGATE_INPUTS,
    seed: int = 0,
    test_fraction: float = 0.2,
    hidden_layer_sizes: tuple[int, ...] = (32, 16),
    max_iter: int = 500,
) -> Surrogate:
    """Fit one MLP per output on operating data (e.g. hourly means from the lakehouse).

    Parameters
    ----------
    frame : DataFrame
        Columns include the input tags and the outputs' tags (:data:`VARIABLES`), in tag units.
        Rows with a missing input or output are dropped (e.g. FE is undefined while the stack is
        de-energised).
    outputs : sequence of str
        Variable names (or their tags).
    inputs : sequence of str
        Independent tags only; see :func:`check_surrogate_inputs`.
    seed : int
        Drives the train/test split and the networks' ``random_state``.
    test_fraction : float
        Held-out share of the rows for R2 and MAPE.
    hidden_layer_sizes, max_iter
        Network size and the iteration cap of Adam (early stopping on 10 % of the training rows
        normally stops it much earlier).

    Returns
    -------
    Surrogate

    Raises
    ------
    ValueError
        Leakage or non-independent inputs, missing columns, fewer than 50 usable rows, bad split.
    """
    ins, names = check_surrogate_inputs(inputs, outputs)
    if not 0.05 <= test_fraction <= 0.5:
        raise ValueError(f"test_fraction must lie in [0.05, 0.5], got {test_fraction}")
    cols = list(ins) + [VARIABLES[n] for n in names]
    missing = [c for c in cols if c not in frame.columns]
    if missing:
        raise ValueError(f"frame lacks columns {missing}")
    data = frame[cols].to_numpy(dtype=float)
    data = data[np.isfinite(data).all(axis=1)]
    if len(data) < 50:
        raise ValueError(f"need at least 50 complete rows to train a surrogate, found {len(data)}")

    from sklearn.compose import TransformedTargetRegressor
    from sklearn.metrics import mean_absolute_percentage_error, r2_score
    from sklearn.neural_network import MLPRegressor
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import StandardScaler

    rng = np.random.default_rng(seed)
    order = rng.permutation(len(data))
    n_test = max(1, int(round(test_fraction * len(data))))
    test, train = order[:n_test], order[n_test:]
    x = data[:, : len(ins)]
    models: dict[str, Any] = {}
    metrics: dict[str, SurrogateMetrics] = {}
    for k, name in enumerate(names):
        y = data[:, len(ins) + k]
        net = MLPRegressor(
            hidden_layer_sizes=hidden_layer_sizes,
            activation="tanh",
            solver="adam",
            learning_rate_init=5e-3,
            batch_size=int(min(500, max(32, len(train) // 10))),  # >= 10 updates per epoch
            max_iter=max_iter,
            early_stopping=True,
            validation_fraction=0.1,
            n_iter_no_change=20,
            tol=1e-6,
            random_state=seed,
        )
        model = TransformedTargetRegressor(
            regressor=Pipeline([("scale", StandardScaler()), ("mlp", net)]), transformer=StandardScaler()
        )
        t0 = time.perf_counter()
        model.fit(x[train], y[train])
        fit_s = time.perf_counter() - t0
        pred = model.predict(x[test])
        metrics[name] = SurrogateMetrics(
            r2=float(r2_score(y[test], pred)),
            mape=float(mean_absolute_percentage_error(y[test], pred)),
            n_train=len(train),
            n_test=len(test),
            fit_seconds=fit_s,
        )
        models[name] = model
    return Surrogate(ins, names, MappingProxyType(models), MappingProxyType(metrics), seed)


@dataclass(frozen=True)
class MechanisticTwin:
    """The physics model answering :data:`VARIABLES` from independent tags via ``steady_state``.

    Uses ``ECR.II101`` (or ``ECR.JI101``), ``ECR.FI201``, ``ECR.AI201``, ``ECR.TI301`` and, when
    present, ``ECR.KY101`` (electrode age, default 0) and ``ECR.FI301`` (catholyte flow).
    """

    params: Any = None

    def predict(self, frame: pd.DataFrame, variables: Sequence[str] | None = None) -> pd.DataFrame:
        plant = _plant()
        p = plant.DEFAULT if self.params is None else self.params
        names = tuple(VARIABLES) if variables is None else _output_names(variables)
        need = ["ECR.FI201", "ECR.AI201", "ECR.TI301"]
        missing = [c for c in need if c not in frame.columns]
        if "ECR.II101" not in frame.columns and "ECR.JI101" not in frame.columns:
            missing.append("ECR.II101 or ECR.JI101")
        if missing:
            raise ValueError(f"frame lacks columns {missing} for the mechanistic twin")
        if "ECR.II101" in frame.columns:
            current = frame["ECR.II101"].to_numpy(dtype=float)
        else:
            current = frame["ECR.JI101"].to_numpy(dtype=float) * p.cell_area_cm2 / 1000.0
        age = frame["ECR.KY101"].to_numpy(dtype=float) if "ECR.KY101" in frame.columns else 0.0
        flow = frame["ECR.FI301"].to_numpy(dtype=float) if "ECR.FI301" in frame.columns else None
        s = plant.steady_state(
            current,
            frame["ECR.FI201"].to_numpy(dtype=float),
            frame["ECR.AI201"].to_numpy(dtype=float),
            frame["ECR.TI301"].to_numpy(dtype=float),
            catholyte_flow_m3_h=flow,
            electrode_age_h=age,
            params=p,
        )
        values = {
            "faradaic_efficiency": 100.0 * s.faradaic_efficiency,
            "cell_voltage": s.cell_voltage_v,
            "h2_outlet": s.h2_outlet_pct,
            "co2_conversion": 100.0 * s.co2_conversion,
            "formic_acid_rate": s.formic_acid_kg_h,
            "specific_energy": s.specific_energy_kwh_kg,
            "stack_power": s.stack_power_kw,
        }
        return pd.DataFrame({n: np.broadcast_to(values[n], (len(frame),)) for n in names}, index=frame.index)


@dataclass(frozen=True)
class HybridTwin:
    """Answer each variable from its selected source (``"mechanistic"`` or ``"surrogate"``).

    Parameters
    ----------
    mechanistic : MechanisticTwin
    surrogate : Surrogate, optional
        Required if any variable is sourced from it, and it must have been trained for it.
    source : mapping of str to str
        Variable name -> source; default: every :data:`VARIABLES` entry from the mechanistic twin.

    Examples
    --------
    ``HybridTwin(MechanisticTwin(), sur, {"faradaic_efficiency": "surrogate", "cell_voltage": "mechanistic"})``
    """

    mechanistic: MechanisticTwin = field(default_factory=MechanisticTwin)
    surrogate: Surrogate | None = None
    source: Mapping[str, str] = field(default_factory=lambda: {n: "mechanistic" for n in VARIABLES})

    def __post_init__(self) -> None:
        src = dict(self.source)
        if not src:
            raise ValueError("source must select at least one variable")
        for name, where in src.items():
            if name not in VARIABLES:
                raise ValueError(f"unknown variable {name!r}; expected one of {sorted(VARIABLES)}")
            if where not in _SOURCES:
                raise ValueError(f"source of {name} must be one of {_SOURCES}, got {where!r}")
            if where == "surrogate" and (self.surrogate is None or name not in self.surrogate.outputs):
                trained = () if self.surrogate is None else self.surrogate.outputs
                raise ValueError(f"{name} is sourced from the surrogate, which was trained for {list(trained)}")
        object.__setattr__(self, "source", MappingProxyType(src))

    def with_source(self, **changes: str) -> HybridTwin:
        """A copy with some variables switched to another source."""
        return HybridTwin(self.mechanistic, self.surrogate, {**self.source, **changes})

    def predict(self, frame: pd.DataFrame) -> pd.DataFrame:
        """Columns in ``source`` order, each from its source; ``attrs["source"]`` records the choice."""
        names = list(self.source)
        mech = [n for n in names if self.source[n] == "mechanistic"]
        parts = {}
        if mech:
            m = self.mechanistic.predict(frame, mech)
            parts.update({n: m[n] for n in mech})
        sur = [n for n in names if self.source[n] == "surrogate"]
        if sur:
            s = self.surrogate.predict(frame)  # type: ignore[union-attr]
            parts.update({n: s[n] for n in sur})
        out = pd.DataFrame({n: parts[n] for n in names}, index=frame.index)
        out.attrs["source"] = dict(self.source)
        return out
