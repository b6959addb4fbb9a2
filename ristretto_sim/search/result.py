"""What the trimming search returns: ``QuantizeResult`` (frozen), its DataFrame and its JSON object.

JSON (``QuantizeResult.as_json()``), dynamic fixed point::

    {"trimming_mode": "dynamic_fixed_point", "mode": "ristretto", "baseline": 0.9903,
     "sweeps": {"conv": {"16": 0.9903, "8": 0.9902, "4": 0.9841, "2": 0.68}, "fc": {...}, "activations": {...}},
     "chosen": {"conv": 4, "fc": 4, "activations": 8}, "accuracy": 0.9851, "margin": 1.0,
     "within_margin": true, "seconds": 12.3, ...}

Accuracies are fractions in [0, 1], sweep keys are strings, the margin stays in percentage points. Minifloat:
``sweeps: {"minifloat": {...}}``, ``chosen: {"bits", "exp_bits", "mant_bits"}``, ``accuracy`` the chosen width's
sweep accuracy (Ristretto does not re-score; null for the 32-bit fallback). Power of two: ``sweeps: {"pow2":
{"4": acc}}``, ``chosen: {"weights": "pow2[-8,-1,nozero]", "activations": 8}``. Extensions (``extensions``: a
list of ``{"name", "steps", "accuracy", "chosen"}``) and the final plan's accuracy (``final``) follow.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from ristretto_sim.emulator import Mode
from ristretto_sim.graph.plan import QuantPlan
from ristretto_sim.runtime.prefix_cache import CacheStats
from ristretto_sim.search.modes import Granularity, TrimmingMode
from ristretto_sim.search.statistics import RangeStatistics
from ristretto_sim.search.store import ResumeState
from ristretto_sim.search.sweep import SweepResult, passes


@dataclass(frozen=True)
class Step:
    """One scored step of an extension (a back-off raise, a layer halving, a tried split or range).

    Attributes
    ----------
    description : str
        What changed, e.g. ``"conv 4 -> 8"`` or ``"ip1 weights 8 -> 4"``.
    accuracy : float or None
        None for a step that could not be scored (e.g. a format the exact datapath cannot run).
    accepted : bool
        The change was kept.
    """

    description: str
    accuracy: float | None
    accepted: bool = True

    def as_dict(self) -> dict:
        return {"step": self.description, "accuracy": self.accuracy, "accepted": self.accepted}


@dataclass(frozen=True)
class Extension:
    """The outcome of one beyond-the-original step, named as the output prints it.

    Attributes
    ----------
    name : str
        e.g. ``"margin back-off"``, ``"per-layer widths"``, ``"minifloat split search"``,
        ``"power-of-two range search"``.
    steps : tuple of Step
    accuracy : float or None
        Accuracy of the plan the extension ends with.
    chosen : mapping
        Its choice (JSON-able values).
    plan : QuantPlan or None
    """

    name: str
    steps: tuple[Step, ...] = ()
    accuracy: float | None = None
    chosen: Mapping[str, object] = field(default_factory=dict)
    plan: QuantPlan | None = field(default=None, compare=False)
    note: str = ""

    def __post_init__(self):
        object.__setattr__(self, "steps", tuple(self.steps))
        object.__setattr__(self, "chosen", MappingProxyType(dict(self.chosen)))

    def as_dict(self) -> dict:
        d = {"name": self.name, "steps": [s.as_dict() for s in self.steps], "accuracy": self.accuracy,
             "chosen": dict(self.chosen)}
        if self.note:
            d["note"] = self.note
        return d


@dataclass(frozen=True)
class QuantizeResult:
    """The full outcome of ``ristretto-sim quantize``.

    Attributes
    ----------
    trimming_mode : TrimmingMode
    mode : emulator.Mode
        Arithmetic of every scored net.
    cpu_compat : bool
        Ristretto mode with the CPU quirks.
    baseline : float
        Float32 accuracy (fraction).
    margin : float
        Allowed drop, percentage points.
    sweeps : mapping of str to SweepResult
        ``conv``/``fc``/``activations`` (DFP), ``minifloat``, or ``pow2`` (one width).
    chosen : mapping
        Ristretto's choice (see the module docstring).
    accuracy : float or None
        Ristretto's combined net (DFP, power of two) or the chosen width's sweep accuracy (minifloat).
    plan : QuantPlan
        Ristretto's chosen plan (what its prototxt holds).
    extensions : tuple of Extension
        Beyond-the-original steps, in the order run.
    final_plan : QuantPlan
        The plan after the extensions (``plan`` when none ran).
    final_accuracy : float or None
    statistics : RangeStatistics
    images, calibration_images : int
    scored_on, calibrated_on : str
        Where the scored and the statistics-pass images came from (e.g. ``"LMDB examples/mnist/mnist_test_lmdb"``).
    transforms : mapping of str to str
        ``scored`` (the TEST transform when it crops or mirrors, else empty) and ``calibration`` (e.g.
        ``"TRAIN transform: random crop 227, mirror, seed 0"``).
    batch_size : int
        TEST batch size of the score.
    exp_bits : int or None
        Minifloat: Ristretto's exponent choice.
    overflows : mapping of str to int
        Per-layer accumulator overflows of the final plan (exact mode; zero without ``--acc-bits``).
    saturations : mapping of str to int
        Per-layer output saturations of the final plan.
    acc_bits : int or None
    bias_at_accumulator : bool
    granularity : Granularity
    seconds : float
    resumed : int
        Finished scores of the state file this run reused instead of rescoring them.
    evaluations : int
        Nets scored in this run.
    state : ResumeState
        What became of the state file: how many scores it held and this run reused, or why it was not used
        (written for another network, weights, data, preprocessing, options or tool version).
    cache : runtime.prefix_cache.CacheStats or None
        The prefix cache at the end of the run (``cache.full``: it ran out of room, so some shared prefixes were
        recomputed; the scores are the same either way).
    """

    trimming_mode: TrimmingMode
    mode: Mode
    cpu_compat: bool
    baseline: float
    margin: float
    sweeps: Mapping[str, SweepResult]
    chosen: Mapping[str, object]
    accuracy: float | None
    plan: QuantPlan
    extensions: tuple[Extension, ...] = ()
    final_plan: QuantPlan | None = None
    final_accuracy: float | None = None
    statistics: RangeStatistics | None = field(default=None, repr=False)
    images: int = 0
    calibration_images: int = 0
    batch_size: int = 0
    scored_on: str = ""
    calibrated_on: str = ""
    transforms: Mapping[str, str] = field(default_factory=dict)
    exp_bits: int | None = None
    overflows: Mapping[str, int] = field(default_factory=dict)
    saturations: Mapping[str, int] = field(default_factory=dict)
    acc_bits: int | None = None
    bias_at_accumulator: bool = False
    granularity: Granularity = Granularity.GROUP
    seconds: float = 0.0
    resumed: int = 0
    evaluations: int = 0
    state: ResumeState = field(default_factory=ResumeState, compare=False)
    cache: CacheStats | None = field(default=None, compare=False)

    def __post_init__(self):
        object.__setattr__(self, "trimming_mode", TrimmingMode.coerce(self.trimming_mode, "trimming_mode"))
        object.__setattr__(self, "mode", Mode.coerce(self.mode, "mode"))
        object.__setattr__(self, "granularity", Granularity.coerce(self.granularity, "granularity"))
        object.__setattr__(self, "sweeps", MappingProxyType(dict(self.sweeps)))
        object.__setattr__(self, "chosen", MappingProxyType(dict(self.chosen)))
        object.__setattr__(self, "extensions", tuple(self.extensions))
        object.__setattr__(self, "overflows", MappingProxyType(dict(self.overflows)))
        object.__setattr__(self, "saturations", MappingProxyType(dict(self.saturations)))
        object.__setattr__(self, "transforms", MappingProxyType(dict(self.transforms)))
        if self.final_plan is None:
            object.__setattr__(self, "final_plan", self.plan)
            object.__setattr__(self, "final_accuracy", self.accuracy)
        if not 0.0 <= self.baseline <= 1.0:
            raise ValueError(f"baseline={self.baseline} must be a fraction in [0, 1]")

    @property
    def within_margin(self) -> bool | None:
        """Ristretto's chosen net meets the margin (None when it was not scored)."""
        if self.accuracy is None:
            return None
        return passes(self.accuracy, self.baseline, self.margin)

    @property
    def final_within_margin(self) -> bool | None:
        if self.final_accuracy is None:
            return None
        return passes(self.final_accuracy, self.baseline, self.margin)

    def integer_lengths(self) -> dict[str, tuple[int, int, int]]:
        """``{layer: (il_in, il_out, il_params)}`` from the statistics pass."""
        return {} if self.statistics is None else self.statistics.integer_lengths()

    def to_dataframe(self):
        """One row per scored net: ``stage`` (baseline, sweep, combined, extension), ``group``, ``bits``,
        ``accuracy`` (fraction), ``passes`` (against the margin), ``chosen``."""
        import pandas as pd

        rows = [{"stage": "baseline", "group": "float32", "bits": 32, "accuracy": self.baseline, "passes": True,
                 "chosen": False}]
        for name, sw in self.sweeps.items():
            for bits, acc in sw.tried.items():
                rows.append({"stage": "sweep", "group": name, "bits": bits, "accuracy": acc,
                             "passes": passes(acc, self.baseline, self.margin), "chosen": bits == sw.chosen})
        if self.accuracy is not None and self.trimming_mode is not TrimmingMode.MINIFLOAT:
            rows.append({"stage": "combined", "group": "all", "bits": None, "accuracy": self.accuracy,
                         "passes": self.within_margin, "chosen": True})
        for ext in self.extensions:
            for step in ext.steps:
                ok = step.accuracy is not None and passes(step.accuracy, self.baseline, self.margin)
                rows.append({"stage": ext.name, "group": step.description, "bits": None, "accuracy": step.accuracy,
                             "passes": ok, "chosen": step.accepted})
        return pd.DataFrame(rows, columns=["stage", "group", "bits", "accuracy", "passes", "chosen"])

    def as_json(self) -> dict:
        """The JSON object of ``--json`` (module docstring)."""
        d = {
            "trimming_mode": self.trimming_mode.value,
            "mode": self.mode.value,
            "cpu_compat": self.cpu_compat,
            "baseline": self.baseline,
            "margin": self.margin,
            "sweeps": {name: {str(k): v for k, v in sw.tried.items()} for name, sw in self.sweeps.items()},
            "chosen": dict(self.chosen),
            "accuracy": self.accuracy,
            "within_margin": self.within_margin,
            "images": self.images,
            "batch_size": self.batch_size,
            "calibration_images": self.calibration_images,
            "data": {"scored": self.scored_on, "calibration": self.calibrated_on,
                     "transforms": dict(self.transforms)},
            "granularity": self.granularity.value,
            "acc_bits": self.acc_bits,
            "bias_at_accumulator": self.bias_at_accumulator,
            "integer_lengths": {k: {"input": v[0], "output": v[1], "parameters": v[2]}
                                for k, v in self.integer_lengths().items()},
            "extensions": [e.as_dict() for e in self.extensions],
            "final": {"accuracy": self.final_accuracy, "within_margin": self.final_within_margin,
                      "plan": self.final_plan.to_yaml() if self.final_plan is not None else None},
            "overflows": dict(self.overflows),
            "saturations": dict(self.saturations),
            "seconds": round(self.seconds, 3),
            "evaluations": self.evaluations,
            "resumed": self.resumed,
        }
        if self.cache is not None:
            d["prefix_cache"] = self.cache.as_dict()
        if self.exp_bits is not None:
            d["exp_bits"] = self.exp_bits
        return d
