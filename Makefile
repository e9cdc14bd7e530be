# Switchboard: `make run` to use it, `make test` to test it. See README.md.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PORT ?= 8000
PYTEST_ARGS ?=

# Settings for the test suite: production-like (DEBUG off), with a throwaway key.
# The tests count their metrics in a directory of their own, not in the one `make run` shares.
TEST_ENV := DEBUG=false SECRET_KEY=test-only-not-secret ALLOWED_HOSTS=testserver,localhost,127.0.0.1 \
	SECRETS_ENCRYPTION_KEY=dGVzdC1vbmx5LW5vdC1zZWNyZXQta2V5LTMyYnl0ZXM= \
	PROMETHEUS_MULTIPROC_DIR="$$(mktemp -d -t switchboard-test-metrics-XXXXXX)"
# When DATABASE_URL is unset, start the embedded server once and hand its URL to every process.
WITH_DATABASE := export DATABASE_URL="$${DATABASE_URL:-$$($(BIN)/python -m config.embedded_postgres)}" &&

.PHONY: help run test bench bench-console bench-scale lint format db-stop clean check-python

help:
	@echo "make run      serve Switchboard on http://127.0.0.1:$(PORT) with a worker"
	@echo "make test     run the test suite"
	@echo "make bench    the intake and a backfill against baselines; a portfolio worked by workers;"
	@echo "             a worker's deliveries a second and cost per delivery"
	@echo "make bench-console   measure exports and admin pages on a seeded database"
	@echo "make bench-scale     pages, backfill and prune on 100M readings and 5M deliveries"
	@echo "make lint     ruff, the import layers, file sizes"
	@echo "make db-stop  stop the embedded PostgreSQL server"

check-python:
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null || { \
		echo "Switchboard needs Python 3.11 or newer; '$(PYTHON)' is $$($(PYTHON) --version 2>&1)."; \
		echo "Pick another interpreter, e.g. make run PYTHON=python3.12"; exit 1; }

$(BIN)/python: | check-python
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.runtime: requirements.txt | $(BIN)/python
	@echo "Installing requirements.txt into $(VENV) (first run only)…"
	$(BIN)/pip install --quiet -r requirements.txt
	@touch $@

$(VENV)/.dev: requirements.txt requirements-dev.txt | $(BIN)/python
	@echo "Installing requirements-dev.txt into $(VENV) (first run only)…"
	$(BIN)/pip install --quiet -r requirements-dev.txt
	@touch $@ $(VENV)/.runtime

# Without an Openvolt API configured (environment or .env), the worker calls the sandbox that
# the site itself serves (sandbox/), with a dummy key.
run: $(VENV)/.runtime
	@$(WITH_DATABASE) export DEBUG="$${DEBUG:-true}" PATH="$(CURDIR)/$(BIN):$$PATH" \
		WEB_HOST="$${WEB_HOST:-127.0.0.1}" GUNICORN_CMD_ARGS="$${GUNICORN_CMD_ARGS:---reload}" && \
		if [ -z "$${OPENVOLT_API_URL:-}" ] && ! grep -qs '^[[:space:]]*OPENVOLT_API_URL=' .env; then \
			export OPENVOLT_API_URL="http://127.0.0.1:$(PORT)/sandbox/openvolt/v1" && \
			if [ -z "$${OPENVOLT_API_KEY:-}" ] && ! grep -qs '^[[:space:]]*OPENVOLT_API_KEY=' .env; then \
				export OPENVOLT_API_KEY=sandbox; fi; fi && \
		echo "Migrating the database…" && python manage.py migrate --no-input -v 0 && \
		python manage.py dev_welcome --port $(PORT) && \
		exec honcho start -f Procfile -p $(PORT) web worker

test: $(VENV)/.dev
	@$(WITH_DATABASE) $(TEST_ENV) $(BIN)/python -m pytest $(PYTEST_ARGS)

bench: $(VENV)/.dev
	@$(WITH_DATABASE) $(BIN)/python -m bench.run
	@$(WITH_DATABASE) $(BIN)/python -m bench.portfolio
	@$(WITH_DATABASE) $(BIN)/python -m bench.worker

# The console at scale: a 1,000,000-row export on a scratch database, then the admin pages on
# the database DATABASE_URL names, seeded first with
#   python manage.py seed_demo_data --deliveries 1000000 --readings 10000000
bench-console: $(VENV)/.dev
	@$(WITH_DATABASE) $(BIN)/python -m bench.exports
	@$(WITH_DATABASE) $(BIN)/python -m bench.pages

# The console and the data's upkeep at a real customer's year: 100 million readings and 5
# million deliveries, seeded once (about 11 minutes on 2 cores) into <database>_scale and kept.
bench-scale: $(VENV)/.dev
	@$(WITH_DATABASE) $(BIN)/python -m bench.scale

# Style, the layers (pyproject.toml, [tool.importlinter]) and small files: a module over
# MAX_LINES lines (migrations and tests aside) holds more than one idea.
MAX_LINES := 400
lint: $(VENV)/.dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports --no-cache
	@long=$$(find . -name '*.py' -not -path './.venv/*' -not -path './.data/*' \
		-not -path '*/migrations/*' -not -path './tests/*' \
		-exec wc -l {} + \
		| awk '$$2 != "total" && $$1 > $(MAX_LINES)'); \
	if [ -n "$$long" ]; then echo "Over $(MAX_LINES) lines; split by idea:"; echo "$$long"; exit 1; fi

format: $(VENV)/.dev
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

db-stop:
	@[ ! -x $(BIN)/python ] || $(BIN)/python -m config.embedded_postgres stop

clean: db-stop
	rm -rf $(VENV) .data
