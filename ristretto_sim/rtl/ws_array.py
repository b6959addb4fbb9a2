"""``WeightStationaryArray``: a weight-stationary array of ``rows x cols`` PEs with double-buffered weights,
and a GEMM driver that runs its folds one after another.

Protocol (what a source drives; ``reference/systolic-timing.md``, SCALE-Sim's ws rules)
---------------------------------------------------------------------------------------
* **weight load**, ``rows`` cycles: with ``wload`` high and ``wrow = i``, the array latches ``w_<j>`` (``W[k0 + i,
  n0 + j]``) into PE ``(i, j)``'s **shadow** weight register (one row per cycle). The load is skewed like the
  stream: column ``j``'s ``wload``, ``wrow`` and ``w_<j>`` pass ``j`` registers, so row ``i`` driven in cycle ``s``
  lands in PE ``(i, j)`` at the edge ending cycle ``s + j``;
* **swap**: ``wswap`` high in a cycle marks that cycle's ``a`` as the first of a new fold. It travels with the
  activations (``i`` registers down to row ``i``, then one PE right per cycle), and in the cycle it reaches PE
  ``(i, j)`` that PE computes with its shadow weight and copies it into its active register;
* **stream**, ``T`` cycles (``T = M``, the streamed dimension): each cycle the source drives ``a_<i>``
  (``A[m, k0 + i]``, unskewed: all rows of one ``m`` in the same cycle) and ``psum_<j>`` (the partial sum output
  ``(m, n0 + j)`` starts from: the bias on the first reduction fold, the previous fold's result after). The skew
  happens inside the array: row ``i``'s ``a`` passes ``i`` registers, column ``j``'s ``psum`` ``j``; ``a`` then
  moves one PE right per cycle and the partial sum one PE down, so PE ``(i, j)`` adds ``A[m, k0 + i] * W[k0 + i,
  n0 + j]`` in cycle ``m + i + j`` of the stream (each PE is the kind's own datapath with ``load`` and ``en`` held
  high: its register is ``add(psum from above, product)``, one addition per PE, in ``k`` order down the column);
* ``out_<j>`` is deskewed (column ``j`` passes ``cols - 1 - j`` more registers): output row ``m`` of the fold is on
  every ``out_<j>`` in stream cycle ``m + rows + cols - 1``;
* a kind with sticky flags (the minifloat PE's ``nan``, ``pinf``, ``ninf``: a NaN or infinite product, which
  adds nothing to the register) passes them down the column beside the partial sum: ``psum_<flag>_<j>`` in
  (zero with the bias, the previous fold's ``out_<flag>_<j>`` after), each PE ORs in its own product's flag
  (one register and an OR per flag and PE), ``out_<flag>_<j>`` out with ``out_<j>``: the flags of the whole
  output, what the emulator's readout (NaN, an infinity, or the register rounded) needs.

Double buffering: with a fold's stream starting (``wswap``) in cycle ``t0``, the next fold's row ``i`` may be
loaded in any cycle ``s`` with ``t0 + i <= s`` (PE ``(i, j)`` has swapped in this fold's weight by then: the copy
and the new shadow write share the edge) and ``s < t1 + i`` (``t1``: the next fold's ``wswap``), so loading row
``i`` in cycle ``t0 + i`` works for any fold period ``t1 - t0 >= rows`` (the load bus is busy ``rows`` cycles):
the next fold's weights load while this fold streams (:class:`~ristretto_sim.rtl.ws_sequencer.WsSequencer`).

The summation order is the emulator's (bias, then ``k = 0, 1, ...``; a reduction fold continues from the
previous fold's partial sum), so saturating accumulators give the emulator's codes. Unused rows get the kind's
``pad_codes`` (0 and 0; an affine PE's zero points), whose product adds nothing to the register.

Configuration inputs (a PE kind's ``config_ports``: an affine PE's ``za``/``zw`` with ``zero_point='register'``)
are inputs of the array, broadcast to every PE without registers (one layer's values, static during a run).

Timing of :func:`simulate_ws_gemm` (no overlap): one fold is ``rows`` load cycles + the stream (``wswap`` with
its first cycle), its last MAC (PE ``(rows-1, cols-1)``, output ``M - 1``) in cycle ``2 rows + cols + M - 3`` of
the fold: ``2 rows + cols + M - 2`` cycles per fold, folds not overlapping, SCALE-Sim's ws compute cycles
(:func:`~ristretto_sim.hw.mapping.scalesim_compute_cycles`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from amaranth.hdl import Module, Mux, Signal
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out
from amaranth.sim import Simulator

from ristretto_sim.rtl.array import broadcast_config, check_array, config_members, delay
from ristretto_sim.rtl.registry import make_pe, pe_class
from ristretto_sim.rtl.spec import PESpec

#: PE kinds whose register is one ``add(base, product)`` per cycle with ``base`` from outside (the ws chain):
#: fixed point, shift-and-add (power-of-two weights), minifloat products into a Kulisch register, affine int8
WS_KINDS = ("fixed", "shift", "minifloat-kulisch", "affine")


def accumulator_codes(pe: PESpec, shape) -> np.ndarray:
    """Zeros for ``shape`` accumulator codes of ``pe``: int64, or Python integers (``object``) for a register
    wider than 63 bits (a Kulisch register of wide minifloats)."""
    if pe.accumulator.bits <= 63:
        return np.zeros(shape, dtype=np.int64)
    out = np.empty(shape, dtype=object)
    out[...] = 0
    return out


def check_ws_pe(pe: PESpec) -> None:
    """``ValueError`` unless ``pe``'s datapath is one of ``WS_KINDS`` (before a ws component is built)."""
    kind = pe_class(pe).datapath_name
    if kind not in WS_KINDS:
        raise ValueError(f"datapath {kind!r}: the weight-stationary array supports {', '.join(WS_KINDS)}")


