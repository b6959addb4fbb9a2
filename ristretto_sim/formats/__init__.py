"""What a number is: fixed point, minifloat, power-of-two and affine integer formats, rounding, text form, catalog,
range analysis.

Every format object (frozen, validated) offers ``quantize``, ``encode``, ``decode``, ``values`` and ``bits``, with
``decode(encode(x)) == quantize(x)`` exactly; ``parse_format(str(fmt)) == fmt``. NumPy only.
"""

from ristretto_sim.formats.affine import Affine
from ristretto_sim.formats.base import NumberFormat
from ristretto_sim.formats.catalog import CATALOG
from ristretto_sim.formats.fixed import FixedPoint
from ristretto_sim.formats.minifloat import Minifloat, Specials
from ristretto_sim.formats.pow2 import Domain, PowerOfTwo
from ristretto_sim.formats.range import (
    RangeRule,
    fixed_point_for_range,
    max_abs,
    minifloat_for_range,
    ristretto_integer_length,
    ristretto_minifloat_exp_bits,
)
from ristretto_sim.formats.ristretto import (
    fast_ristretto_fixed_point,
    ristretto_fixed_point,
    ristretto_minifloat,
    ristretto_power_of_two,
)
from ristretto_sim.formats.rounding import Overflow, Rounding, StochasticKey
from ristretto_sim.formats.text import parse_format
from ristretto_sim.formats.widths import fits_in, format_kind, widest


def catalog(name: str):
    """The catalog format called ``name`` (``KeyError`` lists the names)."""
    try:
        return CATALOG[name.lower()]
    except KeyError:
        raise KeyError(f"no catalog format {name!r}; known: {', '.join(sorted(CATALOG))}") from None


__all__ = [
    "Affine",
    "fits_in",
    "format_kind",
    "widest",
    "CATALOG",
    "Domain",
    "FixedPoint",
    "Minifloat",
    "NumberFormat",
    "Overflow",
    "PowerOfTwo",
    "RangeRule",
    "Rounding",
    "Specials",
    "StochasticKey",
    "catalog",
    "fixed_point_for_range",
    "max_abs",
    "minifloat_for_range",
    "parse_format",
    "fast_ristretto_fixed_point",
    "ristretto_fixed_point",
    "ristretto_integer_length",
    "ristretto_minifloat",
    "ristretto_minifloat_exp_bits",
    "ristretto_power_of_two",
]
