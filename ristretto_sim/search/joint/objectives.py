"""What the joint search measures of a candidate and what it optimises: ``Measurement``, the registered
objectives, and the constraints.

A ``Measurement`` holds every figure of one candidate: top-1 on the validation images (the exact emulator,
``search.Evaluator`` in exact mode), per-layer accumulator overflows, and from one ``hw.simulate`` run of one
image on the candidate's accelerator the energy per inference, cycles, latency and area (with the area's source:
the cost model's technology table, or synthesis where the cost model reads it). Objectives are registered by name
(``OBJECTIVES``): each says its direction and how it reads a measurement, so adding one is one entry.
``Constraints`` (an accuracy drop margin against the float baseline, an area budget) become Optuna constraint
values: feasible when every value is <= 0.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from types import MappingProxyType

from ristretto_sim.errors import ConfigError


@dataclass(frozen=True)
class Measurement:
    """The figures of one candidate (module docstring). Units in the names; accuracy is a fraction."""

    accuracy: float
    energy_pj: float
    cycles: int
    latency_s: float
    area_um2: float
    area_source: str = ""
    fpga_luts: int = 0
    dram_bytes: int = 0
    overflows: int = 0
    energy_breakdown_pj: Mapping[str, float] = field(default_factory=dict)
    score_seconds: float = 0.0

    def __post_init__(self):
        object.__setattr__(self, "energy_breakdown_pj", MappingProxyType(dict(self.energy_breakdown_pj)))

    def as_dict(self) -> dict:
        return {f: dict(v) if isinstance(v, Mapping) else v
                for f, v in ((f, getattr(self, f)) for f in self.__dataclass_fields__)}

    @classmethod
    def from_dict(cls, d: Mapping) -> Measurement:
        return cls(**{k: d[k] for k in cls.__dataclass_fields__ if k in d})


@dataclass(frozen=True)
class Objective:
    """One objective: its name, whether larger is better, how it reads a ``Measurement``, its unit and label."""

    name: str
    maximize: bool
    read: Callable[[Measurement], float]
    unit: str
    label: str


#: name -> Objective
OBJECTIVES: dict[str, Objective] = {}


def register(objective: Objective) -> Objective:
    OBJECTIVES[objective.name] = objective
    return objective


register(Objective("accuracy", True, lambda m: m.accuracy, "%", "top-1 (validation)"))
register(Objective("energy", False, lambda m: m.energy_pj / 1e6, "uJ", "energy per inference"))
register(Objective("latency", False, lambda m: m.latency_s * 1e3, "ms", "latency per inference"))
register(Objective("area", False, lambda m: m.area_um2 / 1e6, "mm^2", "area"))
# the array's LUTs on the accelerator's FPGA target (``fpga`` in the accelerator YAML; 0 without one)
register(Objective("luts", False, lambda m: float(m.fpga_luts), "LUTs", "FPGA LUTs"))

DEFAULT_OBJECTIVES = ("accuracy", "energy")


def objectives(names: Sequence[str]) -> tuple[Objective, ...]:
    """The objectives called ``names`` (``ConfigError`` for an unknown one or without accuracy)."""
    names = [n.strip() for n in names if n.strip()]
    unknown = [n for n in names if n not in OBJECTIVES]
    if unknown:
        raise ConfigError(f"--objectives: unknown objective {unknown[0]!r}; known: {', '.join(OBJECTIVES)}")
    if len(set(names)) != len(names) or len(names) < 2:
        raise ConfigError(f"--objectives {','.join(names)}: give two or more distinct objectives")
    return tuple(OBJECTIVES[n] for n in names)


@dataclass(frozen=True)
class Constraints:
    """Feasibility of a candidate.

    Parameters
    ----------
    max_drop_points : float, optional
        Largest allowed top-1 drop below the float baseline, in percentage points (validation split).
    area_budget_um2 : float, optional
        Largest allowed accelerator area.
    """

    max_drop_points: float | None = None
    area_budget_um2: float | None = None

    def __post_init__(self):
        for name in ("max_drop_points", "area_budget_um2"):
            v = getattr(self, name)
            if v is not None and (isinstance(v, bool) or not isinstance(v, (int, float)) or v < 0):
                raise ValueError(f"{name}={v!r} must be a non-negative number")

    def values(self, m: Measurement, baseline: float) -> list[float]:
        """Optuna constraint values (feasible when all <= 0): the drop beyond the margin (points), the area
        beyond the budget (mm^2); 0 for an unset constraint."""
        drop = 0.0 if self.max_drop_points is None else 100 * (baseline - m.accuracy) - self.max_drop_points
        area = 0.0 if self.area_budget_um2 is None else (m.area_um2 - self.area_budget_um2) / 1e6
        return [drop, area]

    def as_dict(self) -> dict:
        return asdict(self)
