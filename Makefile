# Everything the project needs is installed from scratch by these targets.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install run test lint format bench schema clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(STAMP): pyproject.toml api/domain/_copy.c | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $(STAMP)

install: $(STAMP)

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
	rm -rf $(VENV) dialtone.db
