# Cascade: `make demo` serves the demo, `make test` runs the whole suite. Both start from a
# fresh clone: they create .venv and install what they need.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test test-busy install lint bench clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

HOST ?= 127.0.0.1
PORT ?= 8000

demo: $(STAMP)
	$(BIN)/cascade demo --host $(HOST) --port $(PORT)

test: $(STAMP)
	scripts/test-services
	scripts/check-install
	scripts/run-tests

# The same suite with every core kept busy by another process (started and stopped here).
test-busy: $(STAMP)
	scripts/test-services
	scripts/check-install
	scripts/test-busy

bench: $(STAMP)
	$(BIN)/python bench/run.py

lint: $(STAMP)
	$(BIN)/ruff check cascade tests bench
	$(BIN)/ruff format --check cascade tests bench
	CASCADE_DATA_DIR=var/lint $(BIN)/mypy cascade

clean:
	rm -rf $(VENV) var test-artifacts
