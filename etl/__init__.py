"""Feeds into the lake: landing → raw → bronze → silver → gold.

- :mod:`etl.landing`: land files from the inbox into raw with a manifest (sha256, no double loads).
- :mod:`etl.historian`: parse plant-historian exports into typed bronze rows, line by line.
- :mod:`etl.sensor`: the sensor pipeline's steps for one plant and one day.

Plain functions on Arrow tables and pandas frames; storage (a :class:`warehouse.lake.Lake`) is
passed in. Nothing here imports Airflow.
"""
