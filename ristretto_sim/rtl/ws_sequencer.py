"""``WsSequencer``: a GEMM ``C = A @ W + bias`` of fixed shape run by a control FSM around a
:class:`~ristretto_sim.rtl.ws_array.WeightStationaryArray`, from on-chip memories to an output stream.

Operands
--------
``A`` (M, K), ``W`` (K, N) and ``bias`` (N,) sit in three ``amaranth.lib.memory.Memory`` initialised with their
codes (:func:`pack_operands` lays them out; the PE kind's ``pad_codes``, a zero product, pad the edge folds), each
read through a synchronous read port (one cycle of latency, what an FPGA block RAM gives): the activation memory
holds one word of ``rows`` codes per (reduction fold, m), the weight memory one word of ``cols`` codes per (fold,
array row) in walk order, the bias memory one word of ``cols`` codes per column fold. Memories rather than
valid/ready input streams: the FSM alone decides every read, so a test checks one thing (the schedule) against the
emulator and one closed-form cycle count, with no source model to write and no stall paths to cover; a DMA engine
that fills the memories (or a stream adapter in front of them) is a separate block. Partial sums between reduction
folds go through an on-chip psum buffer (``M`` words of ``cols`` accumulators and their sticky flags, read
transparently in the cycle it is written).

Control
-------
``start`` (high for a cycle while idle) begins a run; ``busy`` is high from the next cycle until ``done`` (one
cycle, with the last output). Folds are walked column fold outer, reduction fold inner (``f = nf * Fk + kf``,
``Fk = ceil(K / rows)``, ``Fn = ceil(N / cols)``, ``F = Fk * Fn``), as SCALE-Sim's ws and the cycle model:

* prologue, ``rows`` cycles: fold 0's weights into the shadow registers;
* fold ``f``, ``P_f`` cycles: ``wswap`` with its first activation row; ``M`` activation rows (``m = 0 ...``)
  with their partial sums (the bias when ``kf = 0``, else the psum buffer); in its first ``rows`` cycles fold
  ``f + 1``'s weights load (double buffering: the load is hidden when ``M >= rows``). ``P_f = max(M, rows)``
  when fold ``f + 1`` starts a new column fold, ``P_f = max(M, rows + cols)`` when it continues this one's
  partial sums (its row ``m`` needs fold ``f``'s output ``m``, out ``rows + cols - 1`` cycles after it went in,
  plus the buffer's read cycle); the last fold streams ``M`` cycles and the array drains;
* output row ``m`` of fold ``f`` leaves the array ``rows + cols - 1`` cycles after it entered: to the psum
  buffer (``kf < Fk - 1``) or, on the last reduction fold, to the output stream: ``out_valid`` with
  ``out_row = m``, ``out_col = nf * cols`` and ``out_<j>`` the accumulator codes of outputs ``(m, out_col + j)``
  (columns ``>= N`` of the last column fold carry zeros), and for a kind with sticky flags (the minifloat PE's
  ``nan``, ``pinf``, ``ninf``) ``out_<flag>_<j>``, the flags of the whole output (the psum buffer keeps them
  between reduction folds beside the partial sums). There is no ``ready``: the consumer takes a row in
  any cycle it is offered (a memory write port does); a stalling sink would need a clock enable on the array.

Configuration inputs (a PE kind's ``config_ports``: an affine PE's ``za``/``zw`` with ``zero_point='register'``)
are inputs of the sequencer wired to the array's (broadcast to every PE, no registers): the layer's values, held
for the run. The memories' edge-fold padding is the spec's ``pad_codes`` (that layer's zero points), so the
values driven must be the spec's ``config_values``, as :func:`simulate_sequencer` and :func:`expected_stream` do.

Cycles (:func:`sequencer_cycles`)
---------------------------------
With ``start`` in cycle 0, ``done`` is in cycle ``2 rows + cols + M + sum_{f < F-1} P_f``. Against the cycle
model's default (pipelined) ws count :func:`~ristretto_sim.hw.mapping.pipelined_fold_cycles`, ``(F - 1)
max(M, rows) + M + 2 rows + cols - 3``, the sequencer pays 3 more cycles per GEMM (``start`` sampled, the
memories' read latency, the read-out cycle) and ``max(M, rows + cols) - max(M, rows)`` more per reduction-fold
boundary (the cycle model overlaps dependent folds as freely as independent ones: it has no partial-sum
dependency); with ``M >= rows + cols`` (or ``K <= rows``) that term is zero and the counts differ by 3.
(Compared with the cycle model's default mapping when a column fold's partial sums fit its ofmap buffer half;
otherwise the model cuts the stream into chunks, ``LayerMapping.stream_chunk``, which the sequencer does not.)
SCALE-Sim's serial ws count (``2 rows + cols + M - 2`` per fold, the array driven by :func:`simulate_ws_gemm
<ristretto_sim.rtl.ws_array.simulate_ws_gemm>`) is larger by ``2 rows + cols + M - 2 - P_f`` per fold boundary
(the next weight load and this fold's fill and drain, which the sequencer overlaps); with one fold both counts
are the sequencer's minus 3. LeNet's conv2 (M = 64, K = 500, N = 50) on 8x8: 28,248 cycles, pipelined 28,245,
SCALE-Sim 37,925 (``tests/rtl/test_ws_sequencer.py``).
"""

