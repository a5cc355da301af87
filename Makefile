# Nexus — developer entry points. Every target creates .venv and installs the project when needed.
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
PYNUMERO := $(VENV)/.pynumero-stamp
# Debian's IPOPT (PyPI cyipopt compiles against it) and AMPL solver library (PyNumero's ASL
# interface links it), with the tool chain both builds need. No Debian package ships an ipopt
# executable, so Pyomo's IPOPT route here is cyipopt + PyNumero (shared STACK.md).
SOLVER_DEBS := coinor-libipopt-dev liblapack-dev libblas-dev pkg-config libamplsolver-dev cmake g++

.PHONY: install demo test test-fast bench browser solver-debs airflow airflow-url airflow-password clean-lake help

help:
	@echo "make demo             simulate four plants, ingest, monitor, calibrate, optimize and report through Airflow"
	@echo "make test             run the test suite"
	@echo "make bench            time raw -> gold per day and a month of every plant's history (points/s, memory)"
	@echo "make airflow          start the Airflow UI on http://127.0.0.1:8080, or the port AIRFLOW__API__PORT (Ctrl-C stops everything)"
	@echo "make airflow-password print the UI's generated admin password"
	@echo "make clean-lake       delete the local lake, landing folder and Airflow state"

# Reinstall when the dependencies or the set of top-level packages change (editable installs map packages).
# The solver packages come first (order-only): pip builds cyipopt against Debian's IPOPT.
$(STAMP): pyproject.toml $(wildcard */__init__.py) | solver-debs
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	@touch $(STAMP)

# PyNumero's ASL library, built into the environment (PYOMO_CONFIG_DIR=$(VENV)/share/pyomo, which
# optimization.solvers points Pyomo to at run time). Rebuilt after every reinstall (Pyomo may move).
$(PYNUMERO): $(STAMP)
	@ASL_LIB=$$(dpkg -L libamplsolver-dev | grep -m1 '/libamplsolver\.so$$'); \
	PYOMO_CONFIG_DIR=$(abspath $(VENV))/share/pyomo $(BIN)/python -m pyomo.contrib.pynumero.build \
	  -DASL_INCLUDE_DIR=/usr/include/ampl-netlib-solvers -DASL_LIBRARY=$$ASL_LIB \
	  >$(VENV)/pynumero-build.log 2>&1 || { cat $(VENV)/pynumero-build.log; exit 1; }
	@test -f $(VENV)/share/pyomo/lib/libpynumero_ASL.so
	@touch $(PYNUMERO)

install: $(STAMP) $(PYNUMERO)

demo: $(STAMP) $(PYNUMERO)
	$(BIN)/nexus demo

# Two workers, a test file each at a time (module fixtures stay in one process): most end-to-end
# tests wait on Airflow's scheduler, so two files overlap well on two cores (28 -> 18 min here).
test: $(STAMP) $(PYNUMERO) browser
	$(BIN)/python -m pytest -n 2 --dist loadfile

# Debian's solver libraries and tool chain, installed only when one is missing.
solver-debs:
	@dpkg -s $(SOLVER_DEBS) >/dev/null 2>&1 || { \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -q $(SOLVER_DEBS) >/dev/null 2>&1 || { \
	    $$SUDO apt-get update -q >/dev/null && $$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -q $(SOLVER_DEBS) >/dev/null; }; }

# Debian's Chromium and ChromeDriver for the browser test of the Airflow UI (no download at run time).
browser:
	@command -v chromium >/dev/null && command -v chromedriver >/dev/null || { \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium chromium-driver >/dev/null 2>&1 || { \
	    $$SUDO apt-get update -q >/dev/null && $$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium chromium-driver >/dev/null; }; }

bench: $(STAMP) $(PYNUMERO)
	$(BIN)/python benchmarks/bench_sensor_pipeline.py --plant-days 7
	$(BIN)/python benchmarks/bench_history.py --days 31 --quiet
	$(BIN)/python benchmarks/bench_decisions.py --days 7
	$(BIN)/python benchmarks/bench_monitoring.py --days 21 --plants cstr co2_electrolyzer
	$(BIN)/python benchmarks/bench_lake_growth.py --days 30
	$(BIN)/python benchmarks/bench_sql.py --years 1 --silver-days 31 --repeats 10
	$(BIN)/python benchmarks/bench_fleet.py --cstr-instances 10
	$(BIN)/python benchmarks/bench_mpc.py --minutes 60 --hours 24
	$(BIN)/python benchmarks/bench_s3.py --plant-days 7

# AIRFLOW__API__PORT moves the UI; the execution API URL and log-server ports follow (nexus.settings).
airflow: $(STAMP) $(PYNUMERO)
	$(BIN)/nexus airflow db migrate >/dev/null
	@echo "Airflow UI: $$($(MAKE) -s --no-print-directory airflow-url) — user admin, password: make airflow-password"
	$(BIN)/nexus airflow standalone

# The UI's address, from the same environment `nexus airflow` gives Airflow.
airflow-url:
	@$(BIN)/python -c 'from nexus.airflow_env import airflow_environ; print(airflow_environ()["AIRFLOW__API__BASE_URL"])'

# The file is owner-only (0600): `nexus airflow standalone` creates it so before Airflow writes to it.
airflow-password:
	@f=.airflow/simple_auth_manager_passwords.json.generated; \
	if test -s $$f; then chmod 600 $$f && cat $$f && echo; else echo "start the UI once with 'make airflow' first"; fi

clean-lake:
	rm -rf lake landing .airflow
