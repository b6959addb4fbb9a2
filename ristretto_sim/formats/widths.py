"""Formats as hardware widths: whether values of one format enter a datapath built for another without loss
(``fits_in``), and the narrowest format every one of a list fits (``widest``): what a PE description is checked
and sized with."""

from __future__ import annotations

from ristretto_sim.formats.affine import Affine
from ristretto_sim.formats.base import NumberFormat
from ristretto_sim.formats.fixed import FixedPoint
from ristretto_sim.formats.minifloat import Minifloat
from ristretto_sim.formats.pow2 import PowerOfTwo


def fits_in(fmt: NumberFormat, datapath: NumberFormat) -> bool:
    """Whether values in ``fmt`` can enter a datapath built for ``datapath`` without loss.

    Fixed point: as many bits (an unsigned operand needs one bit more in a signed datapath; a signed one never
    fits an unsigned one; the fraction is a label of the integer datapath, free); minifloat: as many exponent and
    mantissa bits; power of two: a shift range as wide. Formats of different kinds never fit.
    """
    if isinstance(datapath, FixedPoint):
        if isinstance(fmt, FixedPoint):
            needed = fmt.bits + (1 if datapath.signed and not fmt.signed else 0)
            return needed <= datapath.bits and (datapath.signed or not fmt.signed)
        return False
    if isinstance(datapath, Minifloat):
        return isinstance(fmt, Minifloat) and fmt.exp_bits <= datapath.exp_bits and fmt.man_bits <= datapath.man_bits
    if isinstance(datapath, PowerOfTwo):
        return isinstance(fmt, PowerOfTwo) and fmt.shift_range <= datapath.shift_range
    if isinstance(datapath, Affine):  # the integer datapath takes codes; scales and zero points are labels
        if not isinstance(fmt, Affine) or (fmt.signed and not datapath.signed):
            return False
        return fmt.bits + (datapath.signed and not fmt.signed) <= datapath.bits  # an unsigned code needs a sign bit
    raise TypeError(f"datapath={datapath!r} must be a FixedPoint, Minifloat, PowerOfTwo or Affine")


def format_kind(fmt: NumberFormat) -> str:
    """``fixed``, ``minifloat``, ``pow2`` or ``affine``: the kind of number a format is."""
    for cls, name in ((FixedPoint, "fixed"), (Minifloat, "minifloat"), (PowerOfTwo, "pow2"), (Affine, "affine")):
        if isinstance(fmt, cls):
            return name
    raise TypeError(f"{fmt!r} is not a FixedPoint, Minifloat, PowerOfTwo or Affine")


def widest(fmts, name: str = "formats") -> NumberFormat:
    """The narrowest format that every format in ``fmts`` fits (``fits_in``): the widest per field.

    Fixed point: the most bits (one more for unsigned values when any is signed), fraction 0; minifloat: the
    most exponent and mantissa bits; power of two: the union of the exponent ranges.

    Raises
    ------
    ValueError
        If ``fmts`` is empty or mixes kinds (one datapath cannot serve them); the message names ``name``.
    """
    fmts = list(fmts)
    if not fmts:
        raise ValueError(f"{name}: no formats to take the widest of")
    kinds = sorted({format_kind(f) for f in fmts})
    if len(kinds) != 1:
        raise ValueError(
            f"the layers' {name} formats mix kinds ({', '.join(kinds)}); one PE datapath cannot serve them"
        )
    if kinds[0] == "fixed":
        signed = any(f.signed for f in fmts)
        bits = max(f.bits + (1 if signed and not f.signed else 0) for f in fmts)
        return FixedPoint(bits, 0, signed=signed)
    if kinds[0] == "minifloat":
        return Minifloat(max(f.exp_bits for f in fmts), max(f.man_bits for f in fmts))
    if kinds[0] == "affine":  # widths only: unit scale, zero point 0
        signed = any(f.signed for f in fmts)
        return Affine(max(f.bits + (1 if signed and not f.signed else 0) for f in fmts), 1.0, signed=signed)
    return PowerOfTwo(min(f.exp_min for f in fmts), max(f.exp_max for f in fmts))
