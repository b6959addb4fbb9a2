"""onnxruntime's integer element-wise and pooling operators (its ``com.microsoft`` ``QLinearAdd``,
``QLinearAveragePool``, ``QLinearGlobalAveragePool``), bit for bit as its CPU kernels compute them.

These operators are onnxruntime's own (the ONNX standard has no integer Add or pooling), documented only as real
formulas (``C = (s_a (A - z_a) + s_b (B - z_b)) / s_c + z_c``) without their rounding, so the kernels are the
definition. Each formula below was pinned down against onnxruntime 1.32's CPU execution provider on this project's
x86 machine (AVX2 and FMA) by testing candidate float32 evaluation orders on random codes and on scales built to
produce exact ties (``tests/emulator/test_onnxruntime_ops.py`` keeps that check running):

* ``QLinearAdd`` (MLAS ``qladd``): the scale ratios ``r_a = s_a / s_c``, ``r_b = s_b / s_c`` and the constant
  ``k = z_c - (r_a z_a + r_b z_b)`` in float32, then two fused multiply-adds on the raw codes,
  ``fma(a, r_a, fma(b, r_b, k))``, rounded half to even and clamped: 0 of 6,000,000 outputs differ over 60 random
  int8 and uint8 configurations (one float32 multiply and add instead of the FMA differs on about 0.4 % of them);
* ``QLinearGlobalAveragePool`` (MLAS ``MlasQLinearGlobalAveragePoolNchw``): the exact int32 sum of the codes minus
  ``n z_x``, times ``s_x / (s_y n)`` in float32, rounded half to even, plus ``z_y``, clamped;
* ``QLinearAveragePool``: each code dequantized in float32 (``(x - z_x) s_x``), the window summed in float32 row
  by row, divided by the count (the window clipped to the image unless ``count_include_pad``), divided by ``s_y``,
  ``z_y`` added in float32, then rounded half to even and clamped (rounding after the zero point: with an odd
  zero point, half the ties land one code away from rounding first).

A fused multiply-add is emulated exactly: the product of a code and a float32 is exact in float64, and the float64
sum rounded to odd then rounded once to float32 is the correctly rounded sum (Boldo and Melquiond, IEEE Trans.
Computers 57(4), 2008; ``minifloat_mac.round_to_odd_sum``).
"""

from __future__ import annotations

import numpy as np

from ristretto_sim.emulator.affine_ops import AffineResult, clamp
from ristretto_sim.emulator.minifloat_mac import round_to_odd_sum
from ristretto_sim.emulator.pooling import PoolGeometry
from ristretto_sim.formats import Affine

F32 = np.float32


def _fma32(x: np.ndarray, r: np.float32, c) -> np.ndarray:
    """``fma(x, r, c)`` in float32 for integer-valued ``x`` (exact product, one rounding)."""
    prod = np.asarray(x, dtype=np.float64) * np.float64(r)  # a code times a float32: exact in float64
    add = np.broadcast_to(np.asarray(c, dtype=np.float64), prod.shape)
    return round_to_odd_sum(prod, add).astype(F32)


def _per_tensor(*fmts: Affine) -> None:
    for f in fmts:
        if f.per_channel:
            raise ValueError(f"{f.short()}: onnxruntime's integer Add and pooling take per-tensor scales only")


def qlinear_add(q1, f1: Affine, q2, f2: Affine, out: Affine) -> AffineResult:
    """onnxruntime's ``QLinearAdd`` of codes ``q1`` (format ``f1``) and ``q2`` (``f2``, broadcasting) into
    ``out`` (module docstring)."""
    _per_tensor(f1, f2, out)
    ra = F32(F32(f1.scale) / F32(out.scale))
    rb = F32(F32(f2.scale) / F32(out.scale))
    k = F32(F32(out.zero_point) - F32(F32(ra * F32(f1.zero_point)) + F32(rb * F32(f2.zero_point))))
    a, b = np.broadcast_arrays(np.asarray(q1, dtype=np.int64), np.asarray(q2, dtype=np.int64))
    v = _fma32(a, ra, _fma32(b, rb, k))
    return clamp(np.rint(v).astype(np.int64), out.min_code, out.max_code)


def qlinear_global_avg_pool(q, fin: Affine, out: Affine) -> AffineResult:
    """onnxruntime's ``QLinearGlobalAveragePool`` of NCHW codes ``q`` (module docstring): shape (N, C, 1, 1)."""
    _per_tensor(fin, out)
    q = np.asarray(q, dtype=np.int64)
    n = q.shape[2] * q.shape[3]
    acc = q.reshape(q.shape[0], q.shape[1], -1).sum(axis=-1) - fin.zero_point * n
    scale = F32(F32(fin.scale) / F32(F32(out.scale) * F32(n)))
    v = np.rint((acc.astype(F32) * scale).astype(F32)).astype(np.int64) + out.zero_point
    return clamp(v.reshape(q.shape[0], q.shape[1], 1, 1), out.min_code, out.max_code)


def qlinear_avg_pool(q, fin: Affine, out: Affine, geometry: PoolGeometry, count_include_pad: bool) -> AffineResult:
    """onnxruntime's ``QLinearAveragePool`` of NCHW codes ``q`` (module docstring)."""
    _per_tensor(fin, out)
    q = np.asarray(q, dtype=np.int64)
    n, c, h, w = q.shape
    (kh, kw), (sh, sw) = geometry.kernel, geometry.stride
    top, left, bottom, right = geometry.padding
    ho, wo = geometry.output_size(h, w)
    deq = ((q.astype(F32) - F32(fin.zero_point)) * F32(fin.scale)).astype(F32)
    hp, wp = max(h + top + bottom, sh * (ho - 1) + kh), max(w + left + right, sw * (wo - 1) + kw)
    padded = np.zeros((n, c, hp, wp), dtype=F32)
    padded[:, :, top:top + h, left:left + w] = deq
    inside = np.zeros((hp, wp), dtype=np.int64)
    inside[top:top + h, left:left + w] = 1
    within = np.zeros((hp, wp), dtype=np.int64)
    within[:h + top + bottom, :w + left + right] = 1  # the padded input (ceil mode may reach beyond it)
    total = np.zeros((n, c, ho, wo), dtype=F32)
    count = np.zeros((ho, wo), dtype=np.int64)
    for ky in range(kh):  # row by row, as the kernel sums its window
        for kx in range(kw):
            ys, xs = slice(ky, ky + sh * (ho - 1) + 1, sh), slice(kx, kx + sw * (wo - 1) + 1, sw)
            total = (total + padded[:, :, ys, xs]).astype(F32)
            count += (within if count_include_pad else inside)[ys, xs]
    if np.any(count == 0):
        raise ValueError("average pooling window entirely in the padding")
    avg = (total / count.astype(F32)).astype(F32)
    v = ((avg / F32(out.scale)).astype(F32) + F32(out.zero_point)).astype(F32)
    return clamp(np.rint(v).astype(np.int64), out.min_code, out.max_code)
