#!/usr/bin/env bash
# Entry point of the Nexus image: check the configuration, prepare the shared lake, run airflow.
#
#   entrypoint.sh init          migrate the metadata database and drop the shipped regulatory
#                               documents into the landing folder (once per deployment)
#   entrypoint.sh collect|edge  exec `nexus collect` / `nexus edge` (the live path)
#   entrypoint.sh console ...   exec `nexus console ...` (the operator console)
#   entrypoint.sh ARGS...       exec `airflow ARGS...` (api-server, scheduler, celery worker, ...)
#
# Configuration comes from the environment only (never from the image): NEXUS_ENV, NEXUS_LAKE_ROOT,
# NEXUS_LANDING_DIR and Airflow's AIRFLOW__SECTION__KEY variables.
set -euo pipefail

die() { echo "nexus entrypoint: $*" >&2; exit 64; }

: "${NEXUS_ENV:=local}"
: "${NEXUS_LAKE_ROOT:?NEXUS_LAKE_ROOT must name the lake root shared by every component}"
: "${NEXUS_LANDING_DIR:?NEXUS_LANDING_DIR must name the landing folder}"

if [[ "$NEXUS_ENV" == "prod" ]]; then
    [[ -n "${AIRFLOW__DATABASE__SQL_ALCHEMY_CONN:-}" ]] \
        || die "NEXUS_ENV=prod needs AIRFLOW__DATABASE__SQL_ALCHEMY_CONN (PostgreSQL); SQLite is for a laptop"
    [[ "${AIRFLOW__DATABASE__SQL_ALCHEMY_CONN}" == postgresql* ]] \
        || die "NEXUS_ENV=prod expects a PostgreSQL metadata database, found ${AIRFLOW__DATABASE__SQL_ALCHEMY_CONN%%:*}"
    if [[ "${AIRFLOW__CORE__EXECUTOR:-}" == "CeleryExecutor" ]]; then
        [[ -n "${AIRFLOW__CELERY__BROKER_URL:-}" ]] || die "CeleryExecutor needs AIRFLOW__CELERY__BROKER_URL"
    fi
fi

# The lake is shared storage: a local path must exist (an object-store URI is used as it is, with
# the standard AWS_* variables for its endpoint and keys).
if [[ "$NEXUS_LAKE_ROOT" != *://* ]]; then
    mkdir -p "$NEXUS_LAKE_ROOT" || die "cannot create the lake root $NEXUS_LAKE_ROOT"
fi
if [[ "$NEXUS_LANDING_DIR" != *://* ]]; then
    mkdir -p "$NEXUS_LANDING_DIR" || die "cannot create the landing folder $NEXUS_LANDING_DIR"
fi

if [[ $# -eq 0 ]]; then
    set -- standalone
fi

if [[ "$1" == "init" ]]; then
    airflow db migrate
    nexus seed-regulatory >/dev/null
    echo "nexus entrypoint: metadata database migrated; regulatory documents in $NEXUS_LANDING_DIR/regulatory"
    exit 0
fi

# the long-running Nexus commands (the MQTT collector, a plant edge, the console) run as themselves
if [[ "$1" == "collect" || "$1" == "edge" || "$1" == "console" ]]; then
    exec nexus "$@"
fi

exec airflow "$@"
