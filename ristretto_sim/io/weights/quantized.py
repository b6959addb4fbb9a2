"""The integer codes of a network's weights and biases under a ``QuantPlan``: what the emulator computes with.

``quantized_tensors(network, plan)`` returns one ``QuantizedTensor`` per weight and bias of every planned Conv,
ConvTranspose and Dense layer: its format and its integer codes (fixed point: two's complement values as int64;
minifloat: bit patterns; power of two: ``sign << (bits-1) | magnitude code``). Decoding the codes gives exactly the
values the emulator uses in the plan's mode (``decode(codes) == values``, checked here):

* **exact** mode: the weights are ``weights.encode(w, rounding, saturate, key)`` as ``emulator.emulate_layer``
  encodes them (the same stochastic key for stochastic rounding). The bias is stored in the plan's ``bias``
  format when there is one (the emulator then aligns it to the accumulator's fraction; with
  ``bias.frac_bits <= accumulator.frac_bits`` that is a plain shift); without a bias format, fixed-point and
  shift-and-add layers store the accumulator preload codes (the accumulator's format), and minifloat layers
  the float32 bias (the pseudo-format ``FLOAT32``).
* **ristretto** mode: Ristretto's fake-quantizers; the bias takes the weights' format (reference ``ristretto.md``
  section 1.3), or stays float32 for power-of-two weights (section 3). Ristretto's minifloat has no bit patterns
  (its exponent field 0 is a normal binade and zero has no code), so minifloat weights in ristretto mode are a
  ``ValueError``: export the plan in exact mode.

Weights are kept in the network's own layout (OIHW for convolutions, ``(C_in, C_out/groups, kH, kW)`` for
transposed convolutions, ``(out, in)`` for dense layers), row-major.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from ristretto_sim.emulator import Mode, bias_to_accumulator, default_accumulator, ristretto_quantize
from ristretto_sim.emulator.datapaths import Keys
from ristretto_sim.emulator.shift_pe import default_shift_accumulator
from ristretto_sim.formats import Affine, FixedPoint, Minifloat, Overflow, PowerOfTwo
from ristretto_sim.formats.base import NumberFormat
from ristretto_sim.graph.layers import WEIGHTED, Dense, layer_reduction_length
from ristretto_sim.graph.network import Network
from ristretto_sim.graph.plan import QuantPlan


@dataclass(frozen=True)
class Float32Format:
    """The pseudo-format of a tensor kept in IEEE 754 binary32: codes are its bit patterns (uint32 values)."""

    bits: ClassVar[int] = 32

    def encode(self, x) -> np.ndarray:
        """Bit patterns (int64 holding the uint32 pattern) of ``x`` rounded to float32."""
        return np.asarray(x, dtype=np.float32).view(np.uint32).astype(np.int64)

    def decode(self, codes) -> np.ndarray:
        """Values (float64) of binary32 bit patterns."""
        return np.asarray(codes, dtype=np.int64).astype(np.uint32).view(np.float32).astype(np.float64)

    def __str__(self) -> str:
        return "float32"


#: the binary32 pseudo-format (float biases)
FLOAT32 = Float32Format()



@dataclass(frozen=True, eq=False)
class QuantizedTensor:
    """One quantized weight or bias tensor.

    Attributes
    ----------
    layer : str
        Layer name.
    param : str
        ``"weight"`` or ``"bias"``.
    fmt : FixedPoint, Minifloat, PowerOfTwo or Float32Format
        The format of the codes.
    codes : ndarray of int64
        Integer codes in the tensor's shape (module docstring).
    """

    layer: str
    param: str
    fmt: object
    codes: np.ndarray

    def __post_init__(self):
        if self.param not in ("weight", "bias"):
            raise ValueError(f"param={self.param!r} must be 'weight' or 'bias'")
        if not isinstance(self.fmt, (NumberFormat, Float32Format)):
            raise TypeError(f"fmt={self.fmt!r} must be a number format or FLOAT32")
        codes = np.asarray(self.codes)
        if codes.dtype.kind not in "iu":
            raise TypeError(f"codes of {self.layer}.{self.param} must be integers, got dtype {codes.dtype}")
        codes = codes.astype(np.int64)
        codes.setflags(write=False)
        object.__setattr__(self, "codes", codes)

    @property
    def name(self) -> str:
        """``layer.param``."""
        return f"{self.layer}.{self.param}"

    @property
    def shape(self) -> tuple[int, ...]:
        return tuple(self.codes.shape)

    @property
    def signed(self) -> bool:
        """True when the codes are two's complement numbers (signed fixed point or affine); else unsigned bit
        patterns."""
        return twos_complement(self.fmt)

    def values(self) -> np.ndarray:
        """The values of the codes (float64)."""
        return decode_codes(self.fmt, self.codes)


def twos_complement(fmt) -> bool:
    """Whether codes of ``fmt`` are two's complement integers (signed fixed point and signed affine formats; the
    others' codes are unsigned bit patterns)."""
    return isinstance(fmt, (FixedPoint, Affine)) and fmt.signed


