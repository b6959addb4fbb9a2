"""Synthesizable hardware of the emulator's datapaths (Amaranth 0.5), proven equal to the emulator bit for bit.

Every generator here is the hardware side of one datapath object (:mod:`ristretto_sim.emulator.datapaths`):
a :class:`PESpec` (the layer formats and the reduction length the PE is sized for) selects the datapath, and
the port widths, the accumulator and its overflow rule, the shifter width and the rounding all come from it.

* :mod:`~ristretto_sim.rtl.pe`: the PE base class (registers, control, systolic pass-through); variants
  :class:`FixedMacPE`, :class:`ShiftPE`, :class:`MinifloatMacPE`, :class:`MinifloatFloatPE` (a float adder),
  :class:`AffineMacPE` implement the product and the addition;
* :mod:`~ristretto_sim.rtl.requantize`: :class:`Requantize` (rounding right-shift and saturation);
  :mod:`~ristretto_sim.rtl.tflite_requantize`: :class:`TfliteRequantize` (TFLite's int8 readout: quantized
  multiplier, zero point, clamp);
* :mod:`~ristretto_sim.rtl.array`: :class:`SystolicArray` (output-stationary) and its streaming controller;
  :mod:`~ristretto_sim.rtl.ws_array`: :class:`WeightStationaryArray` (double-buffered weights) and its GEMM driver;
  :mod:`~ristretto_sim.rtl.ws_sequencer`: :class:`WsSequencer` (a ws GEMM from operand memories to an output
  stream, folds overlapped);
* :mod:`~ristretto_sim.rtl.golden`: the vectorised golden model testbenches compare against (emulator arithmetic);
* :mod:`~ristretto_sim.rtl.vectors` (test traces), :mod:`~ristretto_sim.rtl.stream` (a GEMM streamed through an
  array), :mod:`~ristretto_sim.rtl.sim` (Amaranth simulation), :mod:`~ristretto_sim.rtl.cosim` (Verilog
  testbenches, Icarus Verilog and Verilator);
* :mod:`~ristretto_sim.rtl.export`: Verilog text (``verilog_for``); :mod:`~ristretto_sim.rtl.generate`: a
  design, its testbench and summary into a folder (``ristretto-sim rtl``); :mod:`~ristretto_sim.rtl.catalog`:
  the ``hdl/`` catalogue;
* :mod:`~ristretto_sim.rtl.synth`: synthesis (YoWASP Yosys, nextpnr) and the ``hdl/`` results table.
"""

from ristretto_sim.rtl import affine_pe, fixed_pe, minifloat_float_pe, minifloat_pe, shift_pe  # noqa: F401 - registration
from ristretto_sim.rtl.affine_pe import AffineMacPE
from ristretto_sim.rtl.array import SystolicArray
from ristretto_sim.rtl.export import verilog_for
from ristretto_sim.rtl.fixed_pe import FixedMacPE
from ristretto_sim.rtl.golden import GoldenPEs, Outputs, Trace, golden_run
from ristretto_sim.rtl.minifloat_float_pe import MinifloatFloatPE
from ristretto_sim.rtl.minifloat_pe import MinifloatMacPE
from ristretto_sim.rtl.pe import ProcessingElement
from ristretto_sim.rtl.registry import make_pe, pe_class, pe_kinds
from ristretto_sim.rtl.requantize import Requantize, RequantSpec
from ristretto_sim.rtl.shift_pe import ShiftPE
from ristretto_sim.rtl.spec import PESpec
from ristretto_sim.rtl.tflite_requantize import TfliteRequantize, TfliteRequantSpec
from ristretto_sim.rtl.ws_array import WeightStationaryArray
from ristretto_sim.rtl.ws_sequencer import WsSequencer

__all__ = [
    "AffineMacPE",
    "FixedMacPE",
    "GoldenPEs",
    "MinifloatFloatPE",
    "MinifloatMacPE",
    "Outputs",
    "PESpec",
    "ProcessingElement",
    "RequantSpec",
    "Requantize",
    "ShiftPE",
    "SystolicArray",
    "TfliteRequantSpec",
    "TfliteRequantize",
    "Trace",
    "WeightStationaryArray",
    "WsSequencer",
    "golden_run",
    "make_pe",
    "pe_class",
    "pe_kinds",
    "verilog_for",
]
