# Two commands do all set-up on a fresh machine with only Python 3.11 and pip:
#   make run    clean seeds/ into data/
#   make test   run the test suite
PYTHON ?= python3
UV_VERSION := 0.13.9
UV := .uv/bin/uv
VENV := .venv
BIN := $(VENV)/bin
# No outside network calls from Prefect: there is no internet here and telemetry would only log errors.
export DO_NOT_TRACK := 1
export PREFECT_SERVER_ANALYTICS_ENABLED := false
export PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS ?= 120
export PREFECT_HOME ?= $(CURDIR)/.prefect

.PHONY: run test test-fast bench bench-ocr serve clean

$(UV):
	$(PYTHON) -m venv .uv
	.uv/bin/pip install --quiet uv==$(UV_VERSION)

$(BIN)/corpusclean: $(UV) pyproject.toml uv.lock
	UV_PROJECT_ENVIRONMENT=$(VENV) UV_COMPILE_BYTECODE=1 $(UV) sync --frozen --python $(PYTHON)
	@touch $@

run: $(BIN)/corpusclean
	$(BIN)/corpusclean run seeds --out data

test: $(BIN)/corpusclean
	$(BIN)/python -m pytest -q

test-fast: $(BIN)/corpusclean
	$(BIN)/python -m pytest -q -m "not slow"

clean:
	rm -rf .venv .uv .prefect data/paragraphs data/duplicates data/corrections data/manifest.json data/report.html

bench-ocr: $(BIN)/corpusclean
	$(BIN)/python bench/ocr_bench.py $(BENCH_ARGS)

bench: $(BIN)/corpusclean
	bash bench/run_bench.sh $(BENCH_ARGS)

# A Prefect server on 127.0.0.1:4200 with SQLite under .prefect/ (schedules fire only against a server).
serve: $(BIN)/corpusclean
	$(BIN)/corpusclean server --host 127.0.0.1 --port 4200 --home .prefect
