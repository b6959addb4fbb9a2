"""C header export of the packed weights, for microcontroller and HLS users.

``c_header(packed, prefix="lenet")`` returns the text of a self-contained C99 header: every tensor of a
``PackedWeights`` as a ``static const uint8_t`` array holding exactly the bitstream of the packed weights file
(``io.weights.packed``: LSB-first, byte-aligned per tensor, row-major), followed by 8 zero bytes so the decode
macro may read a whole 64-bit window, plus its shape, width, format text and an ``rsw_tensor`` descriptor; and the
decode macros::

    RSW_UCODE(data, bits, i)   the i-th code as uint64_t (unsigned bit pattern), bits 1..57
    RSW_SCODE(data, bits, i)   the i-th code sign-extended to int64_t (two's complement fixed point)
    RSW_FIXED(code, frac)      value of a fixed-point code: code * 2^-frac (double)
    rsw_value(&tensor, i)      value of element i of a descriptor, any kind (fixed, per-channel fixed,
                               minifloat, power of two, affine integer, float32), as double

For each tensor ``<PREFIX>_<LAYER>_<PARAM>`` there are ``..._BITS``, ``..._COUNT``, ``..._SIGNED``, for fixed point
``..._FRAC`` (per tensor) or the array ``..._frac[]`` (per channel), for an affine integer format (int8 models)
``..._SCALE`` and ``..._ZERO_POINT`` (per tensor, the scale as an exact C99 hex literal) or the arrays
``..._scale[]`` and ``..._zero_point[]`` (per channel, along the format's axis: the value of a code is
``(code - zero_point) * scale``, the double the emulator decodes), the array ``..._data[]`` and the
descriptor ``..._desc``; ``<prefix>_tensors[]`` lists all descriptors. Codes wider than 57 bits (only wide
accumulator biases can be) are a ``ValueError``: the 64-bit window cannot hold them.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from ristretto_sim.formats import Affine, FixedPoint, Minifloat, PowerOfTwo, Specials
from ristretto_sim.io.weights.packed import PackedWeights, pack_bits
from ristretto_sim.io.weights.quantized import Float32Format

MAX_C_BITS = 57

_PRELUDE = r"""#include <stdint.h>
#include <stddef.h>
#include <string.h>
#include <math.h>

#ifndef RSW_DECODE_DEFINED
#define RSW_DECODE_DEFINED
/* little-endian 64-bit window starting at byte pointer p */
#define RSW_U64LE(p) ((uint64_t)(p)[0] | (uint64_t)(p)[1] << 8 | (uint64_t)(p)[2] << 16 | \
                      (uint64_t)(p)[3] << 24 | (uint64_t)(p)[4] << 32 | (uint64_t)(p)[5] << 40 | \
                      (uint64_t)(p)[6] << 48 | (uint64_t)(p)[7] << 56)
#define RSW_MASK(bits) (~(uint64_t)0 >> (64 - (bits)))
/* code i of a dense LSB-first bitstream of `bits`-bit codes (1 <= bits <= 57) */
#define RSW_UCODE(data, bits, i) \
    ((RSW_U64LE((const uint8_t *)(data) + (((uint64_t)(i) * (uint64_t)(bits)) >> 3)) >> \
      (((uint64_t)(i) * (uint64_t)(bits)) & 7u)) & RSW_MASK(bits))
/* the same code read as two's complement */
#define RSW_SCODE(data, bits, i) \
    ((int64_t)(RSW_UCODE(data, bits, i) ^ ((uint64_t)1 << ((bits) - 1))) - (int64_t)((uint64_t)1 << ((bits) - 1)))
/* value of a fixed-point code with `frac` fractional bits */
#define RSW_FIXED(code, frac) ldexp((double)(code), -(frac))

enum rsw_kind { RSW_FIXED_POINT = 0, RSW_MINIFLOAT = 1, RSW_POW2 = 2, RSW_FLOAT32 = 3, RSW_AFFINE = 4 };
enum rsw_specials { RSW_SPECIALS_IEEE = 0, RSW_SPECIALS_FN = 1, RSW_SPECIALS_NONE = 2 };

struct rsw_tensor {
    const char *name;       /* layer.param */
    const char *format;     /* ristretto-sim format text */
    int kind;               /* enum rsw_kind */
    int bits;               /* code width */
    int is_signed;          /* fixed point: two's complement codes */
    size_t count;           /* number of codes */
    size_t channels;        /* per-channel fixed point / affine: number of channels, else 0 */
    int frac;               /* fixed point: fractional bits (per tensor) */
    const int *fracs;       /* per-channel fractional bits, or NULL */
    int exp_bits, man_bits, bias, subnormals, specials;   /* minifloat */
    int exp_min, has_zero;  /* power of two */
    double scale;           /* affine: (code - zero_point) * scale (per tensor) */
    int zero_point;
    const double *scales;   /* affine per channel: scales and zero points, or NULL */
    const int *zero_points;
    size_t axis_inner;      /* affine per channel: elements after the channel axis (channel = i / inner % channels) */
    int ndim;
    size_t shape[4];
    const uint8_t *data;
};

