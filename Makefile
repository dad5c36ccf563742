# Everything the project needs is installed from scratch by these targets.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# the portals' front-end packages (npm), compiled catalogues, and the browser of their tests
VENDOR := frontends/static/vendor
VENDOR_STAMP := $(VENDOR)/.copied
PO := $(wildcard frontends/locale/*/LC_MESSAGES/messages.po)
MO := $(PO:.po=.mo)
CHROMIUM := /usr/bin/chromium
SUDO := $(if $(filter 0,$(shell id -u)),,sudo)

.PHONY: install run test lint format bench schema messages clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(STAMP): pyproject.toml api/domain/_copy.c | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $(STAMP)

$(VENDOR_STAMP): package.json package-lock.json
	npm ci --ignore-scripts --no-audit --no-fund --loglevel=error
	rm -rf $(VENDOR) && mkdir -p $(VENDOR)
	cp node_modules/htmx.org/dist/htmx.min.js node_modules/chart.js/dist/chart.umd.js $(VENDOR)/
	touch $@

%.mo: %.po | $(STAMP)
	$(BIN)/pybabel compile -i $< -o $@ -l $(word 3,$(subst /, ,$<))

# Debian's chromium drives the browser tests (Playwright's own browsers are never downloaded)
$(CHROMIUM):
	$(SUDO) apt-get install -y chromium || ($(SUDO) apt-get update && $(SUDO) apt-get install -y chromium)

install: $(STAMP) $(VENDOR_STAMP) $(MO) $(CHROMIUM)

# Re-extract the portals' messages and merge them into every catalogue.
messages: install
	$(BIN)/pybabel extract -F frontends/babel.cfg -o frontends/locale/messages.pot \
		--no-location --sort-output --omit-header .
	$(BIN)/pybabel update -i frontends/locale/messages.pot -d frontends/locale \
		--ignore-obsolete

# Local development serves with GraphiQL on; set DIALTONE_DEBUG=0 to turn it off.
run: export DIALTONE_DEBUG ?= 1
run: install
	$(BIN)/dialtone migrate
	$(BIN)/dialtone demo --if-empty
	$(BIN)/dialtone serve

test: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/python -m pytest

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: install
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

schema: install
	$(BIN)/strawberry export-schema api.schema:schema --output api/schema/schema.graphql

bench: install
	$(BIN)/python -m bench all

clean:
	rm -rf $(VENV) dialtone.db node_modules $(VENDOR) $(MO)
