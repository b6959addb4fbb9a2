# ristretto-sim: `make demo` and `make test` are all a fresh machine needs (Python 3.11).
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
PIP := $(BIN)/python -m pip

.PHONY: demo test test-all bench lint install install-test clean scalesim-venv synth-sweep

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip

$(VENV)/.installed: $(BIN)/python pyproject.toml setup.py
	$(PIP) install --quiet -e .
	touch $@

# the suite also runs the fine-tuning tests, so the test environment has the train extra (torch, CPU) too, and a
# few small syntheses (tests/rtl/synth), so the test extra carries the YoWASP tools; these compile themselves on
# first use (about 1-2 minutes per machine, cached in ~/.cache/YoWASP), which the first `make test` pays once
$(VENV)/.installed-test: $(VENV)/.installed
	$(PIP) install --quiet -e '.[test,train]'
	touch $@

$(VENV)/.installed-bench: $(VENV)/.installed
	$(PIP) install --quiet -e '.[bench]'
	touch $@

install: $(VENV)/.installed
install-test: $(VENV)/.installed-test

demo: $(VENV)/.installed
	$(BIN)/ristretto-sim demo

lint: $(VENV)/.installed-test
	$(BIN)/ruff check ristretto_sim tests analysis
	$(BIN)/lint-imports

test: lint
	$(BIN)/python -m pytest -q

test-all: lint
	$(BIN)/python -m pytest -q -m "slow or not slow"

bench: $(VENV)/.installed-bench
	$(BIN)/ristretto-sim bench --output bench.json

# the hdl/ synthesis results table: the rtl PEs (fixed at widths 2..16, shift, minifloat) on generic CMOS, iCE40, ECP5
# (resumable: an interrupted run keeps its finished results)
synth-sweep: $(VENV)/.installed-test
	$(BIN)/ristretto-sim synth --sweep --table hdl/synth_results.json

# SCALE-Sim needs numpy<2.4: it lives in its own environment, used by the SCALE-Sim comparison tests and
# `ristretto-sim bench --with-scalesim` (tests that need it skip, saying so, when it is absent).
SCALESIM_VENV := .venv-scalesim
scalesim-venv: $(SCALESIM_VENV)/bin/python
$(SCALESIM_VENV)/bin/python:
	$(PYTHON) -m venv $(SCALESIM_VENV)
	$(SCALESIM_VENV)/bin/python -m pip install --quiet --upgrade pip
	$(SCALESIM_VENV)/bin/python -m pip install --quiet scalesim "numpy<2.4"

clean:
	rm -rf $(VENV) $(SCALESIM_VENV) build dist *.egg-info .pytest_cache .ruff_cache
