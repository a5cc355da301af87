"""Unit conversion with pint (one registry per process)."""

from __future__ import annotations

import functools

import numpy as np


@functools.cache
def registry():
    import pint

    return pint.UnitRegistry(autoconvert_offset_to_baseunit=True)


def convert(values: np.ndarray | float, source: str, target: str) -> np.ndarray:
    """Convert ``values`` from unit ``source`` to unit ``target`` (pint notation, e.g. ``degC`` → ``K``)."""
    if source == target:
        return np.asarray(values, dtype=float)
    ureg = registry()
    return np.asarray(ureg.Quantity(np.asarray(values, dtype=float), source).to(target).magnitude, dtype=float)
