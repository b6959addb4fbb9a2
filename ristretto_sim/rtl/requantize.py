"""``Requantize``: the readout of an integer accumulator into a fixed-point output format in hardware, a
rounding right-shift then saturation, exactly :func:`~ristretto_sim.emulator.requantize.requantize` (the
readout rule of :func:`~ristretto_sim.emulator.datapaths.readout.integer_readout`: always saturating).

With ``s = acc.frac_bits - out.frac_bits`` (a constant of the formats): ``s <= 0`` shifts left (exact);
``s > 0`` takes the floor quotient ``q = v >> s`` (arithmetic) and the remainder ``r`` (the ``s`` bits that fall
off) and rounds up by one when the mode says so (``half = 2**(s-1)``):

==============  ==================================================
nearest_even    ``r > half or (r == half and q odd)``
nearest_away    ``r > half or (r == half and q >= 0)``
nearest_up      add ``half``, then shift (``(v + half) >> s``)
floor           never (the shift's own truncation)
ceil            ``r != 0``
toward_zero     ``r != 0 and q < 0``
==============  ==================================================

Stochastic rounding needs random bits that the emulator reproduces bit for bit (its counter-based SplitMix64
draws are not an LFSR a PE would hold), so it is refused with a ``ValueError`` until such a generator is
declared. The component is combinational: ``acc`` in, ``out`` and ``saturated`` out.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from amaranth.hdl import Const, Module, Mux, Signal
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from ristretto_sim.emulator.requantize import requantize
from ristretto_sim.formats import FixedPoint, Overflow, Rounding, format_kind
from ristretto_sim.rtl.spec import port_shape


@dataclass(frozen=True)
class RequantSpec:
    """A requantizer: accumulator format, output format, rounding (all per-tensor fixed point)."""

    accumulator: FixedPoint
    outputs: FixedPoint
    rounding: Rounding = Rounding.NEAREST_EVEN

    def __post_init__(self):
        for name in ("accumulator", "outputs"):
            fmt = getattr(self, name)
            if format_kind(fmt) != "fixed":
                raise ValueError(f"{name}={fmt}: the requantizer reads and writes fixed-point codes")
            if fmt.per_channel:
                raise ValueError(f"{name}={fmt}: the requantizer has one shift (a per-tensor format)")
        object.__setattr__(self, "rounding", Rounding.coerce(self.rounding, "rounding"))
        if self.rounding is Rounding.STOCHASTIC:
            raise ValueError(
                "rounding=stochastic: the requantizer needs random bits the emulator reproduces bit for bit, and "
                "no such LFSR is declared; use a deterministic rounding (nearest_even, nearest_up, ...)"
            )
        if self.outputs.bits > 64:
            raise ValueError(f"outputs={self.outputs}: at most 64-bit outputs")

    @classmethod
    def of(cls, spec) -> RequantSpec:
        """The requantizer of a PE spec's layer (its accumulator, its declared outputs, its rounding)."""
        out = spec.formats.outputs
        if out is None:
            raise ValueError("the layer declares no output format: there is nothing to requantize to "
                             "(give outputs=..., e.g. fixed8.4)")
        return cls(spec.accumulator, out, spec.formats.rounding)

    @property
    def shift(self) -> int:
        """Right-shift amount in bits (negative: a left shift)."""
        return self.accumulator.frac_bits - self.outputs.frac_bits

    def module_name(self) -> str:
        text = f"requantize_{self.accumulator}_{self.outputs}_{self.rounding.value}"
        return "".join(c if c.isalnum() or c == "_" else "_" for c in text)

    def golden(self, codes) -> tuple[np.ndarray, np.ndarray]:
        """``(output codes, saturated)`` of accumulator codes, from the emulator's ``requantize``."""
        codes = np.asarray(codes, dtype=np.int64)
        acc, out = self.accumulator, self.outputs
        r = requantize(codes, acc.frac_bits, out, self.rounding, Overflow.SATURATE)
        # the same rounding into a format wide enough that nothing saturates: where they differ, it clamped
        wide = FixedPoint(min(64, acc.bits + max(-self.shift, 0) + 1), out.frac_bits)  # signed, wider
        unclamped = requantize(codes, acc.frac_bits, wide, self.rounding, Overflow.SATURATE)
        return r.codes, r.codes != unclamped.codes


class Requantize(wiring.Component):
    """Rounding shift and saturation (module docstring).

    Parameters
    ----------
    spec : RequantSpec
    """

    def __init__(self, spec: RequantSpec):
        if not isinstance(spec, RequantSpec):
            raise TypeError(f"spec={spec!r} must be a RequantSpec")
        self.spec = spec
        super().__init__({"acc": In(port_shape(spec.accumulator)), "out": Out(port_shape(spec.outputs)),
                          "saturated": Out(1)})

    def verilog_name(self) -> str:
        return self.spec.module_name()

    def elaborate(self, platform):
        m = Module()
        sp, v = self.spec, self.acc
        s = sp.shift
        if s <= 0:
            rounded = v << -s
        else:
            q = v >> s
            r = v[:s]
            half = 1 << (s - 1)
            mode = sp.rounding
            if mode is Rounding.NEAREST_UP:
                rounded = (v + half) >> s
            else:
                up = {
                    Rounding.NEAREST_EVEN: (r > half) | ((r == half) & q[0]),
                    Rounding.NEAREST_AWAY: (r > half) | ((r == half) & (q >= 0)),
                    Rounding.FLOOR: Const(0, 1),
                    Rounding.CEIL: r != 0,
                    Rounding.TOWARD_ZERO: (r != 0) & (q < 0),
                }[mode]
                rounded = q + up
        total = Signal.like(rounded, name="rounded")
        m.d.comb += total.eq(rounded)
        lo, hi = sp.outputs.min_code, sp.outputs.max_code
        m.d.comb += [
            self.out.eq(Mux(total > hi, Const(hi), Mux(total < lo, Const(lo), total))),
            self.saturated.eq((total > hi) | (total < lo)),
        ]
        return m
