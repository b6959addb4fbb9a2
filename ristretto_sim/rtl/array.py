"""``SystolicArray``: an output-stationary array of ``rows x cols`` PEs of any kind, with its controller.

Streaming interface (what a source, memory or testbench, drives)
----------------------------------------------------------------
A run computes ``folds`` output tiles of ``rows x cols`` outputs, each over the same reduction length ``k_len``
(runtime inputs, latched on ``start``). The controller walks every fold for ``k_len + rows + cols - 2`` cycles
(folds do not overlap, as in SCALE-Sim's model: ``reference/systolic-timing.md``) and says on its outputs what
it takes each cycle:

* ``take`` high: this cycle the array consumes ``a_<i>`` (row ``i``'s operand ``A[i, k]``), ``w_<j>``
  (column ``j``'s operand ``W[k, j]``) and, when ``k == 0``, ``bias_<j>``, for ``k`` = the ``k`` output and the
  fold ``fold``: **unskewed**, all rows and columns of one ``k`` in the same cycle;
* the **skew happens inside the array**: row ``i``'s operands and control pass ``i`` input registers, column
  ``j``'s weights and bias ``j``; then ``a`` and the control move one PE right per cycle and ``w`` (and the
  bias) one PE down, so PE ``(i, j)`` sees product ``k`` in cycle ``k + i + j`` of the fold;
* ``done`` is high for one cycle, the cycle after the fold's last MAC (PE ``(rows-1, cols-1)`` in cycle
  ``k_len + rows + cols - 3``): then every ``acc_<i>_<j>`` holds that fold's output (i, j) (each PE keeps its
  result until the next fold's first product reaches it, ``rows + cols - 1`` cycles at the least, and
  ``done`` is the one cycle they all show the same fold).

Configuration inputs: a PE kind's ``config_ports`` (an affine PE's ``za``/``zw`` with ``zero_point='register'``)
are inputs of the array of the same names, wired to every PE (a broadcast, no registers): they hold one
layer's values for the whole run and change only between runs, so no skew is needed.

Timing: with ``F`` folds, the last MAC is in cycle ``F * (k_len + rows + cols - 2) - 1`` counted from the first
``take``, the cycle model's (and SCALE-Sim's) compute cycles for an output-stationary layer; the last ``done``
is one cycle later (the read-out cycle: results are read in parallel from the ``acc`` ports).
"""

from __future__ import annotations

from amaranth.hdl import Module, Signal
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from ristretto_sim.formats.base import check_int
from ristretto_sim.rtl.registry import make_pe, pe_class
from ristretto_sim.rtl.spec import PESpec


def delay(m: Module, sig, n: int, name: str):
    """``sig`` after ``n`` registers in ``m``'s sync domain (named ``{name}_d1`` ... ``{name}_d{n}``): the skew and
    deskew chains of the arrays."""
    for t in range(n):
        nxt = Signal.like(sig, name=f"{name}_d{t + 1}")
        m.d.sync += nxt.eq(sig)
        sig = nxt
    return sig

MAX_FOLDS = 1 << 16


def config_members(pe: PESpec) -> dict:
    """The configuration inputs of an array of ``pe`` (the PE kind's ``config_ports``), as signature members."""
    return {name: In(shape) for name, shape in pe_class(pe).config_ports(pe).items()}


def broadcast_config(m: Module, top, pes) -> None:
    """Wire ``top``'s configuration inputs to every PE of ``pes`` (static during a run: no registers)."""
    names = list(pe_class(top.spec).config_ports(top.spec))
    for pe in pes:
        m.d.comb += [getattr(pe, n).eq(getattr(top, n)) for n in names]


def check_array(rows: int, cols: int, pe: PESpec) -> tuple[int, int]:
    """``(rows, cols)`` validated (``ValueError`` naming the bad size), before an array is built."""
    for name, v in (("rows", rows), ("cols", cols)):
        if isinstance(v, int) and not isinstance(v, bool) and v < 1:
            raise ValueError(f"{name}={v}: a systolic array needs at least one row and one column (e.g. 8x8)")
    rows = check_int(rows, "rows", minimum=1, maximum=256)
    cols = check_int(cols, "cols", minimum=1, maximum=256)
    if not isinstance(pe, PESpec):
        raise TypeError(f"pe={pe!r} must be a PESpec")
    return rows, cols


