"""Shared pieces of the RTL tests: specs from text, and a cosimulation of one PE spec's exported Verilog."""

from __future__ import annotations

from ristretto_sim.emulator.datapaths import LayerFormats
from ristretto_sim.rtl import cosim
from ristretto_sim.rtl.export import module_name, verilog_for
from ristretto_sim.rtl.golden import golden_run
from ristretto_sim.rtl.registry import make_pe
from ristretto_sim.rtl.spec import PESpec
from ristretto_sim.rtl.vectors import long_vectors, random_trace

STIMULUS = ("a", "w", "bias", "en", "load", "clear")


def spec(inputs, weights, acc=None, k=1, **kw) -> PESpec:
    return PESpec(LayerFormats(inputs, weights, accumulator=acc, **kw), k=k)


def cosimulate(s: PESpec, cycles: int, tmp_path, run, seed=0):
    """Export ``s``'s PE, write a testbench with golden vectors of a random trace, run it with ``run``
    (``cosim.run_icarus`` or ``cosim.run_verilator``); long traces are made of 1000-cycle segments stepped
    together (``vectors.long_vectors``)."""
    pe = make_pe(s)
    if cycles > 20_000:
        trace, g = long_vectors(s, cycles, seed=seed)
    else:
        trace = random_trace(s, cycles, 1, seed=seed)
        g = golden_run(s, trace)
    dut = tmp_path / "dut.v"
    dut.write_text(verilog_for(pe))
    stim = {n: getattr(trace, n)[:, 0] for n in STIMULUS}
    exp = {"acc": g.acc[:, 0], "overflow": g.overflow[:, 0]} | {f: v[:, 0] for f, v in g.flags.items()}
    tb = cosim.write_testbench(pe, module_name(pe), stim, exp, tmp_path)
    return run(tmp_path, tb, [dut])
