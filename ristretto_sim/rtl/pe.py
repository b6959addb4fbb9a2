"""The PE base class: one registered multiply-accumulate cell of a systolic array, generic over the datapath.

:class:`ProcessingElement` owns the protocol every PE kind follows, so every kind has the same ports and the
same cycle behaviour (what the golden model of :mod:`~ristretto_sim.rtl.golden` steps):

* ports (widths from the :class:`~ristretto_sim.rtl.spec.PESpec`): ``a`` (input code), ``w`` (weight code),
  ``en`` (accumulate this cycle's product), ``load`` (the addition starts from ``bias`` instead of the
  register: the bias preload), ``clear`` (the register and the flags go to zero; wins over everything),
  ``bias`` (accumulator codes); outputs ``acc`` (the register), ``overflow`` (sticky: an addition since the last
  load/clear wrapped or saturated; under SATURATE this is the emulator's per-output overflow, under WRAP it also
  counts an output whose sum wrapped and came back, which the emulator's order-independent count does not) and
  the variant's sticky ``flags``;
* one clock edge per step: ``acc <= clear ? 0 : en ? add(base, product(a, w)) : base`` with ``base = load ?
  load_bias(bias) : acc`` (``load`` and ``en`` together start a new output with its first product, so folds stream back
  to back);
* configuration inputs (the kind's ``config_ports(spec)``, none by default; an affine PE with
  ``zero_point='register'`` has ``za`` and ``zw``): held constant while a layer runs, set between layers; the
  arrays expose each at their top and broadcast it to every PE, with no pass-through register (a value that
  does not change during a layer needs no skew);
* systolic pass-through: ``a_out``, ``w_out`` and the control (``en_out``, ``load_out``, ``clear_out``) are
  ``a``, ``w`` and the control registered, for the next PE along a row (``a`` and control) or a column
  (``w``).

A variant (registered by datapath name in :mod:`~ristretto_sim.rtl.registry`) overrides:

* ``product(m, a, w)`` (required): a :class:`Product`: the value in accumulator units, the adder's carry-in
  (a shift PE folds a negative weight's sign into it) and a dict of this cycle's flag values (names in the class
  attribute ``flags``);
* ``add(m, base, product)`` (optional; default: ``base + value + carry`` with the accumulator's overflow rule,
  wrap or saturation after every addition, as :mod:`~ristretto_sim.emulator.accumulator`): the new register
  value and whether it overflowed;
* ``overflow_rule(spec)`` (optional, a classmethod; default: the formats' ``overflow``): what the adder does
  beyond the register's range (a Kulisch register, sized never to overflow, keeps its low bits);
* ``load_bias(m, bias)`` (optional; default: the code itself, no flags): the register a bias preload starts
  from and the flags it raises (a float PE's preload is the emulator's ``0 + bias``: a NaN or infinite bias sets
  the sticky flags and starts from +0, as does a -0 bias); ``golden_load_bias(spec, bias)`` is its software side;
* ``pe_formats(formats)`` (optional, a classmethod; default: unchanged): the formats of a PE serving a layer of
  ``formats`` (a per-channel format a PE cannot hold replaced by the per-tensor one it sees);
* ``readout(spec, linear)`` (optional, a classmethod; default: None): the requantizer component that reads
  this PE's accumulators out (with ``latency`` and ``vectors(n, seed)``: its testbench's stimulus and expected
  outputs) (``linear``: of a fully connected layer), which ``ristretto-sim rtl`` writes beside
  the PE;
* ``pad_codes(spec)`` (optional, a classmethod; default ``(0, 0)``): an input and a weight code whose product adds
  nothing, what the unused rows of a weight-stationary edge fold carry (an affine PE's zero points);
* ``config_ports(spec)`` and ``config_values(spec)`` (optional, classmethods; default: none): the configuration
  inputs (name -> shape) and the values that make the PE compute ``spec``'s layer (name -> int), which the golden
  model's layer is (its ``golden_add`` reads ``spec``) and testbenches drive; ``layer_of(spec, formats)`` the spec
  of the same hardware computing another layer;
* ``golden_add(spec, base, a, w)`` (required, a classmethod): the software side of ``product`` then ``add`` for
  arrays of PEs, built on the emulator's arithmetic (``(new, overflowed, flags)``), which the golden model
  (:mod:`~ristretto_sim.rtl.golden`) steps; ``golden_zeros`` (optional): the cleared register's array.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar

import numpy as np
from amaranth.hdl import Const, Module, Mux, Signal, Value
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from ristretto_sim.formats import Overflow
from ristretto_sim.rtl.spec import PESpec


def wrap_or_saturate(m: Module, value: Value, acc, overflow: Overflow, name: str = "sum"):
    """``value`` brought into the accumulator format ``acc``: clamped (SATURATE) or its low bits (WRAP), and a
    1-bit value that is set when it was out of range."""
    lo, hi = acc.min_code, acc.max_code
    out_of_range = Signal(name=f"{name}_ovf")
    m.d.comb += out_of_range.eq((value > hi) | (value < lo))
    if overflow is Overflow.WRAP:
        low = value[: acc.bits]
        return (low.as_signed() if acc.signed else low), out_of_range
    return Mux(value > hi, Const(hi), Mux(value < lo, Const(lo), value)), out_of_range


@dataclass(frozen=True, eq=False)
class Product:
    """What a PE's multiplier (or shifter) delivers to the adder: ``value`` (+ ``carry``, a 1-bit carry-in) in
    accumulator units, and this cycle's flag values."""

    value: Value
    carry: Value | int = 0
    flags: dict = field(default_factory=dict)


