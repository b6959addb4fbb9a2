"""Stimulus for PE testbenches: random traces with the corner cases weighted in (extreme codes, runs of equal
signs that overflow both ways, K = 1 outputs, loads and clears between and during accumulations).

Each PE kind says which codes its ports take (``operand_codes``); this module only draws from them.
:func:`pe_stimulus` lays a trace out per port for a testbench, the kind's configuration inputs included.
"""

from __future__ import annotations

import numpy as np

from ristretto_sim.rtl.golden import Trace
from ristretto_sim.rtl.registry import pe_class
from ristretto_sim.rtl.spec import PESpec


def _draw(codes: np.ndarray, shape, rng: np.random.Generator, corners=None) -> np.ndarray:
    """Codes of ``codes`` (sorted): a quarter the corner codes (default: both ends), a quarter runs of one
    end, the rest uniform."""
    out = codes[rng.integers(0, len(codes), size=shape)]
    pick = rng.random(shape)
    ends = np.array([codes[0], codes[-1]] if corners is None else corners, dtype=codes.dtype)
    out = np.where(pick < 0.25, ends[rng.integers(0, len(ends), size=shape)], out)
    # runs: whole stretches of the top (or bottom) code, so saturation is reached from both sides
    run = (np.arange(shape[0]) // 16) % 4
    out = np.where((pick > 0.75) & (run[:, None] == 0), codes[-1], out)
    out = np.where((pick > 0.75) & (run[:, None] == 1), codes[0], out)
    return out


def random_trace(spec: PESpec, cycles: int, n: int = 1, seed=0, *, p_load: float = 0.08,
                 p_clear: float = 0.02, p_idle: float = 0.1) -> Trace:
    """A random trace of ``n`` PEs over ``cycles`` cycles (module docstring)."""
    rng = np.random.default_rng(seed)
    kind = pe_class(spec)
    a_codes, w_codes = kind.operand_codes(spec)
    shape = (cycles, n)
    a_corners, w_corners = kind.corner_codes(spec)
    a = _draw(a_codes, shape, rng, a_corners)
    w = _draw(w_codes, shape, rng, w_corners)
    bias = _draw(kind.bias_codes(spec), shape, rng)
    load = rng.random(shape) < p_load
    load[0] = True
    en = rng.random(shape) >= p_idle
    clear = rng.random(shape) < p_clear
    # K = 1 outputs: a load right after a load
    k1 = rng.random(shape) < 0.02
    load[1:] |= k1[:-1] & load[:-1]
    limit = kind.max_products(spec)
    if limit is not None:  # a new output before the register would hold more products than it is sized for
        run = np.zeros(n, dtype=np.int64)
        for t in range(cycles):
            add = en[t] & ~clear[t]
            load[t] |= add & (run >= limit)
            run = np.where(clear[t], 0, np.where(load[t], add.astype(np.int64), run + add))
    return Trace(a, w, bias, en, load, clear)


def long_vectors(spec: PESpec, cycles: int, seed=0, *, segment: int = 1000):
    """A trace of one PE over ``cycles`` cycles and its golden outputs, computed fast: ``ceil(cycles /
    segment)`` independent PEs of ``segment`` cycles are stepped together (the golden model is vectorised over
    PEs), then their traces are laid end to end. Each segment starts with a load (or a clear), which sets the
    register and every flag regardless of what came before, so the concatenation is one valid trace whose
    outputs are the segments' outputs end to end. Returns ``(trace, outputs)``, both of shape ``(cycles, 1)``."""
    from ristretto_sim.rtl.golden import Outputs, golden_run

    n = -(-cycles // segment)
    trace = random_trace(spec, segment, n, seed=seed)
    out = golden_run(spec, trace)

    def flat(x):
        return x.T.reshape(-1, 1)[:cycles]

    fields = ("a", "w", "bias", "en", "load", "clear")
    long = Trace(*(flat(getattr(trace, f)) for f in fields))
    return long, Outputs(flat(out.acc), flat(out.overflow), {f: flat(v) for f, v in out.flags.items()})


#: the PE ports a trace drives
TRACE_PORTS = ("a", "w", "bias", "en", "load", "clear")


def pe_stimulus(spec: PESpec, trace: Trace, j: int = 0) -> dict:
    """PE ``j``'s stimulus of ``trace`` per port (codes per cycle), with the configuration inputs of ``spec``'s
    layer (``config_values``) held on every cycle, for :func:`~ristretto_sim.rtl.cosim.write_testbench`."""
    stim = {n: getattr(trace, n)[:, j] for n in TRACE_PORTS}
    stim.update({n: np.full(trace.cycles, v, np.int64) for n, v in pe_class(spec).config_values(spec).items()})
    return stim
