"""Unit conversion with pint (one registry per process)."""

from __future__ import annotations

import functools

import numpy as np


@functools.cache
def registry():
    import pint

    ureg = pint.UnitRegistry(autoconvert_offset_to_baseunit=True)
    # Gas volumes at normal conditions (0 degC, 1 atm): the tag catalog stores them as m**3 (its
    # descriptions say "normal m3"), the optimizers label them Nm3; the alias makes the two one unit.
    ureg.define("normal_cubic_meter = meter ** 3 = Nm3")
    return ureg


def convert(values: np.ndarray | float, source: str, target: str) -> np.ndarray:
    """Convert ``values`` from unit ``source`` to unit ``target`` (pint notation, e.g. ``degC`` → ``K``)."""
    if source == target:
        return np.asarray(values, dtype=float)
    ureg = registry()
    return np.asarray(ureg.Quantity(np.asarray(values, dtype=float), source).to(target).magnitude, dtype=float)
