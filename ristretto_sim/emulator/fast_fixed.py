"""Fast exact path of a fixed-point Conv2d / Dense layer whose accumulator provably cannot overflow.

:func:`~ristretto_sim.emulator.layer.emulate_layer` walks the general accumulator contract (int64 codes, column
bounds from the data, chunked K, saturation walk, integer rounding shift). For the common case, 8-bit operands
into a 32-bit accumulator, almost all of that work is unnecessary, and this module does the same arithmetic in
a handful of passes over float arrays. It is used only when, for the batch at hand, the following bounds hold;
otherwise the caller runs the general path (so every result is still bit-exact).

Exactness argument
------------------
Let ``A`` bound the magnitude of every input code (first the format's maximum ``max(-min_code, max_code)``,
which needs no data pass; only when that bound is too weak, the data's, from the input's min and max, which
rounding maps to the extreme codes because rounding is monotone), and let ``W_n = sum_k |w[k, n]|`` (weights'
codes, computed once per layer). Every partial sum of output ``n``, in any order and with any blocking, lies in
``[-A W_n, A W_n]``.

* **GEMM.** If ``A * max_n W_n <= 2**24`` (``2**53``), every partial sum is an integer exactly representable in
  float32 (float64), so the BLAS GEMM of the codes, held as float32 (float64), is exact whatever its
  summation order, blocking or FMA use. The im2col patches are built once per chunk of images, straight in
  that dtype.
* **No overflow.** If ``|bias_n| + A W_n <= min(max_code, -min_code)`` of the (signed) accumulator for every
  ``n``, no prefix sum of the preloaded accumulator can leave its range: clamping after every addition
  (saturate) and two's complement wrap-around both leave the exact sum, ``bias + sum_k a w``, and the
  overflow count is 0. This is the same test as the general path's first one, with a bound that needs no
  pass over the patches.
* **Wrap-around.** A wrapping accumulator holds ``bias + sum_k a w`` modulo ``2**bits`` whatever the order of
  the additions (two's complement addition is modular), so it needs no bound on the accumulator, only on the
  exact sum (``A W_n + |bias_n| <= 2**24``, resp. ``2**53``): the sum ``s`` is computed as above, then where it
  lies outside the range it is moved into it, ``s - 2**bits * floor((s - min_code) / 2**bits)`` in float64
  (exact: integers below ``2**54``, power-of-two scaling), and those outputs are the accumulator overflows,
  as the general path counts them.
* **Requantization in floating point.** With ``T = max_n (|bias_n| + A W_n) <= 2**24`` (else ``2**53``, in
  float64), ``v = acc + bias`` is exact in float32 (float64); multiplying by ``2**-s`` (``s = f_acc - f_out``,
  ``|s| <= 100``; ``<= 900`` in float64) only changes the exponent (no overflow, no subnormal), so ``t = v *
  2**-s`` is the exact quotient; ``rint``/``floor``/``ceil``/``trunc`` are exact IEEE operations
  (round-half-even, floor, ceil, toward zero), and the two other deterministic modes use
  :func:`~ristretto_sim.formats.rounding.round_to_integer` in float64, exact for every finite float64. The
  result is the integer the rounding shift of :mod:`~ristretto_sim.emulator.requantize` computes; clamping to
  the output codes and counting the values outside them is the same saturation. Values are then ``q *
  2**-f_out`` in float64 (exact). Stochastic rounding always takes the general path.
* **Encoding.** ``x * 2**f_in`` is ``ldexp`` (exact scaling), rounded with the same functions and clamped to
  the code range (clamping integer bounds commutes with rounding), which is what ``FixedPoint.encode`` does;
  input saturations are counted against ``fin.min``/``fin.max`` exactly as the general path counts them, and
  only when the batch's min or max shows there can be any. NaN inputs fall back to the general path (which
  raises).

* **Integer kernels.** When the process has an integer kernel (:mod:`~ristretto_sim.emulator.kernels`, proven
  exact on the machine by its self-test), the input codes span at most 8 bits, every weight code is an int8 and
  no int32 partial sum can overflow (``K * max|a + c| * max|w| < 2**31``), the GEMM runs there instead: the
  codes are written straight into the kernel's activation dtype, moved by its constant ``c`` (``(a + c) @ w =
  a @ w + c * sum_k w``, folded into the bias: ``bias - c * sum_k w``, an exact integer identity), the im2col
  patches are rows ``(P, K)`` in (ky, kx, c) order built from an NHWC copy of the codes, and the int32 sums plus
  the folded bias (int32: its bound is checked) are the exact ``acc + bias``. A convolution takes this path from
  :data:`~ristretto_sim.emulator.im2col.ROW_PATCH_CHANNELS` input channels per group on (one group), where a
  patch row is long; with fewer, the float32 GEMM of im2col columns, which carries the scaled bias as one more
  row, is faster (measured on Caffe LeNet's conv1: 5.0 against 6.3 ms per 256 images with the kernel's
  weights-times-columns product: the int32 sums need three more passes to become scaled floats). From there the
  float requantization above is unchanged (the int32 values are below ``2**24``, resp. ``2**53``, so their float
  copy is exact).

Memory: images are processed in chunks whose patch matrix stays below ``im2col.CHUNK_BYTES``; a single image
whose patches exceed that falls back to the general path (which chunks output rows).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ristretto_sim.emulator.exact_sum import EXACT_MARGIN, F32_EXACT, F64_EXACT
from ristretto_sim.emulator.im2col import CHUNK_BYTES, ROW_PATCH_CHANNELS, ConvGeometry, column_rows
from ristretto_sim.emulator.kernels import default_backends
from ristretto_sim.emulator.kernels.base import INT32_LIMIT
from ristretto_sim.formats import FixedPoint, Overflow, Rounding, format_kind
from ristretto_sim.formats.rounding import round_to_integer

#: working set of one chunk of images (patches, sums and their float copies): small enough to stay in the core's
#: L2 cache between the passes over it (measured on this project's machine: LeNet's exact network runs 1.3x faster
#: with 2 MiB chunks than with whole 256-image batches)
WORKING_SET_BYTES = 2 * 2**20

#: largest |shift| handled in float32 / float64 requantization (keeps every scaled value normal and finite)
_MAX_SHIFT32 = 100
_MAX_SHIFT64 = 900

_IEEE_ROUND = {
    Rounding.NEAREST_EVEN: np.rint,
    Rounding.FLOOR: np.floor,
    Rounding.CEIL: np.ceil,
    Rounding.TOWARD_ZERO: np.trunc,
}


def _round_into(t: np.ndarray, rounding: Rounding, out: np.ndarray) -> None:
    """``out[...] = round(t)``, exact (``t`` float64 or float32 holding exactly scaled values)."""
    fn = _IEEE_ROUND.get(rounding)
    if fn is not None:
        fn(t, out=out)
    else:
        out[...] = round_to_integer(t, rounding)


def _channel_scale(exponents: np.ndarray, dtype, shape=(-1,)):
    """``2.0 ** exponents`` per channel in ``dtype`` (shaped to broadcast as ``shape``), or one scalar when every
    channel has the same exponent (a cheaper multiply)."""
    if (exponents == exponents[0]).all():
        return dtype(2.0 ** int(exponents[0]))
    return _pow2(exponents).astype(dtype).reshape(shape)


def _pow2(exponent) -> np.ndarray:
    """``2.0 ** exponent`` as float64 (exact for |exponent| <= 1000)."""
    return np.ldexp(1.0, np.asarray(exponent, dtype=np.int64))


@dataclass(eq=False)
class _Output:
    """What one run writes: codes or not, the values' dtype, whether sums may wrap, and the overflows counted."""

    want_codes: bool
    vdtype: type
    wrap: bool
    overflows: int = 0