class WeightStationaryArray(wiring.Component):
    """Weight-stationary systolic array (module docstring: the protocol).

    Parameters
    ----------
    rows, cols : int
        Array size (>= 1 each).
    pe : PESpec
        The PE every cell is; only the datapaths in ``WS_KINDS``.
    """

    def __init__(self, rows: int, cols: int, pe: PESpec):
        self.rows, self.cols = check_array(rows, cols, pe)
        check_ws_pe(pe)
        self.spec = pe
        self.flags = pe_class(pe).flags
        members = {"wload": In(1), "wrow": In(range(self.rows)), "wswap": In(1)}
        members.update({f"a_{i}": In(pe.input_shape) for i in range(self.rows)})
        members.update({f"w_{j}": In(pe.weight_shape) for j in range(self.cols)})
        members.update({f"psum_{j}": In(pe.accumulator_shape) for j in range(self.cols)})
        members.update({f"out_{j}": Out(pe.accumulator_shape) for j in range(self.cols)})
        members.update({f"psum_{f}_{j}": In(1) for f in self.flags for j in range(self.cols)})
        members.update({f"out_{f}_{j}": Out(1) for f in self.flags for j in range(self.cols)})
        members.update(config_members(pe))
        super().__init__(members)

    def verilog_name(self) -> str:
        return f"ws_array_{self.rows}x{self.cols}_{self.spec.module_name()}"

    def fold_cycles(self, t: int) -> int:
        """Cycles one fold occupies the array: ``2 rows + cols + t - 2``."""
        return 2 * self.rows + self.cols + t - 2

    def elaborate(self, platform):
        m = Module()
        r, c = self.rows, self.cols

        def delayed(sig, n, name):
            return delay(m, sig, n, name)

        pes = [[make_pe(self.spec) for _ in range(c)] for _ in range(r)]
        broadcast_config(m, self, [pe for row in pes for pe in row])
        swap = [[None] * c for _ in range(r)]
        for i in range(r):
            swap[i][0] = delayed(self.wswap, i, f"swap{i}")
            for j in range(1, c):
                swap[i][j] = delayed(swap[i][j - 1], 1, f"swap{i}_{j}")
        for j in range(c):
            wload = delayed(self.wload, j, f"wload{j}")
            wrow = delayed(self.wrow, j, f"wrow{j}")
            wbus = delayed(getattr(self, f"w_{j}"), j, f"w{j}")
            for i in range(r):
                pe = pes[i][j]
                m.submodules[f"pe_{i}_{j}"] = pe
                shadow = Signal(self.spec.weight_shape, name=f"shadow_{i}_{j}")
                active = Signal(self.spec.weight_shape, name=f"weight_{i}_{j}")
                with m.If(wload & (wrow == i)):
                    m.d.sync += shadow.eq(wbus)
                with m.If(swap[i][j]):
                    m.d.sync += active.eq(shadow)
                m.d.comb += [pe.w.eq(Mux(swap[i][j], shadow, active)), pe.en.eq(1), pe.load.eq(1),
                             pe.clear.eq(0)]
                m.d.comb += pe.a.eq(delayed(getattr(self, f"a_{i}"), i, f"a{i}") if j == 0 else pes[i][j - 1].a_out)
                m.d.comb += pe.bias.eq(delayed(getattr(self, f"psum_{j}"), j, f"psum{j}") if i == 0
                                       else pes[i - 1][j].acc)
        for j in range(c):
            m.d.comb += getattr(self, f"out_{j}").eq(delayed(pes[r - 1][j].acc, c - 1 - j, f"out{j}"))
        for f in self.flags:  # each output's flags down its column: the partial sum's, OR this PE's product's
            for j in range(c):
                chain = delayed(getattr(self, f"psum_{f}_{j}"), j, f"psum_{f}{j}")
                for i in range(r):
                    above = Signal(name=f"{f}_in_{i}_{j}")
                    m.d.sync += above.eq(chain)
                    chain = above | getattr(pes[i][j], f)
                m.d.comb += getattr(self, f"out_{f}_{j}").eq(delayed(chain, c - 1 - j, f"out_{f}{j}"))
        return m


