"""Moved to :mod:`models.biorefinery.physics`; this alias keeps the old import path working."""

import sys

from models.biorefinery import physics as _module

sys.modules[__name__] = _module
