# Everything a fresh machine needs, from this file: `make test` or `make site`.
PYTHON ?= python3
VENV   ?= .venv
BIN     = $(VENV)/bin
# torch comes first, alone: the one large download. On our build machines the package index carries the CPU build
# of torch 2.13.0, so the default works there. Elsewhere `torch==2.13.0` from PyPI is, on Linux, the CUDA build
# (several GB); for the CPU build name PyTorch's CPU index:
#   make install TORCH_INDEX=https://download.pytorch.org/whl/cpu
# TORCH_SPEC picks another version (any torch>=2.4); PIP_ARGS goes to every pip call (e.g. a proxy or a mirror).
# A torch already installed in .venv that satisfies TORCH_SPEC is kept.
TORCH_SPEC  ?= torch==2.13.0
TORCH_INDEX ?=
PIP_ARGS    ?=
PIP          = $(BIN)/python -m pip install --quiet $(PIP_ARGS)
# The Python the environment is (or will be) made with: the existing .venv's, else $(PYTHON).
VENV_PYTHON  = $(if $(wildcard $(BIN)/python),$(BIN)/python,$(PYTHON))

.PHONY: install test unit entries check site check-site screenshots preview lint clean lab nbdime

install: $(BIN)/mechlearn

$(BIN)/mechlearn: pyproject.toml
	@$(VENV_PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "make install: Python >= 3.11 needed, $(VENV_PYTHON) is " + sys.version.split()[0] + "; nothing was installed (choose one: make install PYTHON=python3.12)")'
	@test -x $(BIN)/python || { echo "==> creating $(VENV)/ with $(PYTHON)"; $(PYTHON) -m venv $(VENV); }
	@echo "==> upgrading pip in $(VENV)/"
	@$(PIP) --upgrade pip
	@echo "==> installing $(TORCH_SPEC) from $(or $(TORCH_INDEX),the default package index) (the largest download)"
	@$(PIP) $(if $(TORCH_INDEX),--index-url $(TORCH_INDEX)) "$(TORCH_SPEC)"
	@echo "==> installing this project, editable, with its dev extras (numpy, TransformerLens, JupyterLab, nbdime, pytest, ruff, ...)"
	@$(PIP) -e ".[dev]"
	@echo "==> registering $(VENV)/ as the python3 kernel of Jupyter front ends started from it ($(VENV)/share/jupyter/kernels)"
	@$(BIN)/python -m ipykernel install --sys-prefix --name python3 >/dev/null
	@touch $@
	@echo "==> done: $$($(BIN)/mechlearn --version) in $(VENV)/"

test: install lint unit entries check

# The unit tests, then (as their own step: they start a JupyterLab server and kernel) the lab tests.
unit: install
	$(BIN)/pytest
	$(BIN)/pytest -m lab

# Every daily entry, executed in a fresh kernel, two at a time (one per core); prints each entry's time.
entries: install
	$(BIN)/pytest -m entries -n 2 --durations=10

check: install
	$(BIN)/mechlearn check

lint: install
	$(BIN)/ruff check .

# JupyterLab at the project root, on 127.0.0.1 only, the python3 kernel being this environment's Python (the kernel
# the entries record, as `mechlearn run` uses it). Open a day with NOTEBOOK=daily_logs/day-NNN-…/index.ipynb;
# LAB_PORT picks the port (default 8888 or the next free one). Ctrl-C twice stops it.
NOTEBOOK ?=
LAB_PORT ?=
lab: install
	$(BIN)/python -m mechlearn.lab $(NOTEBOOK) $(if $(LAB_PORT),--port $(LAB_PORT))

# `git diff` and merges of notebooks by cells and outputs (nbdime), for this repository only: .gitattributes names
# the drivers for *.ipynb, this writes them into .git/config (never the global config). Without it git shows JSON.
nbdime: install
	@git rev-parse --git-dir >/dev/null 2>&1 || { echo "make nbdime: not a git repository; nothing configured" >&2; exit 1; }
	git config diff.jupyternotebook.command "$(abspath $(BIN))/git-nbdiffdriver diff"
	git config merge.jupyternotebook.driver "$(abspath $(BIN))/git-nbmergedriver merge %O %A %B %L %P"
	git config merge.jupyternotebook.name "jupyter notebook merge driver"

# The website: Quarto comes from `pip install quarto-cli` (into .venv) or a system install (quarto.org).
# The pre-render step (_scripts/pre-render.ts) runs `mechlearn progress` with MECHLEARN_PYTHON, else .venv's Python;
# .venv/bin goes first on PATH for anything else Quarto may run.
QUARTO = $(firstword $(wildcard $(BIN)/quarto) $(shell command -v quarto 2>/dev/null))
NO_QUARTO = Quarto not found: run '$(BIN)/pip install quarto-cli' or install it from quarto.org

# Renders into _site/, logging to _site-check/ what the site check needs (Quarto's output, time, tree changes).
site: install
	@test -n "$(QUARTO)" || { echo "$(NO_QUARTO)" >&2; exit 1; }
	$(BIN)/mechlearn progress
	MECHLEARN_PYTHON="$(abspath $(BIN))/python" PATH="$(abspath $(BIN)):$$PATH" \
	  $(BIN)/python -m mechlearn.sitecheck render --quarto "$(QUARTO)"

# The rendered site as a reader gets it: fails on any finding (see src/mechlearn/sitecheck.py). Run `make site` first.
check-site: install
	$(BIN)/python -m mechlearn.sitecheck check

# Headless Chromium, network off: screenshots into _site-check/screenshots/ (look at them), no raw TeX.
screenshots: install
	$(BIN)/python -m mechlearn.sitecheck screenshots

preview: install
	@test -n "$(QUARTO)" || { echo "$(NO_QUARTO)" >&2; exit 1; }
	MECHLEARN_PYTHON="$(abspath $(BIN))/python" PATH="$(abspath $(BIN)):$$PATH" $(QUARTO) preview

clean:
	rm -rf _site _site-check .quarto .pytest_cache .ruff_cache
