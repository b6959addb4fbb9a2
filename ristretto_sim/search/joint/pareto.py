"""Pareto fronts: non-dominated points, dominance, and the hypervolume of a front.

Points are tuples of objective values to be *minimised* (an objective to maximise enters negated, as
``to_minimise`` does). ``hypervolume`` is exact (recursive slicing over the first coordinate; fronts here hold
tens of points in 2 to 4 dimensions).
"""

from __future__ import annotations

from collections.abc import Sequence


def dominates(a: Sequence[float], b: Sequence[float]) -> bool:
    """``a`` is no worse than ``b`` in every coordinate and better in one (minimisation)."""
    return all(x <= y for x, y in zip(a, b, strict=True)) and any(x < y for x, y in zip(a, b, strict=True))


def non_dominated(points: Sequence[Sequence[float]]) -> list[int]:
    """Indices of the points no other point dominates (duplicates: the first one only)."""
    out = []
    for i, p in enumerate(points):
        if any(dominates(q, p) for j, q in enumerate(points) if j != i):
            continue
        if any(tuple(points[j]) == tuple(p) for j in out):
            continue
        out.append(i)
    return out


def hypervolume(points: Sequence[Sequence[float]], reference: Sequence[float]) -> float:
    """The volume dominated by ``points`` and bounded by ``reference`` (points not below the reference in
    every coordinate add nothing)."""
    pts = [tuple(p) for p in points if all(x < r for x, r in zip(p, reference, strict=True))]
    return _hv(pts, tuple(reference))


def _hv(points: list[tuple], ref: tuple) -> float:
    if not points:
        return 0.0
    if len(ref) == 1:
        return ref[0] - min(p[0] for p in points)
    pts = sorted(points, key=lambda p: p[0])
    total = 0.0
    for i, p in enumerate(pts):
        upper = pts[i + 1][0] if i + 1 < len(pts) else ref[0]
        width = upper - p[0]
        if width <= 0:
            continue
        # the slice between p[0] and the next point's first coordinate is covered by the first i+1 points
        total += width * _hv([q[1:] for q in pts[: i + 1]], ref[1:])
    return total
