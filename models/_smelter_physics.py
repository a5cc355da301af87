"""Moved to :mod:`models.smelter.physics`; this alias keeps the old import path working."""

import sys

from models.smelter import physics as _module

sys.modules[__name__] = _module