static inline double rsw_minifloat_value(uint64_t c, int e, int m, int bias, int sub, int specials)
{
    uint64_t man = c & (((uint64_t)1 << m) - 1);
    int field = (int)((c >> m) & (((uint64_t)1 << e) - 1));
    int neg = (int)((c >> (e + m)) & 1u);
    int top = (1 << e) - 1;
    double mag;
    if (specials == RSW_SPECIALS_IEEE && field == top)
        mag = man == 0 ? INFINITY : NAN;
    else if (specials == RSW_SPECIALS_FN && field == top && man == (((uint64_t)1 << m) - 1))
        mag = NAN;
    else if (field > 0)
        mag = ldexp((double)(man + ((uint64_t)1 << m)), field - bias - m);
    else
        mag = sub ? ldexp((double)man, 1 - bias - m) : 0.0;
    return neg ? -mag : mag;
}

static inline double rsw_pow2_value(uint64_t c, int bits, int exp_min, int has_zero)
{
    uint64_t mag = c & (((uint64_t)1 << (bits - 1)) - 1);
    int neg = (int)(c >> (bits - 1));
    double v;
    if (has_zero && mag == 0)
        return 0.0;
    v = ldexp(1.0, exp_min + (int)mag - has_zero);
    return neg ? -v : v;
}

