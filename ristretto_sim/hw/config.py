"""``AcceleratorConfig``: the accelerator the model simulates (array, PE datapath, buffers, DRAM, clock).

The config owns the PE datapath: its kind, the widest operand formats it accepts, its accumulator (and a
shift PE's shifter), and whether it is bit-parallel or bit-serial; the datapath object itself is the
emulator's (``PEConfig.datapath``), so the cost model and the emulator describe one arithmetic. Tensor formats
belong to the plan (``ristretto_sim.hw.plan``); a layer whose formats do not fit the PE is an error
(``check_fits``). Configs are frozen and validated;
``to_dict``/``from_dict`` and ``to_yaml``/``from_yaml`` are their file form (formats as text, enums as their
names).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from os import PathLike
from pathlib import Path

from ristretto_sim.emulator import LayerFormats
from ristretto_sim.emulator.datapaths import Datapath, select
from ristretto_sim.emulator.datapaths.layer_formats import check_format
from ristretto_sim.errors import ConfigError, PlanError
from ristretto_sim.formats import FixedPoint, NumberFormat, format_kind, widest
from ristretto_sim.formats.base import check_int
from ristretto_sim.hw.enums import Dataflow, PEKind, Precision, SerialOperand, VectorOp, WritePolicy, ZeroPoint
from ristretto_sim.hw.synth_area import FPGATarget, PEArea


def _check_number(value, name: str, *, minimum: float | None = None, positive: bool = False) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"{name}={value!r} must be a number")
    value = float(value)
    if math.isnan(value):
        raise ValueError(f"{name}=nan must be a number")
    if positive and not value > 0:
        raise ValueError(f"{name}={value:g} must be > 0")
    if minimum is not None and value < minimum:
        raise ValueError(f"{name}={value:g} must be >= {minimum:g}")
    return value


def _required(cls, data: Mapping) -> list[str]:
    """The fields of dataclass ``cls`` without a default that ``data`` lacks."""
    from dataclasses import MISSING

    return [f.name for f in fields(cls)
            if f.init and f.default is MISSING and f.default_factory is MISSING and f.name not in data]


def _check_bool(value, name: str) -> bool:
    if not isinstance(value, bool):
        raise TypeError(f"{name}={value!r} must be true or false")
    return value


@dataclass(frozen=True)
class PEConfig:
    """A processing element's datapath: a registered emulator datapath (``ristretto_sim.emulator.datapaths``) made
    from the widest formats the PE accepts, plus how it is clocked.

    Parameters
    ----------
    kind : {"fixed_mac", "minifloat", "shift", "affine"} or PEKind
        Integer MAC, minifloat multiply-add, shift-and-add (power-of-two weights), or TFLite's affine int8 MAC
        (operands ``Affine`` formats, their scales and zero points labels: ``affine8[s=1.0,z=0]``; accumulator
        ``fixed32.0``).
    inputs, weights : format or str
        The widest input-activation and weight formats the datapath accepts.
    accumulator : format or str
        The accumulator register: a ``FixedPoint`` for fixed_mac and shift PEs; for a minifloat PE a
        ``Minifloat`` (float accumulation) or a ``FixedPoint`` Kulisch register (exact accumulation; its
        fraction the products' quantum, e.g. ``kulisch_format(inputs, weights, K)``).
    precision : {"parallel", "serial"} or PEKind
        Bit-parallel (one MAC per cycle whatever the layer's widths) or bit-serial.
    bits_per_cycle : int
        Bits of the serial operand consumed per cycle (bit-serial only): a MAC takes ceil(bits /
        bits_per_cycle).
    serial_operand : {"inputs", "weights"} or SerialOperand
        The operand streamed bit-serially (Stripes streams activations).
    shifter_bits : int, optional
        Shift PEs: the barrel shifter's output width (None: lossless for the PE's formats).
    product : Minifloat or str, optional
        Minifloat PEs with a float accumulator: the format the multiplier rounds each product to before the add
        (None: exact products). A layer runs on the PE when its own product format fits this one; a layer with
        exact products needs a PE with exact products.
    zero_point : {"subtract", "register", "fold"} or ZeroPoint
        Affine PEs: ``subtract`` the input zero point in every PE (``(bits + 1) x bits`` multiplier, TFLite's
        reference kernels), ``register``: the same with the zero points in configuration registers loaded per layer
        (one PE for every layer: priced as ``subtract``, its synthesized area its own), or ``fold`` ``z_a * sum_k
        w_k`` into the bias offline (a multiplier of the raw codes; asymmetric weights add a row-sum adder per MAC
        and a ``z_w * sum_k a_k`` correction per output). The emulated results are the same
        (``AffineMac.accumulate_folded``).
    """

    kind: PEKind = PEKind.FIXED_MAC
    inputs: NumberFormat = FixedPoint(8, 0)
    weights: NumberFormat = FixedPoint(8, 0)
    accumulator: NumberFormat = FixedPoint(32, 0)
    precision: Precision = Precision.PARALLEL
    bits_per_cycle: int = 1
    serial_operand: SerialOperand = SerialOperand.INPUTS
    shifter_bits: int | None = None
    product: NumberFormat | None = None
    zero_point: ZeroPoint = ZeroPoint.SUBTRACT

    def __post_init__(self):
        object.__setattr__(self, "kind", PEKind.coerce(self.kind, "pe.kind"))
        object.__setattr__(self, "zero_point", ZeroPoint.coerce(self.zero_point, "pe.zero_point"))
        if self.zero_point is not ZeroPoint.SUBTRACT and self.kind is not PEKind.AFFINE:
            raise ValueError(f"pe.zero_point={self.zero_point.value!r} is for affine PEs, not "
                             f"pe.kind={self.kind.value!r}: give pe.kind: affine, inputs: 'affine8[s=1.0,z=0]', "
                             "weights: 'affine8[s=1.0,z=0]', accumulator: fixed32.0")
        for name in ("inputs", "weights", "accumulator"):
            object.__setattr__(self, name, check_format(getattr(self, name), f"pe.{name}", allow_none=False))
        object.__setattr__(self, "precision", Precision.coerce(self.precision, "pe.precision"))
        object.__setattr__(
            self, "serial_operand", SerialOperand.coerce(self.serial_operand, "pe.serial_operand")
        )
        object.__setattr__(
            self, "bits_per_cycle", check_int(self.bits_per_cycle, "pe.bits_per_cycle", minimum=1)
        )
        if self.shifter_bits is not None and self.kind is not PEKind.SHIFT:
            raise ValueError(f"pe.shifter_bits={self.shifter_bits} is for shift PEs, not pe.kind={self.kind.value!r}")
        object.__setattr__(self, "product", check_format(self.product, "pe.product"))
        if self.product is not None and (self.kind is not PEKind.MINIFLOAT or format_kind(self.product) != "minifloat"
                                         or format_kind(self.accumulator) != "minifloat"):
            raise ValueError(f"pe.product={self.product} is the rounded product of a minifloat PE with a float "
                             f"accumulator (a Minifloat); this PE is {self.kind.value} with accumulator "
                             f"{self.accumulator}")
        names = {"fixed": "FixedPoint", "minifloat": "Minifloat", "pow2": "PowerOfTwo", "affine": "Affine"}
        for name, kinds in self.kind.operand_kinds.items():
            fmt = getattr(self, name)
            if format_kind(fmt) not in kinds:
                raise ValueError(
                    f"pe.{name}={fmt} is a {type(fmt).__name__}; a {self.kind.value} PE needs "
                    f"a {' or a '.join(names[k] for k in kinds)}"
                )
        try:
            dp = self.datapath
        except ValueError as exc:
            raise ValueError(f"pe: {exc}") from None
        if dp.name not in self.kind.datapaths:
            expected = " or ".join(self.kind.datapaths)
            raise ValueError(
                f"pe.inputs={self.inputs}, pe.weights={self.weights}, pe.accumulator={self.accumulator} make a "
                f"{dp.name} datapath; a {self.kind.value} PE is {expected}"
            )
        if dp.name.startswith("minifloat-kulisch"):
            try:
                dp.accumulator_for(1)
            except ValueError as exc:
                raise ValueError(f"pe.accumulator: {exc}") from None
        if self.precision is Precision.SERIAL and self.kind is not PEKind.FIXED_MAC:
            raise ValueError(
                f"pe.precision='serial' is modelled for fixed_mac PEs only, not pe.kind={self.kind.value!r}"
            )

    @property
    def datapath(self) -> Datapath:
        """The PE's datapath object (the registry's choice for the PE's formats)."""
        return select(self.datapath_formats())

    def units(self, k: int = 1):
        """The arithmetic units one MAC uses (``ArithmeticUnit``), the zero-point handling's."""
        return _ZERO_POINT_UNITS[self.zero_point][0](self.datapath, k)

    def readout_units(self):
        """The arithmetic units of the output stage, once per output element (an affine PE's requantizer)."""
        return _ZERO_POINT_UNITS[self.zero_point][1](self.datapath)

    def cycles_per_mac(self, formats: LayerFormats) -> int:
        """Cycles one MAC takes for a layer in ``formats`` (1 when bit-parallel)."""
        if self.precision is Precision.PARALLEL:
            return 1
        fmt = formats.inputs if self.serial_operand is SerialOperand.INPUTS else formats.weights
        return -(-fmt.bits // self.bits_per_cycle)

    def datapath_formats(self) -> LayerFormats:
        """The datapath formats as a ``LayerFormats`` (outputs in the input format): the default plan."""
        return LayerFormats(self.inputs, self.weights, outputs=self.inputs, accumulator=self.accumulator,
                            shifter_bits=self.shifter_bits, product=self.product)

    def to_dict(self) -> dict:
        d = {
            "kind": self.kind.value,
            "inputs": str(self.inputs),
            "weights": str(self.weights),
            "accumulator": str(self.accumulator),
            "precision": self.precision.value,
        }
        if self.precision is Precision.SERIAL:
            d.update(bits_per_cycle=self.bits_per_cycle, serial_operand=self.serial_operand.value)
        if self.shifter_bits is not None:
            d["shifter_bits"] = self.shifter_bits
        if self.product is not None:
            d["product"] = str(self.product)
        if self.zero_point is not ZeroPoint.SUBTRACT:
            d["zero_point"] = self.zero_point.value
        return d


#: per zero-point handling, the datapath's MAC units and output-stage units (``AffineMac.folded_units``)
_ZERO_POINT_UNITS = {
    ZeroPoint.SUBTRACT: (lambda dp, k: dp.units(k), lambda dp: dp.readout_units()),
    ZeroPoint.FOLD: (lambda dp, k: dp.folded_units(k), lambda dp: dp.folded_readout_units()),
    # the same subtractors and multiplier, their zero-point operands from registers: the arithmetic's price is the
    # subtracting PE's (the synthesized area differs: hw.synth_area's rows are per zero-point handling)
    ZeroPoint.REGISTER: (lambda dp, k: dp.units(k), lambda dp: dp.readout_units()),
}


def check_fits(formats: LayerFormats, pe: PEConfig, layer: str, k: int = 1, n_out: int = 1) -> None:
    """Raise ``PlanError`` naming ``layer`` if its formats (reduction length ``k``) do not fit the PE datapath."""
    try:
        reason = pe.datapath.accepts(select(formats), k, n_out)
    except ValueError as exc:
        raise PlanError(f"layer {layer!r}: {exc}") from None
    if reason is not None:
        raise PlanError(f"layer {layer!r}: {reason}")


@dataclass(frozen=True)
class BufferConfig:
    """One on-chip SRAM buffer.

    Parameters
    ----------
    capacity_bytes : int
        Total capacity (both halves when double-buffered).
    word_bits : int
        SRAM word (port) width: what one access reads or writes.
    double_buffered : bool
        Half the buffer is active while the other half fills (prefetch) or drains.
    banks, ports : int
        Banks and ports per bank (informative; the energy model uses capacity / banks per access).
    """

    capacity_bytes: int
    word_bits: int = 64
    double_buffered: bool = True
    banks: int = 1
    ports: int = 1

    def __post_init__(self):
        object.__setattr__(
            self, "capacity_bytes", check_int(self.capacity_bytes, "capacity_bytes", minimum=1)
        )
        object.__setattr__(self, "word_bits", check_int(self.word_bits, "word_bits", minimum=1))
        object.__setattr__(self, "double_buffered", _check_bool(self.double_buffered, "double_buffered"))
        object.__setattr__(self, "banks", check_int(self.banks, "banks", minimum=1))
        object.__setattr__(self, "ports", check_int(self.ports, "ports", minimum=1))

    @property
    def active_bits(self) -> int:
        """Bits one tile may occupy: half the capacity when double-buffered, all of it otherwise."""
        bits = 8 * self.capacity_bytes
        return bits // 2 if self.double_buffered else bits

    @property
    def capacity_bits(self) -> int:
        return 8 * self.capacity_bytes

    def to_dict(self) -> dict:
        return {f.name: getattr(self, f.name) for f in fields(self)}


@dataclass(frozen=True)
class DRAMConfig:
    """The off-chip memory: one pipelined channel shared by all operands (reads in issue order; writes as
    ``write_policy`` says).

    Parameters
    ----------
    bandwidth_bytes_per_cycle : float or None
        Bytes per array clock cycle; ``None`` is unlimited (SCALE-Sim's CALC mode).
    latency_cycles : int
        Cycles from the moment read data crosses the channel until it is usable (a transfer's data lands in order
        at the bandwidth's rate, so a streamed tile's first slice is usable before its last; requests are
        pipelined; writes are posted, so their buffer is free when the transfer ends).
    energy_pj_per_bit : float or None
        Energy per bit moved; ``None`` takes the technology table's default.
    prefetch_depth : int
        Tile reads the DMA may have outstanding at once (issued, data not yet all usable): with double-buffered
        input buffers the tiles of the next steps are requested up to this many ahead, as far as they fit
        the prefetch halves. 1 serialises the reads (latency paid per tile). Default 16: Gemmini's default
        DMA ``max_in_flight_mem_reqs = 16`` (ucb-bar/gemmini, ``GemminiConfigs.scala``).
    write_policy : WritePolicy or str
        ``fifo``: a posted ofmap write is served in issue order with the reads, so it can delay a later read;
        ``reads_first`` (default): it waits in a write queue (the ofmap's drain half) while the channel has reads
        to serve and goes in the channel's idle time; past 80 % of the queue the oldest writes go before later
        reads, down to 20 % (Ramulator 2.0's watermarks), and a full drain half stalls the array as with ``fifo``
        (``engine`` module docstring; ``WritePolicy`` for the sources). Default ``reads_first``: on the bundled
        networks on every preset it is never slower than ``fifo`` and faster on 9 of their layers.
    """

    bandwidth_bytes_per_cycle: float | None = None
    latency_cycles: int = 0
    energy_pj_per_bit: float | None = None
    prefetch_depth: int = 16
    write_policy: WritePolicy = WritePolicy.READS_FIRST

    def __post_init__(self):
        if self.bandwidth_bytes_per_cycle is not None:
            object.__setattr__(
                self,
                "bandwidth_bytes_per_cycle",
                _check_number(
                    self.bandwidth_bytes_per_cycle, "dram.bandwidth_bytes_per_cycle", positive=True
                ),
            )
        object.__setattr__(
            self, "latency_cycles", check_int(self.latency_cycles, "dram.latency_cycles", minimum=0)
        )
        if self.energy_pj_per_bit is not None:
            object.__setattr__(
                self,
                "energy_pj_per_bit",
                _check_number(self.energy_pj_per_bit, "dram.energy_pj_per_bit", minimum=0.0),
            )
        object.__setattr__(
            self, "prefetch_depth", check_int(self.prefetch_depth, "dram.prefetch_depth", minimum=1)
        )
        object.__setattr__(self, "write_policy", WritePolicy.coerce(self.write_policy, "dram.write_policy"))

    @property
    def unlimited(self) -> bool:
        return self.bandwidth_bytes_per_cycle is None

    def to_dict(self) -> dict:
        d = {f.name: getattr(self, f.name) for f in fields(self)}
        d["write_policy"] = self.write_policy.value
        return d


@dataclass(frozen=True)
class VectorConfig:
    """The vector / post-processing unit that runs every non-GEMM layer (pooling, elementwise, activations, LRN,
    softmax, concat) beside the array (``ristretto_sim.hw.vector``).

    Parameters
    ----------
    lanes : int
        Elements the unit takes per cycle; each lane has one multiplier, one adder and one comparator.
    pipeline_cycles : int
        Pipeline depth, paid once per layer.
    ops : tuple of VectorOp or str
        The layer ops it supports (default: all); a network layer whose op is missing is an error.
    inputs : format or str
        The element format the lanes compute in (its multiplier and comparator width).
    accumulator : format or str
        The lanes' wide register for sums (average pooling, Add, LRN, softmax).
    fuse : bool
        Run ReLU-like activations, scaling and pooling in the output path of the GEMM layer that produces their
        input (its only consumer), so that tensor never crosses DRAM.
    """

    lanes: int = 16
    pipeline_cycles: int = 4
    ops: tuple = tuple(VectorOp)
    inputs: NumberFormat = FixedPoint(8, 0)
    accumulator: NumberFormat = FixedPoint(32, 0)
    fuse: bool = True

    def __post_init__(self):
        object.__setattr__(self, "lanes", check_int(self.lanes, "vector.lanes", minimum=1))
        object.__setattr__(
            self, "pipeline_cycles", check_int(self.pipeline_cycles, "vector.pipeline_cycles", minimum=0)
        )
        if isinstance(self.ops, (str, VectorOp)) or not hasattr(self.ops, "__iter__"):
            raise TypeError(f"vector.ops={self.ops!r} must be a list of ops ({', '.join(o.value for o in VectorOp)})")
        object.__setattr__(self, "ops", tuple(VectorOp.coerce(o, "vector.ops") for o in self.ops))
        for name in ("inputs", "accumulator"):
            object.__setattr__(self, name, check_format(getattr(self, name), f"vector.{name}", allow_none=False))
        _check_bool(self.fuse, "vector.fuse")

    def supports(self, op: VectorOp) -> bool:
        return op in self.ops

    def to_dict(self) -> dict:
        return {
            "lanes": self.lanes,
            "pipeline_cycles": self.pipeline_cycles,
            "ops": [o.value for o in self.ops],
            "inputs": str(self.inputs),
            "accumulator": str(self.accumulator),
            "fuse": self.fuse,
        }


_BUFFERS = ("ifmap", "filter", "ofmap")


@dataclass(frozen=True)
class AcceleratorConfig:
    """A systolic-array accelerator.

    Parameters
    ----------
    rows, cols : int
        PE array height R and width C (SCALE-Sim's ArrayHeight, ArrayWidth).
    dataflow : {"os", "ws", "is"} or Dataflow
    clock_mhz : float
        Array clock.
    pe : PEConfig
        The PE datapath.
    ifmap, filter, ofmap : BufferConfig
        On-chip buffers of input activations, weights and outputs / partial sums.
    dram : DRAMConfig
    vector : VectorConfig
        The vector / post-processing unit of the non-GEMM layers.
    keep_activations_on_chip : bool
        Keep a layer's outputs on chip as the next layer's inputs when they fit the ifmap and ofmap buffers.
    name : str
        A label for reports.
    source : str
        Where the numbers come from (presets cite their sources).
    pe_area : {"table", "synthesis"} or PEArea
        PE area from the technology table, or from synthesis of the PE (``hw.synth_area``: the ``hdl/`` results
        table's transistor count in Nangate45 NAND2 equivalents).
    fpga : str, optional
        An FPGA the array is prototyped on (``ice40-hx8k``, ``ice40-up5k``, ``ecp5-25k``, ``ecp5-25k-nodsp``...):
        the report adds its resources, and the clock becomes ``min(clock_mhz, the PE's Fmax)``.
    synth_table : str, optional
        The synthesis results table (JSON, as ``ristretto-sim synth --table`` writes it) that ``pe_area:
        synthesis`` and ``fpga`` read; default the shipped ``hdl/synth_results.json``.
    """

    rows: int
    cols: int
    dataflow: Dataflow = Dataflow.OS
    clock_mhz: float = 1000.0
    pe: PEConfig = field(default_factory=PEConfig)
    ifmap: BufferConfig = field(default_factory=lambda: BufferConfig(512 * 1024))
    filter: BufferConfig = field(default_factory=lambda: BufferConfig(512 * 1024))
    ofmap: BufferConfig = field(default_factory=lambda: BufferConfig(256 * 1024))
    dram: DRAMConfig = field(default_factory=DRAMConfig)
    vector: VectorConfig = field(default_factory=VectorConfig)
    keep_activations_on_chip: bool = False
    name: str = "accelerator"
    source: str = ""
    pe_area: PEArea = PEArea.TABLE
    fpga: str | None = None
    synth_table: str | None = None

    def __post_init__(self):
        object.__setattr__(self, "rows", check_int(self.rows, "rows", minimum=1))
        object.__setattr__(self, "cols", check_int(self.cols, "cols", minimum=1))
        object.__setattr__(self, "dataflow", Dataflow.coerce(self.dataflow, "dataflow"))
        object.__setattr__(self, "clock_mhz", _check_number(self.clock_mhz, "clock_mhz", positive=True))
        if not isinstance(self.pe, PEConfig):
            raise TypeError(f"pe={self.pe!r} must be a PEConfig")
        for name in _BUFFERS:
            if not isinstance(getattr(self, name), BufferConfig):
                raise TypeError(f"{name}={getattr(self, name)!r} must be a BufferConfig")
        if not isinstance(self.dram, DRAMConfig):
            raise TypeError(f"dram={self.dram!r} must be a DRAMConfig")
        if not isinstance(self.vector, VectorConfig):
            raise TypeError(f"vector={self.vector!r} must be a VectorConfig")
        _check_bool(self.keep_activations_on_chip, "keep_activations_on_chip")
        if not isinstance(self.name, str) or not isinstance(self.source, str):
            raise TypeError("name and source must be strings")
        object.__setattr__(self, "pe_area", PEArea.coerce(self.pe_area, "pe_area"))
        if self.fpga is not None:
            object.__setattr__(self, "fpga", str(FPGATarget.parse(self.fpga)))
        if self.synth_table is not None:
            if not isinstance(self.synth_table, (str, PathLike)) or not str(self.synth_table):
                raise TypeError(f"synth_table={self.synth_table!r} must be the path of a synthesis results table")
            object.__setattr__(self, "synth_table", str(self.synth_table))

    @property
    def num_pes(self) -> int:
        return self.rows * self.cols

    def replace(self, **changes) -> AcceleratorConfig:
        """A copy with ``changes`` (validated again)."""
        return replace(self, **changes)

    def with_buffers_kb(self, kb: int, buffers=_BUFFERS) -> AcceleratorConfig:
        """A copy whose ``buffers`` (default all three) hold ``kb`` KB each."""
        return replace(self, **{b: replace(getattr(self, b), capacity_bytes=kb * 1024) for b in buffers})

    def with_bandwidth(self, bandwidth_bytes_per_cycle: float | None) -> AcceleratorConfig:
        return replace(self, dram=replace(self.dram, bandwidth_bytes_per_cycle=bandwidth_bytes_per_cycle))

    # ------------------------------------------------------------------ file form
    def to_dict(self) -> dict:
        return {
            "name": self.name,
            "source": self.source,
            "rows": self.rows,
            "cols": self.cols,
            "dataflow": self.dataflow.value,
            "clock_mhz": self.clock_mhz,
            "pe": self.pe.to_dict(),
            **{b: getattr(self, b).to_dict() for b in _BUFFERS},
            "dram": self.dram.to_dict(),
            "vector": self.vector.to_dict(),
            "keep_activations_on_chip": self.keep_activations_on_chip,
            # written only when set, so configs (and reports) without them read as before
            **({"pe_area": self.pe_area.value} if self.pe_area is not PEArea.TABLE else {}),
            **({"fpga": self.fpga} if self.fpga is not None else {}),
            **({"synth_table": self.synth_table} if self.synth_table is not None else {}),
        }

    @classmethod
    def from_dict(cls, data: Mapping, where: str = "config") -> AcceleratorConfig:
        """Build a config from its dict form; ``ConfigError`` names ``where`` and the offending key."""
        if not isinstance(data, Mapping):
            raise ConfigError(
                f"{where}: expected a mapping of accelerator settings, got {type(data).__name__}"
            )
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ConfigError(
                f"{where}: unknown keys {', '.join(unknown)}; known: {', '.join(sorted(known))}"
            )
        missing = _required(cls, data)
        if missing:
            raise ConfigError(f"{where}: missing required keys {', '.join(missing)}")
        kwargs = dict(data)
        try:
            subs = (("pe", PEConfig), ("dram", DRAMConfig), ("vector", VectorConfig))
            for key, sub in (*subs, *((b, BufferConfig) for b in _BUFFERS)):
                if key in kwargs:
                    value = kwargs[key]
                    if not isinstance(value, Mapping):
                        raise ConfigError(f"{where}: {key} must be a mapping, got {value!r}")
                    sub_known = {f.name for f in fields(sub)}
                    bad = sorted(set(value) - sub_known)
                    if bad:
                        raise ConfigError(
                            f"{where}: unknown keys in {key}: {', '.join(bad)}; "
                            f"known: {', '.join(sorted(sub_known))}"
                        )
                    if sub is BufferConfig and "capacity_bytes" not in value:  # the buffer's default capacity
                        default = next(f for f in fields(cls) if f.name == key).default_factory()
                        value = {"capacity_bytes": default.capacity_bytes, **value}
                    missing = _required(sub, value)
                    if missing:
                        raise ConfigError(f"{where}: {key}: missing required keys {', '.join(missing)}")
                    try:
                        kwargs[key] = sub(**value)
                    except (ValueError, TypeError) as exc:
                        msg = str(exc)
                        raise ConfigError(
                            f"{where}: {key}: {msg}" if not msg.startswith(f"{key}.") else f"{where}: {msg}"
                        ) from None
            return cls(**kwargs)
        except (ValueError, TypeError) as exc:
            if isinstance(exc, ConfigError):
                raise
            raise ConfigError(f"{where}: {exc}") from None

    def to_yaml(self, path: str | Path | None = None) -> str:
        """The YAML text of this config (also written to ``path`` if given)."""
        import yaml

        text = yaml.safe_dump(self.to_dict(), sort_keys=False)
        if path is not None:
            Path(path).write_text(text)
        return text

    @classmethod
    def from_yaml(cls, source: str | Path) -> AcceleratorConfig:
        """Read a config from a YAML file path (or YAML text containing a newline)."""
        import yaml

        if isinstance(source, Path) or "\n" not in str(source):
            where = str(source)
            text = Path(source).read_text()
        else:
            where, text = "<yaml text>", str(source)
        try:
            data = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            raise ConfigError(f"{where}: not valid YAML: {str(exc).splitlines()[0]}") from None
        return cls.from_dict(data, where)


def datapath_for(
    formats, *, precision="parallel", bits_per_cycle: int = 1, serial_operand="inputs"
) -> PEConfig:
    """The narrowest PE datapath every ``LayerFormats`` in ``formats`` fits (the widest format per operand).

    The formats must have their accumulators (``LayerFormats.resolved(k)`` fills in the default one). The PE
    kind follows the formats' datapath: fixed-point operands -> ``fixed_mac``, minifloats -> ``minifloat``,
    power-of-two weights with fixed-point inputs -> ``shift``, affine operands -> ``affine``.

    Raises
    ------
    PlanError
        If the layers mix format kinds for one operand, or their datapaths differ.
    """
    formats = list(formats)
    if not formats:
        raise ValueError("formats=[] must name at least one layer's formats")
    try:
        inputs = widest([f.inputs for f in formats], "inputs")
        weights = widest([f.weights for f in formats], "weights")
        paths = {select(f) for f in formats}
        names = sorted({p.name for p in paths})
        if len(names) != 1:
            raise ValueError(f"the layers use different datapaths ({', '.join(names)}); one PE cannot serve them")
        acc = next(iter(paths)).widest_accumulator([f.accumulator for f in formats], inputs, weights)
    except ValueError as exc:
        raise PlanError(str(exc)) from None
    kind = next(k for k in PEKind if names[0] in k.datapaths)
    shifters = [f.shifter_bits for f in formats]
    shifter = None if any(s is None for s in shifters) else max(shifters)
    products = [f.product for f in formats]
    # one layer with exact products makes the PE's products exact; otherwise the widest rounding serves all
    product = None if any(p is None for p in products) else widest(products, "product")
    pe = PEConfig(
        kind,
        inputs,
        weights,
        acc,
        precision=precision,
        bits_per_cycle=bits_per_cycle,
        serial_operand=serial_operand,
        shifter_bits=shifter,
        product=product,
    )
    for i, f in enumerate(formats):
        check_fits(f, pe, f"#{i}")
    return pe