@dataclass(frozen=True, eq=False)
class FastFixed:
    """A fixed-point Conv2d / Dense layer prepared for the fast exact path (weights encoded once).

    Build with :func:`prepare_fast_fixed`; call :meth:`run` per batch. Attributes are internal.
    """

    kind: str  # "linear" or "conv2d"
    geometry: ConvGeometry | None
    fin: FixedPoint
    acc: FixedPoint
    out: FixedPoint | None
    rounding: Rounding
    k: int
    n_out: int
    kernel: tuple[int, int]
    w32: np.ndarray | None  # scaled weights (and bias row) as float32, or None when they do not fit
    w64: np.ndarray  # linear: (K [+1], O); conv: (G, O/G, K [+1]) in (ky, kx, c) order
    has_bias: bool
    w_colsum: np.ndarray  # (O,) float64: sum_k |w code|
    w_absmax: float
    bias_abs: np.ndarray  # (O,) float64: |bias code|
    scale_exp: np.ndarray  # (O,) int64: the GEMM computes (acc + bias) * 2**-scale_exp
    out_frac: np.ndarray | None  # (O,) int64
    needs_rounding: bool  # some channel shifts right
    wrap: bool  # the accumulator wraps (else it saturates)
    w8: np.ndarray | None  # (K, O) int8 weight codes for an integer kernel (one group), or None
    w_sum: np.ndarray  # (O,) int64: sum_k w code (the kernel's offset correction)
    bias_int: np.ndarray  # (O,) int64: the bias codes (0 without bias)

    # ---------------------------------------------------------------------------------------- bounds
    def _gemm_dtype(self, amax: float):
        """``(GEMM dtype, whether the sums may wrap)`` for input codes bounded by ``amax`` (module docstring), or
        None if a bound fails."""
        if amax > F64_EXACT or self.w_absmax > F64_EXACT:
            return None
        total = float((amax * self.w_colsum + self.bias_abs).max(initial=0.0))
        safe = min(self.acc.max_code, -self.acc.min_code)
        may_wrap = total > safe * EXACT_MARGIN
        if may_wrap and not self.wrap:
            return None  # a saturating accumulator might clip: the general path walks K
        emax = int(np.abs(self.scale_exp).max(initial=0))
        if self.w32 is not None and total <= F32_EXACT * EXACT_MARGIN and amax <= F32_EXACT and emax <= _MAX_SHIFT32:
            return np.float32, may_wrap
        if total <= F64_EXACT * EXACT_MARGIN and emax <= _MAX_SHIFT64:
            return np.float64, may_wrap
        return None

    # ---------------------------------------------------------------------------------------- run
    def _integer_kernel(self, backends):
        """``(kernel, c, bias_eff)`` when the GEMM can run on ``backends``' integer kernel (module docstring),
        else None: ``c`` the offset of the codes, ``bias_eff`` the int32 bias with the offset's correction."""
        if self.w8 is None or self.fin.bits > 8:
            return None
        kernel = (backends if backends is not None else default_backends()).kernel
        if kernel is None:
            return None
        fin = self.fin
        if self.kind == "conv2d" and self.k // (self.kernel[0] * self.kernel[1]) < ROW_PATCH_CHANNELS:
            return None
        c = kernel.offset_for(fin.min_code, fin.max_code)
        if c is None:
            return None
        a_max = max(abs(fin.min_code + c), abs(fin.max_code + c))
        if self.k > kernel.chunk_k(a_max, int(self.w_absmax)):
            return None
        bias_eff = self.bias_int - np.int64(c) * self.w_sum
        # int32 sums of the kernel plus the corrected bias, added in int32, must not wrap
        worst = float(a_max) * float(self.w_colsum.max(initial=0.0)) + float(np.abs(bias_eff).max(initial=0))
        if worst > INT32_LIMIT * EXACT_MARGIN:
            return None
        return kernel, c, bias_eff.astype(np.int32)

    def run(self, x: np.ndarray, want_codes: bool = True, float32_values: bool = False, backends=None):
        """Run the layer on input ``x`` (float32 or float64 values); ``backends``: the integer kernels
        (default :func:`~ristretto_sim.emulator.kernels.default_backends`; the result is the same on each).

        Returns ``(values, codes or None, output saturations, input saturations, accumulator overflows)``, or
        None when this batch needs the general path. ``values`` are float64, or float32 when ``float32_values``
        is set and every value is exactly a float32 (float32 GEMM, output codes of at most 24 bits).
        """
        fin = self.fin
        if x.size == 0:
            return None
        xmin, xmax = float(x.min()), float(x.max())
        if np.isnan(xmin) or np.isnan(xmax):
            return None  # the general path raises
        fmax, fmin = np.float64(fin.max), np.float64(fin.min)  # numpy scalars: compared in float64
        clip = xmax > fmax or xmin < fmin
        plan = self._gemm_dtype(float(max(-fin.min_code, fin.max_code)))
        if plan is None or plan[1]:  # the format's maxima are too weak: bound with the data's extreme codes
            ends = np.clip(round_to_integer(np.ldexp(np.array([xmin, xmax]), fin.frac_bits), self.rounding),
                           fin.min_code, fin.max_code)
            plan = self._gemm_dtype(float(np.abs(ends).max())) or plan
            if plan is None:
                return None
        gemm, wrap = plan
        in_sat = int(np.count_nonzero(x > fmax)) + int(np.count_nonzero(x < fmin)) if clip else 0
        vdtype = np.float64
        if float32_values and gemm is np.float32 and (self.out is None or self.out.bits <= 24):
            vdtype = np.float32  # out frac bits are within +-100 (checked at preparation) when out is set
        integer = self._integer_kernel(backends)
        out = _Output(want_codes, vdtype, wrap)
        if integer is not None:
            r = (self._linear_int if self.kind == "linear" else self._conv_int)(x, gemm, clip, out, integer)
        elif self.kind == "linear":
            r = self._linear(x, gemm, clip, out)
        else:
            r = self._conv(x, gemm, clip, out)
        return None if r is None else r + (in_sat, out.overflows)

    def _encode_into(self, x: np.ndarray, out: np.ndarray, clip: bool) -> None:
        """Input codes of ``x`` written into ``out`` (any float dtype holding them exactly)."""
        _round_into(self._scaled_inputs(x, clip), self.rounding, out)

    def _scaled_inputs(self, x: np.ndarray, clip: bool) -> np.ndarray:
        """``x * 2**frac`` in float64 (exact scaling, ``|frac_bits| <= 1000``), clamped to the code range when
        ``clip`` (clamping to integer bounds commutes with rounding)."""
        fin = self.fin
        t = x * np.float64(2.0**fin.frac_bits)
        if clip:
            np.clip(t, float(fin.min_code), float(fin.max_code), out=t)
        return t

    def _linear(self, x, gemm, clip, out):
        n = x.shape[0]
        w = self.w32 if gemm is np.float32 else self.w64
        kb = self.k + self.has_bias
        rows = max(1, CHUNK_BYTES // max(1, kb * np.dtype(gemm).itemsize))
        values = np.empty((n, self.n_out), dtype=out.vdtype)
        codes = np.empty((n, self.n_out), dtype=np.int64) if out.want_codes else None
        sat = 0
        for r0 in range(0, n, rows):
            r1 = min(n, r0 + rows)
            a = np.empty((r1 - r0, kb), dtype=gemm)
            self._encode_into(x[r0:r1], a[:, : self.k], clip)
            if self.has_bias:
                a[:, self.k] = 1.0  # the bias row of ``w``: the preload, added exactly inside the GEMM
            t = a @ w
            sat += self._output(out, t, values[r0:r1], None if codes is None else codes[r0:r1])
        return values, codes, sat

    def _conv(self, x, gemm, clip, out):
        geom = self.geometry
        n, c, h, wd = x.shape
        kh, kw = self.kernel
        top, left, bottom, right = geom.padding
        ho, wo = geom.output_size(h, wd, kh, kw)
        g = geom.groups
        kb = self.k + self.has_bias
        per_image = kb * g * ho * wo * np.dtype(gemm).itemsize
        if per_image > CHUNK_BYTES:
            return None
        imgs = max(1, WORKING_SET_BYTES // per_image)
        w = self.w32 if gemm is np.float32 else self.w64  # (G, Og, K [+1])
        values = np.empty((n, self.n_out, ho, wo), dtype=out.vdtype)
        codes = np.empty((n, self.n_out, ho, wo), dtype=np.int64) if out.want_codes else None
        hp, wp = h + top + bottom, wd + left + right
        padded = any(geom.padding)
        sat = 0
        for n0 in range(0, n, imgs):
            n1 = min(n, n0 + imgs)
            nb = n1 - n0
            xp = np.zeros((nb, c, hp, wp), dtype=gemm) if padded else np.empty((nb, c, h, wd), dtype=gemm)
            self._encode_into(x[n0:n1], xp[:, :, top : top + h, left : left + wd], clip)
            cols = np.empty((nb, g, kb, ho * wo), dtype=gemm)
            column_rows(xp, cols, kh, kw, geom, (ho, wo))  # the first K rows; the bias row below
            if self.has_bias:
                cols[:, :, self.k] = 1.0  # the bias column of ``w``: the preload, added exactly in the GEMM
            t = np.matmul(w, cols).reshape(nb, self.n_out, ho * wo)  # (nb, G, Og, P): already NCHW order
            sat += self._output(out,
                t,
                values[n0:n1].reshape(nb, self.n_out, ho * wo),
                None if codes is None else codes[n0:n1].reshape(nb, self.n_out, ho * wo),
            )
        return values, codes, sat

    def _scaled(self, y: np.ndarray, bias_eff: np.ndarray, gemm) -> np.ndarray:
        """``(acc + bias) * 2**-scale_exp`` (channels last) from the kernel's int32 sums ``y`` (in place) and the
        corrected bias: exact in ``gemm`` (the sums are bounded by the same ``total`` as the float GEMM's)."""
        y += bias_eff
        t = y.astype(gemm)
        scale = _channel_scale(-self.scale_exp, gemm)
        if np.ndim(scale) or scale != 1:
            np.multiply(t, scale, out=t)
        return t

    def _codes_into(self, x: np.ndarray, out: np.ndarray, c: int, clip: bool) -> None:
        """Input codes of ``x`` plus the kernel's offset ``c`` written into the integer array (view) ``out``."""
        t = self._scaled_inputs(x, clip)
        _round_into(t, self.rounding, t)
        if c:
            t += float(c)
        np.copyto(out, t, casting="unsafe")  # exact: integers inside the kernel's 8-bit range

    def _linear_int(self, x, gemm, clip, out, integer):
        kernel, c, bias_eff = integer
        n = x.shape[0]
        rows = max(1, WORKING_SET_BYTES // max(1, self.k + 12 * self.n_out))
        values = np.empty((n, self.n_out), dtype=out.vdtype)
        codes = np.empty((n, self.n_out), dtype=np.int64) if out.want_codes else None
        sat = 0
        for r0 in range(0, n, rows):
            r1 = min(n, r0 + rows)
            a = np.empty((r1 - r0, self.k), dtype=kernel.a_dtype)
            self._codes_into(x[r0:r1], a, c, clip)
            t = self._scaled(kernel.product(a, self.w8), bias_eff, gemm)
            sat += self._output(out, t, values[r0:r1], None if codes is None else codes[r0:r1])
        return values, codes, sat

    def _conv_int(self, x, gemm, clip, out, integer):
        kernel, c, bias_eff = integer
        geom = self.geometry
        n, ch, h, wd = x.shape
        kh, kw = self.kernel
        top, left, bottom, right = geom.padding
        ho, wo = geom.output_size(h, wd, kh, kw)
        sh, sw = geom.stride
        dh, dw = geom.dilation
        p = ho * wo
        per_image = p * (self.k + 4 * self.n_out) + 8 * ch * h * wd  # patches, int32 sums, float64 codes
        if per_image > CHUNK_BYTES:
            return None
        imgs = max(1, WORKING_SET_BYTES // per_image)
        values = np.empty((n, self.n_out, ho, wo), dtype=out.vdtype)
        codes = np.empty((n, self.n_out, ho, wo), dtype=np.int64) if out.want_codes else None
        hp, wp = h + top + bottom, wd + left + right
        sat = 0
        for n0 in range(0, n, imgs):
            n1 = min(n, n0 + imgs)
            nb = n1 - n0
            xp = np.empty((nb, hp, wp, ch), dtype=kernel.a_dtype)  # NHWC: a patch row (kx, c) is contiguous
            if any(geom.padding):
                xp.fill(c)  # the code 0, offset
            self._codes_into(x[n0:n1], xp[:, top:top + h, left:left + wd].transpose(0, 3, 1, 2), c, clip)
            s0, s1, s2, s3 = xp.strides
            view = np.lib.stride_tricks.as_strided(
                xp, (nb, ho, wo, kh, kw, ch), (s0, sh * s1, sw * s2, dh * s1, dw * s2, s3), writeable=False)
            patches = np.ascontiguousarray(view).reshape(nb * p, self.k)  # (ky, kx, c) order, as ``w8``
            t = self._scaled(kernel.product(patches, self.w8), bias_eff, gemm)
            sat += self._output(out,
                t.reshape(nb, p, self.n_out).transpose(0, 2, 1),
                values[n0:n1].reshape(nb, self.n_out, p),
                None if codes is None else codes[n0:n1].reshape(nb, self.n_out, p),
            )
        return values, codes, sat

    def _wrapped(self, t: np.ndarray, ch) -> int:
        """Wrap the exact sums ``t * 2**scale_exp`` into the accumulator's range, in place (module docstring);
        returns how many were outside it."""
        acc = self.acc
        e = self.scale_exp.reshape(ch)
        s = t.astype(np.float64) * _pow2(e)
        q = np.floor((s - float(acc.min_code)) * 2.0**-acc.bits)
        n = int(np.count_nonzero(q))
        if n:
            s -= q * 2.0**acc.bits
            t[...] = s * _pow2(-e)
        return n

    def _output(self, o: _Output, t: np.ndarray, values: np.ndarray, codes) -> int:
        """``t = (acc + bias) * 2**-scale_exp`` (exact, channels on axis 1) -> output values written into
        ``values`` (and codes into ``codes``); returns the output saturations (and adds the accumulator
        overflows of a wrapping accumulator to ``o``)."""
        ch = (self.n_out,) + (1,) * (t.ndim - 2)
        if o.wrap:
            o.overflows += self._wrapped(t, ch)
        out = self.out
        if out is None:  # the accumulator's value, exact in the GEMM's dtype
            values[...] = t
            return 0
        if self.needs_rounding:
            _round_into(t, self.rounding, t)
        lo, hi = np.float64(out.min_code), np.float64(out.max_code)  # compared in float64
        sat = 0
        if float(t.min(initial=lo)) < lo or float(t.max(initial=hi)) > hi:
            sat = int(np.count_nonzero(t < lo)) + int(np.count_nonzero(t > hi))
            np.clip(t, lo, hi, out=t)
        t += 0.0  # a fixed-point zero has no sign (rounding may give -0.0)
        if codes is not None:
            codes[...] = t
        np.multiply(t, _channel_scale(-self.out_frac, values.dtype.type, ch), out=values)
        return sat


def prepare_fast_fixed(kind: str, wc: np.ndarray, bias_codes, formats, acc: FixedPoint, acc_frac: np.ndarray,
                       geometry: ConvGeometry | None) -> FastFixed | None:
    """A :class:`FastFixed` for encoded weights ``wc`` (int64 codes, ``(O, K)`` or OIHW), or None when the
    fast path can never apply (transposed convolution, stochastic rounding, non-fixed-point output, unsigned
    or over-wide accumulator, extreme fractions)."""
    out = formats.outputs
    if kind not in ("linear", "conv2d") or formats.rounding is Rounding.STOCHASTIC:
        return None
    if not acc.signed or acc.bits > 64 or (out is not None and format_kind(out) != "fixed"):
        return None
    n_out = wc.shape[0]
    acc_frac = np.asarray(acc_frac, dtype=np.int64)
    if out is None:
        out_frac = None
        scale_exp = acc_frac  # the GEMM gives the accumulator's values
    else:
        out_frac = np.broadcast_to(np.asarray(out.frac_bits, dtype=np.int64), (n_out,)).copy()
        if int(np.abs(out_frac).max()) > _MAX_SHIFT32:
            return None
        scale_exp = acc_frac - out_frac  # the GEMM gives the quotient of the rounding shift, before rounding
    if int(np.abs(scale_exp).max()) > _MAX_SHIFT64:
        return None
    scale = _pow2(-scale_exp)  # (O,)
    has_bias = bias_codes is not None
    bias = np.asarray(bias_codes, dtype=np.float64) if has_bias else np.zeros(n_out)
    if kind == "linear":
        k = wc.shape[1]
        kernel = (1, 1)
        wk = wc.T.astype(np.float64)  # (K, O)
        colsum = np.abs(wk).sum(axis=0)
        w_absmax = float(np.abs(wk).max(initial=0.0))
        if has_bias:
            wk = np.concatenate([wk, bias[None, :]], axis=0)
        w64 = np.ascontiguousarray(wk * scale[None, :])  # exact: power-of-two scaling per column
    else:
        g = geometry.groups
        o, cg, kh, kw = wc.shape
        kernel = (kh, kw)
        k = cg * kh * kw
        wk = wc.reshape(g, o // g, cg, kh, kw).transpose(0, 1, 3, 4, 2).reshape(g, o // g, k).astype(np.float64)
        colsum = np.abs(wk).sum(axis=2).reshape(o)
        w_absmax = float(np.abs(wk).max(initial=0.0))
        if has_bias:
            wk = np.concatenate([wk, bias.reshape(g, o // g, 1)], axis=2)
        w64 = np.ascontiguousarray(wk * scale.reshape(g, o // g, 1))
    w8 = None
    if (geometry is None or geometry.groups == 1) and wc.size and int(wc.min()) >= -128 and int(wc.max()) <= 127:
        w8 = _w_matrix(wc, kind)
    w_sum = w8.sum(axis=0, dtype=np.int64) if w8 is not None else np.zeros(n_out, dtype=np.int64)
    bias_int = np.asarray(bias_codes, dtype=np.int64) if has_bias else np.zeros(n_out, dtype=np.int64)
    # float32 copy only when every scaled weight and bias is exactly a float32 (integers below 2**24 scaled by
    # a power of two within +-100 stay normal floats)
    w32 = None
    operand_max = max(w_absmax, float(np.abs(bias).max(initial=0.0)))
    if operand_max <= F32_EXACT and int(np.abs(scale_exp).max()) <= _MAX_SHIFT32:
        w32 = w64.astype(np.float32)
    return FastFixed(
        kind=kind,
        geometry=geometry,
        fin=formats.inputs,
        acc=acc,
        out=out,
        rounding=formats.rounding,
        k=k,
        n_out=n_out,
        kernel=kernel,
        w32=w32,
        w64=w64,
        has_bias=has_bias,
        w_colsum=colsum,
        w_absmax=w_absmax,
        bias_abs=np.abs(bias),
        scale_exp=scale_exp,
        out_frac=out_frac,
        needs_rounding=bool((scale_exp > 0).any()),
        wrap=formats.overflow is Overflow.WRAP,
        w8=w8,
        w_sum=w_sum,
        bias_int=bias_int,
    )


def _w_matrix(wc: np.ndarray, kind: str) -> np.ndarray:
    """The weight codes as the kernel's ``(K, O)`` int8 matrix, K in (ky, kx, c) order for a convolution."""
    if kind == "linear":
        return np.ascontiguousarray(wc.T, dtype=np.int8)
    o = wc.shape[0]
    return np.ascontiguousarray(wc.transpose(2, 3, 1, 0).reshape(-1, o), dtype=np.int8)
