# Everything a fresh clone needs: Python 3.11+, Node 20+ (npm). `make run` and `make test` set up the rest.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PY_STAMP := $(VENV)/.installed
NODE_STAMP := node_modules/.package-lock.json
BENCH_STAMP := $(VENV)/.bench-installed
# checkov pins packaging<24, which pytest cannot share: it gets an environment of its own (tests/infra/bicep.py).
CHECKOV_STAMP := $(VENV)/checkov/.installed

.PHONY: setup run test chromium lint format bench soak export-model clean

setup: $(PY_STAMP) $(NODE_STAMP) local.settings.json

$(PY_STAMP): requirements.txt requirements-dev.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements-dev.txt
	$(BIN)/python -m pip install --quiet --no-deps --editable .
	touch $@

$(NODE_STAMP): package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

$(BENCH_STAMP): $(PY_STAMP) requirements-bench.txt
	$(BIN)/python -m pip install --quiet -r requirements-bench.txt
	touch $@

$(CHECKOV_STAMP): tests/infra/requirements-checkov.txt | $(PY_STAMP)
	$(BIN)/python -m venv $(VENV)/checkov
	$(VENV)/checkov/bin/python -m pip install --quiet -r tests/infra/requirements-checkov.txt
	touch $@

local.settings.json:
	cp local.settings.json.example $@

## Start Azurite (data in .azurite/) and the function app on http://127.0.0.1:7071; Ctrl-C stops both.
## RUN_ARGS passes options to the runner, e.g. make run RUN_ARGS='--port 7072' (python -m local_runner --help).
run: setup
	$(BIN)/python -m local_runner --azurite $(RUN_ARGS)

## Run the test suite; it starts its own Azurite on free ports and never touches a running stack.
test: setup $(CHECKOV_STAMP) chromium
	$(BIN)/python -m pytest $(PYTEST_ARGS)

## The browser tests drive Debian's Chromium; as root (CI) it is installed when missing.
chromium:
	@command -v chromium >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium; \
	  else echo "Chromium is missing (sudo apt-get install chromium): the browser tests will be skipped."; fi; }

## Benchmarks (not part of the tests): prints the report, writes bench-results/report.md and its charts.
bench: setup $(BENCH_STAMP)
	$(BIN)/python -m bench

## Load: 200 real-size photos from 8 concurrent clients through the whole system (own Azurite and runner).
soak: setup
	$(BIN)/python -m bench.soak

## Export the content classifier to ONNX again, and rebuild the places table, in a throwaway environment with
## torch (about 1.2 GB, in .export-venv): see tagging/labels/data/README.md. The files it writes are committed.
export-model:
	$(PYTHON) -m venv .export-venv
	.export-venv/bin/python -m pip install --quiet -r tools/labels/requirements-export.txt
	.export-venv/bin/python tools/labels/export_model.py --model efficientnet-lite0
	.export-venv/bin/python tools/labels/build_places.py
	sha256sum tagging/labels/data/efficientnet-lite0.onnx tagging/labels/data/places.npz

lint: setup $(BENCH_STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

format: setup
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

clean:
	rm -rf $(VENV) .export-venv node_modules .azurite .pytest_cache .mypy_cache .ruff_cache
