"""Ristretto's ``quantization_param`` (reference ``ristretto.md`` §1.3, §1.5, §2, §3, §5) as format objects.

``read_quantization`` turns the ``quantization_param`` block of one Ristretto layer (``ConvolutionRistretto``,
``FcRistretto``, ``DeconvolutionRistretto``, ``LRNRistretto``) into a ``RistrettoQuant``: the precision, the
rounding and one format object per tensor role, exactly as Ristretto applies them:

* ``DYNAMIC_FIXED_POINT``: inputs ``FixedPoint(bw_layer_in, fl_layer_in)``, outputs ``FixedPoint(bw_layer_out,
  fl_layer_out)``, weights **and bias** ``FixedPoint(bw_params, fl_params)`` (the bias shares the weights'
  format). Unset fields take the proto defaults: 32 bits, fl 16 (Q16.16, not float).
* ``MINIFLOAT``: inputs, outputs, weights and bias all ``Minifloat(exp_bits, mant_bits, subnormals=False,
  specials="none")``, the hardware twin of Ristretto's minifloat (its exact quirks live in
  ``formats.ristretto``).
* ``INTEGER_POWER_OF_2_WEIGHTS``: weights ``PowerOfTwo(exp_min, exp_max, has_zero=False)`` (zero becomes
  ``+2**exp_min``), the bias stays float (None), activations 8-bit-style DFP from
  ``bw_layer_*``/``fl_layer_*`` (GPU semantics; the CPU code leaves them unquantized).
* ``LRNRistretto`` allows MINIFLOAT only (its constructor is FATAL otherwise); its formats are inputs, outputs
  and ``internal`` (every intermediate of the scale computation), all the same minifloat.

``rounding_scheme`` NEAREST is ``Rounding.NEAREST_EVEN`` (Ristretto's GPU ``rint``, the reference semantics);
STOCHASTIC is ``Rounding.STOCHASTIC``. ``explicit`` lists the fields the file set, for faithful re-export.
"""

from __future__ import annotations

from dataclasses import dataclass

from ristretto_sim.formats import FixedPoint, Minifloat, PowerOfTwo, Rounding
from ristretto_sim.io.caffe.schema import DEFAULTS, Message

PRECISIONS = ("DYNAMIC_FIXED_POINT", "MINIFLOAT", "INTEGER_POWER_OF_2_WEIGHTS")
ROLES = ("inputs", "weights", "bias", "outputs", "internal")


@dataclass(frozen=True)
class RistrettoQuant:
    """The quantization of one Ristretto layer.

    Parameters
    ----------
    layer_type : str
        The Caffe type (``ConvolutionRistretto``, ``FcRistretto``, ``DeconvolutionRistretto``,
        ``LRNRistretto``).
    precision : str
        ``DYNAMIC_FIXED_POINT``, ``MINIFLOAT`` or ``INTEGER_POWER_OF_2_WEIGHTS``.
    rounding : Rounding
        ``NEAREST_EVEN`` (NEAREST) or ``STOCHASTIC``.
    inputs, weights, bias, outputs, internal : format object or None
        The format of each tensor role; None where Ristretto leaves the tensor in float (the bias of a
        power-of-two layer; ``internal`` except for LRNRistretto; weights and bias of LRNRistretto).
    explicit : tuple of (str, int or str)
        The ``quantization_param`` fields set in the file, in file order.
    """

    layer_type: str
    precision: str
    rounding: Rounding
    inputs: object = None
    weights: object = None
    bias: object = None
    outputs: object = None
    internal: object = None
    explicit: tuple[tuple[str, object], ...] = ()

    def __post_init__(self):
        if self.precision not in PRECISIONS:
            raise ValueError(f"precision={self.precision!r} must be one of {PRECISIONS}")
        object.__setattr__(self, "rounding", Rounding.coerce(self.rounding, "rounding"))
        for role in ROLES:
            fmt = getattr(self, role)
            if fmt is not None and not isinstance(fmt, (FixedPoint, Minifloat, PowerOfTwo)):
                raise TypeError(f"{role}={fmt!r} must be a FixedPoint, Minifloat, PowerOfTwo or None")
        object.__setattr__(self, "explicit", tuple((str(k), v) for k, v in self.explicit))

    def formats(self) -> dict[str, object]:
        """``{role: format}`` for the roles that are quantized (the shape of a ``QuantPlan`` layer entry)."""
        return {role: getattr(self, role) for role in ROLES if getattr(self, role) is not None}

    def field(self, name: str):
        """The value of a ``quantization_param`` field, explicit or default."""
        for k, v in self.explicit:
            if k == name:
                return v
        return DEFAULTS["QuantizationParameter"][name]


def read_quantization(q: Message, layer_type: str) -> RistrettoQuant:
    """Read one layer's ``quantization_param`` message (``ValueError`` on values Ristretto would reject)."""
    precision = q.get("precision")
    rounding = Rounding.NEAREST_EVEN if q.get("rounding_scheme") == "NEAREST" else Rounding.STOCHASTIC
    explicit = tuple((name, values[-1]) for name, values in q.fields.items() if values)
    bw_in, bw_out, bw_params = (int(q.get(k)) for k in ("bw_layer_in", "bw_layer_out", "bw_params"))
    fl_in, fl_out, fl_params = (int(q.get(k)) for k in ("fl_layer_in", "fl_layer_out", "fl_params"))
    for name, bw in (("bw_layer_in", bw_in), ("bw_layer_out", bw_out), ("bw_params", bw_params)):
        if not 1 <= bw <= 64:
            raise ValueError(f"{name}={bw} must lie in 1..64")
    common = dict(layer_type=layer_type, precision=precision, rounding=rounding, explicit=explicit)
    if layer_type == "LRNRistretto" and precision != "MINIFLOAT":
        raise ValueError(f"LRNRistretto supports only precision MINIFLOAT (Ristretto aborts on {precision})")
    if precision == "DYNAMIC_FIXED_POINT":
        weights = FixedPoint(bw_params, fl_params)
        return RistrettoQuant(inputs=FixedPoint(bw_in, fl_in), weights=weights, bias=weights,
                              outputs=FixedPoint(bw_out, fl_out), **common)
    if precision == "MINIFLOAT":
        exp_bits, man_bits = int(q.get("exp_bits")), int(q.get("mant_bits"))
        mf = Minifloat(exp_bits, man_bits, subnormals=False, specials="none")
        if layer_type == "LRNRistretto":
            return RistrettoQuant(inputs=mf, outputs=mf, internal=mf, **common)
        return RistrettoQuant(inputs=mf, weights=mf, bias=mf, outputs=mf, **common)
    exp_min, exp_max = int(q.get("exp_min")), int(q.get("exp_max"))
    return RistrettoQuant(inputs=FixedPoint(bw_in, fl_in), weights=PowerOfTwo(exp_min, exp_max,
                                                                              has_zero=False),
                          bias=None, outputs=FixedPoint(bw_out, fl_out), **common)
