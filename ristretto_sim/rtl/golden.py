"""The vectorised golden model: ``n`` independent PEs of one spec stepped clock by clock, with the emulator's
arithmetic (each PE kind's ``golden_add`` calls the emulator's accumulator, shifter and Kulisch code; nothing
here rounds or saturates on its own).

One step is the PE protocol of :class:`~ristretto_sim.rtl.pe.ProcessingElement`::

    base = load ? load_bias(bias) : acc
    acc  <= clear ? 0 : en ? add(base, a, w) : base      (flags: sticky since the last load/clear, or raised by
                                                          the bias preload)

``step`` takes arrays of shape ``(n,)`` (one entry per PE); ``run`` steps a whole trace of shape ``(T, n)`` and
returns every PE's registers after each edge, which a testbench compares with the hardware's.

A PE kind with configuration inputs (``config_ports``: a register zero-point affine PE's ``za``/``zw``) computes
the layer its spec describes; ``reconfigure`` switches the golden PEs to another layer of the same hardware,
registers kept, as loading the configuration registers between layers does, and :func:`golden_layers` runs
layer after layer through one PE.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ristretto_sim.rtl.registry import pe_class
from ristretto_sim.rtl.spec import PESpec

CONTROLS = ("en", "load", "clear")


@dataclass(frozen=True, eq=False)
class Trace:
    """Stimulus of ``n`` PEs over ``T`` cycles: ``a``, ``w``, ``bias`` (codes; object arrays of Python ints
    for registers wider than int64) and the controls ``en``, ``load``, ``clear`` (bool), all ``(T, n)``."""

    a: np.ndarray
    w: np.ndarray
    bias: np.ndarray
    en: np.ndarray
    load: np.ndarray
    clear: np.ndarray

    @property
    def cycles(self) -> int:
        return self.a.shape[0]

    def column(self, j: int) -> Trace:
        """The trace of PE ``j`` alone (shape ``(T, 1)``)."""
        return Trace(*(getattr(self, f)[:, j : j + 1] for f in ("a", "w", "bias", "en", "load", "clear")))


@dataclass(frozen=True, eq=False)
class Outputs:
    """Registers after every edge, ``(T, n)``: ``acc`` codes, the sticky ``overflow`` and the variant's flags."""

    acc: np.ndarray
    overflow: np.ndarray
    flags: dict

    def equal(self, other: Outputs) -> bool:
        """Bit for bit (integers compared)."""
        return (
            np.array_equal(self.acc, other.acc)
            and np.array_equal(self.overflow, other.overflow)
            and self.flags.keys() == other.flags.keys()
            and all(np.array_equal(self.flags[k], other.flags[k]) for k in self.flags)
        )

    def first_difference(self, other: Outputs) -> str | None:
        """The first cycle and PE where two runs differ, as text (None when equal)."""
        for name, x, y in [("acc", self.acc, other.acc), ("overflow", self.overflow, other.overflow)] + [
            (k, self.flags[k], other.flags.get(k)) for k in self.flags
        ]:
            if y is None or x.shape != y.shape:
                return f"{name}: shapes {x.shape} and {None if y is None else y.shape}"
            bad = np.argwhere(x != y)
            if len(bad):
                t, j = bad[0]
                return f"{name} differs first at cycle {t}, PE {j}: {x[t, j]} != {y[t, j]}"
        return None


class GoldenPEs:
    """``n`` PEs of ``spec`` (module docstring).

    Parameters
    ----------
    spec : PESpec
    n : int
        Number of independent PEs stepped together.
    """

    def __init__(self, spec: PESpec, n: int = 1):
        if not isinstance(spec, PESpec):
            raise TypeError(f"spec={spec!r} must be a PESpec")
        self.spec = spec
        self.kind = pe_class(spec)
        self.n = int(n)
        self.acc = self.kind.golden_zeros(spec, self.n)
        self.overflow = np.zeros(self.n, dtype=bool)
        self.flags = {f: np.zeros(self.n, dtype=bool) for f in self.kind.flags}

    def reconfigure(self, spec: PESpec) -> None:
        """Compute ``spec``'s layer from the next step on (the same hardware: ``PESpec.same_hardware``; the
        registers and flags are kept)."""
        if not isinstance(spec, PESpec) or not spec.same_hardware(self.spec):
            raise ValueError(f"spec={getattr(spec, 'module_name', lambda: spec)()}: not the same PE as "
                             f"{self.spec.module_name()} (only configuration inputs may change between layers)")
        self.spec = spec

    def step(self, a, w, en, load, clear, bias) -> None:
        """One clock edge for every PE (arrays of shape ``(n,)``)."""
        en, load, clear = (np.asarray(x, dtype=bool) for x in (en, load, clear))
        start, bias_flags = self.kind.golden_load_bias(self.spec, np.asarray(bias))
        base = np.where(load, start, self.acc)
        new, ovf, fl = self.kind.golden_add(self.spec, base, np.asarray(a), np.asarray(w))
        zero = self.kind.golden_zeros(self.spec, self.n)
        self.acc = np.where(clear, zero, np.where(en, new, base))
        self.overflow = ~clear & np.where(en, (self.overflow & ~load) | ovf, self.overflow & ~load)
        for f in self.flags:
            before = np.where(load, bias_flags.get(f, False), self.flags[f])
            self.flags[f] = ~clear & np.where(en, before | fl[f], before)

    def run(self, trace: Trace) -> Outputs:
        """Step every cycle of ``trace``; the registers after each edge."""
        t = trace.cycles
        accs = np.empty((t, self.n), dtype=self.acc.dtype)
        ovf = np.empty((t, self.n), dtype=bool)
        flags = {f: np.empty((t, self.n), dtype=bool) for f in self.flags}
        for i in range(t):
            self.step(trace.a[i], trace.w[i], trace.en[i], trace.load[i], trace.clear[i], trace.bias[i])
            accs[i] = self.acc
            ovf[i] = self.overflow
            for f in flags:
                flags[f][i] = self.flags[f]
        return Outputs(accs, ovf, flags)


def golden_run(spec: PESpec, trace: Trace) -> Outputs:
    """The golden registers of ``trace`` (one PE per column)."""
    return GoldenPEs(spec, trace.a.shape[1]).run(trace)


def golden_layers(runs) -> Outputs:
    """The golden registers of one PE (or ``n`` PEs) running ``runs``, ``(layer spec, trace)`` pairs of the same
    hardware, one after another (``GoldenPEs.reconfigure`` between them): the outputs end to end."""
    runs = list(runs)
    if not runs:
        raise ValueError("runs: give at least one (spec, trace) pair")
    golden = GoldenPEs(runs[0][0], runs[0][1].a.shape[1])
    outs = []
    for spec, trace in runs:
        golden.reconfigure(spec)
        outs.append(golden.run(trace))
    return Outputs(np.concatenate([o.acc for o in outs]), np.concatenate([o.overflow for o in outs]),
                   {f: np.concatenate([o.flags[f] for o in outs]) for f in outs[0].flags})