from __future__ import annotations

import math

import numpy as np
from amaranth.hdl import Cat, Module, Mux, Shape, Signal
from amaranth.lib import wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

from ristretto_sim.rtl.array import config_members, delay
from ristretto_sim.rtl.registry import pe_class
from ristretto_sim.rtl.spec import PESpec
from ristretto_sim.rtl.ws_array import WeightStationaryArray, accumulator_codes

#: the most operand words one memory of a generated sequencer holds (keeps exported Verilog and simulation sane)
MAX_WORDS = 1 << 16


def fold_periods(m: int, k: int, n: int, rows: int, cols: int) -> list[int]:
    """``P_f`` of every fold but the last, in walk order (module docstring)."""
    fk, fn = math.ceil(k / rows), math.ceil(n / cols)
    out = []
    for f in range(fk * fn - 1):
        dependent = f % fk < fk - 1
        out.append(max(m, rows + cols) if dependent else max(m, rows))
    return out


def sequencer_cycles(m: int, k: int, n: int, rows: int, cols: int) -> int:
    """The cycle ``done`` is high in, ``start`` being high in cycle 0: ``2 rows + cols + M + sum P_f``."""
    return 2 * rows + cols + m + sum(fold_periods(m, k, n, rows, cols))


def _pack(rows_of_codes, width: int) -> list[int]:
    """Words of codes concatenated little end first (code ``j`` in bits ``j * width ...``), two's complement."""
    mask = (1 << width) - 1
    return [sum((int(v) & mask) << (j * width) for j, v in enumerate(row)) for row in rows_of_codes]


def pack_operands(a, w, bias, rows: int, cols: int, pe: PESpec) -> dict[str, list[int]]:
    """The three memories' initial words (module docstring): ``{"a": ..., "w": ..., "bias": ...}``."""
    a, w = np.asarray(a, dtype=np.int64), np.asarray(w, dtype=np.int64)
    mm, kk = a.shape
    nn = w.shape[1]
    b = accumulator_codes(pe, nn)
    if bias is not None:
        b[:] = [int(v) for v in np.asarray(bias).reshape(nn)]
    fk, fn = math.ceil(kk / rows), math.ceil(nn / cols)
    pad_a, pad_w = pe_class(pe).pad_codes(pe)  # a zero product in the unused rows of the edge fold
    ap = np.full((mm, fk * rows), pad_a, np.int64)
    ap[:, :kk] = a
    wp = np.full((fk * rows, fn * cols), pad_w, np.int64)
    wp[:kk, :nn] = w
    bp = accumulator_codes(pe, fn * cols)
    bp[:nn] = b
    a_words = [ap[x, kf * rows:(kf + 1) * rows] for kf in range(fk) for x in range(mm)]
    w_words = [wp[kf * rows + i, nf * cols:(nf + 1) * cols] for nf in range(fn) for kf in range(fk)
               for i in range(rows)]
    b_words = [bp[nf * cols:(nf + 1) * cols] for nf in range(fn)]
    return {"a": _pack(a_words, Shape.cast(pe.input_shape).width),
            "w": _pack(w_words, Shape.cast(pe.weight_shape).width),
            "bias": _pack(b_words, Shape.cast(pe.accumulator_shape).width)}


