"""Pure mapping of a layer onto a systolic array: operand matrices, folds, compute cycles, tile traffic.

Everything here is arithmetic on shapes, with no simulation. A layer is ``groups`` GEMMs (M x K) @ (K x N);
the dataflow decides which matrix dimension runs along the array rows (Sr), which along the columns (Sc) and
which is
streamed in time (T), as SCALE-Sim does (``reference/systolic-timing.md`` §5.2):

====  ==========  ====  ====  ====
df    stationary  Sr    Sc    T
====  ==========  ====  ====  ====
os    outputs     M     N     K
ws    weights     K     N     M
is    inputs      K     M     N
====  ==========  ====  ====  ====

Folds are walked column fold outer, row fold inner. ``scalesim_*`` functions are SCALE-Sim's closed forms
(§5.4), exact for its runs. ``schedule`` builds the per-fold step list the SimPy model replays: the bits each
step reads from DRAM, the bits it writes, and its compute cycles, given the tensor formats (words pack
densely: two 4-bit weights per byte; partial sums travel at accumulator width) and the buffers (an operand
that fits its buffer is fetched once; otherwise a tile is refetched for every fold that uses it, unless the
previous fold used the same tile).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ristretto_sim.errors import ConfigError
from ristretto_sim.hw.config import AcceleratorConfig
from ristretto_sim.hw.enums import Dataflow
from ristretto_sim.hw.layers import GemmProblem
from ristretto_sim.hw.plan import LayerFormats


def _cdiv(a: int, b: int) -> int:
    return -(-a // b)


@dataclass(frozen=True)
class Folding:
    """How one GEMM folds onto an R x C array.

    Attributes
    ----------
    sr, sc, t : int
        Rows-side, columns-side and streamed dimensions of the operand matrices.
    fr, fc : int
        Row folds ``ceil(sr / rows)`` and column folds ``ceil(sc / cols)``.
    """

    dataflow: Dataflow
    rows: int
    cols: int
    sr: int
    sc: int
    t: int

    @property
    def fr(self) -> int:
        return _cdiv(self.sr, self.rows)

    @property
    def fc(self) -> int:
        return _cdiv(self.sc, self.cols)

    @property
    def folds(self) -> int:
        return self.fr * self.fc

    @property
    def mapping_efficiency(self) -> float:
        """Mean over folds of used PEs / (R x C): ``sr*sc / (fr*R * fc*C)``."""
        return self.sr * self.sc / (self.fr * self.rows * self.fc * self.cols)


def folding(m: int, n: int, k: int, rows: int, cols: int, dataflow) -> Folding:
    """The operand matrices of a GEMM ``(m x k) @ (k x n)`` under ``dataflow`` (module table)."""
    df = Dataflow.coerce(dataflow, "dataflow")
    sr, sc, t = {Dataflow.OS: (m, n, k), Dataflow.WS: (k, n, m), Dataflow.IS: (k, m, n)}[df]
    return Folding(df, rows, cols, sr, sc, t)


def scalesim_fold_cycles(f: Folding, t: int | None = None) -> int:
    """SCALE-Sim's rows per fold: ``T + R + C - 2`` (os) or ``2R + C + T - 2`` (ws, is)."""
    t = f.t if t is None else t
    if f.dataflow is Dataflow.OS:
        return t + f.rows + f.cols - 2
    return 2 * f.rows + f.cols + t - 2


def scalesim_compute_cycles(m: int, n: int, k: int, rows: int, cols: int, dataflow) -> int:
    """SCALE-Sim's ``Total Cycles - Stall Cycles`` for one GEMM: ``folds * fold_cycles - 1`` (§5.4)."""
    f = folding(m, n, k, rows, cols, dataflow)
    return f.folds * scalesim_fold_cycles(f) - 1


def scalesim_compute_util(f: Folding) -> float:
    """SCALE-Sim's Compute Util: ``MapEff * T / L'`` with its ws/is quirk ``L' = 2R + 2C + T - 3`` (§5.4)."""
    if f.dataflow is Dataflow.OS:
        length = f.t + f.rows + f.cols - 2
    else:
        length = 2 * f.rows + 2 * f.cols + f.t - 3
    return f.mapping_efficiency * f.t / length


