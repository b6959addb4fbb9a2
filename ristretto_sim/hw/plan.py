"""Per-layer tensor formats as the hardware model reads them: ``LayerFormats`` and ``FormatPlan``.

A ``FormatPlan`` maps layer names to ``LayerFormats`` (inputs, weights, outputs, accumulator) with a default
for every layer it does not name. It is the hardware model's view of a quantization plan: ``simulate`` also
accepts a single ``LayerFormats`` (all layers), a plain mapping, or any object with a ``layer_formats(name)``
method (the adapter for the graph package's ``QuantPlan``). Format objects are the source of every bit width;
strings are parsed with ``ristretto_sim.formats.parse_format``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from ristretto_sim.errors import PlanError
from ristretto_sim.formats import FixedPoint, Minifloat, NumberFormat, PowerOfTwo, parse_format


def as_format(value, name: str) -> NumberFormat:
    """A format object from a format object or its text form (``"fixed8.7"``, ``"e4m3"``, ``"int8"``)."""
    if isinstance(value, (FixedPoint, Minifloat, PowerOfTwo)):
        return value
    if isinstance(value, str):
        return parse_format(value)
    raise TypeError(f"{name}={value!r} must be a format object or its text form such as 'int8'")


@dataclass(frozen=True)
class LayerFormats:
    """The formats of one layer's tensors.

    Parameters
    ----------
    inputs, weights, outputs : format or str
        Formats of the input activations, the weights and the output activations (what goes back to memory).
    accumulator : format or str
        Format of the partial sums (what a partial sum costs when it leaves the array).
    """

    inputs: NumberFormat
    weights: NumberFormat
    outputs: NumberFormat
    accumulator: NumberFormat

    def __post_init__(self):
        for name in ("inputs", "weights", "outputs", "accumulator"):
            object.__setattr__(self, name, as_format(getattr(self, name), name))

    @classmethod
    def uniform(cls, fmt, accumulator) -> LayerFormats:
        """Inputs, weights and outputs in ``fmt``, partial sums in ``accumulator``."""
        return cls(fmt, fmt, fmt, accumulator)

    def to_dict(self) -> dict:
        return {k: str(getattr(self, k)) for k in ("inputs", "weights", "outputs", "accumulator")}

    @classmethod
    def from_dict(cls, data: Mapping, where: str = "formats") -> LayerFormats:
        missing = {"inputs", "weights", "outputs", "accumulator"} - set(data)
        extra = set(data) - {"inputs", "weights", "outputs", "accumulator"}
        if missing or extra:
            raise PlanError(
                f"{where}: needs keys inputs, weights, outputs, accumulator"
                f"{'; missing ' + ', '.join(sorted(missing)) if missing else ''}"
                f"{'; unknown ' + ', '.join(sorted(extra)) if extra else ''}"
            )
        return cls(**{k: data[k] for k in ("inputs", "weights", "outputs", "accumulator")})


@dataclass(frozen=True)
class FormatPlan:
    """Layer name -> ``LayerFormats``, with ``default`` for layers not named."""

    default: LayerFormats
    layers: Mapping[str, LayerFormats] = field(default_factory=dict)

    def __post_init__(self):
        if not isinstance(self.default, LayerFormats):
            raise TypeError(f"default={self.default!r} must be a LayerFormats")
        layers = dict(self.layers)
        for name, fmts in layers.items():
            if not isinstance(fmts, LayerFormats):
                raise TypeError(f"layers[{name!r}]={fmts!r} must be a LayerFormats")
        object.__setattr__(self, "layers", MappingProxyType(layers))

    def layer_formats(self, name: str) -> LayerFormats:
        return self.layers.get(name, self.default)

    def check_names(self, names) -> None:
        """Raise ``PlanError`` if the plan names a layer that is not among ``names``."""
        unknown = sorted(set(self.layers) - set(names))
        if unknown:
            raise PlanError(f"the format plan names layers the network lacks: {', '.join(unknown)}")


def resolve_plan(plan_or_formats, default: LayerFormats):
    """Turn what ``simulate`` accepts into an object with ``layer_formats(name)``.

    ``None`` -> every layer in ``default`` (the PE datapath formats); ``LayerFormats`` -> every layer in it;
    a mapping name -> ``LayerFormats`` -> those, ``default`` elsewhere; ``FormatPlan`` -> itself; anything
    else with ``layer_formats`` (the graph package's ``QuantPlan``) -> a ``ForeignPlan`` around it.
    """
    if plan_or_formats is None:
        return FormatPlan(default)
    if isinstance(plan_or_formats, LayerFormats):
        return FormatPlan(plan_or_formats)
    if isinstance(plan_or_formats, FormatPlan):
        return plan_or_formats
    if hasattr(plan_or_formats, "layer_formats"):
        return ForeignPlan(plan_or_formats, default)
    if isinstance(plan_or_formats, Mapping):
        return FormatPlan(default, plan_or_formats)
    raise TypeError(
        f"plan={plan_or_formats!r} must be None, LayerFormats, FormatPlan or a mapping of layer names "
        "to LayerFormats"
    )


class ForeignPlan:
    """Another package's plan (e.g. the graph package's ``QuantPlan``) seen as the hardware model needs it.

    Per layer it reads the entry's ``inputs``, ``weights``, ``outputs`` and ``accumulator`` formats (through
    ``plan.get(name)`` when the plan has it, else ``plan.layer_formats(name)``). Unset formats, and layers the
    plan does not name, fall back to ``default`` (the PE datapath); unset outputs leave the array at the
    accumulator's width, as the emulator defines them.
    """

    def __init__(self, plan, default: LayerFormats):
        self.plan = plan
        self.default = default

    def layer_formats(self, name: str) -> LayerFormats:
        get = getattr(self.plan, "get", None)
        entry = get(name) if callable(get) else self.plan.layer_formats(name)
        if entry is None:
            return self.default
        if isinstance(entry, LayerFormats):
            return entry
        d = self.default
        acc = getattr(entry, "accumulator", None) or d.accumulator
        return LayerFormats(
            getattr(entry, "inputs", None) or d.inputs,
            getattr(entry, "weights", None) or d.weights,
            getattr(entry, "outputs", None) or acc,
            acc,
        )
