"""Pure mapping of a layer onto a systolic array: operand matrices, folds, compute cycles, tile traffic.

Everything here is arithmetic on shapes, with no simulation. A layer is ``groups`` GEMMs (M x K) @ (K x N);
the dataflow decides which matrix dimension runs along the array rows (Sr), which along the columns (Sc) and
which is streamed in time (T), as SCALE-Sim does (``reference/systolic-timing.md`` §5.2):

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
densely: two 4-bit weights per byte; partial sums cross the ofmap SRAM at accumulator width) and the buffers:

* an operand that fits its whole buffer is fetched once; otherwise a tile is refetched for every fold that
  uses it, unless the previous fold used the same tile;
* a streamed tile larger than its buffer half is streamed in chunks (the fold becomes several steps);
* ws/is partial sums stay in the ofmap buffer: when a column fold's partial sums do not fit its half, the
  streamed dimension is cut into chunks that do, and each chunk runs all row folds (walk: column fold,
  chunk, row fold). ``scalesim_compatible`` keeps SCALE-Sim's walk and, like SCALE-Sim, writes every partial
  sum to DRAM;
* im2col duplicates are not refetched: a tile of e im2col entries costs e x distinct inputs / entries, rounded
  once over the whole fetch sequence (a full pass is exactly the input tensor). Halo overlap between tiles is
  thereby averaged, not modelled per tile.

Consecutive folds overlap by default (``pipelined_fold_cycles``); with ``scalesim_compatible`` they run
serially with SCALE-Sim's lengths (``serial_fold_cycles``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ristretto_sim.emulator import LayerFormats
from ristretto_sim.errors import ConfigError
from ristretto_sim.hw.config import AcceleratorConfig
from ristretto_sim.hw.enums import Dataflow
from ristretto_sim.hw.layers import GemmProblem


def cdiv(a: int, b: int) -> int:
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
        return cdiv(self.sr, self.rows)

    @property
    def fc(self) -> int:
        return cdiv(self.sc, self.cols)

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
    return _pipelined(np.full(f.folds, t, dtype=np.int64), f.rows, f.cols, f.dataflow)


def _pipelined(t: np.ndarray, rows: int, cols: int, dataflow: Dataflow) -> np.ndarray:
    """``pipelined_fold_cycles`` for folds of (possibly) different stream lengths ``t``."""
    cycles = np.maximum(t, rows).astype(np.int64)
    cycles[-1] = t[-1] + rows + cols - 2
    if dataflow is not Dataflow.OS:
        cycles[0] += rows
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
            f"{layer!r} needs {cdiv(bits, 8)} bytes, the buffer offers {buf.active_bits // 8}{half}"
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
    in_b, w_b, out_b, acc_b = (
        formats.inputs.bits,
        formats.weights.bits,
        formats.outputs.bits,
        formats.accumulator.bits,
    )
    # ws/is (our model, not SCALE-Sim's): when a column fold's partial sums do not fit the ofmap buffer half,
    # the streamed dimension is cut into chunks whose partial sums do; the walk becomes column fold, chunk,
    # row fold, and the stationary tiles are loaded once per chunk
    t_chunk = f.t
    if not scalesim_compatible and df is not Dataflow.OS and f.fr > 1:
        row_bits = min(C, f.sc) * acc_b
        if f.t * row_bits > config.ofmap.active_bits:
            t_chunk = max(1, config.ofmap.active_bits // row_bits)
    nt = cdiv(f.t, t_chunk)
    ifmap_total = problem.input_elements * in_b
    filter_total = problem.weight_elements * w_b
    # im2col duplicates are not re-read from DRAM: a tile of e im2col entries costs e * distinct / entries
    in_num, in_den = problem.input_elements, m * k

    def bits_of(name: str, elems):
        if name == "ifmap":
            return -((-elems * in_b * in_num) // in_den)
        return elems * w_b

    resident = {
        "ifmap": input_on_chip or ifmap_total <= config.ifmap.capacity_bits,
        "filter": filter_total <= config.filter.capacity_bits,
    }
    F = f.fc * nt * f.fr
    J = np.repeat(np.arange(f.fc, dtype=np.int64), nt * f.fr)  # column folds outer
    Tt = np.tile(np.repeat(np.arange(nt, dtype=np.int64), f.fr), f.fc)  # chunks of the stream
    I = np.tile(np.arange(f.fr, dtype=np.int64), f.fc * nt)  # row folds inner
    rsz = np.minimum(R, f.sr - I * R)
    csz = np.minimum(C, f.sc - J * C)
    tsz = np.minimum(t_chunk, f.t - Tt * t_chunk)
    if scalesim_compatible:
        fold_cycles = serial_fold_cycles(f, f.t * cycles_per_mac)
    else:
        fold_cycles = _pipelined(tsz * cycles_per_mac, R, C, df)
    # (operand, tile id, elements per fold, streamed?, elements per time step)
    if df is Dataflow.OS:
        ops = (("ifmap", I, rsz * k, True, rsz), ("filter", J, k * csz, True, csz))
    elif df is Dataflow.WS:
        ops = (
            ("filter", I + f.fr * J, rsz * csz, False, None),
            ("ifmap", I + f.fr * Tt, tsz * rsz, True, rsz),
        )
    else:
        ops = (
            ("ifmap", I + f.fr * J, rsz * csz, False, None),
            ("filter", I + f.fr * Tt, rsz * tsz, True, rsz),
        )

    dram = {"ifmap": 0, "filter": 0, "ofmap": 0, "psum_write": 0, "psum_read": 0}
    chunks = np.ones(F, dtype=np.int64)
    stream_reads = np.zeros(F, dtype=np.int64)
    other_reads = np.zeros(F, dtype=np.int64)
    first = np.zeros(F, dtype=bool)
    first[0] = True
    for name, tile, elems, streamed, edge in ops:
        if name == "ifmap" and input_on_chip:
            continue
        buf = getattr(config, name)
        bits = bits_of(name, elems)
        if not streamed:
            _check_fit(
                int(bits.max()),
                name,
                config,
                f"a stationary {name} tile of {int(elems.max())} elements",
                layer,
            )
        chunked = np.zeros(F, dtype=bool)
        if streamed and not resident[name]:
            chunked = bits > buf.active_bits
            if chunked.any():
                _check_fit(int(bits_of(name, edge).max()), name, config, f"one {name} vector", layer)
                chunks = np.maximum(chunks, np.where(chunked, -(-bits // buf.active_bits), 1))
        if resident[name]:  # fetched at its first use only
            need = np.zeros(F, dtype=bool)
            need[np.unique(tile, return_index=True)[1]] = True
        else:
            changed = first.copy()
            changed[1:] |= tile[1:] != tile[:-1]
            prev_chunked = np.zeros(F, dtype=bool)
            prev_chunked[1:] = chunked[:-1]
            need = changed | chunked | prev_chunked
        if name == "ifmap":
            # distinct inputs, rounded once over the whole sequence of fetches (a full pass is exact)
            cum = np.cumsum(np.where(need, elems, 0)) * (in_b * in_num)
            cum = -((-cum) // in_den)
            moved = np.diff(cum, prepend=0)
        else:
            moved = np.where(need, bits, 0)
        dram[name] += int(moved.sum())
        if streamed:
            stream_reads += moved
        else:
            other_reads += moved

    # output tiles: os writes finished outputs per fold; ws/is accumulate psums over the (inner) row folds
    if df is Dataflow.OS:
        _check_fit(
            min(R, f.sr) * min(C, f.sc) * out_b,
            "ofmap",
            config,
            f"an output tile of {min(R, f.sr)}x{min(C, f.sc)} outputs",
            layer,
        )
        out_elems = rsz * csz
        writes = np.zeros(F, dtype=np.int64) if output_on_chip else out_elems * out_b
        dram["ofmap"] += int(writes.sum())
    else:
        _check_fit(min(C, f.sc) * acc_b, "ofmap", config, f"one row of {min(C, f.sc)} partial sums", layer)
        out_elems = tsz * csz
        biggest = int(out_elems.max())
        # SCALE-Sim sends every partial sum to DRAM and never reads one back (reference §5.4)
        psum_on_chip = not scalesim_compatible and (f.fr == 1 or biggest * acc_b <= config.ofmap.active_bits)
        last_row_fold = I == f.fr - 1
        final = np.where(last_row_fold, 0 if output_on_chip else out_elems * out_b, 0)
        spill = np.where(~last_row_fold, 0 if psum_on_chip else out_elems * acc_b, 0)
        back = np.where(I > 0, 0 if psum_on_chip or scalesim_compatible else out_elems * acc_b, 0)
        writes = final + spill
        dram["ofmap"] += int(final.sum())
        dram["psum_write"] += int(spill.sum())
        dram["psum_read"] += int(back.sum())
        other_reads = other_reads + back

    # split folds whose streamed tiles do not fit their buffer half into chunks along T
    if int(chunks.max()) == 1:
        steps_c, steps_r, steps_w = fold_cycles, stream_reads + other_reads, writes
    else:
        idx = np.repeat(np.arange(F), chunks)
        starts = np.cumsum(chunks) - chunks
        pos = np.arange(len(idx)) - starts[idx]
        ch = chunks[idx]
        is_first, is_last = pos == 0, pos == ch - 1
        steps_c = fold_cycles[idx] // ch + np.where(is_last, fold_cycles[idx] % ch, 0)
        steps_r = (
            stream_reads[idx] // ch
            + np.where(is_last, stream_reads[idx] % ch, 0)
            + np.where(is_first, other_reads[idx], 0)
        )
        steps_w = np.where(is_last, writes[idx], 0)
    if g > 1:
        steps_c, steps_r, steps_w = (np.tile(a, g) for a in (steps_c, steps_r, steps_w))
        dram = {key: v * g for key, v in dram.items()}

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
            ir, fr_, ow_acc, ow_out = m * k * f.fc, k * n * nt, m * n * (f.fr - 1), m * n
        else:
            ir, fr_, ow_acc, ow_out = m * k * nt, k * n * f.fc, m * n * (f.fr - 1), m * n
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
        folds=F * g,
        dram_bits=dram,
        compulsory_bits=compulsory,
        sram_bits=sram_bits,
        sram_words=words,
        mapping_efficiency=f.mapping_efficiency,
        compute_util=min(1.0, util),
    )
