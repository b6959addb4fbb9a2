"""One Ristretto sweep: try widths in order, stop right after the first failure, choose the last passing width.

Reference ``ristretto.md`` §4 step 4: a width *passes* when ``accuracy + margin/100 >= baseline`` (compared in
double); the sweep scores 16, 8, 4, 2, 1 in turn and **breaks right after the first failing width** (which is
still recorded); the chosen width is the last one of the consecutive passing prefix, or 32 when the first
width already fails. ``run_sweep`` takes the scorer as a function, so the logic is tested on fake accuracies.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from ristretto_sim.search.modes import FALLBACK_BITS, RISTRETTO_WIDTHS


def passes(accuracy: float, baseline: float, margin_pp: float) -> bool:
    """Ristretto's test ``accuracy + margin/100 >= baseline`` (accuracies as fractions, margin in points)."""
    return float(accuracy) + float(margin_pp) / 100.0 >= float(baseline)


@dataclass(frozen=True)
class SweepResult:
    """The outcome of one sweep.

    Attributes
    ----------
    name : str
        The group swept (``conv``, ``fc``, ``activations``, ``minifloat``, ...).
    tried : mapping of int to float
        Width -> accuracy (fraction), in the order tried; the failing width that stopped the sweep included.
    chosen : int
        Last width of the passing prefix, or ``fallback`` when the first width failed.
    fallback : int
        The width chosen when nothing passes (32 in Ristretto).
    """

    name: str
    tried: Mapping[int, float] = field(default_factory=dict)
    chosen: int = FALLBACK_BITS
    fallback: int = FALLBACK_BITS

    def __post_init__(self):
        if not isinstance(self.name, str) or not self.name:
            raise ValueError(f"name={self.name!r} must be a non-empty string")
        tried = {int(k): float(v) for k, v in dict(self.tried).items()}
        for bits, acc in tried.items():
            if bits < 1:
                raise ValueError(f"sweep {self.name}: width {bits} must be >= 1")
            if not 0.0 <= acc <= 1.0:
                raise ValueError(f"sweep {self.name}: accuracy {acc} at {bits} bits must be a fraction in [0, 1]")
        object.__setattr__(self, "tried", MappingProxyType(tried))
        object.__setattr__(self, "chosen", int(self.chosen))
        object.__setattr__(self, "fallback", int(self.fallback))

    @property
    def fell_back(self) -> bool:
        """True when no tried width passed."""
        return self.chosen == self.fallback and self.chosen not in self.tried

    def accuracy_at(self, bits: int) -> float | None:
        """The accuracy the sweep measured at ``bits`` (None if not tried)."""
        return self.tried.get(int(bits))

    def as_dict(self) -> dict:
        """``{"tried": {"16": acc, ...}, "chosen": bits}`` (JSON-able, width keys as strings)."""
        return {"tried": {str(k): v for k, v in self.tried.items()}, "chosen": self.chosen}


def run_sweep(
    name: str,
    score: Callable[[int], float],
    baseline: float,
    margin_pp: float,
    widths: Iterable[int] = RISTRETTO_WIDTHS,
    *,
    fallback: int = FALLBACK_BITS,
    done: Mapping[int, float] | None = None,
    on_result: Callable[[int, float], None] | None = None,
) -> SweepResult:
    """Run one sweep with Ristretto's stop-after-first-failure rule.

    Parameters
    ----------
    name : str
        Group name (for the result).
    score : callable
        ``score(bits) -> accuracy`` (a fraction).
    baseline : float
        The float accuracy (fraction).
    margin_pp : float
        Allowed drop in percentage points.
    widths : iterable of int
        Widths in the order tried (default 16, 8, 4, 2, 1).
    fallback : int
        Chosen when the first width fails.
    done : mapping, optional
        Accuracies already measured (a resumed run): those widths are not scored again.
    on_result : callable, optional
        ``on_result(bits, accuracy)`` after each newly scored width (progress, saving state).
    """
    tried: dict[int, float] = {}
    chosen = fallback
    done = dict(done or {})
    for bits in widths:
        if bits in done:
            acc = float(done[bits])
        else:
            acc = float(score(bits))
            if on_result is not None:
                on_result(bits, acc)
        tried[bits] = acc
        if not passes(acc, baseline, margin_pp):
            break
        chosen = bits
    return SweepResult(name, tried, chosen, fallback)
