"""Synthesis of generated hardware with YoWASP Yosys and nextpnr: area (LUTs, carries, FFs, DSPs; CMOS
transistors) and clock (Fmax, median over seeds), and the results table the cost model reads.

``synthesize(Design, SynthOptions) -> SynthResult`` runs one design on one target (``driver``); ``run_sweep``
fills a ``ResultsTable`` (``hdl/synth_results.json`` and CSVs) resumably, with fitted scaling coefficients. The
tools are the ``synth`` extra (``pip install 'ristretto-sim[synth]'``); a missing one raises
``SynthesisToolError``.
"""

from ristretto_sim.rtl.synth.design import Design
from ristretto_sim.rtl.synth.driver import synthesize
from ristretto_sim.rtl.synth.results import SynthResult
from ristretto_sim.rtl.synth.sweep import (
    DEFAULT_TARGETS,
    GENERATORS,
    SweepEntry,
    default_entries,
    entry_from_spec,
    run_sweep,
    width_series,
)
from ristretto_sim.rtl.synth.table import ResultsTable, ScalingFit, fit_scaling
from ristretto_sim.rtl.synth.targets import DEVICES, SynthOptions, Target
from ristretto_sim.rtl.synth.tools import SynthesisToolError, Tool, missing

__all__ = [
    "DEFAULT_TARGETS",
    "DEVICES",
    "GENERATORS",
    "Design",
    "ResultsTable",
    "ScalingFit",
    "SweepEntry",
    "SynthOptions",
    "SynthResult",
    "SynthesisToolError",
    "Target",
    "Tool",
    "default_entries",
    "entry_from_spec",
    "fit_scaling",
    "missing",
    "run_sweep",
    "synthesize",
    "width_series",
]
