# The two commands: `make run` (quick start on SQLite, no servers) and `make test` (the whole suite).
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: run test lint typecheck bandit pip-audit security smoke install worker beat gunicorn clean bench bench-import bench-throttle

$(VENV)/.runtime-installed: requirements.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --disable-pip-version-check -q -r requirements.txt
	touch $@

$(VENV)/.dev-installed: requirements.txt requirements-dev.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --disable-pip-version-check -q -r requirements-dev.txt
	touch $(VENV)/.runtime-installed $@

install: $(VENV)/.runtime-installed

run: $(VENV)/.runtime-installed
	$(PY) manage.py migrate --noinput
	$(PY) manage.py seed_demo
	$(PY) manage.py runserver $(HOST):$(PORT)

lint: $(VENV)/.dev-installed
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

# Every top-level package but the tests, found by pattern: a new app is checked without a list to update.
PACKAGES := $(sort $(patsubst %/__init__.py,%,$(filter-out tests/__init__.py,$(wildcard */__init__.py))))

typecheck: $(VENV)/.dev-installed
	$(VENV)/bin/mypy $(PACKAGES)

test: lint typecheck bandit
	$(PY) manage.py makemigrations --check --dry-run
	$(VENV)/bin/pytest

# bandit over the project's code (pyproject.toml leaves out tests and migrations): fails on a
# high-severity finding of at least medium confidence. It needs no network, so make test runs it.
BANDIT_TARGETS := $(PACKAGES)

bandit: $(VENV)/.dev-installed
	$(VENV)/bin/bandit -c pyproject.toml -r $(BANDIT_TARGETS) --severity-level high --confidence-level medium -q

# pip-audit of the pinned requirements: needs a vulnerability service, and fails when none answers
# unless PIP_AUDIT_OFFLINE_OK=1 (see .ci/pip-audit). CI runs `make security` after make test.
pip-audit: $(VENV)/.dev-installed
	VENV=$(VENV) bash .ci/pip-audit

security: bandit pip-audit

smoke: $(VENV)/.runtime-installed
	bash .ci/smoke

worker: $(VENV)/.runtime-installed
	$(VENV)/bin/celery -A portal worker --loglevel=INFO

beat: $(VENV)/.runtime-installed
	$(VENV)/bin/celery -A portal beat --loglevel=INFO

# gunicorn.conf.py (gthread workers) is the configuration of the Dockerfile and compose too.
gunicorn: $(VENV)/.runtime-installed
	$(VENV)/bin/gunicorn portal.wsgi --config gunicorn.conf.py --bind $(HOST):$(PORT)

clean:
	rm -rf $(VENV) db.sqlite3 staticfiles .pytest_cache .ruff_cache

# The benchmark of docs/benchmarks.md: seeds the programme's 1.67 million accounts into a scratch
# database (portal_bench) on the PostgreSQL server BENCH_DATABASE_URL names, measures every row against
# its reference, writes the table into docs/benchmarks.md and drops the scratch database. Redis database
# 12 of BENCH_REDIS_URL's server is the bench's own. BENCH_ARGS passes more options, e.g.
# `--rows 1,2 --keep` (keep the seeded database) and `--reuse` (use a kept one); see --help.
# Both default to this machine's servers.
BENCH_REDIS_URL ?= redis://127.0.0.1:6379/12
BENCH_ARGS ?=

bench: $(VENV)/.dev-installed
	$(PY) benchmarks/bench.py \
		--database-url '$(or $(BENCH_DATABASE_URL),postgres://postgres@127.0.0.1:5432/postgres)' \
		--redis-url '$(BENCH_REDIS_URL)' $(BENCH_ARGS)

# Directory import benchmark: a generated CSV into a scratch database (SQLite unless
# BENCH_DATABASE_URL names a local PostgreSQL scratch database, which is dropped and created again).
ROWS ?= 200000

bench-import: $(VENV)/.runtime-installed
	$(PY) benchmarks/import_accounts.py --rows $(ROWS) $(if $(BENCH_DATABASE_URL),--database-url $(BENCH_DATABASE_URL),)

# Share limit: DRF's ScopedRateThrottle against the project's Redis and database quota backends,
# ATTEMPTS concurrent attempts on each of ACCOUNTS fresh accounts. Needs REDIS_URL (database 12 is
# used) and BENCH_DATABASE_URL naming a local PostgreSQL server, on which the script creates and
# drops its own scratch database portal_throttle_bench.
ACCOUNTS ?= 20
ATTEMPTS ?= 64

bench-throttle: $(VENV)/.runtime-installed
	@test -n "$(BENCH_DATABASE_URL)" || { echo "bench-throttle needs BENCH_DATABASE_URL, e.g. postgres://postgres@127.0.0.1:5432/postgres" >&2; exit 2; }
	@test -n "$(REDIS_URL)" || { echo "bench-throttle needs REDIS_URL, e.g. redis://127.0.0.1:6379/12" >&2; exit 2; }
	DATABASE_URL='$(BENCH_DATABASE_URL)' REDIS_URL='$(REDIS_URL)' \
		$(PY) benchmarks/throttle_comparison.py --accounts $(ACCOUNTS) --attempts $(ATTEMPTS)

# A directory at the programme's scale for the benchmarks, in the PostgreSQL database that DATABASE_URL
# names (SQLite is refused): ACCOUNTS official accounts, 1,670,000 unless given (bench-throttle's default
# of 20 is that target's own). SEED_SCALE_ARGS passes more options, e.g. `--seed 1`; with `--clean` the
# command deletes exactly what a seed wrote. A second seed refuses while one is present.
.PHONY: seed-scale
seed-scale: ACCOUNTS := $(if $(filter file,$(origin ACCOUNTS)),1670000,$(ACCOUNTS))
seed-scale: $(VENV)/.dev-installed
	@test -n "$(DATABASE_URL)" || { echo "seed-scale needs DATABASE_URL, e.g. postgres://postgres@127.0.0.1:5432/portal_scale" >&2; exit 2; }
	$(PY) manage.py migrate --noinput
	$(PY) manage.py seed_scale --accounts $(ACCOUNTS) $(SEED_SCALE_ARGS)
