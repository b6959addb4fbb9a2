"""The compact text form of formats: ``parse_format`` and the canonical ``str(fmt)``.

Grammar (case-insensitive, spaces ignored)::

    fixed{bits}.{frac}          signed fixed point, frac may be negative:       fixed8.7  fixed8.-3  fixed32.16
    ufixed{bits}.{frac}         unsigned fixed point:                            ufixed8.0
    fixed{bits}.({f0},{f1},..)  per-channel fractional lengths (axis 0):         fixed8.(7,6,7)
    e{E}m{M}                    minifloat, IEEE specials, default bias:          e5m2  e4m3  e8m23
    e{E}m{M}fn                  OCP "finite" specials (one NaN code per sign):   e4m3fn
    e{E}m{M}[opt,...]           options: bias=N, nosub, specials=ieee|fn|none:   e4m3[bias=8,nosub]  e3m2[specials=ieee]
    pow2[{min},{max}]           power of two with zero, log-domain rounding:     pow2[-8,-1]
    pow2[{min},{max},opt,...]   options: nozero, linear:                         pow2[-8,-1,nozero]
    affine{bits}[s=S,z=Z]       affine integers, value = S * (code - Z):         affine8[s=0.0235,z=-128]
    uaffine{bits}[s=S,z=Z]      unsigned affine integers (uint8):                uaffine8[s=0.5,z=128]
    affine{bits}[s=(S0,S1,..),z=Z,axis=A]  per-channel scales along axis A:      affine8[s=(0.01,0.02),axis=0]
    <catalog name>              int8, fp16, bf16, e4m3fn, fp6_e3m2, e2m1, ... (see ``catalog``)

Catalog names win over the structural reading: ``e2m1`` is the OCP FP4 format (no specials), and the IEEE-style
format with 2 exponent and 1 mantissa bits is written ``e2m1[specials=ieee]``. ``str(fmt)`` is canonical:
the catalog name of a catalog minifloat, otherwise the structural form with only non-default options; always
``parse_format(str(fmt)) == fmt``.
"""

from __future__ import annotations

import re

from ristretto_sim.errors import FormatError
from ristretto_sim.formats.affine import Affine
from ristretto_sim.formats.catalog import CATALOG, catalog_name
from ristretto_sim.formats.fixed import FixedPoint
from ristretto_sim.formats.minifloat import Minifloat, Specials
from ristretto_sim.formats.pow2 import Domain, PowerOfTwo

_INT = r"[+-]?\d+"
_FIXED_RE = re.compile(rf"^(u?)fixed(\d+)\.(?:({_INT})|\(({_INT}(?:,{_INT})*)\))$")
_MINI_RE = re.compile(r"^e(\d+)m(\d+)(fn)?(?:\[([^\]]*)\])?$")
_POW2_RE = re.compile(rf"^pow2\[({_INT}),({_INT})((?:,[a-z]+)*)\]$")
_AFFINE_RE = re.compile(r"^(u?)affine(\d+)\[([^\]]*)\]$")
_AFFINE_OPT = re.compile(r"([a-z_]+)=(\([^)]*\)|[^,()]+)(?:,|$)")

GRAMMAR_HINT = "e.g. fixed8.7, ufixed8.0, fixed8.-3, e4m3fn, e5m2, fp16, pow2[-8,-1], int8 (see the README)"


