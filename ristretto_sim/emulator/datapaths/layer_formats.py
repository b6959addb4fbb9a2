"""``LayerFormats``: the formats of one weighted layer, the one description of a layer's arithmetic that the plan,
the emulator and the hardware model share; and ``Mode``, which arithmetic computes it.

A ``LayerFormats`` selects its datapath from the registry (:func:`~ristretto_sim.emulator.datapaths.select`); a
missing accumulator means the selected datapath's default everywhere (no-overflow fixed point, an exact Kulisch
accumulator for minifloats, a lossless one for shift-and-add).
"""

from __future__ import annotations

from dataclasses import KW_ONLY, dataclass, replace

from ristretto_sim.enums import NamedEnum
from ristretto_sim.formats import Minifloat, Overflow, PowerOfTwo, Rounding, parse_format
from ristretto_sim.formats.base import NumberFormat, check_int


class Mode(NamedEnum):
    """Which arithmetic produced a result: ``EXACT`` (the integers of the hardware) or ``RISTRETTO`` (the
    original tool's fake-quantized float32 simulation)."""

    EXACT = "exact"
    RISTRETTO = "ristretto"


def check_format(value, name: str, allow_none: bool = True):
    """``value`` if it is a number format (its text form is parsed; None when allowed), else ``TypeError``
    naming ``name``."""
    if value is None and allow_none:
        return None
    if isinstance(value, str):
        return parse_format(value)
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
        Format of the layer input (activations). Every format may also be given as its text form
        (``"fixed8.7"``, ``"e4m3"``).
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
        ``kulisch_bits``), a ``FixedPoint`` Kulisch register (fraction ``-(q_in + q_w)``, wide enough for the
        layer: see ``kulisch_format``) or a ``Minifloat`` (float accumulation, one rounding per addition).
        Shift-and-add datapaths: a ``FixedPoint`` whose fraction sets the shifts (default: lossless, cannot
        overflow).
    rounding : Rounding or str
        Rounding of every quantization step of the layer (keyword-only; default nearest-even).
    overflow : Overflow or str
        Accumulator overflow: ``"saturate"`` (default) or ``"wrap"`` (keyword-only).
    product : Minifloat, optional
        Minifloat datapaths with a float accumulator: the format each product is rounded to before it is added
        (None: exact products).
    shifter_bits : int, optional
        Shift-and-add datapaths: the width of the barrel shifter's output (None: wide enough that nothing falls
        off the top).

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
    shifter_bits: int | None = None

    def __post_init__(self):
        object.__setattr__(self, "inputs", check_format(self.inputs, "inputs", allow_none=False))
        object.__setattr__(self, "weights", check_format(self.weights, "weights", allow_none=False))
        for name in ("bias", "outputs", "accumulator", "product"):
            object.__setattr__(self, name, check_format(getattr(self, name), name))
        if isinstance(self.inputs, PowerOfTwo):
            raise ValueError(f"inputs={self.inputs}: power-of-two activations are not supported (weights only)")
        if isinstance(self.outputs, PowerOfTwo):
            raise ValueError(f"outputs={self.outputs}: power-of-two outputs are not supported")
        if isinstance(self.accumulator, PowerOfTwo):
            raise ValueError(f"accumulator={self.accumulator} must be a FixedPoint or a Minifloat")
        if self.product is not None and not isinstance(self.product, Minifloat):
            raise TypeError(f"product={self.product!r} must be a Minifloat or None")
        if self.shifter_bits is not None:
            object.__setattr__(
                self, "shifter_bits", check_int(self.shifter_bits, "shifter_bits", minimum=1, maximum=62)
            )
        object.__setattr__(self, "rounding", Rounding.coerce(self.rounding, "rounding"))
        ov = Overflow.coerce(self.overflow, "overflow")
        object.__setattr__(self, "overflow", Overflow.SATURATE if ov is Overflow.NATURAL else ov)

    def resolved(self, k: int, n_out: int = 1) -> LayerFormats:
        """These formats with the accumulator the datapath uses for reduction length ``k`` filled in (its
        default when none is declared) and the outputs defaulting to it: every width the cost model reads."""
        from ristretto_sim.emulator.datapaths.registry import select  # the registry imports this module

        acc = select(self).accumulator_for(k, n_out)
        return replace(self, accumulator=acc, outputs=self.outputs if self.outputs is not None else acc)

    @property
    def datapath(self) -> str:
        """The name of the exact-mode datapath these formats select (``fixed``, ``shift``,
        ``minifloat-kulisch``, ``minifloat-float``); ``ValueError`` if none multiplies these operands."""
        from ristretto_sim.emulator.datapaths.registry import select  # the registry imports this module

        return select(self).name
