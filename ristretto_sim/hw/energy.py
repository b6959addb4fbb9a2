"""The energy and area cost model: a technology table (one YAML file with a source beside every number) and
the per-operation forms built on it.

Forms (45 nm Horowitz anchors by default, ``data/energy_45nm.yaml``):

* integer multiplier ``a * na * nb + b * sqrt(na * nb)`` pJ (QKeras QTools' fit: 0.2 pJ at 8x8, 3.1 pJ at
  32x32);
* integer adder ``a + b * n`` pJ (0.03 pJ at 8 bits, 0.1 at 32); registers per bit;
* minifloat multiplier ``km * (ma + 1)(mb + 1) + kl * (na + nb) / 2`` (mantissa array plus exponent add and
  normalisation), with ``km``, ``kl`` solved so fp16 and fp32 hit 1.1 and 3.7 pJ; minifloat adder
  ``a * n log2 n + b * n`` (alignment and normalisation shifters plus the adder) solved for 0.4 and 0.9 pJ;
* barrel shifter ``k * n * log2(S)`` for n data bits and S shift positions (ShiftAddNet's 8-bit shift);
* SRAM: ``E64(capacity) * word_bits / 64`` per access, ``E64`` interpolated log-log in the Horowitz table;
* DRAM per bit;
* leakage power, paid over a layer's whole latency: per PE (the table's ``leakage.pe_uw``, or when that is 0
  the PE's area times ``leakage.logic_nw_per_um2``) and per KB of SRAM (``leakage.sram_uw_per_kb``). The
  default 45 nm table gives both (Aladdin's 40 nm cell library, CACTI 45 nm), so energy depends on the array
  size and the run time as it does in silicon; a table with all three at 0 models dynamic energy only.

A bit-parallel PE costs its datapath's energy whatever the layer's formats (narrow formats cut memory traffic,
not MAC energy); a bit-serial PE spends ``ceil(bits / k)`` cycles of a ``k x n`` slice per MAC.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from functools import lru_cache
from pathlib import Path

from ristretto_sim.errors import ConfigError
from ristretto_sim.formats import Minifloat
from ristretto_sim.hw.config import AcceleratorConfig, BufferConfig, PEConfig
from ristretto_sim.hw.enums import Dataflow, Precision, SerialOperand

DEFAULT_TABLE = Path(__file__).resolve().parent / "data" / "energy_45nm.yaml"


def _loglog(x: float, xs: tuple[float, ...], ys: tuple[float, ...]) -> float:
    """Piecewise power-law interpolation through (xs, ys); the end segments extend beyond the table."""
    lx = math.log(x)
    lxs = [math.log(v) for v in xs]
    i = 0
    while i < len(xs) - 2 and lx > lxs[i + 1]:
        i += 1
    slope = (math.log(ys[i + 1]) - math.log(ys[i])) / (lxs[i + 1] - lxs[i])
    return math.exp(math.log(ys[i]) + slope * (lx - lxs[i]))


def _solve2(a1: float, b1: float, c1: float, a2: float, b2: float, c2: float) -> tuple[float, float]:
    """Solve a1*x + b1*y = c1, a2*x + b2*y = c2."""
    det = a1 * b2 - a2 * b1
    return (c1 * b2 - c2 * b1) / det, (a1 * c2 - a2 * c1) / det


_FP16, _FP32 = Minifloat(5, 10), Minifloat(8, 23)


@dataclass(frozen=True)
class TechnologyTable:
    """Per-operation energy (pJ) and area (um^2) coefficients of one technology node (module docstring)."""

    name: str
    node_nm: float
    mul_a_pj: float
    mul_b_pj: float
    add_a_pj: float
    add_b_pj: float
    reg_pj_per_bit: float
    fmul_km_pj: float
    fmul_kl_pj: float
    fadd_a_pj: float
    fadd_b_pj: float
    shift_k_pj: float
    sram_kb: tuple[float, ...]
    sram_pj_64b: tuple[float, ...]
    dram_pj_per_bit: float
    leak_pe_uw: float
    leak_logic_nw_per_um2: float
    leak_sram_uw_per_kb: float
    mul_a_um2: float
    mul_b_um2: float
    add_a_um2: float
    add_b_um2: float
    reg_um2_per_bit: float
    fmul_km_um2: float
    fmul_kl_um2: float
    fadd_a16_um2: float
    fadd_p: float
    shift_k_um2: float
    sram_area_kb: tuple[float, ...]
    sram_area_mm2: tuple[float, ...]
    sources: tuple[tuple[str, str], ...] = ()

    @property
    def leakage_modelled(self) -> bool:
        return self.leak_pe_uw > 0 or self.leak_logic_nw_per_um2 > 0 or self.leak_sram_uw_per_kb > 0

    def pe_leakage_uw(self, pe_area_um2: float) -> float:
        """Leakage power of one PE (uW): the table's per-PE figure, else its area times the logic density."""
        if self.leak_pe_uw > 0:
            return self.leak_pe_uw
        return self.leak_logic_nw_per_um2 * pe_area_um2 * 1e-3

    # ------------------------------------------------------------------ reading
    @classmethod
    def from_yaml(cls, path: str | Path = DEFAULT_TABLE) -> TechnologyTable:
        """Read a technology table; ``ConfigError`` names the file and the missing or bad key."""
        path = Path(path).resolve()
        try:
            stat = path.stat()
        except FileNotFoundError:
            raise FileNotFoundError(f"technology table {path} not found") from None
        return _load(str(path), stat.st_mtime_ns, stat.st_size)

    @classmethod
    def _from_dict(cls, d: dict, where: str) -> TechnologyTable:
        def get(*keys):
            node = d
            for k in keys:
                if not isinstance(node, dict) or k not in node:
                    raise ConfigError(f"{where}: missing key {'.'.join(map(str, keys))}")
                node = node[k]
            return node

        def num(*keys) -> float:
            v = get(*keys)
            if isinstance(v, bool) or not isinstance(v, (int, float)) or v < 0:
                raise ConfigError(f"{where}: {'.'.join(map(str, keys))}={v!r} must be a non-negative number")
            return float(v)

        def anchors(*keys) -> tuple[float, float]:
            a = get(*keys)
            try:
                return float(a["fp16"]), float(a["fp32"])
            except (KeyError, TypeError, ValueError):
                raise ConfigError(f"{where}: {'.'.join(keys)} needs numbers fp16 and fp32") from None

        def series(*keys) -> tuple[float, ...]:
            v = get(*keys)
            if (
                not isinstance(v, list)
                or len(v) < 2
                or not all(isinstance(x, (int, float)) and x > 0 for x in v)
            ):
                raise ConfigError(f"{where}: {'.'.join(keys)} must list at least two positive numbers")
            return tuple(float(x) for x in v)

        def fp_mul(e16: float, e32: float) -> tuple[float, float]:
            m16, m32 = (_FP16.man_bits + 1) ** 2, (_FP32.man_bits + 1) ** 2
            return _solve2(m16, _FP16.bits, e16, m32, _FP32.bits, e32)

        def fp_add(e16: float, e32: float) -> tuple[float, float]:
            return _solve2(16 * 4, 16, e16, 32 * 5, 32, e32)

        km, kl = fp_mul(*anchors("float_multiplier", "anchors_pj"))
        fa, fb = fp_add(*anchors("float_adder", "anchors_pj"))
        akm, akl = fp_mul(*anchors("area", "float_multiplier", "anchors_um2"))
        a16, a32 = anchors("area", "float_adder", "anchors_um2")
        mul_area = get("area", "int_multiplier", "anchors_um2")
        add_area = get("area", "int_adder", "anchors_um2")
        try:
            (n1, a1), (n2, a2) = sorted((int(k), float(v)) for k, v in mul_area.items())[:2]
            (m1, b1), (m2, b2) = sorted((int(k), float(v)) for k, v in add_area.items())[:2]
        except (AttributeError, ValueError, TypeError):
            raise ConfigError(
                f"{where}: area int_multiplier/int_adder anchors must map bits to um^2"
            ) from None
        ma, mb = _solve2(n1 * n1, n1, a1, n2 * n2, n2, a2)
        sram_kb, sram_pj = series("sram_read_64b", "capacity_kb"), series("sram_read_64b", "energy_pj")
        area_kb, area_mm2 = series("area", "sram", "capacity_kb"), series("area", "sram", "area_mm2")
        if len(sram_kb) != len(sram_pj) or len(area_kb) != len(area_mm2):
            raise ConfigError(f"{where}: SRAM capacity and value lists must have equal lengths")
        shift_e = num("shifter", "anchor_pj") / (
            num("shifter", "anchor_bits") * math.log2(num("shifter", "anchor_positions"))
        )
        shift_a = num("area", "shifter", "anchor_um2") / (
            num("area", "shifter", "anchor_bits") * math.log2(num("area", "shifter", "anchor_positions"))
        )
        sources = []
        for key, val in d.items():
            if isinstance(val, dict) and "source" in val:
                sources.append((key, str(val["source"])))
        for key, val in d.get("area", {}).items():
            if isinstance(val, dict) and "source" in val:
                sources.append((f"area.{key}", str(val["source"])))
        return cls(
            name=str(d.get("name", Path(where).stem)),
            node_nm=float(d.get("node_nm", 0)),
            mul_a_pj=num("int_multiplier", "a_pj"),
            mul_b_pj=num("int_multiplier", "b_pj"),
            add_a_pj=num("int_adder", "a_pj"),
            add_b_pj=num("int_adder", "b_pj"),
            reg_pj_per_bit=num("register", "pj_per_bit"),
            fmul_km_pj=km,
            fmul_kl_pj=kl,
            fadd_a_pj=fa,
            fadd_b_pj=fb,
            shift_k_pj=shift_e,
            sram_kb=sram_kb,
            sram_pj_64b=sram_pj,
            dram_pj_per_bit=num("dram", "pj_per_bit"),
            leak_pe_uw=num("leakage", "pe_uw"),
            leak_logic_nw_per_um2=num("leakage", "logic_nw_per_um2") if "logic_nw_per_um2" in get("leakage") else 0.0,
            leak_sram_uw_per_kb=num("leakage", "sram_uw_per_kb"),
            mul_a_um2=ma,
            mul_b_um2=mb,
            add_a_um2=b1 - (b2 - b1) / (m2 - m1) * m1,
            add_b_um2=(b2 - b1) / (m2 - m1),
            reg_um2_per_bit=num("area", "register", "um2_per_bit"),
            fmul_km_um2=akm,
            fmul_kl_um2=akl,
            fadd_a16_um2=a16,
            fadd_p=math.log2(a32 / a16),
            shift_k_um2=shift_a,
            sram_area_kb=area_kb,
            sram_area_mm2=area_mm2,
            sources=tuple(sources),
        )

    # ------------------------------------------------------------------ per-operation energy (pJ)
    def int_mul_pj(self, na: int, nb: int) -> float:
        return self.mul_a_pj * na * nb + self.mul_b_pj * math.sqrt(na * nb)

    def int_add_pj(self, n: int) -> float:
        return self.add_a_pj + self.add_b_pj * n

    def float_mul_pj(self, a: Minifloat, b: Minifloat) -> float:
        return self.fmul_km_pj * (a.man_bits + 1) * (b.man_bits + 1) + self.fmul_kl_pj * (a.bits + b.bits) / 2

    def float_add_pj(self, n: int) -> float:
        return self.fadd_a_pj * n * math.log2(n) + self.fadd_b_pj * n

    def shift_pj(self, n: int, positions: int) -> float:
        return self.shift_k_pj * n * math.log2(max(2, positions))

    def sram_pj_per_access(self, buffer: BufferConfig) -> float:
        """Energy of one ``word_bits`` access to a bank of ``capacity / banks``: ``E64 * width / 64``."""
        kb = buffer.capacity_bytes / buffer.banks / 1024
        return _loglog(kb, self.sram_kb, self.sram_pj_64b) * buffer.word_bits / 64

    # ------------------------------------------------------------------ area (um^2)
    def int_mul_um2(self, na: int, nb: int) -> float:
        return self.mul_a_um2 * na * nb + self.mul_b_um2 * math.sqrt(na * nb)

    def int_add_um2(self, n: int) -> float:
        return self.add_a_um2 + self.add_b_um2 * n

    def float_mul_um2(self, a: Minifloat, b: Minifloat) -> float:
        return (
            self.fmul_km_um2 * (a.man_bits + 1) * (b.man_bits + 1) + self.fmul_kl_um2 * (a.bits + b.bits) / 2
        )

    def float_add_um2(self, n: int) -> float:
        return self.fadd_a16_um2 * (n / 16) ** self.fadd_p

    def shift_um2(self, n: int, positions: int) -> float:
        return self.shift_k_um2 * n * math.log2(max(2, positions))

    def sram_um2(self, buffer: BufferConfig) -> float:
        kb = buffer.capacity_bytes / 1024
        return _loglog(kb, self.sram_area_kb, self.sram_area_mm2) * 1e6


