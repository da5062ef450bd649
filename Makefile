# evac: `make run` and `make test` set everything up on a fresh machine (Python 3.11+ needed).
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 8000
RECEIVER_PORT ?= 8001
# The demo's own receiver secret: a real receiver gets EVAC_SYNC_SECRET from its operator.
DEMO_SYNC_SECRET ?= demo-sync-secret
# The PostgreSQL pass of `make test`; it is skipped, saying why, when nothing answers there.
EVAC_TEST_DATABASE_URL ?= postgresql://postgres@127.0.0.1:5432/test
export EVAC_INSTANCE_PATH ?= $(CURDIR)/instance

.PHONY: install run test lint test-js test-sqlite test-postgres demo messages clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e '.[test]'
	touch $@

# Compiled catalogues are build output: made from the committed .po files.
evac/translations/%/LC_MESSAGES/messages.mo: evac/translations/%/LC_MESSAGES/messages.po $(VENV)/.installed
	$(BIN)/pybabel compile --use-fuzzy -d evac/translations -l $*

install: $(VENV)/.installed evac/translations/en/LC_MESSAGES/messages.mo

# The demo sends its rosters to the reference receiver started beside it, so the sync is live:
# the receiver prints each batch it gets (ids and types only) and HQ shows the sync state.
run: install
	$(BIN)/evac db upgrade
	$(BIN)/evac demo
	@echo "reference receiver: http://127.0.0.1:$(RECEIVER_PORT)/roster (stored in $(EVAC_INSTANCE_PATH)/receiver.sqlite3)"
	@$(BIN)/evac sync receiver --port $(RECEIVER_PORT) --store $(EVAC_INSTANCE_PATH)/receiver.sqlite3 \
	    --secret $(DEMO_SYNC_SECRET) & receiver=$$!; trap 'kill $$receiver 2>/dev/null' EXIT INT TERM; \
	  EVAC_SYNC_CONNECTOR=http EVAC_SYNC_URL=http://127.0.0.1:$(RECEIVER_PORT)/roster \
	  EVAC_SYNC_SECRET=$(DEMO_SYNC_SECRET) EVAC_SYNC_INTERVAL=5 \
	  $(BIN)/evac serve --host $(HOST) --port $(PORT)

demo: install
	$(BIN)/evac db upgrade
	$(BIN)/evac demo

# The two passes run side by side (on two cores about half the time one after the other): the
# SQLite pass prints as it goes, the PostgreSQL pass's output follows it (kept in test-postgres.log).
test: lint test-js
	@$(MAKE) --no-print-directory test-postgres > test-postgres.log 2>&1 & postgres=$$!; \
	$(MAKE) --no-print-directory test-sqlite; sqlite=$$?; \
	wait $$postgres; postgres=$$?; \
	echo "--- the PostgreSQL pass (test-postgres.log) ---"; cat test-postgres.log; \
	if [ $$sqlite -ne 0 ] || [ $$postgres -ne 0 ]; then \
		echo "make test: the SQLite pass exited $$sqlite, the PostgreSQL pass $$postgres"; exit 1; \
	fi

# Lint and import order (ruff) and types (mypy) over the Python packages; both must be clean.
lint: install
	$(BIN)/ruff check evac sync printables cardreader tests bench
	$(BIN)/mypy

# The page scripts' logic (scan parser, offline queue, API client, …) under Node's own test
# runner: no npm, no dependencies. Skipped, saying so, where there is no Node, unless
# EVAC_REQUIRE_NODE=1 (set by CI) makes that a failure.
NODE ?= node
test-js:
	@if command -v $(NODE) >/dev/null 2>&1; then \
		$(NODE) --test tests/js/; \
	elif [ "$$EVAC_REQUIRE_NODE" = 1 ]; then \
		echo "test-js: '$(NODE)' not found and EVAC_REQUIRE_NODE=1"; exit 1; \
	else \
		echo "test-js: skipped, '$(NODE)' not found (install Node.js 20+ to run tests/js/)"; \
	fi

test-sqlite: install
	EVAC_TEST_DATABASE_URL= $(BIN)/pytest

# Its own cache folder: it may run beside the SQLite pass (`make test`).
test-postgres: install
	EVAC_TEST_DATABASE_URL=$(EVAC_TEST_DATABASE_URL) $(BIN)/pytest -o cache_dir=.pytest_cache/postgres

# Re-extract the Japanese source strings and merge them into the English catalogue.
messages: install
	$(BIN)/pybabel extract -F babel.cfg -k _l -k lazy_gettext -k N_ --no-location --sort-output \
		--project evac -o evac/translations/messages.pot evac
	$(BIN)/pybabel update -i evac/translations/messages.pot -d evac/translations --no-fuzzy-matching

clean:
	rm -rf $(VENV) .pytest_cache test-artifacts test-postgres.log
