"""The project's small error vocabulary.

Every message says what was expected and what was found, so a failed Airflow task's log is
enough to act on.
"""

from __future__ import annotations


class NexusError(Exception):
    """Base class of every error Nexus raises on purpose."""


class ConfigError(NexusError):
    """A setting is missing or invalid."""


class TableNotFound(NexusError):
    """A table is not in the registry, or not yet created in the lake."""


class ContractViolation(NexusError):
    """Data broke a table's contract (schema, primary key or CHECK constraint)."""


class SchemaDrift(ContractViolation):
    """Incoming data has columns or types that differ from the table spec."""


class UnparseableFile(NexusError):
    """A landed file cannot be read at all (it stays in raw and is reported)."""


class CalibrationFailed(NexusError):
    """Parameter estimation did not converge or gave an unusable fit."""


class InfeasibleOptimization(NexusError):
    """The optimizer ended infeasible or without an optimal solution."""
