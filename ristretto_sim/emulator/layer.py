"""Layer-level entry points: float tensors and a set of formats in; output values and per-layer statistics
out.

This is what the network runner calls for a Conv / ConvTranspose / Gemm (fully connected) layer. It quantizes
the float input, weights and bias with the layer's :class:`LayerFormats`, runs the datapath the formats
describe, and returns a :class:`LayerResult` (output values on the output format's grid, as float64, plus
:class:`LayerStats`).

Datapaths (chosen from the formats, ``Mode.EXACT``):

* ``FixedPoint`` inputs x ``FixedPoint`` weights -> fixed-point MAC array with a declared accumulator
  (:mod:`~ristretto_sim.emulator.fixed_gemm`, :mod:`~ristretto_sim.emulator.conv`);
* ``FixedPoint`` inputs x ``PowerOfTwo`` weights -> shift-and-add PE
  (:mod:`~ristretto_sim.emulator.shift_pe`);
* ``Minifloat`` inputs x ``Minifloat`` weights -> minifloat MAC, exact Kulisch accumulator when
  ``accumulator`` is None, float accumulation when it is a ``Minifloat``
  (:mod:`~ristretto_sim.emulator.minifloat_mac`).

``Mode.RISTRETTO`` reproduces the original tool instead (:mod:`~ristretto_sim.emulator.ristretto_mode`).
"""

from __future__ import annotations

from dataclasses import KW_ONLY, asdict, dataclass

import numpy as np

from ristretto_sim.emulator import wide as wd
from ristretto_sim.emulator.accumulator import (
    accumulate,
    bias_to_accumulator,
    check_accumulator,
    default_accumulator,
)
from ristretto_sim.emulator.conv import conv_accumulate, fixed_conv2d, fixed_conv_transpose2d
from ristretto_sim.emulator.fast_fixed import FastFixed, prepare_fast_fixed
from ristretto_sim.emulator.fixed_gemm import fixed_matmul
from ristretto_sim.emulator.im2col import ConvGeometry, im2col_conv, transposed_as_direct, weight_matrix
from ristretto_sim.emulator.minifloat_mac import minifloat_matmul, round_to_odd_sum
from ristretto_sim.emulator.requantize import requantize
from ristretto_sim.emulator.ristretto_mode import (
    float32_conv2d,
    float32_conv_transpose2d,
    ristretto_quantize,
)
from ristretto_sim.emulator.shift_pe import (
    ShiftPE,
    check_shift_accumulator,
    default_shift_accumulator,
    shift_products,
    weight_shift_codes,
)
from ristretto_sim.emulator.wide import WideInt
from ristretto_sim.enums import NamedEnum
from ristretto_sim.formats import FixedPoint, Minifloat, Overflow, PowerOfTwo, Rounding
from ristretto_sim.formats.base import NumberFormat
from ristretto_sim.formats.rounding import StochasticKey, stochastic_key


class Mode(NamedEnum):
    """Which arithmetic produced a result: ``EXACT`` (the integers of the hardware) or ``RISTRETTO`` (the
    original     tool's fake-quantized float32 simulation)."""

    EXACT = "exact"
    RISTRETTO = "ristretto"


class LayerKind(NamedEnum):
    """The layer types this module emulates."""

    LINEAR = "linear"
    CONV2D = "conv2d"
    CONV_TRANSPOSE2D = "conv_transpose2d"


def _check_format(value, name: str, allow_none: bool = True):
    if value is None and allow_none:
        return None
    if not isinstance(value, NumberFormat):
        raise TypeError(
            f"{name}={value!r} must be a FixedPoint, Minifloat or PowerOfTwo" + (" or None" if allow_none else "")
        )
    return value


