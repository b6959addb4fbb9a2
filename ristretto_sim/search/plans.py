"""The plans the trimming search scores: Ristretto's per-layer formats for a choice of widths.

Dynamic fixed point (reference §4 step 4, §1.4): a conv/fc layer given weight width ``Bw`` gets weights (and, as in
Ristretto, the bias) ``FixedPoint(Bw, Bw - il_params)``; given activation width ``Ba``, inputs
``FixedPoint(Ba, Ba - il_in)`` and outputs ``FixedPoint(Ba, Ba - il_out)``. A role that is not being trimmed keeps
the ``quantization_param`` default **Q16.16** (``FixedPoint(32, 16)``), not float; layers outside the trimmed
groups get no entry (float). Minifloat: every role ``Minifloat(e, B - e - 1)`` with Ristretto's semantics (no
subnormals, no specials). Power of two: weights ``pow2[exp_min, exp_max]`` without zero, the bias float,
activations 8-bit DFP.

``exact`` mode adds what hardware needs: an accumulator with ``frac = fl_in + fl_w`` whose width cannot overflow
(the emulator's ``default_accumulator``, ``in.bits + w.bits + ceil(log2 K) + 1``; the search's widths, at most 32
bits, stay far below the emulator's 128-bit limit) or is declared (``acc_bits``), and optionally the bias at the
accumulator's precision (an extension) instead of the weights' format. ``ristretto`` mode plans carry no
accumulator (Ristretto used float32) and rounding NEAREST (its GPU ``rint``), so they equal what the Caffe
importer reads back from the written prototxt.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from ristretto_sim.emulator import Mode
from ristretto_sim.emulator.accumulator import MAX_ACCUMULATOR_BITS
from ristretto_sim.formats import FixedPoint, Minifloat, PowerOfTwo, Rounding
from ristretto_sim.graph.layers import Conv, Dense
from ristretto_sim.graph.network import Network
from ristretto_sim.graph.plan import LayerPlan, QuantPlan
from ristretto_sim.runtime.calibrate import no_overflow_accumulator
from ristretto_sim.search.modes import Group
from ristretto_sim.search.statistics import RangeStatistics

#: the quantization_param default of every unset DFP field: 32 bits, fl 16 (reference §1.5)
Q16_16 = FixedPoint(32, 16)


@dataclass(frozen=True)
class PlanOptions:
    """How plans are built.

    Parameters
    ----------
    mode : emulator.Mode or str
        ``exact`` or ``ristretto``.
    acc_bits : int, optional
        Exact mode: a declared accumulator width (default: one that cannot overflow).
    bias_at_accumulator : bool
        Exact mode extension: quantize the bias at the accumulator's precision (what hardware does) instead of
        the weights' format (Ristretto).
    """

    mode: Mode = Mode.RISTRETTO
    acc_bits: int | None = None
    bias_at_accumulator: bool = False

    def __post_init__(self):
        object.__setattr__(self, "mode", Mode.coerce(self.mode, "mode"))
        if self.acc_bits is not None:
            if isinstance(self.acc_bits, bool) or not isinstance(self.acc_bits, int):
                raise TypeError(f"acc_bits={self.acc_bits!r} must be an integer")
            if not 2 <= self.acc_bits <= MAX_ACCUMULATOR_BITS:
                raise ValueError(f"acc_bits={self.acc_bits} must lie in 2..{MAX_ACCUMULATOR_BITS} (the emulator's "
                                 "widest accumulator)")
            if self.mode is Mode.RISTRETTO:
                raise ValueError("acc_bits needs exact mode (Ristretto accumulated in float32)")
        if self.bias_at_accumulator and self.mode is Mode.RISTRETTO:
            raise ValueError("bias at accumulator precision needs exact mode (Ristretto put the bias in the "
                             "weights' format)")

    @property
    def exact(self) -> bool:
        return self.mode is Mode.EXACT

    @property
    def rounding(self) -> Rounding | None:
        """The rounding of every layer entry: None (the plan's default) in exact mode, NEAREST_EVEN (Ristretto's GPU
        ``rint``) in ristretto mode."""
        return None if self.exact else Rounding.NEAREST_EVEN


def _accumulator(network: Network, name: str, fin: FixedPoint, fw: FixedPoint, acc_bits: int | None) -> FixedPoint:
    """Layer ``name``'s accumulator: ``acc_bits`` wide with ``frac = fl_in + fl_w``, or (None) one that cannot
    overflow."""
    if acc_bits is None:
        return no_overflow_accumulator(network, name, fin, fw)
    return FixedPoint(acc_bits, fin.frac_bits + fw.frac_bits)


def layer_groups(network: Network) -> dict[Group, tuple[str, ...]]:
    """Ristretto's groups: ``conv`` = Convolution layers, ``fc`` = InnerProduct layers (Deconvolution is in
    neither: the tool never converted it). The activations group is every conv and fc layer."""
    conv = tuple(layer.name for layer in network.layers if isinstance(layer, Conv))
    fc = tuple(layer.name for layer in network.layers if isinstance(layer, Dense))
    acts = tuple(layer.name for layer in network.layers if isinstance(layer, (Conv, Dense)))
    return {Group.CONV: conv, Group.FC: fc, Group.ACTIVATIONS: acts}


def dfp_layer(network: Network, stats: RangeStatistics, name: str, weight_bits: int | None,
              act_bits: int | None, options: PlanOptions) -> LayerPlan:
    """The entry of one layer: ``weight_bits``/``act_bits`` None keep that role at Q16.16."""
    il_in, il_out, il_w = stats[name].integer_lengths()
    fw = Q16_16 if weight_bits is None else FixedPoint(weight_bits, weight_bits - il_w)
    fin = Q16_16 if act_bits is None else FixedPoint(act_bits, act_bits - il_in)
    fout = Q16_16 if act_bits is None else FixedPoint(act_bits, act_bits - il_out)
    if not options.exact:
        return LayerPlan(fin, fw, fw, fout, rounding=options.rounding)
    acc = _accumulator(network, name, fin, fw, options.acc_bits)
    bias = acc if options.bias_at_accumulator else fw
    return LayerPlan(fin, fw, bias, fout, acc)


def dfp_plan(network: Network, stats: RangeStatistics, widths: Mapping[str, tuple[int | None, int | None]],
             options: PlanOptions) -> QuantPlan:
    """A plan from ``{layer: (weight_bits, act_bits)}`` (None: Q16.16); layers not listed stay float."""
    layers = {}
    for layer in network.layers:
        if layer.name in widths:
            wb, ab = widths[layer.name]
            layers[layer.name] = dfp_layer(network, stats, layer.name, wb, ab, options)
    return QuantPlan(layers, mode=options.mode)


def group_widths(network: Network, *, conv: int | None = None, fc: int | None = None,
                 activations: int | None = None) -> dict[str, tuple[int | None, int | None]]:
    """Per-layer ``(weight_bits, act_bits)`` of a Ristretto sweep or combined net.

    Ristretto converts a layer when its group is being trimmed: in the conv sweep only conv layers (fc float),
    in the fc sweep only fc layers, in the activation sweep every conv and fc layer (weights Q16.16).
    """
    groups = layer_groups(network)
    out: dict[str, tuple[int | None, int | None]] = {}
    for name in groups[Group.ACTIVATIONS]:
        wb = conv if name in groups[Group.CONV] else fc
        if wb is None and activations is None:
            continue
        out[name] = (wb, activations)
    return out


def ristretto_minifloat_format(bits: int, exp_bits: int) -> Minifloat:
    """Ristretto's ``bits``-bit minifloat: ``exp_bits`` exponent bits, ``bits - exp_bits - 1`` mantissa bits."""
    man = bits - exp_bits - 1
    if man < 0:
        raise ValueError(f"a {bits}-bit minifloat cannot have {exp_bits} exponent bits")
    return Minifloat(exp_bits, man, subnormals=False, specials="none")


