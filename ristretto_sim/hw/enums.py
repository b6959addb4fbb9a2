"""The named modes of the accelerator model; each enum also accepts its value or name as a string."""

from __future__ import annotations

from ristretto_sim.enums import NamedEnum


class Dataflow(NamedEnum):
    """What stays in the PEs: outputs (``os``), weights (``ws``) or inputs (``is``), as SCALE-Sim names
    them."""

    OS = "os"
    WS = "ws"
    IS = "is"


class PEKind(NamedEnum):
    """The arithmetic of a processing element."""

    FIXED_MAC = "fixed_mac"  #: integer / fixed-point multiplier + adder
    MINIFLOAT = "minifloat"  #: minifloat multiplier + float adder
    SHIFT = "shift"  #: power-of-two weights: barrel shifter + adder


class Precision(NamedEnum):
    """Bit-parallel PEs take a whole operand per cycle; bit-serial ones ``bits_per_cycle`` bits of one
    operand."""

    PARALLEL = "parallel"
    SERIAL = "serial"


class SerialOperand(NamedEnum):
    """Which operand a bit-serial PE consumes bit by bit (Stripes: activations; others: weights)."""

    INPUTS = "inputs"
    WEIGHTS = "weights"