@dataclass(frozen=True)
class LayerFormats:
    """The formats of one layer: what the quantization plan owns for it.

    Parameters
    ----------
    inputs : FixedPoint or Minifloat
        Format of the layer input (activations).
    weights : FixedPoint, Minifloat or PowerOfTwo
        Format of the weights (``FixedPoint`` may carry per-output-channel ``frac_bits``).
    bias : format, optional
        Format the bias is quantized to first; None: the float bias is rounded straight to the accumulator
        grid. The bias is then rounded to the accumulator's fraction with ``rounding`` and preloaded.
    outputs : FixedPoint or Minifloat, optional
        Output format; None: the output is the accumulator's value.
    accumulator : FixedPoint or Minifloat, optional
        Fixed-point datapaths: a ``FixedPoint`` with ``frac_bits == inputs.frac_bits + weights.frac_bits``
        (default: one that cannot overflow, ``in.bits + w.bits + ceil(log2 K) + 1`` bits). Minifloat
        datapaths: None (exact Kulisch accumulator, its width derived from the formats, see
        ``kulisch_bits``) or a ``Minifloat`` (float accumulation, one rounding per addition). Shift-and-add
        datapaths: a ``FixedPoint`` whose fraction sets the shifts (default: lossless, cannot overflow).
    rounding : Rounding or str
        Rounding of every quantization step of the layer (keyword-only; default nearest-even).
    overflow : Overflow or str
        Accumulator overflow: ``"saturate"`` (default) or ``"wrap"`` (keyword-only).
    product : Minifloat, optional
        Minifloat datapaths with a float accumulator: the format each product is rounded to before it is added
        (None: exact products).

    Notes
    -----
    Fixed-point tensors are encoded with saturation. Minifloat tensors are converted with the format's natural
    overflow (``ieee``: +-Inf, ``fn``: NaN, ``none``: +-max), so an overflowing activation shows up as NaN/Inf
    outputs in :class:`LayerStats` instead of being silently clamped.
    """

    inputs: NumberFormat
    weights: NumberFormat
    bias: NumberFormat | None = None
    outputs: NumberFormat | None = None
    accumulator: NumberFormat | None = None
    _: KW_ONLY
    rounding: Rounding = Rounding.NEAREST_EVEN
    overflow: Overflow = Overflow.SATURATE
    product: Minifloat | None = None

    def __post_init__(self):
        _check_format(self.inputs, "inputs", allow_none=False)
        _check_format(self.weights, "weights", allow_none=False)
        for name in ("bias", "outputs", "accumulator"):
            _check_format(getattr(self, name), name)
        if isinstance(self.inputs, PowerOfTwo):
            raise ValueError(f"inputs={self.inputs}: power-of-two activations are not supported (weights only)")
        if isinstance(self.outputs, PowerOfTwo):
            raise ValueError(f"outputs={self.outputs}: power-of-two outputs are not supported")
        if isinstance(self.accumulator, PowerOfTwo):
            raise ValueError(f"accumulator={self.accumulator} must be a FixedPoint or a Minifloat")
        if self.product is not None and not isinstance(self.product, Minifloat):
            raise TypeError(f"product={self.product!r} must be a Minifloat or None")
        object.__setattr__(self, "rounding", Rounding.coerce(self.rounding, "rounding"))
        ov = Overflow.coerce(self.overflow, "overflow")
        object.__setattr__(self, "overflow", Overflow.SATURATE if ov is Overflow.NATURAL else ov)

    @property
    def datapath(self) -> str:
        """The exact-mode datapath: ``fixed``, ``shift``, ``minifloat-kulisch`` or ``minifloat-float``."""
        i, w = self.inputs, self.weights
        if isinstance(i, FixedPoint) and isinstance(w, FixedPoint):
            return "fixed"
        if isinstance(i, FixedPoint) and isinstance(w, PowerOfTwo):
            return "shift"
        if isinstance(i, Minifloat) and isinstance(w, Minifloat):
            return "minifloat-float" if isinstance(self.accumulator, Minifloat) else "minifloat-kulisch"
        raise ValueError(
            f"no datapath multiplies inputs={i} by weights={w}: "
            "use fixed x fixed, fixed x pow2 or minifloat x minifloat"
        )


@dataclass(frozen=True)
class LayerStats:
    """Per-layer statistics of one emulated forward pass (counts are over the whole batch).

    Attributes
    ----------
    mode : Mode
    datapath : str
        ``fixed``, ``shift``, ``minifloat-kulisch``, ``minifloat-float`` or ``ristretto-float32``.
    accumulator : str
        Text form of the accumulator format actually used (``"float32"`` in Ristretto mode).
    outputs : int
        Number of output values.
    macs : int
        Number of products (outputs x K; for transposed convolutions, inputs x kernel taps x output channels
        per group).
    accumulator_overflows : int
        WRAP: outputs whose exact sum left the accumulator range; SATURATE: outputs clipped at least once.
    output_saturations : int
        Outputs beyond the output format's range (clamped; minifloat formats may overflow to Inf/NaN instead).
    input_saturations, weight_saturations, bias_saturations : int
        Values outside the range of their format (``|x| > max`` or ``x < min``); the bias count also includes
        bias values clamped when preloaded into the accumulator.
    nan_outputs, inf_outputs : int
        Minifloat datapaths: outputs that read out NaN / infinite.
    """

    mode: Mode
    datapath: str
    accumulator: str
    outputs: int
    macs: int
    accumulator_overflows: int = 0
    output_saturations: int = 0
    input_saturations: int = 0
    weight_saturations: int = 0
    bias_saturations: int = 0
    nan_outputs: int = 0
    inf_outputs: int = 0

    def as_dict(self) -> dict:
        """JSON-able dict (enums as their string values)."""
        d = asdict(self)
        d["mode"] = self.mode.value
        return d


