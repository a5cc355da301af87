"""Airflow Assets of the lake tables, declared once (the only Airflow-aware module outside dags/).

Producers list them as ``outlets``; consumers use them as ``schedule``. The URI names the table
in the lake (``nexus://<layer>/<table>``), independent of where the lake root lives.
"""

from __future__ import annotations

from airflow.sdk import Asset


def table_asset(name: str) -> Asset:
    """The Asset of a registry table, e.g. ``table_asset("silver.process__sensor_readings")``."""
    layer, _, table = name.partition(".")
    return Asset(name=name, uri=f"nexus://{layer}/{table}", group="lake")


SILVER_SENSOR_READINGS = table_asset("silver.process__sensor_readings")
GOLD_TAG_HOURLY = table_asset("gold.fct_tag_hourly")
SILVER_PRICES = table_asset("silver.market__prices")
GOLD_PRICES_DAILY = table_asset("gold.fct_prices_daily")
SILVER_REGULATORY_RULES = table_asset("silver.regulatory__rules")
GOLD_EMISSION_FACTORS = table_asset("gold.dim_emission_factors")
GOLD_EMISSIONS_DAILY = table_asset("gold.fct_emissions_daily")
GOLD_LCA_RESULTS = table_asset("gold.fct_lca_results")
GOLD_HEAT_INTEGRATION = table_asset("gold.fct_heat_integration")
GOLD_KPIS_DAILY = table_asset("gold.fct_kpis_daily")
GOLD_BENEFITS_DAILY = table_asset("gold.fct_benefits_daily")
GOLD_SENSITIVITY_INDICES = table_asset("gold.fct_sensitivity_indices")
GOLD_REPORTS = table_asset("gold.fct_reports")
GOLD_MODEL_PARAMETERS = table_asset("gold.fct_model_parameters")
GOLD_SETPOINT_RECOMMENDATIONS = table_asset("gold.fct_setpoint_recommendations")
GOLD_PARETO_FRONT = table_asset("gold.fct_pareto_front")
GOLD_TAG_HEALTH = table_asset("gold.fct_tag_health")
GOLD_MONITOR_SCORES = table_asset("gold.fct_monitor_scores")
GOLD_EVENTS = table_asset("gold.fct_events")
GOLD_BALANCE_CHECKS = table_asset("gold.fct_balance_checks")
GOLD_ASSET_HEALTH = table_asset("gold.fct_asset_health")
