"""Ristretto mode: what the original Caffe Ristretto computed for a Conv / Deconv / InnerProduct layer.

Reference ``ristretto.md`` §1.3 and §10: the layer input, the weights and the bias are fake-quantized (float
in, float out) with Ristretto's own quantizers (``ristretto_fixed_point``, ``ristretto_minifloat``,
``ristretto_power_of_two``); **the bias uses the weights' format** (for power-of-two weights the bias stays
float, §3); the GEMM and the bias addition run in ordinary float32 arithmetic, with no accumulator width
simulated and nothing rounded between the GEMM and the output quantization; then the output is quantized with
the output format. GPU semantics by default (ties to even); ``cpu_compat=True`` selects the CPU quirks of the
quantizers.

In-place quantization of shared blobs and Caffe's execution order are the executor's business
(``runtime.executor``), not this module's: here each call quantizes its own copy of the input.
"""

from __future__ import annotations

import numpy as np

from ristretto_sim.emulator.im2col import ConvGeometry, im2col_conv_nchw, transposed_as_direct
from ristretto_sim.formats.ristretto import ristretto_quantize

__all__ = ["float32_conv2d", "float32_conv_transpose2d", "ristretto_quantize"]


def float32_conv2d(x32: np.ndarray, w32: np.ndarray, geometry: ConvGeometry, pad=None) -> np.ndarray:
    """Float32 convolution (NCHW x OIHW -> NCHW) by im2col and float32 GEMMs, as Caffe forward_cpu_gemm
    (``im2col.im2col_conv_nchw``)."""
    pad = geometry.padding if pad is None else pad
    x32, w32 = x32.astype(np.float32, copy=False), w32.astype(np.float32, copy=False)
    return im2col_conv_nchw(x32, w32, pad, geometry, np.float32)


def float32_conv_transpose2d(x32: np.ndarray, w32: np.ndarray, geometry: ConvGeometry) -> np.ndarray:
    """Float32 transposed convolution (``w`` is ``(C_in, C_out/groups, kh, kw)``)."""
    xd, wd, pad, gd = transposed_as_direct(np.asarray(x32, dtype=np.float32), np.asarray(w32, np.float32), geometry)
    return float32_conv2d(xd, wd, gd, pad)
