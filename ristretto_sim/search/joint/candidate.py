"""A candidate of the joint search: a quantization plan and the accelerator that runs it, built from a ``Choice``.

The plan: fixed kind = dynamic fixed point with Ristretto's integer lengths from the statistics pass
(``search.plans.dfp_layer``: weights and the bias in ``FixedPoint(Bw, Bw - il_w)``, inputs and outputs
``FixedPoint(Ba, Ba - il)``), the accumulator ``acc_bits`` wide with ``frac = fl_in + fl_w`` or one that cannot
overflow, and the chosen overflow mode; minifloat kind = every role ``Minifloat(e, B - e - 1)`` without Inf/NaN
(saturating, as an accelerator without specials) and an exact Kulisch accumulator; pow2 kind = weights
``pow2[exp_min, exp_max]`` with a zero code on a shift-and-add PE, inputs and outputs fixed point, the bias on
the accumulator's grid.

The accelerator: the base configuration (``--arch``) with the chosen array size, dataflow and (if the space
declares them) buffer sizes, and the PE, clocked bit-parallel or bit-serial as chosen (else as the base's PE),
*derived from the plan* (``hw.pe_for``: ``hw.datapath_for`` over every layer's resolved formats, the widest
format per operand), so a narrow format saves what real hardware would save: memory traffic always, MAC energy
and area only when the widest layer narrows the PE itself.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from ristretto_sim.errors import PlanError, RistrettoSimError
from ristretto_sim.formats import FixedPoint, Minifloat, PowerOfTwo
from ristretto_sim.graph.layers import Conv, Dense
from ristretto_sim.graph.network import Network
from ristretto_sim.graph.plan import LayerPlan, QuantPlan
from ristretto_sim.hw import AcceleratorConfig, pe_for
from ristretto_sim.hw.network import layers_from_network
from ristretto_sim.search.joint.space import Choice
from ristretto_sim.search.plans import PlanOptions, dfp_layer
from ristretto_sim.search.statistics import RangeStatistics


class CandidateError(RistrettoSimError, ValueError):
    """A point of the space that is no buildable candidate (e.g. a minifloat split wider than its bits, or a
    plan no single PE can run); the message says why."""


def layer_types(network: Network) -> dict[str, str]:
    """The weighted layers the search sets, in order: ``{name: "conv" | "fc"}``."""
    out = {}
    for layer in network.layers:
        if isinstance(layer, Conv):
            out[layer.name] = "conv"
        elif isinstance(layer, Dense):
            out[layer.name] = "fc"
    return out


@dataclass(frozen=True)
class Candidate:
    """A built candidate: the choice it came from, its plan (exact mode) and its accelerator."""

    choice: Choice
    plan: QuantPlan
    config: AcceleratorConfig


class CandidateBuilder:
    """Builds candidates for one network (module docstring).

    Parameters
    ----------
    network : Network
    stats : RangeStatistics
        The statistics pass (integer lengths of the fixed-point formats).
    base : AcceleratorConfig
        The accelerator whose array size, dataflow and PE a candidate replaces.
    """

    def __init__(self, network: Network, stats: RangeStatistics, base: AcceleratorConfig):
        self.network = network
        self.stats = stats
        self.base = base
        self.types = layer_types(network)
        self.layers, _ = layers_from_network(network, batch=1)

    def plan(self, choice: Choice) -> QuantPlan:
        """The plan of ``choice`` (module docstring); ``CandidateError`` when its formats cannot exist."""
        layers: dict[str, LayerPlan] = {}
        try:
            for name, (wb, ab) in choice.widths.items():
                layers[name] = self._layer(name, wb, ab, choice)
            return QuantPlan(layers, mode="exact")
        except (ValueError, PlanError) as exc:
            raise CandidateError(f"no plan for this point: {exc}") from None

    def _layer(self, name: str, wb: int, ab: int, choice: Choice) -> LayerPlan:
        if choice.kind == "fixed":
            entry = dfp_layer(self.network, self.stats, name, wb, ab,
                              PlanOptions(mode="exact", acc_bits=choice.acc_bits))
            return replace(entry, overflow=choice.overflow)
        il_in, il_out, _ = self.stats[name].integer_lengths()
        if choice.kind == "minifloat":
            e = choice.exp_bits
            fw = Minifloat(e, wb - e - 1, specials="none")
            fa = Minifloat(e, ab - e - 1, specials="none")
            return LayerPlan(fa, fw, fw, fa, overflow=choice.overflow)
        lo, hi = choice.pow2_range
        if lo > hi:
            raise ValueError(f"pow2 exp_min={lo} > exp_max={hi}")
        fin, fout = FixedPoint(ab, ab - il_in), FixedPoint(ab, ab - il_out)
        return LayerPlan(fin, PowerOfTwo(lo, hi), None, fout, overflow=choice.overflow)

    def config(self, choice: Choice, plan: QuantPlan) -> AcceleratorConfig:
        """The accelerator of ``choice``: the base with its array and the PE the plan needs (``hw.pe_for``)."""
        try:
            sized = self.base.replace(rows=choice.rows, cols=choice.cols, dataflow=choice.dataflow)
            if choice.buffer_kb is not None:
                sized = sized.with_buffers_kb(choice.buffer_kb)
            base_pe = self.base.pe
            pe = pe_for(self.layers, plan, sized,
                        precision=choice.precision or base_pe.precision.value,
                        bits_per_cycle=choice.bits_per_cycle or base_pe.bits_per_cycle,
                        serial_operand=choice.serial_operand or base_pe.serial_operand.value)
            return sized.replace(pe=pe, name=f"{self.base.name} {choice.rows}x{choice.cols} {choice.dataflow}, "
                                 f"{pe.kind.value} {pe.inputs} x {pe.weights} -> {pe.accumulator}")
        except (ValueError, PlanError) as exc:
            raise CandidateError(f"no accelerator for this point: {exc}") from None

    def build(self, choice: Choice) -> Candidate:
        plan = self.plan(choice)
        return Candidate(choice, plan, self.config(choice, plan))
