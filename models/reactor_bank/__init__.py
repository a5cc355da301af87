"""A bank of 100 jacketed exothermic CSTRs: a plant type with 1,000 historian tags.

The origin documents ask for plants of a thousand variables and more, and many reactors. This type
puts the CSTR twin (:mod:`models.cstr`) a hundred times side by side: each reactor has its own jacket
UA and volume (:class:`ReactorBankParams`: ±10 % and ±5 % around the nominal reactor, fixed per bank
by ``design_seed``), its own PI loop and instruments, and the bank shares the feed header and the
coolant supply, so the CSTR's day plan (grade changes, shut-downs, feed disruptions, cooling failures)
applies to every reactor at once while each sensor fault hits one reactor's instrument. Everything
else — episodes, sensor faults, historian exports — is the shared engine's (:mod:`models.engine`).

Tags: ``RB.R001.FI101`` … ``RB.R100.QI101`` (the CSTR's ten per reactor), unit ``reactor_001`` …
"""

from __future__ import annotations

from models.reactor_bank.simulator import (
    DEFAULT,
    DEFAULT_PARAMS,
    TYPE,
    ReactorBankParams,
    reactor_params,
    schedule,
    simulate,
    simulate_true,
)
from models.reactor_bank.tags import ACTIVITY, INFO, N_REACTORS, PLANT_ID, TAGS, reactor_tag, reactor_unit

__all__ = ["ACTIVITY", "DEFAULT", "DEFAULT_PARAMS", "INFO", "N_REACTORS", "PLANT_ID", "TAGS", "TYPE",
           "ReactorBankParams", "reactor_params", "reactor_tag", "reactor_unit", "schedule", "simulate",
           "simulate_true"]
