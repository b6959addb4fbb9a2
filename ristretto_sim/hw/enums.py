"""The named modes of the accelerator model; each enum also accepts its value or name as a string."""

from __future__ import annotations

from ristretto_sim.emulator.datapaths.affine import ZeroPoint  # noqa: F401  (the affine PE's, re-exported)
from ristretto_sim.enums import NamedEnum


class Dataflow(NamedEnum):
    """What stays in the PEs: outputs (``os``), weights (``ws``) or inputs (``is``), as SCALE-Sim names
    them."""

    OS = "os"
    WS = "ws"
    IS = "is"


class PEKind(NamedEnum):
    """The arithmetic of a processing element, by the names of the emulator datapaths it is
    (``ristretto_sim.emulator.datapaths``)."""

    FIXED_MAC = "fixed_mac"  #: integer / fixed-point multiplier + adder
    MINIFLOAT = "minifloat"  #: minifloat multiplier + Kulisch register or float adder
    SHIFT = "shift"  #: power-of-two weights: barrel shifter + adder
    AFFINE = "affine"  #: TFLite int8: (code - zero point) multiplier + int32 adder; Q31 requantizer per output

    @property
    def datapaths(self) -> tuple[str, ...]:
        """The registered datapaths a PE of this kind is."""
        return _DATAPATHS[self]

    @property
    def operand_kinds(self) -> dict[str, tuple[str, ...]]:
        """The number kinds (``formats.format_kind``) each PE field may have, for messages that name the
        field."""
        return _OPERANDS[self]


class Precision(NamedEnum):
    """Bit-parallel PEs take a whole operand per cycle; bit-serial ones ``bits_per_cycle`` bits of one
    operand."""

    PARALLEL = "parallel"
    SERIAL = "serial"


class SerialOperand(NamedEnum):
    """Which operand a bit-serial PE consumes bit by bit (Stripes: activations; others: weights)."""

    INPUTS = "inputs"
    WEIGHTS = "weights"


class WritePolicy(NamedEnum):
    """When the DRAM channel serves a posted write: in issue order with the reads (``fifo``), or only when no
    read wants the channel, the reads first (``reads_first``: a memory controller's read priority with a write
    queue drained in idle time, as DRAMSim's and Ramulator's read-priority FR-FCFS schedulers and the write drain
    of Stuecheli et al., "The Virtual Write Queue", ISCA 2010); the writes go first once the ofmap's drain half
    is full."""

    FIFO = "fifo"
    READS_FIRST = "reads_first"


_DATAPATHS = {
    PEKind.FIXED_MAC: ("fixed",),
    PEKind.MINIFLOAT: ("minifloat-kulisch", "minifloat-float"),
    PEKind.SHIFT: ("shift",),
    PEKind.AFFINE: ("affine",),
}

_OPERANDS = {
    PEKind.FIXED_MAC: {"inputs": ("fixed",), "weights": ("fixed",), "accumulator": ("fixed",)},
    PEKind.MINIFLOAT: {"inputs": ("minifloat",), "weights": ("minifloat",), "accumulator": ("minifloat", "fixed")},
    PEKind.SHIFT: {"inputs": ("fixed",), "weights": ("pow2",), "accumulator": ("fixed",)},
    PEKind.AFFINE: {"inputs": ("affine",), "weights": ("affine",), "accumulator": ("fixed",)},
}


class VectorOp(NamedEnum):
    """What the vector / post-processing unit computes for a non-GEMM layer (``ristretto_sim.hw.vector``)."""

    RELU = "relu"
    LEAKY_RELU = "leaky_relu"
    CLIP = "clip"
    SIGMOID = "sigmoid"
    TANH = "tanh"
    PRELU = "prelu"
    SCALE = "scale"  #: per-channel multiply-add (batch normalisation, Caffe Scale)
    MAX_POOL = "max_pool"
    AVG_POOL = "avg_pool"
    ADD = "add"
    SUB = "sub"
    MUL = "mul"
    DIV = "div"
    MAX = "max"
    LRN = "lrn"
    SOFTMAX = "softmax"
    CONCAT = "concat"
    PAD = "pad"
    TRANSPOSE = "transpose"

    @property
    def fusable(self) -> bool:
        """Whether the op can run in a GEMM layer's output path (fused into its producer)."""
        return self in _FUSABLE


_FUSABLE = frozenset(
    {VectorOp.RELU, VectorOp.LEAKY_RELU, VectorOp.CLIP, VectorOp.PRELU, VectorOp.SCALE, VectorOp.MAX_POOL,
     VectorOp.AVG_POOL}
)
