"""The self-test every integer kernel passes on this machine before it is used.

Two parts, both compared with int64 products computed by NumPy (exact: every sum here is far below ``2**62``):

1. **Saturation probe.** Runs of the largest products of both signs: activation codes at the ends of their range
   (``127`` and ``-128`` signed, ``255`` and ``0`` unsigned) against weights ``127`` and ``-128``, over K = 1,024
   and at odd K. An implementation that adds pairs of ``uint8 x int8`` products into int16 with saturation
   (onnxruntime's x86 path without VNNI; ``255 x 127 x 2 = 64,770 > 32,767``) gives a wrong sum on the first row,
   and so does one that saturates or wraps int32 sums within a chunk.
2. **Random test.** Random signed and unsigned 8-bit codes against int8 weights in several shapes (K = 1, odd K,
   K beyond a typical block, M and N not multiples of any vector width, a single row and column).

:func:`self_test` returns None when every product is identical, else the reason (the first case that differed,
or the exception the kernel raised).
"""

from __future__ import annotations

import numpy as np

from ristretto_sim.emulator.kernels.base import IntegerKernel

#: shapes (M, K, N) of the random test
RANDOM_SHAPES = ((1, 1, 1), (37, 300, 19), (5, 1, 3), (64, 2049, 8), (1, 77, 1), (130, 33, 65))


def saturation_cases():
    """``(name, a, a_range, w)`` cases of the saturation probe."""
    k = 1024
    cases = []
    for signed, (lo, hi) in ((True, (-128, 127)), (False, (0, 255))):
        dtype = np.int8 if signed else np.uint8
        kind = "signed" if signed else "unsigned"
        a = np.empty((4, k), dtype=dtype)
        a[0] = hi  # hi x 127: the largest positive pairs
        a[1] = lo  # lo x -128
        a[2, 0::2], a[2, 1::2] = hi, lo  # alternating
        a[3] = hi
        a[3, k // 2:] = lo
        w = np.empty((k, 3), dtype=np.int8)
        w[:, 0] = 127
        w[:, 1] = -128
        w[0::2, 2], w[1::2, 2] = -128, 127
        cases.append((f"{kind} extreme codes x int8 extremes, K={k}", a, (lo, hi), w))
        cases.append((f"{kind} extreme codes, odd K={k - 1}", np.ascontiguousarray(a[:, 1:]), (lo, hi),
                      np.ascontiguousarray(w[1:])))
    return cases


def random_cases(seed: int = 20081):
    """``(name, a, a_range, w)`` cases of the random test (a fixed seed: the same test in every process)."""
    rng = np.random.default_rng(seed)
    cases = []
    for m, k, n in RANDOM_SHAPES:
        w = rng.integers(-128, 128, size=(k, n)).astype(np.int8)
        cases.append((f"random signed {m}x{k}x{n}", rng.integers(-128, 128, size=(m, k)).astype(np.int8),
                      (-128, 127), w))
        cases.append((f"random unsigned {m}x{k}x{n}", rng.integers(0, 256, size=(m, k)).astype(np.uint8),
                      (0, 255), w))
        cases.append((f"random int64 codes in [-100, 27] {m}x{k}x{n}", rng.integers(-100, 28, size=(m, k)),
                      (-100, 27), w))
    return cases


def self_test(kernel: IntegerKernel) -> str | None:
    """None if ``kernel`` computes every case of the probe and the random test exactly; else why not."""
    try:
        kernel.ensure_loaded()
    except Exception as exc:  # any failure to load means: not usable here, and why
        return f"cannot be loaded: {type(exc).__name__}: {exc}"
    for name, a, a_range, w in saturation_cases() + random_cases():
        want = a.astype(np.int64) @ w.astype(np.int64)
        try:
            got = kernel.matmul(a, w, a_range, 128)
        except Exception as exc:
            return f"self-test case '{name}' raised {type(exc).__name__}: {exc}"
        if got.shape != want.shape or not np.array_equal(got, want):
            bad = np.argwhere(got != want) if got.shape == want.shape else None
            where = "" if bad is None or not len(bad) else (
                f": output {tuple(int(i) for i in bad[0])} is {int(got[tuple(bad[0])])}, "
                f"exact {int(want[tuple(bad[0])])}")
            return f"self-test case '{name}' is not exact{where} (int16 pair-sum saturation?)"
    return None