def parse_format(text: str):
    """Parse the text form of a format (module docstring) into a format object.

    Raises
    ------
    FormatError
        If ``text`` does not follow the grammar or names an impossible format; the message names the text.
    """
    if not isinstance(text, str):
        raise TypeError(f"format text must be a string, got {type(text).__name__}: {text!r}")
    s = re.sub(r"\s+", "", text).lower()
    try:
        if s in CATALOG:
            return CATALOG[s]
        if m := _FIXED_RE.match(s):
            signed = m.group(1) != "u"
            bits = int(m.group(2))
            frac = int(m.group(3)) if m.group(3) is not None else tuple(int(v) for v in m.group(4).split(","))
            return FixedPoint(bits, frac, signed=signed)
        if m := _MINI_RE.match(s):
            kwargs = {"specials": "fn" if m.group(3) else "ieee"}
            for opt in filter(None, (m.group(4) or "").split(",")):
                key, _, value = opt.partition("=")
                if key == "bias" and value:
                    kwargs["bias"] = int(value)
                elif key == "nosub" and not value:
                    kwargs["subnormals"] = False
                elif key == "specials" and value and not m.group(3):
                    kwargs["specials"] = value
                else:
                    raise FormatError(f"unknown minifloat option {opt!r} in {text!r} (bias=N, nosub, specials=...)")
            return Minifloat(int(m.group(1)), int(m.group(2)), **kwargs)
        if m := _POW2_RE.match(s):
            kwargs = {}
            for opt in filter(None, m.group(3).split(",")):
                if opt == "nozero":
                    kwargs["has_zero"] = False
                elif opt == "linear":
                    kwargs["domain"] = "linear"
                elif opt == "log":
                    kwargs["domain"] = "log"
                else:
                    raise FormatError(f"unknown power-of-two option {opt!r} in {text!r} (nozero, linear)")
            return PowerOfTwo(int(m.group(1)), int(m.group(2)), **kwargs)
        if m := _AFFINE_RE.match(s):
            return _affine(m, text)
    except FormatError:
        raise
    except (ValueError, TypeError) as exc:
        raise FormatError(f"invalid format {text!r}: {exc}") from None
    raise FormatError(f"cannot parse format {text!r}; {GRAMMAR_HINT}")


def _affine(m, text: str) -> Affine:
    body, kwargs, pos = m.group(3), {}, 0
    names = {"s": "scale", "scale": "scale", "z": "zero_point", "zp": "zero_point", "zero_point": "zero_point",
             "axis": "axis"}
    while pos < len(body):
        opt = _AFFINE_OPT.match(body, pos)
        if opt is None or opt.group(1) not in names:
            raise FormatError(f"cannot read affine option {body[pos:]!r} in {text!r} (s=SCALE or s=(S0,S1,...), "
                              "z=ZERO_POINT, axis=A)")
        key, value = names[opt.group(1)], opt.group(2)
        items = value[1:-1].split(",") if value.startswith("(") else [value]
        conv = float if key == "scale" else int
        vals = tuple(conv(v) for v in items)
        kwargs[key] = vals if value.startswith("(") else vals[0]
        pos = opt.end()
    if "scale" not in kwargs:
        raise FormatError(f"affine format {text!r} needs a scale (s=...)")
    return Affine(int(m.group(2)), signed=m.group(1) != "u", **kwargs)


def format_to_string(fmt) -> str:
    """Canonical text of a format (module docstring)."""
    if isinstance(fmt, Affine):
        prefix = "affine" if fmt.signed else "uaffine"
        if fmt.per_channel:
            zp = fmt.zero_point
            z = f"({','.join(str(v) for v in zp)})" if isinstance(zp, tuple) else str(zp)
            return f"{prefix}{fmt.bits}[s=({','.join(repr(v) for v in fmt.scale)}),z={z},axis={fmt.axis}]"
        return f"{prefix}{fmt.bits}[s={fmt.scale!r},z={fmt.zero_point}]"
    if isinstance(fmt, FixedPoint):
        prefix = "fixed" if fmt.signed else "ufixed"
        if fmt.per_channel:
            return f"{prefix}{fmt.bits}.({','.join(str(f) for f in fmt.frac_bits)})"
        return f"{prefix}{fmt.bits}.{fmt.frac_bits}"
    if isinstance(fmt, Minifloat):
        name = catalog_name(fmt)
        if name is not None:
            return name
        opts = []
        if fmt.bias != (1 << (fmt.exp_bits - 1)) - 1:
            opts.append(f"bias={fmt.bias}")
        if not fmt.subnormals:
            opts.append("nosub")
        base = f"e{fmt.exp_bits}m{fmt.man_bits}"
        if fmt.specials is Specials.FN:
            base += "fn"
        elif fmt.specials is Specials.NONE:
            opts.append("specials=none")
        text = base + (f"[{','.join(opts)}]" if opts else "")
        if parse_format(text) != fmt:  # the structural name is taken by a catalog alias
            opts.append(f"specials={fmt.specials.value}")
            text = base + f"[{','.join(opts)}]"
        return text
    if isinstance(fmt, PowerOfTwo):
        opts = ([] if fmt.has_zero else ["nozero"]) + (["linear"] if fmt.domain is Domain.LINEAR else [])
        return f"pow2[{fmt.exp_min},{fmt.exp_max}{''.join(',' + o for o in opts)}]"
    raise TypeError(f"not a number format: {fmt!r}")
