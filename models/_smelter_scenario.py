"""Moved to :mod:`models.smelter.scenarios`; this alias keeps the old import path working."""

import sys

from models.smelter import scenarios as _module

sys.modules[__name__] = _module
