"""Search: Ristretto's automatic bit-width trimming (faithful to the original, reference ``ristretto.md`` §4),
on Ristretto's float32 arithmetic or on exact integer arithmetic, plus named extensions.

Modules (one concept each): ``modes`` (trimming modes and their aliases, groups), ``sweep`` (one sweep and
its stop-after-first-failure rule), ``statistics`` (the statistics pass and integer lengths), ``plans`` (the
plan each candidate net is), ``evaluate`` (scoring a plan), ``fingerprint`` (the resume key: what a saved score
depends on), ``store`` (resume state), ``trimming`` (the search and its extensions), ``result``
(``QuantizeResult``, DataFrame, JSON), ``session`` (``quantize`` from files), ``plot`` (accuracy vs bit-width
figure).
"""

from ristretto_sim.search.evaluate import Evaluation, Evaluator
from ristretto_sim.search.modes import FALLBACK_BITS, RISTRETTO_WIDTHS, Granularity, Group, TrimmingMode
from ristretto_sim.search.plans import PlanOptions
from ristretto_sim.search.result import Extension, QuantizeResult, Step
from ristretto_sim.search.session import SearchModel, load_for_search, quantize
from ristretto_sim.search.statistics import LayerRange, RangeStatistics, collect_statistics
from ristretto_sim.search.store import ResumeState, ScoreStore
from ristretto_sim.search.sweep import SweepResult, passes, run_sweep
from ristretto_sim.search.trimming import Progress, trim

__all__ = [
    "FALLBACK_BITS",
    "RISTRETTO_WIDTHS",
    "Evaluation",
    "Evaluator",
    "Extension",
    "Granularity",
    "Group",
    "LayerRange",
    "PlanOptions",
    "Progress",
    "QuantizeResult",
    "RangeStatistics",
    "ResumeState",
    "ScoreStore",
    "SearchModel",
    "Step",
    "SweepResult",
    "TrimmingMode",
    "collect_statistics",
    "load_for_search",
    "passes",
    "quantize",
    "run_sweep",
    "trim",
]
