"""How the hardware model reads a quantization plan: each layer's ``LayerFormats`` (the emulator's, the one
class the plan, the emulator and the cost model share), resolved for the layer's reduction length by its
datapath.

``simulate`` accepts ``None`` (every layer in the PE's datapath formats), one ``LayerFormats`` (every layer), a
mapping of layer names to ``LayerFormats`` (the PE's formats elsewhere), or the graph package's ``QuantPlan``
(its weighted layers' formats; layers it does not name run in the PE's formats). A missing accumulator is the
datapath's default (no-overflow fixed point, an exact Kulisch register for minifloats, lossless shift-and-add)
and missing outputs leave the array at the accumulator's width, as the emulator defines them.
"""

from __future__ import annotations

from collections.abc import Mapping

from ristretto_sim.emulator import LayerFormats
from ristretto_sim.errors import PlanError
from ristretto_sim.graph.plan import QuantPlan


class PlanView:
    """A plan as the hardware model reads it: ``formats(name)`` gives a layer's ``LayerFormats`` or the PE's
    default ones (module docstring)."""

    def __init__(self, plan, default: LayerFormats):
        if not (plan is None or isinstance(plan, (LayerFormats, QuantPlan, Mapping))):
            raise TypeError(
                f"plan={plan!r} must be None, a LayerFormats, a QuantPlan or a mapping of layer names to LayerFormats"
            )
        if isinstance(plan, Mapping):
            for name, fmts in plan.items():
                if not isinstance(fmts, LayerFormats):
                    raise TypeError(f"plan[{name!r}]={fmts!r} must be a LayerFormats")
        self.plan = plan
        self.default = default

    def check_names(self, names) -> None:
        """``PlanError`` if the plan names a layer that is not among ``names``."""
        named = self.plan.layers if isinstance(self.plan, QuantPlan) else self.plan
        if not isinstance(named, Mapping):
            return
        unknown = sorted(set(named) - set(names))
        if unknown:
            raise PlanError(f"the format plan names layers the network lacks: {', '.join(unknown)}")

    def formats(self, name: str) -> LayerFormats:
        plan = self.plan
        if plan is None:
            return self.default
        if isinstance(plan, LayerFormats):
            return plan
        if isinstance(plan, QuantPlan):
            return plan.layer_formats(name) if plan.get(name) is not None else self.default
        return plan.get(name, self.default)
