"""``AffineMacPE``: the hardware of the ``affine`` datapath (:class:`~ristretto_sim.emulator.datapaths.affine.
AffineMac`), TensorFlow Lite's int8 multiply-accumulate.

Per product, ``(a - z_a) * (w - z_w)``: the codes minus the zero points of the layer's formats (constants of
the PE; ``a - z_a`` takes one bit more than ``a``, and so does ``w - z_w`` unless the weights are symmetric, TFLite's
int8 rule), an exact ``(in.bits + 1) x w.bits`` multiplier whose product width is the datapath's
``product_bits``. With ``zero_point='fold'`` (symmetric weights) the PE multiplies the raw codes ``a * w`` and the
preloaded bias is the folded one, ``b - z_a * sum_k w_k`` (``preload``; ``AffineMac.folded_bias``): the same int32
register contents, since the identity holds modulo 2**32. The accumulator is TFLite's int32 register, preloaded
with the int32 bias codes (the ``load`` of the PE protocol) and wrapping as a 32-bit register does whatever the
layer's overflow mode says (the datapath wraps; ``overflow`` is set when an addition wrapped).

With ``zero_point='register'`` the zero points are not constants but two configuration inputs, ``za`` and ``zw``
(the widths and signedness of the input and weight codes: any code of the format can be a zero point), held
for a layer and loaded between layers, so one PE (one Verilog module, named by the code formats alone) serves
every layer of a network: ``(a - za) * (w - zw)`` with both differences one bit wider than the codes (a code
minus any code of its range) and the product ``in.bits + w.bits + 2`` bits wide. The spec's formats then carry
one layer's zero points: what the golden model computes (``golden_add``) and what ``config_values`` drives.

A layer's weight format is per channel (one scale per output channel) while a PE holds one zero point:
:meth:`AffineMacPE.pe_formats` gives the PE's formats of a layer (the common weight zero point, unit scale),
refusing per-channel zero points. The requantizer after the array is
:class:`~ristretto_sim.rtl.tflite_requantize.TfliteRequantize` for a layer that rounds as TFLite
(``nearest_away``); ONNX's readout (``nearest_even``: a float multiplier) has none.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
from amaranth.hdl import Module, Signal, Value, signed

from ristretto_sim.emulator.gemmlowp import wrap_int32
from ristretto_sim.formats import Affine, Overflow, Rounding
from ristretto_sim.rtl.pe import ProcessingElement, Product
from ristretto_sim.rtl.registry import register_pe
from ristretto_sim.rtl.spec import PEZeroPoint
from ristretto_sim.rtl.tflite_requantize import TfliteRequantize, TfliteRequantSpec

#: the output format a PE alone is given (the requantizer's; the PE's arithmetic never reads it)
UNIT_OUTPUTS = Affine(8, 1.0)


@register_pe("affine")
class AffineMacPE(ProcessingElement):
    """Affine int8 MAC PE (module docstring; ports and timing: :class:`ProcessingElement`)."""

    accumulator_rule = "int32 wrap"
    one_layer = "an affine PE holds its layer's zero points as constants (--zero-point register: as inputs)"

    @classmethod
    def layer_bound(cls, zero_point) -> str | None:
        """``one_layer``, except for the register zero-point PE, which serves any zero points of its codes."""
        return None if PEZeroPoint.coerce(zero_point, "zero_point") is PEZeroPoint.REGISTER else cls.one_layer

    @classmethod
    def config_ports(cls, spec) -> dict:
        """``za`` and ``zw`` (the code shapes of the inputs and weights) for ``zero_point='register'``."""
        if spec.zero_point is not PEZeroPoint.REGISTER:
            return {}
        return {"za": spec.input_shape, "zw": spec.weight_shape}

    @classmethod
    def config_values(cls, spec) -> dict:
        """The layer's zero points on ``za`` and ``zw`` (``zero_point='register'``)."""
        if spec.zero_point is not PEZeroPoint.REGISTER:
            return {}
        za, zw = cls.zero_points(spec)
        return {"za": za, "zw": zw}

    @classmethod
    def overflow_rule(cls, spec) -> Overflow:
        return Overflow.WRAP  # TFLite's int32 register, whatever the layer's overflow mode

    @staticmethod
    def zero_points(spec) -> tuple[int, int]:
        """``(z_a, z_w)``: the zero points of the PE's input and weight formats."""
        f = spec.formats
        return int(f.inputs.zero_point), int(f.weights.zero_point)

    @classmethod
    def layer_of(cls, spec, formats):
        """``spec`` (a register zero-point PE) computing the layer of ``formats``: its code formats with the layer's
        zero points (``ValueError`` when a zero point is not a code of the PE's formats; None for a PE of constant
        zero points)."""
        if spec.zero_point is not PEZeroPoint.REGISTER:
            return None
        f = cls.pe_formats(formats)
        codes = []
        for name in ("inputs", "weights"):
            mine, theirs = getattr(spec.formats, name), getattr(f, name)
            z = int(theirs.zero_point)
            if not mine.min_code <= z <= mine.max_code:
                raise ValueError(f"{name} zero point {z} is not a code of the PE's {mine.short()}")
            codes.append(Affine(mine.bits, theirs.scale, zero_point=z, signed=mine.signed))
        return replace(spec, formats=replace(spec.formats, inputs=codes[0], weights=codes[1]))

    @classmethod
    def pe_formats(cls, formats):
        """The formats of a PE computing the affine layer ``formats``: per-channel weights become a per-tensor
        format of their common zero point (unit scale: the PE sees codes only; ``ValueError`` for per-channel
        zero points), and formats without outputs (a PE alone, e.g. for synthesis) get ``UNIT_OUTPUTS``, which the
        PE never reads."""
        if formats.outputs is None:
            formats = replace(formats, outputs=UNIT_OUTPUTS)
        w = formats.weights
        if not (isinstance(w, Affine) and w.per_channel):
            return formats
        zps = set(w.zero_point_array().tolist())
        if len(zps) != 1:
            raise ValueError(f"weights {w.short()} have per-channel zero points ({len(zps)} distinct): a PE holds "
                             "one weight zero point (TFLite's int8 weights are symmetric, z = 0)")
        return replace(formats, weights=Affine(w.bits, 1.0, zero_point=zps.pop(), signed=w.signed))

    @classmethod
    def readout(cls, spec, linear: bool):
        """TFLite's requantizer of a layer rounding as TFLite (``nearest_away``; the single rounding for a fully
        connected one); None for ONNX's float readout (``nearest_even``), which has no hardware model here."""
        if spec.formats.rounding is not Rounding.NEAREST_AWAY:
            return None
        return TfliteRequantize(TfliteRequantSpec.of(spec.formats, linear))

    @classmethod
    def module_stem(cls, spec) -> str:
        """``affine_mac_int8_zm3_int8_z0_int32``: the codes and zero points (the scales are the requantizer's);
        ``affine_mac_zreg_int8_int8_int32``: the codes alone, for the register zero-point PE."""
        f = spec.formats
        if spec.zero_point is PEZeroPoint.REGISTER:
            return "_".join(["affine_mac_zreg"] + [f"{'int' if x.signed else 'uint'}{x.bits}"
                                                   for x in (f.inputs, f.weights)] + ["int32"])
        za, zw = cls.zero_points(spec)
        fold = ["fold"] if spec.zero_point is PEZeroPoint.FOLD else []
        parts = ["affine_mac"] + fold + [f"{'int' if x.signed else 'uint'}{x.bits}_z{z}" for x, z in
                                  ((f.inputs, za), (f.weights, zw))] + ["int32"]
        return "_".join(parts).replace("-", "m")

    def product(self, m: Module, a: Value, w: Value) -> Product:
        spec = self.spec
        f = spec.formats
        if spec.zero_point is PEZeroPoint.FOLD:  # the raw codes: z_a * sum_k w_k is in the preloaded bias
            p = Signal(signed(spec.datapath.product_bits()), name="product")
            m.d.comb += p.eq(a * w)
            return Product(p)
        if spec.zero_point is PEZeroPoint.REGISTER:  # any zero point of the codes: both operands one bit wider
            za, zw = self.za, self.zw
            bits = f.inputs.bits + f.weights.bits + 2
        else:
            za, zw = self.zero_points(spec)
            bits = spec.datapath.product_bits()
        da = Signal(signed(f.inputs.bits + 1), name="a_centred")
        dw = Signal(signed(f.weights.bits + 1), name="w_centred")
        m.d.comb += [da.eq(a - za), dw.eq(w - zw)]
        p = Signal(signed(bits), name="product")
        m.d.comb += p.eq(da * dw)
        return Product(p)

    @classmethod
    def preload(cls, spec, w: np.ndarray, bias: np.ndarray) -> np.ndarray:
        """The int32 bias the PE of output column ``j`` starts from, for weight codes ``w`` (K x N) and the layer's
        bias codes: the bias itself, or folded (``zero_point='fold'``) ``bias - z_a * sum_k w[k, j]`` wrapped to
        int32, as ``AffineMac.folded_bias`` forms it."""
        bias = np.asarray(bias, dtype=np.int64)
        if spec.zero_point is not PEZeroPoint.FOLD:
            return bias
        za, _ = cls.zero_points(spec)
        return wrap_int32(bias - za * np.asarray(w, dtype=np.int64).sum(axis=0))

    @classmethod
    def pad_codes(cls, spec):
        """The zero points: ``(z_a - z_a) * (z_w - z_w)`` is zero (a code 0 is not, off a zero point of 0); the folded
        PE multiplies raw codes, so there codes 0 are."""
        if spec.zero_point is PEZeroPoint.FOLD:
            return 0, 0
        return cls.zero_points(spec)

    @classmethod
    def corner_codes(cls, spec):
        f = spec.formats
        za, zw = cls.zero_points(spec)
        out = []
        for fmt, z in ((f.inputs, za), (f.weights, zw)):
            codes = {fmt.min_code, fmt.max_code, z, min(z + 1, fmt.max_code), max(z - 1, fmt.min_code)}
            out.append(sorted(codes))
        return tuple(out)

    @classmethod
    def golden_add(cls, spec, base, a, w):
        """One addition per PE as the emulator's affine datapath accumulates: ``(a - z_a) * (w - z_w)`` (folded:
        ``a * w``) added in int64 and wrapped to int32 (``gemmlowp.wrap_int32``)."""
        za, zw = (0, 0) if spec.zero_point is PEZeroPoint.FOLD else cls.zero_points(spec)
        a64, w64, b64 = (np.asarray(x, dtype=np.int64) for x in (a, w, base))
        exact = b64 + (a64 - za) * (w64 - zw)
        new = wrap_int32(exact)
        return new, new != exact, {}
