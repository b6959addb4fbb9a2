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
* a step's streamed reads are cut into slices along T (K for os, M for ws, N for is), one vector per operand per
  time step (``Steps``), which the SimPy model lets the array consume as they arrive; its stationary tile and
  partial sums come first, whole. ``scalesim_compatible`` keeps whole tiles (SCALE-Sim prefetches a fold's tile
  before the fold);
* im2col duplicates are not refetched: a tile of e im2col entries costs e x distinct inputs / entries, rounded
  once over the whole fetch sequence (a full pass is exactly the input tensor). Halo overlap between tiles is
  thereby averaged, not modelled per tile.

Consecutive folds overlap by default (``pipelined_fold_cycles``); with ``scalesim_compatible`` they run
serially with SCALE-Sim's lengths (``serial_fold_cycles``).

``schedule`` is a sequence of named steps, methods of ``LayerMapping`` (the layer, its widths, the buffers and
the options): the walk of the folds (``Walk``), their compute cycles, each input operand's tiles and DRAM
fetches (``OperandTiles``, ``Fetch``), the outputs and partial sums (``Outputs``), the folds cut into steps
(``Steps``) and the SRAM traffic.
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
    (SRAM -> DRAM), ``stream_bits`` (the part of ``read_bits`` the array consumes in ``slices`` slices as it
    arrives, ``Steps``). Totals are per operand, in bits, over all groups.
    """

    compute_cycles: np.ndarray
    read_bits: np.ndarray
    write_bits: np.ndarray
    stream_bits: np.ndarray
    slices: np.ndarray
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



@dataclass(frozen=True)
class Walk:
    """The folds of one group in walk order: column fold outer, chunk of the streamed dimension, row fold inner.

    Attributes
    ----------
    folding : Folding
    t_chunk : int
        Length of a chunk of the streamed dimension (``folding.t`` when it is not cut).
    col, chunk, row : np.ndarray
        Each fold's column fold, stream chunk and row fold.
    rows_used, cols_used, t_len : np.ndarray
        The array rows and columns each fold occupies and the stream length it runs (the last fold along an
        axis may be partial).
    """

    folding: Folding
    t_chunk: int
    col: np.ndarray
    chunk: np.ndarray
    row: np.ndarray
    rows_used: np.ndarray
    cols_used: np.ndarray
    t_len: np.ndarray

    @classmethod
    def of(cls, f: Folding, t_chunk: int) -> Walk:
        """The walk of ``f`` with the streamed dimension cut into chunks of ``t_chunk``."""
        nt = cdiv(f.t, t_chunk)
        col = np.repeat(np.arange(f.fc, dtype=np.int64), nt * f.fr)
        chunk = np.tile(np.repeat(np.arange(nt, dtype=np.int64), f.fr), f.fc)
        row = np.tile(np.arange(f.fr, dtype=np.int64), f.fc * nt)
        return cls(
            f,
            t_chunk,
            col,
            chunk,
            row,
            rows_used=np.minimum(f.rows, f.sr - row * f.rows),
            cols_used=np.minimum(f.cols, f.sc - col * f.cols),
            t_len=np.minimum(t_chunk, f.t - chunk * t_chunk),
        )

    @property
    def chunks(self) -> int:
        """Chunks of the streamed dimension."""
        return cdiv(self.folding.t, self.t_chunk)

    @property
    def size(self) -> int:
        """Folds in the walk (``fc * chunks * fr``)."""
        return len(self.row)


@dataclass(frozen=True)
class OperandTiles:
    """One input operand's tile in every fold of a walk.

    ``tile`` identifies the data a fold uses (equal ids, the same tile) and ``elems`` counts its elements. A
    ``streamed`` operand flows through the array along T, ``edge`` elements per time step (one vector); a
    stationary one is held in the array and has no ``edge``.
    """

    name: str
    tile: np.ndarray
    elems: np.ndarray
    streamed: bool
    edge: np.ndarray | None = None


def _os_tiles(w: Walk, k: int) -> tuple[OperandTiles, ...]:
    """os: input rows (one per row fold) and filter columns (one per column fold) both stream along K."""
    return (
        OperandTiles("ifmap", w.row, w.rows_used * k, True, w.rows_used),
        OperandTiles("filter", w.col, k * w.cols_used, True, w.cols_used),
    )


def _ws_tiles(w: Walk, k: int) -> tuple[OperandTiles, ...]:
    """ws: a filter tile per (row fold, column fold) is held; an input tile per (row fold, chunk) streams."""
    fr = w.folding.fr
    return (
        OperandTiles("filter", w.row + fr * w.col, w.rows_used * w.cols_used, False),
        OperandTiles("ifmap", w.row + fr * w.chunk, w.t_len * w.rows_used, True, w.rows_used),
    )


def _is_tiles(w: Walk, k: int) -> tuple[OperandTiles, ...]:
    """is: an input tile per (row fold, column fold) is held; a filter tile per (row fold, chunk) streams."""
    fr = w.folding.fr
    return (
        OperandTiles("ifmap", w.row + fr * w.col, w.rows_used * w.cols_used, False),
        OperandTiles("filter", w.row + fr * w.chunk, w.rows_used * w.t_len, True, w.rows_used),
    )


#: dataflow -> the input operands' tiles of a walk, in the order they are fetched
_OPERAND_TILES = {Dataflow.OS: _os_tiles, Dataflow.WS: _ws_tiles, Dataflow.IS: _is_tiles}


@dataclass(frozen=True)
class Fetch:
    """One operand's DRAM reads over a walk: ``bits`` read for each fold, and the ``chunks`` each fold's
    streamed tile is cut into so that a chunk fits its buffer half (1: not cut)."""

    name: str
    streamed: bool
    bits: np.ndarray
    chunks: np.ndarray


@dataclass(frozen=True)
class Outputs:
    """The output side of a walk: bits written to DRAM after each fold (finished outputs and spilled partial
    sums), partial-sum bits read back before each fold, and the DRAM totals of each kind."""

    writes: np.ndarray
    reads: np.ndarray
    ofmap_bits: int
    psum_write_bits: int
    psum_read_bits: int


def first_uses(tile: np.ndarray) -> np.ndarray:
    """The folds that fetch a resident operand: the first use of each tile id (it stays on chip after)."""
    need = np.zeros(len(tile), dtype=bool)
    need[np.unique(tile, return_index=True)[1]] = True
    return need


def refetches(tile: np.ndarray, chunked: np.ndarray) -> np.ndarray:
    """The folds that fetch an operand too large to stay on chip: those whose tile differs from the previous
    fold's, every ``chunked`` fold, and the fold after one (a chunked tile never sits whole in its buffer
    half, so neither a repeat of it nor the next fold can reuse what is there)."""
    changed = np.zeros(len(tile), dtype=bool)
    changed[0] = True
    changed[1:] |= tile[1:] != tile[:-1]
    prev_chunked = np.zeros(len(tile), dtype=bool)
    prev_chunked[1:] = chunked[:-1]
    return changed | chunked | prev_chunked


def dram_totals(fetches, outputs: Outputs) -> dict[str, int]:
    """Bits of one group crossing DRAM, per operand: ``ifmap``, ``filter``, ``ofmap``, ``psum_write``,
    ``psum_read`` (an operand not fetched, the input already on chip, moves 0)."""
    dram = {"ifmap": 0, "filter": 0}
    for fetch in fetches:
        dram[fetch.name] += int(fetch.bits.sum())
    dram.update(ofmap=outputs.ofmap_bits, psum_write=outputs.psum_write_bits, psum_read=outputs.psum_read_bits)
    return dram


@dataclass(frozen=True)
class Steps:
    """The step arrays of a schedule: compute cycles, DRAM bits read before and written after each step, and
    how the reads stream in: ``stream_bits`` of each step's reads are its streamed operands, cut into
    ``slices`` slices along T (one vector per time step) that the array consumes as they arrive; the rest (stationary
    tiles, partial sums read back, biases) must be on chip before the step starts. ``slices`` of 1 and
    ``stream_bits`` of 0 mean the whole tile is read before the step (SCALE-Sim's tile-level prefetch)."""

    compute_cycles: np.ndarray
    read_bits: np.ndarray
    write_bits: np.ndarray
    stream_bits: np.ndarray
    slices: np.ndarray

    def __post_init__(self):
        if not len(self.compute_cycles) == len(self.read_bits) == len(self.write_bits) == len(self.stream_bits) \
                == len(self.slices):
            raise ValueError("Steps arrays must have one entry per step")
        if (np.asarray(self.stream_bits) > np.asarray(self.read_bits)).any() or (np.asarray(self.slices) < 1).any():
            raise ValueError("Steps: stream_bits must be part of read_bits and slices >= 1")

    @classmethod
    def of_folds(cls, fold_cycles: np.ndarray, fetches, outputs: Outputs, slices: np.ndarray | None = None) -> Steps:
        """The steps of a walk: each fold cut into as many chunks as its most-chunked streamed tile needs.

        A fold's compute cycles and streamed reads are shared out evenly over its chunks (remainders on the
        last), its stationary and partial-sum reads come before the first chunk, its writes after the last.
        ``slices`` (per fold: the vectors its streamed operands send along T) shares out the same way; without
        it a step's streamed reads are not sliced (the whole tile is read before the step).
        """
        n = len(fold_cycles)
        chunks = np.ones(n, dtype=np.int64)
        stream_reads = np.zeros(n, dtype=np.int64)
        other_reads = np.zeros(n, dtype=np.int64)
        for fetch in fetches:
            if fetch.streamed:
                stream_reads += fetch.bits
                chunks = np.maximum(chunks, fetch.chunks)
            else:
                other_reads += fetch.bits
        other_reads = other_reads + outputs.reads
        sliced = slices is not None
        slices = np.ones(n, dtype=np.int64) if slices is None else np.asarray(slices, dtype=np.int64)
        if int(chunks.max()) == 1:  # no fold is cut: the folds are the steps (the common case, kept fast)
            stream = stream_reads if sliced else np.zeros(n, dtype=np.int64)
            return cls(fold_cycles, stream_reads + other_reads, outputs.writes, stream, slices)
        idx = np.repeat(np.arange(n), chunks)
        ch = chunks[idx]
        pos = np.arange(len(idx)) - (np.cumsum(chunks) - chunks)[idx]
        is_first, is_last = pos == 0, pos == ch - 1
        stream = stream_reads[idx] // ch + np.where(is_last, stream_reads[idx] % ch, 0)
        return cls(
            compute_cycles=fold_cycles[idx] // ch + np.where(is_last, fold_cycles[idx] % ch, 0),
            read_bits=stream + np.where(is_first, other_reads[idx], 0),
            write_bits=np.where(is_last, outputs.writes[idx], 0),
            stream_bits=stream if sliced else np.zeros(len(idx), dtype=np.int64),
            slices=np.maximum(1, slices[idx] // ch + np.where(is_last, slices[idx] % ch, 0)),
        )

    def repeated(self, groups: int) -> Steps:
        """The steps of ``groups`` GEMMs run one after another."""
        if groups == 1:
            return self
        arrays = (self.compute_cycles, self.read_bits, self.write_bits, self.stream_bits, self.slices)
        return Steps(*(np.tile(a, groups) for a in arrays))


def _os_edge(m: int, n: int, k: int, f: Folding, nt: int) -> tuple[int, int, int, int]:
    """os: inputs cross the edge once per column fold, weights once per row fold; outputs leave finished."""
    return m * k * f.fc, k * n * f.fr, 0, m * n


def _ws_edge(m: int, n: int, k: int, f: Folding, nt: int) -> tuple[int, int, int, int]:
    """ws: inputs once per column fold, weights once per stream chunk; each row fold but the last writes
    partial sums."""
    return m * k * f.fc, k * n * nt, m * n * (f.fr - 1), m * n


def _is_edge(m: int, n: int, k: int, f: Folding, nt: int) -> tuple[int, int, int, int]:
    """is: inputs once per stream chunk, weights once per column fold; each row fold but the last writes
    partial sums."""
    return m * k * nt, k * n * f.fc, m * n * (f.fr - 1), m * n


#: dataflow -> elements of one group at the array edge: (input reads, weight reads, partial-sum writes (each
#: also read back), output writes)
_EDGE_ELEMENTS = {Dataflow.OS: _os_edge, Dataflow.WS: _ws_edge, Dataflow.IS: _is_edge}


@dataclass(frozen=True)
class LayerMapping:
    """One layer on one accelerator: what the steps of ``schedule`` read (the GEMM, its folding, the tensors'
    element widths in bits, the buffers and ``schedule``'s options), with each step a method."""

    problem: GemmProblem
    config: AcceleratorConfig
    folding: Folding
    in_bits: int
    w_bits: int
    out_bits: int
    acc_bits: int
    layer: str = "layer"
    cycles_per_mac: int = 1
    scalesim_compatible: bool = False
    input_on_chip: bool = False
    output_on_chip: bool = False

    @classmethod
    def of(cls, problem: GemmProblem, formats: LayerFormats, config: AcceleratorConfig, **options) -> LayerMapping:
        """The mapping of ``problem`` in ``formats`` on ``config``; ``options`` are ``schedule``'s keywords."""
        f = folding(problem.m, problem.n, problem.k, config.rows, config.cols, config.dataflow)
        widths = (formats.inputs.bits, formats.weights.bits, formats.outputs.bits, formats.accumulator.bits)
        return cls(problem, config, f, *widths, **options)

    def check_fit(self, bits: int, buffer_name: str, what: str) -> None:
        """``ConfigError`` naming the buffer and the layer if ``bits`` exceed the buffer's active part."""
        buf = getattr(self.config, buffer_name)
        if bits > buf.active_bits:
            half = " (half of it, double-buffered)" if buf.double_buffered else ""
            raise ConfigError(
                f"{buffer_name}.capacity_bytes={buf.capacity_bytes} is too small for one tile: {what} of layer "
                f"{self.layer!r} needs {cdiv(bits, 8)} bytes, the buffer offers {buf.active_bits // 8}{half}"
            )

    def tensor_bits(self, name: str, elems):
        """Bits of ``elems`` elements of operand ``name`` in DRAM: weights pack densely; im2col duplicates are
        not re-read, so ``e`` im2col entries cost ``ceil(e * bits * distinct inputs / (M * K))``."""
        if name == "ifmap":
            p = self.problem
            return -((-elems * self.in_bits * p.input_elements) // (p.m * p.k))
        return elems * self.w_bits

    def resident(self, name: str) -> bool:
        """Whether operand ``name`` is fetched once: it fits its whole buffer (or is the input, already there)."""
        if name == "ifmap":
            return self.input_on_chip or self.problem.input_elements * self.in_bits <= self.config.ifmap.capacity_bits
        return self.problem.weight_elements * self.w_bits <= self.config.filter.capacity_bits

    def stream_chunk(self) -> int:
        """The chunk length of the streamed dimension: T, unless ws/is partial sums of a column fold (with more
        than one row fold) overflow the ofmap buffer half; then the most time steps whose partial sums fit.
        Our model, not SCALE-Sim's: each chunk runs all row folds and reloads the stationary tiles."""
        f, ofmap = self.folding, self.config.ofmap
        if self.scalesim_compatible or f.dataflow is Dataflow.OS or f.fr == 1:
            return f.t
        row_bits = min(f.cols, f.sc) * self.acc_bits
        if f.t * row_bits > ofmap.active_bits:
            return max(1, ofmap.active_bits // row_bits)
        return f.t

    def walk(self) -> Walk:
        """The folds of one group in walk order (``Walk``)."""
        return Walk.of(self.folding, self.stream_chunk())

    def fold_cycles(self, walk: Walk) -> np.ndarray:
        """Compute cycles of each fold, T stretched by ``cycles_per_mac``: SCALE-Sim's serial fold lengths, or
        pipelined folds of the walk's stream lengths."""
        if self.scalesim_compatible:
            return serial_fold_cycles(self.folding, self.folding.t * self.cycles_per_mac)
        return _pipelined(walk.t_len * self.cycles_per_mac, self.folding.rows, self.folding.cols, self.folding.dataflow)

    def operand_tiles(self, walk: Walk) -> tuple[OperandTiles, ...]:
        """The input operands' tiles in fetch order, without the layer's input when it is already on chip."""
        tiles = _OPERAND_TILES[self.folding.dataflow](walk, self.problem.k)
        return tuple(t for t in tiles if not (t.name == "ifmap" and self.input_on_chip))

    def stream_chunks(self, tiles: OperandTiles, bits: np.ndarray) -> np.ndarray:
        """How many chunks each fold's streamed tile of ``bits`` is cut into so that one fits its buffer half
        (1: it fits); ``ConfigError`` if not even one vector does."""
        active = getattr(self.config, tiles.name).active_bits
        chunked = bits > active
        if chunked.any():
            self.check_fit(int(self.tensor_bits(tiles.name, tiles.edge).max()), tiles.name, f"one {tiles.name} vector")
        return np.where(chunked, -(-bits // active), 1)

    def fetched_bits(self, tiles: OperandTiles, need: np.ndarray, bits: np.ndarray) -> np.ndarray:
        """Bits read for each fold that fetches (``need``) its tile: weights per tile; inputs as distinct inputs,
        rounded once over the whole sequence of fetches (a full pass costs exactly the input tensor)."""
        if tiles.name != "ifmap":
            return np.where(need, bits, 0)
        p = self.problem
        cum = np.cumsum(np.where(need, tiles.elems, 0)) * (self.in_bits * p.input_elements)
        return np.diff(-((-cum) // (p.m * p.k)), prepend=0)

    def fetch(self, tiles: OperandTiles) -> Fetch:
        """One operand's DRAM reads over the walk: a resident operand's tiles at their first use; otherwise a
        tile whenever it changes or is chunked (``refetches``); a streamed tile larger than its buffer half is
        cut into chunks. ``ConfigError`` if a stationary tile or one streamed vector does not fit."""
        bits = self.tensor_bits(tiles.name, tiles.elems)
        if not tiles.streamed:
            self.check_fit(
                int(bits.max()), tiles.name, f"a stationary {tiles.name} tile of {int(tiles.elems.max())} elements"
            )
        resident = self.resident(tiles.name)
        if tiles.streamed and not resident:
            chunks = self.stream_chunks(tiles, bits)
        else:
            chunks = np.ones(len(bits), dtype=np.int64)
        need = first_uses(tiles.tile) if resident else refetches(tiles.tile, chunks > 1)
        return Fetch(tiles.name, tiles.streamed, self.fetched_bits(tiles, need, bits), chunks)

    def finished_outputs(self, walk: Walk) -> Outputs:
        """os: every fold computes finished outputs, written to DRAM after it unless they stay on chip."""
        f = self.folding
        rows, cols = min(f.rows, f.sr), min(f.cols, f.sc)
        self.check_fit(rows * cols * self.out_bits, "ofmap", f"an output tile of {rows}x{cols} outputs")
        out_elems = walk.rows_used * walk.cols_used
        writes = np.zeros(walk.size, dtype=np.int64) if self.output_on_chip else out_elems * self.out_bits
        return Outputs(writes, np.zeros(walk.size, dtype=np.int64), int(writes.sum()), 0, 0)

    def accumulated_outputs(self, walk: Walk) -> Outputs:
        """ws/is: partial sums accumulate over the (inner) row folds and the last row fold writes the finished
        outputs. They stay in the ofmap buffer when a fold's fit its half (or there is one row fold); otherwise
        each row fold but the last spills them at accumulator width and each but the first reads them back.
        SCALE-Sim sends every partial sum to DRAM and never reads one back (reference §5.4)."""
        f, acc_b, ss = self.folding, self.acc_bits, self.scalesim_compatible
        cols = min(f.cols, f.sc)
        self.check_fit(cols * acc_b, "ofmap", f"one row of {cols} partial sums")
        out_elems = walk.t_len * walk.cols_used
        biggest = int(out_elems.max())
        psum_on_chip = not ss and (f.fr == 1 or biggest * acc_b <= self.config.ofmap.active_bits)
        last_row_fold = walk.row == f.fr - 1
        final = np.where(last_row_fold, 0 if self.output_on_chip else out_elems * self.out_bits, 0)
        spill = np.where(~last_row_fold, 0 if psum_on_chip else out_elems * acc_b, 0)
        back = np.where(walk.row > 0, 0 if psum_on_chip or ss else out_elems * acc_b, 0)
        return Outputs(final + spill, back, int(final.sum()), int(spill.sum()), int(back.sum()))

    def outputs(self, walk: Walk) -> Outputs:
        """The output side of the walk (``finished_outputs`` for os, ``accumulated_outputs`` for ws/is)."""
        if self.folding.dataflow is Dataflow.OS:
            return self.finished_outputs(walk)
        return self.accumulated_outputs(walk)

    def edge_traffic(self, walk: Walk) -> tuple[dict[str, int], dict[str, int]]:
        """SRAM traffic at the array edge over all groups, as (words, bits) per access kind: SCALE-Sim's counts,
        or ours from the walk (inputs and weights in their formats, partial sums at accumulator width)."""
        p, f = self.problem, self.folding
        m, n, k, g = p.m, p.n, p.k, p.groups
        if self.scalesim_compatible:
            words = {key: v * g for key, v in scalesim_sram_words(m, n, k, f.rows, f.cols, f.dataflow).items()}
            bits = {
                "ifmap_reads": words["ifmap_reads"] * self.in_bits,
                "filter_reads": words["filter_reads"] * self.w_bits,
                "ofmap_writes": words["ofmap_writes"] * self.out_bits,
                "ofmap_reads": 0,
            }
            return words, bits
        ir, fr_, ow_acc, ow_out = _EDGE_ELEMENTS[f.dataflow](m, n, k, f, walk.chunks)
        words = {
            "ifmap_reads": g * ir,
            "filter_reads": g * fr_,
            "ofmap_writes": g * (ow_acc + ow_out),
            "ofmap_reads": g * ow_acc,
        }
        bits = {
            "ifmap_reads": g * ir * self.in_bits,
            "filter_reads": g * fr_ * self.w_bits,
            "ofmap_writes": g * (ow_acc * self.acc_bits + ow_out * self.out_bits),
            "ofmap_reads": g * ow_acc * self.acc_bits,
        }
        return words, bits

    def sram_traffic(self, walk: Walk, dram: dict[str, int]) -> tuple[dict[str, int], dict[str, int]]:
        """SRAM words at the array edge and SRAM bits in total: the edge traffic plus the DRAM side (``dram``,
        over all groups): fills from DRAM are SRAM writes, drains to DRAM are SRAM reads."""
        words, bits = self.edge_traffic(walk)
        bits["ifmap_writes"] = dram["ifmap"]
        bits["filter_writes"] = dram["filter"]
        bits["ofmap_reads"] += dram["ofmap"] + dram["psum_write"]
        bits["ofmap_writes"] += dram["psum_read"]
        return words, bits

    def compulsory_bits(self) -> dict[str, int]:
        """Each tensor crossing DRAM once, over all groups (0 for an input or output kept on chip)."""
        p = self.problem
        return {
            "ifmap": 0 if self.input_on_chip else p.groups * p.input_elements * self.in_bits,
            "filter": p.groups * p.weight_elements * self.w_bits,
            "ofmap": 0 if self.output_on_chip else p.groups * p.output_elements * self.out_bits,
        }

    def compute_util(self, fold_cycles: np.ndarray) -> float:
        """Useful PE cycles per PE cycle while computing (at most 1): SCALE-Sim's Compute Util, or ours from the
        fold cycles."""
        f = self.folding
        if self.scalesim_compatible:
            util = scalesim_compute_util(f)
        else:
            util = f.mapping_efficiency * f.t * f.folds / max(1, int(fold_cycles.sum()))
        return min(1.0, util)


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
    mapping = LayerMapping.of(
        problem,
        formats,
        config,
        layer=layer,
        cycles_per_mac=cycles_per_mac,
        scalesim_compatible=scalesim_compatible,
        input_on_chip=input_on_chip,
        output_on_chip=output_on_chip,
    )
    walk = mapping.walk()
    fold_cycles = mapping.fold_cycles(walk)
    fetches = [mapping.fetch(tiles) for tiles in mapping.operand_tiles(walk)]
    outputs = mapping.outputs(walk)
    g = problem.groups
    slices = None if scalesim_compatible else walk.t_len  # SCALE-Sim prefetches whole tiles
    steps = Steps.of_folds(fold_cycles, fetches, outputs, slices).repeated(g)
    dram = {key: v * g for key, v in dram_totals(fetches, outputs).items()}
    words, sram_bits = mapping.sram_traffic(walk, dram)
    return Schedule(
        compute_cycles=np.asarray(steps.compute_cycles, dtype=np.int64),
        read_bits=np.asarray(steps.read_bits, dtype=np.int64),
        write_bits=np.asarray(steps.write_bits, dtype=np.int64),
        stream_bits=np.asarray(steps.stream_bits, dtype=np.int64),
        slices=np.asarray(steps.slices, dtype=np.int64),
        folds=walk.size * g,
        dram_bits=dram,
        compulsory_bits=mapping.compulsory_bits(),
        sram_bits=sram_bits,
        sram_words=words,
        mapping_efficiency=walk.folding.mapping_efficiency,
        compute_util=mapping.compute_util(fold_cycles),
    )