@lru_cache(maxsize=8)
def _load(path: str, mtime_ns: int, size: int) -> TechnologyTable:
    """Parse a table file (cached per path and modification time)."""
    import yaml

    try:
        data = yaml.safe_load(Path(path).read_text())
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML: {str(exc).splitlines()[0]}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping of technology costs")
    return TechnologyTable._from_dict(data, path)


def default_table() -> TechnologyTable:
    """The 45 nm Horowitz table shipped with the package."""
    return TechnologyTable.from_yaml(DEFAULT_TABLE)


@dataclass(frozen=True)
class MacEnergy:
    """Energy of one MAC in the array, split into arithmetic and pipeline registers (pJ)."""

    arithmetic_pj: float
    register_pj: float


def _units(pe: PEConfig, cycles_per_mac: int):
    """The PE datapath's arithmetic units, a bit-serial PE's multiplier narrowed to its slice."""
    units = pe.units(1)
    if pe.precision is not Precision.SERIAL:
        return units, 1
    other = pe.weights.bits if pe.serial_operand is SerialOperand.INPUTS else pe.inputs.bits
    serial = tuple(
        replace(u, bits=(pe.bits_per_cycle, other)) if u.op == "int_mul" else u for u in units
    )
    return serial, cycles_per_mac


#: the table's price of each arithmetic unit a datapath names (``ArithmeticUnit.op``): energy, area
_PRICES = {
    "int_mul": (lambda t, u: t.int_mul_pj(*u.bits), lambda t, u: t.int_mul_um2(*u.bits)),
    "int_add": (lambda t, u: t.int_add_pj(*u.bits), lambda t, u: t.int_add_um2(*u.bits)),
    "float_mul": (lambda t, u: t.float_mul_pj(*u.formats), lambda t, u: t.float_mul_um2(*u.formats)),
    "float_add": (lambda t, u: t.float_add_pj(*u.bits), lambda t, u: t.float_add_um2(*u.bits)),
    "shift": (lambda t, u: t.shift_pj(*u.bits), lambda t, u: t.shift_um2(*u.bits)),
}


