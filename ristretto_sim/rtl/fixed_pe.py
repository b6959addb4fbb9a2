"""``FixedMacPE``: the hardware of the ``fixed`` datapath (:class:`~ristretto_sim.emulator.datapaths.fixed.FixedMac`).

Signed or unsigned fixed-point codes multiplied exactly (an ``in.bits x w.bits`` multiplier, mixed signedness as
the formats say), added to the accumulator with the datapath's overflow rule after every addition (the base
class's ``add``). The accumulator's fraction is the products' (the datapath validates ``acc.frac == in.frac +
w.frac``), so the product enters it unshifted.
"""

from __future__ import annotations

import numpy as np
from amaranth.hdl import Module, Signal, Value, signed, unsigned

from ristretto_sim.emulator.accumulator import IntegerProducts, accumulate
from ristretto_sim.rtl.pe import ProcessingElement, Product
from ristretto_sim.rtl.registry import register_pe


@register_pe("fixed")
class FixedMacPE(ProcessingElement):
    """Fixed-point MAC PE (module docstring; ports and timing: :class:`ProcessingElement`)."""

    #: the golden model keeps codes in int64 (sums of an accumulator and a product stay exact)
    max_accumulator_bits = 60

    def product(self, m: Module, a: Value, w: Value) -> Product:
        f = self.spec.formats
        bits = f.inputs.bits + f.weights.bits
        p = Signal(signed(bits) if (f.inputs.signed or f.weights.signed) else unsigned(bits), name="product")
        m.d.comb += p.eq(a * w)
        return Product(p)

    @classmethod
    def golden_add(cls, spec, base, a, w):
        """One addition per PE through the emulator's accumulator contract (K = 1, the bias slot holding the
        running register), so wrap and saturation are the emulator's own."""
        acc = spec.accumulator
        if acc.bits > cls.max_accumulator_bits:
            raise ValueError(f"accumulator={acc}: the golden model steps accumulators of at most "
                             f"{cls.max_accumulator_bits} bits")
        n = a.shape[0]
        a64, w64, b64 = (np.asarray(x, dtype=np.int64) for x in (a, w, base))
        r = accumulate(IntegerProducts(a64.reshape(n, 1, 1), w64.reshape(n, 1, 1)), b64.reshape(n, 1, 1), acc,
                       spec.formats.overflow)
        new = np.asarray(r.codes, dtype=np.int64).reshape(n)
        return new, new != b64 + a64 * w64, {}