def scalesim_sram_words(m: int, n: int, k: int, rows: int, cols: int, dataflow) -> dict[str, int]:
    """SCALE-Sim's SRAM access counts in words at the array edge (§5.4), its os ofmap quirk included."""
    f = folding(m, n, k, rows, cols, dataflow)
    if f.dataflow is Dataflow.OS:
        return {
            "ifmap_reads": m * k * f.fc,
            "filter_reads": k * n * f.fr,
            "ofmap_writes": m * n + f.folds * (rows + cols),
            "ofmap_reads": 0,
        }
    if f.dataflow is Dataflow.WS:
        return {
            "ifmap_reads": m * k * f.fc,
            "filter_reads": k * n,
            "ofmap_writes": m * n * f.fr,
            "ofmap_reads": 0,
        }
    return {
        "ifmap_reads": m * k,
        "filter_reads": k * n * f.fc,
        "ofmap_writes": m * n * f.fr,
        "ofmap_reads": 0,
    }


def pipelined_fold_cycles(f: Folding, t: int) -> np.ndarray:
    """Compute cycles of each fold (in walk order) when consecutive folds overlap (our default model).

    The systolic fill and drain (``R + C - 2``) is paid once per GEMM; a fold occupies the array for
    ``max(T, R)`` cycles (the next fold's stationary operand, or this fold's outputs, shift in or out over R
    cycles while the stream runs); ws/is pay the first weight (input) load, R cycles, up front. With one fold
    this equals SCALE-Sim's count; with more it is smaller by up to ``(F - 1) * (R + C - 2)``. The total is
    ``sum - 0`` of the returned array, which already includes SCALE-Sim's final ``-1``.
    """
    n = f.folds
    cycles = np.full(n, max(t, f.rows), dtype=np.int64)
    cycles[-1] = t + f.rows + f.cols - 2
    if f.dataflow is not Dataflow.OS:
        cycles[0] += f.rows
    cycles[-1] -= 1
    return cycles


def serial_fold_cycles(f: Folding, t: int) -> np.ndarray:
    """Compute cycles of each fold when folds run one after another (SCALE-Sim), final ``-1`` included."""
    cycles = np.full(f.folds, scalesim_fold_cycles(f, t), dtype=np.int64)
    cycles[-1] -= 1
    return cycles


@dataclass(frozen=True)
class Schedule:
    """The steps of one layer, in order, and what they move.

    Step arrays (one entry per step; a step is a fold, or a chunk of a fold whose streamed operand does not
    fit its buffer half): ``compute_cycles``, ``read_bits`` (DRAM -> SRAM, all operands), ``write_bits``
    (SRAM -> DRAM). Totals are per operand, in bits, over all groups.
    """

    compute_cycles: np.ndarray
    read_bits: np.ndarray
    write_bits: np.ndarray
    folds: int
    dram_bits: dict[str, int]
    compulsory_bits: dict[str, int]
    sram_bits: dict[str, int]
    sram_words: dict[str, int]
    mapping_efficiency: float
    compute_util: float

    @property
    def total_compute_cycles(self) -> int:
        return int(self.compute_cycles.sum())


def _check_fit(bits: int, buffer_name: str, config: AcceleratorConfig, what: str, layer: str) -> None:
    buf = getattr(config, buffer_name)
    if bits > buf.active_bits:
        half = " (half of it, double-buffered)" if buf.double_buffered else ""
        raise ConfigError(
            f"{buffer_name}.capacity_bytes={buf.capacity_bytes} is too small for one tile: {what} of layer "
            f"{layer!r} needs {_cdiv(bits, 8)} bytes, the buffer offers {buf.active_bits // 8}{half}"
        )


