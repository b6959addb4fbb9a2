"""Elementwise layers on fixed-point codes: ReLU, addition with aligned fractions, concatenation.

* ``relu``: ``max(code, 0)``, exact, format unchanged.
* ``add_fixed``: the operands are aligned to the finer fraction ``f = max(f_a, f_b)`` by exact left shifts,
  added exactly in int64, and the sum is requantized to the output format (rounding shift, saturation), as an
  adder followed by an output stage does.
* ``concat_fixed``: each input is requantized to the common output format, then the codes are concatenated.
"""

from __future__ import annotations

import numpy as np

from ristretto_sim.emulator.accumulator import check_per_tensor
from ristretto_sim.emulator.requantize import Requantized, requantize
from ristretto_sim.formats import FixedPoint, Overflow, Rounding


def _codes(c, name):
    c = np.asarray(c)
    if c.dtype.kind not in "iu":
        raise TypeError(f"{name} must be integer codes, got dtype {c.dtype}")
    return c.astype(np.int64)


def relu(codes) -> np.ndarray:
    """ReLU on codes (or values): ``max(x, 0)``; the format is unchanged."""
    x = np.asarray(codes)
    return np.maximum(x, np.zeros((), dtype=x.dtype))


def add_fixed(
    a, a_fmt: FixedPoint, b, b_fmt: FixedPoint, out_fmt: FixedPoint, rounding=Rounding.NEAREST_EVEN, rng=None
) -> Requantized:
    """Elementwise sum of two code tensors with aligned fractions, requantized to ``out_fmt``.

    Parameters
    ----------
    a, b : arrays of int (broadcastable)
        Codes in ``a_fmt`` and ``b_fmt``.
    a_fmt, b_fmt, out_fmt : FixedPoint
        Per-tensor formats.
    rounding : Rounding or str
        Rounding of the output stage.
    rng : optional
        Stochastic rounding key.

    Returns
    -------
    Requantized
    """
    for f, n in ((a_fmt, "a_fmt"), (b_fmt, "b_fmt"), (out_fmt, "out_fmt")):
        check_per_tensor(f, n)
    a = _codes(a, "a")
    b = _codes(b, "b")
    f = max(a_fmt.frac_bits, b_fmt.frac_bits)
    width = max(a_fmt.bits + f - a_fmt.frac_bits, b_fmt.bits + f - b_fmt.frac_bits) + 1
    if width > 63:
        raise ValueError(f"aligning {a_fmt} and {b_fmt} needs {width} bits; at most 63 are supported")
    s = (a << np.int64(f - a_fmt.frac_bits)) + (b << np.int64(f - b_fmt.frac_bits))
    return requantize(s, f, out_fmt, rounding, Overflow.SATURATE, rng)


def concat_fixed(inputs, out_fmt: FixedPoint, axis: int = 1, rounding=Rounding.NEAREST_EVEN) -> Requantized:
    """Concatenate code tensors after requantizing each to ``out_fmt``.

    Parameters
    ----------
    inputs : sequence of (codes, FixedPoint)
        The tensors and their formats.
    out_fmt : FixedPoint
    axis : int
        Concatenation axis (1: channels of NCHW).
    rounding : Rounding or str

    Returns
    -------
    Requantized
        Concatenated codes; ``saturations`` summed over the inputs.
    """
    check_per_tensor(out_fmt, "out_fmt")
    if not inputs:
        raise ValueError("inputs must list at least one (codes, format) pair")
    parts, sat = [], 0
    for i, (c, f) in enumerate(inputs):
        check_per_tensor(f, f"inputs[{i}] format")
        r = requantize(_codes(c, f"inputs[{i}]"), f.frac_bits, out_fmt, rounding)
        parts.append(r.codes)
        sat += r.saturations
    return Requantized(np.concatenate(parts, axis=axis), out_fmt, sat)