def unit_pj(table: TechnologyTable, unit) -> float:
    """Energy of one operation of an arithmetic unit (``ArithmeticUnit``) priced by ``table``."""
    return _PRICES[unit.op][0](table, unit)


def unit_um2(table: TechnologyTable, unit) -> float:
    """Area of an arithmetic unit (``ArithmeticUnit``) priced by ``table``."""
    return _PRICES[unit.op][1](table, unit)


def mac_energy(
    pe: PEConfig, dataflow: Dataflow, table: TechnologyTable, cycles_per_mac: int = 1
) -> MacEnergy:
    """Energy per MAC of ``pe``: its datapath's arithmetic units priced by the table (a bit-serial PE pays
    ``cycles_per_mac`` slices), plus the operand and accumulator registers written per MAC."""
    acc_bits = pe.accumulator.bits
    units, slices = _units(pe, cycles_per_mac)
    arith = slices * sum(_PRICES[u.op][0](table, u) for u in units)
    # operand and accumulator registers written per MAC: what moves through (or updates in) each PE
    moving = {
        Dataflow.OS: pe.inputs.bits + pe.weights.bits + acc_bits,
        Dataflow.WS: pe.inputs.bits + acc_bits,
        Dataflow.IS: pe.weights.bits + acc_bits,
    }[dataflow]
    return MacEnergy(arith, moving * table.reg_pj_per_bit * slices)