def schedule(
    problem: GemmProblem,
    formats: LayerFormats,
    config: AcceleratorConfig,
    *,
    layer: str = "layer",
    cycles_per_mac: int = 1,
    scalesim_compatible: bool = False,
    input_on_chip: bool = False,
    output_on_chip: bool = False,
) -> Schedule:
    """The step list of one layer on ``config`` (module docstring).

    Parameters
    ----------
    problem : GemmProblem
        The layer as GEMMs.
    formats : LayerFormats
        Tensor formats: element widths of inputs, weights, outputs and partial sums.
    cycles_per_mac : int
        Cycles per streamed element (``ceil(bits / k)`` for bit-serial PEs): stretches T.
    scalesim_compatible : bool
        Serial folds (SCALE-Sim's lengths) and SCALE-Sim's SRAM counts; otherwise folds are pipelined.
    input_on_chip, output_on_chip : bool
        The layer's input is already in the ifmap buffer / its output stays on chip (no DRAM traffic for
        them).

    Raises
    ------
    ConfigError
        If a buffer cannot hold one tile.
    """
    m, n, k, g = problem.m, problem.n, problem.k, problem.groups
    R, C, df = config.rows, config.cols, config.dataflow
    f = folding(m, n, k, R, C, df)
    t_cycles = f.t * cycles_per_mac
    fold_cycles = (
        serial_fold_cycles(f, t_cycles) if scalesim_compatible else pipelined_fold_cycles(f, t_cycles)
    )

    in_b, w_b, out_b, acc_b = (
        formats.inputs.bits,
        formats.weights.bits,
        formats.outputs.bits,
        formats.accumulator.bits,
    )
    ifmap_total = problem.input_elements * in_b
    filter_total = problem.weight_elements * w_b
    # im2col duplicates are not re-read from DRAM: a tile of e im2col entries costs e * distinct / entries
    in_num, in_den = problem.input_elements, m * k

    def ifmap_bits(entries: int) -> int:
        return _cdiv(entries * in_b * in_num, in_den)

    ifmap_resident = input_on_chip or ifmap_total <= config.ifmap.capacity_bits
    filter_resident = filter_total <= config.filter.capacity_bits

    rows_sizes = [min(R, f.sr - i * R) for i in range(f.fr)]
    cols_sizes = [min(C, f.sc - j * C) for j in range(f.fc)]

    steps_c: list[int] = []
    steps_r: list[int] = []
    steps_w: list[int] = []
    dram = {"ifmap": 0, "filter": 0, "ofmap": 0, "psum_write": 0, "psum_read": 0}
    fetched: dict[str, set] = {"ifmap": set(), "filter": set()}
    last_tile: dict[str, object] = {"ifmap": None, "filter": None}

    # per dataflow: (operand, tile id, elements, streamed?, edge elements per T step) for the two inputs
    def operands(i: int, j: int):
        r, c = rows_sizes[i], cols_sizes[j]
        if df is Dataflow.OS:
            return (("ifmap", i, r * k, True, r), ("filter", j, k * c, True, c))
        if df is Dataflow.WS:
            return (("filter", (i, j), r * c, False, r * c), ("ifmap", i, m * r, True, r))
        return (("ifmap", (i, j), r * c, False, r * c), ("filter", i, r * n, True, r))

    bits_of = {"ifmap": ifmap_bits, "filter": lambda e: e * w_b}
    resident = {"ifmap": ifmap_resident, "filter": filter_resident}

    # output tiles: os writes finished outputs per fold; ws/is accumulate psums over the (inner) row folds
    psum_on_chip = True
    if df is not Dataflow.OS:
        biggest = (m * min(C, f.sc)) if df is Dataflow.WS else (min(C, f.sc) * n)
        psum_on_chip = f.fr == 1 or biggest * acc_b <= config.ofmap.active_bits
        _check_fit(min(C, f.sc) * acc_b, "ofmap", config, f"one row of {min(C, f.sc)} partial sums", layer)
    else:
        _check_fit(
            min(R, f.sr) * min(C, f.sc) * out_b,
            "ofmap",
            config,
            f"an output tile of {min(R, f.sr)}x{min(C, f.sc)} outputs",
            layer,
        )

    for _group in range(g):
        fetched = {"ifmap": set(), "filter": set()}
        last_tile = {"ifmap": None, "filter": None}
        idx = 0
        for j in range(f.fc):
            for i in range(f.fr):
                reads = 0
                stream_bits = 0
                chunks = 1
                for name, tile, elems, streamed, edge in operands(i, j):
                    bits = bits_of[name](elems)
                    buf = getattr(config, name)
                    if name == "ifmap" and input_on_chip:
                        continue
                    if not streamed:
                        _check_fit(bits, name, config, f"a stationary {name} tile of {elems} elements", layer)
                    chunked = False
                    if streamed and not resident[name] and bits > buf.active_bits:
                        _check_fit(
                            bits_of[name](edge), name, config, f"one {name} vector of {edge} elements", layer
                        )
                        chunked = True
                        chunks = max(chunks, _cdiv(bits, buf.active_bits))
                    if resident[name]:
                        need = tile not in fetched[name]
                        fetched[name].add(tile)
                    else:
                        need = chunked or tile != last_tile[name]
                    last_tile[name] = None if chunked else tile
                    if need:
                        reads += bits
                        dram[name] += bits
                        if streamed:
                            stream_bits += bits
                r, c = rows_sizes[i], cols_sizes[j]
                writes = 0
                psum_reads = 0
                if df is Dataflow.OS:
                    out_elems = r * c
                    if not output_on_chip:
                        writes = out_elems * out_b
                        dram["ofmap"] += writes
                else:
                    out_elems = (m * c) if df is Dataflow.WS else (c * n)
                    last_row_fold = i == f.fr - 1
                    if last_row_fold:
                        if not output_on_chip:
                            writes = out_elems * out_b
                            dram["ofmap"] += writes
                    elif not psum_on_chip:
                        writes = out_elems * acc_b
                        dram["psum_write"] += writes
                    if i > 0 and not psum_on_chip:
                        psum_reads = out_elems * acc_b
                        dram["psum_read"] += psum_reads
                        reads += psum_reads
                cyc = int(fold_cycles[idx])
                idx += 1
                if chunks == 1:
                    steps_c.append(cyc)
                    steps_r.append(reads)
                    steps_w.append(writes)
                else:
                    base_c, rem_c = divmod(cyc, chunks)
                    base_s, rem_s = divmod(stream_bits, chunks)
                    for s in range(chunks):
                        steps_c.append(base_c + (rem_c if s == chunks - 1 else 0))
                        extra = (reads - stream_bits) if s == 0 else 0
                        steps_r.append(base_s + (rem_s if s == chunks - 1 else 0) + extra)
                        steps_w.append(writes if s == chunks - 1 else 0)

    # SRAM traffic at the array edge and at the DRAM side, in words of each tensor's format
    if scalesim_compatible:
        words = {k2: v * g for k2, v in scalesim_sram_words(m, n, k, R, C, df).items()}
        sram_bits = {
            "ifmap_reads": words["ifmap_reads"] * in_b,
            "filter_reads": words["filter_reads"] * w_b,
            "ofmap_writes": words["ofmap_writes"] * out_b,
            "ofmap_reads": 0,
        }
    else:
        if df is Dataflow.OS:
            ir, fr_, ow_acc, ow_out = m * k * f.fc, k * n * f.fr, 0, m * n
        elif df is Dataflow.WS:
            ir, fr_, ow_acc, ow_out = m * k * f.fc, k * n, m * n * (f.fr - 1), m * n
        else:
            ir, fr_, ow_acc, ow_out = m * k, k * n * f.fc, m * n * (f.fr - 1), m * n
        words = {
            "ifmap_reads": g * ir,
            "filter_reads": g * fr_,
            "ofmap_writes": g * (ow_acc + ow_out),
            "ofmap_reads": g * ow_acc,
        }
        sram_bits = {
            "ifmap_reads": g * ir * in_b,
            "filter_reads": g * fr_ * w_b,
            "ofmap_writes": g * (ow_acc * acc_b + ow_out * out_b),
            "ofmap_reads": g * ow_acc * acc_b,
        }
    # fills from DRAM are SRAM writes; drains to DRAM are SRAM reads
    sram_bits["ifmap_writes"] = dram["ifmap"]
    sram_bits["filter_writes"] = dram["filter"]
    sram_bits["ofmap_reads"] += dram["ofmap"] + dram["psum_write"]
    sram_bits["ofmap_writes"] += dram["psum_read"]

    compulsory = {
        "ifmap": 0 if input_on_chip else g * ifmap_total,
        "filter": g * filter_total,
        "ofmap": 0 if output_on_chip else g * problem.output_elements * out_b,
    }
    util = (
        scalesim_compute_util(f)
        if scalesim_compatible
        else f.mapping_efficiency * f.t * f.folds / max(1, int(fold_cycles.sum()))
    )
    return Schedule(
        compute_cycles=np.asarray(steps_c, dtype=np.int64),
        read_bits=np.asarray(steps_r, dtype=np.int64),
        write_bits=np.asarray(steps_w, dtype=np.int64),
        folds=f.folds * g,
        dram_bits=dram,
        compulsory_bits=compulsory,
        sram_bits=sram_bits,
        sram_words=words,
        mapping_efficiency=f.mapping_efficiency,
        compute_util=min(1.0, util),
    )
