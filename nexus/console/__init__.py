"""The operator console (``nexus console``): a Dash web app behind a login on the lake's gold and silver tables.

See :mod:`nexus.console.app` for the pages, :mod:`nexus.console.auth` for users and roles and
:mod:`nexus.console.data` for the queries (read-only DuckDB).
"""
