"""Driving a :class:`~ristretto_sim.rtl.array.SystolicArray` with a GEMM: the per-cycle stimulus of the
documented streaming interface (``start`` in cycle 0, then the fold walk: column fold outer, row fold inner, as
the cycle model walks them), and what the ``acc`` ports must show on each ``done`` cycle.

``C = A @ W + bias`` with ``A`` (M, K) input codes, ``W`` (K, N) weight codes and ``bias`` (N,) accumulator
codes; fold ``f = n_fold * ceil(M / rows) + m_fold`` computes outputs ``[m_fold*rows : ..., n_fold*cols : ...]``
(missing rows and columns of an edge fold stream zeros). The expected outputs are the emulator's
(``expected``: a callable per PE kind, e.g. ``fixed_matmul``'s codes), so no rounding or saturation lives here.
A PE kind's configuration inputs (``config_ports``) are driven with the layer's values on every cycle;
:func:`concat_streams` lays several runs (e.g. layers with different zero points) end to end.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ristretto_sim.rtl.registry import pe_class


@dataclass(frozen=True, eq=False)
class GemmStream:
    """Per-cycle stimulus of every array input (``inputs``: name -> codes per cycle), the cycles where ``done``
    must rise (``done_cycles``) with the folds' tile origins, and the run's counters."""

    inputs: dict
    done: np.ndarray
    folds: list
    first_take: int
    cycles: int

    @property
    def last_done(self) -> int:
        return int(np.flatnonzero(self.done)[-1])


def gemm_stream(array, a: np.ndarray, w: np.ndarray, bias: np.ndarray | None = None, layer=None) -> GemmStream:
    """The stimulus that streams ``a @ w + bias`` through ``array`` (module docstring), with the configuration
    inputs of ``layer`` (a spec of the array's PE hardware; default ``array.spec``) on every cycle."""
    layer = array.spec if layer is None else layer
    if not layer.same_hardware(array.spec):
        raise ValueError(f"layer={layer.module_name()}: not the array's PE ({array.spec.module_name()})")
    r, c = array.rows, array.cols
    m, k = a.shape
    k2, n = w.shape
    if k != k2:
        raise ValueError(f"a is {a.shape} and w is {w.shape}: the reduction lengths differ")
    if k > array.spec.k:
        raise ValueError(f"K={k} exceeds the {array.spec.k} the array's PEs are sized for")
    fm, fn = math.ceil(m / r), math.ceil(n / c)
    period = array.fold_cycles(k)
    n_folds = fm * fn
    cycles = 1 + n_folds * period + 2
    obj = a.dtype == object or w.dtype == object or (bias is not None and bias.dtype == object)
    dt = object if obj else np.int64

    def zeros():
        z = np.zeros(cycles, dtype=dt)
        if obj:
            z[:] = [0] * cycles
        return z

    inputs = {"start": np.zeros(cycles, np.int64), "k_len": np.full(cycles, k, np.int64),
              "folds": np.full(cycles, n_folds, np.int64)}
    inputs["start"][0] = 1
    inputs.update({n: np.full(cycles, v, np.int64) for n, v in pe_class(layer).config_values(layer).items()})
    for i in range(r):
        inputs[f"a_{i}"] = zeros()
    for j in range(c):
        inputs[f"w_{j}"] = zeros()
        inputs[f"bias_{j}"] = zeros()
    done = np.zeros(cycles, dtype=bool)
    folds = []
    for f in range(n_folds):
        nf, mf = divmod(f, fm)
        m0, n0 = mf * r, nf * c
        t0 = 1 + f * period
        folds.append((m0, n0))
        rows = range(min(r, m - m0))
        cols = range(min(c, n - n0))
        for i in rows:
            inputs[f"a_{i}"][t0 : t0 + k] = a[m0 + i]
        for j in cols:
            inputs[f"w_{j}"][t0 : t0 + k] = w[:, n0 + j]
            if bias is not None:
                inputs[f"bias_{j}"][t0] = bias[n0 + j]
        done[t0 + period] = True
    return GemmStream(inputs, done, folds, 1, cycles)


def tile_outputs(stream: GemmStream, array, c_full: np.ndarray) -> dict:
    """Expected ``acc_<i>_<j>`` per cycle: the fold's output on its ``done`` cycle (0 elsewhere, unchecked)."""
    r, c = array.rows, array.cols
    m, n = c_full.shape
    out = {}
    done_cycles = np.flatnonzero(stream.done)
    for i in range(r):
        for j in range(c):
            col = np.zeros(stream.cycles, dtype=c_full.dtype)
            if c_full.dtype == object:
                col[:] = [0] * stream.cycles
            for t, (m0, n0) in zip(done_cycles, stream.folds, strict=True):
                if m0 + i < m and n0 + j < n:
                    col[t] = c_full[m0 + i, n0 + j]
            out[f"acc_{i}_{j}"] = col
    return out


def tile_mask(stream: GemmStream, array, shape) -> dict:
    """Per output port, the cycles where it is checked (its fold's ``done`` cycle, inside the GEMM)."""
    m, n = shape
    done_cycles = np.flatnonzero(stream.done)
    out = {}
    for i in range(array.rows):
        for j in range(array.cols):
            mask = np.zeros(stream.cycles, dtype=bool)
            for t, (m0, n0) in zip(done_cycles, stream.folds, strict=True):
                mask[t] = m0 + i < m and n0 + j < n
            out[f"acc_{i}_{j}"] = mask
    return out


def concat_streams(streams) -> GemmStream:
    """Several runs of one array end to end (each starts while the array is idle: a stream ends two cycles after
    its last ``done``). Each run's expected outputs differ, so :func:`tile_outputs` and :func:`tile_mask` are
    taken per stream and laid end to end with :func:`concat_vectors`."""
    streams = list(streams)
    names = streams[0].inputs.keys()
    inputs = {n: np.concatenate([s.inputs[n] for s in streams]) for n in names}
    done = np.concatenate([s.done for s in streams])
    folds = [f for s in streams for f in s.folds]
    return GemmStream(inputs, done, folds, streams[0].first_take, int(sum(s.cycles for s in streams)))


def concat_vectors(parts) -> dict:
    """Per-port vectors of consecutive runs (dicts of the same names) end to end."""
    parts = list(parts)
    return {n: np.concatenate([p[n] for p in parts]) for n in parts[0]}
