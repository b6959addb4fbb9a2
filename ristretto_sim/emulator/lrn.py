"""Local response normalization across channels in Ristretto's strict minifloat arithmetic (reference §5).

``LRNRistrettoLayer`` (GPU only, ``ACROSS_CHANNELS`` only, minifloat only) quantizes, with
``q = ristretto_minifloat(., exp_bits, man_bits)`` and always round-to-nearest-even whatever the layer's
rounding scheme, every intermediate of Caffe's sliding-window scale kernel, in its order:

1. each input value read, ``q(x)``;
2. each square, ``q(q(x) * q(x))``;
3. the running sum after **every** addition and **every** subtraction (the subtracted square re-quantizes the
   old input the same way);
4. ``q(accum * alpha / size)`` (``alpha / size`` itself is not quantized);
5. ``scale = q(k + that)`` (``k`` is not quantized).

The output kernel computes ``out = q(q(x) * q(scale ** -beta))``, the power in full (float32) precision. The
arithmetic between quantizations is float32, as on the GPU. The window of channel ``c`` covers channels ``c -
(size-1)//2 .. c + size//2`` (Caffe's ``pre_pad`` / ``post_pad``). Applied in TRAIN and TEST alike.
"""

from __future__ import annotations

import numpy as np

from ristretto_sim.formats import ristretto_minifloat


def ristretto_lrn(x, size: int, alpha: float, beta: float, k: float, exp_bits: int, man_bits: int) -> np.ndarray:
    """LRN across channels with every intermediate quantized to Ristretto's minifloat (module docstring).

    Parameters
    ----------
    x : array_like of float, shape (N, C, H, W)
        Input activations.
    size : int
        Number of channels in the window (Caffe ``local_size``, odd in practice).
    alpha, beta, k : float
        Caffe's LRN parameters.
    exp_bits, man_bits : int
        Ristretto minifloat format of every intermediate.

    Returns
    -------
    ndarray of float32, shape (N, C, H, W)
    """
    if isinstance(size, bool) or not isinstance(size, (int, np.integer)) or size < 1:
        raise ValueError(f"size={size!r} must be a positive integer")
    x = np.asarray(x, dtype=np.float32)
    if x.ndim != 4:
        raise ValueError(f"x must be NCHW (4-D), got shape {x.shape}")

    def q(v):
        return ristretto_minifloat(np.asarray(v, dtype=np.float32), exp_bits, man_bits, rounding="nearest_even")

    f32 = np.float32
    channels = x.shape[1]
    pre_pad = (size - 1) // 2
    post_pad = size - pre_pad - 1
    alpha_over_size = f32(alpha / size)
    qx = q(x)
    sq = q(qx * qx)  # the squares, each quantized (re-quantizing the old input gives the same value)
    scale = np.empty_like(qx)
    accum = np.zeros(x.shape[:1] + x.shape[2:], dtype=f32)
    head = 0
    while head < post_pad and head < channels:  # accumulate only
        accum = q(accum + sq[:, head])
        head += 1
    while head < channels + post_pad:
        if head < channels:
            accum = q(accum + sq[:, head])
        if head - size >= 0:
            accum = q(accum - sq[:, head - size])
        if head >= post_pad:  # (Caffe would write before the first channel when channels < post_pad)
            scale[:, head - post_pad] = q(f32(k) + q(accum * alpha_over_size))
        head += 1
    return q(qx * q(np.power(scale, f32(-beta))))
