"""Synthesizable hardware of the emulator's datapaths (Amaranth 0.5), proven equal to the emulator bit for bit.

Every generator here is the hardware side of one datapath object (:mod:`ristretto_sim.emulator.datapaths`):
a :class:`PESpec` (the layer formats and the reduction length the PE is sized for) selects the datapath, and
the port widths, the accumulator and its overflow rule, the shifter width and the rounding all come from it.

* :mod:`~ristretto_sim.rtl.pe`: the PE base class (registers, control, systolic pass-through); variants
  :class:`FixedMacPE`, :class:`ShiftPE`, :class:`MinifloatMacPE` implement the product and the addition;
* :mod:`~ristretto_sim.rtl.requantize`: :class:`Requantize` (rounding right-shift and saturation);
* :mod:`~ristretto_sim.rtl.array`: :class:`SystolicArray` (output-stationary) and its streaming controller;
* :mod:`~ristretto_sim.rtl.golden`: the vectorised golden model testbenches compare against (emulator arithmetic);
* :mod:`~ristretto_sim.rtl.export`: Verilog text (``verilog_for``); :mod:`~ristretto_sim.rtl.cosim`:
  Amaranth, Icarus Verilog and Verilator harnesses; :mod:`~ristretto_sim.rtl.catalog`: the ``hdl/`` catalogue;
* :mod:`~ristretto_sim.rtl.synth`: synthesis (YoWASP Yosys, nextpnr) and the ``hdl/`` results table.
"""

from ristretto_sim.rtl import fixed_pe, minifloat_pe, shift_pe  # noqa: F401 - registration
from ristretto_sim.rtl.export import verilog_for
from ristretto_sim.rtl.fixed_pe import FixedMacPE
from ristretto_sim.rtl.golden import GoldenPEs, Outputs, Trace, golden_run
from ristretto_sim.rtl.pe import ProcessingElement
from ristretto_sim.rtl.registry import make_pe, pe_class, pe_kinds
from ristretto_sim.rtl.spec import PESpec

__all__ = [
    "FixedMacPE",
    "GoldenPEs",
    "Outputs",
    "PESpec",
    "ProcessingElement",
    "Trace",
    "golden_run",
    "make_pe",
    "pe_class",
    "pe_kinds",
    "verilog_for",
]