class WsSequencer(wiring.Component):
    """A weight-stationary GEMM engine: memories, control FSM, double-buffered array (module docstring).

    Parameters
    ----------
    rows, cols : int
        Array size.
    pe : PESpec
        The PE kind (``WS_KINDS`` of :mod:`~ristretto_sim.rtl.ws_array`: fixed, shift, minifloat Kulisch, affine).
    a, w, bias : array-like of int
        Operand codes ``A`` (M, K), ``W`` (K, N), ``bias`` (N,) or None (zeros); their shapes fix M, K, N.
    """

    def __init__(self, rows: int, cols: int, pe: PESpec, a, w, bias=None):
        a, w = np.asarray(a), np.asarray(w)
        if a.ndim != 2 or w.ndim != 2 or a.shape[1] != w.shape[0]:
            raise ValueError(f"a {a.shape} @ w {w.shape}: give a (M, K) and w (K, N) with the same K")
        self.m, self.k = a.shape
        self.n = w.shape[1]
        if min(self.m, self.k, self.n) < 1:
            raise ValueError(f"a {a.shape} @ w {w.shape}: every dimension must be at least 1")
        if bias is not None and np.asarray(bias).size != self.n:
            raise ValueError(f"bias has {np.asarray(bias).size} codes for N={self.n} columns")
        self.array = WeightStationaryArray(rows, cols, pe)
        self.rows, self.cols, self.spec = self.array.rows, self.array.cols, pe
        self.fk, self.fn = math.ceil(self.k / rows), math.ceil(self.n / cols)
        self.init = pack_operands(a, w, bias, rows, cols, pe)
        for name, words in self.init.items():
            if len(words) > MAX_WORDS:
                raise ValueError(f"the {name} memory needs {len(words)} words (at most {MAX_WORDS}): a smaller GEMM")
        members = {"start": In(1), "busy": Out(1), "done": Out(1), "out_valid": Out(1),
                   "out_row": Out(range(self.m)), "out_col": Out(range(self.fn * cols))}
        members.update({f"out_{j}": Out(pe.accumulator_shape) for j in range(cols)})
        members.update({f"out_{f}_{j}": Out(1) for f in self.array.flags for j in range(cols)})
        members.update(config_members(pe))  # the PEs' configuration inputs, wired to the array's
        super().__init__(members)

    def verilog_name(self) -> str:
        return f"ws_seq_{self.m}x{self.k}x{self.n}_{self.rows}x{self.cols}_{self.spec.module_name()}"

    def cycles(self) -> int:
        """The cycle ``done`` is high in after ``start`` in cycle 0 (:func:`sequencer_cycles`)."""
        return sequencer_cycles(self.m, self.k, self.n, self.rows, self.cols)

    def elaborate(self, platform):
        m = Module()
        r, c, mm, fk, fn = self.rows, self.cols, self.m, self.fk, self.fn
        arr = self.array
        m.submodules.array = arr
        m.d.comb += [getattr(arr, n).eq(getattr(self, n)) for n in pe_class(self.spec).config_ports(self.spec)]
        ab, wb, pb = (Shape.cast(s).width for s in (self.spec.input_shape, self.spec.weight_shape,
                                                      self.spec.accumulator_shape))
        mems = {}
        for name, width in (("a", r * ab), ("w", c * wb), ("bias", c * pb)):
            words = self.init[name]
            mems[name] = m.submodules[f"{name}_mem"] = Memory(shape=width, depth=len(words), init=words)
        a_rd, w_rd, b_rd = (mems[n].read_port() for n in ("a", "w", "bias"))
        flags = arr.flags
        psum_mem = m.submodules.psum_mem = Memory(shape=c * (pb + len(flags)), depth=mm, init=[])
        p_wr = psum_mem.write_port()
        p_rd = psum_mem.read_port(transparent_for=(p_wr,))

        # ------------------------------------------------------------------ control FSM (issue cycle)
        p_ind, p_dep = max(mm, r), max(mm, r + c)
        t = Signal(range(max(p_dep, r) + 1), name="t")
        kf = Signal(range(fk), name="kf")
        nf = Signal(range(fn), name="nf")
        waddr = Signal(range(len(self.init["w"]) + 1), name="waddr")
        abase = Signal(range(len(self.init["a"]) + 1), name="abase")
        prologue = Signal(name="prologue")
        streaming = Signal(name="streaming")
        last_fold = (kf == fk - 1) & (nf == fn - 1)
        period = Mux(kf == fk - 1, p_ind, p_dep)

        with m.If(~self.busy & self.start):
            m.d.sync += [self.busy.eq(1), prologue.eq(1), t.eq(0), kf.eq(0), nf.eq(0), waddr.eq(0), abase.eq(0)]
        with m.If(self.done):
            m.d.sync += self.busy.eq(0)
        load = Signal(name="load")
        with m.If(prologue):
            m.d.comb += load.eq(1)
            m.d.sync += [t.eq(t + 1), waddr.eq(waddr + 1)]
            with m.If(t == r - 1):
                m.d.sync += [prologue.eq(0), streaming.eq(1), t.eq(0)]
        with m.Elif(streaming):
            m.d.comb += load.eq((t < r) & ~last_fold)
            with m.If(load):
                m.d.sync += waddr.eq(waddr + 1)
            m.d.sync += t.eq(t + 1)
            with m.If(last_fold & (t == mm - 1)):
                m.d.sync += streaming.eq(0)
            with m.Elif(t == period - 1):
                m.d.sync += t.eq(0)
                with m.If(kf == fk - 1):
                    m.d.sync += [kf.eq(0), nf.eq(nf + 1), abase.eq(0)]
                with m.Else():
                    m.d.sync += [kf.eq(kf + 1), abase.eq(abase + mm)]
        valid = streaming & (t < mm)
        m.d.comb += [w_rd.addr.eq(waddr), a_rd.addr.eq(abase + t), b_rd.addr.eq(nf), p_rd.addr.eq(t)]

        # ------------------------------------------------------------------ array inputs (one cycle later)
        def reg(sig, name):
            return delay(m, sig, 1, name)

        valid_d, from_bias = reg(valid, "valid"), reg(kf == 0, "from_bias")
        m.d.comb += [arr.wload.eq(reg(load, "wload")), arr.wrow.eq(reg(t[:max(1, (r - 1).bit_length())], "wrow")),
                     arr.wswap.eq(reg(streaming & (t == 0), "wswap"))]
        for i in range(r):
            m.d.comb += getattr(arr, f"a_{i}").eq(Mux(valid_d, a_rd.data[i * ab:(i + 1) * ab], 0))
        for j in range(c):
            m.d.comb += getattr(arr, f"w_{j}").eq(w_rd.data[j * wb:(j + 1) * wb])
            psum = Mux(from_bias, b_rd.data[j * pb:(j + 1) * pb], p_rd.data[j * pb:(j + 1) * pb])
            m.d.comb += getattr(arr, f"psum_{j}").eq(Mux(valid_d, psum, 0))
            for x, f in enumerate(flags):  # the bias has none; a reduction fold continues the previous fold's
                m.d.comb += getattr(arr, f"psum_{f}_{j}").eq(valid_d & ~from_bias & p_rd.data[c * pb + x * c + j])

        # ------------------------------------------------------------------ outputs (rows + cols - 1 later)
        lat = r + c - 1
        tag_valid = delay(m, valid_d, lat, "tag_valid")
        tag_m = delay(m, reg(t[:max(1, (mm - 1).bit_length())], "row"), lat, "tag_row")
        tag_last_k = delay(m, reg(kf == fk - 1, "last_k"), lat, "tag_last_k")
        tag_col = delay(m, reg(nf, "col"), lat, "tag_col")
        tag_final = delay(m, reg(last_fold & (t == mm - 1), "final"), lat, "tag_final")
        outs = [getattr(arr, f"out_{j}") for j in range(c)]
        flag_outs = [getattr(arr, f"out_{f}_{j}") for f in flags for j in range(c)]
        m.d.comb += [p_wr.addr.eq(tag_m), p_wr.data.eq(Cat(*outs, *flag_outs)), p_wr.en.eq(tag_valid & ~tag_last_k)]
        m.d.comb += [self.out_valid.eq(tag_valid & tag_last_k), self.out_row.eq(tag_m),
                     self.out_col.eq(tag_col * c), self.done.eq(tag_valid & tag_final)]
        for j in range(c):
            m.d.comb += getattr(self, f"out_{j}").eq(outs[j])
            # a padding column of the last column fold has zero weights, but NaN x 0 flags: it shows zeros
            real = 1 if j < self.n - (fn - 1) * c else tag_col != fn - 1
            for f in flags:
                m.d.comb += getattr(self, f"out_{f}_{j}").eq(getattr(arr, f"out_{f}_{j}") & real)
        return m