@dataclass(frozen=True, eq=False)
class LayerResult:
    """Output of one emulated layer.

    Attributes
    ----------
    values : ndarray of float64
        Output values, on the output format's grid (the accumulator's, when there is no output format); NCHW
        for convolutions, ``(N, out_features)`` for linear layers.
    stats : LayerStats
    codes : ndarray of int, optional
        Exact mode with an output format: the output codes (fixed point: int64 codes; minifloat: unsigned bit
        patterns), else None.
    """

    values: np.ndarray
    stats: LayerStats
    codes: np.ndarray | None = None


def _keys(rng, rounding: Rounding):
    """Four stochastic keys (inputs, weights, bias, outputs) from one seed; Nones when not needed."""
    if rounding is not Rounding.STOCHASTIC:
        return (None,) * 4
    key = stochastic_key(rng)
    return tuple(StochasticKey(key.seed + 0x9E3779B9 * i, key.offset) for i in range(4))


def _out_of_range(x: np.ndarray, fmt) -> int:
    if fmt is None:
        return 0
    hi, lo = np.asarray(fmt.max), np.asarray(fmt.min)
    if hi.ndim:  # per-channel along axis 0
        hi = hi.reshape((-1,) + (1,) * (x.ndim - 1))
        lo = lo.reshape(hi.shape)
    with np.errstate(invalid="ignore"):
        return int(((x > hi) | (x < lo)).sum())


def _as_float(x, name: str) -> np.ndarray:
    arr = np.asarray(x)
    if arr.dtype.kind not in "biuf":
        raise TypeError(f"{name} must be real numbers, got dtype {arr.dtype}")
    return arr.astype(np.float64, copy=False)


def _check_shapes(kind: LayerKind, x, w, b, geometry):
    if kind is LayerKind.LINEAR:
        if w.ndim != 2:
            raise ValueError(f"weights must be (out_features, in_features), got shape {w.shape}")
        if x.ndim < 1 or x.shape[-1] != w.shape[1]:
            raise ValueError(
                f"shape mismatch: input {x.shape} has {x.shape[-1] if x.ndim else 0} features, "
                f"weights {w.shape} expect {w.shape[1]}"
            )
        n_out = w.shape[0]
    else:
        if x.ndim != 4 or w.ndim != 4:
            raise ValueError(f"input must be NCHW and weights 4-D; got {x.shape} and {w.shape}")
        g = geometry.groups
        if kind is LayerKind.CONV2D:
            if w.shape[1] * g != x.shape[1] or w.shape[0] % g:
                raise ValueError(
                    f"shape mismatch: weights {w.shape} with groups={g} need {w.shape[1] * g} "
                    f"input channels; input {x.shape}"
                )
            n_out = w.shape[0]
        else:
            if w.shape[0] != x.shape[1] or w.shape[0] % g:
                raise ValueError(f"shape mismatch: weights {w.shape} need {w.shape[0]} input channels; input {x.shape}")
            n_out = w.shape[1] * g
    if b is not None and b.shape != (n_out,):
        raise ValueError(f"bias has shape {b.shape}, expected ({n_out},)")
    return n_out


def _macs(kind: LayerKind, x, w, n_outputs: int, k: int) -> int:
    """Products computed: outputs x K; for a transposed convolution, every input pixel times every kernel tap
    (the zeros the direct form inserts are not counted)."""
    if kind is LayerKind.CONV_TRANSPOSE2D:
        return int(x.size) * int(w.shape[1] * w.shape[2] * w.shape[3])
    return n_outputs * k


