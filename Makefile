# latency-lab: `make lab` to learn, `make test` to check everything CI checks.
PYTHON ?= python3
VENV   := .venv
PY     ?= $(VENV)/bin/python
STAMP  := $(VENV)/.installed

# JupyterLab: loopback only, token auth (a fresh token unless LAB_TOKEN is set).
LAB_PORT  ?= 8888
LAB_TOKEN ?=
LAB_FLAGS ?=

# What every test and notebook run shares: quick timing cells, a writable numba cache,
# a non-interactive matplotlib backend.
RUN_ENV := LATENCY_LAB_QUICK=1 NUMBA_CACHE_DIR=$(CURDIR)/.numba_cache MPLBACKEND=Agg
LINTED  := latency_lab tests notebooks benchmarks

.PHONY: lab test lint notebooks bench clean

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "latency-lab needs Python >= 3.11: run make PYTHON=python3.11 ...")'
	test -x $(VENV)/bin/python || $(PYTHON) -m venv $(VENV)
	$(VENV)/bin/python -m pip install --quiet --editable '.[dev,bench,dask]'
	touch $@

# A busy port is an error, not a silent move to another one: the printed URL and an SSH
# forward must stay right. Choose another with `make lab LAB_PORT=8890`.
lab: $(STAMP)
	@$(PY) -c 'import socket, sys; s = socket.socket(); r = s.connect_ex(("127.0.0.1", $(LAB_PORT))); s.close(); sys.exit(0 if r else "port $(LAB_PORT) is in use on 127.0.0.1: run make lab LAB_PORT=8890 (or another free port)")'
	NUMBA_CACHE_DIR=$(CURDIR)/.numba_cache $(PY) -m jupyter lab \
		--ServerApp.ip=127.0.0.1 --ServerApp.port=$(LAB_PORT) --ServerApp.port_retries=0 \
		--ServerApp.root_dir=$(CURDIR) --ServerApp.allow_root=True \
		--LabApp.default_url=/lab/tree/notebooks/00_welcome.ipynb \
		$(if $(LAB_TOKEN),--IdentityProvider.token=$(LAB_TOKEN)) $(LAB_FLAGS)

lint: $(STAMP)
	$(VENV)/bin/ruff check $(LINTED)
	$(VENV)/bin/ruff format --check $(LINTED)

# Browser tests (tests/browser) drive JupyterLab with the system Chromium; without one they
# are skipped (LATENCY_LAB_REQUIRE_BROWSER=1, set by .ci/run, makes that a failure).
test: lint
	@command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1 || test -n "$$LATENCY_LAB_CHROMIUM" || echo "note: no Chromium found: browser tests in tests/browser are skipped (apt-get install chromium)"
	$(RUN_ENV) $(PY) -m pytest tests notebooks -p no:cacheprovider \
		--nbval-lax --nbval-current-env --nbval-sanitize-with tests/nbval_sanitize.cfg

# Re-execute every notebook in place at full size, so stored outputs are what the code does.
notebooks: $(STAMP)
	NUMBA_CACHE_DIR=$(CURDIR)/.numba_cache $(PY) -m jupyter nbconvert --to notebook \
		--execute --inplace --ExecutePreprocessor.timeout=900 notebooks/[0-9][0-9]_*.ipynb

bench: $(STAMP)
	@for b in benchmarks/bench_*.py; do echo "== $$b"; NUMBA_CACHE_DIR=$(CURDIR)/.numba_cache $(PY) $$b || exit 1; done

clean:
	rm -rf $(VENV) .numba_cache .pytest_cache .ruff_cache .hypothesis