def expected_stream(seq: WsSequencer, codes, flags: dict | None = None) -> tuple[dict, dict, dict]:
    """What ``seq``'s ports must show each cycle for the GEMM result ``codes`` (M, N) (and ``flags``, name ->
    (M, N) bools, for a kind with sticky flags), from the schedule alone (module docstring): ``(stimulus,
    expected, mask)`` for :func:`~ristretto_sim.rtl.cosim.write_testbench` (``before_edge``; ``start`` in cycle
    0, the last cycle the ``done`` cycle). ``out_valid`` and ``done`` are checked every cycle, the row, column,
    codes and flags in the cycles ``out_valid`` is high."""
    r, c, mm, fk = seq.rows, seq.cols, seq.m, seq.fk
    names = seq.array.flags
    if sorted(flags or {}) != sorted(names):
        raise ValueError(f"give the flags {', '.join(names) or '(none)'} of the {seq.spec.kind} PE's outputs")
    codes = np.asarray(codes)
    ncyc = seq.cycles() + 1
    starts = np.concatenate([[r], r + np.cumsum(fold_periods(mm, seq.k, seq.n, r, c), dtype=np.int64)])
    exp = {n: np.zeros(ncyc, np.int64) for n in ["out_valid", "done", "out_row", "out_col"]}
    exp.update({f"out_{j}": accumulator_codes(seq.spec, ncyc) for j in range(c)})
    exp.update({f"out_{f}_{j}": np.zeros(ncyc, np.int64) for f in names for j in range(c)})
    for nf in range(seq.fn):
        t0 = int(starts[nf * fk + fk - 1])
        for x in range(mm):
            cyc = 2 + t0 + x + r + c - 1
            exp["out_valid"][cyc], exp["out_row"][cyc], exp["out_col"][cyc] = 1, x, nf * c
            for j in range(c):
                col = nf * c + j
                exp[f"out_{j}"][cyc] = int(codes[x, col]) if col < seq.n else 0
                for f in names:
                    exp[f"out_{f}_{j}"][cyc] = int(col < seq.n and flags[f][x, col])
    exp["done"][ncyc - 1] = 1
    stim = {"start": np.zeros(ncyc, np.int64)}
    stim["start"][0] = 1
    stim.update({n: np.full(ncyc, v, np.int64) for n, v in pe_class(seq.spec).config_values(seq.spec).items()})
    valid = exp["out_valid"].astype(bool)
    return stim, exp, {n: valid for n in exp if n not in ("out_valid", "done")}


