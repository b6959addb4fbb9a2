"""Ristretto mode: what the original Caffe Ristretto computed for a Conv / Deconv / InnerProduct layer.

Reference ``ristretto.md`` §1.3 and §10: the layer input, the weights and the bias are fake-quantized (float
in, float out) with Ristretto's own quantizers (``ristretto_fixed_point``, ``ristretto_minifloat``,
``ristretto_power_of_two``); **the bias uses the weights' format** (for power-of-two weights the bias stays
float, §3); the GEMM and the bias addition run in ordinary float32 arithmetic, with no accumulator width
simulated and nothing rounded between the GEMM and the output quantization; then the output is quantized with
the output format. GPU semantics by default (ties to even); ``cpu_compat=True`` selects the CPU quirks of the
quantizers.

In-place quantization of shared blobs and Caffe's execution order are the graph runner's business, not this
module's: here each call quantizes its own copy of the input.
"""

from __future__ import annotations

import numpy as np

from ristretto_sim.emulator.im2col import ConvGeometry, im2col_conv, transposed_as_direct
from ristretto_sim.formats import (
    FixedPoint,
    Minifloat,
    PowerOfTwo,
    ristretto_fixed_point,
    ristretto_minifloat,
    ristretto_power_of_two,
)


def ristretto_quantize(x, fmt, rounding="nearest_even", cpu_compat: bool = False, rng=None) -> np.ndarray:
    """Fake-quantize ``x`` the way Ristretto does for ``fmt`` (float32 values out).

    Parameters
    ----------
    x : array_like of float
    fmt : FixedPoint, Minifloat or PowerOfTwo
        ``FixedPoint`` -> dynamic fixed point ``(bits, frac_bits)`` (per-channel fractions along axis 0 are
        applied slice by slice; Ristretto itself had none); ``Minifloat`` -> ``(exp_bits, man_bits)`` with
        Ristretto's bias, no subnormals and no specials (the format's other fields are ignored);
        ``PowerOfTwo`` -> ``[exp_min, exp_max]`` (zero becomes ``+2**exp_min``).
    rounding : Rounding or str
        ``nearest_even`` (GPU ``rint``), ``nearest_away`` (CPU ``round``) or ``stochastic``.
    cpu_compat : bool
        Reproduce Ristretto's CPU code paths.
    rng : optional
        Seed for stochastic rounding.
    """
    if fmt is None:
        return np.asarray(x, dtype=np.float32)
    if isinstance(fmt, FixedPoint):
        if not fmt.signed:
            raise ValueError(f"Ristretto's dynamic fixed point is signed; format {fmt} is unsigned")
        if fmt.per_channel:
            x = np.asarray(x)
            if x.shape[:1] != (len(fmt.frac_bits),):
                raise ValueError(f"per-channel format {fmt} does not match a tensor of shape {x.shape}")
            return np.stack(
                [
                    ristretto_fixed_point(x[i], fmt.bits, f, rounding=rounding, cpu_compat=cpu_compat, rng=rng)
                    for i, f in enumerate(fmt.frac_bits)
                ]
            ).astype(np.float32)
        return ristretto_fixed_point(x, fmt.bits, fmt.frac_bits, rounding=rounding, cpu_compat=cpu_compat, rng=rng)
    if isinstance(fmt, Minifloat):
        return ristretto_minifloat(x, fmt.exp_bits, fmt.man_bits, rounding=rounding, cpu_compat=cpu_compat, rng=rng)
    if isinstance(fmt, PowerOfTwo):
        return ristretto_power_of_two(x, fmt.exp_min, fmt.exp_max, rounding=rounding, cpu_compat=cpu_compat, rng=rng)
    raise TypeError(f"format {fmt!r} is not a FixedPoint, Minifloat or PowerOfTwo")


def float32_conv2d(x32: np.ndarray, w32: np.ndarray, geometry: ConvGeometry, pad=None) -> np.ndarray:
    """Float32 convolution (NCHW x OIHW -> NCHW) by im2col and float32 GEMMs, as Caffe forward_cpu_gemm."""
    pad = geometry.padding if pad is None else pad
    x32, w32 = x32.astype(np.float32, copy=False), w32.astype(np.float32, copy=False)
    return im2col_conv(x32, w32, pad, geometry, np.float32, np.matmul)


def float32_conv_transpose2d(x32: np.ndarray, w32: np.ndarray, geometry: ConvGeometry) -> np.ndarray:
    """Float32 transposed convolution (``w`` is ``(C_in, C_out/groups, kh, kw)``)."""
    xd, wd, pad, gd = transposed_as_direct(np.asarray(x32, dtype=np.float32), np.asarray(w32, np.float32), geometry)
    return float32_conv2d(xd, wd, gd, pad)
