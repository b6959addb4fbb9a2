"""The joint accuracy x hardware search: per-layer number formats together with the accelerator, every candidate
scored by the exact emulator (accuracy on a validation split) and the cycle/energy model (energy, latency, area),
the Pareto front handed back and re-scored on a held-out test split.

Modules: ``space`` (the search space and its YAML), ``candidate`` (a point -> plan + accelerator, the PE derived
from the plan), ``objectives`` (measurements, registered objectives, constraints), ``problem`` (data splits,
statistics, scoring, the Ristretto greedy reference), ``pareto`` (non-dominated sets, hypervolume), ``study``
(the Optuna study: storage, resume, workers, seeding), ``outputs`` (pareto.csv, trials.csv, plan and accelerator
files, plots), ``verification`` (the front's PEs simulated in Amaranth against the emulator, ``--verify-rtl``).
Optuna is imported only by ``study``.
"""

from ristretto_sim.search.joint.candidate import Candidate, CandidateBuilder, CandidateError, layer_types
from ristretto_sim.search.joint.objectives import (
    DEFAULT_OBJECTIVES,
    OBJECTIVES,
    Constraints,
    Measurement,
    Objective,
    objectives,
)
from ristretto_sim.search.joint.problem import DataSplit, SearchProblem, split_data
from ristretto_sim.search.joint.space import Choice, GroupSpace, SearchSpace

__all__ = [
    "DEFAULT_OBJECTIVES",
    "OBJECTIVES",
    "Candidate",
    "CandidateBuilder",
    "CandidateError",
    "Choice",
    "Constraints",
    "DataSplit",
    "GroupSpace",
    "Measurement",
    "Objective",
    "SearchProblem",
    "SearchSpace",
    "layer_types",
    "objectives",
    "split_data",
]