def simulate_sequencer(seq: WsSequencer, with_trace: bool = False, with_flags: bool = False):
    """Run ``seq`` in Amaranth's simulator: ``start`` in cycle 0, outputs collected until ``done``.

    Returns ``(codes (M, N), done_cycle)`` (codes: :func:`~ristretto_sim.rtl.ws_array.accumulator_codes`);
    ``with_trace``: a third item, ``(stimulus, expected, mask)`` per cycle for
    :func:`~ristretto_sim.rtl.cosim.write_testbench` (``before_edge``); ``with_flags``: a last item, the sticky
    flags of every output (name -> (M, N) bools; empty for a kind without flags).
    """
    from amaranth.sim import Simulator

    out = accumulator_codes(seq.spec, (seq.m, seq.n))
    seen = np.zeros((seq.m, seq.n), dtype=bool)
    flag_names = seq.array.flags
    flags = {f: np.zeros((seq.m, seq.n), dtype=bool) for f in flag_names}
    names = ["out_valid", "done"] + [f"out_{j}" for j in range(seq.cols)] + ["out_row", "out_col"] + \
        [f"out_{f}_{j}" for f in flag_names for j in range(seq.cols)]
    log = {n: [] for n in names}
    stats = {}
    limit = seq.cycles() + 8

    config = pe_class(seq.spec).config_values(seq.spec)

    async def bench(ctx):
        ctx.set(seq.start, 1)
        for n, v in config.items():
            ctx.set(getattr(seq, n), v)
        for cycle in range(limit):
            vals = {n: ctx.get(getattr(seq, n)) for n in names}
            for n in names:
                log[n].append(vals[n])
            if vals["out_valid"]:
                row, col = vals["out_row"], vals["out_col"]
                for j in range(min(seq.cols, seq.n - col)):
                    out[row, col + j] = vals[f"out_{j}"]
                    seen[row, col + j] = True
                    for f in flag_names:
                        flags[f][row, col + j] = vals[f"out_{f}_{j}"]
            if vals["done"]:
                stats["done"] = cycle
                return
            await ctx.tick()
            ctx.set(seq.start, 0)

    sim = Simulator(seq)
    sim.add_clock(1e-6)
    sim.add_testbench(bench)
    sim.run()
    if "done" not in stats:
        raise RuntimeError(f"the sequencer did not raise done within {limit} cycles")
    if not seen.all():
        raise RuntimeError(f"{int((~seen).sum())} outputs never appeared on the output stream")
    tail = (flags,) if with_flags else ()
    if not with_trace:
        return (out, stats["done"], *tail)
    ncyc = stats["done"] + 1
    stim = {"start": np.array([1] + [0] * (ncyc - 1), dtype=np.int64)}
    stim.update({n: np.full(ncyc, v, np.int64) for n, v in config.items()})
    ov = np.asarray(log["out_valid"], dtype=bool)
    expected = {n: np.asarray(v, dtype=out.dtype) for n, v in log.items()}
    mask = {n: ov for n in names if n not in ("out_valid", "done")}
    return (out, stats["done"], (stim, expected, mask), *tail)
