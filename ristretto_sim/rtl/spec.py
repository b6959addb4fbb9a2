"""``PESpec``: what a generated PE implements, the one object every generator, golden model and testbench reads.

A PE is the hardware side of one datapath (:mod:`ristretto_sim.emulator.datapaths`): its ``LayerFormats`` select
the datapath from the registry, and the reduction length ``k`` it is sized for fixes the accumulator
(``Datapath.accumulator_for(k)``: the declared one, validated, or the datapath's default). Port widths are read
from the format objects here (``port_shape``), never carried around as loose integers.

``PEZeroPoint`` is the RTL's choice of zero-point handling for an affine PE: the emulator's ``ZeroPoint``
(``subtract``, ``fold``, which the cost model ``hw`` prices) and ``register``, the zero points as run-time
configuration inputs of the PE (one PE for every layer of a network). It lives here, not in the emulator's enum,
so the cost model's choices stay what they are.
"""

from __future__ import annotations

from dataclasses import dataclass

from amaranth.hdl import Shape, signed, unsigned

from ristretto_sim.emulator.datapaths import Datapath, LayerFormats, select
from ristretto_sim.emulator.datapaths.affine import ZeroPoint
from ristretto_sim.formats import FixedPoint, format_kind
from ristretto_sim.formats.base import NumberFormat, check_int
from ristretto_sim.rtl.registry import pe_class

#: how an affine PE handles the zero points (the emulator's ``ZeroPoint``: ``subtract`` the layer's, constants of
#: the PE; ``register``: subtract the zero points on two configuration inputs ``za`` and ``zw``, loaded per layer;
#: ``fold`` the input one into the bias)
PEZeroPoint = ZeroPoint


def port_shape(fmt: NumberFormat) -> Shape:
    """The Amaranth shape of a port carrying codes of ``fmt``: two's complement for signed fixed point and signed
    affine codes, the raw bit pattern (unsigned) for every other format."""
    if format_kind(fmt) in ("fixed", "affine"):
        return signed(fmt.bits) if fmt.signed else unsigned(fmt.bits)
    return unsigned(fmt.bits)


@dataclass(frozen=True)
class PESpec:
    """A processing element: the layer formats it implements and the reduction length it is sized for.

    Parameters
    ----------
    formats : LayerFormats
        Operand, accumulator and output formats, rounding and overflow (the datapath follows from them).
    k : int
        Reduction length the accumulator is sized for (only matters when ``formats.accumulator`` is None or the
        datapath's default depends on it: Kulisch registers, no-overflow fixed-point accumulators).
    zero_point : {"subtract", "fold", "register"}
        Affine PEs: subtract the zero points in the PE, or multiply the raw codes onto the folded bias
        (``AffineMac.folded_bias``; symmetric weights only), or subtract zero points given on the configuration
        inputs ``za``/``zw`` (``register``: the formats' zero points are then one layer's, which the golden model
        and testbenches drive; the hardware depends on the code formats only).
    """

    formats: LayerFormats
    k: int = 1
    zero_point: PEZeroPoint = PEZeroPoint.SUBTRACT

    def __post_init__(self):
        if not isinstance(self.formats, LayerFormats):
            raise TypeError(f"formats={self.formats!r} must be a LayerFormats")
        object.__setattr__(self, "k", check_int(self.k, "k", minimum=1, maximum=1 << 30))
        object.__setattr__(self, "zero_point", PEZeroPoint.coerce(self.zero_point, "zero_point"))
        dp = self.datapath
        dp.validate()
        if self.formats.product is not None and dp.name != "minifloat-float":
            raise ValueError(f"product={self.formats.product}: a product format rounds the products before a float "
                             f"accumulator; the {dp.name} PE adds them exactly (declare a minifloat accumulator, "
                             "e.g. fp16, or leave the product format out)")
        if self.zero_point is not PEZeroPoint.SUBTRACT and dp.name != "affine":
            raise ValueError(f"zero_point={self.zero_point.value!r} is for affine PEs, not a {dp.name} one")
        if self.zero_point is PEZeroPoint.FOLD:
            if getattr(self.formats.weights, "zero_point", 0) != 0:
                raise ValueError(f"zero_point='fold' with weights {self.formats.weights} (z_w != 0): the row-sum "
                                 "unit it needs (z_w * sum_k a_k per output) has no hardware here; use "
                                 "zero_point='subtract'")
        acc = dp.accumulator_for(self.k)
        for name in ("inputs", "weights"):
            fmt = getattr(self.formats, name)
            if getattr(fmt, "per_channel", False):
                raise ValueError(f"{name}={fmt}: a PE takes one format per operand (per-channel formats are "
                                 "a plan's, not a PE's); give the widest per-tensor format")
        if acc.per_channel:
            raise ValueError(f"accumulator={acc}: a PE has one accumulator fraction")

    @property
    def datapath(self) -> Datapath:
        """The datapath object these formats select (the emulator's model of this PE)."""
        return select(self.formats)

    @property
    def kind(self) -> str:
        """The datapath's registered name (``fixed``, ``shift``, ``minifloat-kulisch``, ...)."""
        return self.datapath.name

    @property
    def accumulator(self) -> FixedPoint:
        """The accumulator register's format."""
        return self.datapath.accumulator_for(self.k)

    @property
    def input_shape(self) -> Shape:
        return port_shape(self.formats.inputs)

    @property
    def weight_shape(self) -> Shape:
        return port_shape(self.formats.weights)

    @property
    def accumulator_shape(self) -> Shape:
        return port_shape(self.accumulator)

    def describe(self) -> str:
        """One line: the datapath and every port width."""
        f = self.formats
        rule = pe_class(self).accumulator_rule or f.overflow.value
        return (f"{self.kind} PE: inputs {f.inputs} ({f.inputs.bits} bits) x weights {f.weights} "
                f"({f.weights.bits} bits) -> accumulator {self.accumulator} ({self.accumulator.bits} bits, "
                f"{rule}){_ZERO_POINT_TEXT[self.zero_point]}")

    def same_hardware(self, other: PESpec) -> bool:
        """Whether ``other``'s PE is this one's module (the same Verilog): e.g. two layers of a register
        zero-point PE that differ in their zero points only."""
        return isinstance(other, PESpec) and self.module_name() == other.module_name() and \
            pe_class(self).config_ports(self) == pe_class(other).config_ports(other)

    def module_name(self) -> str:
        """A Verilog module name made from the formats (``fixed_mac_fixed8_7_fixed8_7_fixed24_14``; the PE kind's
        ``module_stem`` when it names its own)."""
        stem = pe_class(self).module_stem(self)
        if stem is not None:
            return stem
        f = self.formats
        parts = [self.kind.replace("-", "_"), str(f.inputs), str(f.weights), str(self.accumulator)]
        if f.overflow.value == "wrap":
            parts.append("wrap")
        text = "_".join(parts)
        return "".join(c if c.isalnum() or c == "_" else "_" for c in text)


_ZERO_POINT_TEXT = {PEZeroPoint.SUBTRACT: "", PEZeroPoint.FOLD: "; zero point folded into the bias",
                    PEZeroPoint.REGISTER: "; zero points on the configuration inputs za, zw (per layer)"}
