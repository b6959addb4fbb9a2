"""Non-dominated sets and the hypervolume, against brute force."""

import itertools

import numpy as np
import pytest

from ristretto_sim.search.joint.pareto import dominates, hypervolume, non_dominated


def test_dominance():
    assert dominates((1, 1), (1, 2))
    assert not dominates((1, 2), (1, 2))
    assert not dominates((0, 3), (1, 2))


def test_non_dominated_keeps_one_of_equal_points():
    pts = [(1, 5), (2, 2), (1, 5), (3, 3), (5, 1)]
    assert non_dominated(pts) == [0, 1, 4]


def _grid_volume(points, ref, steps):
    """The dominated volume counted on a regular grid of cell centres (the slow obvious reference)."""
    lo = np.min(np.asarray(points, float), axis=0)
    axes = [np.linspace(a, r, steps, endpoint=False) + (r - a) / (2 * steps) for a, r in zip(lo, ref, strict=True)]
    cell = np.prod([(r - a) / steps for a, r in zip(lo, ref, strict=True)])
    count = 0
    for c in itertools.product(*axes):
        if any(all(p[i] <= c[i] for i in range(len(c))) for p in points):
            count += 1
    return count * cell


@pytest.mark.parametrize("dim, n", [(2, 6), (3, 5)])
def test_hypervolume_matches_grid_count(dim, n):
    rng = np.random.default_rng(dim)
    # points on a grid of 1/4 so that the cell-centre count is exact
    pts = [tuple(rng.integers(0, 8, dim) / 4) for _ in range(n)]
    ref = (2.0,) * dim
    assert hypervolume(pts, ref) == pytest.approx(_grid_volume(pts, ref, 8), abs=1e-12)


def test_points_beyond_the_reference_add_nothing():
    assert hypervolume([(3, 0)], (2, 2)) == 0.0
    assert hypervolume([(1, 1), (3, 0)], (2, 2)) == 1.0


def test_each_plot_draws_the_points_no_other_beats_on_its_own_axes():
    """The front is non-dominated over every objective; on one panel (accuracy vs area, say) only the points that no
    other front point beats in both area and test top-1 make its line, in increasing area."""
    from ristretto_sim.search.joint.outputs import _staircase

    rows = [{"area_um2": a, "test_accuracy": t} for a, t in
            [(5.0, 0.90), (1.0, 0.80), (3.0, 0.95), (2.0, 0.70), (3.0, 0.85), (6.0, 0.95)]]
    best = _staircase(rows, "area_um2")
    assert [(r["area_um2"], r["test_accuracy"]) for r in best] == [(1.0, 0.80), (3.0, 0.95)]
