"""Amaranth simulation of a PE on a trace: the hardware's registers after every clock edge, in the golden
model's layout (:class:`~ristretto_sim.rtl.golden.Outputs`), so a test compares them as integers."""

from __future__ import annotations

import numpy as np
from amaranth.sim import Simulator

from ristretto_sim.rtl.golden import Outputs, Trace
from ristretto_sim.rtl.registry import make_pe, pe_class
from ristretto_sim.rtl.spec import PESpec


def simulate_pe(spec: PESpec, trace: Trace, pe=None, config: dict | None = None) -> Outputs:
    """Run ``trace`` (one PE: shape ``(T, 1)``) through the Amaranth simulator of ``spec``'s PE (or of the
    component ``pe``, e.g. a deliberately broken one, or the PE of another spec of the same hardware). The
    configuration inputs (``config_ports``) get ``spec``'s ``config_values``, or ``config``: name -> one value or
    a value per cycle."""
    dut = make_pe(spec) if pe is None else pe
    t = trace.cycles
    wide = spec.accumulator.bits > 62
    acc = np.empty((t, 1), dtype=object if wide else np.int64)
    ovf = np.empty((t, 1), dtype=bool)
    flags = {f: np.empty((t, 1), dtype=bool) for f in dut.flags}
    cols = [(getattr(dut, name), getattr(trace, name)[:, 0]) for name in ("a", "w", "bias", "en", "load", "clear")]
    values = pe_class(spec).config_values(spec) if config is None else config
    cols += [(getattr(dut, n), np.broadcast_to(np.asarray(v), (t,))) for n, v in values.items()]
    cols = [(sig, [int(v) for v in values]) for sig, values in cols]
    flag_ports = [(f, getattr(dut, f)) for f in dut.flags]

    async def bench(ctx):
        for i in range(t):
            for sig, values in cols:
                ctx.set(sig, values[i])
            await ctx.tick()
            acc[i, 0] = ctx.get(dut.acc)
            ovf[i, 0] = ctx.get(dut.overflow)
            for f, port in flag_ports:
                flags[f][i, 0] = ctx.get(port)

    sim = Simulator(dut)
    sim.add_clock(1e-6)
    sim.add_testbench(bench)
    sim.run()
    return Outputs(acc, ovf, flags)


def simulate_array(array, stream) -> tuple[np.ndarray, dict]:
    """Run a :class:`~ristretto_sim.rtl.stream.GemmStream` through the Amaranth simulator of ``array``:
    ``(done per cycle, {acc_<i>_<j>: value per cycle})``, sampled during each cycle (before its edge)."""
    names = [f"acc_{i}_{j}" for i in range(array.rows) for j in range(array.cols)]
    wide = array.spec.accumulator.bits > 62
    got = {n: np.empty(stream.cycles, dtype=object if wide else np.int64) for n in names}
    done = np.empty(stream.cycles, dtype=bool)
    ins = [(getattr(array, n), [int(x) for x in v]) for n, v in stream.inputs.items()]
    outs = [(n, getattr(array, n)) for n in names]

    async def bench(ctx):
        for t in range(stream.cycles):
            for sig, values in ins:
                ctx.set(sig, values[t])
            done[t] = ctx.get(array.done)
            for n, port in outs:
                got[n][t] = ctx.get(port)
            await ctx.tick()

    sim = Simulator(array)
    sim.add_clock(1e-6)
    sim.add_testbench(bench)
    sim.run()
    return done, got