/* value of element i of a tensor (row-major), whatever its format */
static inline double rsw_value(const struct rsw_tensor *t, size_t i)
{
    uint64_t u = RSW_UCODE(t->data, t->bits, i);
    switch (t->kind) {
    case RSW_FIXED_POINT: {
        int frac = t->fracs ? t->fracs[i / (t->count / t->channels)] : t->frac;
        if (t->is_signed)
            return RSW_FIXED(RSW_SCODE(t->data, t->bits, i), frac);
        return ldexp((double)u, -frac);
    }
    case RSW_MINIFLOAT:
        return rsw_minifloat_value(u, t->exp_bits, t->man_bits, t->bias, t->subnormals, t->specials);
    case RSW_POW2:
        return rsw_pow2_value(u, t->bits, t->exp_min, t->has_zero);
    case RSW_AFFINE: {
        int64_t code = t->is_signed ? RSW_SCODE(t->data, t->bits, i) : (int64_t)u;
        size_t ch = t->scales ? (i / t->axis_inner) % t->channels : 0;
        double scale = t->scales ? t->scales[ch] : t->scale;
        int zero_point = t->zero_points ? t->zero_points[ch] : t->zero_point;
        return (double)(code - zero_point) * scale;
    }
    default: {
        uint32_t w = (uint32_t)u;
        float f;
        memcpy(&f, &w, sizeof f);
        return (double)f;
    }
    }
}
#endif /* RSW_DECODE_DEFINED */
"""


def _ident(text: str) -> str:
    s = re.sub(r"[^0-9A-Za-z_]", "_", text)
    return s if s and not s[0].isdigit() else "_" + s


def _bytes_c(data: bytes, per_line: int = 20) -> str:
    lines = []
    for i in range(0, len(data), per_line):
        lines.append("    " + ", ".join(f"0x{b:02x}" for b in data[i : i + per_line]) + ",")
    return "\n".join(lines)


def c_header(packed: PackedWeights, prefix: str | None = None) -> str:
    """The C header text of ``packed`` (module docstring).

    Parameters
    ----------
    packed : PackedWeights
    prefix : str, optional
        Name prefix of every symbol (default: the model's name; made a C identifier).

    Raises
    ------
    ValueError
        If a tensor's codes are wider than 57 bits.
    """
    if not isinstance(packed, PackedWeights):
        raise TypeError(f"packed={packed!r} must be a PackedWeights")
    prefix = _ident((prefix if prefix is not None else packed.model) or "model").lower()
    guard = f"RSW_{prefix.upper()}_WEIGHTS_H"
    out = [
        f"/* {prefix}: quantized weights packed by ristretto-sim ({packed.mode} mode).",
        " * Each array is the LSB-first bitstream of the packed weights file: bit j of code i is bit (i*bits+j) % 8",
        " * of byte (i*bits+j) / 8; row-major (OIHW for convolutions); 8 zero bytes of padding at the end.",
        " * Decode: RSW_SCODE/RSW_UCODE(data, bits, i) for codes, rsw_value(&desc, i) for values. */",
        f"#ifndef {guard}",
        f"#define {guard}",
        _PRELUDE,
    ]
    descs = []
    for t in packed.tensors:
        fmt = t.fmt
        if fmt.bits > MAX_C_BITS:
            raise ValueError(
                f"{t.name}: {fmt} has {fmt.bits}-bit codes; the C decode macro reads at most {MAX_C_BITS}"
            )
        base = f"{prefix}_{_ident(t.layer)}_{t.param}".lower()
        up = base.upper()
        data = pack_bits(t.codes, fmt.bits)
        shape = list(t.shape)
        out.append(f"/* {t.name}: format {fmt}, shape {'x'.join(map(str, shape)) or 'scalar'}, "
                   f"{'two' + chr(39) + 's complement' if t.signed else 'unsigned'} codes */")
        out.append(f"#define {up}_BITS {fmt.bits}")
        out.append(f"#define {up}_COUNT {t.codes.size}u")
        out.append(f"#define {up}_SIGNED {int(t.signed)}")
        frac, fracs, channels = 0, "NULL", 0
        kind = "RSW_FLOAT32"
        mf = {"exp_bits": 0, "man_bits": 0, "bias": 0, "subnormals": 0, "specials": 0}
        p2 = {"exp_min": 0, "has_zero": 0}
        af = {"scale": "0.0", "zero_point": 0, "scales": "NULL", "zero_points": "NULL", "inner": 0}
        if isinstance(fmt, FixedPoint):
            kind = "RSW_FIXED_POINT"
            if fmt.per_channel:
                channels = len(fmt.frac_bits)
                fracs = f"{base}_frac"
                out.append(f"static const int {base}_frac[{channels}] = {{{', '.join(map(str, fmt.frac_bits))}}};")
            else:
                frac = fmt.frac_bits
                out.append(f"#define {up}_FRAC {frac}")
        elif isinstance(fmt, Minifloat):
            kind = "RSW_MINIFLOAT"
            spec = {Specials.IEEE: 0, Specials.FN: 1, Specials.NONE: 2}[fmt.specials]
            mf = {"exp_bits": fmt.exp_bits, "man_bits": fmt.man_bits, "bias": fmt.bias,
                  "subnormals": int(fmt.subnormals), "specials": spec}
        elif isinstance(fmt, PowerOfTwo):
            kind = "RSW_POW2"
            p2 = {"exp_min": fmt.exp_min, "has_zero": int(fmt.has_zero)}
        elif isinstance(fmt, Affine):
            kind = "RSW_AFFINE"
            if fmt.per_channel:
                channels = fmt.channels
                af["scales"], af["zero_points"] = f"{base}_scale", f"{base}_zero_point"
                af["inner"] = int(np.prod(shape[fmt.axis + 1:], dtype=np.int64))
                out.append(f"static const double {base}_scale[{channels}] = "
                           f"{{{', '.join(float(v).hex() for v in fmt.scale_array())}}};")
                out.append(f"static const int {base}_zero_point[{channels}] = "
                           f"{{{', '.join(str(int(z)) for z in fmt.zero_point_array())}}};")
            else:
                af["scale"], af["zero_point"] = float(fmt.scale).hex(), int(fmt.zero_point)
                out.append(f"#define {up}_SCALE {af['scale']} /* {float(fmt.scale)!r} */")
                out.append(f"#define {up}_ZERO_POINT {af['zero_point']}")
        elif not isinstance(fmt, Float32Format):
            text = fmt.short() if hasattr(fmt, "short") else str(fmt)
            raise ValueError(f"{t.name}: format {text} has no C header encoding "
                             "(fixed point, minifloat, power of two, affine integer and float32 have)")
        out.append(f"static const uint8_t {base}_data[{len(data)} + 8] = {{")
        if data:
            out.append(_bytes_c(data))
        out.append("};")
        dims = (shape + [0, 0, 0, 0])[:4] if len(shape) <= 4 else shape[:4]
        out.append(
            f"static const struct rsw_tensor {base}_desc = {{\"{t.name}\", \"{fmt}\", {kind}, {fmt.bits}, "
            f"{int(t.signed)}, {t.codes.size}u, {channels}u, {frac}, {fracs}, {mf['exp_bits']}, {mf['man_bits']}, "
            f"{mf['bias']}, {mf['subnormals']}, {mf['specials']}, {p2['exp_min']}, {p2['has_zero']}, "
            f"{af['scale']}, {af['zero_point']}, {af['scales']}, {af['zero_points']}, {af['inner']}u, "
            f"{len(shape)}, {{{', '.join(f'{d}u' for d in dims)}}}, {base}_data}};"
        )
        out.append("")
        descs.append(f"&{base}_desc")
    out.append(f"#define {prefix.upper()}_N_TENSORS {len(descs)}")
    out.append(f"static const struct rsw_tensor *const {prefix}_tensors[{len(descs)}] = {{")
    out.append("    " + ", ".join(descs))
    out.append("};")
    out.append(f"#endif /* {guard} */")
    return "\n".join(out) + "\n"


def save_c_header(path, packed: PackedWeights, prefix: str | None = None) -> int:
    """Write ``c_header(packed, prefix)`` to ``path``; return its size in bytes."""
    text = c_header(packed, prefix)
    Path(path).write_text(text)
    return len(text.encode())
