"""Ristretto's datapath (``Mode.RISTRETTO``): what the original Caffe Ristretto computed for a Conv / Deconv /
InnerProduct layer. The input, the weights and the bias are fake-quantized with Ristretto's own quantizers, the
bias in the weights' format (it stays float for power-of-two weights, reference ``ristretto.md`` §3), the GEMM
and the bias addition run in float32, and the output is fake-quantized (§1.3)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from ristretto_sim.emulator.datapaths.base import AccumulatorContents, ArithmeticUnit, Datapath, Keys, Prepared
from ristretto_sim.emulator.datapaths.layer_formats import LayerFormats, Mode
from ristretto_sim.emulator.datapaths.operation import LayerKind, LayerOp
from ristretto_sim.emulator.datapaths.readout import out_of_range
from ristretto_sim.emulator.datapaths.registry import register
from ristretto_sim.emulator.ristretto_mode import float32_conv2d, float32_conv_transpose2d, ristretto_quantize
from ristretto_sim.formats import Minifloat, PowerOfTwo

FLOAT32 = Minifloat(8, 23)


@register
@dataclass(frozen=True)
class RistrettoFloat32(Datapath):
    """Ristretto's fake-quantized float32 arithmetic (module docstring).

    Parameters
    ----------
    formats : LayerFormats
    cpu_compat : bool
        Reproduce the CPU code paths of Ristretto's quantizers (keyword-only).
    """

    name = "ristretto-float32"
    mode: ClassVar[Mode] = Mode.RISTRETTO
    cpu_compat: bool = False

    @classmethod
    def matches(cls, formats: LayerFormats) -> bool:
        return True

    def accumulator_for(self, k: int, n_out: int = 1) -> Minifloat:
        return FLOAT32

    def product_bits(self) -> int:
        return FLOAT32.bits

    def units(self, k: int, n_out: int = 1) -> tuple[ArithmeticUnit, ...]:
        return (
            ArithmeticUnit("float_mul", (32, 32), (FLOAT32, FLOAT32)),
            ArithmeticUnit("float_add", (32,), (FLOAT32,)),
        )

    @property
    def bias_format(self):
        """The format Ristretto quantizes the bias to: the weights' (reference §1.3), none for power-of-two
        weights (the bias stays float, §3)."""
        return None if isinstance(self.weights, PowerOfTwo) else self.weights

    def fake_quantize(self, x, fmt, key):
        return ristretto_quantize(x, fmt, self.formats.rounding, self.cpu_compat, key)

    def encode_inputs(self, x: np.ndarray, keys: Keys):
        return self.fake_quantize(x, self.inputs, keys.inputs)

    def prepare_weights(self, op: LayerOp, w, b, keys: Keys) -> Prepared:
        wq = self.fake_quantize(w, self.weights, keys.weights)
        bq, bias_sat = None, 0
        if b is not None:
            if self.bias_format is None:
                bq = b.astype(np.float32)  # reference §3: the bias stays float in power-of-two mode
            else:  # reference §1.3: the bias uses the weights' format (per channel: along O)
                bq = self.fake_quantize(b, self.bias_format, keys.bias)
                bias_sat = out_of_range(b, self.bias_format)
        return Prepared(op, wq, bq, out_of_range(w, self.weights), bias_sat, FLOAT32)

    def accumulate(self, prepared: Prepared, x: np.ndarray, keys: Keys) -> AccumulatorContents:
        op, wq, bq = prepared.op, prepared.weights, prepared.bias
        xq = self.encode_inputs(x, keys)
        if op.linear:
            y = np.matmul(xq, wq.T)
        elif op.kind is LayerKind.CONV2D:
            y = float32_conv2d(xq, wq, op.geometry)
        else:
            y = float32_conv_transpose2d(xq, wq, op.geometry)
        axis = op.output_axis(y.ndim)
        if bq is not None:
            shape = [1] * y.ndim
            shape[axis] = bq.size
            y = (y + bq.reshape(shape)).astype(np.float32)
        return AccumulatorContents(y, None, axis, "float32")

    def readout(self, prepared: Prepared, acc: AccumulatorContents, keys: Keys):
        y = acc.codes
        out_sat = out_of_range(y.astype(np.float64), self.formats.outputs)
        yq = self.fake_quantize(y, self.formats.outputs, keys.outputs)
        return yq.astype(np.float64), None, out_sat
