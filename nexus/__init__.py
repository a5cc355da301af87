"""Nexus: a lakehouse and digital-twin platform for process plants.

This package holds what wires the project together: settings, the error vocabulary and the
``nexus`` command. The domain code lives in the sibling packages ``etl``, ``models``,
``optimization``, ``sustainability`` and ``warehouse``; Airflow DAGs live in ``dags/``.
"""

__version__ = "0.1.0"