def _reduction_length(kind: LayerKind, w, geometry) -> int:
    if kind is LayerKind.LINEAR:
        return int(w.shape[1])
    if kind is LayerKind.CONV2D:
        return int(w.shape[1] * w.shape[2] * w.shape[3])
    return int(w.shape[0] // geometry.groups * w.shape[2] * w.shape[3])


def emulate_layer(
    kind,
    x,
    weights,
    bias,
    formats: LayerFormats,
    geometry: ConvGeometry | None = None,
    *,
    mode=Mode.EXACT,
    rng=None,
    cpu_compat: bool = False,
    shift_pe: ShiftPE | None = None,
) -> LayerResult:
    """Emulate one Conv / ConvTranspose / fully connected layer.

    Parameters
    ----------
    kind : LayerKind or str
        ``"linear"``, ``"conv2d"`` or ``"conv_transpose2d"``.
    x : array_like of float
        Input: ``(N, in_features)`` (or ``(..., in_features)``) for linear layers, NCHW for convolutions.
    weights : array_like of float
        ``(out_features, in_features)``; OIHW; ``(C_in, C_out/groups, kh, kw)`` for transposed convolutions.
    bias : array_like of float or None
        One value per output channel.
    formats : LayerFormats
    geometry : ConvGeometry, optional
        Convolutions only (default: stride 1, no padding).
    mode : Mode or str
        ``"exact"`` (hardware integers) or ``"ristretto"`` (the original tool's float32 simulation).
    rng : int, StochasticKey or numpy Generator, optional
        Seed for stochastic rounding (required when ``formats.rounding`` is stochastic).
    cpu_compat : bool
        Ristretto mode only: reproduce Ristretto's CPU quirks.
    shift_pe : ShiftPE, optional
        Shift-and-add datapaths: the barrel shifter (default: lossless).

    Returns
    -------
    LayerResult
    """
    kind = LayerKind.coerce(kind, "kind")
    mode = Mode.coerce(mode, "mode")
    if not isinstance(formats, LayerFormats):
        raise TypeError(f"formats={formats!r} must be a LayerFormats")
    if kind is LayerKind.LINEAR:
        if geometry is not None:
            raise ValueError("geometry is for convolutions; a linear layer takes none")
    else:
        geometry = ConvGeometry() if geometry is None else geometry
        if not isinstance(geometry, ConvGeometry):
            raise TypeError(f"geometry={geometry!r} must be a ConvGeometry")
    x = _as_float(x, "x")
    w = _as_float(weights, "weights")
    b = None if bias is None else _as_float(bias, "bias")
    n_out = _check_shapes(kind, x, w, b, geometry)
    if mode is Mode.RISTRETTO:
        return _ristretto(kind, x, w, b, formats, geometry, rng, cpu_compat)
    path = formats.datapath
    if path == "fixed":
        return _fixed(kind, x, w, b, formats, geometry, n_out, rng)
    if path == "shift":
        return _shift(kind, x, w, b, formats, geometry, n_out, rng, shift_pe)
    return _minifloat(kind, x, w, b, formats, geometry, n_out, rng)


def emulate_linear(x, weights, bias, formats: LayerFormats, **options) -> LayerResult:
    """Emulate a fully connected layer, ``y = x @ weights.T + bias``; ``options`` as :func:`emulate_layer`."""
    return emulate_layer(LayerKind.LINEAR, x, weights, bias, formats, **options)


def emulate_conv2d(
    x, weights, bias, formats: LayerFormats, geometry: ConvGeometry | None = None, **options
) -> LayerResult:
    """Emulate a 2-D convolution, NCHW x OIHW; ``options`` as :func:`emulate_layer`."""
    return emulate_layer(LayerKind.CONV2D, x, weights, bias, formats, geometry, **options)


def emulate_conv_transpose2d(
    x, weights, bias, formats: LayerFormats, geometry: ConvGeometry | None = None, **options
) -> LayerResult:
    """Emulate a 2-D transposed convolution, weights ``(C_in, C_out/groups, kh, kw)``."""
    return emulate_layer(LayerKind.CONV_TRANSPOSE2D, x, weights, bias, formats, geometry, **options)


class PreparedLayer:
    """One Conv / ConvTranspose / fully connected layer ready to run on many batches: what does not depend on
    the input (encoded weights, bias preload, the fast exact path's scaled weight matrix) is computed once.

    ``PreparedLayer(kind, weights, bias, formats, geometry=None, mode="exact")(x)`` returns the same
    :class:`LayerResult` as ``emulate_layer(kind, x, weights, bias, formats, geometry, mode=mode)``. Only the
    exact fixed-point datapath with a deterministic rounding mode is prepared; every other case (and any
    weights the formats reject: the error is then raised per call, as ``emulate_layer`` raises it) runs
    ``emulate_layer`` per call.

    Parameters
    ----------
    kind, weights, bias, formats, geometry, mode
        As :func:`emulate_layer`.
    """

    def __init__(self, kind, weights, bias, formats: LayerFormats, geometry: ConvGeometry | None = None, *,
                 mode=Mode.EXACT):
        self.kind = LayerKind.coerce(kind, "kind")
        self.mode = Mode.coerce(mode, "mode")
        self.weights = weights
        self.bias = bias
        self.formats = formats
        self.geometry = geometry
        self._fixed = None
        try:
            self._fixed = self._prepare()
        except (ValueError, TypeError):
            self._fixed = None  # emulate_layer raises it, per call

    def _prepare(self):
        f = self.formats
        if self.mode is not Mode.EXACT or not isinstance(f, LayerFormats) or f.rounding is Rounding.STOCHASTIC:
            return None
        if f.datapath != "fixed":
            return None
        kind, geometry = self.kind, self.geometry
        if kind is LayerKind.LINEAR:
            if geometry is not None:
                return None
        else:
            geometry = ConvGeometry() if geometry is None else geometry
            if not isinstance(geometry, ConvGeometry):
                return None
        w = _as_float(self.weights, "weights")
        b = None if self.bias is None else _as_float(self.bias, "bias")
        if w.ndim != (2 if kind is LayerKind.LINEAR else 4):
            return None
        n_out = w.shape[0] if kind is not LayerKind.CONV_TRANSPOSE2D else w.shape[1] * geometry.groups
        if b is not None and b.shape != (n_out,):
            return None
        acc, acc_frac, k = _fixed_accumulator(kind, w, f, geometry, n_out)
        prep = _fixed_weights(kind, w, b, f, geometry, acc, acc_frac, k, None, None)
        return prep, w, b, geometry, n_out

    def __call__(self, x, *, rng=None, codes: bool = True, float32_values: bool = False) -> LayerResult:
        """Run the layer on batch ``x``.

        Parameters
        ----------
        x : array_like of float
            As :func:`emulate_layer`.
        rng : optional
            Seed for stochastic rounding.
        codes : bool
            Return the output codes (False: ``LayerResult.codes`` is None, saving a pass).
        float32_values : bool
            Allow ``values`` as float32 when every value is exactly a float32 (the fast path with output codes of
            at most 24 bits); they are float64 otherwise.
        """
        if self._fixed is None:
            res = emulate_layer(self.kind, x, self.weights, self.bias, self.formats, self.geometry, mode=self.mode,
                                rng=rng)
            return res if codes else LayerResult(res.values, res.stats, None)
        prep, w, b, geometry, n_out = self._fixed
        arr = np.asarray(x)
        if arr.dtype.kind not in "biuf":
            raise TypeError(f"x must be real numbers, got dtype {arr.dtype}")
        if arr.dtype not in (np.float32, np.float64):
            arr = arr.astype(np.float64)
        _check_shapes(self.kind, arr, w, b, geometry)
        return _fixed_apply(prep, self.kind, arr, self.formats, geometry, n_out, None, None, codes, float32_values)


# ----------------------------------------------------------------------------------- exact fixed point
def output_stage(acc_codes, acc: FixedPoint, acc_frac: np.ndarray, formats: LayerFormats, channel_axis: int, key):
    """Accumulator codes (int64 or WideInt) -> (values, output codes or None, output saturations) per the output
    format."""
    out = formats.outputs
    if isinstance(out, FixedPoint):
        rq = requantize(acc_codes, acc_frac, out, formats.rounding, Overflow.SATURATE, key, channel_axis)
        f = np.asarray(out.frac_bits, dtype=np.int64)
        if f.ndim:
            shape = [1] * rq.codes.ndim
            shape[channel_axis] = f.size
            f = f.reshape(shape)
        return np.ldexp(rq.codes.astype(np.float64), -f), rq.codes, rq.saturations
    shape = [1] * acc_codes.ndim
    shape[channel_axis] = acc_frac.size
    scale = -acc_frac.reshape(shape)
    if isinstance(acc_codes, WideInt):  # correctly rounded, or rounded to odd for one more correct rounding
        if out is None:
            return np.ldexp(wd.to_float64(acc_codes), scale), None, 0
        values = np.ldexp(wd.to_float64(acc_codes, odd=True), scale)
        return out.quantize(values, formats.rounding, rng=key), None, _out_of_range(values, out)
    codes = np.asarray(acc_codes, dtype=np.int64)
    hi = np.ldexp((codes >> np.int64(32)).astype(np.float64), 32)  # codes = hi + lo, both exact in float64
    lo = (codes & np.int64(0xFFFFFFFF)).astype(np.float64)
    if out is None:  # the nearest float64 (exact for accumulators of at most 53 bits)
        return np.ldexp(hi + lo, scale), None, 0
    values = np.ldexp(round_to_odd_sum(hi, lo), scale)  # exact, or rounded to odd: one more rounding is correct
    sat = _out_of_range(values, out)
    return out.quantize(values, formats.rounding, rng=key), None, sat


@dataclass(frozen=True, eq=False)
class _FixedWeights:
    """What a fixed-point layer computes once, independently of its input: accumulator, encoded weights, bias
    preload, their saturation counts and (when it can apply) the fast exact path."""

    acc: FixedPoint
    acc_frac: np.ndarray
    wc: np.ndarray
    bias_codes: np.ndarray | None
    bias_sat: int
    weight_sat: int
    k: int
    fast: FastFixed | None


def _fixed_accumulator(kind, w, formats: LayerFormats, geometry, n_out):
    fin, fw = formats.inputs, formats.weights
    k = _reduction_length(kind, w, geometry)
    acc = formats.accumulator
    if acc is None:
        acc = default_accumulator(fin, fw, k, n_out)
    elif not isinstance(acc, FixedPoint):
        raise TypeError(f"accumulator={acc} must be a FixedPoint for fixed-point inputs and weights")
    if kind is LayerKind.CONV_TRANSPOSE2D and fw.per_channel:
        raise ValueError(f"weights={fw}: per-channel weight formats are not supported for transposed convolutions")
    acc_frac = check_accumulator(acc, fin, fw, n_out)
    return acc, acc_frac, k


def _bias_preload(b, formats: LayerFormats, acc: FixedPoint, acc_frac: np.ndarray, key):
    """The bias quantized to ``formats.bias`` (if any), then rounded and clamped into the accumulator:
    ``(codes or None, saturations)``, the saturations counting values outside ``formats.bias`` and values
    clamped into the accumulator."""
    if b is None:
        return None, 0
    bq = b if formats.bias is None else formats.bias.quantize(b, formats.rounding, Overflow.SATURATE, key)
    codes, clamped = bias_to_accumulator(bq, acc, acc_frac, formats.rounding, key)
    return codes, _out_of_range(b, formats.bias) + clamped


def _fixed_weights(kind, w, b, formats: LayerFormats, geometry, acc, acc_frac, k, kw_, kb) -> _FixedWeights:
    fw = formats.weights
    wc = fw.encode(w, formats.rounding, Overflow.SATURATE, kw_)
    bias_codes, bias_sat = _bias_preload(b, formats, acc, acc_frac, kb)
    fast = None
    if kind is not LayerKind.CONV_TRANSPOSE2D:
        fast = prepare_fast_fixed(kind.value, wc, bias_codes, formats, acc, acc_frac, geometry)
    return _FixedWeights(acc, acc_frac, wc, bias_codes, bias_sat, _out_of_range(w, fw), k, fast)


def _fixed(kind, x, w, b, formats: LayerFormats, geometry, n_out, rng) -> LayerResult:
    kin, kw_, kb, kout = _keys(rng, formats.rounding)
    acc, acc_frac, k = _fixed_accumulator(kind, w, formats, geometry, n_out)
    try:
        prep = _fixed_weights(kind, w, b, formats, geometry, acc, acc_frac, k, kw_, kb)
    except ValueError:
        formats.inputs.encode(x, formats.rounding, Overflow.SATURATE, kin)  # the general path encodes x first
        raise
    return _fixed_apply(prep, kind, x, formats, geometry, n_out, kin, kout, True)


def _fixed_apply(
    prep: _FixedWeights, kind, x, formats: LayerFormats, geometry, n_out, kin, kout, want_codes, float32_values=False
):
    fin, fw = formats.inputs, formats.weights
    acc, acc_frac, k = prep.acc, prep.acc_frac, prep.k
    if prep.fast is not None and kin is None and kout is None:
        xin = x.reshape(-1, x.shape[-1]) if kind is LayerKind.LINEAR else x
        fast = prep.fast.run(xin, want_codes and formats.outputs is not None, float32_values)
        if fast is not None:
            values, codes, out_sat, in_sat = fast
            if kind is LayerKind.LINEAR:
                values = values.reshape(x.shape[:-1] + (n_out,))
                codes = None if codes is None else codes.reshape(values.shape)
            stats = LayerStats(
                mode=Mode.EXACT,
                datapath="fixed",
                accumulator=str(acc),
                outputs=int(values.size),
                macs=int(values.size) * k,
                accumulator_overflows=0,
                output_saturations=out_sat,
                input_saturations=in_sat,
                weight_saturations=prep.weight_sat,
                bias_saturations=prep.bias_sat,
            )
            return LayerResult(values, stats, codes)
    x = x.astype(np.float64, copy=False)
    xc = fin.encode(x, formats.rounding, Overflow.SATURATE, kin)
    wc, bias_codes = prep.wc, prep.bias_codes
    if kind is LayerKind.LINEAR:
        lead = xc.shape[:-1]
        r = fixed_matmul(
            xc.reshape(-1, xc.shape[-1]),
            wc.T,
            fin,
            fw,
            accumulator=acc,
            overflow=formats.overflow,
            bias_codes=bias_codes,
        )
        acc_codes = r.codes.reshape(lead + (n_out,))
        axis = acc_codes.ndim - 1
    else:
        op = fixed_conv2d if kind is LayerKind.CONV2D else fixed_conv_transpose2d
        r = op(xc, wc, fin, fw, geometry, accumulator=acc, overflow=formats.overflow, bias_codes=bias_codes)
        acc_codes = r.codes
        axis = 1
    values, codes, out_sat = output_stage(acc_codes, acc, acc_frac, formats, axis, kout)
    stats = LayerStats(
        mode=Mode.EXACT,
        datapath="fixed",
        accumulator=str(acc),
        outputs=int(values.size),
        macs=_macs(kind, x, prep.wc, int(values.size), k),
        accumulator_overflows=r.overflow_count,
        output_saturations=out_sat,
        input_saturations=_out_of_range(x, fin),
        weight_saturations=prep.weight_sat,
        bias_saturations=prep.bias_sat,
    )
    return LayerResult(values, stats, codes if want_codes else None)


# -------------------------------------------------------------------------------------- Ristretto mode
def _ristretto(kind, x, w, b, formats: LayerFormats, geometry, rng, cpu_compat) -> LayerResult:
    kin, kw_, kb, kout = _keys(rng, formats.rounding)
    rnd = formats.rounding
    xq = ristretto_quantize(x, formats.inputs, rnd, cpu_compat, kin)
    wq = ristretto_quantize(w, formats.weights, rnd, cpu_compat, kw_)
    k = _reduction_length(kind, w, geometry)
    if kind is LayerKind.LINEAR:
        y = np.matmul(xq, wq.T)
        axis = y.ndim - 1
    elif kind is LayerKind.CONV2D:
        y = float32_conv2d(xq, wq, geometry)
        axis = 1
    else:
        y = float32_conv_transpose2d(xq, wq, geometry)
        axis = 1
    bias_sat = 0
    if b is not None:
        if isinstance(formats.weights, PowerOfTwo):
            bq = b.astype(np.float32)  # reference §3: the bias stays float in power-of-two mode
        else:
            wfmt = formats.weights  # reference §1.3: the bias uses the weights' format (per channel: along O)
            bq = ristretto_quantize(b, wfmt, rnd, cpu_compat, kb)
            bias_sat = _out_of_range(b, wfmt)
        shape = [1] * y.ndim
        shape[axis] = bq.size
        y = (y + bq.reshape(shape)).astype(np.float32)
    out_sat = _out_of_range(y.astype(np.float64), formats.outputs)
    yq = ristretto_quantize(y, formats.outputs, rnd, cpu_compat, kout)
    stats = LayerStats(
        mode=Mode.RISTRETTO,
        datapath="ristretto-float32",
        accumulator="float32",
        outputs=int(yq.size),
        macs=_macs(kind, x, w, int(yq.size), k),
        output_saturations=out_sat,
        input_saturations=_out_of_range(x, formats.inputs),
        weight_saturations=_out_of_range(w, formats.weights),
        bias_saturations=bias_sat,
    )
    return LayerResult(yq.astype(np.float64), stats, None)


# ------------------------------------------------------------------------------------------ shift-and-add PE
def _direct_conv_operands(kind, x, w, geometry):
    """(x, w, pad, geometry) of the direct convolution computing a conv / transposed conv."""
    if kind is LayerKind.CONV2D:
        return x, w, geometry.padding, geometry
    return transposed_as_direct(x, w, geometry)


def _shift(kind, x, w, b, formats: LayerFormats, geometry, n_out, rng, pe) -> LayerResult:
    fin, fw = formats.inputs, formats.weights
    pe = ShiftPE() if pe is None else pe
    if not isinstance(pe, ShiftPE):
        raise TypeError(f"shift_pe={pe!r} must be a ShiftPE")
    if fin.per_channel:
        raise ValueError(f"inputs={fin} cannot be per-channel")
    kin, kw_, kb, kout = _keys(rng, formats.rounding)
    k = _reduction_length(kind, w, geometry)
    acc = formats.accumulator if formats.accumulator is not None else default_shift_accumulator(fin, fw, k)
    check_shift_accumulator(acc, fin, fw)
    acc_frac = np.full(n_out, acc.frac_bits, dtype=np.int64)
    xc = fin.encode(x, formats.rounding, Overflow.SATURATE, kin)
    bias_codes, bias_sat = _bias_preload(b, formats, acc, acc_frac, kb)
    if kind is LayerKind.LINEAR:
        wcode, t_min = weight_shift_codes(w, fw, fin, acc, formats.rounding, kw_)
        lead = xc.shape[:-1]
        prods = shift_products(xc.reshape(-1, xc.shape[-1]), wcode.T, t_min, pe, fin, fw, acc)
        r = accumulate(prods, bias_codes, acc, formats.overflow)
        acc_codes = r.codes.reshape(lead + (n_out,))
        axis = acc_codes.ndim - 1
    else:
        wq = fw.quantize(w, formats.rounding, rng=kw_)  # round once; the direct form only reorders values
        xd, wd, pad, gd = _direct_conv_operands(kind, xc, wq, geometry)
        wcode, t_min = weight_shift_codes(wd, fw, fin, acc)
        wm = weight_matrix(wcode, gd.groups)
        r = conv_accumulate(
            xd,
            wd,
            pad,
            gd,
            acc,
            formats.overflow,
            bias_codes,
            products_cls=lambda p, m: shift_products(p, m, t_min, pe, fin, fw, acc),
            w_matrix=wm,
        )
        acc_codes = r.codes
        axis = 1
    values, codes, out_sat = output_stage(acc_codes, acc, acc_frac, formats, axis, kout)
    stats = LayerStats(
        mode=Mode.EXACT,
        datapath="shift",
        accumulator=str(acc),
        outputs=int(values.size),
        macs=_macs(kind, x, w, int(values.size), k),
        accumulator_overflows=r.overflow_count,
        output_saturations=out_sat,
        input_saturations=_out_of_range(x, fin),
        weight_saturations=_out_of_range(w, fw),
        bias_saturations=bias_sat,
    )
    return LayerResult(values, stats, codes)


# ------------------------------------------------------------------------------------------ minifloat MAC
def _minifloat(kind, x, w, b, formats: LayerFormats, geometry, n_out, rng) -> LayerResult:
    fin, fw = formats.inputs, formats.weights
    kin, kw_, kb, kout = _keys(rng, formats.rounding)
    acc = formats.accumulator
    if isinstance(acc, FixedPoint):
        raise ValueError(
            f"accumulator={acc}: minifloat MACs take accumulator=None (exact Kulisch accumulator, its width "
            "derived from the formats) or a Minifloat (float accumulation)"
        )
    k = _reduction_length(kind, w, geometry)
    rnd = formats.rounding
    xq = fin.quantize(x, rnd, rng=kin)
    wq = fw.quantize(w, rnd, rng=kw_)
    bq = None
    if b is not None:
        bq = b if formats.bias is None else formats.bias.quantize(b, rnd, rng=kb)

    def mac(a_mat, w_mat, bias, offset=0):
        key = None if kout is None else StochasticKey(kout.seed, kout.offset + offset)
        return minifloat_matmul(
            a_mat,
            w_mat,
            fin,
            fw,
            accumulator=acc,
            product_format=formats.product,
            bias=bias,
            readout=formats.outputs,
            rounding=rnd,
            rng=key,
            check_operands=False,
        )

    if kind is LayerKind.LINEAR:
        lead = xq.shape[:-1]
        res = mac(xq.reshape(-1, xq.shape[-1]), wq.T, bq)
        values = res.values.reshape(lead + (n_out,))
        nan, inf, name, sat = res.nan_count, res.inf_count, res.accumulator, res.saturations
    else:
        xd, wd, pad, gd = _direct_conv_operands(kind, xq, wq, geometry)
        g = gd.groups
        bias = None if bq is None else bq.reshape(g, 1, wd.shape[0] // g)
        nan = inf = sat = offset = 0

        def chunk(patches, wm):
            nonlocal nan, inf, sat, offset, name
            res = mac(patches, wm, bias, offset)
            offset += res.values.size * (2 * k + 4)  # stochastic draws of different chunks never overlap
            nan += res.nan_count
            inf += res.inf_count
            sat += res.saturations
            name = res.accumulator
            return res.values

        values = im2col_conv(xd, wd, pad, gd, np.float64, chunk)
    stats = LayerStats(
        mode=Mode.EXACT,
        datapath=formats.datapath,
        accumulator=name,
        outputs=int(values.size),
        macs=_macs(kind, x, w, int(values.size), k),
        output_saturations=sat,
        input_saturations=_out_of_range(x, fin),
        weight_saturations=_out_of_range(w, fw),
        bias_saturations=0 if b is None else _out_of_range(b, formats.bias),
        nan_outputs=nan,
        inf_outputs=inf,
    )
    codes = None
    if isinstance(formats.outputs, Minifloat) or (formats.outputs is not None and not np.isnan(values).any()):
        codes = formats.outputs.encode(values)  # values are on the grid: encoding is exact
    return LayerResult(values, stats, codes)