def minifloat_plan(network: Network, fmt: Minifloat, options: PlanOptions) -> QuantPlan:
    """Every conv and fc layer in minifloat ``fmt`` (inputs, weights, bias, outputs); exact mode accumulates
    exactly (Kulisch accumulator)."""
    layers = {}
    for name in layer_groups(network)[Group.ACTIVATIONS]:
        layers[name] = LayerPlan(fmt, fmt, fmt, fmt, rounding=options.rounding)
    return QuantPlan(layers, mode=options.mode)


def pow2_plan(network: Network, stats: RangeStatistics, options: PlanOptions, *, exp_min: int = -8,
              exp_max: int = -1, act_bits: int = 8) -> QuantPlan:
    """Power-of-two weights ``[exp_min, exp_max]`` (no zero code; the bias stays float) and ``act_bits`` DFP
    activations on every conv and fc layer."""
    pw = PowerOfTwo(exp_min, exp_max, has_zero=False)
    layers = {}
    for name in layer_groups(network)[Group.ACTIVATIONS]:
        il_in, il_out, _ = stats[name].integer_lengths()
        fin, fout = FixedPoint(act_bits, act_bits - il_in), FixedPoint(act_bits, act_bits - il_out)
        layers[name] = LayerPlan(fin, pw, None, fout, rounding=options.rounding)
    return QuantPlan(layers, mode=options.mode)


def exact_plan(plan: QuantPlan, network: Network, *, acc_bits: int | None = None) -> QuantPlan:
    """``plan`` for exact arithmetic: fixed-point layers get an accumulator with ``frac = fl_in + fl_w`` that cannot
    overflow (or ``acc_bits`` wide); other entries are kept. Mode ``exact``."""
    layers = {}
    for name, e in plan.layers.items():
        weighted = e.inputs is not None and e.weights is not None
        if weighted and e.accumulator is None and plan.layer_formats(name).datapath == "fixed":
            acc = _accumulator(network, name, e.inputs, e.weights, acc_bits)
            e = LayerPlan(e.inputs, e.weights, e.bias, e.outputs, acc, rounding=e.rounding, overflow=e.overflow)
        layers[name] = e
    return QuantPlan(layers, mode=Mode.EXACT, rounding=plan.rounding, overflow=plan.overflow)
