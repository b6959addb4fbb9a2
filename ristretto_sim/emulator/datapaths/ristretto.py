"""Ristretto's datapath (``Mode.RISTRETTO``): what the original Caffe Ristretto computed for a Conv / Deconv /
InnerProduct layer. The input, the weights and the bias are fake-quantized with Ristretto's own quantizers, the
bias in the weights' format (it stays float for power-of-two weights, reference ``ristretto.md`` §3), the GEMM
and the bias addition run in float32, and the output is fake-quantized (§1.3). With ``cpu_compat`` a layer with
power-of-two weights quantizes neither its input nor its output (§3: the CPU code's POW2 case ``break``s before the
activation trim that the GPU code falls through to).

Every value of this datapath is a float32; ``fast_run`` computes in float32 throughout (no float64 copies) and
gives the same values and statistics as the protocol's ``run``."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from ristretto_sim.emulator.datapaths.base import AccumulatorContents, ArithmeticUnit, Datapath, Keys, Prepared
from ristretto_sim.emulator.datapaths.layer_formats import LayerFormats, Mode
from ristretto_sim.emulator.datapaths.operation import LayerKind, LayerOp
from ristretto_sim.emulator.datapaths.readout import out_of_range
from ristretto_sim.emulator.datapaths.registry import register
from ristretto_sim.emulator.datapaths.results import LayerResult, LayerStats
from ristretto_sim.emulator.ristretto_mode import float32_conv2d, float32_conv_transpose2d, ristretto_quantize
from ristretto_sim.formats import Minifloat, PowerOfTwo
from ristretto_sim.formats.saturation import clamped_outputs

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
    def quantizes_activations(self) -> bool:
        """False for Ristretto's CPU code on power-of-two weights (module docstring)."""
        return not (self.cpu_compat and isinstance(self.weights, PowerOfTwo))

    @property
    def bias_format(self):
        """The format Ristretto quantizes the bias to: the weights' (reference §1.3), none for power-of-two
        weights (the bias stays float, §3)."""
        return None if isinstance(self.weights, PowerOfTwo) else self.weights

    def fake_quantize(self, x, fmt, key):
        return ristretto_quantize(x, fmt, self.formats.rounding, self.cpu_compat, key)

    def encode_inputs(self, x: np.ndarray, keys: Keys):
        if not self.quantizes_activations:
            return np.asarray(x, dtype=np.float32)
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
        # a linear layer multiplies by a contiguous w.T: OpenBLAS is several times slower on a transposed view
        wt = np.ascontiguousarray(wq.T) if op.linear else None
        return Prepared(op, wq, bq, out_of_range(w, self.weights), bias_sat, FLOAT32, wt)

    def float32_accumulate(self, prepared: Prepared, xq: np.ndarray) -> np.ndarray:
        """The float32 GEMM of the quantized input ``xq`` plus the quantized bias."""
        op, wq, bq = prepared.op, prepared.weights, prepared.bias
        if op.linear:
            y = np.matmul(xq, prepared.extra)
        elif op.kind is LayerKind.CONV2D:
            y = float32_conv2d(xq, wq, op.geometry)
        else:
            y = float32_conv_transpose2d(xq, wq, op.geometry)
        if bq is not None:
            shape = [1] * y.ndim
            shape[op.output_axis(y.ndim)] = bq.size
            y = (y + bq.reshape(shape)).astype(np.float32)
        return y

    def accumulate(self, prepared: Prepared, x: np.ndarray, keys: Keys) -> AccumulatorContents:
        y = self.float32_accumulate(prepared, self.encode_inputs(x, keys))
        return AccumulatorContents(y, None, prepared.op.output_axis(y.ndim), "float32")

    def float32_readout(self, y: np.ndarray, keys: Keys) -> tuple[np.ndarray, int]:
        """The quantized float32 output and its saturation count."""
        if not self.quantizes_activations:
            return y, 0
        out = self.formats.outputs
        sat = clamped_outputs(y.astype(np.float64), out, lambda v, wide: self.fake_quantize(v, wide, keys.outputs),
                              elementwise=keys.outputs is None)
        return self.fake_quantize(y, out, keys.outputs), sat

    def readout(self, prepared: Prepared, acc: AccumulatorContents, keys: Keys):
        yq, out_sat = self.float32_readout(acc.codes, keys)
        return yq.astype(np.float64), None, out_sat

    def fast_run(self, prepared: Prepared, x, keys: Keys, codes: bool, float32_values: bool):
        """``run`` without float64 copies: the same values (float32 when ``float32_values``) and statistics."""
        y = self.float32_accumulate(prepared, self.encode_inputs(x, keys))
        yq, out_sat = self.float32_readout(y, keys)
        values = yq if float32_values else yq.astype(np.float64)
        stats = LayerStats(
            mode=self.mode,
            datapath=self.name,
            accumulator="float32",
            outputs=int(values.size),
            macs=prepared.op.macs(x, int(values.size)),
            output_saturations=out_sat,
            input_saturations=out_of_range(x, self.formats.inputs),
            weight_saturations=prepared.weight_saturations,
            bias_saturations=prepared.bias_saturations,
        )
        return LayerResult(values, stats, None)
