"""The results of ``simulate``: per-layer and total reports as dataclasses, with dict/JSON/CSV/DataFrame
forms.

Units are in the field names: ``_cycles``, ``_bytes``, ``_bits``, ``_pj``, ``_s``. ``sram_*_accesses`` count
SRAM port words (``ceil(bits / word_bits)``); ``edge_*_words`` count tensor elements crossing the array edge,
as SCALE-Sim counts its SRAM reads and writes. pandas is imported only inside ``to_dataframe``.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path


@dataclass(frozen=True)
class EnergyBreakdown:
    """Energy of a layer (or network) in pJ, split by where it is spent."""

    arithmetic_pj: float = 0.0
    registers_pj: float = 0.0
    sram_pj: float = 0.0
    dram_pj: float = 0.0
    leakage_pj: float = 0.0
    vector_pj: float = 0.0

    @property
    def total_pj(self) -> float:
        return (
            self.arithmetic_pj + self.registers_pj + self.sram_pj + self.dram_pj + self.leakage_pj + self.vector_pj
        )

    def __add__(self, other: EnergyBreakdown) -> EnergyBreakdown:
        return EnergyBreakdown(*(getattr(self, f.name) + getattr(other, f.name) for f in fields(self)))

    def to_dict(self) -> dict:
        return {
            "arithmetic": self.arithmetic_pj,
            "registers": self.registers_pj,
            "vector": self.vector_pj,
            "sram": self.sram_pj,
            "dram": self.dram_pj,
            "leakage": self.leakage_pj,
            "total": self.total_pj,
        }


_SUMMED = (
    "macs",
    "wasted_macs",
    "folds",
    "total_cycles",
    "compute_cycles",
    "stall_cycles",
    "bound_cycles",
    "scalesim_compute_cycles",
    "dram_ifmap_bytes",
    "dram_filter_bytes",
    "dram_ofmap_bytes",
    "dram_psum_read_bytes",
    "dram_psum_write_bytes",
    "dram_bias_bytes",
    "dram_operands_bytes",
    "dram_read_bytes",
    "dram_write_bytes",
    "dram_read_bits",
    "dram_write_bits",
    "compulsory_dram_bytes",
    "sram_ifmap_reads_bits",
    "sram_ifmap_writes_bits",
    "sram_filter_reads_bits",
    "sram_filter_writes_bits",
    "sram_ofmap_reads_bits",
    "sram_ofmap_writes_bits",
    "sram_ifmap_reads_accesses",
    "sram_ifmap_writes_accesses",
    "sram_filter_reads_accesses",
    "sram_filter_writes_accesses",
    "sram_ofmap_reads_accesses",
    "sram_ofmap_writes_accesses",
    "edge_ifmap_reads_words",
    "edge_filter_reads_words",
    "edge_ofmap_writes_words",
    "latency_s",
)


@dataclass(frozen=True)
class LayerReport:
    """One layer's (or the network's) cycles, traffic, energy and utilisation (module docstring for units).

    ``utilization`` is ``macs / (total_cycles * R * C)``; ``mapping_efficiency`` the mean fraction of PEs a
    fold uses; ``compute_utilization`` ``macs / (compute_cycles * R * C)`` (SCALE-Sim's Compute Util in
    ``scalesim_compatible`` runs). ``unit`` is ``array`` (GEMM layers) or ``vector`` (the vector unit's layers,
    with ``kind`` their op); ``fused_into`` names the producer a fused vector layer ran in ("" if not fused).
    ``dram_bias_bytes`` are a GEMM layer's biases, ``dram_operands_bytes`` a vector layer's further operands
    (the skip input of a residual Add). ``label`` is the short unique name tables and plots print
    (``ristretto_sim.hw.names``).

    ``bound_cycles`` is the layer's roofline bound, ``max(compute_cycles, ceil((dram_read_bytes +
    dram_write_bytes) / bandwidth))`` (``compute_cycles`` with unlimited bandwidth; ``roofline_bound``), and
    ``roofline_attainment`` is ``total_cycles / bound_cycles``: 1.0 on the roofline, above it by the stalls the
    bound does not explain (latency, outstanding requests, buffer capacity, the walk's order). The network's bound
    is the sum of its layers' (they run one after another).
    """

    name: str
    kind: str
    m: int
    n: int
    k: int
    groups: int
    folds: int
    macs: int
    wasted_macs: int
    total_cycles: int
    compute_cycles: int
    stall_cycles: int
    bound_cycles: int
    roofline_attainment: float
    scalesim_compute_cycles: int
    utilization: float
    mapping_efficiency: float
    compute_utilization: float
    dram_ifmap_bytes: int
    dram_filter_bytes: int
    dram_ofmap_bytes: int
    dram_psum_read_bytes: int
    dram_psum_write_bytes: int
    dram_bias_bytes: int
    dram_operands_bytes: int
    dram_read_bytes: int
    dram_write_bytes: int
    dram_read_bits: int
    dram_write_bits: int
    compulsory_dram_bytes: int
    sram_ifmap_reads_bits: int
    sram_ifmap_writes_bits: int
    sram_filter_reads_bits: int
    sram_filter_writes_bits: int
    sram_ofmap_reads_bits: int
    sram_ofmap_writes_bits: int
    sram_ifmap_reads_accesses: int
    sram_ifmap_writes_accesses: int
    sram_filter_reads_accesses: int
    sram_filter_writes_accesses: int
    sram_ofmap_reads_accesses: int
    sram_ofmap_writes_accesses: int
    edge_ifmap_reads_words: int
    edge_filter_reads_words: int
    edge_ofmap_writes_words: int
    energy: EnergyBreakdown
    latency_s: float
    formats: str
    unit: str = "array"
    fused_into: str = ""
    label: str = ""

    def to_dict(self) -> dict:
        d = asdict(self)
        d.pop("energy")
        d["energy_pj"] = self.energy.to_dict()
        return d

    def to_row(self) -> dict:
        """A flat dict (energy columns ``energy_<part>_pj``), one DataFrame/CSV row."""
        d = self.to_dict()
        for part, value in d.pop("energy_pj").items():
            d[f"energy_{part}_pj"] = value
        return d


def roofline_bound(compute_cycles: int, dram_bytes: int, bandwidth_bytes_per_cycle: float | None) -> int:
    """A layer's roofline bound in cycles: ``max(compute, ceil(dram_bytes / bandwidth))``, its compute cycles when
    the bandwidth is unlimited (``None``)."""
    if bandwidth_bytes_per_cycle is None:
        return compute_cycles
    return max(compute_cycles, math.ceil(dram_bytes / bandwidth_bytes_per_cycle))


def attainment(total_cycles: int, bound_cycles: int) -> float:
    """``total_cycles / bound_cycles`` (1.0 for a layer that takes no cycles)."""
    return total_cycles / bound_cycles if bound_cycles else 1.0


def total_of(layers, rows: int, cols: int) -> LayerReport:
    """The network total: sums, with utilisations recomputed from the sums."""
    layers = list(layers)
    sums = {f: sum(getattr(x, f) for x in layers) for f in _SUMMED}
    energy = EnergyBreakdown()
    for x in layers:
        energy = energy + x.energy
    pes = rows * cols
    folds = sums["folds"] or 1
    return LayerReport(
        name="total",
        kind="network",
        m=0,
        n=0,
        k=0,
        groups=0,
        **sums,
        roofline_attainment=attainment(sums["total_cycles"], sums["bound_cycles"]),
        utilization=sums["macs"] / max(1, sums["total_cycles"] * pes),
        mapping_efficiency=sum(x.mapping_efficiency * x.folds for x in layers) / folds,
        compute_utilization=sums["macs"] / max(1, sums["compute_cycles"] * pes),
        energy=energy,
        formats="",
        unit="",
        label="total",
    )


@dataclass(frozen=True)
class Report:
    """What ``simulate`` returns: per-layer reports, their total, the area and how the numbers were made."""

    layers: tuple[LayerReport, ...]
    total: LayerReport
    config: dict
    area: dict
    scalesim_compatible: bool
    technology: str
    leakage_modelled: bool
    leakage: dict = field(default_factory=dict)
    not_simulated: tuple = ()

    def layer(self, name: str) -> LayerReport:
        for x in self.layers:
            if x.name == name:
                return x
        raise KeyError(f"no layer {name!r} in the report; layers: {', '.join(x.name for x in self.layers)}")

    def to_dict(self) -> dict:
        return {
            "layers": [x.to_dict() for x in self.layers],
            "total": self.total.to_dict(),
            "config": self.config,
            "area": self.area,
            "scalesim_compatible": self.scalesim_compatible,
            "technology": self.technology,
            "leakage_modelled": self.leakage_modelled,
            "leakage": dict(self.leakage),
            "not_simulated": list(self.not_simulated),
        }

    def to_json(self, path: str | Path | None = None, indent: int | None = 2) -> str:
        text = json.dumps(self.to_dict(), indent=indent)
        if path is not None:
            Path(path).write_text(text)
        return text

    def to_dataframe(self, include_total: bool = True):
        """A pandas DataFrame, one row per layer (and a final ``total`` row)."""
        import pandas as pd

        rows = [x.to_row() for x in self.layers]
        if include_total:
            rows.append(self.total.to_row())
        return pd.DataFrame(rows)

    def to_csv(self, path: str | Path, include_total: bool = True) -> None:
        """Write the per-layer table as CSV (standard library only)."""
        import csv

        rows = [x.to_row() for x in self.layers] + ([self.total.to_row()] if include_total else [])
        with open(path, "w", newline="") as fh:
            writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
            writer.writeheader()
            writer.writerows(rows)