class SystolicArray(wiring.Component):
    """Output-stationary systolic array with its controller (module docstring).

    Parameters
    ----------
    rows, cols : int
        Array size (>= 1 each).
    pe : PESpec
        The PE every cell is (its ``k`` bounds ``k_len``).
    """

    def __init__(self, rows: int, cols: int, pe: PESpec):
        self.rows, self.cols = check_array(rows, cols, pe)
        self.spec = pe
        members = {"start": In(1), "k_len": In(range(pe.k + 1)), "folds": In(range(MAX_FOLDS + 1)),
                   "take": Out(1), "k": Out(range(pe.k)), "fold": Out(range(MAX_FOLDS)), "busy": Out(1),
                   "done": Out(1)}
        members.update({f"a_{i}": In(pe.input_shape) for i in range(self.rows)})
        members.update({f"w_{j}": In(pe.weight_shape) for j in range(self.cols)})
        members.update({f"bias_{j}": In(pe.accumulator_shape) for j in range(self.cols)})
        members.update({f"acc_{i}_{j}": Out(pe.accumulator_shape) for i in range(self.rows) for j in range(self.cols)})
        members.update(config_members(pe))
        super().__init__(members)

    def verilog_name(self) -> str:
        return f"os_array_{self.rows}x{self.cols}_{self.spec.module_name()}"

    def fold_cycles(self, k_len: int) -> int:
        """Cycles one fold occupies the array: ``k_len + rows + cols - 2``."""
        return k_len + self.rows + self.cols - 2

    def elaborate(self, platform):
        m = Module()
        r, c = self.rows, self.cols
        # ------------------------------------------------------------------ controller
        k_len = Signal.like(self.k_len)
        n_folds = Signal.like(self.folds)
        cyc = Signal(range(self.spec.k + r + c), name="fold_cycle")
        with m.If(~self.busy & self.start & (self.k_len != 0) & (self.folds != 0)):
            m.d.sync += [self.busy.eq(1), cyc.eq(0), self.fold.eq(0), k_len.eq(self.k_len), n_folds.eq(self.folds)]
        with m.Elif(self.busy):
            with m.If(cyc == k_len + (r + c - 3)):
                m.d.sync += [cyc.eq(0), self.fold.eq(self.fold + 1)]
                with m.If(self.fold == n_folds - 1):
                    m.d.sync += self.busy.eq(0)
            with m.Else():
                m.d.sync += cyc.eq(cyc + 1)
        take = self.busy & (cyc < k_len)
        load = take & (cyc == 0)
        last = take & (cyc == k_len - 1)
        m.d.comb += [self.take.eq(take), self.k.eq(cyc)]

        # ------------------------------------------------------------------ input skew
        def delayed(sig, n, name):
            return delay(m, sig, n, name)

        pes = [[make_pe(self.spec) for _ in range(c)] for _ in range(r)]
        for i in range(r):
            for j in range(c):
                m.submodules[f"pe_{i}_{j}"] = pes[i][j]
        broadcast_config(m, self, [pe for row in pes for pe in row])
        for i in range(r):  # row i: a and the control, i registers
            first = pes[i][0]
            m.d.comb += [
                first.a.eq(delayed(getattr(self, f"a_{i}"), i, f"a{i}")),
                first.en.eq(delayed(take, i, f"en{i}")),
                first.load.eq(delayed(load, i, f"load{i}")),
                first.clear.eq(0),
            ]
            for j in range(1, c):
                left, pe = pes[i][j - 1], pes[i][j]
                m.d.comb += [pe.a.eq(left.a_out), pe.en.eq(left.en_out), pe.load.eq(left.load_out),
                             pe.clear.eq(left.clear_out)]
        for j in range(c):  # column j: w and the bias, j registers, then one per row
            w = delayed(getattr(self, f"w_{j}"), j, f"w{j}")
            bias = delayed(getattr(self, f"bias_{j}"), j, f"bias{j}")
            m.d.comb += [pes[0][j].w.eq(w), pes[0][j].bias.eq(bias)]
            for i in range(1, r):
                bias = delayed(bias, 1, f"bias{j}_row{i}")
                m.d.comb += [pes[i][j].w.eq(pes[i - 1][j].w_out), pes[i][j].bias.eq(bias)]
        for i in range(r):
            for j in range(c):
                m.d.comb += getattr(self, f"acc_{i}_{j}").eq(pes[i][j].acc)
        m.d.comb += self.done.eq(delayed(last, r + c - 1, "last"))
        return m
