"""Random GEMMs of the non-fixed PE kinds for the weight-stationary tests, with the emulator's accumulator codes:
``shift_matmul`` (power-of-two weights), ``kulisch_contents`` (minifloat products in a Kulisch register) and the
affine datapath's int32 accumulator (``PreparedLayer``), each the golden function the kind's PE tests use."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ristretto_sim.emulator.datapaths import LayerFormats
from ristretto_sim.emulator.layer import PreparedLayer
from ristretto_sim.emulator.minifloat_mac import kulisch_contents, minifloat_matmul
from ristretto_sim.emulator.shift_pe import ShiftPE as EmuShiftPE
from ristretto_sim.emulator.shift_pe import shift_matmul
from ristretto_sim.formats import Affine, PowerOfTwo
from ristretto_sim.rtl.registry import pe_class
from ristretto_sim.rtl.spec import PESpec
from tests.rtl.helpers import spec


@dataclass(frozen=True, eq=False)
class Gemm:
    """A PE spec, operand codes ``a`` (M, K), ``w`` (K, N), ``bias`` (N,) and the emulator's codes (M, N);
    ``values``: the minifloat emulator's readout of ``a @ w`` (NaN, an infinity where the flags say so)."""

    spec: PESpec
    a: np.ndarray
    w: np.ndarray
    bias: np.ndarray
    codes: np.ndarray
    values: np.ndarray | None = None


def readout_class(flags: dict, shape) -> np.ndarray:
    """The emulator's readout rule on a PE's flags (``_apply_flags`` of ``minifloat_mac``): NaN if ``nan`` or both
    infinities, else the infinity flagged, else 0.0 (finite: the register, rounded)."""
    out = np.zeros(shape)
    out[flags["pinf"]] = np.inf
    out[flags["ninf"]] = -np.inf
    out[flags["nan"] | (flags["pinf"] & flags["ninf"])] = np.nan
    return out


def special_class(values: np.ndarray) -> np.ndarray:
    """``values`` with every finite entry 0.0 (what :func:`readout_class` tells apart)."""
    return np.where(np.isfinite(values), 0.0, values)


def shift_gemm(m: int, k: int, n: int, overflow: str, seed: int = 0) -> Gemm:
    """fixed8.4 activations x PowerOfTwo(-6, -1) weights into a 13-bit accumulator (row 0, column 0 and the last
    column's bias at the bottom overflow: saturate or wrap), the lossless 13-bit barrel shifter."""
    s = spec("fixed8.4", PowerOfTwo(-6, -1), "fixed13.10", k=64, overflow=overflow)
    fin, fw, acc = s.formats.inputs, s.formats.weights, s.accumulator
    rng = np.random.default_rng(seed)
    a = rng.integers(fin.min_code, fin.max_code + 1, (m, k))
    a[0] = fin.max_code
    wv = fw.quantize(rng.normal(size=(k, n)) * 0.2)
    wv[:, 0] = fw.max
    b = rng.integers(acc.min_code // 2, acc.max_code // 2, n)
    b[-1] = acc.min_code + 1
    codes = shift_matmul(a, wv, fin, fw, pe=EmuShiftPE(), accumulator=acc, overflow=overflow, bias_codes=b).codes
    return Gemm(s, a, fw.encode(wv).astype(np.int64), b, np.asarray(codes))


def minifloat_gemm(m: int, k: int, n: int, fmt: str = "e4m3fn", seed: int = 0) -> Gemm:
    """Random bit patterns of ``fmt`` (NaN and Inf included: they add nothing to the register) into the exact
    Kulisch register (``e5m2``: 69 bits, Python integers), a bias of at most one product."""
    s = spec(fmt, fmt, k=16)
    f = s.formats.inputs
    rng = np.random.default_rng(seed)
    a = rng.integers(0, 1 << f.bits, (m, k))
    w = rng.integers(0, 1 << f.bits, (k, n))
    a[0, 0], w[0, 0] = int(f.encode(np.array([f.max]))[0]), int(f.encode(np.array([-f.max]))[0])
    b_codes = pe_class(s).bias_codes(s)
    bias = b_codes[rng.integers(0, len(b_codes), n)]
    contents = kulisch_contents(f.decode(a), f.decode(w), f, f).to_python()
    codes = np.empty((m, n), dtype=object)
    codes[:] = [[int(bias[j]) + int(contents[i, j]) for j in range(n)] for i in range(m)]
    with np.errstate(invalid="ignore"):  # NaN operands are the point here
        values = minifloat_matmul(f.decode(a), f.decode(w), f, f, check_operands=False).values
    return Gemm(s, a, w, bias, codes, np.asarray(values))


def affine_gemm(m: int, k: int, n: int, seed: int = 0, unsigned: bool = False, zero_points=None,
                zero_point: str = "subtract") -> Gemm:
    """int8 activations (zero point -7) x int8 weights, TFLite's int32 accumulator (wraps: a bias near the top);
    ``unsigned``: uint8 codes with zero points 128 and 120 (padding codes are the zero points, not 0);
    ``zero_points``: other ``(z_a, z_w)``; ``zero_point``: the PE spec's handling (``register``: za/zw inputs)."""
    za, zw = zero_points or ((128, 120) if unsigned else (-7, 0))
    if unsigned:
        fin, fw = Affine(8, 0.05, zero_point=za, signed=False), Affine(8, 0.02, zero_point=zw, signed=False)
    else:
        fin, fw = Affine(8, 0.05, zero_point=za), Affine(8, 0.02, zero_point=zw)
    f = LayerFormats(fin, fw, outputs=Affine(8, 0.3, zero_point=2), bias=Affine(32, 0.05 * 0.02),
                     rounding="nearest_away")
    s = PESpec(LayerFormats(fin, fw, outputs=f.outputs), k=64, zero_point=zero_point)
    rng = np.random.default_rng(seed)
    a = rng.integers(fin.min_code, fin.max_code + 1, (m, k))
    w = rng.integers(fw.min_code, fw.max_code + 1, (k, n))
    bias = rng.integers(-(1 << 31), 1 << 31, n)
    bias[0] = (1 << 31) - 1  # wraps upwards
    a[:, 0], w[0, 0] = fin.max_code, fw.max_code
    res = PreparedLayer("linear", fw.decode(w.T), f.bias.decode(bias), f)(fin.decode(a), accumulator=True)
    return Gemm(s, a, w, bias, np.asarray(res.accumulator.codes))
