"""The lake: table registry, Delta I/O, data-quality suites and SQL serving.

- :mod:`warehouse.registry` / :mod:`warehouse.tables`: every table declared once.
- :mod:`warehouse.lake`: the only module that reads and writes Delta tables.
- :mod:`warehouse.quality`: Great Expectations suites generated from the table specs.
- :mod:`warehouse.sql`: read-only DuckDB views over raw (the manifest), bronze, silver, gold and sim.
"""
