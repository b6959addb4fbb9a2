"""The vector / post-processing unit: the non-GEMM layers (pooling, elementwise, activations, LRN, softmax,
concat) as shapes, their operation counts, steps and energy.

A ``VectorShape`` is what such a layer asks of the unit: the elements of each input operand (the first
through the ifmap buffer, any further ones, such as the skip operand of a residual Add, through the filter
buffer), the output elements (through the ofmap buffer) and the window each output reduces (a pooling kernel,
an LRN neighbourhood, a softmax row). ``OP_COUNTS`` says, per op, how many multiplies, wide adds and
comparisons one output costs; each of the ``lanes`` has one multiplier (element x element), one adder (at the
accumulator's width) and one comparator (element width), priced by the datapath of ``vector.inputs`` x
``vector.inputs`` -> ``vector.accumulator`` (``ristretto_sim.emulator.datapaths``) and the technology table.

Cycles: ``ceil(max(input elements, outputs x the busiest unit's operations per output) / lanes)`` plus the
pipeline depth. Steps: the operands are cut into as many equal steps as the fullest buffer half needs, so
the SimPy model (``engine.run_layer``) overlaps their reads, computation and writes as for a GEMM layer.

A layer fused into its producer (``VectorConfig.fuse``, an op with ``VectorOp.fusable``, the input the previous
GEMM layer's output and its only consumer) moves nothing itself: the op runs on the producer's outputs as they
leave the array, the producer writes the fused chain's output in place of its own (``simulate.fused_output``),
and only the cycles beyond the producer's compute (and the pipeline) are charged to the fused layer.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ristretto_sim.emulator import LayerFormats
from ristretto_sim.emulator.datapaths import select
from ristretto_sim.errors import ConfigError
from ristretto_sim.formats.base import check_int
from ristretto_sim.hw.config import AcceleratorConfig, VectorConfig
from ristretto_sim.hw.energy import unit_pj, unit_um2
from ristretto_sim.hw.enums import VectorOp


@dataclass(frozen=True)
class VectorShape:
    """A non-GEMM layer as the vector unit sees it (module docstring).

    Parameters
    ----------
    name : str
    op : VectorOp or str
    inputs : tuple of int
        Elements of each input operand (over the batch).
    outputs : int
        Output elements (over the batch).
    window : int
        Input elements each output reduces (pooling kernel area, LRN size, softmax row length; 1 otherwise).
    sources : tuple of str
        The layers producing each input ("" for a network input), for fusion and on-chip reuse.
    fusable : bool
        The first input is the previous layer's output and this layer is its only consumer.
    """

    name: str
    op: VectorOp
    inputs: tuple[int, ...]
    outputs: int
    window: int = 1
    sources: tuple[str, ...] = ()
    fusable: bool = False

    def __post_init__(self):
        if not isinstance(self.name, str) or not self.name:
            raise TypeError(f"name={self.name!r} must be a non-empty string")
        object.__setattr__(self, "op", VectorOp.coerce(self.op, "op"))
        inputs = tuple(check_int(v, "inputs", minimum=1) for v in self.inputs)
        if not inputs:
            raise ValueError(f"layer {self.name!r}: inputs=() must list at least one operand")
        object.__setattr__(self, "inputs", inputs)
        object.__setattr__(self, "outputs", check_int(self.outputs, "outputs", minimum=1))
        object.__setattr__(self, "window", check_int(self.window, "window", minimum=1))
        object.__setattr__(self, "sources", tuple(str(s) for s in self.sources))
        if not isinstance(self.fusable, bool):
            raise TypeError(f"fusable={self.fusable!r} must be True or False")


@dataclass(frozen=True)
class OpCounts:
    """Multiplies, wide adds and comparisons one output element costs."""

    mul: float = 0.0
    add: float = 0.0
    cmp: float = 0.0

    @property
    def busiest(self) -> float:
        return max(self.mul, self.add, self.cmp)


def _softmax(w: int) -> OpCounts:
    # max search (cmp), x - max (add), exp by a piecewise-linear table (mul + add), running sum (add), one
    # reciprocal per row by two Newton steps (4 mul, shared by the w outputs), the normalising multiply
    return OpCounts(mul=2 + 4 / w, add=3, cmp=1)


#: op -> operations per output for a window of w input elements (module docstring); assumptions of this model
OP_COUNTS = {
    VectorOp.RELU: lambda w: OpCounts(cmp=1),
    VectorOp.LEAKY_RELU: lambda w: OpCounts(mul=1, cmp=1),
    VectorOp.PRELU: lambda w: OpCounts(mul=1, cmp=1),
    VectorOp.CLIP: lambda w: OpCounts(cmp=2),
    # piecewise-linear sigmoid / tanh: segment search (2 cmp), slope multiply, offset add
    VectorOp.SIGMOID: lambda w: OpCounts(mul=1, add=1, cmp=2),
    VectorOp.TANH: lambda w: OpCounts(mul=1, add=1, cmp=2),
    VectorOp.SCALE: lambda w: OpCounts(mul=1, add=1),
    VectorOp.MAX_POOL: lambda w: OpCounts(cmp=w - 1),
    # sum of the window, then one multiply by the reciprocal of its size (a constant)
    VectorOp.AVG_POOL: lambda w: OpCounts(mul=1, add=w - 1),
    VectorOp.ADD: lambda w: OpCounts(add=1),
    VectorOp.SUB: lambda w: OpCounts(add=1),
    VectorOp.MUL: lambda w: OpCounts(mul=1),
    VectorOp.DIV: lambda w: OpCounts(mul=3),  # reciprocal by one Newton step (2 mul) and the multiply
    VectorOp.MAX: lambda w: OpCounts(cmp=1),
    # w squares, their sum, scale by alpha/size, (k + .)^-beta by a table and a multiply, the final product
    VectorOp.LRN: lambda w: OpCounts(mul=w + 3, add=w),
    VectorOp.SOFTMAX: _softmax,
    VectorOp.CONCAT: lambda w: OpCounts(),
    VectorOp.PAD: lambda w: OpCounts(),
    VectorOp.TRANSPOSE: lambda w: OpCounts(),
}


def op_counts(shape: VectorShape) -> OpCounts:
    return OP_COUNTS[shape.op](shape.window)


def lane_units(vector: VectorConfig):
    """The multiplier and adder of one lane (the datapath of ``inputs x inputs -> accumulator``) and the
    comparator width (the element format's bits)."""
    try:
        dp = select(LayerFormats(vector.inputs, vector.inputs, accumulator=vector.accumulator))
    except ValueError as exc:
        raise ConfigError(f"vector: {exc}") from None
    units = dp.units(1)
    mul = next(u for u in units if u.op.endswith("_mul") or u.op == "shift")
    add = next(u for u in units if u.op.endswith("_add"))
    return mul, add, vector.inputs.bits


def compute_cycles(shape: VectorShape, vector: VectorConfig) -> int:
    """Cycles of the layer on the unit, without the pipeline depth (module docstring)."""
    work = max(sum(shape.inputs), math.ceil(shape.outputs * op_counts(shape).busiest))
    return -(-work // vector.lanes)


@dataclass(frozen=True)
class VectorSchedule:
    """The steps of a vector layer (``mapping.Schedule``'s step arrays) and its traffic in bits."""

    compute_cycles: np.ndarray
    read_bits: np.ndarray
    write_bits: np.ndarray
    dram_bits: dict[str, int]
    compulsory_bits: dict[str, int]
    sram_bits: dict[str, int]


def _split(total: int, steps: int) -> np.ndarray:
    """``total`` in ``steps`` near-equal integer parts (the remainder on the last)."""
    parts = np.full(steps, total // steps, dtype=np.int64)
    parts[-1] += total - parts.sum()
    return parts


def vector_schedule(
    shape: VectorShape,
    config: AcceleratorConfig,
    elem_bits: int,
    *,
    inputs_on_chip: tuple[bool, ...],
    output_on_chip: bool,
    extra_cycles: int | None = None,
) -> VectorSchedule:
    """The steps of ``shape`` on the vector unit: operand ``i``'s bits read unless ``inputs_on_chip[i]``, the
    output written unless ``output_on_chip``; ``extra_cycles`` replaces the compute cycles (a fused layer's
    cycles beyond its producer's)."""
    vec = config.vector
    in_bits = [n * elem_bits for n in shape.inputs]
    out_bits = shape.outputs * elem_bits
    first, rest = in_bits[0], sum(in_bits[1:])
    cycles = compute_cycles(shape, vec) if extra_cycles is None else extra_cycles
    steps = max(
        1,
        -(-first // config.ifmap.active_bits),
        -(-rest // config.filter.active_bits) if rest else 1,
        -(-out_bits // config.ofmap.active_bits),
    )
    steps = min(steps, max(1, cycles))  # never a step without work
    read_ifmap = 0 if inputs_on_chip[0] else first
    read_other = sum(b for b, on in zip(in_bits[1:], inputs_on_chip[1:], strict=True) if not on)
    write = 0 if output_on_chip else out_bits
    comp = _split(cycles, steps)
    comp[0] += vec.pipeline_cycles
    dram = {"ifmap": read_ifmap, "operands": read_other, "ofmap": write}
    compulsory = dict(dram)
    # the lanes read every operand from SRAM and write the output there; DRAM fills are SRAM writes, drains reads
    sram = {
        "ifmap_reads": first,
        "ifmap_writes": read_ifmap,
        "filter_reads": rest,
        "filter_writes": read_other,
        "ofmap_writes": out_bits,
        "ofmap_reads": write,
    }
    return VectorSchedule(
        compute_cycles=comp,
        read_bits=_split(read_ifmap + read_other, steps),
        write_bits=_split(write, steps),
        dram_bits=dram,
        compulsory_bits=compulsory,
        sram_bits=sram,
    )


def vector_energy_pj(shape: VectorShape, vector: VectorConfig, table) -> float:
    """Arithmetic energy of the layer: its multiplies, adds and comparisons (``OP_COUNTS``) priced by the table,
    plus one pipeline register write of each input element."""
    mul, add, cmp_bits = lane_units(vector)
    c = op_counts(shape)
    per_output = c.mul * unit_pj(table, mul) + c.add * unit_pj(table, add) + c.cmp * table.int_add_pj(cmp_bits)
    regs = sum(shape.inputs) * vector.inputs.bits * table.reg_pj_per_bit
    return shape.outputs * per_output + regs


def vector_area_um2(vector: VectorConfig, table) -> float:
    """Area of the unit: ``lanes`` x (multiplier + adder + comparator + an element and an accumulator register
    per pipeline stage)."""
    mul, add, cmp_bits = lane_units(vector)
    regs = max(1, vector.pipeline_cycles) * (vector.inputs.bits + vector.accumulator.bits) * table.reg_um2_per_bit
    lane = unit_um2(table, mul) + unit_um2(table, add) + table.int_add_um2(cmp_bits) + regs
    return vector.lanes * lane