def decode_codes(fmt, codes) -> np.ndarray:
    """Values (float64) of integer codes in ``fmt`` (a format or ``FLOAT32``)."""
    codes = np.asarray(codes)
    if isinstance(fmt, (Minifloat, PowerOfTwo)):
        codes = codes.astype(np.uint64)
    return fmt.decode(codes)


def _encode_exactly(fmt, values: np.ndarray, what: str) -> np.ndarray:
    """Codes of values that lie on ``fmt``'s grid; ``ValueError`` naming ``what`` if one does not."""
    codes = np.asarray(fmt.encode(values)).astype(np.int64)
    back = decode_codes(fmt, codes)
    if not np.array_equal(back, np.asarray(values, dtype=np.float64)):
        bad = int(np.argmax(back != values))
        raise ValueError(
            f"{what}: value {float(np.ravel(values)[bad])!r} is not representable in {fmt}; it has no code"
        )
    return codes


def layer_tensors(network: Network, plan: QuantPlan, name: str, *, mode=None, rng=None) -> list[QuantizedTensor]:
    """The quantized weight (and bias, if any) of one planned weighted layer (module docstring)."""
    layer = network.layer(name)
    mode = plan.mode if mode is None else Mode.coerce(mode, "mode")
    formats = plan.layer_formats(name)
    rounding = formats.rounding
    keys = Keys.of(rng, rounding)
    kw, kb = keys.weights, keys.bias
    params = network.params[name]
    w = np.asarray(params["weight"], dtype=np.float64)
    b = params.get("bias")
    b = None if b is None else np.asarray(b, dtype=np.float64)
    fw = formats.weights
    where = f"layer {name!r}"
    out = []
    if mode is Mode.RISTRETTO:
        if isinstance(fw, Minifloat):
            raise ValueError(
                f"{where}: Ristretto-mode minifloat weights ({fw}) have no bit patterns (Ristretto's exponent "
                "field 0 is a normal binade and zero has no code); export the plan in exact mode"
            )
        wq = ristretto_quantize(w, fw, rounding, rng=kw).astype(np.float64)
        out.append(QuantizedTensor(name, "weight", fw, _encode_exactly(fw, wq, f"{where} weight")))
        if b is not None:
            if isinstance(fw, PowerOfTwo):
                out.append(QuantizedTensor(name, "bias", FLOAT32, FLOAT32.encode(b)))
            else:
                bq = ristretto_quantize(b, fw, rounding, rng=kb).astype(np.float64)
                out.append(QuantizedTensor(name, "bias", fw, _encode_exactly(fw, bq, f"{where} bias")))
        return out
    path = formats.datapath
    overflow = Overflow.SATURATE if isinstance(fw, (FixedPoint, PowerOfTwo)) else None
    codes = np.asarray(fw.encode(w, rounding, overflow, kw)).astype(np.int64)
    out.append(QuantizedTensor(name, "weight", fw, codes))
    if b is None:
        return out
    if formats.bias is not None:
        fb = formats.bias
        ov = Overflow.SATURATE if isinstance(fb, (FixedPoint, PowerOfTwo)) else None
        bcodes = np.asarray(fb.encode(b, rounding, ov, kb)).astype(np.int64)
        out.append(QuantizedTensor(name, "bias", fb, bcodes))
    elif path in ("fixed", "shift"):
        k = layer_reduction_length(layer, w)
        n_out = layer.out_features if isinstance(layer, Dense) else layer.out_channels
        acc = formats.accumulator
        if acc is None:
            acc = default_accumulator(formats.inputs, fw, k, n_out) if path == "fixed" else (
                default_shift_accumulator(formats.inputs, fw, k)
            )
        frac = np.broadcast_to(np.asarray(acc.frac_bits, dtype=np.int64), (n_out,))
        bcodes, _ = bias_to_accumulator(b, acc, frac, rounding, kb)
        out.append(QuantizedTensor(name, "bias", acc, bcodes))
    else:
        out.append(QuantizedTensor(name, "bias", FLOAT32, FLOAT32.encode(b)))
    return out


def quantized_tensors(network: Network, plan: QuantPlan, *, mode=None, rng=None) -> list[QuantizedTensor]:
    """Every planned weighted layer's quantized weight and bias, in network order.

    Parameters
    ----------
    network : Network
    plan : QuantPlan
        Checked against the network (``PlanError``).
    mode : emulator.Mode or str, optional
        ``"exact"`` or ``"ristretto"`` (default: the plan's).
    rng : optional
        Seed for a plan with stochastic rounding (the emulator's key derivation is used).

    Raises
    ------
    PlanError
        If the plan does not fit the network.
    ValueError
        If a planned layer's quantized weights have no codes (Ristretto-mode minifloat), or stochastic rounding
        has no seed.
    """
    if not isinstance(plan, QuantPlan):
        raise TypeError(f"plan={plan!r} must be a QuantPlan")
    plan.check(network)
    out = []
    for layer in network.layers:
        if isinstance(layer, WEIGHTED) and layer.name in plan:
            out.extend(layer_tensors(network, plan, layer.name, mode=mode, rng=rng))
    if not out:
        raise ValueError(f"the plan quantizes no weighted layer of model {network.name!r}")
    return out