def readout_pj(pe: PEConfig, table: TechnologyTable) -> float:
    """Energy per output element of the PE datapath's output stage (an affine PE's requantizer: a 32x32 multiply,
    a 32-bit shifter and adders, priced by the table as every other unit; 0 for datapaths without one)."""
    return float(sum(unit_pj(table, u) for u in pe.readout_units()))


def readout_area_um2(pe: PEConfig, table: TechnologyTable) -> float:
    """Area of one output stage of the PE's datapath (an affine PE's requantizer, priced as ``readout_pj``; 0 for
    datapaths without one)."""
    return float(sum(unit_um2(table, u) for u in pe.readout_units()))


def pe_area_um2(pe: PEConfig, table: TechnologyTable) -> float:
    """Area of one PE: its datapath's arithmetic units plus operand and accumulator registers (Horowitz area
    table)."""
    regs = (pe.inputs.bits + pe.weights.bits + pe.accumulator.bits) * table.reg_um2_per_bit
    units, _ = _units(pe, 1)
    return sum(_PRICES[u.op][1](table, u) for u in units) + regs


@dataclass(frozen=True)
class AreaReport:
    """Area of the accelerator in um^2: ``rows x cols x pe_um2``, the three SRAM buffers, the vector unit and the
    PE datapath's output stages (``readout_um2``: one requantizer per vector lane, where the outputs are
    requantized, for an affine PE; 0 otherwise)."""

    pe_um2: float
    array_um2: float
    sram_um2: dict
    source: str
    details: dict = field(default_factory=dict)  # synthesis area and FPGA resources (hw.synth_area.area_details)
    vector_um2: float = 0.0
    readout_um2: float = 0.0

    @property
    def total_um2(self) -> float:
        return self.array_um2 + sum(self.sram_um2.values()) + self.vector_um2 + self.readout_um2

    def to_dict(self) -> dict:
        return {
            "pe_um2": self.pe_um2,
            "array_um2": self.array_um2,
            "sram_um2": dict(self.sram_um2),
            "vector_um2": self.vector_um2,
            **({"readout_um2": self.readout_um2} if self.readout_um2 else {}),  # PEs with an output stage only
            "total_um2": self.total_um2,
            "source": self.source,
            **self.details,
        }


def area(config: AcceleratorConfig, table: TechnologyTable | None = None) -> AreaReport:
    """The accelerator's area: SRAM from the technology table; the PE from the table too, or from synthesis when
    ``config.pe_area`` is ``synthesis``; FPGA resources when ``config.fpga`` names one (``hw.synth_area``)."""
    from ristretto_sim.hw.synth_area import area_details

    table = table or default_table()
    source = f"{table.name} area table (Horowitz ISSCC'14, CACTI 7)"
    pe, source, details = area_details(config, pe_area_um2(config.pe, table), source, table.node_nm,
                                       config.synth_table)
    from ristretto_sim.hw.vector import vector_area_um2  # vector builds on this module's prices

    sram = {b: table.sram_um2(getattr(config, b)) for b in ("ifmap", "filter", "ofmap")}
    return AreaReport(pe, pe * config.num_pes, sram, source, details, vector_um2=vector_area_um2(config.vector, table),
                      readout_um2=config.vector.lanes * readout_area_um2(config.pe, table))
