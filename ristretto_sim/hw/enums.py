"""The named modes of the accelerator model; each enum also accepts its value or name as a string."""

from __future__ import annotations

import enum


class _NamedEnum(enum.Enum):
    """An enum that accepts its member value or name as a string, case-insensitively."""

    @classmethod
    def _missing_(cls, value):
        if isinstance(value, str):
            key = value.strip().lower().replace("-", "_")
            for member in cls:
                if member.value == key or member.name.lower() == key:
                    return member
        return None

    @classmethod
    def coerce(cls, value, name: str):
        """Return ``value`` as a member, or raise ``ValueError`` naming the parameter ``name``."""
        try:
            return cls(value)
        except ValueError:
            choices = ", ".join(m.value for m in cls)
            raise ValueError(
                f"{name}={value!r} is not a valid {cls.__name__}; choose one of: {choices}"
            ) from None

    def __str__(self) -> str:
        return self.value


class Dataflow(_NamedEnum):
    """What stays in the PEs: outputs (``os``), weights (``ws``) or inputs (``is``), as SCALE-Sim names
    them."""

    OS = "os"
    WS = "ws"
    IS = "is"


class PEKind(_NamedEnum):
    """The arithmetic of a processing element."""

    FIXED_MAC = "fixed_mac"  #: integer / fixed-point multiplier + adder
    MINIFLOAT = "minifloat"  #: minifloat multiplier + float adder
    SHIFT = "shift"  #: power-of-two weights: barrel shifter + adder


class Precision(_NamedEnum):
    """Bit-parallel PEs take a whole operand per cycle; bit-serial ones ``bits_per_cycle`` bits of one
    operand."""

    PARALLEL = "parallel"
    SERIAL = "serial"


class SerialOperand(_NamedEnum):
    """Which operand a bit-serial PE consumes bit by bit (Stripes: activations; others: weights)."""

    INPUTS = "inputs"
    WEIGHTS = "weights"
