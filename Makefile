# ristretto-sim: `make demo` and `make test` are all a fresh machine needs (Python 3.11).
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
PIP := $(BIN)/python -m pip

.PHONY: demo test test-all test-all-system bench lint install install-test clean scalesim-venv synth-sweep analysis

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip

$(VENV)/.installed: $(BIN)/python pyproject.toml setup.py
	$(PIP) install --quiet -e .
	touch $@

# the suite also runs the fine-tuning tests, so the test environment has the train extra (torch, CPU) too; the
# compiled accumulators (fast extra: numba), whose tests compare them with the NumPy paths; and a few small
# syntheses (tests/rtl/synth), so the test extra carries the YoWASP tools, which compile themselves on first use
# (about 1-2 minutes per machine, cached in ~/.cache/YoWASP), paid once by the first `make test`
$(VENV)/.installed-test: $(VENV)/.installed
	$(PIP) install --quiet -e '.[test,train,fast]'
	touch $@

# the accumulators suite's figures are those of the compiled loops (fast extra: numba); without it the NumPy
# fallback runs, correct but slower than the README's Performance table
$(VENV)/.installed-bench: $(VENV)/.installed
	$(PIP) install --quiet -e '.[bench,fast]'
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

# system packages of slow tests: Chromium (the HTML report rendered headless) and PostgreSQL (the joint search's
# distributed study); tests that need one skip, saying why, where it cannot be installed
test-all-system:
	@need=""; command -v chromium >/dev/null 2>&1 || need="$$need chromium"; \
	ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || need="$$need postgresql"; \
	if [ -n "$$need" ] && command -v apt-get >/dev/null 2>&1; then \
		(apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$need >/dev/null) || \
		echo "note: could not install$$need; the tests that need them will skip"; fi
	-$(PIP) install --quiet -e '.[distributed]'

test-all: lint test-all-system
	$(BIN)/python -m pytest -q -m "slow or not slow"

# the figures and tables of the README, regenerated from the public API (each script writes a PNG and a CSV
# into analysis/figures/, which the README embeds); the joint search keeps its study in analysis/out/ and resumes
# it there if interrupted
analysis: $(VENV)/.installed scalesim-venv
	$(BIN)/python analysis/bitwidth_sweep.py
	$(BIN)/python analysis/energy_breakdown.py
	$(BIN)/python analysis/cycle_model_speed.py
	$(BIN)/python analysis/emulator_speed.py
	$(BIN)/python analysis/pareto_front.py
	$(BIN)/python analysis/scalesim_agreement.py
	$(BIN)/python analysis/area_vs_bitwidth.py
	$(PIP) install --quiet -e '.[train]'
	$(BIN)/python analysis/finetune_recovery.py

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