def simulate_ws_gemm(array: WeightStationaryArray, a, w, bias=None, with_trace: bool = False,
                     layer: PESpec | None = None):
    """Stream ``a (M, K) @ w (K, N)`` (+ ``bias (N,)``) through ``array`` in Amaranth's simulator, folding ``K``
    over the rows and ``N`` over the columns (column folds outer, reduction folds inner, as SCALE-Sim's ws).
    ``layer``: the spec of the layer computed (default ``array.spec``; the same hardware, e.g. another layer's
    zero points on a register zero-point PE), whose ``pad_codes`` pad the edge folds and whose ``config_values``
    are driven on the configuration inputs.

    Returns ``(codes (M, N), read)`` (codes: :func:`accumulator_codes`): ``read`` is the cycle (0-based, from the
    first load cycle) the last output is read, one after the last MAC (a fold's last read-out cycle is the next
    fold's first load cycle, so folds occupy ``fold_cycles`` each). ``with_trace``: a third item, the
    :class:`WsTrace` of the run (with the sticky flags of every output).
    """
    a, w = np.asarray(a, dtype=np.int64), np.asarray(w, dtype=np.int64)
    mm, kk = a.shape
    if w.ndim != 2 or w.shape[0] != kk:
        raise ValueError(f"a {a.shape} and w {w.shape}: the reduction dimensions differ")
    nn = w.shape[1]
    if mm < 1 or kk < 1 or nn < 1:
        raise ValueError(f"a {a.shape} @ w {w.shape}: every dimension must be at least 1")
    b = accumulator_codes(array.spec, nn)
    if bias is not None:
        b[:] = [int(v) for v in np.asarray(bias).reshape(nn)]
    r, c = array.rows, array.cols
    layer = array.spec if layer is None else layer
    if not layer.same_hardware(array.spec):
        raise ValueError(f"layer={layer.module_name()}: not the array's PE ({array.spec.module_name()})")
    pad_a, pad_w = pe_class(layer).pad_codes(layer)
    config = pe_class(layer).config_values(layer)
    out = accumulator_codes(array.spec, (mm, nn))
    stats = {}
    sim = Simulator(array)
    sim.add_clock(1e-6)

    flags = array.flags
    flag_out = {f: np.zeros((mm, nn), dtype=bool) for f in flags}
    inputs = ["wload", "wrow", "wswap"] + [f"a_{i}" for i in range(r)] + [f"w_{j}" for j in range(c)] + \
        [f"psum_{j}" for j in range(c)] + [f"psum_{f}_{j}" for f in flags for j in range(c)] + list(config)
    cur = dict.fromkeys(inputs, 0)
    stim = {n: [] for n in inputs}
    reads = {f"out_{j}": {} for j in range(c)} | {f"out_{f}_{j}": {} for f in flags for j in range(c)}

    async def bench(ctx):
        cycle = 0

        def put(name, value):
            cur[name] = value
            ctx.set(getattr(array, name), value)

        async def tick():
            for n in inputs:
                stim[n].append(cur[n])
            await ctx.tick()

        for n, v in config.items():
            put(n, v)

        for n0 in range(0, nn, c):
            for k0 in range(0, kk, r):
                for i in range(r):
                    put("wload", 1)
                    put("wrow", i)
                    for j in range(c):
                        kv, nv = k0 + i, n0 + j
                        put(f"w_{j}", int(w[kv, nv]) if kv < kk and nv < nn else pad_w)
                    await tick()
                    cycle += 1
                put("wload", 0)
                lat = r + c - 1
                for t in range(mm + lat):
                    put("wswap", int(t == 0))
                    for i in range(r):
                        put(f"a_{i}", int(a[t, k0 + i]) if t < mm and k0 + i < kk else pad_a)
                    for j in range(c):
                        nv = n0 + j
                        p = 0
                        if t < mm and nv < nn:
                            p = int(b[nv]) if k0 == 0 else int(out[t, nv])
                        put(f"psum_{j}", p)
                        for f in flags:
                            put(f"psum_{f}_{j}", int(t < mm and nv < nn and k0 > 0 and flag_out[f][t, nv]))
                    mo = t - lat
                    if mo >= 0:
                        for j in range(min(c, nn - n0)):
                            out[mo, n0 + j] = ctx.get(getattr(array, f"out_{j}"))
                            reads[f"out_{j}"][cycle] = int(out[mo, n0 + j])
                            for f in flags:
                                flag_out[f][mo, n0 + j] = ctx.get(getattr(array, f"out_{f}_{j}"))
                                reads[f"out_{f}_{j}"][cycle] = int(flag_out[f][mo, n0 + j])
                    if t < mm + lat - 1:  # the last read-out cycle is the next fold's first load cycle
                        await tick()
                        cycle += 1
        stats["read"] = cycle
        for n in inputs:  # the last read-out cycle
            stim[n].append(cur[n])

    sim.add_testbench(bench)
    sim.run()
    ncyc = stats["read"] + 1
    expected = {n: np.array([v.get(t, 0) for t in range(ncyc)], dtype=out.dtype) for n, v in reads.items()}
    mask = {n: np.array([t in v for t in range(ncyc)]) for n, v in reads.items()}
    trace = WsTrace({n: np.asarray(v, dtype=out.dtype) for n, v in stim.items()}, expected, mask, flag_out)
    return (out, stats["read"], trace) if with_trace else (out, stats["read"])


@dataclass(frozen=True, eq=False)
class WsTrace:
    """A driven GEMM cycle by cycle: ``inputs`` (every input port's codes per cycle), ``outputs`` (each
    ``out_<j>``'s codes read) and ``mask`` (the cycles each was read in), for a testbench of the exported
    Verilog (:func:`~ristretto_sim.rtl.cosim.write_testbench`, ``before_edge``); ``flags``: each sticky flag's
    (M, N) values of the GEMM's outputs (empty for a kind without flags)."""

    inputs: dict
    outputs: dict
    mask: dict
    flags: dict