class ProcessingElement(wiring.Component):
    """A registered PE (module docstring: the protocol and the hooks).

    Parameters
    ----------
    spec : PESpec
    """

    #: names of the variant's sticky flags (outputs of the same names)
    flags: ClassVar[tuple[str, ...]] = ()
    #: what the accumulator does on overflow, for summaries (None: the layer's overflow mode)
    accumulator_rule: ClassVar[str | None] = None
    #: why one PE of this kind serves one layer's formats only (None: the widest formats serve many layers)
    one_layer: ClassVar[str | None] = None
    #: why the formal check's reference (tabulated products, an integer adder) does not describe this kind (None:
    #: it does)
    formal_reference: ClassVar[str | None] = None
    #: the SMT solver that proves this kind equal to its reference fastest (``rtl.formal``; measured per kind)
    formal_solver: ClassVar[str] = "z3"

    def __init__(self, spec: PESpec):
        if not isinstance(spec, PESpec):
            raise TypeError(f"spec={spec!r} must be a PESpec")
        self.spec = spec
        acc = spec.accumulator_shape
        members = {
            "a": In(spec.input_shape),
            "w": In(spec.weight_shape),
            "en": In(1),
            "load": In(1),
            "clear": In(1),
            "bias": In(acc),
            "acc": Out(acc),
            "overflow": Out(1),
            "a_out": Out(spec.input_shape),
            "w_out": Out(spec.weight_shape),
            "en_out": Out(1),
            "load_out": Out(1),
            "clear_out": Out(1),
        }
        members.update({f: Out(1) for f in self.flags})
        members.update({name: In(shape) for name, shape in self.config_ports(spec).items()})
        super().__init__(members)

    def verilog_name(self) -> str:
        """The module name of this PE's Verilog."""
        return self.spec.module_name()

    # ------------------------------------------------------------------ hooks
    def product(self, m: Module, a: Value, w: Value) -> Product:  # pragma: no cover - interface
        raise NotImplementedError

    def add(self, m: Module, base: Value, product: Product) -> tuple[Value, Value]:
        # the exact sum: Amaranth widens the addition, so nothing is lost before the overflow rule
        total = base + product.value
        if not (isinstance(product.carry, int) and product.carry == 0):
            total = total + product.carry
        return wrap_or_saturate(m, total, self.spec.accumulator, self.overflow_rule(self.spec))

    def load_bias(self, m: Module, bias: Value) -> tuple[Value, dict]:
        """The register a bias preload starts from and the flags it raises (module docstring)."""
        return bias, {}

    @classmethod
    def golden_load_bias(cls, spec: PESpec, bias: np.ndarray) -> tuple[np.ndarray, dict]:
        """The software side of ``load_bias`` (codes, flag name -> bools; flags left out are False)."""
        return bias, {}

    @classmethod
    def layer_bound(cls, zero_point) -> str | None:
        """Why one PE of this kind serves one layer only, for this zero-point handling (``one_layer`` by
        default)."""
        return cls.one_layer

    @classmethod
    def config_ports(cls, spec: PESpec) -> dict:
        """The configuration inputs of ``spec``'s PE, name -> Amaranth shape (module docstring; none by default)."""
        return {}

    @classmethod
    def config_values(cls, spec: PESpec) -> dict:
        """The configuration inputs' values for ``spec``'s layer, name -> int (module docstring)."""
        return {}

    @classmethod
    def layer_of(cls, spec: PESpec, formats) -> PESpec | None:
        """The spec of ``spec``'s hardware computing a layer of ``formats`` through its configuration inputs (None:
        the kind has none, its PE serves the formats it was made for)."""
        return None

    @classmethod
    def pe_formats(cls, formats):
        """The formats of a PE serving a layer of ``formats`` (module docstring)."""
        return formats

    @classmethod
    def module_stem(cls, spec: PESpec) -> str | None:
        """The Verilog module name of ``spec``'s PE when the kind names its own (None: from the formats' text)."""
        return None

    @classmethod
    def readout(cls, spec: PESpec, linear: bool):
        """The requantizer written beside this PE (module docstring; None: none)."""
        return None

    @classmethod
    def overflow_rule(cls, spec: PESpec) -> Overflow:
        """What the adder does beyond the accumulator's range (module docstring)."""
        return spec.formats.overflow

    @classmethod
    def golden_add(cls, spec: PESpec, base: np.ndarray, a: np.ndarray, w: np.ndarray):  # pragma: no cover
        raise NotImplementedError

    @classmethod
    def operand_codes(cls, spec: PESpec) -> tuple[np.ndarray, np.ndarray]:
        """Every code the ``a`` and ``w`` ports take, sorted (default: the fixed-point ranges)."""
        return tuple(np.arange(f.min_code, f.max_code + 1, dtype=np.int64)
                     for f in (spec.formats.inputs, spec.formats.weights))

    @classmethod
    def corner_codes(cls, spec: PESpec):
        """Codes of ``a`` and ``w`` a trace draws often (None each: both ends of ``operand_codes``)."""
        return None, None

    @classmethod
    def bias_codes(cls, spec: PESpec) -> np.ndarray:
        """Bias codes testbenches draw from: both ends of the accumulator, zero and a spread between."""
        acc = spec.accumulator
        spread = np.linspace(float(acc.min_code), float(acc.max_code), 257)
        extra = [acc.min_code, acc.min_code + 1, acc.max_code - 1, acc.max_code, 0, 1, -1 if acc.signed else 2]
        codes = np.concatenate([np.floor(spread).astype(np.int64), np.array(extra, dtype=np.int64)])
        return np.unique(np.clip(codes, acc.min_code, acc.max_code))

    @classmethod
    def pad_codes(cls, spec: PESpec) -> tuple[int, int]:
        """``(a, w)`` codes whose product adds nothing to the register (module docstring)."""
        return 0, 0

    @classmethod
    def max_products(cls, spec: PESpec) -> int | None:
        """Most products one output may take in a test trace (None: any number, the overflow rule applies)."""
        return None

    @classmethod
    def golden_zeros(cls, spec: PESpec, n: int) -> np.ndarray:
        """A cleared register of ``n`` PEs (int64 codes)."""
        return np.zeros(n, dtype=np.int64)

    # ------------------------------------------------------------------ the protocol
    def elaborate(self, platform):
        m = Module()
        product = self.product(m, self.a, self.w)
        flags = product.flags
        start, bias_flags = self.load_bias(m, self.bias)
        base = Mux(self.load, start, self.acc)
        new, ovf = self.add(m, base, product)
        keep = Mux(self.load, 0, self.overflow)  # the sticky state this step starts from
        with m.If(self.clear):
            m.d.sync += [self.acc.eq(0), self.overflow.eq(0)]
            m.d.sync += [getattr(self, f).eq(0) for f in self.flags]
        with m.Elif(self.en):
            m.d.sync += [self.acc.eq(new), self.overflow.eq(keep | ovf)]
            for f in self.flags:
                before = Mux(self.load, bias_flags.get(f, 0), getattr(self, f))
                m.d.sync += getattr(self, f).eq(before | flags[f])
        with m.Elif(self.load):
            m.d.sync += [self.acc.eq(start), self.overflow.eq(0)]
            m.d.sync += [getattr(self, f).eq(bias_flags.get(f, 0)) for f in self.flags]
        m.d.sync += [
            self.a_out.eq(self.a),
            self.w_out.eq(self.w),
            self.en_out.eq(self.en),
            self.load_out.eq(self.load),
            self.clear_out.eq(self.clear),
        ]
        return m
