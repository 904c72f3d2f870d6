# Everything a fresh machine needs, from this file: `make test` or `make site`.
PYTHON ?= python3
VENV   ?= .venv
BIN     = $(VENV)/bin
# The CPU build of torch that lies on our build machines. Elsewhere, override it, e.g.
#   make test TORCH_SPEC="torch"   (or install the torch build for your platform into .venv first)
TORCH_SPEC ?= torch==2.13.0

.PHONY: install test unit entries check site preview lint clean

install: $(BIN)/mechlearn

$(BIN)/mechlearn: pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet "$(TORCH_SPEC)"
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	touch $@

test: install lint unit entries check

unit: install
	$(BIN)/pytest

# Every daily entry, executed in a fresh kernel, two at a time (one per core); prints each entry's time.
entries: install
	$(BIN)/pytest -m entries -n 2 --durations=0

check: install
	$(BIN)/mechlearn check

lint: install
	$(BIN)/ruff check .

# The website: Quarto comes from `pip install quarto-cli` (into .venv) or a system install (quarto.org).
# .venv/bin goes first on PATH so the pre-render step (`python -m mechlearn progress`) finds the package.
QUARTO = $(firstword $(wildcard $(BIN)/quarto) $(shell command -v quarto 2>/dev/null))

site: install
	@test -n "$(QUARTO)" || { echo "Quarto not found: run '$(BIN)/pip install quarto-cli' or install it from quarto.org" >&2; exit 1; }
	$(BIN)/mechlearn progress
	PATH="$(abspath $(BIN)):$$PATH" $(QUARTO) render

preview: install
	@test -n "$(QUARTO)" || { echo "Quarto not found: run '$(BIN)/pip install quarto-cli' or install it from quarto.org" >&2; exit 1; }
	PATH="$(abspath $(BIN)):$$PATH" $(QUARTO) preview

clean:
	rm -rf _site .quarto .pytest_cache .ruff_cache
