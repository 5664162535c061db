# make run   - venv, migrations, demo data, API on http://127.0.0.1:8000 (docs at /docs),
#              with the job scheduler and a worker inside the API process
# make test  - the suite on SQLite, then on PostgreSQL if LOANS_TEST_DATABASE_URL is set
# make lint  - ruff

PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install run test lint

install: $(STAMP)

# Reinstalls only when pyproject.toml changed (or the venv is missing).
$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -e '.[test]'
	@touch $@

run: install
	$(BIN)/loans migrate
	$(BIN)/loans seed-demo
	LOANS_RUN_SCHEDULER=true $(BIN)/uvicorn app.main:create_app --factory --host 127.0.0.1 --port 8000

test: install
	env -u LOANS_TEST_DATABASE_URL $(BIN)/pytest
	@if [ -n "$$LOANS_TEST_DATABASE_URL" ]; then \
		echo "== again on PostgreSQL =="; \
		$(BIN)/pytest; \
	fi

lint: install
	$(BIN)/ruff check .
