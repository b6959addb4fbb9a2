"""Named formats. The names are public API: plan files, the CLI and users refer to formats by them.

Minifloats with an outside twin (the oracle our tests compare against) are listed with it:

============  ==============================  ===================  ========
name          format                          twin                 max
============  ==============================  ===================  ========
fp32          Minifloat(8, 23)                numpy float32        3.4e38
fp16          Minifloat(5, 10)                numpy float16        65504
bf16          Minifloat(8, 7)                 ml_dtypes bfloat16   3.39e38
e5m2          Minifloat(5, 2)                 float8_e5m2          57344
e4m3          Minifloat(4, 3)                 float8_e4m3          240
e4m3fn        Minifloat(4, 3, specials=fn)    float8_e4m3fn        448
fp6_e3m2      Minifloat(3, 2, specials=none)  float6_e3m2fn        28
fp6_e2m3      Minifloat(2, 3, specials=none)  float6_e2m3fn        7.5
fp4_e2m1      Minifloat(2, 1, specials=none)  float4_e2m1fn        6
============  ==============================  ===================  ========

Maxima: IEEE 754-2019 (binary16/32), OCP 8-bit Floating Point Specification (OFP8) rev. 1.0 table 1 (E5M2 57344,
E4M3 448), OCP Microscaling Formats (MX) v1.0 §5.3 (FP6 E3M2 28, E2M3 7.5; FP4 E2M1 6); ``e4m3`` is the IEEE-style
E4M3 of ml_dtypes' ``float8_e4m3`` (top exponent reserved, max 240).
``e3m2``, ``e2m3`` and ``e2m1`` are aliases of the OCP FP6/FP4 formats. Fixed point: ``int4``, ``int8``, ``int16``,
``int32``, ``uint4``, ``uint8`` (integers, ``frac_bits = 0``).
"""

from __future__ import annotations

from types import MappingProxyType

from ristretto_sim.formats.fixed import FixedPoint
from ristretto_sim.formats.minifloat import Minifloat

_MINIFLOATS = {
    "fp32": Minifloat(8, 23),
    "fp16": Minifloat(5, 10),
    "bf16": Minifloat(8, 7),
    "e5m2": Minifloat(5, 2),
    "e4m3": Minifloat(4, 3),
    "e4m3fn": Minifloat(4, 3, specials="fn"),
    "fp6_e3m2": Minifloat(3, 2, specials="none"),
    "fp6_e2m3": Minifloat(2, 3, specials="none"),
    "fp4_e2m1": Minifloat(2, 1, specials="none"),
}
_ALIASES = {"e3m2": "fp6_e3m2", "e2m3": "fp6_e2m3", "e2m1": "fp4_e2m1"}
_FIXED = {
    "int4": FixedPoint(4, 0),
    "int8": FixedPoint(8, 0),
    "int16": FixedPoint(16, 0),
    "int32": FixedPoint(32, 0),
    "uint4": FixedPoint(4, 0, signed=False),
    "uint8": FixedPoint(8, 0, signed=False),
}

#: name -> format, aliases included (read-only)
CATALOG = MappingProxyType({**_MINIFLOATS, **{a: _MINIFLOATS[t] for a, t in _ALIASES.items()}, **_FIXED})


def catalog_name(fmt) -> str | None:
    """The preferred catalog name of a minifloat (``None`` if it has none). Fixed point is always written
    structurally (``fixed8.0``), so plan files show the fractional length."""
    for name, f in _MINIFLOATS.items():
        if f == fmt:
            return name
    return None
